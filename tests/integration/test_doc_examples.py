"""Every example in README.md and docs/*.md runs, as a reader would run it.

Examples are found in the files when the tests are collected: fenced `sh`, `bash`, `console`
and `python` blocks, `json` and `toml` blocks (parsed), whole `sgl` commands and `GET` requests
written inline in prose (not synopses such as `sgl case CASE_ID [--as-of D]`), and the
"Example:" line of each command in docs/cli.md (generated from `--help`). Commands run in a
private directory whose `var/` holds the default demo (what `make run` loads), served by
`sgl serve` on a free port: the documented
address http://127.0.0.1:8000 becomes that server's, and `sgl` is this checkout's. An example
first runs the earlier examples of its file it may build on, so any one can be selected alone.

Each example calls with the token a reader would use for it, made in the ledger's token store:
`SGL_TOKEN` is the admin's for a command that keeps the agency registry, the publisher's of
the events' agency for one that publishes, and an inquiry's for a read (which states its
purpose); Python examples also have `TOKENS`, each example agency's publisher token.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import httpx
import orjson
import pytest
import yaml

from ledger.builders import Envelope
from ledger.event_types import contact_recorded
from ledger.settings import Settings
from sgl.cli import cli
from sgl.demo.child_a import child_a
from sgl.demo.child_b import CASE as CHILD_B
from tests.agencies import EXAMPLE_AGENCIES, registrations
from tests.conftest import free_port, wait_for
from tests.credentials import REGISTRY_TYPES, Credentials

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_URL = "http://127.0.0.1:8000"
DOCUMENTED_PORT = "8000"
CLI_REFERENCE = "docs/cli.md"
SHELL = frozenset({"sh", "bash", "console", "shell"})
RUNNABLE = SHELL | {"python", "json", "toml"}
NOT_RUNNABLE = frozenset({"text"})
# Commands that run until stopped, and commands that set a ledger up (so they get a fresh
# directory rather than the shared demo ledger); every other command reads or writes that one.
LONG_RUNNING = frozenset({"serve", "consume"})
SETS_UP = frozenset({"demo", "keys"})
HTTP_STATUS = "__http_status__"
# A clean stop: exit 0, or the SIGTERM itself, which uvicorn raises again once it has shut
# down gracefully (so a supervisor sees why it stopped); a shell in between reports 128 + 15.
CLEAN_STOP = frozenset({0, -signal.SIGTERM, 128 + signal.SIGTERM})

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Example:
    """One example: where it is, what kind it is, and its text."""

    file: str
    number: int
    kind: str
    text: str
    line: int
    label: str = ""

    @property
    def id(self) -> str:
        """The test id: the file and the block (or the command, in the CLI reference)."""
        return f"{self.file}#{self.number}-{self.label or self.kind or 'untagged'}"

    @property
    def family(self) -> str:
        """Examples of one family in a file build on each other (one namespace, one directory);
        data blocks stand alone."""
        if self.kind == "python":
            return "python"
        return "shell" if self.kind in SHELL | {"cli", "inline"} else ""


def doc_files() -> list[Path]:
    """README.md and every page in docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fences(path: Path) -> Iterator[tuple[str, str, int]]:
    """Each fenced block of a markdown file: its language, its text and its first line."""
    text = path.read_text()
    for match in FENCE.finditer(text):
        yield match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1


def cli_reference_examples(path: Path) -> Iterator[Example]:
    """The "Example:" line of each command section of the generated CLI reference."""
    number, section = 0, ""
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        heading = re.match(r"^#+ `?(sgl[^`]*)`?$", line)
        if heading:
            section = heading.group(1)
        example = re.match(r"^\s+Example: (.+)$", line)
        if example:
            number += 1
            label = section.replace(" ", "-")
            yield Example(CLI_REFERENCE, number, "cli", example.group(1), line_number, label)


INLINE = re.compile(r"`((?:sgl|GET) (?:[^`\n]|\n(?!\n))+)`")
# CASE_ID, EVENT_ID, S1, [--as-of D], {case_id}, case_state|clocks: a synopsis, not an example.
PLACEHOLDER = re.compile(r"[\[\]{}<|…]|\.\.\.|(?<![\w./-])[A-Z][A-Z0-9_]*(?![\w=-])")


