"""The one place that wires adapters together from Settings."""

from __future__ import annotations

import gc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from consumers.access_indexer import AccessIndexer
from consumers.alerter import Alerter
from consumers.follower import CaseFollower
from consumers.rebuild import RebuildReport, rebuild_follower, rebuild_view
from consumers.registry_gate import RegistryGate
from consumers.runner import ProjectionRunner
from consumers.sealer import Sealer
from ledger.append import Ledger
from ledger.checkpoint import CheckpointError, create_key_pair, load_private_key, verifier_key
from ledger.log import DeadLetterSink, EventLog
from ledger.schemas import SchemaRegistry
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.access_index import (
    ACCESS_INDEX,
    AccessIndexStore,
    PostgresAccessIndex,
    open_access_index,
)
from projections.agencies import AgencyLookup
from projections.alert_store import ALERTS, AlertStore, PostgresAlertStore, open_alert_store
from projections.case_view import CaseViewStore, PostgresCaseView
from projections.clock_policy import ClockPolicy, load_clock_policy
from projections.clock_view import (
    CLOCKS,
    ClockViewStore,
    open_clock_view,
    open_postgres_clock_view,
)
from projections.notes_index import (
    NOTES_INDEX,
    NotesIndexStore,
    PostgresNotesIndex,
    open_notes_index,
)
from projections.rules import RulePolicy, load_rule_policy
from projections.seal_view import SEAL, PostgresSealView, SealViewStore, SQLiteSealView
from projections.view_files import (
    Generations,
    PostgresGenerations,
    ViewFiles,
    ViewHandle,
    open_case_view,
    store_location,
)

CASE_STATE = "case_state"
ACCESS_SEAL = "access_seal"
log = structlog.get_logger("sgl.bootstrap")


