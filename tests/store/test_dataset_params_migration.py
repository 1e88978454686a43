"""Stored requests of earlier revisions move their dataset-specific fields under dataset.params, and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import insert, select

from store.db import make_engine, make_sessionmaker, transaction
from store.jobspec import job_from_request
from store.migrate import alembic_config, upgrade
from store.models import Run, RunKind
from store.runs import new_run

OLD_DATASET = {"path": None, "validation": None, "val_fraction": 0.2, "train_samples": None, "augment": True}
OLD_FIELDS = {"num_samples": 2000, "image_size": 32, "download": False}


def old_request(dataset: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"name": "vanilla_cnn"},
        "dataset": {**OLD_DATASET, **OLD_FIELDS, **dataset},
        "num_iter": 5,
    }


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_old_dataset_fields_become_params_of_the_sets_that_take_them(
    kind: str, own_database: Callable[[str], str]
) -> None:
    url = own_database(kind)
    command.downgrade(alembic_config(url), "0009")
    engine = make_engine(url)
    columns = {column["name"] for column in sa.inspect(engine).get_columns("runs")}
    requests = {
        "shapes": old_request({"name": "shapes", "num_samples": 400, "image_size": 16}),
        "digits": old_request({"name": "digits"}),
        "fashion_mnist": old_request({"name": "fashion_mnist", "download": True}),
    }
    ids = {}
    with transaction(make_sessionmaker(engine)) as session:
        for name, request in requests.items():
            run = new_run(owner="o", kind=RunKind.LR_FIND, request=request, max_attempts=2)
            values = {c.key: getattr(run, c.key) for c in Run.__table__.columns if c.key in columns}
            session.execute(insert(Run).values(values))
            ids[name] = run.id

    upgrade(url)
    with engine.connect() as connection:
        stored: dict[str, Any] = dict(connection.execute(select(Run.id, Run.request)).all())
    datasets = {name: stored[run_id]["dataset"] for name, run_id in ids.items()}
    assert datasets["shapes"]["params"] == {"num_samples": 400, "image_size": 16}
    assert datasets["digits"]["params"] == {}
    assert datasets["fashion_mnist"]["params"] == {"download": True}
    assert not any(field in dataset for dataset in datasets.values() for field in OLD_FIELDS)
    for name, run_id in ids.items():  # what a worker reads is a valid job again
        assert job_from_request("lr_find", stored[run_id]).dataset.name == name

    command.downgrade(alembic_config(url), "0009")
    with engine.connect() as connection:
        back: dict[str, Any] = dict(connection.execute(select(Run.id, Run.request)).all())
    engine.dispose()
    assert back[ids["shapes"]]["dataset"] == requests["shapes"]["dataset"]
    upgrade(url)