def arguments(words: list[str]) -> list[str]:
    """What follows the command path (`proof verify`) in an `sgl` command's words; a mention
    of a command (`sgl verify`) has none."""
    command: click.Command = cli
    while isinstance(command, click.Group) and words and words[0] in command.commands:
        command, words = command.commands[words[0]], words[1:]
    return words


def inline_examples(text: str) -> Iterator[tuple[int, str]]:
    """Whole commands and requests written inline in prose: `sgl` with a subcommand and an
    argument, or `GET` and a path, with no placeholder; each once."""
    blocks = [m.span() for m in FENCE.finditer(text)]
    seen = set()
    for match in INLINE.finditer(text):
        if any(start <= match.start() < end for start, end in blocks):
            continue
        span = " ".join(match.group(1).split())
        method, _, rest = span.partition(" ")
        whole = bool(arguments(rest.split())) if method == "sgl" else rest.startswith("/")
        if whole and not PLACEHOLDER.search(rest) and span not in seen:
            seen.add(span)
            yield match.start(), span


def discover() -> list[Example]:
    """Every example of README.md and docs/*.md, in reading order."""
    found: list[Example] = []
    for path in doc_files():
        name = str(path.relative_to(ROOT))
        if name == CLI_REFERENCE:
            found += cli_reference_examples(path)
            continue
        text = path.read_text()
        blocks = [(m.start(), m.group(1), m.group(2)) for m in FENCE.finditer(text)]
        spans = [(offset, "inline", span) for offset, span in inline_examples(text)]
        for number, (offset, kind, body) in enumerate(sorted(blocks + spans), start=1):
            if kind in NOT_RUNNABLE:
                continue
            line = text.count("\n", 0, offset) + 1
            label = "-".join(body.split()[:2]) if kind == "inline" else ""
            found.append(Example(name, number, kind, body, line, label))
    return found


EXAMPLES = discover()


def needs_kafka(example: Example) -> bool:
    """An example that runs the ledger on Kafka."""
    return bool(re.search(r"SGL_BACKEND=kafka|--backend[ =]kafka", example.text))


def params() -> list[object]:
    """The examples as test parameters, Kafka ones marked."""
    return [
        pytest.param(e, id=e.id, marks=[pytest.mark.kafka] if needs_kafka(e) else [])
        for e in EXAMPLES
    ]


@dataclass
class Step:
    """A command of a shell block and the output the block shows after it."""

    command: str
    shown: list[str] = field(default_factory=list)


