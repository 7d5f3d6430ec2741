"""Benchmark the apply engine: throughput against a slow, rate-limited Stripe.

    python benchmarks/bench_apply.py throughput [--orders 150] [--repeat 3] [--latency 0.2]

The sandbox answers every Stripe request after `--latency` seconds and enforces test mode's 25 requests a second
(Stripe's 429 body beyond it). A first sync of a generated org runs with the default config (the limiter paces at
the key mode's 25/s). Printed: requests a second during apply (first to last request of the apply step, reads and
writes: the limiter paces both) against the configured rate, and the 429s Stripe sent; median of `--repeat` runs.

Every sync is `sf-stripe-pipeline sync` in a child process against the embedded sandboxes, in a state home made by
benchmarks/bench_reliability.py (which runs the kill and fault probes of issues 10 and 12). Results go to
benchmarks/results/apply.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_reliability import RESULTS, StateHome  # the same folder: run as `python benchmarks/bench_apply.py`


def throughput(orders: int, repeat: int, latency: float) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-apply-") as root:
            state = StateHome(Path(root), orders)
            run = state.sync(stripe={"latency_seconds": latency, "requests_per_second": 25})
            log = state.stripe.request_log()
            writes = [entry for entry in log if entry.is_write]
            first_write = writes[0].seq
            applied = [entry for entry in log if entry.seq >= first_write]
            span = (applied[-1].at - applied[0].at).total_seconds()
            runs.append({
                "success": run.exit_code == 0,
                "sync_seconds": run.seconds,
                "apply_requests": len(applied),
                "apply_seconds": span,
                "requests_per_second": len(applied) / span if span else 0.0,
                "responses_429": sum(1 for entry in log if entry.status == 429),
            })
    rate = statistics.median(run["requests_per_second"] for run in runs)
    return {
        "orders": orders,
        "latency_seconds": latency,
        "configured_rate": 25,
        "median_requests_per_second": rate,
        "share_of_configured_rate": rate / 25,
        "responses_429": [run["responses_429"] for run in runs],
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("throughput",))
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS / "apply.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    result = throughput(args.orders or 150, args.repeat, args.latency)
    results["throughput"] = {"at": stamp, **result}
    print(f"apply throughput at {args.latency * 1000:.0f} ms latency: {result['median_requests_per_second']:.1f} "
          f"requests/s = {100 * result['share_of_configured_rate']:.0f} % of the configured 25/s "
          f"(median of {args.repeat}); 429s: {result['responses_429']}")
    results_file.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
