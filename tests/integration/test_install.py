"""The wheels as users get them: built from a copy of the source, installed into fresh venvs
outside the checkout, and run from a directory outside it too.

The server wheel must start with nothing of the checkout on the path (its policies and
schemas are package data), and the client wheel must publish to a live ledger with none of
the server's dependencies installed. The venvs are built once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sgl.demo import DEMO_CASE
from tests.agencies import with_agencies
from tests.conftest import LiveServer
from tests.factories import make_event

ROOT = Path(__file__).resolve().parents[2]
# What a source checkout holds that a build must not see: state, caches, earlier builds.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests"
)


def run(args: list[str | Path], cwd: Path, timeout: float = 300) -> str:
    """Run a command with no trace of the checkout in its environment; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SGL_"))}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [str(a) for a in args],
        check=False,  # the assertion below shows the command's stderr
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server and client wheels, built from a copy of the source tree."""
    base = tmp_path_factory.mktemp("wheels")
    source, out = base / "source", base / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    for project in (source, source / "clients" / "python"):
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, project], base)
    return out


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Callable[[str], Path]:
    """A fresh venv outside the checkout with one distribution installed from its wheel file,
    by path, never by name from an index (its dependencies from the index, pinned by
    constraints.txt); its bin directory."""
    made: dict[str, Path] = {}

    def make(distribution: str) -> Path:
        if distribution not in made:
            (wheel,) = wheels.glob(f"{distribution.replace('-', '_')}-*.whl")
            home = tmp_path_factory.mktemp("venv")
            run([sys.executable, "-m", "venv", home / "venv"], home)
            bin_dir = home / "venv" / "bin"
            run(
                [
                    *(bin_dir / "python", "-m", "pip", "install", "-q"),
                    *("-c", ROOT / "constraints.txt", wheel),
                ],
                home,
            )
            made[distribution] = bin_dir
        return made[distribution]

    return make


def test_the_server_wheel_installs_and_starts_outside_the_checkout(
    venv: Callable[[str], Path], tmp_path: Path
) -> None:
    """`sgl --help`, then the demo loaded into an embedded store and a case read back."""
    bin_dir = venv("safeguarding-ledger")
    assert "Safeguarding Ledger" in run([bin_dir / "sgl", "--help"], tmp_path)
    sgl = [bin_dir / "sgl", "--data-dir", tmp_path / "data"]
    run([*sgl, "demo", "--cases", "2", "--no-serve"], tmp_path)
    run([*sgl, "rebuild", "case_state"], tmp_path)
    case = json.loads(run([*sgl, "case", DEMO_CASE, "--json"], tmp_path))
    assert case["case_id"] == DEMO_CASE and case["events"]
    where = run(
        [
            *(bin_dir / "python", "-c"),
            "import sgl, policies, ledger_client as c; print(sgl.__file__, policies.__file__, "
            "c.__file__)",
        ],
        tmp_path,
    )
    assert str(ROOT) not in where and where.count("site-packages") == 3
    # The server carries the client's package: the client's distribution is never fetched.
    installed = run([bin_dir / "python", "-m", "pip", "list", "--format", "json"], tmp_path)
    names = {d["name"] for d in json.loads(installed)}
    assert "safeguarding-ledger" in names and "safeguarding-ledger-client" not in names


def test_the_client_installs_alone_and_publishes_to_a_live_ledger(
    venv: Callable[[str], Path], tmp_path: Path, make_settings: Callable[..., object]
) -> None:
    """The client's venv holds none of the server's dependencies, and its receipts are
    `accepted`, then `duplicate` for the same event sent again."""
    from sgl.bootstrap import bootstrap

    bin_dir = venv("safeguarding-ledger-client")
    present = run(
        [
            bin_dir / "python",
            "-c",
            "import importlib.util as u; print([m for m in ('fastapi', 'kafka', "
            "'eventsourcing', 'uvicorn', 'ledger', 'sgl') if u.find_spec(m)])",
        ],
        tmp_path,
    )
    assert present.strip() == "[]"
    container = with_agencies(bootstrap(make_settings("sqlite")))  # type: ignore[arg-type]
    server = LiveServer(container).start()
    try:
        script = tmp_path / "publish.py"
        script.write_text(
            "import json, sys\n"
            "from ledger_client import LedgerClient\n"
            "event = json.loads(sys.argv[2])\n"
            "with LedgerClient(sys.argv[1], token=sys.argv[3]) as client:\n"
            "    print(json.dumps([client.publish(event).status for _ in range(2)]))\n"
        )
        event = make_event()
        token = server.credentials.token("publisher", event["agency"])
        out = run([bin_dir / "python", script, server.url, json.dumps(event), token], tmp_path)
    finally:
        server.stop()
        container.close()
    assert json.loads(out) == ["accepted", "duplicate"]