def _complete(command: str) -> bool:
    """True when the text is a whole shell command (no open quote, no continuation)."""
    if command.rstrip().endswith("\\"):
        return False
    lexer = shlex.shlex(command, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        list(lexer)
    except ValueError:
        return False
    return True


def shell_steps(text: str, console: bool) -> list[Step]:
    """The commands of a shell block; `# ...` lines after one (or, in a console block, lines
    without the `$ ` prompt) are the output it shows."""
    steps: list[Step] = []
    pending = ""
    for line in text.splitlines():
        if pending:
            pending += "\n" + line
        elif console and not line.startswith("$ "):
            if line.strip() and steps:
                steps[-1].shown.append(line)
            continue
        elif not line.strip():
            continue
        elif line.lstrip().startswith("#"):
            if steps:
                steps[-1].shown.append(line.lstrip("# ").rstrip())
            continue
        else:
            pending = line.removeprefix("$ ") if console else line
        if _complete(pending):
            steps.append(Step(pending))
            pending = ""
    assert not pending, f"an unfinished command: {pending!r}"
    return steps


def sgl_commands(words: list[str]) -> list[list[str]]:
    """The subcommand words of each `sgl` invocation in a command's words."""
    found = []
    for index, word in enumerate(words):
        if word != "sgl":
            continue
        rest, args = words[index + 1 :], []
        while rest and rest[0] in ("--data-dir", "--backend"):
            rest = rest[2:]
        for item in rest:
            if item in ("&&", "||", "|", ";", ">", ">>"):
                break
            args.append(item)
        found.append(args)
    return found


class Reader:
    """A reader's machine: the demo ledger served from a private directory, and what has run."""

    def __init__(self, home: Path, tmp: pytest.TempPathFactory) -> None:
        self.home = home
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bin_dir = home / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "sgl"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sgl "$@"\n')
        shim.chmod(0o755)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SGL_")}
        self.base_env = {
            **base,
            "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")])),
            "SGL_LOG_FORMAT": "json",
            # A checkpoint a second after anything new, so proofs cover what was just added.
            "SGL_CHECKPOINT_SECONDS": "1",
        }
        self.env = {
            **self.base_env,
            "SGL_DATA_DIR": str(home / "var"),
            "SGL_HTTP_PORT": str(self.port),
            "SGL_URL": self.url,
        }
        self.namespaces: dict[str, dict[str, object]] = {}
        self.done: set[Example] = set()
        self.server: subprocess.Popen[bytes] | None = None
        self.demo_case: dict[str, object] = {}
        self.child_b: dict[str, Any] = {}
        # Tokens in the store of the ledger's data directory, which its server reads.
        self.credentials = Credentials(Settings.from_env(self.env))

    def start(self) -> None:
        """Load the default demo and serve it, then wait until its consumers have caught up."""
        loaded = subprocess.run(
            ["sgl", "demo", "--no-serve"],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr.decode()[-2000:]
        (self.home / "events.jsonl").write_bytes(reader_events())
        with (self.home / "serve.log").open("wb") as log:
            self.server = subprocess.Popen(
                ["sgl", "serve", "--port", str(self.port)],
                cwd=self.home,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.healthy, timeout=60, what="the demo ledger to answer /healthz")
        # The examples name the example agencies, which a reader registers first (adapters.md).
        examples = self.home / "docs" / "examples"
        examples.mkdir(parents=True, exist_ok=True)
        (examples / "agencies.json").write_bytes(orjson.dumps(EXAMPLE_AGENCIES))
        registered = httpx.post(
            f"{self.url}/v1/events",
            json=registrations(EXAMPLE_AGENCIES),
            headers=self.credentials.headers("admin"),
            timeout=30,
        )
        assert registered.status_code in (200, 201), registered.text
        self.settle()
        # The demo case as a reader first sees it, before the examples add to it.
        self.demo_case = demo_get(self, "/v1/cases/CASE-A0001")
        self.child_b = demo_get(self, f"/v1/cases/{CHILD_B}")

    def stop(self) -> None:
        """Stop the server; it must exit cleanly."""
        self.credentials.close()
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            assert self.server.wait(timeout=10) in CLEAN_STOP, self.log_tail()

    def reads(self) -> dict[str, str]:
        """The headers of a reader's read: an inquiry token and its purpose."""
        return self.credentials.headers("inquiry")

    def publishers(self) -> dict[str, str]:
        """Each example agency's publisher token, as its adapter holds it."""
        return {
            a["agency_id"]: self.credentials.token("publisher", a["agency_id"])
            for a in (EXAMPLE_AGENCIES)
        }

    def token_for(self, command: str, cwd: Path) -> str:
        """The token a reader runs the command with: the admin's to keep the agency registry,
        the publisher's of the agency whose events it publishes, else an inquiry's."""
        registry = "|".join(re.escape(t) for t in REGISTRY_TYPES)
        if re.search(rf'\bsgl agencies (import|update)\b|"type":\s*"({registry})"', command):
            return self.credentials.token("admin")
        agency = re.search(r'\bagency(?:": |=)"([\w-]+)"', command)
        published = re.search(r"\bsgl publish ((?:-\S+ )*)([^-\s]\S*)", command)
        if published:
            first = (cwd / published.group(2)).read_bytes().splitlines()[0]
            agency = re.search(r'"agency":\s*"([\w-]+)"', first.decode())
        if agency:
            return self.credentials.token("publisher", agency.group(1))
        return self.credentials.token("inquiry")

    def log_tail(self) -> str:
        """The end of the server's log, for a failure message."""
        return (self.home / "serve.log").read_text(errors="replace")[-3000:]

    def healthy(self, url: str | None = None) -> bool:
        """True when the server at url (default: the demo ledger) answers /healthz."""
        try:
            return httpx.get(f"{url or self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def lags(self) -> dict[str, float]:
        """Each consumer's lag, from /metrics."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return {
            view: float(value)
            for view, value in re.findall(
                r'^sgl_consumer_lag_records\{view="([^"]+)"\} (\S+)$', text, re.M
            )
        }

    def settle(self) -> None:
        """Wait until two readings in a row find every consumer caught up with the log (the
        alerter appends what it raises, so one reading can be just before it does)."""
        zeros = []

        def caught_up() -> bool:
            lags = self.lags()
            zeros.append(bool(lags) and not any(lags.values()))
            return zeros[-2:] == [True, True]

        wait_for(caught_up, timeout=120, every=0.2, what="the consumers to catch up")


def reader_events() -> bytes:
    """The events.jsonl a reader publishes with `sgl publish events.jsonl`: two valid events."""
    lines = []
    for day in (20, 21):
        event = contact_recorded(
            Envelope(
                case_id="CASE-DOC2",
                agency="la-childrens-social-care",
                recorded_by={"id": "P-SW-0001", "role": "social_worker"},
                occurred_at=f"2007-06-{day}T10:00:00Z",
                recorded_at=f"2007-06-{day}T15:00:00Z",
            ),
            {"contact_type": "home_visit", "child_seen": "yes", "seen_alone": "yes"},
        )
        lines.append(orjson.dumps(event))
    return b"\n".join(lines) + b"\n"


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    """The demo ledger served from a private directory, for every example of this module."""
    machine = Reader(tmp_path_factory.mktemp("reader"), tmp_path_factory)
    try:
        machine.start()
        yield machine
    finally:
        machine.stop()


def written(example: Example) -> set[str]:
    """The files a shell example writes with `>`."""
    if example.family != "shell":
        return set()
    return set(re.findall(r">\s*([\w./-]+)", example.text))


def builds_on(example: Example, other: Example) -> bool:
    """True when `other` must run before `example`: an example anywhere that writes a file
    `example` reads, or an earlier example of the same page and family (the commands of the
    CLI reference stand alone)."""
    if other is example:
        return False
    if written(other) & set(example.text.split()):
        return True
    if other.file != example.file or example.file == CLI_REFERENCE:
        return False
    return bool(example.family) and other.family == example.family and other.number < example.number


def run_example(reader: Reader, example: Example, request: pytest.FixtureRequest) -> None:
    """Run an example after those it builds on that have not run yet."""
    for other in EXAMPLES:
        if builds_on(example, other) and other not in reader.done:
            run_one(reader, other, request)
            reader.done.add(other)
    if example not in reader.done:
        run_one(reader, example, request)
        reader.done.add(example)


def run_one(reader: Reader, example: Example, request: pytest.FixtureRequest) -> None:
    """Run or check one example according to its kind."""
    where = f"{example.file} line {example.line}"
    if example.kind == "python":
        namespace = reader.namespaces.setdefault(
            example.file,
            {
                "LEDGER_URL": reader.url,
                "TOKENS": reader.publishers(),
                "__name__": "__doc_example__",
            },
        )
        source = example.text.replace(DOCUMENTED_URL, reader.url)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SGL_TOKEN", reader.token_for(example.text, reader.home))
            exec(compile(source, where, "exec"), namespace)
    elif example.kind == "json":
        orjson.loads(example.text)
    elif example.kind == "toml":
        tomllib.loads(example.text)
    elif example.kind == "inline" and example.text.startswith("GET "):
        reader.settle()
        answer = httpx.get(
            reader.url + example.text.removeprefix("GET "), headers=reader.reads(), timeout=30
        )
        assert answer.status_code == 200, f"{where}: {example.text}: {answer.text[:2000]}"
    elif example.kind in ("cli", "inline"):
        run_step(reader, Step(example.text), request)
    elif example.kind in SHELL:
        steps = shell_steps(example.text, console=example.kind == "console")
        assert steps, f"{where}: a shell block with no command"
        for step in steps:
            run_step(reader, step, request)
    else:
        pytest.fail(
            f"{where}: a ```{example.kind} block; say what it is: {sorted(RUNNABLE | NOT_RUNNABLE)}"
        )


def run_step(reader: Reader, step: Step, request: pytest.FixtureRequest) -> None:
    """Run one shell command the way its kind asks, and check what the block shows."""
    words = shlex.split(step.command, comments=True)
    program = next(w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w))
    if program == "make":
        check_make(words[words.index("make") + 1 :])
        return
    if program in {"docker", "docker-compose"}:
        check_compose(words)
        return
    if program == "pip":
        check_pip(words[words.index("pip") + 1 :])
        return
    invocations = sgl_commands(words)
    subcommands = {args[0] for args in invocations if args}
    long_running = bool(subcommands & LONG_RUNNING) or any(
        args[:1] == ["demo"] and "--no-serve" not in args for args in invocations
    )
    env, cwd = reader.env, reader.home
    if long_running or subcommands & SETS_UP:
        cwd = reader.tmp.mktemp("fresh")
        env = {**reader.base_env, "SGL_DATA_DIR": str(cwd / "var")}
    if needs_kafka(Example("", 0, "", step.command, 0)):
        suffix = uuid.uuid4().hex[:12]
        env = {
            **env,
            "SGL_KAFKA_BOOTSTRAP": request.getfixturevalue("kafka_bootstrap"),
            "SGL_TOPIC": f"sgl.test.docs.{suffix}",
            "SGL_DEAD_LETTER_TOPIC": f"sgl.test.docs.{suffix}.dlq",
            "SGL_ALERTS_TOPIC": f"sgl.test.docs.{suffix}.alerts",
            "SGL_CHECKPOINTS_TOPIC": f"sgl.test.docs.{suffix}.checkpoints",
            "SGL_ACCESS_TOPIC": f"sgl.test.docs.{suffix}.access",
            "SGL_ACCESS_CHECKPOINTS_TOPIC": f"sgl.test.docs.{suffix}.access.checkpoints",
            "SGL_NOTES_TOPIC": f"sgl.test.docs.{suffix}.notes",
        }
    if long_running:
        run_until_ready(
            reader, step.command, env, cwd, serves=serves_http(subcommands, step.command)
        )
        return
    if invocations:
        reader.settle()
    run_to_completion(reader, step, env, cwd)


def expected_exit(step: Step) -> int:
    """The exit status the block shows (`# exit 1`), else 0."""
    for line in step.shown:
        match = re.match(r"^exit(?: status)? (\d+)", line)
        if match:
            return int(match.group(1))
    return 0


def run_to_completion(reader: Reader, step: Step, env: dict[str, str], cwd: Path) -> None:
    """Run a command to its end; it exits as shown, and answers as shown (status, keys)."""
    command = step.command.replace(DOCUMENTED_URL, reader.url)
    # curl prints the body only; have it print the status too, to check the one shown.
    command = re.sub(
        r"(^|[;&|]\s*)curl\s", rf"\1curl -w '\\n{HTTP_STATUS} %{{http_code}}\\n' ", command
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=cwd,
        env={**env, "SGL_TOKEN": reader.token_for(command, cwd)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = f"$ {command}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert done.returncode == expected_exit(step), report
    statuses = [int(s) for s in re.findall(rf"^{HTTP_STATUS} (\d+)$", done.stdout, re.M)]
    shown = " ".join(step.shown)
    shown_status = re.match(r"^(\d{3})\b", shown)
    if shown_status:
        assert statuses == [int(shown_status.group(1))], report
        body = orjson.loads(done.stdout.split(f"\n{HTTP_STATUS}")[0])
        keys = set(re.findall(r'"(\w+)":', shown))
        assert keys <= set(body), f"{report}\nshown keys {sorted(keys)} not all in the answer"
    else:
        assert all(s < 400 for s in statuses), report


def serves_http(subcommands: set[str], command: str) -> bool:
    """Whether a long-running command serves HTTP: `sgl consume` does not, nor `sgl serve`
    given roles without the API (`--role consumer`, `--role sealer`)."""
    if not subcommands - {"consume"}:
        return False
    roles = re.findall(r"--role[ =]([\w,]+)", command)
    return not roles or any("api" in r.split(",") for r in roles)


def run_until_ready(
    reader: Reader, command: str, env: dict[str, str], cwd: Path, serves: bool
) -> None:
    """Start a command that runs until stopped, wait until it serves (or logs that it has
    started, or joined its consumer group), then SIGTERM it: it must exit cleanly within 10 s."""
    port = free_port()
    command = re.sub(rf"--port[ =]{DOCUMENTED_PORT}\b", f"--port {port}", command)
    command = command.replace(DOCUMENTED_URL, f"http://127.0.0.1:{port}")
    env = {**env, "SGL_HTTP_PORT": str(port)}
    log_path = cwd / "process.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output() -> str:
        return log_path.read_text(errors="replace")

    def ready() -> bool:
        assert process.poll() is None, f"$ {command}\nexited {process.returncode}\n{output()}"
        if serves:
            return reader.healthy(f"http://127.0.0.1:{port}")
        # A loop reading alone logs `consumer.started`; a consumer group's member, once the
        # group has assigned it its partitions (perhaps none), `group.assigned`.
        return re.search(r'"event": "([\w.]+\.started|group\.assigned)"', output()) is not None

    try:
        wait_for(ready, timeout=120, every=0.1, what=f"`{command}` to be ready")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"`{command}` did not stop within 10 s of SIGTERM\n{output()[-3000:]}")
    assert code in CLEAN_STOP, f"$ {command}\nexit {code} after SIGTERM\n{output()[-3000:]}"
    assert "Traceback" not in output(), output()[-3000:]


def check_make(targets: list[str]) -> None:
    """A `make` command is not run here (`make test` would run this suite inside itself, `make
    run` serves until stopped); its targets must exist (`make -n` plans them), and `make run`
    must serve the demo with `sgl demo`."""
    planned = subprocess.run(
        ["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert planned.returncode == 0, planned.stderr
    if "run" in targets:
        assert re.search(r"\bsgl demo\b", planned.stdout), planned.stdout


def check_pip(words: list[str]) -> None:
    """A `pip` command is not run over this test's environment: tests/integration/test_install.py
    builds and installs the wheels the same way in fresh venvs. Here the command must name real
    projects (a directory with a pyproject.toml), real constraints files, and the wheel files
    this repository builds, by path (a bare name would be looked up on an index)."""
    wheels = set()
    for path in (ROOT / "pyproject.toml", *ROOT.glob("clients/*/pyproject.toml")):
        project = tomllib.loads(path.read_text())["project"]
        wheels.add(f"{project['name'].replace('-', '_')}-{project['version']}-py3-none-any.whl")
    verb, args = words[0], words[1:]
    assert verb in {"wheel", "install"}, f"pip {verb} is not an install step"
    valued = {"-w", "--wheel-dir", "--find-links", "-f", "-c", "--constraint"}
    pairs = list(itertools.pairwise(["", *args]))
    named = [a for before, a in pairs if not a.startswith("-") and before not in valued]
    for option, value in pairs:
        if option in {"-c", "--constraint"}:
            assert (ROOT / value).is_file(), f"no constraints file {value}"
    for name in named:
        if verb == "wheel":
            assert (ROOT / name / "pyproject.toml").is_file(), f"{name} is not a project"
        else:
            assert Path(name).name in wheels, f"{name} is not a wheel this repository builds"


def check_compose(words: list[str]) -> None:
    """No container engine here: the compose file parses and defines the services named."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = set(compose["services"])
    assert services
    named = [w for w in words[words.index("compose") + 2 :] if not w.startswith("-")]
    assert set(named) <= services, f"{named} not all in docker-compose.yml: {sorted(services)}"


@pytest.mark.parametrize("example", params())
def test_example_runs(reader: Reader, example: Example, request: pytest.FixtureRequest) -> None:
    """The example runs as written (shell, Python), or parses (JSON, TOML)."""
    run_example(reader, example, request)


def test_every_file_has_examples_found() -> None:
    """The finder sees the blocks of each page that has them and every command's example."""
    files = {e.file for e in EXAMPLES}
    assert {"README.md", "docs/adapters.md", CLI_REFERENCE} <= files
    commands = {e.label for e in EXAMPLES if e.file == CLI_REFERENCE}
    assert {f"sgl-{name}" for name in cli.commands} <= commands


def test_every_block_says_what_it_is() -> None:
    """Each fenced block names a language the suite runs or one that says it is not run."""
    known = RUNNABLE | NOT_RUNNABLE
    for path in doc_files():
        if str(path.relative_to(ROOT)) == CLI_REFERENCE:
            continue  # generated `--help` output; its examples run above
        for kind, _, line in fences(path):
            assert kind in known, f"{path.name} line {line}: ```{kind or ''} is not one of {known}"


NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
        )
    )
}


