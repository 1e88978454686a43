"""What a plugin's code raises in a job, wherever it runs (build, load, forward, streamed items), names it."""

from __future__ import annotations

import re
from typing import Any

import pytest

import clr
from clr.plugins import PluginError

pytestmark = pytest.mark.usefixtures("tabular_plugin")  # installs the suite's faulty plugins too

DIGITS = clr.DatasetSpec("digits")
CNN = clr.ModelSpec("vanilla_cnn", {"width": 8})


def range_test(model: clr.ModelSpec, dataset: clr.DatasetSpec) -> clr.RangeTestJob:
    return clr.RangeTestJob(model=model, dataset=dataset, batch_size=16, num_iter=10, device="cpu")


def train(model: clr.ModelSpec, dataset: clr.DatasetSpec) -> clr.TrainJob:
    schedule = clr.ScheduleSpec("triangular", base_lr=0.01, max_lr=0.1, step_size_iter=4)
    return clr.TrainJob(
        model=model, dataset=dataset, batch_size=16, epochs=1, schedule=schedule, device="cpu"
    )


def failure(run: Any) -> PluginError:
    with pytest.raises(PluginError) as raised:
        run()
    assert type(raised.value.__cause__).__name__ == "Deliberate"  # the plugin's own error, kept as the cause
    return raised.value


def test_a_model_plugin_that_raises_in_build_is_named() -> None:
    error = failure(
        lambda: clr.find_lr(range_test(clr.ModelSpec("faulty_net", {"raise_in": "build"}), DIGITS))
    )

    assert str(error) == (
        "model plugin 'faulty_net' (clr_faulty:FAULTY_NET) raised Deliberate: faulty_net refuses to build"
    )


@pytest.mark.parametrize("job", [range_test, train])
def test_a_model_plugin_whose_forward_raises_in_the_loop_is_named(job: Any) -> None:
    run = job(clr.ModelSpec("faulty_net", {"raise_in": "forward"}), DIGITS)

    error = failure(lambda: clr.find_lr(run) if isinstance(run, clr.RangeTestJob) else clr.fit(run))

    assert str(error) == (
        "model plugin 'faulty_net' (clr_faulty:FAULTY_NET) raised Deliberate: faulty_net's forward fails"
    )
    assert error.plugin == "faulty_net"


@pytest.mark.parametrize(
    "raise_in",
    ["item", "sample"],
    ids=["in-a-dataloader-worker", "in-the-jobs-process"],  # the loop; the normalization statistics' sample
)
def test_a_streamed_item_that_raises_is_named_without_a_traceback(raise_in: str) -> None:
    dataset = clr.DatasetSpec("faulty_set", {"raise_in": raise_in})

    error = failure(lambda: clr.find_lr(range_test(CNN, dataset)))

    # one line: a DataLoader worker's traceback, which torch carries over as the message, stays in the log
    assert re.fullmatch(
        r"dataset plugin 'faulty_set' \(clr_faulty:FAULTY_SET\) raised Deliberate: "
        r"faulty_set cannot read item \d+",
        str(error),
    ), str(error)


def test_an_error_of_the_services_own_code_in_the_loop_is_no_plugins() -> None:
    def broken_sink(chunk: clr.RangeChunk) -> None:
        raise KeyError("the recorder's bug")

    with pytest.raises(KeyError, match="the recorder's bug"):
        clr.find_lr(range_test(CNN, DIGITS), on_chunk=broken_sink)
