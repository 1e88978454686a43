"""A comparison of the six default variants through real workers ends with mean/std curves for each."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Service, wait_until

pytestmark = pytest.mark.e2e

DEFAULT_VARIANTS = {"sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "sgd_clr"}


@pytest.mark.parametrize("service", ["postgres-redis"], indirect=True)
def test_default_comparison_on_digits_completes_with_mean_and_std_per_variant(service: Service) -> None:
    service.start_worker("w-comparison")  # two workers share the twelve runs
    body = {
        "model": {"name": "vanilla_cnn"},
        "dataset": {"name": "digits"},
        "batch_size": 64,
        "epochs": 2,
        "repeats": 2,
    }
    started = time.monotonic()
    with service.client() as client:
        answer = client.post("/comparisons", json=body)
        assert answer.status_code == 202, answer.text
        comparison_id = answer.json()["id"]

        def finished() -> dict[str, object] | None:
            current: dict[str, object] = client.get(f"/comparisons/{comparison_id}").json()
            return current if current["status"] != "running" else None

        final = wait_until(finished, timeout=300, what="the comparison to finish", interval=1.0)
        curves = client.get(f"/comparisons/{comparison_id}/curves").json()
        plot = client.get(f"/comparisons/{comparison_id}/plot.png")

    assert final["status"] == "succeeded", final
    assert final["counts"] == {"succeeded": 12}
    assert set(curves["variants"]) == DEFAULT_VARIANTS
    for name, variant in curves["variants"].items():
        assert variant["runs"] == 2, name
        assert variant["epoch"] == [0, 1], name
        assert all(0.0 <= v <= 1.0 for v in variant["mean"]["val_accuracy"]), name
        assert all(v is not None and v >= 0.0 for v in variant["std"]["val_accuracy"]), name
        assert curves["summary"][name]["best_val_accuracy_mean"] > 0.1, name
    assert plot.headers["content-type"] == "image/png"
    print(f"comparison of 12 runs took {time.monotonic() - started:.0f} s")  # noqa: T201


@pytest.mark.parametrize("service", ["postgres-redis"], indirect=True)
def test_a_train_run_whose_key_looks_like_a_comparison_childs_does_not_stall_the_release(
    service: Service,
) -> None:
    """Children are named by columns of their own, so an owner's Idempotency-Key cannot claim one."""
    cyclic = {"name": "clr", "optimizer": {"name": "sgd"}, "schedule": {"policy": "triangular"}}
    body = {
        "model": {"name": "vanilla_cnn"},
        "dataset": {"name": "digits"},
        "batch_size": 64,
        "epochs": 1,
        "repeats": 1,
        "variants": [cyclic],
        "clr_bounds_from_lr_find": True,
    }
    train = {"model": {"name": "vanilla_cnn"}, "dataset": {"name": "digits"}, "epochs": 1, "batch_size": 64}
    with service.client() as client:
        answer = client.post("/comparisons", json=body)
        assert answer.status_code == 202, answer.text
        comparison_id = answer.json()["id"]
        for key in (f"comparison:{comparison_id}:clr:0", f"comparison:{comparison_id}:lr_find:0"):
            claimed = client.post("/train", json=train, headers={"Idempotency-Key": key})
            assert claimed.status_code == 202, claimed.text

        def finished() -> dict[str, object] | None:
            current: dict[str, object] = client.get(f"/comparisons/{comparison_id}").json()
            return current if current["status"] != "running" else None

        final = wait_until(finished, timeout=300, what="the comparison to finish", interval=1.0)
    assert final["release_error"] is None, final
    assert final["status"] == "succeeded", final
    children = final["children"]
    assert isinstance(children, list)
    assert sorted((c["variant"], c["repeat"]) for c in children) == [("clr", 0), ("lr_find", 0)]
