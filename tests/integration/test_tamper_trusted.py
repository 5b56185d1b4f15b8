"""Verification that whoever holds the data directory cannot fool: with the seal or the
checkpoints deleted, the log, seal and checkpoints rolled back together, or a rewritten record
signed again with the key kept there, `sgl verify --trusted` (a checkpoint export kept
elsewhere) fails naming what disagrees; an honest ledger that grew since the export verifies.
And the data directory is its owner's alone: files 0600 in folders 0700."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.verify import verify_ledger
from ledger.bundles import trusted_checkpoints
from ledger.checkpoint import origin_of, parse, sign
from ledger.log import PendingRecord
from ledger.merkle import root_hash
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from sgl.bootstrap import bootstrap, key_in_data_dir
from sgl.cli import cli
from sgl.demo import load_demo
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.integration.test_seal import _env, published, raw_log

EVERY = 40
EXPORTED = 200  # the test's records when the auditor exported: 20 cases of 10 events
GROWN = 300  # the test's records after the ledger grew honestly: 10 more cases


@dataclass
class Audited:
    """A sealed embedded ledger, the trusted export an auditor took at EXPORTED records of
    its cases, and the verifier key they were given, both kept outside the data directory."""

    settings: Settings
    trusted: Path
    key: Path
    base: int  # the records before the cases: the agency registry

    @property
    def exported(self) -> int:
        """The log's size when the auditor exported."""
        return self.base + EXPORTED

    @property
    def grown(self) -> int:
        """The log's size after the ledger grew honestly."""
        return self.base + GROWN

    def sgl(self, *args: str) -> Result:
        """Run `sgl` on this ledger's data directory."""
        return CliRunner().invoke(
            cli, ["--data-dir", str(self.settings.data_dir), *args], env=_env_of(self.settings)
        )

    def verify(self, *args: str) -> Result:
        """`sgl verify --trusted (the export) --key (the published key)`."""
        return self.sgl("verify", "--trusted", str(self.trusted), "--key", str(self.key), *args)

    def seal(self) -> None:
        """Run the sealer (with the key in the data directory) until it has caught up."""
        container = with_agencies(bootstrap(self.settings))
        try:
            container.sealer().run_until_caught_up(60)
        finally:
            container.close()

    @property
    def seal_db(self) -> Path:
        """The seal's SQLite file."""
        return self.settings.views_dir / "seal.sqlite"


def _env_of(settings: Settings) -> dict[str, str]:
    return {
        "SGL_TOPIC": settings.topic,
        "SGL_CHECKPOINTS_TOPIC": settings.checkpoints_topic,
        "SGL_ACCESS_TOPIC": settings.access_topic,
        "SGL_ACCESS_CHECKPOINTS_TOPIC": settings.access_checkpoints_topic,
        "SGL_NOTES_TOPIC": settings.notes_topic,
        "SGL_CHECKPOINT_EVERY": str(settings.checkpoint_every),
    }


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def audited(make_settings: Callable[..., Settings], tmp_path: Path) -> Audited:
    settings = make_settings("sqlite", checkpoint_every=EVERY)
    container = with_agencies(bootstrap(settings))
    try:
        base = container.log.end_offsets()[0]
        published(container, cases=20)
        container.sealer().run_until_caught_up(60)
        vkey = container.verifier_key()
    finally:
        container.close()
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    key = auditor / "published.pub"
    key.write_text(f"{vkey}\n")
    ledger = Audited(settings, auditor / "trusted.json", key, base)
    exported = ledger.sgl("checkpoints", "export", "--out", str(ledger.trusted))
    assert exported.exit_code == 0, exported.output
    assert f"partition 0 at size {ledger.exported}" in exported.output
    container = with_agencies(bootstrap(settings))
    try:
        published(container, cases=10)
        container.sealer().run_until_caught_up(60)
        assert container.seal.size(0) == ledger.grown
    finally:
        container.close()
    return ledger


def test_an_honest_ledger_that_grew_since_the_export_verifies(audited: Audited) -> None:
    document = orjson.loads(audited.trusted.read_bytes())
    assert [(c["partition"], c["tree_size"]) for c in document["checkpoints"]] == [
        (0, audited.exported)
    ]
    assert document["verifier_key"] == audited.key.read_text().strip()
    ok = audited.verify()
    assert ok.exit_code == 0, ok.output
    assert f"{audited.grown} records" in ok.output and "1 trusted checkpoint(s)" in ok.output
    as_json = orjson.loads(audited.verify("--json").stdout)
    assert as_json["ok"] and as_json["trusted"] == 1 and as_json["problems"] == []
    # The auditor's file alone names the key to trust when --key is not given.
    alone = audited.sgl("verify", "--trusted", str(audited.trusted))
    assert alone.exit_code == 0 and "trusting the verifier key in the trusted" in alone.output


