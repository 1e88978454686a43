"""Run a comparison of the six default variants on a live service and save its plot (docs/comparison.png).

    make run &                                   # or any deployment
    .venv/bin/python -m benchmarks.comparison_plot --key "$(cat var/local-api-key)"

Only HTTP: it posts `/comparisons`, waits until the comparison ends, then writes `/comparisons/{id}/plot.png`
and prints each variant's best validation accuracy (mean ± std over the seeds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("CLR_URL", "http://127.0.0.1:8000"))
    parser.add_argument(
        "--key", default=os.environ.get("CLR_API_KEY"), required="CLR_API_KEY" not in os.environ
    )
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="vanilla_cnn")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("docs/comparison.png"))
    args = parser.parse_args()
    body = {
        "model": {"name": args.model},
        "dataset": {"name": args.dataset},
        "epochs": args.epochs,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
    }
    headers = {"Authorization": f"Bearer {args.key}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        created = client.post("/comparisons", json=body)
        created.raise_for_status()
        comparison_id = created.json()["id"]
        started = time.monotonic()
        while (current := client.get(f"/comparisons/{comparison_id}").json())["status"] == "running":
            time.sleep(2)
        summary = client.get(f"/comparisons/{comparison_id}/curves").json()["summary"]
        plot = client.get(f"/comparisons/{comparison_id}/plot.png")
        plot.raise_for_status()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(plot.content)
    lines = [f"comparison {comparison_id}: {current['status']} in {time.monotonic() - started:.0f} s"]
    for name, figures in sorted(summary.items()):
        lines.append(
            f"  {name:14s} best val accuracy {figures['best_val_accuracy_mean']:.4f} "
            f"± {figures['best_val_accuracy_std']:.4f} over {figures['runs']} runs"
        )
    sys.stdout.write("\n".join([*lines, f"wrote {args.out}", ""]))
    return 0 if current["status"] == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
