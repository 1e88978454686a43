"""The example plugin package installed: listed with its parameters, checked at submit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugin_data import write_blobs

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("tabular_plugin")]


def tabular_body(path: str = "tabular/blobs.csv", **dataset: Any) -> dict[str, Any]:
    return {
        "model": {"name": "tabular_mlp", "params": {"hidden": 16}},
        "dataset": {"name": "csv_features", "path": path, "params": {"label_column": "species"}, **dataset},
        "batch_size": 16,
        "num_iter": 20,
    }


async def test_discovery_lists_the_plugins_model_and_dataset_with_their_parameters(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    models = {m["name"]: m for m in (await client.get("/models", headers=auth)).json()["items"]}
    datasets = {d["name"]: d for d in (await client.get("/datasets", headers=auth)).json()["items"]}

    assert models["tabular_mlp"]["source"] == "clr_tabular:TABULAR_MLP"
    assert set(models["tabular_mlp"]["params"]["properties"]) == {"hidden", "layers", "dropout"}
    csv = datasets["csv_features"]
    assert csv["source"] == "clr_tabular:CSV_FEATURES"
    assert csv["params"]["properties"]["label_column"]["default"] == "label"
    assert (csv["path"], csv["test_split"], csv["augment"], csv["available"]) == (
        "required",
        False,
        "none",
        None,
    )


async def test_discovery_says_which_bundled_sets_are_here_and_what_they_hold(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    datasets = {d["name"]: d for d in (await client.get("/datasets", headers=auth)).json()["items"]}

    assert {"digits", "shapes", "mnist", "fashion_mnist", "cifar10", "imagefolder"} <= set(datasets)
    digits = datasets["digits"]
    assert digits["available"] is True
    assert digits["facts"]["train_samples"] == 1797
    assert digits["facts"]["input_shape"] == [1, 8, 8]
    assert datasets["shapes"]["facts"]["input_shape"] == [3, 32, 32]
    assert set(datasets["shapes"]["params"]["properties"]) == {"num_samples", "image_size"}
    assert datasets["cifar10"]["available"] is False  # nothing under this test's data root
    assert "cifar10" in datasets["cifar10"]["detail"]
    assert datasets["imagefolder"]["path"] == "required"


async def test_the_openapi_document_offers_the_plugins_dataset_with_its_own_params(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    mapping = schemas["DatasetSpec"]["discriminator"]["mapping"]
    csv = schemas[mapping["csv_features"].rsplit("/", 1)[1]]
    assert csv["required"] == ["name", "path"]
    assert set(csv["properties"]["params"]["properties"]) == {"label_column", "delimiter"}
    digits = schemas[mapping["digits"].rsplit("/", 1)[1]]
    assert digits["properties"]["path"]["type"] == "null"


@pytest.mark.parametrize(
    ("part", "params", "loc"),
    [
        ("dataset", {"label_column": 5}, ["params", "label_column"]),
        ("dataset", {"delimiter": ";;"}, ["params", "delimiter"]),
        ("dataset", {"sheet": "one"}, ["params"]),
        ("model", {"hidden": 0}, ["params", "hidden"]),
    ],
)
async def test_a_bad_plugin_parameter_is_422_naming_it(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    data_root: Path,
    part: str,
    params: dict[str, Any],
    loc: list[str],
) -> None:
    write_blobs(data_root / "tabular" / "blobs.csv")
    body = tabular_body()
    body[part] = {**body[part], "params": params}

    answer = await client.post("/lr-find", json=body, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["errors"][0]["loc"] == ["body", part, *loc]


async def test_a_batch_larger_than_the_training_rows_is_422_before_anything_is_queued(
    client: httpx.AsyncClient, auth: dict[str, str], data_root: Path
) -> None:
    write_blobs(data_root / "tabular" / "blobs.csv", rows=40)  # 32 training rows once 8 are held out

    answer = await client.post("/lr-find", json={**tabular_body(), "batch_size": 33}, headers=auth)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "batch_size"]
    assert "32 training samples" in answer.json()["errors"][0]["msg"]
    assert (
        await client.post("/lr-find", json={**tabular_body(), "batch_size": 32}, headers=auth)
    ).status_code == 202


async def test_a_csv_without_the_label_column_is_422_naming_the_column(
    client: httpx.AsyncClient, auth: dict[str, str], data_root: Path
) -> None:
    write_blobs(data_root / "tabular" / "blobs.csv")
    body = tabular_body()
    body["dataset"]["params"] = {"label_column": "class"}

    answer = await client.post("/lr-find", json=body, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset"]
    assert "no column 'class'" in answer.json()["errors"][0]["msg"]


async def test_a_csv_cell_that_is_not_a_number_is_422_naming_its_line(
    client: httpx.AsyncClient, auth: dict[str, str], data_root: Path
) -> None:
    write_blobs(data_root / "tabular" / "blobs.csv", bad_cell=True)

    answer = await client.post("/lr-find", json=tabular_body(), headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset"]
    assert "line 121: a feature is not a number" in answer.json()["errors"][0]["msg"]


async def test_a_test_split_the_data_found_lacks_is_422_at_submit(
    client: httpx.AsyncClient, auth: dict[str, str], data_root: Path
) -> None:
    """MNIST files without their t10k part: the default validation on the test split cannot run."""
    from tests.clr.test_torchvision_sets import write_idx_set

    write_idx_set(data_root / "mnist", count=50, seed=0)
    for part in ("images-idx3", "labels-idx1"):
        (data_root / "mnist" / f"t10k-{part}-ubyte").unlink()
    dataset: dict[str, Any] = {"name": "mnist"}
    body = {"model": {"name": "vanilla_cnn"}, "dataset": dataset, "batch_size": 8, "num_iter": 5}

    answer = await client.post("/lr-find", json=body, headers=auth)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset", "validation"]
    dataset["validation"] = "holdout"
    assert (await client.post("/lr-find", json=body, headers=auth)).status_code == 202


async def test_a_body_in_the_pre_plugin_form_still_runs_and_is_stored_in_the_current_one(
    client: httpx.AsyncClient, auth: dict[str, str], lr_find_body: dict[str, Any]
) -> None:
    """Clients written before datasets took params: shapes' fields move there, unused defaults go."""
    shapes = {"name": "shapes", "num_samples": 400, "image_size": 16, "download": False}
    answer = await client.post("/lr-find", json={**lr_find_body, "dataset": shapes}, headers=auth)
    assert answer.status_code == 202, answer.text
    dataset = answer.json()["request"]["dataset"]
    assert dataset["params"] == {"num_samples": 400, "image_size": 16}
    assert "num_samples" not in dataset

    digits = {"name": "digits", "num_samples": 400}  # not a default: digits never took it
    answer = await client.post("/lr-find", json={**lr_find_body, "dataset": digits}, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "dataset", "num_samples"]