def test_a_deleted_seal_is_named(audited: Audited) -> None:
    _remove(audited.seal_db)
    failed = audited.verify()
    assert failed.exit_code == 1, failed.output
    assert (
        "partition 0, offset 0: the seal holds 0 records, the signed checkpoints cover "
        f"{audited.grown}"
    ) in failed.output
    assert (
        f"the seal cannot prove that the latest signed checkpoint (size {audited.grown}) extends"
    ) in failed.output


def test_deleted_checkpoints_are_named(audited: Audited) -> None:
    checkpoints = audited.settings.checkpoints_log_db
    _remove(checkpoints)
    failed = audited.verify()
    assert failed.exit_code == 1, failed.output
    assert f"no signed checkpoint covers the partition's {audited.grown} records" in (failed.output)
    # Without the trusted export, and without --key, it still fails: nothing is proven.
    bare = audited.sgl("verify")
    assert bare.exit_code == 1 and "no signed checkpoint covers" in bare.output


def test_checkpoints_dropped_from_the_topic_and_the_seal_are_named(audited: Audited) -> None:
    """The latest checkpoints removed from both places that hold them: the unsigned records
    exceed the grace, and the latest left is older than the trusted one."""
    with sqlite3.connect(audited.settings.checkpoints_log_db) as db:
        db.execute("DELETE FROM log WHERE position >= 2")  # keeps the checkpoints at 40, 80
    with sqlite3.connect(audited.seal_db) as db:
        db.execute("DELETE FROM seal_checkpoints WHERE size > 80")
    failed = audited.verify()
    assert failed.exit_code == 1, failed.output
    assert (
        f"{audited.grown - 80} records after the latest signed checkpoint (size 80) are "
        "unsigned, more than the 40"
    ) in failed.output
    assert "the latest signed checkpoint is at size 80, before the trusted checkpoint" in (
        failed.output
    )
    # A deeper grace forgives the unsigned records, never the trusted checkpoint.
    graced = orjson.loads(audited.verify("--grace", "1000", "--json").stdout)
    assert [p for p in graced["problems"] if "unsigned" in p] == []
    assert any("before the trusted checkpoint" in p for p in graced["problems"])


def _roll_back(audited: Audited, size: int) -> None:
    """Cut the log, the seal and the checkpoints back to `size` records, consistently."""
    with sqlite3.connect(audited.settings.log_db) as db:
        db.execute("DELETE FROM log WHERE position >= ?", (size,))
    with sqlite3.connect(audited.seal_db) as db:
        db.execute("DELETE FROM seal_nodes WHERE ((idx + 1) << level) > ?", (size,))
        db.execute("DELETE FROM seal_checkpoints WHERE size > ?", (size,))
    with sqlite3.connect(audited.settings.checkpoints_log_db) as db:
        rows = db.execute("SELECT position, value FROM log").fetchall()
        later = [(p,) for p, note in rows if parse(note.decode()).size > size]
        db.executemany("DELETE FROM log WHERE position = ?", later)


def test_a_rollback_of_log_seal_and_checkpoints_together_is_named(audited: Audited) -> None:
    _roll_back(audited, 120)
    # Self-consistent: without the trusted export nothing disagrees (the attack works).
    fooled = audited.sgl("verify", "--key", str(audited.key))
    assert fooled.exit_code == 0, fooled.output
    assert "120 records" in fooled.output
    failed = audited.verify()
    assert failed.exit_code == 1, failed.output
    trusted = (
        f"the trusted checkpoint {origin_of(audited.settings.topic, 0)} at size {audited.exported}"
    )
    assert (
        "FIRST DISAGREEMENT: partition 0, offset 120: missing from the log: it ends at 120 "
        f"records, before {trusted}" in failed.output
    )
    assert "the log was rolled back" in failed.output
    assert f"the latest signed checkpoint is at size 120, before {trusted}" in failed.output


def test_a_history_sealed_again_with_the_local_key_is_named(audited: Audited) -> None:
    """A record rewritten, the seal and checkpoints deleted, the sealer run again with the
    key kept in the data directory: everything agrees with everything, and only the trusted
    checkpoint kept elsewhere disagrees."""
    with sqlite3.connect(audited.settings.log_db) as db:
        (value,) = db.execute("SELECT value FROM log WHERE position = 57").fetchone()
        event = orjson.loads(value)
        event["payload"]["rewritten"] = True
        db.execute("UPDATE log SET value = ? WHERE position = 57", (orjson.dumps(event),))
    _remove(audited.seal_db)
    _remove(audited.settings.checkpoints_log_db)
    audited.seal()
    fooled = audited.sgl("verify", "--key", str(audited.key))
    assert fooled.exit_code == 0, fooled.output
    failed = audited.verify()
    assert failed.exit_code == 1, failed.output
    exported = orjson.loads(audited.trusted.read_bytes())["checkpoints"][0]
    trusted = (
        f"the trusted checkpoint {origin_of(audited.settings.topic, 0)} at size "
        f"{audited.exported} (root {exported['root']})"
    )
    first = next(line for line in failed.output.splitlines() if line.startswith("FIRST"))
    assert first.startswith(
        f"FIRST DISAGREEMENT: partition 0, offset 0: offsets 0 to {audited.exported - 1} do not "
        f"give {trusted}: they give root "
    ), first
    assert "this history was rewritten after that checkpoint was taken" in first
    assert (
        f"the latest signed checkpoint (size {audited.grown}) does not extend {trusted}"
    ) in failed.output


