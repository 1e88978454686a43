"""Service settings, read from the environment (prefix CLR_) through one cached getter."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseSettings):
    """Everything the API, the worker and the CLI read from the environment."""

    model_config = SettingsConfigDict(env_prefix="CLR_", extra="ignore")

    home: Path = Path("var")
    database_url: str | None = None
    broker_url: str | None = None
    data_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    torch_home: Path | None = None
    artifact_dir: Path | None = None
    queue: str = "gpu"
    # Bytes an image folder may take decoded (uint8) to be cached under $CLR_HOME/cache and held in memory
    # (on the training device); a larger folder streams from disk through DataLoader worker processes.
    data_memory_budget: int | None = Field(default=None, ge=0)  # None: clr's DEFAULT_MEMORY_BUDGET

    # Limits enforced at submit time.
    max_epochs: int = 500
    max_num_iter: int = 200_000
    max_batch_size: int = 4096
    max_body_bytes: int = 64 * 1024
    max_queued_per_owner: int = 1000
    max_page_size: int = 200
    max_comparison_epochs: int = 2000  # children x epochs of one comparison
    max_streams_per_owner: int = Field(default=8, ge=1)  # open event streams per owner and API process
    # Estimates of a job from its dataset's facts (clr.costs), each refused above its limit.
    max_data_bytes: int = Field(default=16 * 2**30, ge=0)  # the set held in memory (samples x C x H x W)
    max_batch_bytes: int = Field(default=2 * 2**30, ge=0)  # one float32 batch after resize
    max_total_steps: int = Field(default=10_000_000, ge=1)  # optimizer steps of one run
    max_stored_points: int = Field(default=10_000_000, ge=1)  # curve points one run stores

    # Each API process remembers a key's owner this long: a revoked key is refused within these seconds.
    key_cache_seconds: float = Field(default=5.0, ge=0)
    # Connections of each API process's asyncpg pool for what most requests do (PostgreSQL only).
    hot_pool_size: int = Field(default=4, ge=1)

    # The relay (`python -m dispatch.relay`, started by `api` and `serve`) sends committed runs to the broker.
    relay_interval: float = Field(default=0.05, gt=0)  # seconds between passes that found a partial batch
    relay_batch_size: int = Field(default=200, ge=1)

    # Job supervision: the API process sends runs no relay sent and reaps runs of silent workers.
    supervise: bool = True
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 60.0
    dispatch_timeout: float = 30.0
    redispatch_timeout: float = 600.0
    sweep_interval: float = 10.0
    max_attempts: int = 2
    job_soft_time_limit: int = 24 * 3600
    job_time_limit: int = 24 * 3600 + 600
    worker_torch_threads: int | None = None
    # Set by `clr-service worker --gpus`: the CUDA device (a CUDA_VISIBLE_DEVICES entry) each pool process
    # pins, by its index. Empty: no pinning (CPU, or a single process that sees every GPU).
    worker_gpus: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A worker told to stop (SIGTERM) lets its job reach the next batch and checkpoint; a pool process still
    # busy after this many seconds is killed and its run reaped as lost (compose: stop_grace_period above it).
    drain_timeout: float = Field(default=60.0, gt=0)

    # Webhooks: a run's callback_url gets its summary once it ends, signed with HMAC-SHA256 under this secret.
    webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = 8
    webhook_backoff: float = 5.0  # seconds before the 2nd attempt; doubles each time, at most an hour
    webhook_timeout: float = 5.0  # per connect, read or write
    webhook_deadline: float = Field(default=10.0, gt=0)  # for a whole delivery, however the receiver trickles
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)  # read of a receiver's answer, then cut
    webhook_concurrency: int = Field(default=16, ge=1)  # deliveries in flight per API process
    webhook_concurrency_per_owner: int = Field(default=4, ge=1)  # of which one owner's
    # Receivers in loopback, private, link-local, multicast or reserved ranges are refused unless allowed.
    webhook_allowed_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # When set, GET /metrics needs `Authorization: Bearer <this token>` (no API key opens it).
    metrics_token: SecretStr | None = None
    # A worker serves its Prometheus metrics (jobs' step time, samples, GPU memory) on this port; none: off.
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    worker_metrics_host: str = "0.0.0.0"

    # Logs of the API, worker and relay: `text` lines or `json` (one object a line, with run and request ids).
    log_format: Literal["text", "json"] = "text"
    log_level: LogLevel = "info"
    access_log: bool = False  # the API logs each request (method, path, status)

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", ":").split(":") if part]
        return value

    @field_validator("webhook_allowed_networks", "webhook_allowed_hosts", "worker_gpus", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.lower().rstrip(".") for host in value]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'clr.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.home / 'broker.db').resolve()}"

    @property
    def resolved_data_roots(self) -> list[Path]:
        roots = self.data_roots or [self.home / "data"]
        return [root.resolve() for root in roots]

    @property
    def resolved_artifact_dir(self) -> Path:
        return (self.artifact_dir or self.home / "artifacts").resolve()

    @property
    def resolved_cache_dir(self) -> Path:
        """Decoded image folders, kept across runs and named by their contents."""
        return (self.home / "cache" / "images").resolve()

    @property
    def visibility_timeout(self) -> int:
        """Above the longest job's hard limit, so a long job is never redelivered while it still runs."""
        return self.job_time_limit + 3600


@lru_cache
def get_settings() -> Settings:
    return Settings()
