"""The files an auditor keeps: trusted checkpoints read back (or refused, saying why), and
the ledger's own files and folders created owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.bundles import TRUSTED, trusted_checkpoints
from ledger.checkpoint import sign, verifier_key
from ledger.merkle import root_hash
from ledger.private import private_database, private_dir, private_file

KEY = Ed25519PrivateKey.generate()
NOTE = sign(KEY, "safeguarding-ledger/sgl.ledger.v1/0", 2, root_hash([b"a", b"b"]))


def test_an_export_a_latest_document_and_a_bare_note_are_read() -> None:
    vkey = verifier_key(KEY.public_key())
    export = {"format": TRUSTED, "verifier_key": vkey, "checkpoints": [{"checkpoint": NOTE}]}
    assert trusted_checkpoints(orjson.dumps(export)) == (vkey, [NOTE])
    latest = {"verifier_key": None, "checkpoints": [{"checkpoint": NOTE}, {"checkpoint": NOTE}]}
    assert trusted_checkpoints(orjson.dumps(latest)) == (None, [NOTE, NOTE])
    assert trusted_checkpoints(f"\n{NOTE}\n\n".encode()) == (None, [NOTE])


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not a checkpoint", "neither JSON nor a signed checkpoint"),
        (b"{not json", "not JSON"),
        (b'{"format": "sgl-inclusion-proof/1", "checkpoints": []}', "expected a JSON object of"),
        (b"[1, 2]", "expected a JSON object of"),
        (b'{"checkpoints": []}', "no checkpoints"),
        (b'{"checkpoints": [{"tree_size": 3}]}', 'needs a "checkpoint"'),
        (orjson.dumps({"verifier_key": 7, "checkpoints": [{"checkpoint": NOTE}]}), "must be text"),
        (b"\xff\xfe", "utf-8"),
    ],
)
def test_a_file_that_is_not_trusted_checkpoints_is_refused_saying_why(
    data: bytes, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        trusted_checkpoints(data)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_and_files_are_created_owner_only(tmp_path: Path) -> None:
    target = private_file(tmp_path / "a" / "b" / "file")
    assert _mode(tmp_path / "a") == _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(target) == 0o600
    assert _mode(private_dir(tmp_path)) == _mode(tmp_path)  # an existing folder is left as is
    target.write_text("kept")
    os.chmod(target, 0o644)
    assert private_file(target).read_text() == "kept" and _mode(target) == 0o600


def test_a_database_and_what_sqlite_left_beside_it_are_made_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "views" / "view.sqlite"
    private_database(database)
    sides = [Path(f"{database}{side}") for side in ("-wal", "-shm")]
    for path in [database, *sides]:
        path.touch()
        os.chmod(path, 0o644)
    private_database(database)
    assert [_mode(p) for p in [database, *sides]] == [0o600] * 3
