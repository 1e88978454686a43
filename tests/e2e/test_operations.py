"""Operations through a live stack started with the real CLI.

JSON logs with run and request ids from the API to the worker, access logs, HTTP metrics summed over uvicorn
workers, and the worker's own metrics endpoint.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client import ClrClient, Event
from dispatch.prometheus import WORKER_SCRATCH_PREFIX
from tests.e2e.conftest import Service, free_port, service_env, wait_for_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
RANGE_TEST: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "batch_size": 16,
    "num_iter": 200,
}
SHORT_EPOCHS: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "fashion_mnist", "train_samples": 4800},  # validated on its 10000 test images
    "schedule": {"policy": "constant"},
    "batch_size": 32,
    "epochs": 2,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, own_database: Any, redis_url: str) -> Iterator[Service]:
    """`clr-service api --workers 2 --access-log` (with its relay) and `clr-service worker`, logging JSON."""
    home = tmp_path_factory.mktemp("operations")
    metrics_port = free_port()
    env = service_env(
        home,
        own_database("postgres"),
        redis_url,
        CLR_LOG_FORMAT="json",
        CLR_WORKER_METRICS_PORT=str(metrics_port),
        CLR_WORKER_METRICS_HOST="127.0.0.1",
    )
    service = Service(env=env, home=home)
    port = free_port()
    service.base_url = f"http://127.0.0.1:{port}"
    try:
        api = [sys.executable, "-m", "cli", "api", "--port", str(port), "--workers", "2"]
        service.processes.append(service._spawn([*api, "--log-level", "info", "--access-log"], "api"))
        worker = [sys.executable, "-m", "cli", "worker", "--queues", env["CLR_QUEUE"], "--hostname", "ops@%h"]
        service.processes.append(service._spawn(worker, "worker"))
        wait_until(lambda: _answers(f"{service.base_url}/healthz"), timeout=90, what="the API to start")
        wait_until(
            lambda: _answers(f"http://127.0.0.1:{metrics_port}/metrics"), timeout=90, what="worker metrics"
        )
        service.key = service.create_key("operations")
        service.env["METRICS_URL"] = f"http://127.0.0.1:{metrics_port}/metrics"
        yield service
    finally:
        service.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a log from its first JSON line on: each must be one JSON object.

    Before it, only what Celery warns before its logging is set up (running as root, as tests here do).
    """
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("{")), len(lines))
    assert first == 0 or "SecurityWarning" in "\n".join(lines[:first]), lines[:first]
    return [json.loads(line) for line in lines[first:]]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def finished(stack: Service) -> dict[str, Any]:
    """A range test submitted with an X-Request-ID of the caller's, followed until it succeeded."""
    with stack.client() as http:
        answer = http.post("/lr-find", json=RANGE_TEST, headers={"X-Request-ID": "platform-req-42"})
        assert answer.status_code == 202, answer.text
        run: dict[str, Any] = wait_for_status(http, answer.json()["id"], {"succeeded", "failed"})
    assert run["status"] == "succeeded", run
    assert answer.headers["X-Request-ID"] == "platform-req-42"
    return run


def test_the_request_id_reaches_the_workers_json_log_lines_of_the_run(
    stack: Service, finished: dict[str, Any]
) -> None:
    def worker_lines() -> list[dict[str, Any]]:
        return [
            line for line in json_lines(stack.home / "worker.log") if line.get("run_id") == finished["id"]
        ]

    lines = wait_until(
        lambda: (found := worker_lines()) and any("ended" in line["message"] for line in found) and found,
        timeout=30,
        what="the worker's log lines of the run",
    )

    assert {line["request_id"] for line in lines} == {"platform-req-42"}
    assert {line["process"] for line in lines} == {"worker"}
    messages = [line["message"] for line in lines]
    assert f"run {finished['id']} ended succeeded" in messages


def test_api_and_relay_log_json_with_an_access_line_per_request_carrying_its_id(
    stack: Service, finished: dict[str, Any]
) -> None:
    with stack.client() as http:
        unnamed = http.get("/healthz")
    generated = unnamed.headers["X-Request-ID"]

    def access(request_id: str) -> list[dict[str, Any]]:
        lines = json_lines(stack.home / "api.log")
        return [
            line
            for line in lines
            if line["logger"] == "uvicorn.access" and line.get("request_id") == request_id
        ]

    submitted = wait_until(lambda: access("platform-req-42"), timeout=10, what="the access line")
    health = wait_until(lambda: access(generated), timeout=10, what="the access line of /healthz")
    processes = {line["process"] for line in json_lines(stack.home / "api.log")}

    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert '"POST /lr-find HTTP/1.1" 202' in submitted[0]["message"]
    assert '"GET /healthz HTTP/1.1" 200' in health[0]["message"]
    assert processes == {"api", "relay"}


