"""Dataset plugins in clr: facts read without torch, loads split like the bundled sets, errors named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import clr
from clr.datasets import dataset_facts, dataset_plugin, source_for
from tests.plugin_data import CLASSES, write_blobs

pytestmark = pytest.mark.usefixtures("tabular_plugin")


def test_the_csv_plugins_facts_count_rows_features_and_classes(tmp_path: Path) -> None:
    write_blobs(tmp_path / "blobs.csv", rows=240, features=5)
    source = source_for("csv_features", "blobs.csv", [tmp_path])

    facts = dataset_facts(dataset_plugin("csv_features"), {"label_column": "species"}, source)

    assert (facts.train_samples, facts.test_samples) == (240, None)
    assert (facts.input_shape, facts.num_classes, facts.classes) == ((5, 1, 1), 3, CLASSES)


def test_facts_and_specs_of_every_plugin_load_without_torch(tmp_path: Path) -> None:
    """The API reads facts and checks specs of every installed dataset in a process without torch."""
    write_blobs(tmp_path / "blobs.csv")
    code = (
        "import sys, clr\n"
        "from clr.datasets import dataset_facts, dataset_plugin, dataset_plugins, source_for\n"
        f"roots = [{str(tmp_path)!r}]\n"
        "clr.DatasetSpec('csv_features', {'label_column': 'species'}, path='blobs.csv')\n"
        "dataset_facts(dataset_plugin('csv_features'), {'label_column': 'species'},"
        " source_for('csv_features', 'blobs.csv', roots))\n"
        "[dataset_facts(p, {}, source_for(n, None, roots)) for n, p in dataset_plugins().items()"
        " if n in ('digits', 'shapes')]\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_csv_set_loads_as_feature_channels_split_and_normalized_like_any_set(tmp_path: Path) -> None:
    write_blobs(tmp_path / "blobs.csv", rows=200)
    spec = clr.DatasetSpec("csv_features", {"label_column": "species"}, path="blobs.csv", val_fraction=0.25)

    data = clr.load_dataset(spec, data_roots=[tmp_path], batch_size=10, seed=0, device="cpu")

    assert (data.input_shape, data.num_classes) == ((4, 1, 1), 3)
    assert (data.info.train_samples, data.info.val_samples, data.batches_per_epoch) == (150, 50, 15)
    x, y = next(iter(data.train))
    assert x.shape == (10, 4, 1, 1)
    assert int(y.max()) < 3


def test_a_csv_cell_that_is_not_a_number_is_unusable_data_in_facts_and_in_load(tmp_path: Path) -> None:
    write_blobs(tmp_path / "blobs.csv", bad_cell=True)
    spec = clr.DatasetSpec("csv_features", {"label_column": "species"}, path="blobs.csv")
    source = source_for("csv_features", "blobs.csv", [tmp_path])
    message = r"blobs\.csv line 121: a feature is not a number: could not convert string to float: 'n/a'"

    with pytest.raises(clr.InvalidDataError, match=message):
        dataset_facts(dataset_plugin("csv_features"), {"label_column": "species"}, source)
    with pytest.raises(clr.InvalidDataError, match=message):
        clr.load_dataset(spec, data_roots=[tmp_path], batch_size=8, seed=0, device="cpu")


def test_a_plugin_that_raises_while_loading_is_named_with_the_cause_kept(tmp_path: Path) -> None:
    spec = clr.DatasetSpec("faulty_set", {"raise_in": "load"})  # the suite's faulty plugin

    with pytest.raises(
        clr.PluginError, match=r"dataset plugin 'faulty_set' \(clr_faulty:FAULTY_SET\) raised Deliberate"
    ) as raised:
        clr.load_dataset(spec, data_roots=[tmp_path], batch_size=8, seed=0, device="cpu")
    assert type(raised.value.__cause__).__name__ == "Deliberate"


def test_missing_data_stays_missing_data_not_an_error_of_the_plugin(tmp_path: Path) -> None:
    spec = clr.DatasetSpec("csv_features", path="absent.csv")
    with pytest.raises(clr.DatasetNotFoundError, match=r"absent\.csv"):
        clr.load_dataset(spec, data_roots=[tmp_path], batch_size=8, seed=0, device="cpu")


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (lambda: clr.DatasetSpec("acme_tiles"), "name", "must be an installed dataset"),
        (lambda: clr.DatasetSpec("csv_features"), "path", "path is required"),
        (lambda: clr.DatasetSpec("digits", path="x"), "path", "takes no path"),
        (lambda: clr.DatasetSpec("shapes", {"image_size": 4}), "params.image_size", ">= 8"),
        (lambda: clr.DatasetSpec("digits", augment="rotate"), "augment", "'crop_flip'"),  # type: ignore[arg-type]
    ],
)
def test_dataset_specs_are_checked_against_their_plugin(spec: object, field: str, message: str) -> None:
    with pytest.raises(clr.SpecError, match=message) as raised:
        spec()  # type: ignore[operator]
    assert raised.value.field == field


def test_augment_true_takes_the_sets_default_and_a_name_overrides_it() -> None:
    from clr.data import _augment_for

    fashion = dataset_plugin("fashion_mnist").plugin
    assert _augment_for(clr.DatasetSpec("fashion_mnist"), fashion, 28) == clr.Augment(padding=0, hflip=True)
    assert _augment_for(clr.DatasetSpec("fashion_mnist", augment="crop_flip"), fashion, 28) == clr.Augment(
        3, True
    )
    assert _augment_for(clr.DatasetSpec("fashion_mnist", augment=False), fashion, 28) is None
