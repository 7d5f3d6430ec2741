"""Benchmark the whole sync on a generated org (default 10,000 orders) against the embedded sandboxes.

    python benchmarks/bench_sync.py [--orders 10000] [--repeat 1] [--one-order | --dry-run]

Each repeat runs in a fresh `$SF_STRIPE_HOME`, in a child process (so peak RSS is the sync's own):
1. `sf-stripe-pipeline sandbox reset --orders N`;
2. a first `sf-stripe-pipeline sync` (everything new);
3. a second `sync` right after (must write nothing; the first sync's write-backs changed every order, so every
   contract is assessed again);
4. a third, "quiet" `sync`: nothing changed since the second, so no contract is assessed or read again.
`--one-order`: three activated orders are set back to Draft before the first sync (the config's filter leaves them
out); after the quiet re-sync one is activated again and synced with `sync --order <id>`, then the second is
activated and picked up by a plain `sync` (a new order in a synced org, every day from the start date in scope),
then the third is activated the next day and picked up by that day's live-sync run (`sync --from <that day>`,
today's partition, as `live_sync_schedule` runs it; the sandboxes' and the sync's clock are pinned one day on,
`SF_STRIPE_SANDBOX_NOW`, since the bench builds its org and syncs it on one day). They are new-business orders (no
amendment, no amended contract) whose account and price book entries other orders share, so their customer,
products and prices exist.
`--dry-run`: only steps 1 and `sync --dry-run` (extract, validate, desired, actual, plan; nothing written).
Figures come from the sandboxes' request logs and the child's peak RSS. Medians over repeats are printed and
written to benchmarks/results/sync.json (sync-one-order.json, sync-dry-run.json).
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

CHILD = r"""
import json, resource, sys, time
from datetime import date
from sf_stripe_pipeline import home
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox

sf = SalesforceSandbox(home.salesforce_sandbox_dir())
st = StripeSandbox(home.stripe_sandbox_dir())
sf_before, st_before = len(sf.request_log()), len(st.request_log())
started = time.perf_counter()
args = json.loads(sys.argv[1])
if "from_date" in args:
    args["from_date"] = date.fromisoformat(args["from_date"])
summary = run_sync(**args)
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
    "contracts_assessed": summary.contracts_assessed,
    "org_read": summary.org_read,
}))
"""


def _run(args: list[str], env: dict[str, str]) -> str:
    completed = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


HOLD_BACK = r"""
import json, sys
from collections import Counter
from sf_stripe_pipeline import home
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox

sf = SalesforceSandbox(home.salesforce_sandbox_dir()).client()
# New business only: not an amendment, nor the initial order of an amended contract (an amendment is a change of a
# contract, with its own writes: a schedule update, its line prices).
opportunities = sf.query_all_iter("SELECT Id, SBQQ__AmendedContract__c FROM Opportunity")
amending = {r["Id"]: r["SBQQ__AmendedContract__c"] for r in opportunities if r["SBQQ__AmendedContract__c"]}
amended_contracts = set(amending.values())
contracts = sf.query_all_iter("SELECT Id, SBQQ__Quote__c FROM Contract")
amended_quotes = {r["SBQQ__Quote__c"] for r in contracts if r["Id"] in amended_contracts}
orders = {r["Id"]: r["AccountId"] for r in sf.query_all_iter(
    "SELECT Id, AccountId, OpportunityId, SBQQ__Quote__c FROM Order WHERE Status = 'Activated'")
    if r["OpportunityId"] not in amending and r["SBQQ__Quote__c"] not in amended_quotes}
entries = {}
for item in sf.query_all_iter("SELECT OrderId, PricebookEntryId FROM OrderItem"):
    entries.setdefault(item["OrderId"], set()).add(item["PricebookEntryId"])
per_account = Counter(orders.values())
per_entry = Counter(entry for order in orders for entry in entries.get(order, ()))
shared = [order for order, account in sorted(orders.items())
          if per_account[account] > 2 and entries.get(order) and all(per_entry[e] > 2 for e in entries[order])]
held = shared[:3]
for order in held:
    sf.Order.update(order, {"Status": "Draft"})
print(json.dumps(held))
"""

ACTIVATE = r"""
import sys
from sf_stripe_pipeline import home
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox

