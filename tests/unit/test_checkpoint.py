"""Signed checkpoints: the note format, its signature, and keys that cannot be used."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import (
    CheckpointError,
    create_key_pair,
    load_private_key,
    parse,
    parse_verifier_key,
    sign,
    verifier_key,
    verify,
)
from ledger.merkle import root_hash

ROOT = root_hash([b"a", b"b", b"c"])


def test_a_signed_checkpoint_reads_back_and_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key(key.public_key())
    text = sign(key, "safeguarding-ledger/sgl.ledger.v1/2", 3, ROOT)
    lines = text.split("\n")
    assert lines[:4] == [
        "safeguarding-ledger/sgl.ledger.v1/2",
        "3",
        base64.b64encode(ROOT).decode(),
        "",
    ]
    assert lines[4].startswith("\u2014 safeguarding-ledger ") and text.endswith("\n")
    checkpoint = verify(text, vkey)
    assert (checkpoint.partition, checkpoint.size, checkpoint.root) == (2, 3, ROOT)
    name, kid, _ = parse_verifier_key(vkey)
    assert name == "safeguarding-ledger" and len(kid) == 4


def test_an_altered_or_foreign_checkpoint_is_refused() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    vkey = verifier_key(key.public_key())
    text = sign(key, "safeguarding-ledger/t/0", 3, ROOT)
    with pytest.raises(CheckpointError, match="bad signature"):
        verify(text.replace("\n3\n", "\n4\n", 1), vkey)
    other_root = base64.b64encode(root_hash([b"x"])).decode()
    with pytest.raises(CheckpointError, match="bad signature"):
        verify(text.replace(base64.b64encode(ROOT).decode(), other_root), vkey)
    with pytest.raises(CheckpointError, match="not signed by"):
        verify(sign(other, "safeguarding-ledger/t/0", 3, ROOT), vkey)
    with pytest.raises(CheckpointError, match="malformed"):
        parse("origin\nthree\nroot\n\n")
    with pytest.raises(CheckpointError, match="blank line"):
        parse("origin\n3\n")
    with pytest.raises(CheckpointError, match="verifier key"):
        parse_verifier_key("safeguarding-ledger+00000000+AAAA")


def test_a_key_pair_is_created_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "checkpoint.key"
    vkey = create_key_pair(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.with_suffix(".pub").read_text().strip() == vkey
    key = load_private_key(path)
    assert verify(sign(key, "o/0", 1, ROOT), vkey).size == 1
    with pytest.raises(CheckpointError, match="never overwritten"):
        create_key_pair(path)
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(CheckpointError, match="signing key"):
        load_private_key(tmp_path / "bad.key")
