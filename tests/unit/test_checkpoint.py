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


def test_the_signed_note_format_matches_the_reference_implementation() -> None:
    """The key and note published with the Go reference implementation of signed notes
    (golang.org/x/mod/sumdb/note): the same key id, verifier key and signature, byte for
    byte, so existing witnesses and tools read our checkpoints."""
    from ledger.checkpoint import sign_note, verify_note

    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    text = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    note = (
        text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
        "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )
    key = Ed25519PrivateKey.from_private_bytes(seed)
    assert verifier_key(key.public_key(), "PeterNeumann") == vkey
    assert sign_note(key, text, "PeterNeumann") == note
    assert verify_note(note, vkey) == text
    with pytest.raises(CheckpointError, match="bad signature"):
        verify_note(note.replace("cryptography", "cryptology"), vkey)


def test_a_signing_key_named_like_its_public_half_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"must not end in \.pub"):
        create_key_pair(tmp_path / "checkpoint.pub")
