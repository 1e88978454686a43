"""docker-compose.yml and the Dockerfile, checked structurally (no Docker engine on these machines)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from cli.main import app
from store.settings import Settings
from tests.deploy.conftest import build_stage_copies

ROOT = Path(__file__).resolve().parents[2]
CLR_SERVICES = ("migrate", "api", "worker", "flower")
LONG_RUNNING = ("postgres", "redis", "api", "worker", "flower")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def seconds(duration: str) -> float:
    """A compose duration such as 90s, 1m30s or 2m."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert duration, duration
    assert parts is not None, duration
    return 60 * float(parts[1] or 0) + float(parts[2] or 0)


def test_compose_has_the_production_services() -> None:
    assert set(compose()["services"]) >= {"postgres", "redis", *CLR_SERVICES}


def test_every_clr_service_runs_one_image_that_one_service_builds() -> None:
    services = compose()["services"]
    images = {services[name]["image"] for name in CLR_SERVICES}
    assert len(images) == 1
    assert [name for name, service in services.items() if "build" in service] == ["migrate"]


def test_every_command_names_an_entry_point_that_exists() -> None:
    subcommands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for name in CLR_SERVICES:
        command = compose()["services"][name]["command"]
        if command[:2] == ["sh", "-c"]:
            command = shlex.split(command[2].rsplit("exec ", 1)[1])
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


def test_migrations_run_once_before_the_api_and_workers_start() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["clr-service", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_api_is_healthy_when_ready_and_long_running_services_restart() -> None:
    services = compose()["services"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert all(services[name]["restart"] == "unless-stopped" for name in LONG_RUNNING)
    # the image's /healthz check means nothing for processes that serve no HTTP
    assert all(services[name]["healthcheck"] == {"disable": True} for name in ("migrate", "worker", "flower"))


def test_workers_get_more_time_to_stop_than_their_jobs_take_to_drain() -> None:
    worker = compose()["services"]["worker"]
    drain = float(worker["environment"].get("CLR_DRAIN_TIMEOUT", Settings().drain_timeout))
    assert seconds(worker["stop_grace_period"]) >= drain + 15  # the worker exits after its jobs drained


def merged(base: Any, override: Any) -> Any:
    """`override` laid over `base` as `docker compose -f base -f override` merges mappings."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    return {key: merged(base[key], value) if key in base else value for key, value in override.items()} | {
        key: value for key, value in base.items() if key not in override
    }


def test_the_base_stack_reserves_no_gpu_so_it_starts_without_the_nvidia_runtime() -> None:
    for name, service in compose()["services"].items():
        assert "devices" not in service.get("deploy", {}).get("resources", {}).get("reservations", {}), name
        assert "runtime" not in service, name


def test_the_gpu_override_gives_the_worker_every_gpu_and_a_pool_process_for_each() -> None:
    override = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())
    worker = merged(compose(), override)["services"]["worker"]

    assert set(override["services"]) == {"worker"}
    (devices,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert (devices["driver"], devices["count"], devices["capabilities"]) == ("nvidia", "all", ["gpu"])
    command = worker["command"]
    assert command[command.index("--queues") + 1] == worker["environment"]["CLR_QUEUE"]
    assert command[command.index("--gpus") + 1] == "all"
    documented = "docker compose -f docker-compose.yml -f docker-compose.gpu.yml up -d"
    assert documented in (ROOT / "README.md").read_text()


def test_flower_runs_only_when_asked_for_and_refuses_to_start_without_credentials() -> None:
    flower = compose()["services"]["flower"]
    script = flower["command"][2].replace("$$", "$")  # as compose hands it to sh

    refused = subprocess.run(["sh", "-c", script], env={}, capture_output=True, text=True, timeout=30)

    assert flower["profiles"] == ["monitoring"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    assert refused.returncode == 1
    assert "FLOWER_BASIC_AUTH" in refused.stderr


def test_the_documented_first_key_command_runs_inside_the_stack() -> None:
    documented = "docker compose exec api clr-service keys create --owner"
    assert documented in (ROOT / "docker-compose.yml").read_text()
    assert documented in (ROOT / "README.md").read_text()
    assert "create" in get_command(app).commands["keys"].commands  # type: ignore[attr-defined]


def test_the_dockerfile_builds_the_wheel_then_installs_only_it_in_a_slim_non_root_stage() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(stages) == 2
    runtime = lines[stages[1] :]
    assert "slim" in runtime[0]
    assert [line for line in runtime if line.startswith("COPY")] == ["COPY --from=build /dist /dist"]
    assert any(line.startswith("RUN pip install /dist/*.whl") for line in runtime)
    user = next(line.split()[1] for line in runtime if line.startswith("USER "))
    assert user not in {"root", "0"}
    healthcheck = " ".join(
        runtime[next(i for i, line in enumerate(runtime) if line.startswith("HEALTHCHECK")) :]
    )
    assert "/healthz" in healthcheck


def test_the_build_stage_copies_every_package_the_project_ships() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {source for sources, _ in build_stage_copies() for source in sources}
    assert packages <= copied
    assert {"pyproject.toml", "README.md"} <= copied