def as_number(text: str) -> int:
    """A count written in digits or as a word."""
    return int(text) if text.isdigit() else NUMBER_WORDS[text.lower()]


def test_demo_page_counts_are_the_demo_s() -> None:
    """docs/demo.md and README.md give the demo's real counts: Child A's events and agencies
    as loaded, and the default number of background cases."""
    events = list(child_a())
    agencies = {e["agency"] for e in events}
    cases_option = next(p for p in cli.commands["demo"].params if p.name == "cases")
    page = (ROOT / "docs" / "demo.md").read_text()
    loaded = re.search(r"(\d+) events from (\w+) agencies", page)
    assert loaded, "docs/demo.md no longer says how many events and agencies Child A has"
    assert int(loaded.group(1)) == len(events)
    assert as_number(loaded.group(2)) == len(agencies)
    for name in ("docs/demo.md", "README.md"):
        stated = re.findall(r"(\d+)\s+synthetic\s+background\s+cases", (ROOT / name).read_text())
        assert stated and {int(n) for n in stated} == {cases_option.default}, name


def test_demo_page_counts_what_a_reader_sees(reader: Reader) -> None:
    """The case as the running demo shows it (Child A's events and the alerts the ledger
    raised on it) has the counts docs/demo.md gives."""
    case = reader.demo_case
    page = (ROOT / "docs" / "demo.md").read_text()
    shown = re.search(r"counts (\d+) events from (\w+) agencies", page)
    assert shown, "docs/demo.md no longer says what `sgl case CASE-A0001` counts"
    assert int(shown.group(1)) == case["events"]
    assert isinstance(case["agencies"], list)
    assert as_number(shown.group(2)) == len(case["agencies"])


