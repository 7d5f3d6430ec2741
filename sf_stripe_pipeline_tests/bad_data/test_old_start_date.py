"""A start date long before the org's first order is fine (issue 10.5), and costs no per-day work: a backfill from
it is one run whose window starts at that date (`SyncScopeConfig.from_date`), and the sync assets are not partitioned,
so Dagster records one materialization per asset instead of one per asset and day (a range from 2000 would be about
9,800 days)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sf_stripe_pipeline.definitions import defs

# Run in a fresh process: the partitions' start date is read from the config when the definitions load.
SCRIPT = """
import json, sys
import dagster as dg
from sf_stripe_pipeline import clock
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.jobs import scope_run_config
from sf_stripe_pipeline.defs.sync.scope import SYNC_PARTITIONS
from sf_stripe_pipeline.sandbox.demo_org import generate_demo_org
from sf_stripe_pipeline_tests.sandbox_clients import SandboxClients
from pathlib import Path

clients = SandboxClients.at(Path(sys.argv[1]))
clients.salesforce.replace_org(generate_demo_org(28, seed=7, as_of=clock.now().date()))
result = defs().resolve_job_def("sync_job").execute_in_process(
    run_config=scope_run_config(from_date=sys.argv[2]), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
)
materialized = [event.asset_key.to_user_string() for event in result.all_events
                if event.event_type_value == "ASSET_MATERIALIZATION"]
orders = clients.sf.query_all("SELECT Stripe_ID__c FROM Order")["records"]
print(json.dumps({
    "success": result.success,
    "partitions": SYNC_PARTITIONS.get_num_partitions(),
    "materialized": materialized,
    "synced_orders": sum(1 for order in orders if order["Stripe_ID__c"]),
}))
"""


def test_a_start_date_decades_before_the_first_order_syncs_in_one_run(tmp_path: Path) -> None:
    config = tmp_path / "sf_stripe.yaml"
    config.write_text(
        "start_date: 2000-01-01\n"
        "field_defaults: {subscription_schedule: {default_settings.collection_method: send_invoice}}\n"
        "field_mappings: {customer: {email: Email__c}, subscription_schedule: "
        "{default_settings.invoice_settings.days_until_due: SBQQ__PaymentTerm__c}}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "SF_STRIPE_CONFIG": str(config), "SF_STRIPE_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "home"), "2000-01-01"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["success"]
    assert outcome["partitions"] > 9_000  # every day since 2000 is a partition...
    sync_assets = [key for key in outcome["materialized"] if key.startswith("sync/")]
    assert sorted(sync_assets) == sorted(set(sync_assets))  # ...but each asset is materialized once, not per day
    assert {"sync/validated_contracts", "sync/applied_sync"} <= set(sync_assets)
    assert outcome["synced_orders"] >= 20  # the demo org's valid orders, all activated in the last 60 days


def test_the_job_exposes_the_from_date_setting() -> None:
    job = defs().resolve_job_def("sync_job")
    fields = job.run_config_schema.config_type.fields["ops"].config_type.fields
    validated = next(name for name in fields if name.endswith("validated_contracts"))
    assert "from_date" in fields[validated].config_type.fields["config"].config_type.fields
