"""Host synchronizations while training on CUDA: recording must not cost one per batch.

Run: python benchmarks/gpu_syncs.py [--samples N]

Trains the vanilla CNN on device-resident data through `clr.train`, recording every batch (into a list: the
worker's Recorder receives the same Python floats), under `torch.cuda.set_sync_debug_mode("warn")`, and counts
the synchronizing calls torch reports. The loop reads losses back once per `chunk_size` batches (256) and
once per epoch for its metrics, so the count stays far below one per batch.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import torch
from torch import nn

import clr

EPOCHS = 2
BATCH = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=16384, help="training set size (shapes, 32x32)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark counts GPU synchronizations")
    device = torch.device("cuda")
    spec = clr.DatasetSpec("shapes", {"num_samples": args.samples, "image_size": 32}, augment=False)
    data = clr.load_dataset(spec, batch_size=BATCH, seed=0, device=device)
    model = clr.build_model(
        clr.ModelSpec("vanilla_cnn", {"width": 16}),
        input_shape=data.input_shape,
        num_classes=data.num_classes,
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sink: list[object] = []
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            clr.train(
                model, data, optimizer, None, nn.CrossEntropyLoss(), clr.TrainSpec(epochs=EPOCHS),
                on_batches=sink.append, on_epoch=sink.append, on_progress=sink.append,
            )  # fmt: skip
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    batches = EPOCHS * data.batches_per_epoch
    sys.stdout.write(
        f"{batches} batches, {syncs} host synchronizations reported: {syncs / batches:.3f} per batch "
        "(target: far below 1; chunk_size=256)\n"
    )


if __name__ == "__main__":
    main()
