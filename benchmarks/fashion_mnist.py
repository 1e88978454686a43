"""The method's six-optimizer experiment on real Fashion-MNIST, run through the service.

    .venv/bin/python -m benchmarks.fashion_mnist    # writes docs/fashion_mnist.{png,md}, ..._bounds.png

It starts the embedded stack (`clr-service serve`, SQLite, and --workers - 1 more workers) in --home, posts
one comparison with `clr_bounds_from_lr_find` (a range test first, then SGD + triangular CLR with its
suggested bounds beside SGD, SGD + momentum, Adagrad, RMSProp and Adam, each over --repeats seeds),
validates every epoch on the 10,000 official test images, and writes the service's own plots (the
comparison's and its range test's) and a Markdown table of the best and final test accuracy per optimizer.
`--comparison ID` renders a finished comparison again instead of running one.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ROOT, Processes, free_port, processes, wait_until

STEP_SIZE_EPOCHS = 2.0
VARIANTS: list[dict[str, Any]] = [
    {"name": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}},
    {"name": "sgd_momentum", "optimizer": {"name": "sgd_momentum", "lr": 0.01, "momentum": 0.9}},
    {"name": "adagrad", "optimizer": {"name": "adagrad", "lr": 0.01}},
    {"name": "rmsprop", "optimizer": {"name": "rmsprop", "lr": 0.001}},
    {"name": "adam", "optimizer": {"name": "adam", "lr": 0.001}},
    {
        "name": "sgd_clr",
        "optimizer": {"name": "sgd_momentum", "momentum": 0.9},
        "schedule": {"policy": "triangular", "step_size_epochs": STEP_SIZE_EPOCHS},
    },
]
PUBLISHED = "0.876-0.925 (small CNNs of two or three conv layers in the package's README)"


def start_service(started: Processes, home: Path, threads: int, workers: int) -> httpx.Client:
    """`clr-service serve` on a free port with CLR_HOME=home, and `workers - 1` more `clr-service worker`s on
    the same home (its SQLite database and broker); a client holding its local key."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLR_")}
    env.update(CLR_HOME=str(home.resolve()), CLR_WORKER_TORCH_THREADS=str(threads), PYTHONUNBUFFERED="1")
    service = str(Path(sys.executable).with_name("clr-service"))
    started.spawn([service, "serve", "--port", str(port)], env, "serve")
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(url), timeout=120, what="the embedded service to start")
    for index in range(1, workers):  # once serve has migrated the database and declared the queue
        started.spawn([service, "worker", "--hostname", f"extra{index}@%h"], env, f"worker{index}")
    key = (home / "local-api-key").read_text().strip()
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(client: httpx.Client, comparison_id: str) -> dict[str, Any]:
    """The comparison once it has ended, printing its counts as they change."""
    last = None
    while True:
        current: dict[str, Any] = client.get(f"/comparisons/{comparison_id}").json()
        if current["counts"] != last:
            last = current["counts"]
            sys.stdout.write(f"{datetime.now():%H:%M:%S} {current['status']} {last}\n")
            sys.stdout.flush()
        if current["status"] != "running":
            return current
        time.sleep(10)


