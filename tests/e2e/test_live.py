"""Live progress through a running service: the event stream, the Python client and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from client import ClrClient, ClrError, Event
from tests.e2e.conftest import Service

pytestmark = pytest.mark.e2e

ITERATIONS = 300
RANGE_TEST: dict[str, Any] = {
    "model": {"name": "vanilla_cnn"},
    "dataset": {"name": "digits"},
    "batch_size": 16,
    "end_lr": 1.0,
    "num_iter": ITERATIONS,
}


@pytest.fixture(scope="module")
def streamed(service: Service) -> tuple[str, list[Event]]:
    """A range test followed live through its event stream from before it starts until it ends."""
    with ClrClient(service.base_url, service.key) as client:
        run = client.lr_find(**RANGE_TEST)
        return run.id, list(client.events(run.id))


def test_the_stream_sends_every_point_once_in_order_and_ends_with_the_terminal_status(
    service: Service, streamed: tuple[str, list[Event]]
) -> None:
    run_id, events = streamed
    with ClrClient(service.base_url, service.key) as client:
        stored = client.curves(run_id)

    sent = [step for event in events if event.event == "points" for step in event.data["step"]]
    assert sent == stored["step"] == list(range(ITERATIONS))
    statuses = [event.data["status"] for event in events if event.event == "status"]
    assert statuses[-1] == "succeeded"
    progress = [event.data for event in events if event.event == "progress"]
    assert progress, "no progress event while the run ran"
    assert progress[-1]["total_steps"] == ITERATIONS
    assert [p["step"] for p in progress] == sorted({p["step"] for p in progress})
    assert len(statuses) == len(set(statuses))
    assert events[-1].event == "status"
    assert all(event.id for event in events)


def test_resuming_with_last_event_id_sends_only_the_later_events(
    service: Service, streamed: tuple[str, list[Event]]
) -> None:
    run_id, events = streamed
    running = next(event for event in events if event.event == "status" and event.data["status"] == "running")
    first_points = next(event for event in events if event.event == "points")
    with ClrClient(service.base_url, service.key) as client:
        after_start = list(client.events(run_id, last_event_id=running.id))
        after_points = list(client.events(run_id, last_event_id=first_points.id))

    # Resuming from an event gives exactly the points the first stream sent after it, nothing before.
    for resumed, mark in [(after_start, running), (after_points, first_points)]:
        later = events[events.index(mark) + 1 :]
        sent = [step for event in resumed if event.event == "points" for step in event.data["step"]]
        assert sent == [step for event in later if event.event == "points" for step in event.data["step"]]
        # A resumed stream reports the status the run has now, not the ones it passed through meanwhile.
        assert [event.data["status"] for event in resumed if event.event == "status"] == ["succeeded"]
        assert resumed[-1].event == "status"


def test_a_cancelled_runs_stream_ends_with_the_cancelled_status(service: Service) -> None:
    with ClrClient(service.base_url, service.key) as client:
        run = client.lr_find(**{**RANGE_TEST, "num_iter": 100_000})
        assert client.cancel(run.id).status in {"cancelling", "cancelled"}
        events = list(client.events(run.id))
        final = client.wait(run.id, timeout=60, interval=0.3)

    assert final.status == "cancelled"
    assert events[-1].event == "status"
    assert events[-1].data["status"] == "cancelled"


def test_the_client_raises_the_services_problem_for_an_unknown_run(service: Service) -> None:
    with ClrClient(service.base_url, service.key) as client, pytest.raises(ClrError) as raised:
        client.get_run("f" * 32)
    assert (raised.value.status, raised.value.code) == (404, "not_found")


def test_the_cli_runs_a_range_test_then_lists_watches_and_reads_it(service: Service, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CLR_URL": service.base_url, "CLR_API_KEY": service.key}
    args = ["lr-find", "--batch-size", "16", "--end-lr", "1", "--num-iter", "20", "--wait", "--json"]

    submitted = runner.invoke(app, args, env=env)
    assert submitted.exit_code == 0, submitted.output
    run = json.loads(submitted.stdout)
    assert run["status"] == "succeeded"

    listed = runner.invoke(app, ["runs", "--kind", "lr_find", "--json"], env=env)
    assert run["id"] in [item["id"] for item in json.loads(listed.stdout)["items"]]
    curves = runner.invoke(app, ["curves", run["id"], "--json"], env=env)
    assert json.loads(curves.stdout)["step"] == list(range(20))
    watched = runner.invoke(app, ["watch", run["id"]], env=env)
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.startswith(f"{run['id']}\tlr_find\tsucceeded\t100%")


def test_the_cli_trains_with_bounds_from_a_finished_range_test(
    service: Service, streamed: tuple[str, list[Event]]
) -> None:
    range_test_id, _ = streamed
    env = {"CLR_URL": service.base_url, "CLR_API_KEY": service.key}
    args = [
        "train",
        "--from-lr-find",
        range_test_id,
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--wait",
        "--json",
    ]

    answer = CliRunner().invoke(app, args, env=env)

    assert answer.exit_code == 0, answer.output
    run = json.loads(answer.stdout)
    assert (run["kind"], run["status"]) == ("train", "succeeded")
    schedule = run["request"]["schedule"]
    assert schedule["from_lr_find"] == range_test_id
    assert 0 < schedule["base_lr"] < schedule["max_lr"]


def test_the_cli_saves_a_runs_plot_as_png_and_the_client_reads_it_as_svg(
    service: Service, streamed: tuple[str, list[Event]], tmp_path: Path
) -> None:
    run_id, _ = streamed
    env = {"CLR_URL": service.base_url, "CLR_API_KEY": service.key}
    out = tmp_path / "range.png"

    answer = CliRunner().invoke(app, ["plot", run_id, "--out", str(out)], env=env)

    assert answer.exit_code == 0, answer.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with ClrClient(service.base_url, service.key) as client:
        assert b"<svg" in client.plot(run_id, "svg")[:1000]


def test_the_cli_reports_service_and_network_errors_with_exit_status_4(service: Service) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["runs"], env={"CLR_URL": service.base_url, "CLR_API_KEY": "not-a-key"})
    unreachable = runner.invoke(app, ["runs", "--url", "http://127.0.0.1:1", "--key", service.key])

    assert (refused.exit_code, unreachable.exit_code) == (4, 4)
    assert "401 unauthorized" in refused.stderr
    assert "cannot reach the service at http://127.0.0.1:1" in unreachable.stderr
