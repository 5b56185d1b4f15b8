"""The sealed log: trees and checkpoints kept by the sealer, proofs that verify offline, and
`sgl verify` naming the first record that disagrees after any of 200 random tamperings."""

from __future__ import annotations

import base64
import math
import random
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from consumers.verify import verify_ledger
from ledger.bundles import check_bundle
from ledger.checkpoint import CheckpointError, load_private_key, origin_of, sign
from ledger.errors import LedgerUnavailable
from ledger.log import PendingRecord
from ledger.merkle import root_hash
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.seal_view import open_seal_view
from sgl.bootstrap import Container, bootstrap
from sgl.cli import cli
from sgl.queries import ContainerStores, consistency_proof, inclusion_proof
from tests.agencies import with_agencies
from tests.conftest import LiveServer, topic_env, wait_for
from tests.factories import case_events, new_case_id

EVERY = 40


def published(container: Container, cases: int = 30) -> list[dict[str, Any]]:
    """About ten events a case, appended a case at a time."""
    events: list[dict[str, Any]] = []
    for _ in range(cases):
        batch = case_events(new_case_id(), contacts=5, injuries=3)
        container.ledger.submit(batch)
        events += batch
    return events


def raw_log(container: Container) -> dict[int, list[bytes]]:
    """Each partition's records' exact bytes, in offset order."""
    ends = container.log.end_offsets()
    found: dict[int, list[bytes]] = {p: [] for p in ends}
    reader = container.log.reader({})
    try:
        while sum(len(v) for v in found.values()) < sum(ends.values()):
            for record in reader.poll(1000, 1.0):
                found[record.partition].append(record.value)
    finally:
        reader.close()
    return found


@pytest.fixture
def sealed(backend: str, make_settings: Callable[..., Settings]) -> Iterator[Container]:
    container = with_agencies(bootstrap(make_settings(backend, checkpoint_every=EVERY)))
    published(container)
    container.sealer().run_until_caught_up(60)
    yield container
    container.close()


def test_the_seal_matches_the_log_and_every_proof_verifies(sealed: Container) -> None:
    container = sealed
    vkey = container.verifier_key()
    assert vkey is not None
    for partition, values in raw_log(container).items():
        if not values:
            continue
        checkpoints = container.seal.checkpoints(partition)
        sizes = [c["size"] for c in checkpoints]
        # Every EVERY records, and the rest at the end of the catch-up.
        assert sizes == [*range(EVERY, len(values) + 1, EVERY)] + (
            [len(values)] if len(values) % EVERY else []
        )
        for checkpoint in checkpoints:
            assert checkpoint["root"] == root_hash(values[: checkpoint["size"]])
        for first in sizes:
            for second in sizes:
                if first <= second:
                    bundle = consistency_proof(ContainerStores(container), partition, first, second)
                    assert check_bundle(bundle, vkey) == [], (first, second)
    # The checkpoints topic holds each checkpoint once.
    ends = container.checkpoints_log.end_offsets()
    assert sum(ends.values()) == len(container.seal.checkpoints())