def test_a_checkpoint_signed_by_another_key_is_refused(audited: Audited, tmp_path: Path) -> None:
    """On the topic or in a trusted file: only the published key's signature counts."""
    forger = Ed25519PrivateKey.generate()
    container = with_agencies(bootstrap(audited.settings))
    try:
        values = raw_log(container)[0]
        note = sign(forger, origin_of(audited.settings.topic, 0), audited.grown, root_hash(values))
        container.checkpoints_log.append([PendingRecord("forged", "0", note.encode(), "")])
    finally:
        container.close()
    failed = audited.verify()
    assert failed.exit_code == 1, failed.output
    key_name = "+".join(audited.key.read_text().split("+")[:2])  # name+key id
    assert (
        f"partition 0, offset {audited.grown}: the checkpoint itself: checkpoint "
        f"{origin_of(audited.settings.topic, 0)} at {audited.grown}: not signed by the verifier "
        f"key {key_name}"
    ) in failed.output
    forged_export = tmp_path / "forged.txt"
    forged_export.write_text(note)
    refused = audited.sgl(
        "verify", "--trusted", str(forged_export), "--key", str(audited.key), "--json"
    )
    assert refused.exit_code == 1
    assert any(
        p.startswith(f"partition 0, offset {audited.grown}: the trusted checkpoint: checkpoint ")
        and p.endswith(f"not signed by the verifier key {key_name}")
        for p in orjson.loads(refused.stdout)["problems"]
    )


def test_a_trusted_checkpoint_of_another_ledger_or_file_is_refused(
    audited: Audited, tmp_path: Path
) -> None:
    # The same key signs both ledgers: only the origin tells their checkpoints apart.
    other = Settings.from_env(
        {},
        data_dir=tmp_path / "other",
        topic="sgl.other.v1",
        signing_key=audited.settings.signing_key_path,
    )
    container = with_agencies(bootstrap(other))
    try:
        published(container, cases=2)
        container.sealer().run_until_caught_up(60)
        size = container.log.end_offsets()[0]
    finally:
        container.close()
    foreign = tmp_path / "foreign.json"
    exported = CliRunner().invoke(
        cli, ["--data-dir", str(other.data_dir), "checkpoints", "export", "--out", str(foreign)]
    )
    assert exported.exit_code == 0, exported.output
    refused = audited.verify("--trusted", str(foreign))
    assert refused.exit_code == 1
    assert f"the trusted checkpoint safeguarding-ledger/sgl.other.v1/0 at size {size}" in (
        refused.output
    )
    assert "is not of this ledger" in refused.output
    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"format": "sgl-trusted-checkpoints/1", "checkpoints": []}')
    bad = audited.sgl("verify", "--trusted", str(garbled))
    assert bad.exit_code == 1 and "no checkpoints" in bad.output


def test_there_must_be_something_to_verify(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings("sqlite", checkpoint_every=EVERY)
    container = bootstrap(settings)
    try:
        container.sealer()  # makes the key
        vkey = container.verifier_key()
        assert vkey is not None
        empty = verify_ledger(container.log, container.checkpoints_log, vkey, container.seal)
        assert [str(p) for p in empty.problems] == ["nothing to verify: the log holds no records"]
        with_agencies(container)
        published(container, cases=1)
        size = container.log.end_offsets()[0]  # the registry and one case of 10 events
        unsealed = verify_ledger(container.log, container.checkpoints_log, vkey, container.seal)
        assert [str(p) for p in unsealed.problems] == [
            f"partition 0, offset 0: no signed checkpoint covers the partition's {size} "
            "records: the checkpoints were removed, or the sealer has never run"
        ]
        container.sealer().run_until_caught_up(30)
        published(container, cases=1)
        behind = verify_ledger(
            container.log, container.checkpoints_log, vkey, container.seal, grace=9
        )
        assert [str(p) for p in behind.problems] == [
            f"partition 0, offset {size}: 10 records after the latest signed checkpoint "
            f"(size {size}) are unsigned, more than the 9 allowed: the sealer is behind or "
            "stopped, or checkpoints were removed"
        ]
        assert verify_ledger(
            container.log, container.checkpoints_log, vkey, container.seal, grace=10
        ).ok
    finally:
        container.close()
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "verify"], env=_env_of(settings)
    )
    assert result.exit_code == 0, result.output  # 10 unsigned is within SGL_CHECKPOINT_EVERY
    fresh = make_settings("sqlite")
    bootstrap(fresh).sealer()
    empty_cli = CliRunner().invoke(
        cli, ["--data-dir", str(fresh.data_dir), "verify"], env=_env_of(fresh)
    )
    assert empty_cli.exit_code == 1 and "nothing to verify" in empty_cli.output