SalesforceSandbox(home.salesforce_sandbox_dir()).client().Order.update(sys.argv[1], {"Status": "Activated"})
"""


def _sync(env: dict[str, str], **run_sync_args: object) -> dict:
    args = [sys.executable, "-c", CHILD, json.dumps(run_sync_args)]
    figures = json.loads(_run(args, env).strip().splitlines()[-1])
    print(f"sync {run_sync_args or ''}: {json.dumps(figures)}", file=sys.stderr, flush=True)  # progress
    return figures


def _one_new_order(env: dict[str, str], held_back: list[str]) -> dict:
    """Activate the held-back orders again: the first synced by `sync --order`, the second by a plain `sync`, the
    third the next day by that day's live-sync run."""
    _run([sys.executable, "-c", ACTIVATE, held_back[0]], env)
    manual = _sync(env, order_ids=[held_back[0]])
    _run([sys.executable, "-c", ACTIVATE, held_back[1]], env)
    plain = _sync(env)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    next_day = {**env, "SF_STRIPE_SANDBOX_NOW": tomorrow.isoformat(timespec="seconds")}
    _run([sys.executable, "-c", ACTIVATE, held_back[2]], next_day)
    tick = _sync(next_day, from_date=tomorrow.date().isoformat())
    if not (manual["success"] and plain["success"] and tick["success"]):
        raise SystemExit(f"one-order sync failed: {manual.get('failure') or plain.get('failure') or tick.get('failure')}")
    return {
        "one_order_manual_sync_seconds": manual["seconds"],
        "one_order_manual_sync_stripe_writes": manual["stripe_writes"],
        "one_order_manual_sync_stripe_reads": manual["stripe_calls"] - manual["stripe_writes"],
        "one_order_manual_sync_salesforce_calls": manual["salesforce_calls"],
        "one_order_manual_sync_peak_rss_mib": manual["peak_rss_mib"],
        "one_order_plain_sync_seconds": plain["seconds"],
        "one_order_plain_sync_stripe_writes": plain["stripe_writes"],
        "one_order_plain_sync_stripe_reads": plain["stripe_calls"] - plain["stripe_writes"],
        "one_order_plain_sync_salesforce_calls": plain["salesforce_calls"],
        "one_order_live_sync_tick_seconds": tick["seconds"],
        "one_order_live_sync_tick_stripe_writes": tick["stripe_writes"],
        "one_order_live_sync_tick_stripe_reads": tick["stripe_calls"] - tick["stripe_writes"],
        "one_order_live_sync_tick_peak_rss_mib": tick["peak_rss_mib"],
    }


def _reset(orders: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    _run([sys.executable, "-m", "sf_stripe_pipeline.cli", "sandbox", "reset", "--orders", str(orders)], env)
    return time.perf_counter() - started


def _fresh_env(state: str) -> dict[str, str]:
    env = {**os.environ, "SF_STRIPE_HOME": state}
    env.pop("DAGSTER_HOME", None)
    return env


def bench_dry_run(orders: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as state:
        env = _fresh_env(state)
        reset_seconds = _reset(orders, env)
        dry = _sync(env, dry_run=True)
    # A plan larger than the config's limit is refused after planning: the figures still measure the whole plan.
    return {
        "orders": orders,
        "reset_seconds": reset_seconds,
        "dry_run_seconds": dry["seconds"],
        "dry_run_success": dry["success"],
        "dry_run_stripe_calls": dry["stripe_calls"],
        "dry_run_stripe_writes": dry["stripe_writes"],
        "dry_run_salesforce_calls": dry["salesforce_calls"],
        "peak_rss_mib_dry_run": dry["peak_rss_mib"],
    }


def _extracted_records(env: dict[str, str]) -> int:
    code = (
        "import duckdb; from sf_stripe_pipeline import home, warehouse; "
        "from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS; "
        "c = duckdb.connect(str(home.warehouse_path()), read_only=True); "
        "print(sum(c.execute(f'SELECT count(*) FROM {warehouse.table_name(s)}').fetchone()[0] for s in SOBJECTS))"
    )
    return int(_run([sys.executable, "-c", code], env).strip())


def bench_once(orders: int, one_order: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as state:
        env = _fresh_env(state)
        reset_seconds = _reset(orders, env)
        held_back = json.loads(_run([sys.executable, "-c", HOLD_BACK], env).strip()) if one_order else []
        first = _sync(env)
        second = _sync(env)
        quiet = _sync(env)
        extracted = _extracted_records(env)
        incremental = _one_new_order(env, held_back) if one_order else {}
    if not (first["success"] and second["success"] and quiet["success"]):
        raise SystemExit(f"sync failed: {first.get('failure') or second.get('failure') or quiet.get('failure')}")
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
        "quiet_resync_seconds": quiet["seconds"],
        "quiet_resync_stripe_calls": quiet["stripe_calls"],
        "quiet_resync_stripe_writes": quiet["stripe_writes"],
        "quiet_resync_salesforce_writes": quiet["salesforce_writes"],
        "peak_rss_mib_quiet_resync": quiet["peak_rss_mib"],
        **incremental,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--one-order", action="store_true", help="also time one new order in the synced org")
    mode.add_argument("--dry-run", action="store_true", help="only a `sync --dry-run` of the fresh org")
    args = parser.parse_args()
    if args.dry_run:
        runs, results = [bench_dry_run(args.orders) for _ in range(args.repeat)], "sync-dry-run.json"
    else:
        runs = [bench_once(args.orders, args.one_order) for _ in range(args.repeat)]
        results = "sync-one-order.json" if args.one_order else "sync.json"
    medians = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / results).write_text(json.dumps({"medians": medians, "runs": runs}, indent=2))
    width = max(len(name) for name in medians)
    for name, value in medians.items():
        print(f"{name:<{width}}  {value:,.2f}" if isinstance(value, float) else f"{name:<{width}}  {value:,}")
    print(f"(median of {len(runs)} run(s); peak RSS of this driver: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
