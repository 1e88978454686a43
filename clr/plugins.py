"""Models found through Python entry points: the bundled ones and those of any installed package.

A package declares `[project.entry-points."clr_service.models"] my_net = "my_pkg.plugin:MY_NET"`, where
`MY_NET = clr.ModelPlugin(params=MyNetParams, build=build_my_net, summary="...")`: a dataclass (or pydantic
model) of typed parameters with defaults, and `build(params, model_input) -> torch.nn.Module`. Keep the module
an entry point names light (import torch inside `build`): the API reads plugins to validate requests and
does not load torch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

from clr.fields import SpecError, check_fields

MODEL_GROUP = "clr_service.models"
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
    """A plugin found under an entry point, with where it came from."""

    name: str
    source: str
    plugin: ModelPlugin[Any]


class PluginNotFoundError(SpecError):
    """No installed plugin has the name a spec asks for."""


class PluginError(RuntimeError):
    """A plugin raised while building; the message names it, the cause keeps the original error."""

    def __init__(self, installed: Installed, error: BaseException) -> None:
        super().__init__(
            f"model plugin {installed.name!r} ({installed.source}) raised {type(error).__name__}: {error}"
        )
        self.plugin = installed.name


@cache
def model_plugins() -> Mapping[str, Installed]:
    """Every model plugin installed, by name; one that fails to load is logged and left out."""
    found: dict[str, Installed] = {}
    for point in sorted(entry_points(group=MODEL_GROUP), key=lambda p: p.name):
        try:
            plugin = point.load()
        except Exception:
            log.exception("model plugin %r (%s) could not be loaded; it is left out", point.name, point.value)
            continue
        if not isinstance(plugin, ModelPlugin):
            log.error("entry point %r (%s) is not a clr.ModelPlugin; it is left out", point.name, point.value)
            continue
        found[point.name] = Installed(point.name, point.value, plugin)
    return found


def model_plugin(name: str) -> Installed:
    """The installed model plugin called `name`, or PluginNotFoundError listing those there are."""
    installed = model_plugins()
    if name not in installed:
        raise PluginNotFoundError(
            "name", f"name must be an installed model, one of {list(installed)}, got {name!r}"
        )
    return installed[name]


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
        raise SpecError(where, f"{where} of model {installed.name!r}: {error}") from error
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
