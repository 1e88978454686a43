"""What a job will cost, estimated from its spec and its dataset's facts before anything runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from clr.datasets import DatasetFacts
from clr.specs import DatasetSpec, JobSpec, RangeTestJob, TrainJob

FLOAT_BYTES = 4
"""A batch reaches the model as float32."""


@dataclass(frozen=True)
class Costs:
    """A job's estimated size: data held in memory, one batch, optimizer steps, stored points."""

    data_bytes: int
    batch_bytes: int
    total_steps: int
    stored_points: int


def holdout_size(samples: int, val_fraction: float) -> int:
    """How many of `samples` a holdout split keeps for validation: at least one, at most all but one."""
    return min(max(1, round(samples * val_fraction)), samples - 1)


def training_samples(spec: DatasetSpec, facts: DatasetFacts) -> int:
    """Samples a job trains on: the training split (less its holdout), cut to spec.train_samples."""
    validation = spec.validation_split
    samples = facts.train_samples
    if validation == "holdout" or facts.test_samples is None:
        samples -= holdout_size(samples, spec.val_fraction)
    return samples if spec.train_samples is None else min(samples, spec.train_samples)


def estimate(job: JobSpec, facts: DatasetFacts) -> Costs:
    """The costs of a range test or a training run over a set with these facts."""
    channels, height, width = facts.input_shape
    stored = (facts.train_samples + (facts.test_samples or 0)) * channels * height * width
    data_bytes = 0 if facts.streamed else stored * facts.value_bytes
    side = job.dataset.resize
    batch_bytes = job.batch_size * channels * (side * side if side else height * width) * FLOAT_BYTES
    per_epoch = max(1, training_samples(job.dataset, facts) // job.batch_size)
    if isinstance(job, TrainJob):
        steps = job.epochs * per_epoch
        return Costs(data_bytes, batch_bytes, steps, steps + job.epochs)
    assert isinstance(job, RangeTestJob)
    steps = job.num_iter if job.num_iter is not None else max(2, math.ceil(job.epochs * per_epoch))
    steps *= 2 if job.past_end_lr else 1  # a sweep past end_lr runs at most twice its planned length
    return Costs(data_bytes, batch_bytes, steps, steps)
