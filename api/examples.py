"""Examples of the OpenAPI document: request bodies per endpoint and the answers they get.

The range test's `result` below is that of a real run (digits, vanilla_cnn, sgd_momentum, batch 32, end_lr 1),
its curve cut to a few points.
"""

from __future__ import annotations

from typing import Any

RUN_ID = "0193a4f2c1e87d3fb2a61c9e5d4b7a10"
LR_FIND_ID = "0193a4f0b6d27c1e9a4f3b8d2c6e5f01"

LR_FIND: dict[str, Any] = {
    "fashion_mnist": {
        "summary": "A range test on Fashion-MNIST",
        "value": {
            "model": {"name": "vanilla_cnn"},
            "dataset": {"name": "fashion_mnist"},
            "optimizer": {"name": "sgd_momentum"},
            "batch_size": 128,
            "start_lr": 1e-7,
            "end_lr": 1.0,
            "epochs": 2,
            "name": "fashion baseline",
            "tags": ["nightly"],
        },
    },
    "digits_quick": {
        "summary": "A range test of 60 steps on the bundled digits (seconds on a CPU)",
        "value": {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "num_iter": 60},
    },
}
TRAIN: dict[str, Any] = {
    "clr_from_lr_find": {
        "summary": "Triangular CLR whose bounds come from a succeeded range test",
        "value": {
            "model": {"name": "vanilla_cnn"},
            "dataset": {"name": "fashion_mnist"},
            "optimizer": {"name": "sgd_momentum"},
            "batch_size": 128,
            "epochs": 8,
            "schedule": {"policy": "triangular", "from_lr_find": LR_FIND_ID, "step_size_epochs": 2},
        },
    },
    "explicit_bounds": {
        "summary": "triangular2 with explicit bounds, a webhook when it ends",
        "value": {
            "model": {"name": "vanilla_cnn"},
            "dataset": {"name": "digits"},
            "epochs": 6,
            "schedule": {"policy": "triangular2", "base_lr": 0.002, "max_lr": 0.02, "step_size_iter": 60},
            "callback_url": "https://ci.example.com/hooks/clr",
        },
    },
}
COMPARISON: dict[str, Any] = {
    "default_variants": {
        "summary": "The method's six optimizers and schedules, 3 seeds each",
        "value": {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "epochs": 8, "repeats": 3},
    },
    "clr_against_adam": {
        "summary": "CLR with bounds from a range test run first, against Adam",
        "value": {
            "model": {"name": "vanilla_cnn"},
            "dataset": {"name": "fashion_mnist"},
            "epochs": 10,
            "repeats": 2,
            "clr_bounds_from_lr_find": True,
            "variants": [
                {"name": "adam", "optimizer": {"name": "adam", "lr": 0.001}},
                {"name": "clr", "optimizer": {"name": "sgd_momentum"}, "schedule": {"policy": "triangular"}},
            ],
        },
    },
}

SUCCEEDED_LR_FIND: dict[str, Any] = {
    "id": LR_FIND_ID,
    "kind": "lr_find",
    "status": "succeeded",
    "is_terminal": True,
    "attempt": 1,
    "max_attempts": 2,
    "comparison_id": None,
    "variant": None,
    "repeat": None,
    "created_at": "2026-11-29T10:02:11.512000Z",
    "updated_at": "2026-11-29T10:02:19.044000Z",
    "started_at": "2026-11-29T10:02:11.590000Z",
    "finished_at": "2026-11-29T10:02:19.044000Z",
    "progress": {"step": 88, "total_steps": 88, "epoch": 1, "fraction": 1.0},
    "name": "digits baseline",
    "tags": ["nightly"],
    "metadata": {"commit": "3f2a9c1"},
    "request": {
        "model": {"name": "vanilla_cnn", "params": {}},
        "dataset": {"name": "digits"},
        "optimizer": {"name": "sgd_momentum"},
        "batch_size": 32,
        "end_lr": 1.0,
    },
    "result": {
        "stop_reason": "completed",
        "num_points": 88,
        "suggestions": {
            "minimum": {"lr": 0.015682030668618233, "index": 77, "reason": None},
            "steepest": {"lr": 0.07474174246317525, "index": 73, "reason": None},
            "valley": {"lr": 0.004641588833612776, "index": 58, "reason": None},
        },
        "suggested_max_lr": 0.015682030668618233,
        "suggested_base_lr": 0.0026136717781030387,
        "min_loss": 2.1992854394884973,
        "lr_at_min_loss": 0.15682030668618233,
        "start_lr": 1e-07,
        "last_lr": 1.0,
        "warnings": [],
    },
    "error": None,
    "delivery": None,
}
FAILED_TRAINING: dict[str, Any] = {
    **SUCCEEDED_LR_FIND,
    "id": RUN_ID,
    "kind": "train",
    "status": "failed",
    "name": None,
    "tags": [],
    "metadata": {},
    "request": {"model": {"name": "resnet18"}, "dataset": {"name": "cifar10"}, "epochs": 30},
    "result": None,
    "error": {
        "type": "about:blank",
        "title": "Dataset not found",
        "status": 500,
        "code": "dataset_missing",
        "detail": "dataset 'cifar10' not found at /data/cifar10 (set params.download=true to fetch it). "
        "Place the files under a data root (CLR_DATA_ROOTS) or set dataset.params.download where the "
        "worker may download.",
    },
}
RUNS = {
    "lr_find_succeeded": {"summary": "A range test that succeeded", "value": SUCCEEDED_LR_FIND},
    "train_failed": {"summary": "A training run that failed, with its problem", "value": FAILED_TRAINING},
}
RANGE_CURVES = {
    "run_id": LR_FIND_ID,
    "kind": "lr_find",
    "status": "succeeded",
    "points": 3,
    "next_cursor": None,
    "step": [0, 44, 87],
    "lr": [1e-07, 0.0003199, 1.0],
    "loss": [2.3119, 2.2851, 2.4418],
    "smoothed_loss": [2.3119, 2.2934, 2.3921],
    "accuracy": [0.0625, 0.15625, 0.125],
}
QUEUED_LR_FIND: dict[str, Any] = {
    **SUCCEEDED_LR_FIND,
    "status": "queued",
    "is_terminal": False,
    "attempt": 0,
    "started_at": None,
    "finished_at": None,
    "updated_at": SUCCEEDED_LR_FIND["created_at"],
    "progress": {"step": 0, "total_steps": None, "epoch": None, "fraction": None},
    "result": None,
}
# Answers set into the generated document as they are (FastAPI's own pass would drop their nulls).
ANSWERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("/lr-find", "post", "202"): {"example": QUEUED_LR_FIND},
    ("/runs/{run_id}", "get", "200"): {"examples": RUNS},
    ("/runs/{run_id}/curves", "get", "200"): {"example": RANGE_CURVES},
}
RANGE_CSV = (
    "step,lr,loss,smoothed_loss,accuracy\r\n"
    "0,1e-07,2.3119,2.3119,0.0625\r\n"
    "44,0.0003199,2.2851,2.2934,0.15625\r\n"
    "87,1.0,2.4418,2.3921,0.125\r\n"
)
