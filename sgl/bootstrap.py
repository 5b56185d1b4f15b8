"""The one place that wires adapters together from Settings."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from consumers.rebuild import RebuildReport, rebuild_view
from consumers.runner import ProjectionRunner
from ledger.append import Ledger
from ledger.log import DeadLetterSink, EventLog
from ledger.schemas import SchemaRegistry
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.case_view import SQLiteCaseView
from projections.clock_policy import ClockPolicy, load_clock_policy
from projections.rules import RulePolicy, load_rule_policy
from projections.view_files import ViewFiles, ViewHandle, open_case_view

CASE_STATE = "case_state"


@dataclass
class Container:
    """Everything a process of the ledger needs, built once from Settings."""

    settings: Settings
    schemas: SchemaRegistry
    log: EventLog
    dead_letters: DeadLetterSink
    ledger: Ledger
    views: ViewHandle
    clock_policy: ClockPolicy
    rule_policy: RulePolicy

    @property
    def view(self) -> SQLiteCaseView:
        """The case-state view's current generation (it follows `sgl rebuild`)."""
        return self.views.current()

    def runner(self) -> ProjectionRunner:
        """A consumer loop that keeps the case-state view up to date."""
        return ProjectionRunner(
            self.log,
            self.views,
            self.schemas,
            self.dead_letters,
            batch_size=self.settings.consumer_batch,
        )

    def rebuild(self, progress: Callable[[int], object] | None = None) -> RebuildReport:
        """Rebuild the case-state view beside the live one and swap it in."""
        return rebuild_view(
            self.log,
            self.views.files,
            _opener(self.settings),
            self.schemas,
            self.dead_letters,
            batch_size=self.settings.consumer_batch,
            progress=progress,
        )

    def close(self) -> None:
        """Close the log and the views' connections."""
        self.log.close()
        self.views.close()


def build_log(settings: Settings) -> Any:
    """The EventLog (also the DeadLetterSink) that the settings choose."""
    if settings.backend == "kafka":
        from ledger.kafka_log import KafkaEventLog  # noqa: PLC0415 -- kafka only when chosen
        from ledger.receipts import SQLiteReceiptIndex  # noqa: PLC0415

        return KafkaEventLog(
            settings.kafka_bootstrap,
            settings.topic,
            SQLiteReceiptIndex(settings.receipts_db),
            dead_letter_topic=settings.dead_letter_topic,
            partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            min_insync_replicas=settings.min_insync_replicas,
        )
    return SQLiteEventLog(settings.log_db, settings.topic)


def _opener(settings: Settings) -> Callable[[Path], SQLiteCaseView]:
    return partial(open_case_view, snapshot_every=settings.snapshot_every)


def open_view(settings: Settings) -> SQLiteCaseView:
    """The case-state view's current generation alone, for readers that need no log."""
    return _opener(settings)(ViewFiles(settings.views_dir, CASE_STATE).current())


def view_handle(settings: Settings) -> ViewHandle:
    """The case-state view for a long-running process: it follows rebuilds."""
    return ViewHandle(ViewFiles(settings.views_dir, CASE_STATE), _opener(settings))


def tune_gc() -> None:
    """Collect garbage less often in long-running processes.

    A query over a long case builds tens of thousands of short-lived objects; with Python's
    default young-generation threshold (700) that sets off repeated full collections over
    everything the process holds, about a quarter of the query's time. Objects alive at start
    are frozen out of collection, and the young generation is collected every 50,000 objects.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def clock_policy_of(settings: Settings) -> ClockPolicy:
    """The clock policy the settings name (SGL_CLOCK_POLICY), or the bundled one."""
    return load_clock_policy(Path(settings.clock_policy) if settings.clock_policy else None)


def rule_policy_of(settings: Settings) -> RulePolicy:
    """The rule policy the settings name (SGL_RULE_POLICY), or the bundled one."""
    return load_rule_policy(Path(settings.rule_policy) if settings.rule_policy else None)


def bootstrap(settings: Settings) -> Container:
    """Build the container for these settings: log, append path, schemas and views."""
    schemas = SchemaRegistry(clock_skew=timedelta(seconds=settings.clock_skew_seconds))
    policy, rules = clock_policy_of(settings), rule_policy_of(settings)
    views = view_handle(settings)
    event_log = build_log(settings)
    return Container(
        settings, schemas, event_log, event_log, Ledger(event_log, schemas), views, policy, rules
    )
