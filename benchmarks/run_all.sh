#!/usr/bin/env bash
# Every benchmark of the README's "Performance" section, one after the other (about 7 minutes on 2 cores,
# and the image folders' 14 under load).
# Needs PostgreSQL on 127.0.0.1:5432 (CLR_BENCH_POSTGRES_URL), Redis on 127.0.0.1:6379 db 12
# (CLR_BENCH_REDIS_URL) and wrk, which is installed here when missing and running as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export PYTHONUNBUFFERED=1

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "wrk is missing: install it (apt-get install -y wrk) and rerun" >&2
        exit 1
    fi
fi

run() {
    echo
    echo "== $* =="
    local start=$SECONDS
    "$PY" -m "$@"
    echo "($((SECONDS - start)) s)"
}

run benchmarks.ingest            # target 1
run benchmarks.curves_read       # targets 2 and 3
run benchmarks.api_load          # target 4
run benchmarks.train_speed       # target 5
run benchmarks.job_start         # target 6
run benchmarks.image_folder      # image folders: cached vs ImageFolder + DataLoader
