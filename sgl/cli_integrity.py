"""`sgl keys`, `sgl verify`, `sgl proof` and `sgl checkpoints`: the evidential-integrity
commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from sgl.cli_context import settings_of

if TYPE_CHECKING:
    from consumers.verify import VerifyReport


def _print_bundle(ctx: click.Context, make: Callable[[Any], dict[str, Any]]) -> None:
    """Print the document `make(stores)` answers, as indented JSON, to save and check offline."""
    from sgl.queries import LocalStores

    with LocalStores(settings_of(ctx)) as stores:
        bundle = make(stores)
    click.echo(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode())


@click.group()
def keys() -> None:
    """The checkpoint signing key.

    Example: sgl keys create
    """


@keys.command("create")
@click.pass_context
def keys_create(ctx: click.Context) -> None:
    """Create the Ed25519 key pair that signs checkpoints and print the verifier key to
    publish. The private key (SGL_SIGNING_KEY, default SGL_DATA_DIR/keys/checkpoint.key) is
    written owner-only; the verifier key beside it (.pub). An existing key is never replaced.

    Example: sgl keys create
    """
    from ledger.checkpoint import create_key_pair

    path = settings_of(ctx).signing_key_path
    vkey = create_key_pair(path)
    click.echo(f"signing key: {path}", err=True)
    click.echo(f"verifier key (publish it): {path.with_suffix('.pub')}", err=True)
    click.echo(vkey)


@click.command()
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Verifier key file (default: the one the --trusted files name, else the one beside "
    "SGL_SIGNING_KEY).",
)
@click.option(
    "--trusted",
    "trusted_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Trusted checkpoints kept away from this machine (`sgl checkpoints export`, or one "
    "signed checkpoint); the log must extend each. Repeatable.",
)
@click.option(
    "--grace",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Records a partition may hold after its latest signed checkpoint "
    "(default: SGL_CHECKPOINT_EVERY).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify(
    ctx: click.Context,
    key_file: str | None,
    trusted_files: tuple[str, ...],
    grace: int | None,
    as_json: bool,
) -> None:
    """Recompute every partition's Merkle tree from the log and from the access log, check
    every checkpoint's signature and root, compare each record with its seal, and prove each
    log extends the trusted checkpoints of it; name the first record that disagrees. Exit
    status 1 when anything disagrees, or when the ledger has nothing to verify (no records, no
    checkpoints, no seal); an access log nobody has read yet is empty, and that holds.

    Example: sgl verify --trusted trusted.json --key var/keys/checkpoint.pub
    """
    from consumers.verify import verify_ledger
    from sgl.bootstrap import bootstrap

    settings = settings_of(ctx)
    file_key, trusted = _read_trusted(trusted_files)
    ledger_notes, access_notes = _split_trusted(trusted, settings.access_topic)
    allowed = settings.checkpoint_every if grace is None else grace
    container = bootstrap(settings)
    try:
        vkey = _verifier_key(key_file, file_key, container.verifier_key())
        total = sum(container.log.end_offsets().values()) + sum(
            container.access_log.end_offsets().values()
        )
        with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
            report = verify_ledger(
                container.log,
                container.checkpoints_log,
                vkey,
                container.seal,
                bar.update,
                trusted=ledger_notes,
                grace=allowed,
            )
            access = verify_ledger(
                container.access_log,
                container.access_checkpoints_log,
                vkey,
                container.access_seal,
                bar.update,
                trusted=access_notes,
                grace=allowed,
                may_be_empty=True,
            )
    finally:
        container.close()
    ok = report.ok and access.ok
    if as_json:
        click.echo(
            orjson.dumps({**_report_json(report), "ok": ok, "access_log": _report_json(access)})
        )
    else:
        _print_report("", report)
        _print_report("access log ", access)
    if not ok:
        sys.exit(1)


def _report_json(report: VerifyReport) -> dict[str, Any]:
    """The report as the JSON `--json` prints."""
    return {
        "ok": report.ok,
        "records": report.records,
        "partitions": report.partitions,
        "checkpoints": report.checkpoints,
        "trusted": report.trusted,
        "first": None if report.first is None else str(report.first),
        "problems": [str(p) for p in sorted(report.problems)],
    }


def _print_report(prefix: str, report: VerifyReport) -> None:
    """The report's lines, each after the prefix naming the log (none for the ledger's)."""
    if report.ok:
        also = f" and {report.trusted:,} trusted checkpoint(s)" if report.trusted else ""
        click.echo(
            f"{prefix}verified: {report.records:,} records in {report.partitions} partition(s) "
            f"against {report.checkpoints:,} signed checkpoint(s){also}; nothing disagrees"
        )
        return
    click.echo(f"{prefix}FIRST DISAGREEMENT: {report.first}")
    for problem in sorted(report.problems)[1:]:
        click.echo(f"{prefix}also: {problem}")


def _split_trusted(notes: list[str], access_topic: str) -> tuple[list[str], list[str]]:
    """The trusted checkpoints of the ledger, and those of the access log (by their origin);
    one that cannot be read goes with the ledger's, whose check names it."""
    from ledger.checkpoint import CheckpointError, origin_of, parse

    access_prefix = origin_of(access_topic, 0).rsplit("/", 1)[0] + "/"
    ledger: list[str] = []
    access: list[str] = []
    for note in notes:
        try:
            origin = parse(note).origin
        except CheckpointError:
            origin = ""
        (access if origin.startswith(access_prefix) else ledger).append(note)
    return ledger, access


