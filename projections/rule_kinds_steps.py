"""Threshold rule kinds about steps taken or missing: downgraded suspicions, conflicting
outcomes, protective steps ended or allegations closed without contact or investigation,
injuries across agencies, referrers never told the outcome (pure). See `rule_kinds.py`.
"""

from __future__ import annotations

from projections.rule_kinds import Kind

KINDS: dict[str, Kind] = {}
