"""An example plugin package for clr-service: an MLP for feature vectors and a CSV-of-features dataset.

The entry points in pyproject.toml name the plugin objects below. This module imports no torch: the API reads
it to validate requests and to learn what a CSV file holds, and torch is imported inside the functions that
build and load on a worker.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clr import (
    DatasetFacts,
    DatasetNotFoundError,
    DatasetPlugin,
    DataSource,
    InvalidDataError,
    Loaded,
    ModelInput,
    ModelPlugin,
    param,
)
from clr.fields import check_fields


@dataclass(frozen=True)
class MlpParams:
    """Layer sizes and regularisation of the MLP."""

    hidden: int = param(128, doc="Units of each hidden layer", ge=1, le=8192)
    layers: int = param(2, doc="Hidden layers", ge=1, le=16)
    dropout: float = param(0.1, doc="Dropout after each hidden layer", ge=0.0, le=0.9)

    def __post_init__(self) -> None:
        check_fields(self)


def build_mlp(params: MlpParams, given: ModelInput) -> Any:
    """An MLP over the flattened input (features arrive as channels of a 1x1 image)."""
    from torch import nn

    width = given.input_shape[0] * given.input_shape[1] * given.input_shape[2]
    layers: list[nn.Module] = [nn.Flatten()]
    for _ in range(params.layers):
        layers += [nn.Linear(width, params.hidden), nn.ReLU(), nn.Dropout(params.dropout)]
        width = params.hidden
    layers.append(nn.Linear(width, given.num_classes))
    return nn.Sequential(*layers)


TABULAR_MLP = ModelPlugin(
    params=MlpParams, build=build_mlp, summary="A multi-layer perceptron for feature vectors (tabular data)"
)


@dataclass(frozen=True)
class CsvParams:
    """How to read the CSV file: which column is the label, and the field separator."""

    label_column: str = param("label", doc="Header of the column holding each row's class", max_length=200)
    delimiter: str = param(",", doc="Field separator", max_length=1)

    def __post_init__(self) -> None:
        check_fields(self)
        if len(self.delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {self.delimiter!r}")


def csv_file(source: DataSource) -> Path:
    """The CSV file dataset.path names, under the first data root that has it."""
    found = next((place for place in source.places if place.is_file()), None)
    if found is None:
        raise DatasetNotFoundError(f"no CSV file at {[str(place) for place in source.places]}")
    return found


def _rows(path: Path, params: CsvParams) -> Iterator[tuple[list[float], str]]:
    """Each row's features and its label, the label column found by its header; a cell not a number is
    unusable data (InvalidDataError: 422 at submit, where facts reads every row)."""
    with path.open(newline="") as file:
        reader = csv.reader(file, delimiter=params.delimiter)
        header = next(reader, None)
        if header is None or params.label_column not in header:
            raise InvalidDataError(f"{path}: no column {params.label_column!r} in its header {header}")
        label = header.index(params.label_column)
        for number, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise InvalidDataError(
                    f"{path} line {number}: {len(row)} fields, the header has {len(header)}"
                )
            cells = row[:label] + row[label + 1 :]
            try:
                features = [float(cell) for cell in cells]
            except ValueError as error:
                raise InvalidDataError(f"{path} line {number}: a feature is not a number: {error}") from error
            yield features, row[label]


def csv_facts(params: CsvParams, source: DataSource) -> DatasetFacts:
    """Rows, features and classes of the file, read without torch (the API's checks and GET /datasets)."""
    path = csv_file(source)
    features, count = 0, 0
    labels: set[str] = set()
    for values, label in _rows(path, params):
        features, count = len(values), count + 1
        labels.add(label)
    if count < 2 or len(labels) < 2:
        raise InvalidDataError(f"{path}: needs two rows and two classes, has {count} and {sorted(labels)}")
    classes = tuple(sorted(labels))
    return DatasetFacts(count, None, (features, 1, 1), len(classes), classes, value_bytes=4)


def load_csv(params: CsvParams, source: DataSource) -> Loaded:
    """Features as float32 (N, F, 1, 1) channels, labels as the index of their class in sorted order."""
    import torch

    from clr import Images

    rows = list(_rows(csv_file(source), params))
    classes = sorted({label for _, label in rows})
    x = torch.tensor([features for features, _ in rows], dtype=torch.float32)
    y = torch.tensor([classes.index(label) for _, label in rows], dtype=torch.int64)
    return Loaded(Images(x[:, :, None, None], y))


CSV_FEATURES = DatasetPlugin(
    params=CsvParams,
    load=load_csv,
    facts=csv_facts,
    path="required",
    augment="none",  # a crop or a flip of a feature vector means nothing
    summary="Rows of a CSV file under a data root: numeric features and a label column",
)
