"""Reproduce the operator probes of issues 10 and 12 through the public CLI and compare each end state with a clean sync.

    python benchmarks/bench_reliability.py [--orders 300] [--kills 20] [--probes NAME ...] [--quick]

Every probe starts from a fresh `$SF_STRIPE_HOME` (temporary folder): `sf-stripe-pipeline sandbox reset --orders N`,
then the faulted or killed `sf-stripe-pipeline sync` (a child process; faults through `SF_STRIPE_SANDBOX_FAULTS` /
`SF_STRIPE_SALESFORCE_FAULTS`), then clean `sync`s until one writes nothing (at most 4). Its end state is compared
with one uninterrupted `sync` of the same org (same seed, same sandbox clock) by
sf_stripe_pipeline_tests/reliability/state.py: Stripe objects keyed by their Salesforce sync key, the Stripe ids
written back to Salesforce, and Sync_Record__c statuses.

Each printed row: duplicates (extra live Stripe objects for one sync key), missing (Stripe objects of the clean run
absent), differing (objects whose billing fields differ), unwritten (Stripe_ID__c write-backs that differ from the
clean run), stuck (orders whose Sync_Record__c is Error where the clean run's is not), the wall time of the faulted
run(s), the exit codes of the faulted run(s) and then of the re-runs, and the faulted run's one-line outcome.

Kill probes (`kill`, `kill-dagster-home`) are issue 12's crash probe: `--kills` real SIGKILLs in one state home,
at Stripe write counts spread evenly from the first to the last write of the clean run; each killed run is the
re-run of the one before, and clean re-runs follow the last. A kill is SIGKILL to the `sync` command's whole
process group, then to any process still carrying the probe's `SF_STRIPE_HOME` (with `DAGSTER_HOME` the run
executes in a subprocess of the code server the command starts): every process the command made dies at once, as
in a power cut. `kill-dagster-home` runs every `sync` with `DAGSTER_HOME` set to a folder holding the project's
dagster.yaml (the CLI submits the run to that instance and dequeues it itself, no daemon running).

`--quick`: 60 orders, 5 kills, and the probes `kill`, `stripe-500`, `rate-limit`, `salesforce-daily-limit`.
Results go to benchmarks/results/reliability.json (or `--results PATH`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
"""The README's config on the demo org, with a start date before the generated orders (the clock is fixed at NOW).
The Stripe rate and retry budget are the defaults an operator gets (25 requests/s for the sandbox's test key)."""
MAX_SETTLE_RUNS = 4
POLL_SECONDS = 0.05

from sf_stripe_pipeline import home  # noqa: E402
from sf_stripe_pipeline.sandbox.salesforce import FAULTS_ENV_VAR as SALESFORCE_FAULTS  # noqa: E402
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox  # noqa: E402
from sf_stripe_pipeline.sandbox.stripe import FAULTS_ENV_VAR as STRIPE_FAULTS  # noqa: E402
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox  # noqa: E402
from sf_stripe_pipeline_tests.reliability.state import SyncState, sync_state  # noqa: E402


@dataclass
class Run:
    """One `sf-stripe-pipeline sync` child process."""

    exit_code: int | None
    """None when this bench killed it."""
    seconds: float
    outcome: str
    """The first line of its stdout summary (or its last stderr line when it printed none)."""


@dataclass
class StateHome:
    """A fresh `$SF_STRIPE_HOME` with the generated org, and syncs run on it in child processes."""

    root: Path
    orders: int
    dagster_home: bool = False
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        (self.root / "sync.yaml").write_text(CONFIG, encoding="utf-8")
        self.env = {**os.environ, "SF_STRIPE_HOME": str(self.root), "SF_STRIPE_CONFIG": str(self.root / "sync.yaml"),
                    "SF_STRIPE_SANDBOX_NOW": NOW}
        for name in ("DAGSTER_HOME", STRIPE_FAULTS, SALESFORCE_FAULTS):
            self.env.pop(name, None)
        if self.dagster_home:
            instance = self.root / "dagster"
            instance.mkdir()
            shutil.copy(ROOT / "dagster.yaml", instance / "dagster.yaml")
            self.env["DAGSTER_HOME"] = str(instance)
        reset = subprocess.run(self._command("sandbox", "reset", "--orders", str(self.orders), "--as-of", NOW[:10]),
                               env=self.env, cwd=ROOT, capture_output=True, text=True)
        if reset.returncode != 0:
            raise SystemExit(f"sandbox reset failed:\n{reset.stderr}")
        self.stripe = StripeSandbox(home.stripe_sandbox_dir(self.root))
        self.salesforce = SalesforceSandbox(home.salesforce_sandbox_dir(self.root))

    @staticmethod
    def _command(*args: str) -> list[str]:
        return [sys.executable, "-m", "sf_stripe_pipeline.cli", *args]

    def _faulted(self, stripe: Mapping[str, Any] | None, salesforce: Mapping[str, Any] | None) -> dict[str, str]:
        self.stripe.configure_faults(None)  # restarts the fail-after count
        env = dict(self.env)
        if stripe:
            env[STRIPE_FAULTS] = json.dumps(stripe)
        if salesforce:
            env[SALESFORCE_FAULTS] = json.dumps(salesforce)
        return env

    def sync(self, stripe: Mapping[str, Any] | None = None, salesforce: Mapping[str, Any] | None = None) -> Run:
        started = time.perf_counter()
        completed = subprocess.run(self._command("sync"), env=self._faulted(stripe, salesforce), cwd=ROOT,
                                   capture_output=True, text=True)
        lines = completed.stdout.strip().splitlines() or completed.stderr.strip().splitlines() or [""]
        return Run(completed.returncode, time.perf_counter() - started, lines[0][:200])

    def sync_killed_at(self, stripe_writes: int) -> Run:
        """A `sync`, SIGKILLed once this home's Stripe sandbox has executed `stripe_writes` writes in all (its exit
        code when it ended first)."""
        started = time.perf_counter()
        process = subprocess.Popen(self._command("sync"), env=self._faulted(None, None), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while process.poll() is None:
            if self.stripe_writes() >= stripe_writes:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                survivors = self._kill_survivors()
                note = f" ({survivors} detached process(es) killed too)" if survivors else ""
                return Run(None, time.perf_counter() - started, f"SIGKILL at Stripe write {stripe_writes}{note}")
            time.sleep(POLL_SECONDS)
        return Run(process.returncode, time.perf_counter() - started, f"ended before Stripe write {stripe_writes}")

    def _kill_survivors(self) -> int:
        """SIGKILL every process still running with this home's SF_STRIPE_HOME (started by the killed command in a
        session of its own); how many there were."""
        marker = f"SF_STRIPE_HOME={self.root}\0".encode()
        killed = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                if marker in (proc / "environ").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
                    killed += 1
            except (OSError, PermissionError):
                continue
        return killed

    def stripe_writes(self) -> int:
        return sum(1 for entry in self.stripe.request_log() if entry.is_write and entry.status < 400)

    def writes_since(self, stripe_before: int, salesforce_before: int) -> int:
        stripe = sum(1 for entry in self.stripe.request_log()[stripe_before:] if entry.is_write)
        return stripe + sum(1 for entry in self.salesforce.request_log()[salesforce_before:] if entry.is_write)

    def settle(self) -> list[Run]:
        """Clean syncs until one writes nothing to Stripe or Salesforce."""
        runs = []
        for _ in range(MAX_SETTLE_RUNS):
            before = len(self.stripe.request_log()), len(self.salesforce.request_log())
            runs.append(self.sync())
            if self.writes_since(*before) == 0:
                break
        return runs

    def state(self) -> SyncState:
        os.environ["SF_STRIPE_SANDBOX_NOW"] = NOW  # the clients read the sandbox clock from the environment
        return sync_state(self.stripe.client(), self.salesforce.client())


@dataclass(frozen=True)
class Probe:
    description: str
    fault: Callable[[StateHome, int], list[Run]]
    """Runs the faulted sync(s) on a fresh home, given the clean run's Stripe write count."""
    dagster_home: bool = False


def _kill_points(clean_writes: int, kills: int) -> list[int]:
    """`kills` Stripe write counts spread evenly from the first write to the last of the clean run."""
    if kills == 1:
        return [max(1, clean_writes // 2)]
    return [1 + (clean_writes - 1) * n // (kills - 1) for n in range(kills)]


def _kills(kills: int) -> Callable[[StateHome, int], list[Run]]:
    def fault(state: StateHome, clean_writes: int) -> list[Run]:
        return [state.sync_killed_at(point) for point in _kill_points(clean_writes, kills)]
    return fault


def _once(stripe: Mapping[str, Any] | None = None, salesforce: Mapping[str, Any] | None = None
          ) -> Callable[[StateHome, int], list[Run]]:
    return lambda state, clean_writes: [state.sync(stripe, salesforce)]


def probes(kills: int) -> dict[str, Probe]:
    return {
        "kill": Probe(f"SIGKILL of sync at {kills} points, first to last Stripe write, then re-runs", _kills(kills)),
        "kill-dagster-home": Probe(f"the same {kills} SIGKILLs with DAGSTER_HOME (run submitted to the instance)",
                                   _kills(kills), dagster_home=True),
        "stripe-500": Probe("Stripe 500 (before executing) on 50 % of requests, then clean re-runs",
                            _once({"error_rate": 0.5, "seed": 1})),
        "stripe-500-after-execution": Probe("Stripe executes, then 500 saved under the key, on 50 % of requests",
                                            _once({"error_after_execution_rate": 0.5, "seed": 2})),
        "rate-limit": Probe("Stripe enforces 25 requests/s, plus 30 % 429 and 5 % 500",
                            _once({"requests_per_second": 25, "rate_limit_error_rate": 0.3, "error_rate": 0.05,
                                   "seed": 3})),
        "fail-after-200": Probe("Stripe fails every write after the 200th (default retry budget)",
                                _once({"fail_after_writes": 200})),
        "salesforce-read-500": Probe("Salesforce 500 on every read (a dead API), then clean re-runs",
                                     _once(salesforce={"read_error_rate": 1.0, "seed": 5})),
        "salesforce-read-500-20pct": Probe("Salesforce 500 on 20 % of reads",
                                           _once(salesforce={"read_error_rate": 0.2, "seed": 6})),
        "salesforce-session-expiry": Probe("Salesforce session expires every 20 requests (401 INVALID_SESSION_ID)",
                                           _once(salesforce={"session_expires_after_requests": 20})),
        "salesforce-daily-limit": Probe("Salesforce daily API limit of 5 requests (REQUEST_LIMIT_EXCEEDED)",
                                        _once(salesforce={"daily_api_limit": 5})),
        "salesforce-write-back-500": Probe("Salesforce 500 on every write after the first (write-back)",
                                           _once(salesforce={"fail_after_writes": 1})),
        "salesforce-lock-row": Probe("Salesforce UNABLE_TO_LOCK_ROW on 20 % of record writes",
                                     _once(salesforce={"lock_row_rate": 0.2, "seed": 4})),
    }


QUICK = ("kill", "stripe-500", "rate-limit", "salesforce-daily-limit")


def compare(state: SyncState, clean: SyncState) -> dict[str, Any]:
    """The probe's end state against the clean run's, counted as the table reports it."""
    problems = state.differences(clean)
    return {
        "duplicates": sum(count - 1 for count in state.duplicates.values())
        + sum(count - 1 for count in state.snapshots.values() if count > 1),
        "missing": sum(1 for line in problems if line.startswith("missing in Stripe")),
        "extra": sum(1 for line in problems if line.startswith("extra in Stripe")),
        "differing": sum(1 for line in problems if line.startswith("differs in Stripe")),
        "unwritten": sum(1 for line in problems if line.startswith(("Stripe_ID__c", "snapshot Stripe_ID__c"))),
        "stuck": sum(1 for compound, status in state.sync_records.items()
                     if status == "Error" and clean.sync_records.get(compound) != "Error"),
        "equal_to_clean": not problems,
        "first_differences": problems[:3],
    }


def run_probe(name: str, probe: Probe, orders: int, clean: SyncState, clean_writes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as root:
        state = StateHome(Path(root), orders, dagster_home=probe.dagster_home)
        started = time.perf_counter()
        faulted = probe.fault(state, clean_writes)
        faulted_seconds = time.perf_counter() - started
        reruns = state.settle()
        row = {
            "probe": name,
            "description": probe.description,
            "faulted_seconds": round(faulted_seconds, 1),
            "faulted_exit_codes": [run.exit_code for run in faulted],
            "rerun_exit_codes": [run.exit_code for run in reruns],
            "rerun_seconds": [round(run.seconds, 1) for run in reruns],
            "outcome": faulted[-1].outcome if len(faulted) == 1 else
            f"{sum(run.exit_code is None for run in faulted)} killed, "
            f"{sum(run.exit_code is not None for run in faulted)} ended first",
            **compare(state.state(), clean),
        }
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| probe | duplicates | missing | differing | unwritten | stuck | equal to clean | faulted run (s) "
             "| exit codes: faulted; re-runs | faulted run's outcome |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        faulted = ",".join("kill" if code is None else str(code) for code in row["faulted_exit_codes"])
        lines.append(
            f"| {row['description']} | {row['duplicates']} | {row['missing']} | {row['differing']} | "
            f"{row['unwritten']} | {row['stuck']} | {'yes' if row['equal_to_clean'] else 'no'} | "
            f"{row['faulted_seconds']} | {faulted}; {','.join(map(str, row['rerun_exit_codes']))} | "
            f"{row['outcome'].replace('|', '/')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=None, help="generated orders (default 300; 60 with --quick)")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILL points of the kill probes (default 20)")
    parser.add_argument("--probes", nargs="+", default=None, metavar="NAME",
                        help=f"probes to run (default all): {', '.join(probes(1))}")
    parser.add_argument("--quick", action="store_true", help="a small org, 5 kills and four probes")
    parser.add_argument("--results", type=Path, default=RESULTS / "reliability.json", help="JSON file to write")
    args = parser.parse_args()
    orders = args.orders or (60 if args.quick else 300)
    available = probes(args.kills or (5 if args.quick else 20))
    chosen = args.probes or (QUICK if args.quick else list(available))
    if unknown := [name for name in chosen if name not in available]:
        parser.error(f"unknown probe(s) {', '.join(unknown)}; choose from {', '.join(available)}")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-clean-") as root:
        clean_home = StateHome(Path(root), orders)
        clean_run = clean_home.sync()
        clean, clean_writes = clean_home.state(), clean_home.stripe_writes()
    print(f"clean run: exit {clean_run.exit_code}, {clean_run.seconds:.1f} s, {clean_writes} Stripe writes, "
          f"{len(clean.stripe)} Stripe objects, {len(clean.duplicates)} duplicated", flush=True)
    rows = [run_probe(name, available[name], orders, clean, clean_writes) for name in chosen]

    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "orders": orders,
        "clean_run": {"exit_code": clean_run.exit_code, "seconds": round(clean_run.seconds, 1),
                      "stripe_writes": clean_writes, "stripe_objects": len(clean.stripe)},
        "total_seconds": round(time.perf_counter() - started, 1), "rows": rows,
    }, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