@pytest.mark.kafka
def test_on_kafka_an_export_is_extended_by_the_grown_ledger(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings("kafka", checkpoint_every=EVERY)
    args = ["--data-dir", str(settings.data_dir), "--backend", "kafka"]
    container = with_agencies(bootstrap(settings))
    try:
        published(container, cases=6)
        container.sealer().run_until_caught_up(60)
        env = _env(container)
        trusted = tmp_path / "trusted.json"
        exported = CliRunner().invoke(
            cli, [*args, "checkpoints", "export", "--out", str(trusted)], env=env
        )
        assert exported.exit_code == 0, exported.output
        _, notes = trusted_checkpoints(trusted.read_bytes())
        assert len(notes) == sum(1 for values in raw_log(container).values() if values) > 1
        published(container, cases=6)
        container.sealer().run_until_caught_up(60)
        key = tmp_path / "published.pub"
        key.write_text(f"{container.verifier_key()}\n")
    finally:
        container.close()
    ok = CliRunner().invoke(
        cli, [*args, "verify", "--trusted", str(trusted), "--key", str(key)], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert f"{len(notes)} trusted checkpoint(s)" in ok.output


def test_data_files_are_the_owners_alone(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """After the demo is loaded into a served ledger, its consumers and sealer have caught up
    and a view is rebuilt: every folder under the data directory is 0700 and every file 0600
    (SQLite's -wal and -shm files too), but the verifier key, which is there to publish."""
    settings = make_settings(backend, alerter="on", checkpoint_seconds=1)
    container = with_agencies(bootstrap(settings))
    server = LiveServer(container).start()
    try:
        receipts = load_demo(container.ledger, background_cases=2)
        assert receipts and all(r.status == "accepted" for r in receipts)
        with server.client(timeout=10) as http:

            def sealed() -> bool:
                total = sum(container.log.end_offsets().values())
                latest = http.get("/v1/checkpoints/latest").json()["checkpoints"]
                return sum(c["tree_size"] for c in latest) == total

            wait_for(sealed, timeout=60, what="every record sealed")
            wait_for(
                lambda: http.get("/v1/cases/CASE-A0001").status_code == 200,
                timeout=30,
                what="the demo case in the view",
            )
        container.rebuild()
        # Walked while the ledger runs, so the databases' -wal and -shm files are there.
        found = _modes(settings.data_dir)
    finally:
        server.stop()
        container.close()
    expected = {"ledger.sqlite"} if backend == "sqlite" else {"receipts.sqlite"}
    expected |= {"keys/checkpoint.key", "views/seal.sqlite", "views/case_state.current"}
    expected |= {"views/seal.sqlite-wal", "views/seal.sqlite-shm"}
    assert expected <= set(found), sorted(found)
    wrong = {
        name: oct(mode)
        for name, mode in found.items()
        if name != "keys/checkpoint.pub"
        and mode != (0o700 if (settings.data_dir / name).is_dir() else 0o600)
    }
    assert wrong == {}


def _modes(root: Path) -> dict[str, int]:
    """The permission bits of the folder and everything under it, by relative name (a file
    removed between listing and looking, such as a replaced view generation, is left out)."""
    found = {}
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(mode)
    return found


def test_a_database_left_readable_by_others_is_made_private_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old" / "ledger.sqlite"
    SQLiteEventLog(path).close()
    for name in (path, Path(f"{path}-wal")):
        name.touch()
        os.chmod(name, 0o644)
    SQLiteEventLog(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_production_signing_key_in_the_data_directory_is_warned_of(tmp_path: Path) -> None:
    inside = Settings.from_env({}, backend="kafka", data_dir=tmp_path / "data")
    outside = Settings.from_env(
        {}, backend="kafka", data_dir=tmp_path / "data", signing_key=tmp_path / "secrets" / "k"
    )
    named_inside = Settings.from_env(
        {}, backend="kafka", data_dir=tmp_path / "data", signing_key=tmp_path / "data" / "k"
    )
    embedded = Settings.from_env({}, data_dir=tmp_path / "data")
    assert key_in_data_dir(inside) and key_in_data_dir(named_inside)
    assert not key_in_data_dir(outside) and not key_in_data_dir(embedded)
