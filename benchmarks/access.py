"""What every read on the record costs: a case read with its access checks and its access
record appended before the answer, against the same read without them, in one run.

One ledger of CASES cases of about 20 events each; two apps over it, served by uvicorn on
loopback: `recorded` (the app as served: the bearer token checked against the token store, the
role and purpose against the route's rule, the rate limit, and the access record appended to
the access log before the response leaves) and `bare` (the same app with the authorization
step overridden by one that does nothing: no check, no record). Reads alternate between the
two, one request at a time, over random cases, for the case state and for its history; the
figures are each read's median and p99, and the ratio of reads per second recorded/bare
(goal: at least 0.7); then CLIENTS clients read at once from each in turn.
Usage: python benchmarks/access.py [READS] [sqlite|kafka] [CASES]   (default 2000 sqlite 200)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from _common import events, machine, register

from ledger.settings import Settings
from sgl.api import create_app
from sgl.authorize import Authorize
from sgl.bootstrap import Container, bootstrap
from sgl.identity import PURPOSE_HEADER
from sgl.logs import configure_logging
from sgl.tokens import TokenStore
from tests.conftest import delete_topics, free_port


def recorded(container: Container) -> Any:
    """The app as served: every request authorized (the bearer token verified against the
    token store, the role and purpose checked against the route's rule, the rate limit
    taken) and every case read's access record appended before it is answered."""
    return create_app(container, run_consumer=False)


def bare(container: Container) -> Any:
    """The same app without its access checks: the authorization step does nothing, so no
    rule is set and the access recorder records nothing."""
    app = create_app(container, run_consumer=False)
    for dependency in app.router.dependencies:
        if isinstance(dependency.dependency, Authorize):
            app.dependency_overrides[dependency.dependency] = lambda: None
    return app


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, in a thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def settings_for(backend: str) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings.from_env(
        {},
        backend=backend,
        data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")),
        topic=f"sgl.bench.{run}",
        dead_letter_topic=f"sgl.bench.{run}.dlq",
        alerts_topic=f"sgl.bench.{run}.a",
        checkpoints_topic=f"sgl.bench.{run}.k",
        access_topic=f"sgl.bench.{run}.access",
        access_checkpoints_topic=f"sgl.bench.{run}.access.k",
        notes_topic=f"sgl.bench.{run}.notes",
        alerter="off",
        log_level="warning",
        # One token reads as fast as it can here: the limit is not what is measured.
        rate_limit=1_000_000.0,
        rate_burst=1_000_000,
    )


def main() -> None:
    reads = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    cases = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    settings = settings_for(backend)
    configure_logging(settings)
    container = bootstrap(settings)
    try:
        register(container)
        batch = events(cases * 20, cases)
        for i, event in enumerate(batch):
            moment = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
            event["occurred_at"] = event["recorded_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for start in range(0, len(batch), 1000):
            container.ledger.submit(batch[start : start + 1000])
        container.runner().run_until_caught_up(timeout=600)
        case_ids = sorted({e["case_id"] for e in batch})
        expires = datetime.now(UTC) + timedelta(days=1)
        token = TokenStore(settings.tokens_db).create("bench-inquiry", "inquiry", expires).token
        headers = {"Authorization": f"Bearer {token}", PURPOSE_HEADER: "practice-review"}
        print(f"machine: {machine()}; backend {backend}; {len(batch):,} events, {cases} cases")
        for route in ("", "/history"):
            measure(container, case_ids, route, reads, headers)
        concurrent(container, case_ids, reads, headers)
    finally:
        container.close()
        if backend == "kafka":
            delete_topics(
                settings.kafka_bootstrap,
                [
                    settings.topic,
                    settings.dead_letter_topic,
                    settings.alerts_topic,
                    settings.checkpoints_topic,
                    settings.access_topic,
                    settings.access_checkpoints_topic,
                    settings.notes_topic,
                ],
            )


def measure(
    container: Container, case_ids: list[str], route: str, reads: int, headers: dict[str, str]
) -> None:
    """Alternate the same reads between the recorded app and the bare one; print both."""
    rng = random.Random(17)
    times: dict[str, list[float]] = {"recorded": [], "bare": []}
    before = sum(container.access_log.end_offsets().values())
    with (
        served(recorded(container)) as recorded_url,
        served(bare(container)) as bare_url,
        httpx.Client(headers=headers) as http,
    ):
        urls = {"recorded": recorded_url, "bare": bare_url}
        for url in urls.values():  # warm each server's connection and caches
            for case_id in case_ids[:20]:
                http.get(f"{url}/v1/cases/{case_id}{route}").raise_for_status()
        for _ in range(reads):
            case_id = rng.choice(case_ids)
            order = ["recorded", "bare"] if rng.random() < 0.5 else ["bare", "recorded"]
            for name in order:
                began = time.perf_counter()
                http.get(f"{urls[name]}/v1/cases/{case_id}{route}").raise_for_status()
                times[name].append((time.perf_counter() - began) * 1000)
    appended = sum(container.access_log.end_offsets().values()) - before
    assert appended == reads + 20, f"{appended} access records for {reads + 20} recorded reads"
    what = f"GET /v1/cases/{{case_id}}{route}"
    for name, values in times.items():
        print(
            f"{what:<34} {name:<9} p50 {statistics.median(values):6.2f} ms  "
            f"p99 {percentile(values, 0.99):6.2f} ms  mean {statistics.fmean(values):6.2f} ms"
        )
    ratio = statistics.fmean(times["bare"]) / statistics.fmean(times["recorded"])
    print(f"{what:<34} reads/s recorded / bare: {ratio:.2f} (goal >= 0.7)")


CLIENTS = 8


def concurrent(
    container: Container, case_ids: list[str], reads: int, headers: dict[str, str]
) -> None:
    """READS case reads by CLIENTS clients at once against each app in turn (twice, in both
    orders); print each app's reads per second and their ratio."""
    done: dict[str, list[float]] = {"recorded": [], "bare": []}
    with (
        served(recorded(container)) as recorded_url,
        served(bare(container)) as bare_url,
    ):
        urls = {"recorded": recorded_url, "bare": bare_url}
        for name in ["recorded", "bare", "bare", "recorded"]:
            done[name].append(burst(urls[name], case_ids, reads, headers))
    rates = {name: statistics.fmean(values) for name, values in done.items()}
    for name, value in rates.items():
        print(f"GET /v1/cases/{{case_id}}, {CLIENTS} clients   {name:<9} {value:7.0f} reads/s")
    ratio = rates["recorded"] / rates["bare"]
    print(f"GET /v1/cases/{{case_id}}, {CLIENTS} clients   reads/s recorded / bare: {ratio:.2f}")


def burst(url: str, case_ids: list[str], reads: int, headers: dict[str, str]) -> float:
    """Reads per second of `reads` case reads sent by CLIENTS threads at once."""
    share = reads // CLIENTS

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(headers=headers) as http:
            for _ in range(share):
                http.get(f"{url}/v1/cases/{rng.choice(case_ids)}").raise_for_status()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return share * CLIENTS / (time.perf_counter() - began)


if __name__ == "__main__":
    main()
