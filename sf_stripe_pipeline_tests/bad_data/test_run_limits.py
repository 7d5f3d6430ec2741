"""The run-wide limit (issue 7.1): more operations than `limits.max_operations_per_run` stops the apply before any
write, stated in one line; a dry run still ends normally with the whole plan stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# A fresh process: the limits come from the config the definitions load.
SCRIPT = """
import json, sys
from pathlib import Path
import dagster as dg
import duckdb
from sf_stripe_pipeline import clock, home
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.sync.scope import SYNC_PARTITIONS
from sf_stripe_pipeline.sandbox.demo_org import generate_demo_org
from sf_stripe_pipeline_tests.sandbox_clients import SandboxClients

clients = SandboxClients.at(Path(sys.argv[1]))
clients.salesforce.replace_org(generate_demo_org(28, seed=7, as_of=clock.now().date()))
today = SYNC_PARTITIONS.get_partition_key_for_timestamp(clock.now().timestamp())
outcome = {}
for job_name in ("plan_job", "sync_job"):
    result = defs().resolve_job_def(job_name).execute_in_process(
        partition_key=today, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "plan_within_limits"]
    conn = duckdb.connect(str(home.warehouse_path()), read_only=True)
    planned = conn.execute("SELECT count(*) FROM sync.plan").fetchone()[0]
    conn.close()
    outcome[job_name] = {
        "success": result.success,
        "check_passed": check.passed,
        "check_description": check.description,
        "planned": planned,
        "stripe_writes": sum(1 for entry in clients.stripe_sandbox.request_log() if entry.is_write),
    }
print(json.dumps(outcome))
"""


def test_over_the_operation_limit_a_dry_run_stores_the_plan_and_a_sync_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "sf_stripe.yaml"
    start = "2026-09-01"
    config.write_text(
        f"start_date: {start}\nlimits: {{max_operations_per_run: 3}}\n"
        "field_defaults: {subscription_schedule: {default_settings.collection_method: send_invoice}}\n"
        "field_mappings: {subscription_schedule: {default_settings.invoice_settings.days_until_due: "
        "SBQQ__PaymentTerm__c}}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "SF_STRIPE_CONFIG": str(config), "SF_STRIPE_HOME": str(tmp_path / "home"),
           "SF_STRIPE_SANDBOX_NOW": "2026-11-30T12:00:00Z", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "home")], env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    dry, sync = outcome["plan_job"], outcome["sync_job"]
    assert dry["success"] and not dry["check_passed"] and dry["planned"] > 3
    assert "operations planned, more than the limit of 3. To allow a large sync explicitly" in dry["check_description"]
    assert "--max-operations" in dry["check_description"]
    assert "\n" not in dry["check_description"]
    assert not sync["success"] and not sync["check_passed"] and sync["planned"] == dry["planned"]
    assert sync["stripe_writes"] == 0
