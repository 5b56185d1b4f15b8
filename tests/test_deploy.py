"""What `docker compose up` runs, checked without a Docker engine: every service healthchecked,
every image pinned, nothing unused, no secret in the file, the image built from the wheels, and
every command the image is given a real `sgl` command line."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sgl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTRUCTIONS = [
    (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
    for line in DOCKERFILE.replace("\\\n", " ").splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_compose_runs_the_broker_the_database_and_the_ledgers_roles_and_nothing_else() -> None:
    """Kafka, PostgreSQL, and the ledger's roles each as a service of the one image."""
    assert set(SERVICES) == {"kafka", "postgres", "api", "consumer", "sealer"}
    for role in ("api", "consumer", "sealer"):
        assert SERVICES[role]["image"] == f"safeguarding-ledger:{VERSION}"
        line = SERVICES[role]["command"]
        assert line[0] == "serve" and line[line.index("--role") + 1] == role
        assert SERVICES[role]["environment"]["SGL_DATABASE_URL"].startswith("postgresql://")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_healthchecked_pinned_and_on_loopback(name: str) -> None:
    """A healthcheck that runs a command, an image with an exact version, loopback ports."""
    service = SERVICES[name]
    check = service["healthcheck"]
    assert check["test"][0] == "CMD" and len(check["test"]) > 1 and check["retries"] > 0
    image, _, tag = service["image"].rpartition(":")
    # PostgreSQL numbers its releases major.minor.
    assert image and re.fullmatch(r"\d+\.\d+(\.\d+)?(-[a-z]+)?", tag), f"{name}: pin a version"
    for port in service.get("ports", []):
        assert port.startswith("127.0.0.1:"), "publish on loopback only"


def test_the_image_built_here_is_tagged_with_the_package_version() -> None:
    """The API's image is the one ./Dockerfile builds, named after the version it installs."""
    assert SERVICES["api"]["build"] == "."
    assert SERVICES["api"]["image"] == f"safeguarding-ledger:{VERSION}"


def test_no_secret_is_written_in_the_compose_file() -> None:
    """No password, secret or token variable; the signing key is made in the data volume."""
    for name, service in SERVICES.items():
        for key in service.get("environment", {}):
            assert not re.search("PASSWORD|SECRET|TOKEN|SIGNING_KEY", key), f"{name}: {key}"


def test_one_alerter_runs() -> None:
    """Exactly one process on the ledger raises alerts."""
    alerters = [s for s in SERVICES.values() if s.get("environment", {}).get("SGL_ALERTER") == "on"]
    assert len(alerters) == 1


def test_the_dockerfile_builds_wheels_and_installs_them_on_a_pinned_base() -> None:
    """Two stages on one exact Python; the second installs, by its path, the wheel the first
    built (a name would be looked up on an index)."""
    bases = [arg.split()[0] for op, arg in INSTRUCTIONS if op == "FROM"]
    assert len(bases) == 2 and len(set(bases)) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", bases[0])
    runs = [arg for op, arg in INSTRUCTIONS if op == "RUN"]
    assert "pip wheel" in runs[0] and "-w /wheels" in runs[0]
    assert "/wheels/safeguarding_ledger-*.whl" in runs[1] and "-c /tmp/constraints.txt" in runs[1]
    assert "--find-links" not in runs[1]
    assert ("COPY", "--from=build /wheels /wheels") in INSTRUCTIONS


def test_everything_the_dockerfile_copies_exists() -> None:
    """Every COPY source is in the repository (a missing one fails the build)."""
    for op, arg in INSTRUCTIONS:
        if op == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), source


def _command_lines() -> list[list[str]]:
    """The image's default command and each command compose gives it (exec form is JSON)."""
    exec_form = {op: json.loads(arg) for op, arg in INSTRUCTIONS if op in ("ENTRYPOINT", "CMD")}
    assert exec_form["ENTRYPOINT"] == ["sgl"]
    image = SERVICES["api"]["image"]
    built = [s["command"] for s in SERVICES.values() if s["image"] == image]
    return [exec_form["CMD"], *built]


@pytest.mark.parametrize("line", _command_lines(), ids=" ".join)
def test_every_command_the_image_runs_is_a_real_sgl_command(line: list[str]) -> None:
    """The command and its options parse (an unknown command or option fails before --help)."""
    result = CliRunner().invoke(cli, [*line, "--help"])
    assert result.exit_code == 0, result.output
