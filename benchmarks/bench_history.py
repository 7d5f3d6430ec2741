"""History length is free: the demo synced over 10 daily partitions and over 1,100 (three years), compared.

    python benchmarks/bench_history.py [--orders 100] [--repeat 3] [--days 10 1100]

Each repeat is `sf-stripe-pipeline demo --orders N` in a child process, as a user runs it, in a fresh `$SF_STRIPE_HOME`
and a fresh `$DAGSTER_HOME` holding the project's dagster.yaml (SQLite storage, where every Dagster event costs an
fsync), with the config's `start_date` that many days before today, so the run's scope spans that many days. Before
the scope design, partition bookkeeping made a run cost O(days) events before any work (1,911 planned-materialization
events for 91 days). Prints the median wall time per range and their ratio (the target is at most 1.5), and writes
benchmarks/results/history.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CLI = str(Path(sys.executable).parent / "sf-stripe-pipeline")


def _config_spanning(days: int, folder: Path) -> Path:
    start = date.today() - timedelta(days=days - 1)
    text = re.sub(r"(?m)^start_date: .*$", f"start_date: {start.isoformat()}", (ROOT / "sf_stripe.yaml").read_text())
    config = folder / "sf_stripe.yaml"
    config.write_text(text)
    return config


def _event_count(dagster_home: Path) -> int:
    """Events the run wrote to the instance (run it in a child: the instance is the child's DAGSTER_HOME)."""
    script = "import dagster as dg; i = dg.DagsterInstance.get(); print(len(i.all_logs(i.get_runs()[0].run_id)))"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    return int(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              check=True).stdout.strip())


def one_demo(days: int, orders: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        dagster_home = folder / "dagster_home"
        dagster_home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith(("SF_", "STRIPE_"))},
            "SF_STRIPE_HOME": str(folder / "home"),
            "SF_STRIPE_CONFIG": str(_config_spanning(days, folder)),
            "DAGSTER_HOME": str(dagster_home),
        }
        started = time.perf_counter()
        completed = subprocess.run([CLI, "demo", "--orders", str(orders)], cwd=ROOT, env=env, capture_output=True,
                                   text=True)
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise SystemExit(f"demo over {days} days failed ({completed.returncode}):\n{completed.stdout}\n"
                             f"{completed.stderr}")
        synced = re.search(r"Contracts synced: (\d+)", completed.stdout)
        return {"seconds": seconds, "events": _event_count(dagster_home),
                "contracts_synced": int(synced.group(1)) if synced else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--days", type=int, nargs="+", default=[10, 1100])
    args = parser.parse_args()

    figures = {}
    for days in args.days:
        runs = [one_demo(days, args.orders) for _ in range(args.repeat)]
        figures[days] = {
            "median_seconds": statistics.median(run["seconds"] for run in runs),
            "seconds": [round(run["seconds"], 2) for run in runs],
            "events": [run["events"] for run in runs],
            "contracts_synced": runs[0]["contracts_synced"],
        }
        print(f"{days:>5} days: median {figures[days]['median_seconds']:6.1f} s  (runs {figures[days]['seconds']}, "
              f"events per run {figures[days]['events']}, contracts synced {figures[days]['contracts_synced']})",
              flush=True)
    shortest, longest = min(args.days), max(args.days)
    ratio = figures[longest]["median_seconds"] / figures[shortest]["median_seconds"]
    print(f"{longest} days / {shortest} days = {ratio:.2f} (target: at most 1.5)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "history.json").write_text(json.dumps({
        "orders": args.orders, "repeat": args.repeat, "ratio": ratio, "by_days": figures,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }, indent=2))


if __name__ == "__main__":
    main()