@dataclass
class Container:
    """Everything a process of the ledger needs, built once from Settings."""

    settings: Settings
    schemas: SchemaRegistry
    log: EventLog
    dead_letters: DeadLetterSink
    ledger: Ledger
    views: ViewHandle[CaseViewStore]
    clock_policy: ClockPolicy
    rule_policy: RulePolicy
    alerts_log: EventLog
    clocks: ViewHandle[ClockViewStore]
    alerts: ViewHandle[Alerter]
    checkpoints_log: EventLog
    seal: SealViewStore
    agencies: AgencyLookup
    access_log: EventLog
    access_checkpoints_log: EventLog
    access_seal: SealViewStore
    access_index: AccessIndexStore
    notes_log: EventLog
    notes_index: NotesIndexStore

    @property
    def view(self) -> CaseViewStore:
        """The case-state view's current generation (it follows `sgl rebuild`)."""
        return self.views.current()

    def runner(self) -> ProjectionRunner:
        """A consumer loop that keeps the case-state view up to date (on Kafka, running as a
        member of the view's consumer group)."""
        return ProjectionRunner(
            self.log,
            self.views,
            self.schemas,
            self.dead_letters,
            batch_size=self.settings.consumer_batch,
            max_record_bytes=self.settings.max_record_bytes,
            group=True,
        )

    def followers(self) -> list[CaseFollower]:
        """The consumers downstream of the case view: the clock view, and the alerter unless
        SGL_ALERTER=off (on Kafka, each a member of its store's consumer group)."""
        found = [CaseFollower(self.log, self.views, self.clocks, group=True)]
        if self.settings.alerter == "on":
            found.append(CaseFollower(self.log, self.views, self.alerts, group=True))
        return found

    def sealer(self) -> Sealer:
        """The sealer, signing with the key the settings name (created on first use, with
        its verifier key beside it, if there is none yet)."""
        return self._sealer(self.log, self.seal, self.checkpoints_log)

    def access_sealer(self) -> Sealer:
        """The access log's sealer: its own seal and checkpoints, the ledger's signing key."""
        return self._sealer(self.access_log, self.access_seal, self.access_checkpoints_log)

    def access_indexer(self) -> AccessIndexer:
        """The consumer that keeps the access log's index by case."""
        return AccessIndexer(
            self.access_log, self.access_index, self.settings.consumer_batch, group=True
        )

    def notes_indexer(self) -> AccessIndexer:
        """The consumer that keeps the notes log's index by case."""
        return AccessIndexer(
            self.notes_log, self.notes_index, self.settings.consumer_batch, group=True
        )

    def _sealer(self, event_log: EventLog, seal: SealViewStore, checkpoints: EventLog) -> Sealer:
        path = self.settings.signing_key_path
        if not path.exists():
            if path != self.settings.data_dir / "keys" / "checkpoint.key":
                # A key named in the settings and missing is an accident (a typo, a volume
                # not mounted): never sign under a new identity because of it.
                raise CheckpointError(
                    f"SGL_SIGNING_KEY names {path}, which does not exist; create it with "
                    "`sgl keys create` or restore it"
                )
            vkey = create_key_pair(path)
            log.warning("signing_key.created", path=str(path), verifier_key=vkey)
        if key_in_data_dir(self.settings):
            log.warning(
                "signing_key.in_data_dir",
                path=str(path),
                data_dir=str(self.settings.data_dir),
                hint="set SGL_SIGNING_KEY to a file outside SGL_DATA_DIR (a secret, a mounted "
                "volume): whoever holds the data directory and the key can sign a rewritten "
                "history",
            )
        return Sealer(
            event_log,
            seal,
            load_private_key(path),
            checkpoints,
            every=self.settings.checkpoint_every,
            seconds=self.settings.checkpoint_seconds,
            batch_size=self.settings.consumer_batch,
        )

    def verifier_key(self) -> str | None:
        """The published verifier key of the checkpoints, or None before there is a key."""
        return verifier_key_of(self.settings)

    def rebuild_follower(self, name: str) -> RebuildReport:
        """Rebuild the clock view (`clocks`) or the alerter's store (`alerts`) and swap it in."""
        handle: ViewHandle[Any] = self.clocks if name == CLOCKS else self.alerts
        return rebuild_follower(self.log, handle.files, handle.opener, self.views)

    def rebuild(self, progress: Callable[[int], object] | None = None) -> RebuildReport:
        """Rebuild the case-state view beside the live one and swap it in."""
        return rebuild_view(
            self.log,
            self.views.files,
            self.views.opener,
            self.schemas,
            self.dead_letters,
            batch_size=self.settings.consumer_batch,
            max_record_bytes=self.settings.max_record_bytes,
            progress=progress,
        )

    def close(self) -> None:
        """Close the log, the registry's reader and the views' connections."""
        if isinstance(self.agencies, RegistryGate):
            self.agencies.close()
        self.log.close()
        self.alerts_log.close()
        self.checkpoints_log.close()
        self.seal.close()
        self.access_log.close()
        self.access_checkpoints_log.close()
        self.access_seal.close()
        self.access_index.close()
        self.notes_log.close()
        self.notes_index.close()
        self.views.close()
        self.clocks.close()
        self.alerts.close()


def key_in_data_dir(settings: Settings) -> bool:
    """Whether a production ledger (the Kafka backend) keeps its signing key inside its data
    directory; the embedded store is a single machine's, key and all."""
    if settings.backend != "kafka":
        return False
    return settings.signing_key_path.resolve().is_relative_to(settings.data_dir.resolve())


def verifier_key_of(settings: Settings) -> str | None:
    """The published verifier key of the checkpoints the settings name, or None before there
    is a key."""
    path = settings.signing_key_path
    try:
        return path.with_suffix(".pub").read_text().strip()
    except FileNotFoundError:
        if not path.exists():
            return None
    # The key without its published half (a crash between the two writes): derive it.
    vkey = verifier_key(load_private_key(path).public_key())
    path.with_suffix(".pub").write_text(vkey + "\n")
    return vkey