def _read_trusted(files: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """The verifier key the trusted files name (if they agree on one) and their checkpoints."""
    from ledger.bundles import trusted_checkpoints

    keys, notes = set(), []
    for name in files:
        try:
            key, found = trusted_checkpoints(Path(name).read_bytes())
        except ValueError as exc:
            raise click.ClickException(f"trusted checkpoints {name}: {exc}") from None
        if key is not None:
            keys.add(key.strip())
        notes += found
    if len(keys) > 1:
        raise click.ClickException(
            "the trusted files name different verifier keys: pass --key with the published one"
        )
    return (keys.pop() if keys else None), notes


def _verifier_key(key_file: str | None, file_key: str | None, local: str | None) -> str:
    """The key to check signatures with: --key, else the one the trusted files name, else
    (with a note saying what that proves) the one beside this ledger's signing key."""
    if key_file:
        return Path(key_file).read_text().strip()
    if file_key is not None:
        click.echo(
            "note: trusting the verifier key in the trusted checkpoints file; an auditor "
            "passes --key with the key the operator published",
            err=True,
        )
        return file_key
    if local is None:
        raise click.ClickException("no verifier key: run `sgl keys create` or pass --key")
    click.echo(
        "note: trusting the verifier key beside this ledger's signing key; an auditor "
        "passes --key with the key the operator published",
        err=True,
    )
    return local


@click.group()
def proof() -> None:
    """Inclusion and consistency proof bundles.

    Example: sgl proof verify proof.json --key var/keys/checkpoint.pub
    """


@proof.command("get")
@click.argument("event_id")
@click.option("--checkpoint", type=int, default=None, help="Tree size of the checkpoint.")
@click.option(
    "--access",
    is_flag=True,
    help="EVENT_ID is an access record's access_id: prove it is in the access log.",
)
@click.pass_context
def proof_get(ctx: click.Context, event_id: str, checkpoint: int | None, access: bool) -> None:
    """Print the inclusion proof bundle of an event, or with --access of an access record
    (JSON), to save and check offline.

    Example: sgl proof get ee11598f-115f-564b-9a92-1ad9d38e6ade > proof.json
    """
    if access:
        from sgl.access_report import access_proof
        from sgl.bootstrap import bootstrap

        container = bootstrap(settings_of(ctx))
        try:
            bundle = access_proof(container, event_id, checkpoint)
        finally:
            container.close()
        click.echo(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode())
        return
    from sgl.queries import inclusion_proof

    _print_bundle(ctx, lambda stores: inclusion_proof(stores, event_id, checkpoint))


@proof.command("consistency")
@click.argument("first", type=int)
@click.argument("second", type=int)
@click.option("--partition", type=int, default=0, show_default=True, help="The partition.")
@click.pass_context
def proof_consistency(ctx: click.Context, first: int, second: int, partition: int) -> None:
    """Print the consistency proof bundle (JSON) between two checkpoints of a partition, given
    by their tree sizes: the earlier tree is a prefix of the later one.

    Example: sgl proof consistency 1000 2000 --partition 0 > consistency.json
    """
    from sgl.queries import consistency_proof

    _print_bundle(ctx, lambda stores: consistency_proof(stores, partition, first, second))


@proof.command("verify")
@click.argument("bundle", type=click.File("rb"))
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Verifier key file to trust (default: the one beside SGL_SIGNING_KEY).",
)
@click.option(
    "--origin",
    default=None,
    help="The ledger the checkpoints must name, e.g. safeguarding-ledger/sgl.ledger.v1/0.",
)
@click.pass_context
def proof_verify(ctx: click.Context, bundle: Any, key_file: str | None, origin: str | None) -> None:
    """Check a saved proof bundle offline (no log, no database): the checkpoint's signature
    against the verifier key, then the inclusion or consistency proof. Exit status 1 when
    it does not hold.

    Example: sgl proof verify proof.json --key var/keys/checkpoint.pub
    """
    from ledger.bundles import check_bundle

    path = Path(key_file) if key_file else settings_of(ctx).signing_key_path.with_suffix(".pub")
    try:
        vkey = path.read_text().strip()
    except FileNotFoundError:
        raise click.ClickException(f"no verifier key at {path}: pass --key") from None
    try:
        data = orjson.loads(bundle.read())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"the bundle is not JSON: {exc}") from None
    problems = check_bundle(data, vkey, origin)
    if problems:
        for problem in problems:
            click.echo(f"DOES NOT HOLD: {problem}")
        sys.exit(1)
    click.echo(f"holds: {data['format']} checked against {vkey.split('+')[0]}'s key")


@click.group()
def checkpoints() -> None:
    """The signed checkpoints of the seal.

    Example: sgl checkpoints latest
    """


@checkpoints.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="The file to write (default: standard output).",
)
@click.pass_context
def checkpoints_export(ctx: click.Context, out: str | None) -> None:
    """Export each partition's latest published checkpoint (the signed notes) and the
    verifier key (JSON), for an auditor to keep away from this machine; `sgl verify --trusted
    FILE` later proves the log still extends them, so a rollback or a history signed again
    is caught. Exit status 1 before any checkpoint is published.

    Example: sgl checkpoints export --out trusted.json
    """
    from sgl.queries import LocalStores, trusted_export

    with LocalStores(settings_of(ctx)) as stores:
        document = trusted_export(stores)
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text)
    found = document["checkpoints"]
    sizes = "; ".join(f"partition {c['partition']} at size {c['tree_size']}" for c in found)
    click.echo(f"exported {len(found)} checkpoint(s) to {out or 'stdout'}: {sizes}", err=True)


@checkpoints.command("latest")
@click.pass_context
def checkpoints_latest(ctx: click.Context) -> None:
    """Print each partition's latest signed checkpoint (tree size, root, signed note) and the
    verifier key that checks them (JSON).

    Example: sgl checkpoints latest > checkpoints.json
    """
    from sgl.queries import latest_checkpoints

    _print_bundle(ctx, latest_checkpoints)