def child_b_walkthrough() -> str:
    """The Child B section of docs/demo.md, its prose joined into single lines."""
    page = (ROOT / "docs" / "demo.md").read_text()
    start = page.index("## Child B")
    return " ".join(page[start : page.index("\n## ", start + 1)].split())


def day(text: str) -> str:
    """A date as the walkthrough writes it (`31 May 2023`) as an as_of parameter."""
    return datetime.strptime(text, "%d %B %Y").date().isoformat()


def demo_get(reader: Reader, path: str, **params: str) -> Any:
    """A GET on the demo ledger, answered 200."""
    response = httpx.get(f"{reader.url}{path}", params=params, headers=reader.reads(), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_child_b_walkthrough_counts_what_a_reader_sees(reader: Reader) -> None:
    """The numbers the Child B walkthrough states (events and agencies, involvements open,
    days unseen, leads and areas on given days, whereabouts, not known fields, alerts
    unanswered) are what the running demo answers on those days."""
    text = child_b_walkthrough()
    case = f"/v1/cases/{CHILD_B}"
    counted = re.search(rf"`sgl case {CHILD_B}` counts (\d+) events from (\d+) agencies", text)
    assert counted, "the walkthrough no longer says what `sgl case CASE-B0001` counts"
    assert int(counted.group(1)) == reader.child_b["events"]
    assert int(counted.group(2)) == len(reader.child_b["agencies"])
    names = {a["agency_id"]: a["name"] for a in demo_get(reader, "/v1/agencies")["agencies"]}

    unseen = re.search(
        r"\(([\d]+ \w+ \d{4}) by ([^;]+); (\d+) days unseen by (\d+ \w+ \d{4})", text
    )
    assert unseen, "the walkthrough no longer says how long no statutory agency saw her"
    sightings = demo_get(reader, f"{case}/sightings", as_of=day(unseen.group(4)))
    last = sightings["last_seen_by_statutory_agency"]
    assert (last["last_seen_at"][:10], last["name"]) == (day(unseen.group(1)), unseen.group(2))
    assert sightings["days_unseen"] == int(unseen.group(3))

    involved = re.search(r"\((\d+) involvements open: [^|]*\| (\d+ \w+ \d{4}) \|", text)
    assert involved, "the walkthrough no longer says how many involvements were open"
    state = demo_get(reader, case, as_of=day(involved.group(2)))
    assert sum(i["open"] for i in state["involvements"]) == int(involved.group(1))

    leads = re.findall(r"(\d+ \w+ \d{4}): ([^,()]+), `([EWSN]\d{8})`", text)
    assert len(leads) == 2, "the walkthrough no longer gives the lead and area on two days"
    for when, lead, area in leads:
        state = demo_get(reader, case, as_of=day(when))
        assert (names[state["lead_agency"]], state["responsible_area"]) == (lead, area), when

    gone = re.search(r"`whereabouts_unknown_since` (\d+ \w+ \d{4})[^|]*\| (\d+ \w+ \d{4})", text)
    assert gone, "the walkthrough no longer says since when her whereabouts were unknown"
    state = demo_get(reader, case, as_of=day(gone.group(2)))
    assert state["whereabouts_unknown_since"][:10] == day(gone.group(1))

    not_known = re.findall(r"`(\w+_not_known)` \((\d+)\)", text)
    assert len(not_known) == 3, "the walkthrough no longer counts what was not known"
    assert {k: int(n) for k, n in not_known} == {k: reader.child_b[k] for k, _ in not_known}

    raised = re.search(r"\((\d+) unanswered by (\d+ \w+ \d{4})", text)
    assert raised, "the walkthrough no longer says how many alerts were unanswered"
    alerts = demo_get(reader, f"{case}/alerts", as_of=day(raised.group(2)))
    assert alerts["unanswered"] == int(raised.group(1))

    disputed = re.search(r'"(disputed: [^"]+)"', text)
    assert disputed, "the walkthrough no longer quotes the disputed date"
    occurred = [row["occurred"] for row in demo_get(reader, f"{case}/chronology")["events"]]
    assert disputed.group(1) in occurred


def test_operations_guide_counts_its_consumers() -> None:
    """docs/operations.md's count of consumers is the rows of its table and the choices of
    `sgl consume --only`; every `--only` list in the docs names them all."""
    consume = cli.commands["consume"]
    only = next(p for p in consume.params if p.name == "only")
    choices = set(getattr(only.type, "choices", ()))
    page = (ROOT / "docs" / "operations.md").read_text()
    said = re.search(r"There are (\w+) consumers", page)
    assert said
    table = page[said.end() :].split("\n\n")[1]
    rows = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert as_number(said.group(1)) == len(rows) == len(choices)
    assert set(rows) == choices
    for path in doc_files():
        if str(path.relative_to(ROOT)) == CLI_REFERENCE:
            continue
        for listed in re.findall(r"--only ([a-z_]+(?:\\?\|[a-z_]+)+)", path.read_text()):
            assert set(listed.replace("\\", "").split("|")) == choices, path.name


def test_nothing_cites_documents_outside_the_repository() -> None:
    """No tracked file names a document the repository does not hold."""
    # Built from parts so that this file does not name them itself.
    outside = ["DOMAIN" + ".md", "DESIGN" + ".md", "../" + "shared"]
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if not path.is_file():
            continue
        text = path.read_bytes().decode(errors="replace")
        for document in outside:
            assert document not in text, f"{path.relative_to(ROOT)} cites {document}"


def test_domain_page_names_every_clock_and_rule_of_the_bundled_policies() -> None:
    """docs/domain.md describes the policies the ledger ships: each clock, each rule and its
    kind, and both versions."""
    from ledger.settings import Settings
    from sgl.bootstrap import clock_policy_of, rule_policy_of

    page = (ROOT / "docs" / "domain.md").read_text()
    clocks, rules = clock_policy_of(Settings()), rule_policy_of(Settings())
    for clock in clocks.clocks:
        assert f"`{clock.name}`" in page, clock.name
    for rule in rules.rules:
        assert re.search(rf"^\| `{rule.name}` \| `{rule.kind}` \|", page, re.M), rule.name
    for version in (clocks.version, rules.version):
        assert re.search(rf"version\s+`{re.escape(version)}`", page), version


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_between_the_docs_resolves() -> None:
    """Each relative link of README.md and docs/*.md names a file in the repository and, with
    a #fragment, a heading of that file."""
    for path in doc_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            name, _, fragment = target.partition("#")
            linked = (path.parent / name).resolve() if name else path
            assert linked.is_file(), f"{path.name} links to {target}: no such file"
            if fragment:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                assert fragment in {slug(h) for h in headings}, f"{path.name} links to {target}"
