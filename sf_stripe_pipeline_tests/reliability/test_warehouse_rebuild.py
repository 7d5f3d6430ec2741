"""`sf-stripe-pipeline warehouse rebuild` (issue 11.1): a lost or damaged warehouse is rebuilt from what Salesforce and
Stripe hold, writing to neither; the ledger ends up with the Stripe ids the lost one had, so the next sync writes
nothing and bills no one-time charge twice. Driven through the command line's `main()` against the sandboxes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sf_stripe_pipeline import home
from sf_stripe_pipeline.cli import main
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.runner import sync_request
from sf_stripe_pipeline.sandbox.stripe import FAULTS_ENV_VAR as STRIPE_FAULTS
from sf_stripe_pipeline.warehouse import ledger
from sf_stripe_pipeline_tests.reliability.conftest import Harness, patched_environment

REPO = Path(__file__).resolve().parents[2]
ADOPTED_LINE = re.compile(
    r"^  (\w+) +(\d+)  \((\d+) by the Stripe_ID__c written back, (\d+) by salesforce_sync_key metadata\)$"
)


def _ledger(harness: Harness) -> dict[str, str]:
    with duckdb.connect(str(home.warehouse_path(harness.home)), read_only=True) as conn:
        return ledger.ids(conn)


def _write_counts(harness: Harness) -> tuple[int, int]:
    """Write requests each sandbox has received so far (Stripe, Salesforce), refused ones included."""
    return (
        sum(1 for entry in harness.stripe_sandbox.request_log() if entry.is_write),
        sum(1 for entry in harness.salesforce.request_log() if entry.is_write),
    )


def _invoice_items(harness: Harness) -> list[str]:
    return [item.id for item in harness.stripe.v1.invoice_items.list({"limit": 100}).auto_paging_iter()]


def _cli(harness: Harness, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with patched_environment(harness.environment()):
        code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _synced(harness: Harness) -> dict[str, str]:
    """The org synced (settled), and the ledger that sync left."""
    harness.settle()
    assert _invoice_items(harness), "the org has one-time charges (F26): the objects a rebuild must not bill again"
    return _ledger(harness)


def _adopted(report: str) -> dict[str, tuple[int, int, int]]:
    """Stripe object type -> (adopted, by written-back id, by sync key), from the rebuild's report."""
    return {
        match[1]: (int(match[2]), int(match[3]), int(match[4]))
        for line in report.splitlines()
        if (match := ADOPTED_LINE.match(line))
    }


def _assert_rebuilt_exactly(harness: Harness, report: str, before: dict[str, str]) -> None:
    """The ledger holds exactly the ids the lost one did, and the report counts them per type, both ways summed."""
    assert _ledger(harness) == before
    adopted = _adopted(report)
    assert {name: total for name, (total, _, _) in adopted.items()} == dict(
        Counter(ref.split(":", 1)[0] for ref in before)
    )
    assert all(total == by_id + by_key for total, by_id, by_key in adopted.values())
    assert adopted["customer"][1] > 0, "customers are found by the Stripe ids written back on their Accounts"
    assert adopted["invoice_item"][2] > 0, "invoice items have no write-back: they are found by their sync key"
    assert "Next sync: 0 Stripe operations planned" in report


