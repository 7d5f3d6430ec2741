"""Benchmark the whole sync on a generated org (default 10,000 orders) against the embedded sandboxes.

    python benchmarks/bench_sync.py [--orders 10000] [--repeat 1]

Each repeat runs in a fresh `$SF_STRIPE_HOME`, in a child process (so peak RSS is the sync's own):
1. `sf-stripe-pipeline sandbox reset --orders N`;
2. a first `sf-stripe-pipeline sync` (everything new);
3. a second `sync` right after (must write nothing).
Figures come from the sandboxes' request logs and the child's peak RSS. Medians over repeats are printed and
written to benchmarks/results/sync.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

CHILD = r"""
import json, resource, sys, time
from sf_stripe_pipeline import home
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox

sf = SalesforceSandbox(home.salesforce_sandbox_dir())
st = StripeSandbox(home.stripe_sandbox_dir())
sf_before, st_before = len(sf.request_log()), len(st.request_log())
started = time.perf_counter()
summary = run_sync()
elapsed = time.perf_counter() - started
sf_log, st_log = sf.request_log()[sf_before:], st.request_log()[st_before:]
print(json.dumps({
    "success": summary.success,
    "failure": summary.failure,
    "seconds": elapsed,
    "contracts_synced": summary.contracts_synced,
    "rejected": len(summary.rejected),
    "salesforce_calls": len(sf_log),
    "salesforce_writes": sum(1 for e in sf_log if e.is_write),
    "stripe_calls": len(st_log),
    "stripe_writes": sum(1 for e in st_log if e.is_write),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _run(args: list[str], env: dict[str, str]) -> str:
    completed = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def _sync(env: dict[str, str]) -> dict:
    return json.loads(_run([sys.executable, "-c", CHILD], env).strip().splitlines()[-1])


def _extracted_records(env: dict[str, str]) -> int:
    code = (
        "import duckdb; from sf_stripe_pipeline import home, warehouse; "
        "from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS; "
        "c = duckdb.connect(str(home.warehouse_path()), read_only=True); "
        "print(sum(c.execute(f'SELECT count(*) FROM {warehouse.table_name(s)}').fetchone()[0] for s in SOBJECTS))"
    )
    return int(_run([sys.executable, "-c", code], env).strip())


def bench_once(orders: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as state:
        env = {**os.environ, "SF_STRIPE_HOME": state}
        env.pop("DAGSTER_HOME", None)
        started = time.perf_counter()
        _run([sys.executable, "-m", "sf_stripe_pipeline.cli", "sandbox", "reset", "--orders", str(orders)], env)
        reset_seconds = time.perf_counter() - started
        first = _sync(env)
        second = _sync(env)
        extracted = _extracted_records(env)
    if not (first["success"] and second["success"]):
        raise SystemExit(f"sync failed: {first.get('failure') or second.get('failure')}")
    new_contracts = max(first["contracts_synced"], 1)
    return {
        "orders": orders,
        "reset_seconds": reset_seconds,
        "first_sync_seconds": first["seconds"],
        "contracts_synced": first["contracts_synced"],
        "contracts_rejected": first["rejected"],
        "stripe_calls_per_new_contract": first["stripe_calls"] / new_contracts,
        "stripe_writes_per_new_contract": first["stripe_writes"] / new_contracts,
        "salesforce_calls_first_sync": first["salesforce_calls"],
        "records_extracted": extracted,
        "salesforce_calls_per_1000_records_extracted": 1000 * first["salesforce_calls"] / max(extracted, 1),
        "noop_resync_seconds": second["seconds"],
        "noop_resync_stripe_writes": second["stripe_writes"],
        "noop_resync_salesforce_writes": second["salesforce_writes"],
        "peak_rss_mib_first_sync": first["peak_rss_mib"],
        "peak_rss_mib_noop_resync": second["peak_rss_mib"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = [bench_once(args.orders) for _ in range(args.repeat)]
    medians = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sync.json").write_text(json.dumps({"medians": medians, "runs": runs}, indent=2))
    width = max(len(name) for name in medians)
    for name, value in medians.items():
        print(f"{name:<{width}}  {value:,.2f}" if isinstance(value, float) else f"{name:<{width}}  {value:,}")
    print(f"(median of {len(runs)} run(s); peak RSS of this driver: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
