"""Benchmark the apply engine: throughput against a slow, rate-limited Stripe, and the kill/fault probes of issue 10.

    python benchmarks/bench_apply.py throughput [--orders 150] [--repeat 3] [--latency 0.2]
    python benchmarks/bench_apply.py probes [--orders 300] [--kills 12]

`throughput`: the sandbox answers every Stripe request after `--latency` seconds and enforces test mode's 25
requests a second (Stripe's 429 body beyond it). A first sync of a generated org runs with the default config
(the limiter paces at the key mode's 25/s). Printed: requests a second during apply (first to last request of the
apply step, reads and writes: the limiter paces both) against the configured rate, and the 429s Stripe sent;
median of `--repeat` runs.

`probes`: the operator probes of issue 10 on a generated org, each from a fresh state home and compared with a clean
sync of the same org (Stripe objects by sync key and billing fields, Stripe ids written back, Sync_Record__c
statuses: see sf_stripe_pipeline_tests/reliability/state.py). Each row gives what the probe leaves after the
re-runs: duplicate, missing and differing objects, stuck orders, and the time of the faulted run.

Every sync is `sf-stripe-pipeline sync` in a child process against the embedded sandboxes, with faults set through
`SF_STRIPE_SANDBOX_FAULTS` / `SF_STRIPE_SALESFORCE_FAULTS`. Results go to benchmarks/results/apply.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
NOW = "2025-03-10T12:00:00Z"
CONFIG = """start_date: 2025-01-01
filters:
  Order: "Status = 'Activated'"
field_defaults:
  customer:
    metadata.source: salesforce
  subscription_schedule:
    default_settings.collection_method: send_invoice
field_mappings:
  customer:
    email: Email__c
  subscription_schedule:
    default_settings.invoice_settings.days_until_due: SBQQ__PaymentTerm__c
