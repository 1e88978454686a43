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