def build_log(settings: Settings, which: str = "ledger") -> Any:
    """The EventLog (also the DeadLetterSink) that the settings choose for the ledger topic,
    the alerts topic (`alerts`), the checkpoints topic (`checkpoints`), the access log
    (`access`), its checkpoints (`access_checkpoints`) or the inquiry notes (`notes`): same
    settings, each with its own receipts (Kafka) or file (embedded)."""
    topic, embedded, receipts = {
        "ledger": (settings.topic, settings.log_db, settings.receipts_db),
        "alerts": (settings.alerts_topic, settings.alerts_log_db, settings.alerts_receipts_db),
        "checkpoints": (
            settings.checkpoints_topic,
            settings.checkpoints_log_db,
            settings.checkpoints_receipts_db,
        ),
        "access": (settings.access_topic, settings.access_log_db, settings.access_receipts_db),
        "access_checkpoints": (
            settings.access_checkpoints_topic,
            settings.access_checkpoints_log_db,
            settings.access_checkpoints_receipts_db,
        ),
        "notes": (settings.notes_topic, settings.notes_log_db, settings.notes_receipts_db),
    }[which]
    if settings.backend == "kafka":
        from ledger.kafka_log import (  # noqa: PLC0415 -- kafka only when chosen
            KafkaEventLog,
            KafkaTimeouts,
        )
        from ledger.receipts import (  # noqa: PLC0415
            PostgresReceiptIndex,
            ReceiptIndex,
            SQLiteReceiptIndex,
        )

        timeouts = KafkaTimeouts(
            request_ms=settings.kafka_request_timeout_ms,
            delivery_ms=settings.kafka_delivery_timeout_ms,
            max_block_ms=settings.kafka_max_block_ms,
            probe_ms=settings.kafka_probe_timeout_ms,
        )
        # Shared by every API process of the ledger when there is a database, so a retry on
        # any of them is a duplicate; else this process's own file.
        location = settings.postgres
        index: ReceiptIndex = (
            SQLiteReceiptIndex(receipts)
            if location is None
            else PostgresReceiptIndex.open(location, topic, in_flight=timeouts.in_flight)
        )
        return KafkaEventLog(
            settings.kafka_bootstrap,
            topic,
            index,
            dead_letter_topic=settings.dead_letter_topic,
            partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            min_insync_replicas=settings.min_insync_replicas,
            security=settings.kafka_security,
            timeouts=timeouts,
            consumer_instance=settings.consumer_instance,
        )
    return SQLiteEventLog(embedded, topic)


def generations(settings: Settings, name: str) -> Generations[Any]:
    """Where a view's generations live: files in the views folder, or schemas in PostgreSQL
    when SGL_DATABASE_URL names it."""
    if settings.postgres is not None:
        return PostgresGenerations(settings.postgres, name)
    return ViewFiles(settings.views_dir, name)


def current_generation(settings: Settings, name: str) -> Any:
    """A view's current generation (a file, or a PostgreSQL location), read once."""
    files = generations(settings, name)
    try:
        return files.current()
    finally:
        if isinstance(files, PostgresGenerations):
            files.close()


def _opener(settings: Settings) -> Callable[[Any], CaseViewStore]:
    if settings.postgres is not None:
        return partial(PostgresCaseView.open, snapshot_every=settings.snapshot_every)
    return partial(open_case_view, snapshot_every=settings.snapshot_every)


def _clocks_opener(
    settings: Settings, policy: ClockPolicy, agencies: AgencyLookup, *, discard: bool = True
) -> Callable[[Any], ClockViewStore]:
    if settings.postgres is not None:
        return partial(open_postgres_clock_view, policy=policy, agencies=agencies, discard=discard)
    return partial(open_clock_view, policy=policy, agencies=agencies, discard=discard)


def _alert_store_opener(settings: Settings) -> Callable[[Any], AlertStore]:
    if settings.postgres is not None:
        return PostgresAlertStore.open
    return open_alert_store


def open_view(settings: Settings) -> CaseViewStore:
    """The case-state view's current generation alone, for readers that need no log."""
    return _opener(settings)(current_generation(settings, CASE_STATE))


def open_clocks(settings: Settings, policy: ClockPolicy, agencies: AgencyLookup) -> ClockViewStore:
    """The clock view's current generation alone, for readers that need no log (a view built
    under another policy is left for its consumer, and not used)."""
    opener = _clocks_opener(settings, policy, agencies, discard=False)
    return opener(current_generation(settings, CLOCKS))


def open_alerts(settings: Settings) -> AlertStore:
    """The alerter's store's current generation alone, for readers."""
    return _alert_store_opener(settings)(current_generation(settings, ALERTS))


def view_handle(settings: Settings) -> ViewHandle[CaseViewStore]:
    """The case-state view for a long-running process: it follows rebuilds."""
    return ViewHandle(generations(settings, CASE_STATE), _opener(settings))