"""

from sf_stripe_pipeline import home  # noqa: E402
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox  # noqa: E402
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox  # noqa: E402
from sf_stripe_pipeline_tests.reliability.state import SyncState, sync_state  # noqa: E402


class StateHome:
    """A fresh `$SF_STRIPE_HOME` with the generated org, and syncs run on it in child processes."""

    def __init__(self, orders: int, root: Path):
        self.root = root
        (root / "sync.yaml").write_text(CONFIG, encoding="utf-8")
        self.env = {**os.environ, "SF_STRIPE_HOME": str(root), "SF_STRIPE_CONFIG": str(root / "sync.yaml"),
                    "SF_STRIPE_SANDBOX_NOW": NOW}
        self.env.pop("DAGSTER_HOME", None)
        self._cli("sandbox", "reset", "--orders", str(orders), "--as-of", NOW[:10])
        self.stripe = StripeSandbox(home.stripe_sandbox_dir(root))
        self.salesforce = SalesforceSandbox(home.salesforce_sandbox_dir(root))

    def _cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sf_stripe_pipeline.cli", *args], env=env or self.env,
                              cwd=ROOT, capture_output=True, text=True)

    def _faulted(self, stripe: dict | None, salesforce: dict | None) -> dict[str, str]:
        self.stripe.configure_faults(None)  # restarts the fail-after count
        env = dict(self.env)
        if stripe:
            env["SF_STRIPE_SANDBOX_FAULTS"] = json.dumps(stripe)
        if salesforce:
            env["SF_STRIPE_SALESFORCE_FAULTS"] = json.dumps(salesforce)
        return env

    def sync(self, stripe: dict | None = None, salesforce: dict | None = None) -> tuple[bool, float]:
        started = time.perf_counter()
        completed = self._cli("sync", env=self._faulted(stripe, salesforce))
        return completed.returncode == 0, time.perf_counter() - started

    def sync_killed_when(self, reached: Callable[[], bool]) -> bool:
        process = subprocess.Popen([sys.executable, "-m", "sf_stripe_pipeline.cli", "sync"], env=self._faulted(None, None),
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None:
            if reached():
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.02)
        return False

    def stripe_writes(self) -> int:
        return sum(1 for entry in self.stripe.request_log() if entry.is_write and entry.status < 400)

    def settle(self, runs: int = 3) -> None:
        for _ in range(runs):
            before = (len(self.stripe.request_log()), len(self.salesforce.request_log()))
            self.sync()
            writes = sum(1 for e in self.stripe.request_log()[before[0]:] if e.is_write)
            writes += sum(1 for e in self.salesforce.request_log()[before[1]:] if e.is_write)
            if writes == 0:
                return

    def state(self) -> SyncState:
        os.environ["SF_STRIPE_SANDBOX_NOW"] = NOW
        return sync_state(self.stripe.client(), self.salesforce.client())


def _summary(state: SyncState, clean: SyncState) -> dict[str, int]:
    problems = state.differences(clean)
    stuck = sum(1 for compound, status in state.sync_records.items()
                if status == "Error" and clean.sync_records.get(compound) != "Error")
    return {
        "duplicates": sum(count - 1 for count in state.duplicates.values()),
        "missing": sum(1 for line in problems if line.startswith("missing in Stripe")),
        "differing": sum(1 for line in problems if line.startswith(("differs in Stripe", "Stripe_ID__c"))),
        "stuck_orders": stuck,
        "first_differences": problems[:3],
    }


def throughput(orders: int, repeat: int, latency: float) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-apply-") as root:
            state = StateHome(orders, Path(root))
            ok, seconds = state.sync(stripe={"latency_seconds": latency, "requests_per_second": 25})
            log = state.stripe.request_log()
            writes = [entry for entry in log if entry.is_write]
            first_write = writes[0].seq
            applied = [entry for entry in log if entry.seq >= first_write]
            span = (applied[-1].at - applied[0].at).total_seconds()
            runs.append({
                "success": ok,
                "sync_seconds": seconds,
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


def probes(orders: int, kills: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-clean-") as root:
        clean_home = StateHome(orders, Path(root))
        clean_home.sync()
        clean, clean_writes = clean_home.state(), clean_home.stripe_writes()

    def probe(name: str, fault_run: Callable[[StateHome], tuple[bool, float] | None]) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-probe-") as root:
            state = StateHome(orders, Path(root))
            started = time.perf_counter()
            fault_run(state)
            faulted_seconds = time.perf_counter() - started
            state.settle()
            rows.append({"probe": name, "faulted_seconds": round(faulted_seconds, 1), **_summary(state.state(), clean)})
            print(rows[-1], flush=True)

    for n in range(1, kills + 1):
        point = clean_writes * n // (kills + 1)
        probe(f"SIGKILL of sync at Stripe write {point}, then re-runs",
              lambda state, point=point: state.sync_killed_when(lambda: state.stripe_writes() >= point))
    probe("Stripe answers 500 (before executing) to 50 % of requests, then re-runs",
          lambda state: state.sync(stripe={"error_rate": 0.5, "seed": 1}))
    probe("Stripe executes, then answers 500 (saved under the key) to 50 % of writes, then re-runs",
          lambda state: state.sync(stripe={"error_after_execution_rate": 0.5, "seed": 2}))
    probe("Stripe enforces 25 requests/s, plus 30 % 429 and 5 % 500",
          lambda state: state.sync(stripe={"requests_per_second": 25, "rate_limit_error_rate": 0.3,
                                           "error_rate": 0.05, "seed": 3}))
    probe(f"fail every Stripe write after the {clean_writes // 2}th (default retry budget)",
          lambda state: state.sync(stripe={"fail_after_writes": clean_writes // 2}))
    probe("Salesforce sessions expire every 20 requests",
          lambda state: state.sync(salesforce={"session_expires_after_requests": 20}))
    probe("Salesforce 500 on every write-back (after the coupon snapshots), then re-runs",
          lambda state: state.sync(salesforce={"fail_after_writes": 1}))
    probe("Salesforce UNABLE_TO_LOCK_ROW on 20 % of record writes",
          lambda state: state.sync(salesforce={"lock_row_rate": 0.2, "seed": 4}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("throughput", "probes"))
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--kills", type=int, default=12)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS / "apply.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    if args.what == "throughput":
        result = throughput(args.orders or 150, args.repeat, args.latency)
        results["throughput"] = {"at": stamp, **result}
        print(f"apply throughput at {args.latency * 1000:.0f} ms latency: {result['median_requests_per_second']:.1f} "
              f"requests/s = {100 * result['share_of_configured_rate']:.0f} % of the configured 25/s "
              f"(median of {args.repeat}); 429s: {result['responses_429']}")
    else:
        rows = probes(args.orders or 300, args.kills)
        results["probes"] = {"at": stamp, "orders": args.orders or 300, "rows": rows}
        print(f"| probe | faulted run (s) | duplicates | missing | differing | stuck orders |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['probe']} | {row['faulted_seconds']} | {row['duplicates']} | {row['missing']} | "
                  f"{row['differing']} | {row['stuck_orders']} |")
    results_file.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