def test_http_metrics_count_every_request_whichever_uvicorn_worker_answered(stack: Service) -> None:
    def count(text: str) -> float:
        key = ("clr_http_requests_total", (("method", "GET"), ("route", "/readyz"), ("status", "200")))
        return samples(text).get(key, 0.0)

    with httpx.Client(base_url=stack.base_url, timeout=10) as http:
        before = count(http.get("/metrics").text)
        for _ in range(30):  # new connections: the kernel spreads them over both processes
            assert httpx.get(f"{stack.base_url}/readyz", timeout=10).status_code == 200
        scrapes = [count(httpx.get(f"{stack.base_url}/metrics", timeout=10).text) for _ in range(6)]
        pids = {
            line["pid"] for line in json_lines(stack.home / "api.log") if line["logger"] == "uvicorn.access"
        }

    assert len(pids) == 2, "both uvicorn workers answered"
    assert scrapes == [before + 30] * 6


@pytest.fixture(scope="module")
def short_epochs(stack: Service) -> tuple[dict[str, Any], list[Event]]:
    """A training run of epochs shorter than clr's read-back chunk, followed through its event stream."""
    with ClrClient(stack.base_url, stack.key) as client:
        run = client.train(**SHORT_EPOCHS)
        events = list(client.events(run.id))
    with stack.client() as http:
        return http.get(f"/runs/{run.id}").json(), events


def test_a_run_of_short_epochs_streams_its_progress_at_each_epochs_end(
    short_epochs: tuple[dict[str, Any], list[Event]],
) -> None:
    run, events = short_epochs
    total, epochs = run["progress"]["total_steps"], SHORT_EPOCHS["epochs"]
    per_epoch = total // epochs
    assert run["status"] == "succeeded"
    assert per_epoch * epochs == total
    assert per_epoch < 256  # shorter than a chunk of clr's read-back
    progress = [
        event.data if event.event == "progress" else event.data["progress"]
        for event in events
        if event.event in ("progress", "status")
    ]
    assert all(event.data["total_steps"] == total for event in events if event.event == "progress")
    ends = {(p["step"], p["epoch"]) for p in progress}
    assert {((epoch + 1) * per_epoch, epoch) for epoch in range(epochs)} <= ends, progress


def test_the_worker_serves_step_time_samples_and_build_info(
    stack: Service, finished: dict[str, Any], short_epochs: tuple[dict[str, Any], list[Event]]
) -> None:
    found = samples(httpx.get(stack.env["METRICS_URL"], timeout=10).text)

    for kind, run, batch_size in (
        ("lr_find", finished, RANGE_TEST["batch_size"]),
        ("train", short_epochs[0], SHORT_EPOCHS["batch_size"]),
    ):
        steps = found[("clr_worker_step_seconds_count", (("kind", kind),))]
        seconds = found[("clr_worker_step_seconds_sum", (("kind", kind),))]
        processed = found[("clr_worker_samples_total", (("kind", kind),))]
        assert steps == run["progress"]["step"], kind  # every step timed: the clock starts before the first
        assert seconds > 0
        assert processed == steps * batch_size
    assert found[("clr_worker_samples_per_second", (("slot", "0"),))] > 0
    assert any(name == "clr_build_info" for name, _ in found)
    assert not any(name == "clr_worker_gpu_memory_bytes" for name, _ in found)  # a CPU worker


def test_a_stopped_worker_leaves_no_metrics_directory_behind(stack: Service, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    def made() -> list[Path]:
        return [p for p in scratch.iterdir() if p.name.startswith(WORKER_SCRATCH_PREFIX)]

    port = free_port()
    env = {**stack.env, "TMPDIR": str(scratch), "CLR_WORKER_METRICS_PORT": str(port)}
    service = Service(env=env, home=tmp_path)
    command = [sys.executable, "-m", "cli", "worker", "--queues", env["CLR_QUEUE"]]
    worker = service._spawn([*command, "--hostname", "scratch@%h"], "worker")
    service.processes.append(worker)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/metrics"), timeout=90, what="worker metrics")
        assert len(made()) == 1
        os.killpg(worker.pid, signal.SIGTERM)  # Celery's warm shutdown, given all the time it takes
        assert worker.wait(timeout=90) == 0
    finally:
        service.stop()

    assert made() == []
