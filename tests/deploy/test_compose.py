"""The compose file and Dockerfile hold together: services, entry points and settings that exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from cli.main import app
from store.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_has_the_production_services() -> None:
    assert set(compose()["services"]) >= {"postgres", "redis", "migrate", "api", "worker", "flower"}


def test_every_command_names_an_entry_point_that_exists() -> None:
    subcommands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for name, service in compose()["services"].items():
        command = service.get("command")
        if not command or "image" in service:
            continue
        if command[0] == "clr-service":
            assert command[1] in subcommands, f"{name}: unknown subcommand {command[1]}"
        else:
            assert command[:2] == ["celery", "-A"], name
            module = command[2].split(":")[0]
            assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"


def test_every_clr_variable_is_a_known_setting() -> None:
    known = {f"CLR_{name.upper()}" for name in Settings.model_fields}
    for service in compose()["services"].values():
        for variable in service.get("environment", {}):
            if variable.startswith("CLR_"):
                assert variable in known, variable


def test_worker_reserves_a_gpu_and_consumes_the_gpu_queue_one_job_at_a_time() -> None:
    worker = compose()["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    command = worker["command"]
    assert command[command.index("--queues") + 1] == "gpu"
    assert command[command.index("--concurrency") + 1] == "1"


def test_migrations_run_before_the_api_and_workers_start() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["clr-service", "migrate"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("clr", "api", "worker", "store", "cli", "migrations"):
        assert f"COPY {package} {package}" in dockerfile