def test_a_deleted_warehouse_is_rebuilt_from_stripe_and_salesforce_writing_to_neither(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _synced(harness)
    invoice_items = _invoice_items(harness)
    home.warehouse_path(harness.home).unlink()
    writes = _write_counts(harness)

    code, out, err = _cli(harness, capsys, "warehouse", "rebuild")

    assert code == 0, err
    assert _write_counts(harness) == writes, "the rebuild wrote nothing to Stripe or Salesforce"
    _assert_rebuilt_exactly(harness, out, before)
    assert "kept" not in out, "there was no warehouse to keep aside"

    code, out, _ = _cli(harness, capsys, "sync")
    assert code == 0, out
    assert _write_counts(harness) == writes, "the next sync wrote nothing either"
    assert _invoice_items(harness) == invoice_items, "no one-time charge billed again"


@pytest.mark.parametrize("damage", ["garbage", "half"])
def test_a_damaged_warehouse_is_refused_then_kept_aside_and_rebuilt(
    harness: Harness, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    before = _synced(harness)
    invoice_items = _invoice_items(harness)
    path = home.warehouse_path(harness.home)
    whole = path.read_bytes()
    damaged = os.urandom(len(whole)) if damage == "garbage" else whole[: len(whole) // 2]
    path.write_bytes(damaged)
    writes = _write_counts(harness)

    code, out, err = _cli(harness, capsys, "sync")
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"sf-stripe-pipeline: error: {path}: the warehouse is damaged (")
    assert "Run `sf-stripe-pipeline warehouse rebuild`" in line

    code, out, err = _cli(harness, capsys, "warehouse", "rebuild")
    assert code == 0, err
    [aside] = path.parent.glob("warehouse.duckdb.damaged-*")
    assert aside.read_bytes() == damaged, "the damaged file is kept as it was"
    assert f"The damaged warehouse is kept at {aside}" in out
    assert _write_counts(harness) == writes
    _assert_rebuilt_exactly(harness, out, before)

    code, out, _ = _cli(harness, capsys, "sync")
    assert code == 0, out
    assert _write_counts(harness) == writes
    assert _invoice_items(harness) == invoice_items


def test_a_readable_warehouse_is_kept_as_the_previous_one(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    """Rebuilding a warehouse that still opens (say, to recover a ledger that lost rows) keeps it readable aside."""
    before = _synced(harness)
    path = home.warehouse_path(harness.home)
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"DELETE FROM {ledger.TABLE.qualified} WHERE stripe_object IN ('invoice_item', 'customer')")
    writes = _write_counts(harness)

    code, out, err = _cli(harness, capsys, "warehouse", "rebuild")

    assert code == 0, err
    [aside] = path.parent.glob("warehouse.duckdb.previous-*")
    with duckdb.connect(str(aside), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM sync.sync_records").fetchone()[0] > 0, "its audit trail is kept"
    assert _write_counts(harness) == writes
    _assert_rebuilt_exactly(harness, out, before)


def test_the_rebuild_refuses_while_another_process_holds_the_warehouse(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home.warehouse_path(harness.home)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True); "
                               "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "open\n"
        code, out, err = _cli(harness, capsys, "warehouse", "rebuild")
    finally:
        holder.communicate("")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"sf-stripe-pipeline: error: {path}: another process (PID {holder.pid}) has the warehouse open, probably a "
        "sync: wait for it to finish, then run `sf-stripe-pipeline warehouse rebuild` again. Nothing was changed"
    ]
    assert sorted(p.name for p in path.parent.glob("warehouse.duckdb*")) == ["warehouse.duckdb"]


def test_the_rebuild_refuses_while_a_run_of_the_instance_is_in_progress(
    harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With `DAGSTER_HOME`, a run of the sync's jobs in progress (here a dry run slowed by Stripe) is named."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    slow = {**harness.environment(stripe_faults={"latency_seconds": 0.5}), "DAGSTER_HOME": str(dagster_home)}
    path = home.warehouse_path(harness.home)
    with patched_environment(slow), dg.DagsterInstance.get() as instance:
        job_name, run_config, _ = sync_request(dry_run=True)
        running = threading.Thread(
            target=lambda: defs().resolve_job_def(job_name).execute_in_process(instance=instance, run_config=run_config)
        )
        running.start()
        try:
            run = _wait_for_run_in_progress(instance)
            capsys.readouterr()
            code = main(["warehouse", "rebuild"])
            err = capsys.readouterr().err
        finally:
            running.join()
    assert code == 2
    assert err.splitlines() == [
        f"sf-stripe-pipeline: error: run {run.run_id} (plan_job, STARTED) is writing the warehouse: wait for it to "
        "finish (or cancel it in the Dagster UI), then run `sf-stripe-pipeline warehouse rebuild` again. Nothing was "
        "changed"
    ]
    assert sorted(p.name for p in path.parent.glob("warehouse.duckdb*")) == ["warehouse.duckdb"]


def _wait_for_run_in_progress(instance: dg.DagsterInstance, timeout: float = 120) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs := instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            return runs[0]
        time.sleep(0.05)
    raise AssertionError("the run never started")