def table(comparison: dict[str, Any], summary: dict[str, Any], hardware: str) -> str:
    """The Markdown table of the README's results section, with what it ran on."""
    runs = [child["run"] for child in comparison["children"]]
    started = min(datetime.fromisoformat(r["started_at"]) for r in runs if r["started_at"])
    ended = max(datetime.fromisoformat(r["finished_at"]) for r in runs if r["finished_at"])
    request = comparison["request"]
    found = next((r for r in runs if r["kind"] == "lr_find"), None)
    settings = {variant["name"]: setting(variant) for variant in request["variants"]}
    lines = [
        "| variant | optimizer and schedule | best test accuracy | final test accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for name, s in sorted(summary.items(), key=lambda item: -(item[1]["best_val_accuracy_mean"] or 0)):
        lines.append(
            f"| {name} | {settings[name]} "
            f"| {s['best_val_accuracy_mean']:.4f} ± {s['best_val_accuracy_std']:.4f} "
            f"| {s['final_val_accuracy_mean']:.4f} ± {s['final_val_accuracy_std']:.4f} |"
        )
    model = request["model"]
    lines += [
        "",
        f"Mean ± std over {request['repeats']} seeds; {model['name']} (width {model['params']['width']}), "
        f"batch {request['batch_size']}, {request['epochs']} epochs on the 60,000 training images, tested on "
        f"the 10,000 official test images after every epoch. {hardware}; wall time "
        f"{(ended - started).total_seconds() / 3600:.2f} h for {len(runs)} runs.",
    ]
    if found is not None and found["result"]:
        result = found["result"]
        lines.append(
            f"SGD + CLR bounds from the range test ({optimizer(found['request']['optimizer'])}, swept past "
            f"end_lr): minimum of the "
            f"smoothed loss {result['min_loss']:.3f} at lr {result['lr_at_min_loss']:.3g}, so max_lr "
            f"{result['suggested_max_lr']:.3g} and base_lr {result['suggested_base_lr']:.3g}, "
            f"triangular with a half cycle of {STEP_SIZE_EPOCHS:g} epochs."
        )
    lines.append(f"Published test accuracies of comparable networks: {PUBLISHED}.")
    return "\n".join(lines) + "\n"


def optimizer(spec: dict[str, Any]) -> str:
    """An optimizer as the table names it: its name, its momentum (if any) and weight decay (if any)."""
    shown = [spec["name"]]
    if spec["name"] in ("sgd_momentum", "rmsprop") and spec.get("momentum"):
        shown.append(f"momentum {spec['momentum']:g}")
    if spec.get("weight_decay"):
        shown.append(f"weight decay {spec['weight_decay']:g}")
    return ", ".join(shown)


def setting(variant: dict[str, Any]) -> str:
    """A variant's optimizer and its fixed lr, or its cyclic schedule."""
    schedule = variant.get("schedule") or {"policy": "constant"}
    if schedule["policy"] == "constant":
        return f"{optimizer(variant['optimizer'])}, lr {variant['optimizer']['lr']:g}"
    return f"{optimizer(variant['optimizer'])}, {schedule['policy']} CLR"


def hardware(threads: int, workers: int) -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )  # fmt: skip
    return (
        f"CPU only: {model}, {os.cpu_count()} cores shared with other work; {workers} worker process(es) "
        f"of {threads} torch thread(s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "fashion-mnist-experiment")
    parser.add_argument("--epochs", type=int, default=12, help="a multiple of 4: CLR ends a whole cycle")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each worker")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (serve's and more)")
    parser.add_argument("--variants", nargs="*", help="only these variants (default: all six)")
    parser.add_argument("--comparison", help="render this finished comparison instead of running one")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "fashion_mnist.png")
    parser.add_argument(
        "--weight-decay", type=float, default=5e-4, help="the same L2 penalty for every optimizer"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the service on the way out
    variants = [
        {**v, "optimizer": {**v["optimizer"], "weight_decay": args.weight_decay}}
        for v in VARIANTS
        if not args.variants or v["name"] in args.variants
    ]
    body = {
        "model": {"name": "vanilla_cnn", "params": {"width": args.width}},
        "dataset": {"name": "fashion_mnist"},
        "epochs": args.epochs,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "clr_bounds_from_lr_find": any("schedule" in v for v in variants),  # a range test only for CLR
        "variants": variants,
    }
    with (
        processes(args.home) as started,
        start_service(started, args.home, args.threads, args.workers) as client,
    ):
        comparison_id = args.comparison
        if comparison_id is None:
            created = client.post("/comparisons", json=body)
            created.raise_for_status()
            comparison_id = created.json()["id"]
            sys.stdout.write(f"comparison {comparison_id} (render it again with --comparison)\n")
        comparison = wait_for(client, comparison_id)
        summary = client.get(f"/comparisons/{comparison_id}/curves").json()["summary"]
        plots = {args.out: f"/comparisons/{comparison_id}/plot.png"}
        found = next((c["run"] for c in comparison["children"] if c["run"]["kind"] == "lr_find"), None)
        if found is not None:
            plots[args.out.with_name(f"{args.out.stem}_bounds.png")] = f"/runs/{found['id']}/plot.png"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for path, url in plots.items():
            plot = client.get(url)
            plot.raise_for_status()
            path.write_bytes(plot.content)
    text = table(comparison, summary, hardware(args.threads, args.workers))
    args.out.with_suffix(".md").write_text(text)
    sys.stdout.write(f"{text}wrote {args.out} and {args.out.with_suffix('.md')}\n")
    return 0 if comparison["status"] == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
