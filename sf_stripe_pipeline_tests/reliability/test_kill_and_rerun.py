"""Kill-and-rerun (issues 10.1, 12.1, 12.4): a sync interrupted at any point, then re-run until settled, ends in
exactly the state of an uninterrupted sync of the same org: the same Stripe objects (0 duplicates, 0 missing), the
same Stripe ids written back, every order's Sync_Record__c as in the clean run (0 stuck).

Interruptions: the Stripe sandbox failing every write after N executed writes (a run that loses Stripe at write N,
from the first write to the last), Salesforce failing write-backs after N requests, real SIGKILLs of the
`sf-stripe-pipeline sync` process, Stripe's 24 h idempotency window passing before the re-run, and the warehouse
deleted after a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sf_stripe_pipeline import clock, home
from sf_stripe_pipeline_tests.reliability.conftest import AS_OF, CleanRun, Harness, make_harness

STEP = 9
"""Stripe writes each interrupted run makes before Stripe fails every write."""


def _later(instant: str, hours: float) -> str:
    return (clock.parse_instant(instant) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def test_syncs_interrupted_from_the_first_to_the_last_write_converge_to_the_clean_run(
    harness: Harness, clean_run: CleanRun
) -> None:
    kill_points = []
    for run in range(40):
        writes_before = harness.stripe_write_count()
        # Every third run also loses Salesforce after its coupon snapshots: write-backs fail (issue 12.4).
        salesforce = {"fail_after_writes": 1} if run % 3 == 2 else None
        summary = harness.sync(stripe_faults={"fail_after_writes": STEP}, salesforce_faults=salesforce)
        made = harness.stripe_write_count() - writes_before
        if made < STEP:  # Stripe never failed: the plan was done before the fault point
            break
        kill_points.append(writes_before + STEP)
        assert summary.stripe_operations, "each interrupted run records what it did"
    assert len(kill_points) >= 8, kill_points
    assert kill_points[0] == STEP and kill_points[-1] >= clean_run.stripe_writes - STEP, (kill_points, clean_run.stripe_writes)

    harness.settle()
    assert harness.state().differences(clean_run.state) == []


def test_recovery_after_the_idempotency_window_and_without_the_warehouse(
    tmp_path: Path, reliability_config: Path
) -> None:
    """Past Stripe's 24 h key window a repeated create executes afresh, so what a crashed run created must be found
    by its sync key: through the recorded intent, or, with the warehouse deleted, by the read before planning. Some
    creates also meet Stripe's other 500 (executed, then failed, and replayed under the key): recovered by lookup.

    The org is generated as of ten days before the first run, so that none of its dates falls on the days the
    runs move through: what an order should become in Stripe is then the same on each of them."""
    as_of = AS_OF - timedelta(days=10)
    harness = make_harness(tmp_path / "crashed", reliability_config, as_of=as_of)
    for step, (writes, drop_warehouse) in enumerate(((12, False), (15, True), (25, False), (20, True))):
        harness.sync(stripe_faults={"fail_after_writes": writes, "error_after_execution_rate": 0.2, "seed": step})
        if drop_warehouse:
            home.warehouse_path(harness.home).unlink()
        harness.now = _later(harness.now, 25)
    harness.settle()

    clean = make_harness(tmp_path / "clean", reliability_config, as_of=as_of)
    assert clean.sync().success
    clean.now = harness.now  # both read at the same Stripe clock (schedules advance lazily)
    assert harness.state().differences(clean.state()) == []


def _sync_process(harness: Harness) -> subprocess.Popen:
    environment = dict(os.environ)
    for name, value in harness.environment().items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.Popen(
        [sys.executable, "-m", "sf_stripe_pipeline.cli", "sync"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _salesforce_writes(harness: Harness) -> int:
    return sum(1 for entry in harness.salesforce.request_log() if entry.is_write)


def _sigkill_when(harness: Harness, reached: Callable[[int, int], bool]) -> bool:
    """Run `sf-stripe-pipeline sync` and SIGKILL it as soon as `reached(stripe writes, Salesforce writes)` (both
    counted from its start) holds; False if it ended first."""
    stripe_before, salesforce_before = harness.stripe_write_count(), _salesforce_writes(harness)
    process = _sync_process(harness)
    while process.poll() is None:
        if reached(harness.stripe_write_count() - stripe_before, _salesforce_writes(harness) - salesforce_before):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.02)
    return False


def test_sigkilled_sync_processes_converge_to_the_clean_run(harness: Harness, clean_run: CleanRun) -> None:
    """Three real SIGKILLs of `sf-stripe-pipeline sync`: early in apply, late in apply, and in write-back (the
    coupon snapshots were made by the first run, so the third run's first Salesforce write is a write-back)."""
    late = clean_run.stripe_writes * 2 // 3
    killed = [
        _sigkill_when(harness, lambda stripe_writes, _: stripe_writes >= 5),
        _sigkill_when(harness, lambda stripe_writes, _: harness.stripe_write_count() >= late),
        _sigkill_when(harness, lambda _, salesforce_writes: salesforce_writes >= 1),
    ]
    assert killed == [True, True, True]
    harness.settle()
    assert harness.state().differences(clean_run.state) == []
