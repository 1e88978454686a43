"""One delivery of a run, executed in-process against a real database (the Celery path is in tests/e2e)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy.orm import Session, sessionmaker

from clr.plugins import ModelInput, model_plugins
from store import runs, series
from store.db import transaction
from store.jobspec import adapter, request_of
from store.models import RunKind, RunStatus
from store.settings import Settings
from worker.execute import execute
from worker.recorder import Recorder, Superseded


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, data_roots=[tmp_path], heartbeat_interval=0.2)


def queue(factory: sessionmaker[Session], kind: RunKind, body: dict[str, Any]) -> str:
    request = request_of(adapter(kind).validate_python(body))
    with transaction(factory) as session:
        return runs.create_run(session=session, owner="o", kind=kind, request=request, max_attempts=2).id


def load(factory: sessionmaker[Session], run_id: str) -> Any:
    with factory() as session:
        return runs.get_run(session=session, run_id=run_id)


DIGITS = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "device": "cpu"}


def failed_with(run_id: str, factory: sessionmaker[Session], settings: Settings) -> dict[str, Any]:
    """Execute the run, which must fail; its stored problem."""
    assert execute(run_id, factory=factory, settings=settings, worker="w") == RunStatus.FAILED
    error: dict[str, Any] = load(factory, run_id).error
    return error


def test_a_second_delivery_of_the_same_run_does_nothing(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    run_id = queue(session_factory, RunKind.LR_FIND, {**DIGITS, "num_iter": 30})
    assert execute(run_id, factory=session_factory, settings=settings, worker="w1") == RunStatus.SUCCEEDED
    assert execute(run_id, factory=session_factory, settings=settings, worker="w2") is None
    run = load(session_factory, run_id)
    assert (run.attempt, run.worker) == (1, "w1")
    with session_factory() as session:
        assert series.read_series(session=session, run_id=run_id, series="range")["step"].size == 30


def test_a_run_cancelled_while_queued_never_starts(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    run_id = queue(session_factory, RunKind.LR_FIND, {**DIGITS, "num_iter": 30})
    with transaction(session_factory) as session:
        runs.request_cancel(session=session, run_id=run_id)
    assert execute(run_id, factory=session_factory, settings=settings, worker="w") is None
    assert load(session_factory, run_id).status == RunStatus.CANCELLED


def test_a_missing_dataset_fails_the_run_with_a_problem_saying_what_to_fix(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    body = {**DIGITS, "dataset": {"name": "mnist", "path": "nowhere"}, "epochs": 1}
    run_id = queue(session_factory, RunKind.TRAIN, body)
    error = failed_with(run_id, session_factory, settings)
    assert error["code"] == "dataset_missing"
    assert "nowhere" in error["detail"]
    assert "CLR_DATA_ROOTS" in error["detail"]


def test_training_records_every_batch_and_epoch_and_saves_the_weights(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    body = {**DIGITS, "epochs": 2, "batch_size": 64, "optimizer": {"name": "adam", "lr": 0.003}}
    run_id = queue(session_factory, RunKind.TRAIN, body)
    assert execute(run_id, factory=session_factory, settings=settings, worker="w") == RunStatus.SUCCEEDED
    with session_factory() as session:
        steps = series.read_series(session=session, run_id=run_id, series="batch")["step"]
        epochs = series.read_epochs(session=session, run_id=run_id)
    run = load(session_factory, run_id)
    assert steps.tolist() == list(range(run.progress_total))
    assert epochs["epoch"] == [0, 1]
    assert run.result["epochs_completed"] == 2
    assert (settings.resolved_artifact_dir / run_id / "model.pt").is_file()


def test_a_run_naming_a_model_this_worker_lacks_fails_with_plugin_missing(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    """The worker re-checks the stored request: an image without the plugin fails it with its own code."""
    request = request_of(adapter(RunKind.LR_FIND).validate_python({**DIGITS, "num_iter": 30}))
    request["model"] = {"name": "acme_unet", "params": {}}
    with transaction(session_factory) as session:
        run_id = runs.create_run(
            session=session, owner="o", kind=RunKind.LR_FIND, request=request, max_attempts=2
        ).id
    error = failed_with(run_id, session_factory, settings)
    assert error["code"] == "plugin_missing"
    assert "acme_unet" in error["detail"]


def test_a_run_naming_a_dataset_this_worker_lacks_fails_with_plugin_missing(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    request = request_of(adapter(RunKind.LR_FIND).validate_python({**DIGITS, "num_iter": 30}))
    request["dataset"] = {**request["dataset"], "name": "acme_tiles"}
    with transaction(session_factory) as session:
        run_id = runs.create_run(
            session=session, owner="o", kind=RunKind.LR_FIND, request=request, max_attempts=2
        ).id
    error = failed_with(run_id, session_factory, settings)
    assert error["code"] == "plugin_missing"
    assert "installed dataset" in error["detail"]
    assert "acme_tiles" in error["detail"]


def test_a_dataset_path_leading_out_of_the_data_roots_after_submit_is_refused_where_it_is_read(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / "secret-class").mkdir(parents=True)
    body = {**DIGITS, "dataset": {"name": "imagefolder", "path": "photos"}, "num_iter": 5}
    run_id = queue(session_factory, RunKind.LR_FIND, body)
    (tmp_path / "photos").symlink_to(outside)  # made after the API checked the path
    error = failed_with(run_id, session_factory, settings)
    assert error["code"] == "dataset_path_outside_roots"
    assert "secret-class" not in error["detail"]


def record_and_flush(recorder: Recorder, columns: dict[str, list[float]]) -> None:
    with recorder:
        recorder.add_points("batch", columns)
        recorder.flush()


def test_a_recorder_of_a_superseded_attempt_writes_no_point_and_stops_the_job(
    session_factory: sessionmaker[Session],
) -> None:
    run_id = queue(session_factory, RunKind.TRAIN, {**DIGITS, "epochs": 1})
    with transaction(session_factory) as session:
        assert runs.start_run(session=session, run_id=run_id, worker="w1")
        runs.transition(session=session, run_id=run_id, to=RunStatus.LOST)
        runs.transition(session=session, run_id=run_id, to=RunStatus.QUEUED)
        assert runs.start_run(session=session, run_id=run_id, worker="w2")
    columns = {"step": [0.0, 1.0], "epoch": [0.0, 0.0], "lr": [0.1, 0.1], "loss": [1.0, 0.9]}

    stale = Recorder(session_factory, run_id, attempt=1, poll_interval=0.05)

    with pytest.raises(Superseded):
        record_and_flush(stale, columns)

    assert stale.should_stop()

    with session_factory() as session:
        assert series.read_series(session=session, run_id=run_id, series="batch")["step"].size == 0
    assert load(session_factory, run_id).status == RunStatus.RUNNING


def test_missing_pretrained_weights_fail_the_run_with_weights_missing(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, data_roots=[tmp_path], torch_home=tmp_path / "empty-hub")
    body = {**DIGITS, "model": {"name": "resnet18", "params": {"pretrained": True}}, "num_iter": 5}
    run_id = queue(session_factory, RunKind.LR_FIND, body)
    error = failed_with(run_id, session_factory, settings)
    assert error["code"] == "weights_missing"
    assert "resnet18-f37072fd.pth" in error["detail"]
    assert "CLR_TORCH_HOME" in error["detail"]


def test_cuda_out_of_memory_in_a_job_fails_it_with_its_code_and_empties_the_cuda_cache(
    session_factory: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def out_of_memory(params: Any, given: ModelInput) -> Any:
        calls.append("build")  # as on a GPU node, where the job initialised CUDA before running out
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\nfull report")

    installed = model_plugins()["vanilla_cnn"]
    plugin = dataclasses.replace(installed.plugin, build=out_of_memory)
    monkeypatch.setitem(model_plugins(), "vanilla_cnn", dataclasses.replace(installed, plugin=plugin))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: "build" in calls)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    run_id = queue(session_factory, RunKind.TRAIN, {**DIGITS, "epochs": 1})

    assert execute(run_id, factory=session_factory, settings=settings, worker="w") == RunStatus.FAILED

    error = load(session_factory, run_id).error
    assert error["code"] == "cuda_out_of_memory"
    assert error["detail"].startswith("CUDA out of memory. Tried to allocate 20.00 GiB. Lower batch_size")
    assert calls == ["build", "empty_cache"]