def test_inclusion_bundles_hold_offline_and_a_changed_one_does_not(
    sealed: Container, tmp_path: Path
) -> None:
    container = sealed
    vkey = container.verifier_key()
    assert vkey is not None
    events = [orjson.loads(v) for values in raw_log(container).values() for v in values]
    rng = random.Random(3)
    for event in rng.sample(events, 12):
        bundle = inclusion_proof(ContainerStores(container), event["event_id"], None)
        assert check_bundle(bundle, vkey) == []
        older = [
            c["size"]
            for c in container.seal.checkpoints(bundle["partition"])
            if c["size"] > bundle["offset"]
        ]
        at_first = inclusion_proof(ContainerStores(container), event["event_id"], older[0])
        assert at_first["tree_size"] == older[0] and check_bundle(at_first, vkey) == []
    bundle = inclusion_proof(ContainerStores(container), events[0]["event_id"], None)
    altered = orjson.loads(orjson.dumps(bundle))
    record = orjson.loads(base64.b64decode(altered["record"]))
    record["payload"]["child_seen"] = not record["payload"].get("child_seen")
    altered["record"] = base64.b64encode(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).decode()
    assert any("not at offset" in p for p in check_bundle(altered, vkey))
    moved = {**bundle, "offset": bundle["offset"] + 1}
    assert check_bundle(moved, vkey) != []
    assert check_bundle(
        {**bundle, "checkpoint": bundle["checkpoint"].replace("\n", "\n\n", 1)}, vkey
    )
    assert check_bundle({**bundle, "checkpoint": 42}, vkey)  # malformed, not a traceback
    # One key may sign more than one ledger: the origin the auditor expects is checked.
    ours = origin_of(container.settings.topic, bundle["partition"])
    assert check_bundle(bundle, vkey, ours) == []
    assert check_bundle(bundle, vkey, "safeguarding-ledger/another/0") == [
        f"the checkpoint is of {ours}, not safeguarding-ledger/another/0"
    ]
    # The CLI saves and checks the same bundle offline.
    args = ["--data-dir", str(container.settings.data_dir), "--backend", container.settings.backend]
    saved = tmp_path / "proof.json"
    got = CliRunner().invoke(
        cli, [*args, "proof", "get", events[0]["event_id"]], env=_env(container)
    )
    assert got.exit_code == 0, got.output
    saved.write_text(got.output)
    key = tmp_path / "ledger.pub"
    key.write_text(vkey)
    ok = CliRunner().invoke(cli, ["proof", "verify", str(saved), "--key", str(key)])
    assert ok.exit_code == 0 and "holds" in ok.output
    saved.write_text(orjson.dumps(altered).decode())
    bad = CliRunner().invoke(cli, ["proof", "verify", str(saved), "--key", str(key)])
    assert bad.exit_code == 1 and "DOES NOT HOLD" in bad.output


def _env(container: Container) -> dict[str, str]:
    s = container.settings
    return {
        **topic_env(s),
        "SGL_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
    }


def test_a_restarted_sealer_goes_on_where_it_stopped(sealed: Container) -> None:
    container = sealed
    before = {p: container.seal.size(p) for p in container.log.partitions()}
    assert container.sealer().run_until_caught_up(30) == 0  # nothing sealed twice
    assert {p: container.seal.size(p) for p in container.log.partitions()} == before
    published(container, cases=3)
    sealer = container.sealer()
    assert sealer.run_until_caught_up(30) == 30
    for partition, values in raw_log(container).items():
        latest = container.seal.checkpoint(partition)
        assert latest is None or latest["root"] == root_hash(values[: latest["size"]])
        assert container.seal.size(partition) == len(values)


