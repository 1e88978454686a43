"""Test-only plugins that raise where a parameter says: in build or forward, in load or reading an item.

Installed by the suite beside the example package (tests/conftest.py::tabular_plugin), so the API and a live
worker find them through their entry points like any plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from clr import DatasetFacts, DatasetPlugin, DataSource, Loaded, ModelInput, ModelPlugin, Streamed, param


class Deliberate(RuntimeError):
    """What these plugins raise."""


@dataclass(frozen=True)
class NetParams:
    """Where the network fails."""

    raise_in: Literal["build", "forward"] = param("forward", doc="Raise in build, or in every forward")


def build_net(params: NetParams, given: ModelInput) -> Any:
    from torch import nn

    if params.raise_in == "build":
        raise Deliberate("faulty_net refuses to build")

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(given.input_shape[0], given.num_classes)

        def forward(self, x: Any) -> Any:
            raise Deliberate("faulty_net's forward fails")

    return Net()


FAULTY_NET = ModelPlugin(params=NetParams, build=build_net, summary="Test only: raises in build or forward")


@dataclass(frozen=True)
class SetParams:
    """Where the set fails."""

    raise_in: Literal["load", "sample", "item"] = param(
        "load",
        doc="Raise in load, reading items in the job's process, or reading them in a DataLoader worker",
    )


SAMPLES = 64


class Items:
    """Images read one by one, failing in the job's process (the normalization statistics' sample) or in a
    DataLoader worker (the training or range-test loop)."""

    def __init__(self, raise_in: str) -> None:
        self.raise_in = raise_in

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, i: int) -> Any:
        import torch
        from torch.utils.data import get_worker_info

        if self.raise_in == ("item" if get_worker_info() is not None else "sample"):
            raise Deliberate(f"faulty_set cannot read item {i}")
        return torch.full((3, 8, 8), i, dtype=torch.uint8), i % 2


def load_set(params: SetParams, source: DataSource) -> Loaded | Streamed:
    if params.raise_in == "load":
        raise Deliberate("faulty_set refuses to load")
    return Streamed(Items(params.raise_in), 2)  # type: ignore[arg-type]  # map-style: a length and items


def set_facts(params: SetParams, source: DataSource) -> DatasetFacts:
    return DatasetFacts(SAMPLES, None, (3, 8, 8), 2, ("a", "b"))


FAULTY_SET = DatasetPlugin(
    params=SetParams, load=load_set, facts=set_facts, summary="Test only: raises in load or in items"
)
