"""The `clr-service` client commands as a script runs them: a real process against a live service.

Exit statuses, problems on stderr, the progress bar, `--json` output with cursors, comparisons.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest

from cli.exits import ExitCode
from clr.specs import OptimizerName, Policy
from store.models import RunKind, RunStatus
from store.settings import LogLevel
from tests.clr.test_folders import make_folder
from tests.e2e.conftest import ROOT, Service, free_port, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# The commands do not depend on the stack behind the API: one is enough.
ONE_STACK = pytest.mark.parametrize("service", ["sqlite-embedded"], indirect=True)
COMMANDS = [
    *("lr-find", "train", "runs", "show", "watch", "cancel", "delete", "curves", "plot"),
    *("compare", "comparisons", "comparison show", "comparison watch", "comparison cancel"),
    *("comparison delete", "api", "worker", "serve", "migrate", "relay", "keys create", "keys list"),
    "keys revoke",
]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m cli ARGS` in a fresh process, as a shell would run `clr-service ARGS`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLR_")}
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**base, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def cli_json(*args: str, env: dict[str, str]) -> Any:
    """The JSON a command printed with --json, once it succeeded."""
    done = cli(*args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def as_user(service: Service) -> dict[str, str]:
    return {"CLR_URL": service.base_url, "CLR_API_KEY": service.key}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_type_placeholders(command: str) -> None:
    shown = cli(*command.split(), "--help")

    assert shown.returncode == 0, shown.stderr
    assert not re.search(r"<(str|int|float|bool|path)>", shown.stdout), shown.stdout
    assert not re.search(r"^ +--[A-Z]", shown.stdout, re.MULTILINE), shown.stdout  # options keep their names


def test_help_and_checks_take_their_values_from_the_single_definitions() -> None:
    train = cli("train", "--help").stdout
    runs = cli("runs", "--help").stdout
    bad_level = cli("api", "--log-level", "verbose")

    assert ", ".join(get_args(OptimizerName)) in " ".join(train.split())
    assert ", ".join(get_args(Policy)) in " ".join(train.split())
    assert ", ".join(RunStatus) in " ".join(runs.split())
    assert " or ".join(RunKind) in runs
    assert bad_level.returncode == ExitCode.USAGE
    assert f"'verbose' is not one of {', '.join(get_args(LogLevel))}" in " ".join(bad_level.stderr.split())


def test_version_prints_the_installed_version() -> None:
    shown = cli("--version")

    assert (shown.returncode, shown.stdout.strip()) == (0, "clr-service 0.1.0")


def test_without_a_key_the_command_says_how_to_set_one() -> None:
    listed = cli("runs", env={"CLR_URL": "http://127.0.0.1:9"})

    assert listed.returncode == 2
    assert "no API key: set CLR_API_KEY or pass --key" in listed.stderr
    assert "Illegal header" not in listed.stderr


def test_an_unreachable_service_is_exit_status_4() -> None:
    listed = cli("runs", env={"CLR_URL": f"http://127.0.0.1:{free_port()}", "CLR_API_KEY": "clr_x"})

    assert listed.returncode == 4
    assert "cannot reach the service" in listed.stderr


@ONE_STACK
def test_a_failed_run_waited_for_exits_1_with_its_problem(service: Service) -> None:
    waited = cli("lr-find", "--dataset", "cifar10", "--wait", env=as_user(service))
    as_json = cli("lr-find", "--dataset", "cifar10", "--wait", "--json", env=as_user(service))

    assert waited.returncode == 1, waited.stderr
    assert "failed" in waited.stdout
    assert re.search(r"run [0-9a-f]{32} failed\n  dataset_missing: .+", waited.stderr), waited.stderr
    assert as_json.returncode == 1
    run = json.loads(as_json.stdout)
    assert (run["status"], run["error"]["code"]) == ("failed", "dataset_missing")


@ONE_STACK
def test_watching_a_failed_run_exits_1_with_its_problem(service: Service) -> None:
    run_id = cli_json("lr-find", "--dataset", "cifar10", env=as_user(service))["id"]

    watched = cli("watch", run_id, env=as_user(service))

    assert watched.returncode == ExitCode.FAILED, watched.stderr
    assert watched.stdout.startswith(f"{run_id}\tlr_find\tfailed")
    assert re.search(rf"run {run_id} failed\n  dataset_missing: .+", watched.stderr), watched.stderr


@ONE_STACK
def test_a_wait_limit_that_passes_exits_5_and_leaves_the_run_going(service: Service) -> None:
    env = as_user(service)
    waited = cli("lr-find", "--num-iter", "100000", "--wait", "--wait-limit", "1", env=env)
    run_id = waited.stderr.split()[1] if waited.stderr.startswith("run ") else ""
    still = cli_json("show", run_id, env=env) if run_id else {}
    cli("cancel", run_id, env=env)  # free the worker for the other tests

    assert waited.returncode == ExitCode.TIMEOUT, waited.stderr
    assert re.search(r"^run [0-9a-f]{32} still (queued|running) after 1.0 s", waited.stderr), waited.stderr
    assert f"follow it with `clr-service watch {run_id}`" in waited.stderr
    assert still["status"] in {"queued", "running"}


@ONE_STACK
def test_curves_prints_the_steps_as_a_table_or_json_and_plot_writes_png_and_svg(
    service: Service, tmp_path: Path
) -> None:
    env = as_user(service)
    run = cli_json("lr-find", "--num-iter", "20", "--wait", env=env)
    assert run["status"] == "succeeded", run["error"]

    table = cli("curves", run["id"], env=env)
    columns = cli_json("curves", run["id"], env=env)
    fewer = cli("curves", run["id"], "--max-points", "5", env=env)
    png = cli("plot", run["id"], "--out", str(tmp_path / "range.png"), env=env)
    svg = cli_json("plot", run["id"], "--out", str(tmp_path / "range.svg"), env=env)

    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header == "step\tlr\tloss\tsmoothed_loss"
    assert (columns["kind"], columns["run_id"], len(columns["step"])) == ("lr_find", run["id"], len(rows))
    assert 10 <= len(rows) <= 20
    steps = [int(row.split("\t")[0]) for row in rows]
    assert steps == columns["step"]
    assert [float(row.split("\t")[1]) for row in rows] == pytest.approx(columns["lr"], rel=1e-5)
    assert fewer.returncode == 0, fewer.stderr
    assert 2 <= len(fewer.stdout.splitlines()) - 1 <= 5
    assert (png.returncode, png.stdout) == (0, f"{tmp_path / 'range.png'}\n")
    assert (tmp_path / "range.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert svg == {"path": str(tmp_path / "range.svg")}
    assert b"<svg" in (tmp_path / "range.svg").read_bytes()[:500]


@ONE_STACK
def test_lr_find_takes_an_image_folder_model_params_a_seed_and_past_end_lr(service: Service) -> None:
    make_folder(service.home / "data" / "cli-colours", per_class=8)
    args = ["--dataset", "imagefolder", "--dataset-path", "cli-colours", "--batch-size", "8", "--seed", "3"]
    args += ["--model-param", "width=4", "--model-param", "dropout=0.1", "--past-end-lr", "--wait"]

    run = cli_json("lr-find", *args, env=as_user(service))
    bad = cli("lr-find", "--model-param", "width", env=as_user(service))

    assert run["status"] == "succeeded", run["error"]
    request = run["request"]
    assert request["model"]["params"] == {"width": 4, "dropout": 0.1}
    assert (request["dataset"]["path"], request["seed"], request["past_end_lr"]) == ("cli-colours", 3, True)
    assert run["result"]["data"]["train_samples"] + run["result"]["data"]["val_samples"] == 24
    assert bad.returncode == ExitCode.USAGE
    assert "'width' is not KEY=VALUE" in bad.stderr


@ONE_STACK
def test_watch_draws_steps_of_the_total_epoch_loss_accuracy_and_eta(service: Service) -> None:
    args = ["--epochs", "2", "--batch-size", "64", "--policy", "constant", "--name", "cli watch"]
    run_id = cli_json("train", *args, env=as_user(service))["id"]

    watched = cli("watch", run_id, env=as_user(service))

    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.startswith(f"{run_id}\ttrain\tsucceeded\t100%\tcli watch")
    bar = watched.stderr.strip().splitlines()[-1]
    steps = re.search(r"(\d+)/(\d+) steps", bar)
    assert steps, bar
    total = cli_json("show", run_id, env=as_user(service))["progress"]["total_steps"]
    assert (int(steps[1]), int(steps[2])) == (total, total)
    assert re.search(r"epoch 2/2 +loss [0-9.e-]+ +lr [0-9.e-]+ +val_acc [0-9.]+%", bar), bar
    assert "eta" in bar


@ONE_STACK
def test_a_cancelled_run_exits_3_from_watch_and_can_then_be_deleted(service: Service) -> None:
    env = as_user(service)
    queued = cli_json("lr-find", "--num-iter", "100000", env=env)
    with service.client() as http:
        wait_for_status(http, queued["id"], {"running"})
    busy = cli("delete", queued["id"], env=env)

    cancelled = cli("cancel", queued["id"], "--json", env=env)
    watched = cli("watch", queued["id"], "--json", env=env)
    deleted = cli("delete", queued["id"], "--json", env=env)
    gone = cli("show", queued["id"], env=env)

    assert busy.returncode == 4
    assert "409 run_active" in busy.stderr
    assert json.loads(cancelled.stdout)["status"] in {"cancelling", "cancelled"}
    assert watched.returncode == 3, watched.stderr
    assert json.loads(watched.stdout)["status"] == "cancelled"
    assert f"run {queued['id']} cancelled" in watched.stderr
    assert json.loads(deleted.stdout) == {"deleted": queued["id"]}
    assert gone.returncode == 4
    assert "404 not_found" in gone.stderr


@ONE_STACK
def test_runs_pages_through_the_next_cursor_and_show_reads_one(service: Service) -> None:
    env = as_user(service)
    made = [cli_json("lr-find", "--num-iter", "20", "--tag", "cli-pages", env=env)["id"] for _ in range(3)]
    seen: list[str] = []
    cursor: list[str] = []
    while True:
        page = cli_json("runs", "--tag", "cli-pages", "--limit", "2", *cursor, env=env)
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = ["--cursor", page["next_cursor"]]
    text = cli("runs", "--tag", "cli-pages", "--limit", "2", env=env)
    shown = cli("show", made[0], env=env)

    assert seen == made[::-1]
    assert len(text.stdout.splitlines()) == 2
    assert re.fullmatch(r"more: --cursor \S+\n", text.stderr)
    assert f"id         {made[0]}" in shown.stdout
    assert "tags       cli-pages" in shown.stdout


@ONE_STACK
def test_a_comparison_is_started_waited_for_listed_watched_and_deleted(
    service: Service, tmp_path: Path
) -> None:
    body: dict[str, Any] = {
        "model": {"name": "vanilla_cnn"},
        "dataset": {"name": "digits"},
        "batch_size": 64,
        "epochs": 1,
        "repeats": 1,
        "tags": ["cli-compare"],
        "variants": [
            {"name": "sgd", "optimizer": {"name": "sgd", "lr": 0.05}, "schedule": {"policy": "constant"}}
        ],
    }
    (tmp_path / "body.json").write_text(json.dumps(body))
    env = as_user(service)

    started = cli("compare", str(tmp_path / "body.json"), "--wait", "--json", env=env)
    assert started.returncode == 0, started.stderr
    comparison = json.loads(started.stdout)
    listed = cli_json("comparisons", "--tag", "cli-compare", env=env)
    watched = cli("comparison", "watch", comparison["id"], env=env)
    deleted = cli("comparison", "delete", comparison["id"], env=env)
    gone = cli("comparison", "show", comparison["id"], env=env)

    assert comparison["status"] == "succeeded"
    assert [item["id"] for item in listed["items"]] == [comparison["id"]]
    assert listed["next_cursor"] is None
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.startswith(f"{comparison['id']}\tsucceeded\t-\tcli-compare\t1 succeeded")
    assert re.search(r"1/1 runs", watched.stderr), watched.stderr
    assert (deleted.returncode, deleted.stdout) == (0, f"deleted {comparison['id']}\n")
    assert gone.returncode == 4


def test_the_readme_lists_every_exit_status() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| status | meaning |") :].split("\n\n")[0]

    assert [int(row) for row in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)] == [
        int(c) for c in ExitCode
    ]
