"""The one place that wires adapters together from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from consumers.runner import ProjectionRunner
from ledger.append import Ledger
from ledger.log import DeadLetterSink, EventLog
from ledger.schemas import SchemaRegistry
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.case_view import SQLiteCaseView


@dataclass
class Container:
    """Everything a process of the ledger needs, built once from Settings."""

    settings: Settings
    schemas: SchemaRegistry
    log: EventLog
    dead_letters: DeadLetterSink
    ledger: Ledger
    view: SQLiteCaseView

    def runner(self) -> ProjectionRunner:
        """A consumer loop that keeps the case-state view up to date."""
        return ProjectionRunner(
            self.log,
            self.view,
            self.schemas,
            self.dead_letters,
            batch_size=self.settings.consumer_batch,
        )

    def close(self) -> None:
        """Close the log and the view's connections."""
        self.log.close()
        self.view.datastore.close()


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


def open_view(settings: Settings) -> SQLiteCaseView:
    """The case-state view alone, for readers that need no log (e.g. `sgl case`)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    view = SQLiteCaseView(SQLiteDatastore(str(settings.views_db)))
    view.create_table()
    return view


def bootstrap(settings: Settings) -> Container:
    """Build the container for these settings: log, append path, schemas and views."""
    schemas = SchemaRegistry(clock_skew=timedelta(seconds=settings.clock_skew_seconds))
    view = open_view(settings)
    event_log = build_log(settings)
    return Container(settings, schemas, event_log, event_log, Ledger(event_log, schemas), view)
