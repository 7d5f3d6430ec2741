"""Benchmark the embedded sandboxes through the real clients.

    python benchmarks/bench_sandboxes.py [--repeat 3] [--orders 10000]

1. `sf-stripe-pipeline sandbox reset --orders N` wall time, through the console script in a child process
   (generation + Salesforce load + Stripe reset + interpreter start). Target: < 30 s at 10,000 orders.
2. Order + OrderItem records per second extracted through simple-salesforce in process
   (`query_all_iter(..., include_deleted=True)`, every catalogue field) from that org. Target: >= 20,000/s.
3. Stripe sandbox creates (customers) per second over loopback HTTP (`transport.serve` + a StripeClient
   pointed at it), single-threaded, with 0, 10,000 and 20,000 objects already stored. Target: >= 500/s at
   10,000, and a per-request cost that does not grow with the store (ratio of costs, 20,000 vs 0, near 1).

Medians over repeats are printed and written to benchmarks/results/sandboxes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import stripe
from tabulate import tabulate

from sf_stripe_pipeline import home
from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.sandbox.stripe import SANDBOX_API_KEY, StripeSandbox
from sf_stripe_pipeline.sandbox.transport import serve

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PINNED_NOW = "2025-03-10T12:00:00"  # the same org on every run
STORE_SIZES = (0, 10_000, 20_000)
CREATES_PER_RUN = 500
RESET_TARGET_SECONDS = 30.0
EXTRACTION_TARGET_PER_SECOND = 20_000.0
STRIPE_TARGET_PER_SECOND = 500.0


def _cli() -> list[str]:
    """The installed console script, as a user runs it (falls back to `python -m` in a bare checkout)."""
    script = Path(sys.executable).with_name("sf-stripe-pipeline")
    found = str(script) if script.exists() else shutil.which("sf-stripe-pipeline")
    return [found] if found else [sys.executable, "-m", "sf_stripe_pipeline.cli"]


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_reset(state: Path, orders: int, repeat: int) -> list[float]:
    env = {**os.environ, home.HOME_ENV_VAR: str(state), NOW_ENV_VAR: PINNED_NOW}
    command = [*_cli(), "sandbox", "reset", "--orders", str(orders)]

    def reset() -> None:
        completed = subprocess.run(command, env=env, capture_output=True, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")

    return [_timed(reset)[0] for _ in range(repeat)]


def bench_extraction(state: Path, repeat: int) -> tuple[list[float], int]:
    """Records per second of each run, and the number of records extracted per run."""
    queries = [f"SELECT {', '.join(SOBJECTS[sobject].fields)} FROM {sobject}" for sobject in ("Order", "OrderItem")]
    with closing(SalesforceSandbox(home.salesforce_sandbox_dir(state))) as salesforce:
        client = salesforce.client()

        def extract() -> int:
            return sum(1 for soql in queries for _ in client.query_all_iter(soql, include_deleted=True))

        runs = [_timed(extract) for _ in range(repeat)]
    records = int(runs[0][1])  # type: ignore[call-overload]
    return [records / seconds for seconds, _ in runs], records


def bench_stripe_creates(state: Path, repeat: int) -> dict[int, list[float]]:
    """Loopback creates per second at each store size; the store is filled in process between sizes."""
    rates: dict[int, list[float]] = {}
    with closing(StripeSandbox(state / "stripe-bench")) as sandbox, serve(sandbox) as server:
        sandbox.reset()
        filler = sandbox.client()
        over_http = stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": server.url})
        stored = 0

        def create(client: stripe.StripeClient, count: int) -> None:
            nonlocal stored
            for _ in range(count):
                client.v1.customers.create(params={"name": f"Customer {stored}", "metadata": {"n": str(stored)}})
                stored += 1

        for size in STORE_SIZES:
            create(filler, max(0, size - stored))
            rates[size] = [CREATES_PER_RUN / _timed(lambda: create(over_http, CREATES_PER_RUN))[0]
                           for _ in range(repeat)]
    return rates


def _row(measure: str, runs: list[float], unit: str, target: str = "", met: bool | None = None) -> list[str]:
    verdict = "" if met is None else "yes" if met else "NO"
    return [measure, f"{statistics.median(runs):,.1f} {unit}", ", ".join(f"{r:,.1f}" for r in runs), target, verdict]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sandboxes-") as directory:
        state = Path(directory)
        reset_seconds = bench_reset(state, args.orders, args.repeat)
        extraction_rates, extracted = bench_extraction(state, args.repeat)
        stripe_rates = bench_stripe_creates(state, args.repeat)

    reset_median = statistics.median(reset_seconds)
    extraction_median = statistics.median(extraction_rates)
    stripe_medians = {size: statistics.median(runs) for size, runs in stripe_rates.items()}
    # Per-request cost is 1/rate, so the cost ratio of the largest store to the empty one is rate(0)/rate(max).
    cost_ratio = stripe_medians[STORE_SIZES[0]] / stripe_medians[STORE_SIZES[-1]]
    results = {
        "orders": args.orders,
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "medians": {
            "reset_seconds": reset_median,
            "extraction_records_per_second": extraction_median,
            "extraction_records_per_run": extracted,
            **{f"stripe_creates_per_second_at_{size}": rate for size, rate in stripe_medians.items()},
            f"stripe_cost_ratio_{STORE_SIZES[-1]}_vs_{STORE_SIZES[0]}": cost_ratio,
        },
        "runs": {
            "reset_seconds": reset_seconds,
            "extraction_records_per_second": extraction_rates,
            **{f"stripe_creates_per_second_at_{size}": runs for size, runs in stripe_rates.items()},
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sandboxes.json").write_text(json.dumps(results, indent=2) + "\n")

    table = [
        _row(f"sandbox reset --orders {args.orders:,}", reset_seconds, "s", f"< {RESET_TARGET_SECONDS:.0f} s",
             reset_median < RESET_TARGET_SECONDS),
        _row(f"Order+OrderItem extraction ({extracted:,} records)", extraction_rates, "/s",
             f">= {EXTRACTION_TARGET_PER_SECOND:,.0f}/s", extraction_median >= EXTRACTION_TARGET_PER_SECOND),
        *(
            _row(f"Stripe creates over HTTP, {size:,} stored", runs, "/s")
            if size != 10_000 else
            _row(f"Stripe creates over HTTP, {size:,} stored", runs, "/s", f">= {STRIPE_TARGET_PER_SECOND:.0f}/s",
                 stripe_medians[size] >= STRIPE_TARGET_PER_SECOND)
            for size, runs in stripe_rates.items()
        ),
    ]
    print(tabulate(table, headers=["measure", "median", "runs", "target", "met"]))
    print(f"Stripe per-request cost, {STORE_SIZES[-1]:,} stored vs {STORE_SIZES[0]}: x{cost_ratio:.2f} "
          f"(does not grow if near 1)")
    print(f"Written to {RESULTS / 'sandboxes.json'}")


if __name__ == "__main__":
    main()
