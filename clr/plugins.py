"""Models and datasets found through Python entry points: the bundled ones and those of any installed package.

A package declares `[project.entry-points."clr_service.models"] my_net = "my_pkg.plugin:MY_NET"`, where
`MY_NET = clr.ModelPlugin(params=MyNetParams, build=build_my_net, summary="...")`: a dataclass (or pydantic
model) of typed parameters with defaults, and `build(params, model_input) -> torch.nn.Module`. Datasets do the
same under `clr_service.datasets` with a `clr.DatasetPlugin` (see `clr.datasets`). Keep the module an entry
point names light (import torch inside `build` or `load`): the API reads plugins to validate requests and does
not load torch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from clr.fields import SpecError, check_fields

MODEL_GROUP = "clr_service.models"
DATASET_GROUP = "clr_service.datasets"
Kind = Literal["model", "dataset"]
P = TypeVar("P")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInput:
    """What a model plugin learns about the data: input shape (C, H, W), classes, the weights cache."""

    input_shape: tuple[int, int, int]
    num_classes: int
    torch_home: Path | None = None


@dataclass(frozen=True)
class ModelPlugin(Generic[P]):
    """A network the service can build from typed parameters."""

    params: type[P]
    build: Callable[[P, ModelInput], Any]
    summary: str


@dataclass(frozen=True)
class Installed:
    """A plugin found under an entry point, with its kind and where it came from."""

    name: str
    source: str
    plugin: Any  # a ModelPlugin for kind "model", a clr.datasets.DatasetPlugin for kind "dataset"
    kind: Kind = "model"


class PluginNotFoundError(SpecError):
    """No installed plugin has the name a spec asks for."""


class PluginError(RuntimeError):
    """A plugin raised; the message names it, the cause keeps the original error (and its traceback)."""

    def __init__(self, installed: Installed, error: BaseException) -> None:
        super().__init__(
            f"{installed.kind} plugin {installed.name!r} ({installed.source}) raised "
            f"{type(error).__name__}: {said(error)}"
        )
        self.plugin = installed.name


def from_loader_worker(error: BaseException) -> bool:
    """Whether torch raised `error` again for a DataLoader worker that failed reading a set's items.

    torch raises the worker's exception type again in the job's process with the worker's traceback as its
    message: "Caught ValueError in DataLoader worker process 0.\\nOriginal Traceback (most recent call ...".
    """
    first, _, rest = str(error).partition("\n")
    return " in DataLoader worker process " in first and rest.startswith("Original Traceback")


def said(error: BaseException) -> str:
    """What an error says; for one carried from a DataLoader worker, its traceback's last line, untyped."""
    text = str(error)
    if not from_loader_worker(error):
        return text
    last = text.rstrip().rsplit("\n", 1)[-1]  # "pkg.TypeName: message", or "pkg.TypeName" without one
    return last.partition(": ")[2]


def culprit(
    error: BaseException, *, model: Installed, network: object, dataset: Installed
) -> Installed | None:
    """The plugin whose code raised `error` in a job's loop, None where it was the service's own code.

    The model's while its network ran (a frame of the traceback is a call of the network, whatever modules it
    is made of); the dataset's when a DataLoader worker raised it reading the set's (streamed) items. Bundled
    plugins are plugins like any other: their errors are named the same way, with their `clr.` entry point.
    """
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_locals.get("self") is network:
            return model
        trace = trace.tb_next
    return dataset if from_loader_worker(error) else None


def installed_plugins(group: str, kind: Kind, plugin_type: type) -> dict[str, Installed]:
    """Every `plugin_type` under the entry-point group, by name; one that fails to load is left out."""
    found: dict[str, Installed] = {}
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        try:
            plugin = point.load()
        except Exception:
            log.exception(
                "%s plugin %r (%s) could not be loaded; it is left out", kind, point.name, point.value
            )
            continue
        if not isinstance(plugin, plugin_type):
            log.error(
                "entry point %r (%s) is not a clr.%s; it is left out",
                point.name,
                point.value,
                plugin_type.__name__,
            )
            continue
        found[point.name] = Installed(point.name, point.value, plugin, kind)
    return found


@cache
def model_plugins() -> Mapping[str, Installed]:
    """Every model plugin installed, by name."""
    return installed_plugins(MODEL_GROUP, "model", ModelPlugin)


def find_plugin(installed: Mapping[str, Installed], name: str, kind: Kind) -> Installed:
    """The installed plugin called `name`, or PluginNotFoundError listing those there are."""
    if name not in installed:
        raise PluginNotFoundError(
            "name", f"name must be an installed {kind}, one of {list(installed)}, got {name!r}"
        )
    return installed[name]


def model_plugin(name: str) -> Installed:
    """The installed model plugin called `name`."""
    return find_plugin(model_plugins(), name, "model")


def parse_params(installed: Installed, given: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """The plugin's parameters built from `given` (checked by their type), as a plain dict with defaults."""
    params_type = installed.plugin.params
    if not isinstance(given, Mapping):
        raise SpecError(where, f"{where} must be an object, got {given!r}")
    try:
        value = params_type(**given)
        if dataclasses.is_dataclass(value):
            check_fields(value)
    except SpecError as error:
        raise SpecError(f"{where}.{error.field}", f"{where}.{error}") from error
    except (TypeError, ValueError) as error:
        raise SpecError(where, f"{where} of {installed.kind} {installed.name!r}: {error}") from error
    return to_dict(value)


def typed_params(installed: Installed, params: Mapping[str, Any]) -> Any:
    """The plugin's parameter object for already checked `params`."""
    return installed.plugin.params(**params)


def to_dict(value: Any) -> dict[str, Any]:
    """A dataclass or pydantic model instance as a plain dict."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dict(dump())
    raise TypeError(f"plugin parameters must be a dataclass or a pydantic model, got {type(value).__name__}")