def tune_gc() -> None:
    """Collect garbage less often in long-running processes.

    A query over a long case, or a consumer's batch, builds tens of thousands of short-lived
    objects; with Python's default young-generation threshold (700) that sets off repeated
    full collections over everything the process holds, about a quarter of the time. Objects
    alive at start are frozen out of collection, and the young generation is collected every
    50,000 objects.
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


LOGS = ("ledger", "alerts", "checkpoints", "access", "access_checkpoints", "notes")


def build_logs(settings: Settings) -> list[Any]:
    """The ledger's six logs (`LOGS`, in that order). On Kafka each one creates its topics
    and waits for their metadata and first probe, about half a second a log on an idle
    broker: they are built side by side, so a start waits for the slowest, not the sum. If
    one cannot be built, those that were are closed and its error raised."""
    if settings.backend != "kafka":
        return [build_log(settings, which) for which in LOGS]
    with ThreadPoolExecutor(len(LOGS), thread_name_prefix="build-log") as pool:
        futures = [pool.submit(build_log, settings, which) for which in LOGS]
        wait(futures)
    failed = [error for future in futures if (error := future.exception()) is not None]
    if failed:
        for future in futures:
            if future.exception() is None:
                future.result().close()
        raise failed[0]
    return [future.result() for future in futures]


def bootstrap(settings: Settings) -> Container:
    """Build the container for these settings: logs, append paths, schemas, views and the
    agency registry."""
    schemas = SchemaRegistry(clock_skew=timedelta(seconds=settings.clock_skew_seconds))
    policy, rules = clock_policy_of(settings), rule_policy_of(settings)
    views = view_handle(settings)
    event_log, alerts_log, checkpoints_log, access_log, access_checkpoints_log, notes_log = (
        build_logs(settings)
    )
    # The registry as the append path, the clocks and the alerter read it: the case view's
    # registry store, and the log past it (a consumer may be behind another's registration).
    registry = RegistryGate(event_log, views, schemas)
    # The adapters' append path: the publish rules look for the events they name in the case
    # view first (a read of the log only for one it has not taken in yet).
    ledger = Ledger(
        event_log,
        schemas,
        agencies=registry,
        adapters=True,
        case_events=lambda case_id: views.current().events(case_id),
    )
    # The ledger's own alerts name the ledger and the rule policy's recipients, not an
    # adapter's input: checked against the schema when the policy loads, not the registry,
    # and appended by the alerter alone (adapters may not send alert.raised).
    record = Ledger(event_log, schemas)
    feed = Ledger(alerts_log, schemas)
    clocks = ViewHandle(generations(settings, CLOCKS), _clocks_opener(settings, policy, registry))
    alert_store = _alert_store_opener(settings)
    alerts = ViewHandle(
        generations(settings, ALERTS),
        lambda at: Alerter(alert_store(at), rules, record, feed, registry),
    )
    return Container(
        settings,
        schemas,
        event_log,
        event_log,
        ledger,
        views,
        policy,
        rules,
        alerts_log,
        clocks,
        alerts,
        checkpoints_log,
        open_seal(settings),
        registry,
        access_log,
        access_checkpoints_log,
        open_access_seal(settings),
        access_index_of(settings),
        notes_log,
        notes_index_of(settings),
    )


def access_index_of(settings: Settings) -> AccessIndexStore:
    """The access log's index by case, in the views folder (or PostgreSQL)."""
    if settings.postgres is not None:
        return PostgresAccessIndex.open(store_location(settings.postgres, ACCESS_INDEX))
    return open_access_index(settings.views_dir / "access-index.sqlite")


def notes_index_of(settings: Settings) -> NotesIndexStore:
    """The notes log's index by case, in the views folder (or PostgreSQL)."""
    if settings.postgres is not None:
        return PostgresNotesIndex.open(store_location(settings.postgres, NOTES_INDEX))
    return open_notes_index(settings.views_dir / "notes-index.sqlite")


def open_seal(settings: Settings) -> SealViewStore:
    """The ledger's seal: its Merkle trees and signed checkpoints."""
    if settings.postgres is not None:
        return PostgresSealView.open(store_location(settings.postgres, SEAL))
    return SQLiteSealView.open(settings.views_dir / "seal.sqlite")


def open_access_seal(settings: Settings) -> SealViewStore:
    """The access log's seal: its Merkle trees and checkpoints, beside the ledger's."""
    if settings.postgres is not None:
        location = store_location(settings.postgres, ACCESS_SEAL)
        return PostgresSealView.open(location, name=ACCESS_SEAL)
    return SQLiteSealView.open(settings.views_dir / "access-seal.sqlite", name=ACCESS_SEAL)
