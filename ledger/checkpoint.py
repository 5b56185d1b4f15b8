"""Signed checkpoints: a partition's tree size and root, signed with Ed25519.

The text is a C2SP transparency-log checkpoint (c2sp.org/tlog-checkpoint) in a signed note
(c2sp.org/signed-note), so existing tools can read it:

    safeguarding-ledger/sgl.ledger.v1/0      <- origin: the ledger, its topic, the partition
    1042                                      <- tree size: records 0..1041 of the partition
    6Lz2c2rV...=                              <- root hash, base64
                                              <- a blank line ends the signed body
    — safeguarding-ledger Ab3dEf...==         <- key name, base64(key id || signature)

The signature covers the body (the first three lines, each ending in a newline). The key id
is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key). The public key is
published as a verifier key, `<name>+<key id hex>+<base64(0x01 || public key)>`.

Everything here is pure (no Kafka, no database) so that an auditor can check a checkpoint
offline.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import LedgerError
from ledger.private import private_dir

KEY_NAME = "safeguarding-ledger"
_ED25519 = b"\x01"
_DASH = "\u2014 "


class CheckpointError(LedgerError):
    """A checkpoint or key that cannot be read, or whose signature does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A verified (or just parsed) checkpoint."""

    origin: str
    size: int
    root: bytes
    text: str

    @property
    def partition(self) -> int:
        """The partition the origin names (its last path element); -1 if it names none."""
        last = self.origin.rsplit("/", 1)[-1]
        return int(last) if last.isdigit() else -1


def origin_of(topic: str, partition: int) -> str:
    """The origin line of a partition's checkpoints."""
    return f"{KEY_NAME}/{topic}/{partition}"


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key in a signed note."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(key: Ed25519PublicKey, name: str = KEY_NAME) -> str:
    """The published form of the public key: `<name>+<key id hex>+<base64(0x01 || key)>`."""
    raw = public_bytes(key)
    return f"{name}+{key_id(name, raw).hex()}+{base64.b64encode(_ED25519 + raw).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Name, key id and public key of a verifier key; CheckpointError if malformed."""
    try:
        name, kid, encoded = text.strip().split("+", 2)
        blob = base64.b64decode(encoded, validate=True)
        if blob[:1] != _ED25519 or len(blob) != 33 or bytes.fromhex(kid) != key_id(name, blob[1:]):
            raise ValueError("not an Ed25519 verifier key with a matching key id")
        return name, bytes.fromhex(kid), Ed25519PublicKey.from_public_bytes(blob[1:])
    except ValueError as exc:
        raise CheckpointError(f"verifier key: {exc}") from None


def body(origin: str, size: int, root: bytes) -> str:
    """The signed part of a checkpoint."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign(key: Ed25519PrivateKey, origin: str, size: int, root: bytes, name: str = KEY_NAME) -> str:
    """The checkpoint as a signed note."""
    return sign_note(key, body(origin, size, root), name)


def sign_note(key: Ed25519PrivateKey, text: str, name: str = KEY_NAME) -> str:
    """Any text (ending in a newline) as a signed note with one Ed25519 signature."""
    signature = key.sign(text.encode())
    kid = key_id(name, public_bytes(key.public_key()))
    return f"{text}\n{_DASH}{name} {base64.b64encode(kid + signature).decode()}\n"


def parse(text: str) -> Checkpoint:
    """The checkpoint's fields, without checking the signature; CheckpointError if malformed."""
    signed, sep, _ = text.partition("\n\n")
    lines = signed.split("\n")
    if not sep or len(lines) < 3:
        raise CheckpointError("a checkpoint is origin, size and root, a blank line, signatures")
    origin, size, root = lines[:3]
    try:
        number = int(size)
        digest = base64.b64decode(root, validate=True)
    except ValueError:
        raise CheckpointError(f"checkpoint size {size!r} or root {root!r} is malformed") from None
    if number < 0 or len(digest) != 32 or str(number) != size:
        raise CheckpointError(f"checkpoint size {size!r} or root {root!r} is malformed")
    return Checkpoint(origin, number, digest, text)


def verify(text: str, verifier: str) -> Checkpoint:
    """The checkpoint, if a signature line by the verifier key signs its body."""
    checkpoint = parse(text)
    try:
        verify_note(text, verifier)
    except CheckpointError as exc:
        raise CheckpointError(
            f"checkpoint {checkpoint.origin} at {checkpoint.size}: {exc}"
        ) from None
    return checkpoint


def verify_note(text: str, verifier: str) -> str:
    """The signed text of a note, if a signature line by the verifier key signs it."""
    name, kid, key = parse_verifier_key(verifier)
    signed, sep, signatures = text.partition("\n\n")
    if not sep:
        raise CheckpointError("a signed note is text, a blank line, and signature lines")
    signed += "\n"
    for line in signatures.splitlines():
        if not line.startswith(_DASH):
            continue
        who, _, encoded = line[len(_DASH) :].rpartition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except ValueError:
            continue
        if who != name or blob[:4] != kid:
            continue
        try:
            key.verify(blob[4:], signed.encode())
        except InvalidSignature:
            raise CheckpointError("bad signature") from None
        return signed
    raise CheckpointError(f"not signed by the verifier key {name}+{kid.hex()}")


def create_key_pair(private_path: Path) -> str:
    """Write a new Ed25519 private key (PKCS #8 PEM, owner-only) and its verifier key beside
    it (`.pub`); returns the verifier key. Refuses to overwrite a key."""
    public_path = private_path.with_suffix(".pub")
    if private_path.suffix == ".pub":
        raise CheckpointError(f"{private_path}: a signing key's name must not end in .pub")
    if private_path.exists():
        raise CheckpointError(f"{private_path} exists: a signing key is never overwritten")
    private_dir(private_path.parent)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(private_path, "xb", opener=_owner_only) as handle:
        handle.write(pem)
    vkey = verifier_key(key.public_key())
    public_path.write_text(vkey + "\n")
    return vkey


def _owner_only(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in the file; CheckpointError when missing or not Ed25519."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"signing key {path}: not an Ed25519 key")
    return key
