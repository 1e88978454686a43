"""Generated requests against every endpoint of the ASGI app: whatever arrives, the answer is never a 5xx."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from celery import Celery
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from api.app import create_app
from dispatch.broker import make_celery
from store import keys
from store.db import make_engine, make_sessionmaker, transaction
from store.settings import Settings

QUEUE = f"fuzz-{uuid.uuid4().hex[:8]}"
LR_FIND: dict[str, Any] = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "batch_size": 16}
TRAIN: dict[str, Any] = {
    **LR_FIND,
    "epochs": 3,
    "schedule": {"policy": "triangular", "base_lr": 0.001, "max_lr": 0.01, "step_size_iter": 20},
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["vanilla_cnn", "digits", "cifar10", "imagefolder", "../..", "/etc", "constant", "exp"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
plausible = (
    st.integers(1, 64)
    | st.floats(1e-6, 1.0)
    | st.booleans()
    | st.sampled_from(
        ["cpu", "auto", "sgd", "adam", "exp", "linear", "triangular", "triangular2", "exp_range"]
    )
    | st.sampled_from(["one_cycle", "none", "bf16", "valley", "steepest", "resnet18", "shapes", "mnist"])
    | st.sampled_from(["test", "holdout"])
)
FIELDS = [
    "model", "dataset", "optimizer", "batch_size", "seed", "device", "callback_url", "epochs", "schedule",
    "start_lr", "end_lr", "num_iter", "step_mode", "smoothing", "suggestion", "amp", "channels_last",
    "past_end_lr", "lr_cap",
]  # fmt: skip
NESTED = {
    "model": ["name", "pretrained", "trainable", "dropout", "width"],
    "dataset": [
        "name",
        "path",
        "validation",
        "val_fraction",
        "train_samples",
        "resize",
        "params",
        "augment",
    ],
    "optimizer": ["name", "lr", "momentum", "betas", "eps", "weight_decay"],
    "schedule": [
        "policy",
        "base_lr",
        "max_lr",
        "step_size_iter",
        "step_size_epochs",
        "from_lr_find",
        "gamma",
    ],
}


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """Mostly a valid body with a few fields replaced, else any JSON value."""
    if draw(st.integers(0, 4)) == 0:
        return draw(values)
    body = json.loads(json.dumps(draw(st.sampled_from([LR_FIND, TRAIN]))))
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(FIELDS))
        if field in NESTED and isinstance(body.get(field), dict) and draw(st.booleans()):
            body[field][draw(st.sampled_from(NESTED[field]))] = draw(plausible | values)
        else:
            body[field] = draw(plausible | values)
    return body


class SyncClient:
    """httpx over ASGI, driven from synchronous hypothesis tests by one event loop of its own."""

    def __init__(self, app: Any, key: str) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app)
        self.client = httpx.AsyncClient(
            transport=transport, base_url="http://clr.test", headers={"Authorization": f"Bearer {key}"}
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        pending = asyncio.all_tasks(self.loop)  # sse-starlette's shutdown watchers outlive their streams
        for task in pending:
            task.cancel()
        if pending:  # gather() of nothing looks for a current loop, and there is none
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()


def _encode(body: Any) -> bytes:
    try:
        return json.dumps(body).encode()
    except (ValueError, UnicodeEncodeError):
        return b"{"


@pytest.fixture(scope="module")
def setup(sqlite_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A test client on the migrated SQLite database, a real broker queue nobody consumes, and a key."""
    data_root: Path = tmp_path_factory.mktemp("fuzz-data")
    (data_root / "cifar").mkdir()
    app_settings = Settings(broker_url=redis_url, data_roots=[data_root], queue=QUEUE, max_body_bytes=8192)
    celery: Celery = make_celery(app_settings)
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        _, plain = keys.create_key(session=session, owner=f"fuzz-{uuid.uuid4().hex[:8]}")
    client = SyncClient(create_app(app_settings, session_factory=factory, celery=celery), plain)
    queued = [
        client.post(path, json=body).json()["id"] for path, body in [("/lr-find", LR_FIND), ("/train", TRAIN)]
    ]
    done = client.post("/lr-find", json=LR_FIND).json()["id"]
    assert client.post(f"/runs/{done}/cancel").status_code == 202
    yield client, queued, done
    client.close()
    celery.close()
    engine.dispose()
    broker = redis.Redis.from_url(redis_url)
    broker.delete(QUEUE)
    broker.close()


text_ids = st.text(max_size=40).map(lambda s: quote(s, safe="")) | st.sampled_from(
    ["0" * 32, "f" * 32, "..", "%00", "a/b"]
)
queries = st.dictionaries(
    st.sampled_from(
        [
            "kind",
            "status",
            "cursor",
            "limit",
            "min_step",
            "max_step",
            "min_lr",
            "max_lr",
            "max_points",
            "format",
            "tag",
            "name_prefix",
            "created_after",
            "created_before",
            "comparison_id",
            "x",
        ]
    ),
    st.text(max_size=12) | st.integers(-5, 10**12).map(str) | st.floats().map(str),
    max_size=4,
)


@settings(
    max_examples=300, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
@given(data=st.data())
def test_no_generated_request_gets_a_server_error(setup: Any, data: st.DataObject) -> None:
    client, queued, done = setup
    run_id = data.draw(text_ids | st.sampled_from([*queued, done]), label="run_id")
    terminal_or_unknown = data.draw(text_ids | st.just(done), label="events_id")
    method, path = data.draw(
        st.sampled_from(
            [
                ("POST", "/lr-find"),
                ("POST", "/train"),
                ("GET", "/runs"),
                ("GET", f"/runs/{run_id}"),
                ("GET", f"/runs/{run_id}/curves"),
                ("POST", f"/runs/{run_id}/cancel"),
                ("GET", f"/runs/{terminal_or_unknown}/events"),
                ("GET", "/healthz"),
                ("GET", "/readyz"),
                ("GET", f"/ui/{run_id}"),
                ("DELETE", f"/runs/{run_id}"),
                ("GET", "/comparisons"),
                ("DELETE", f"/comparisons/{run_id}"),
                ("PUT", "/train"),
            ]
        ),
        label="endpoint",
    )
    headers = {"Content-Type": data.draw(st.sampled_from(["application/json", "text/plain", ""]))}
    if data.draw(st.integers(0, 9)) == 0:
        headers["Authorization"] = data.draw(st.sampled_from(["", "Bearer ", "Bearer nope", "Basic eA=="]))
    if path.endswith("/events"):
        headers["Last-Event-ID"] = data.draw(
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
        )
    content = _encode(data.draw(bodies(), label="body")) if method in {"POST", "PUT"} else None
    params = data.draw(queries, label="query")

    answer = client.request(method, path, params=params, content=content, headers=headers)

    event(f"{method} {path.split('/')[1]} -> {answer.status_code}")
    assert answer.status_code < 500, (method, path, params, content, answer.text)
    if answer.status_code >= 400 and answer.headers.get("content-type", "").startswith("application/"):
        assert not math.isnan(float(answer.json().get("status", answer.status_code)))