def test_proofs_over_http_for_events_read_back_from_the_log(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """Served with the sealer running: the latest checkpoints, an inclusion proof for each
    event read back from the log, a consistency proof, and clear errors."""
    container = with_agencies(
        bootstrap(make_settings(backend, checkpoint_every=20, checkpoint_seconds=1))
    )
    server = LiveServer(container).start()
    try:
        registry = [orjson.loads(v) for vs in raw_log(container).values() for v in vs]
        assert {e["type"] for e in registry} == {"agency.registered"}
        events = registry + published(container, cases=6)
        with server.client() as http:
            total = sum(container.log.end_offsets().values())

            def all_sealed() -> bool:
                latest = http.get("/v1/checkpoints/latest").json()["checkpoints"]
                return sum(c["tree_size"] for c in latest) == total

            wait_for(all_sealed, timeout=30, what="every record in a checkpoint")
            latest = http.get("/v1/checkpoints/latest").json()
            vkey = latest["verifier_key"]
            read_back = [orjson.loads(v) for vs in raw_log(container).values() for v in vs]
            assert {e["event_id"] for e in read_back} == {e["event_id"] for e in events}
            for event in read_back[:: max(1, len(read_back) // 15)]:
                bundle = http.get(f"/v1/events/{event['event_id']}/proof").json()
                assert check_bundle(bundle, vkey) == [], bundle
            partition = latest["checkpoints"][0]["partition"]
            sizes = [c["size"] for c in container.seal.checkpoints(partition)]
            answer = http.get(
                "/v1/checkpoints/consistency",
                params={"partition": partition, "from": sizes[0], "to": sizes[-1]},
            )
            assert answer.status_code == 200 and check_bundle(answer.json(), vkey) == []
            missing = http.get(f"/v1/events/{uuid.uuid4()}/proof")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            wrong = http.get(
                "/v1/checkpoints/consistency",
                params={"partition": partition, "from": sizes[0] + 1, "to": sizes[-1]},
            )
            assert wrong.status_code == 404 and "no checkpoint" in wrong.json()["detail"]
        # The proof reads are on the access log: stopped, its sealer signs the last of them.
        server.stop()
        container.access_sealer().run_until_caught_up(30)
        ok = CliRunner().invoke(
            cli,
            ["--data-dir", str(container.settings.data_dir), "--backend", backend, "verify"],
            env=_env(container),
        )
        assert ok.exit_code == 0 and "nothing disagrees" in ok.output, ok.output
    finally:
        server.stop()
        container.close()


def _copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _tamper(path: Path, rng: random.Random, size: int) -> tuple[str, int]:
    """One random change to the embedded log; returns its kind and the first offset hit."""
    kind = rng.choice(["change", "remove", "insert", "reorder"])
    with sqlite3.connect(path) as db:
        if kind == "change":
            p = rng.randrange(size)
            (value,) = db.execute("SELECT value FROM log WHERE position = ?", (p,)).fetchone()
            changed = bytearray(value)
            changed[rng.randrange(len(changed))] ^= 1 << rng.randrange(8)
            db.execute("UPDATE log SET value = ? WHERE position = ?", (bytes(changed), p))
            return kind, p
        if kind == "remove":
            p = rng.randrange(size)
            db.execute("DELETE FROM log WHERE position = ?", (p,))
            return kind, p
        if kind == "insert":
            p = rng.randrange(size)
            db.execute("UPDATE log SET position = -position - 1 WHERE position >= ?", (p,))
            db.execute("UPDATE log SET position = -position WHERE position < 0")
            value = orjson.dumps({"forged": str(uuid.uuid4())})
            db.execute(
                "INSERT INTO log (position, event_id, case_id, appended_ms, value) "
                "VALUES (?, ?, ?, 0, ?)",
                (p, str(uuid.uuid4()), "CASE-TFORGED", value),
            )
            return kind, p
        p, q = sorted(rng.sample(range(size), 2))
        rows = {
            r[0]: r[1:]
            for r in db.execute(
                "SELECT position, event_id, case_id, appended_ms, digest, type, "
                "schema_version, value FROM log WHERE position IN (?, ?)",
                (p, q),
            )
        }
        db.execute("DELETE FROM log WHERE position IN (?, ?)", (p, q))
        db.executemany(
            "INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(p, *rows[q]), (q, *rows[p])]
        )
        return kind, p


def test_two_hundred_random_tamperings_are_each_named(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Changed, removed, inserted or reordered records in the embedded log: `verify` names
    the first one hit, every time; without the seal, the signed checkpoints alone still
    catch each one, naming the range after the last checkpoint that holds (a removal, a gap
    in the offsets, is still named exactly)."""
    settings = make_settings("sqlite", checkpoint_every=EVERY)
    container = with_agencies(bootstrap(settings))
    registry = container.log.end_offsets()[0]
    published(container)
    container.sealer().run_until_caught_up(60)
    vkey = container.verifier_key()
    size = container.seal.size(0)
    container.close()
    assert vkey is not None and size == registry + 300
    pristine = tmp_path / "pristine.sqlite"
    _copy(settings.log_db, pristine)
    checkpoints = SQLiteEventLog(settings.checkpoints_log_db, settings.checkpoints_topic)
    seal = open_seal_view(settings.views_dir / "seal.sqlite")
    work = tmp_path / "work.sqlite"
    rng = random.Random(2026)
    kinds: dict[str, int] = {}
    try:
        _copy(pristine, work)
        clean = verify_ledger(SQLiteEventLog(work, settings.topic), checkpoints, vkey, seal)
        assert clean.ok and clean.records == size and clean.checkpoints == math.ceil(size / EVERY)
        for round_ in range(200):
            _copy(pristine, work)
            kind, offset = _tamper(work, rng, size)
            kinds[kind] = kinds.get(kind, 0) + 1
            tampered = SQLiteEventLog(work, settings.topic)
            try:
                report = verify_ledger(tampered, checkpoints, vkey, seal)
                assert report.first is not None, (round_, kind, offset)
                assert (report.first.partition, report.first.offset) == (0, offset), (
                    round_,
                    kind,
                    str(report.first),
                )
                unsealed = verify_ledger(tampered, checkpoints, vkey, None)
                assert unsealed.first is not None, (round_, kind)
                # A gap in the offsets is named exactly; anything else by its range.
                exact = kind == "remove"
                expected = offset if exact else offset - offset % EVERY
                assert unsealed.first.offset == expected, (kind, str(unsealed.first))
            finally:
                tampered.close()
        # The checkpoints topic: a record removed from the middle is no reason to stall, and
        # a second root signed for a size already signed is a fork, named.
        _copy(pristine, work)
        with sqlite3.connect(settings.checkpoints_log_db) as db:
            db.execute("DELETE FROM log WHERE position = 2")
        key = load_private_key(settings.signing_key_path)
        checkpoints.append(
            [
                PendingRecord(
                    "forged",
                    "0",
                    sign(key, origin_of(settings.topic, 0), EVERY, root_hash([b"forged"])).encode(),
                    "",
                )
            ]
        )
        report = verify_ledger(SQLiteEventLog(work, settings.topic), checkpoints, vkey, seal)
        assert report.first is not None and "forked" in report.first.what
        assert (report.first.partition, report.first.offset) == (0, EVERY)
        gone = [p for p in report.problems if "missing from the checkpoints topic" in p.what]
        assert [(p.partition, p.offset) for p in gone] == [(0, 3 * EVERY)]
    finally:
        checkpoints.close()
        seal.datastore.close()
    assert set(kinds) == {"change", "remove", "insert", "reorder"}


class _FailingFirstAppend:
    """A checkpoints log whose first append fails, as if the topic were unreachable."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = False

    def lookup(self, ids: Any) -> Any:
        return self.inner.lookup(ids)

    def append(self, records: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise LedgerUnavailable("the checkpoints topic is down")
        return self.inner.append(records)


def test_a_checkpoint_signed_before_a_failed_publish_is_published_once_later(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    container = with_agencies(bootstrap(make_settings("sqlite", checkpoint_every=EVERY)))
    try:
        published(container, cases=8)  # with the registry's, over 80 records: three checkpoints
        size = container.log.end_offsets()[0]
        assert 80 < size < 3 * EVERY
        sealer = container.sealer()
        sealer.checkpoints = _FailingFirstAppend(container.checkpoints_log)  # type: ignore[assignment]
        with pytest.raises(LedgerUnavailable):
            sealer.run_until_caught_up(30)
        # Sealed and signed, committed with the position; not yet on the topic.
        assert container.seal.size(0) >= EVERY
        assert [c["published"] for c in container.seal.checkpoints()][:1] == [False]
        assert sum(container.checkpoints_log.end_offsets().values()) == 0
        container.sealer().run_until_caught_up(30)
        on_topic = sum(container.checkpoints_log.end_offsets().values())
        assert on_topic == len(container.seal.checkpoints()) == 3
        assert all(c["published"] for c in container.seal.checkpoints())
        container.sealer().publish()  # again: nothing new on the topic
        assert sum(container.checkpoints_log.end_offsets().values()) == on_topic
        vkey = container.verifier_key()
        key = tmp_path / "k.pub"
        key.write_text(f"{vkey}\n")
        args = ["--data-dir", str(container.settings.data_dir)]
        got = CliRunner().invoke(
            cli, [*args, "proof", "consistency", str(EVERY), "80"], env=_env(container)
        )
        assert got.exit_code == 0, got.output
        saved = tmp_path / "consistency.json"
        saved.write_text(got.output)
        ok = CliRunner().invoke(cli, ["proof", "verify", str(saved), "--key", str(key)])
        assert ok.exit_code == 0 and "sgl-consistency-proof/1" in ok.output
        bad = CliRunner().invoke(
            cli, [*args, "proof", "consistency", "80", "41"], env=_env(container)
        )
        assert bad.exit_code != 0 and "no checkpoint at size 41" in bad.output
    finally:
        container.close()


def test_a_named_signing_key_that_is_missing_stops_the_sealer(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A key named in the settings and missing is never replaced by a new one; a verifier
    key lost beside its signing key is derived again."""
    named = make_settings("sqlite", signing_key=tmp_path / "mounted" / "ledger.key")
    container = with_agencies(bootstrap(named))
    try:
        with pytest.raises(CheckpointError, match="does not exist"):
            container.sealer()
        assert not named.signing_key_path.exists()
    finally:
        container.close()
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        container.sealer()
        vkey = container.verifier_key()
        public = container.settings.signing_key_path.with_suffix(".pub")
        public.unlink()
        assert container.verifier_key() == vkey and public.read_text().strip() == vkey
    finally:
        container.close()
