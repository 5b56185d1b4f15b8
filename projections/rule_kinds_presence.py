"""Threshold rule kinds about who is involved and who has seen the child: presence, closure
while others are open, sightings by non-statutory agencies (pure). See `rule_kinds.py`.
"""

from __future__ import annotations

from projections.rule_kinds import Kind

KINDS: dict[str, Kind] = {}
