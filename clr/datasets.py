"""Dataset plugins: what a set takes, what it holds (read without torch) and how a worker loads it.

A package declares `[project.entry-points."clr_service.datasets"] my_set = "my_pkg.plugin:MY_SET"`, where
`MY_SET = clr.DatasetPlugin(params=MySetParams, load=load_my_set, facts=my_set_facts, summary="...")`.
`facts(params, source)` says what the set holds without torch (file headers, a folder listing, fixed numbers):
the API checks requests against it and lists it. `load(params, source)` runs on a worker and returns the
images as tensors (`Loaded`) or, for a set too large for memory, items decoded one by one (`Streamed`); the
service splits, normalizes, augments and batches them like every bundled set's. Both raise
`DatasetNotFoundError` when the data is not there and `InvalidDataError` when it is there but unusable;
anything else they raise fails the run as an error of the plugin. A plugin gets no secret and no handle: only
the places its data may be and how the job wants its images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from clr.paths import OutsideDataRootsError, confined
from clr.plugins import DATASET_GROUP, Installed, PluginError, find_plugin, installed_plugins, typed_params

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

Augmentation = Literal["crop_flip", "flip", "none"]
PathUse = Literal["required", "optional", "none"]
P = TypeVar("P")
DEFAULT_MEMORY_BUDGET = 4 * 2**30
"""Bytes an image folder may take decoded (uint8) to be cached and held in memory instead of streamed."""


class DatasetNotFoundError(FileNotFoundError):
    """The data a dataset spec names is not on disk."""


class InvalidDataError(ValueError):
    """The data is there but cannot be used (a file that does not decode, a header that does not match)."""


@dataclass(frozen=True)
class DatasetFacts:
    """What a set holds, known without loading it."""

    train_samples: int
    test_samples: int | None
    input_shape: tuple[int, int, int]
    num_classes: int
    classes: tuple[str, ...] = ()
    value_bytes: int = 1
    """Bytes of one stored value: 1 for uint8 images, 4 for float32."""
    streamed: bool = False
    """Read from disk batch by batch instead of held in memory."""


@dataclass(frozen=True)
class DataSource:
    """Where a set may be read from and how the job wants its images."""

    path: str | None
    """dataset.path as the request gave it (None: the set's default place)."""
    places: tuple[Path, ...]
    """Where that path (or, without one, the set's name) may be, resolved inside the data roots."""
    resize: int | None = None
    seed: int = 0
    cache_dir: Path | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET


@dataclass(frozen=True)
class Images:
    """Labelled images as stored, (N, C, H, W) uint8 or float in [0, 1], with int64 labels (N,)."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class Loaded:
    """A set held in memory: its training images and its official test images, if it has them."""

    train: Images
    test: Images | None = None


@dataclass(frozen=True)
class Streamed:
    """A set read item by item by DataLoader worker processes: item i is ((C, H, W) uint8 tensor, label)."""

    items: Dataset[tuple[torch.Tensor, int]]
    num_classes: int


@dataclass(frozen=True)
class DatasetPlugin(Generic[P]):
    """A set the service can load from typed parameters."""

    params: type[P]
    load: Callable[[P, DataSource], Loaded | Streamed]
    facts: Callable[[P, DataSource], DatasetFacts]
    summary: str
    path: PathUse = "none"
    """Whether dataset.path is required, optional or not taken."""
    test_split: bool = False
    """Whether the set has an official test split (validation 'test' by default)."""
    augment: Augmentation = "crop_flip"
    """Training augmentation when the request asks for the default."""


@cache
def dataset_plugins() -> Mapping[str, Installed]:
    """Every dataset plugin installed, by name."""
    return installed_plugins(DATASET_GROUP, "dataset", DatasetPlugin)


def dataset_plugin(name: str) -> Installed:
    """The installed dataset plugin called `name`."""
    return find_plugin(dataset_plugins(), name, "dataset")


def candidates(name: str, path: str | None, data_roots: Sequence[Path]) -> list[Path]:
    """Where a set may be: path (absolute, or under each data root), else a folder named after it under each.

    With data roots (as the service always has), a given path is confined to them here, where the data is
    read: a link made after submit that leads out of them is refused (OutsideDataRootsError).
    """
    if path and data_roots:
        return confined(path, data_roots)
    relative = Path(path or name)
    return [relative] if relative.is_absolute() else [Path(root) / relative for root in data_roots]


def source_for(name: str, path: str | None, data_roots: Sequence[Path], **wanted: Any) -> DataSource:
    """The DataSource of a set named `name` read from `path` (or its default place) under the data roots."""
    return DataSource(path=path, places=tuple(candidates(name, path, data_roots)), **wanted)


PASSED_THROUGH: tuple[type[BaseException], ...] = (
    DatasetNotFoundError,
    InvalidDataError,
    OutsideDataRootsError,
)
"""What a plugin may raise to say the data is missing, unusable or outside the roots: the run says so."""


def dataset_facts(installed: Installed, params: Mapping[str, Any], source: DataSource) -> DatasetFacts:
    """The set's facts from its plugin; an unexpected error of the plugin becomes PluginError."""
    try:
        facts = installed.plugin.facts(typed_params(installed, params), source)
    except PASSED_THROUGH:
        raise
    except Exception as error:
        raise PluginError(installed, error) from error
    if not isinstance(facts, DatasetFacts):
        raise PluginError(installed, TypeError(f"facts returned {type(facts).__name__}, not DatasetFacts"))
    return facts
