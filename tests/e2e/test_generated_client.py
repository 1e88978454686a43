"""A client generated from the live OpenAPI document by openapi-python-client drives a real range test."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Service, wait_until

pytestmark = pytest.mark.e2e

# The generator writes binary bodies only for application/octet-stream: it is told which types are binary.
CONFIG = """
post_hooks: []
content_type_overrides:
  application/x-npy: application/octet-stream
  image/png: application/octet-stream
  image/svg+xml: application/octet-stream
"""


@pytest.fixture
def generated(service: Service, tmp_path: Path) -> Iterator[ModuleType]:
    """The package `clr_client`, generated into a temporary folder from the service's /openapi.json."""
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{service.base_url}/openapi.json", timeout=30).content)
    config = tmp_path / "config.yml"
    config.write_text(CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    command = [generator, "generate", "--path", document, "--config", config, "--meta", "none"]
    done = subprocess.run(
        [*map(str, command), "--output-path", str(tmp_path / "clr_client")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("clr_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == "clr_client"]:
            del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_generated_client_queues_a_range_test_reads_its_typed_result_curve_and_problems(
    service: Service, generated: ModuleType
) -> None:
    models = module(generated, "models")
    jobs, runs = module(generated, "api.jobs"), module(generated, "api.runs")
    create_lr_find, get_run = module(jobs, "create_lr_find"), module(runs, "get_run")
    get_run_curves, cancel_run = module(runs, "get_run_curves"), module(runs, "cancel_run")
    body = models.LRFindCreate(
        model=models.VanillaCnn(name="vanilla_cnn"),
        dataset=models.Digits(name="digits"),
        optimizer=models.OptimizerSpec(name=models.OptimizerSpecName.SGD_MOMENTUM),
        batch_size=16,
        num_iter=40,
        end_lr=1.0,
        tags=["generated-client"],
    )

    with generated.AuthenticatedClient(base_url=service.base_url, token=service.key) as client:
        accepted = create_lr_find.sync_detailed(client=client, body=body)
        assert accepted.status_code == 202, accepted.content
        queued = accepted.parsed
        assert isinstance(queued, models.RunOut)
        assert accepted.headers["location"] == f"/runs/{queued.id}"
        assert queued.kind == models.RunKind.LR_FIND

        def ended() -> Any:
            run = get_run.sync(client=client, run_id=queued.id)
            return run if run.is_terminal else None

        run = wait_until(ended, timeout=180, what="the range test to end", interval=0.5)
        assert run.status == models.RunStatus.SUCCEEDED, run.error
        assert isinstance(run.result, models.RangeTestSummary)
        assert run.result.num_points == 40
        assert run.result.stop_reason == models.RangeTestSummaryStopReason.COMPLETED
        assert isinstance(run.request, models.LRFindCreate)
        assert run.request.num_iter == 40

        curve = get_run_curves.sync(client=client, run_id=run.id, max_points=10)
        assert isinstance(curve, models.RangeCurves)
        assert curve.points == len(curve.lr) <= 10
        assert curve.step[0] == 0
        assert curve.step[-1] == 39

        refused = cancel_run.sync(client=client, run_id=run.id)
        assert isinstance(refused, models.Problem)
        assert refused.code == models.ProblemCode.RUN_TERMINAL
        missing = get_run.sync(client=client, run_id="0" * 32)
        assert isinstance(missing, models.Problem)
        assert missing.code == models.ProblemCode.NOT_FOUND
