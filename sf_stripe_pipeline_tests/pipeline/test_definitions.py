"""The code location loads (`dg check defs`), has the documented shape, and explains a bad config; and the
README's demo command works as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS
from sf_stripe_pipeline.defs.stripe.assets import STRIPE_DRIFT
from sf_stripe_pipeline.defs.sync.assets import (
    ACTUAL_STATE,
    APPLIED_SYNC,
    DESIRED_STATE,
    SYNC_PLAN,
    VALIDATED_CONTRACTS,
)
from sf_stripe_pipeline.defs.sync.scope import SYNC_PARTITIONS
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.core import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SYNC_ASSETS = [VALIDATED_CONTRACTS, DESIRED_STATE, ACTUAL_STATE, SYNC_PLAN, APPLIED_SYNC]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _env(**overrides: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SF_", "STRIPE_", "DAGSTER"))}
    return {**env, **overrides}


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    result = _run([str(BIN / "dg"), "check", "defs"], _env(SF_STRIPE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_the_definitions_have_the_documented_shape() -> None:
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) == {*EXTRACT_KEYS.values(), *SYNC_ASSETS, STRIPE_DRIFT}
    assert len(EXTRACT_KEYS) == len(SOBJECTS) == 21  # with the five consumption-schedule objects (F19)
    for key in [*SYNC_ASSETS, *EXTRACT_KEYS.values()]:
        node = graph.get(key)
        assert node.partitions_def is None, "the days are partitions of sync_job, not of its assets"
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    assert SYNC_PARTITIONS.start.date().isoformat() == "2025-01-01"
    assert definitions.resolve_job_def("sync_job").partitions_def == SYNC_PARTITIONS
    assert definitions.resolve_job_def("manual_sync_job").partitions_def is None
    for job in definitions.get_repository_def().get_all_jobs():  # the executor is set once, for the location
        assert job.executor_def.name == "in_process", job.name
    assert graph.get(APPLIED_SYNC).pools == {"stripe_api"}
    assert graph.get(EXTRACT_KEYS["Order"]).pools == {"salesforce_api"}
    assert {job.name for job in definitions.jobs} >= {"sync_job", "plan_job", "manual_sync_job"}
    assert APPLIED_SYNC not in definitions.resolve_job_def("plan_job").asset_layer.executable_asset_keys
    blocking = [spec for spec in graph.get(SYNC_PLAN).check_keys]
    assert [key.name for key in blocking] == ["plan_within_limits"]


def test_a_bad_config_fails_loading_with_the_key_and_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("start_date: 2025-01-01\nfield_mappings:\n  customer:\n    email: Emial__c\n")
    result = _run(
        [str(BIN / "dg"), "check", "defs"], _env(SF_STRIPE_HOME=str(tmp_path), SF_STRIPE_CONFIG=str(config))
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert str(config) in output
    assert "field_mappings.customer.email" in output and "Emial__c" in output

    config.write_text("start_date: 2025-01-01\nlimits:\n  max_operations_per_run: 0\n")
    with pytest.raises(ConfigError, match=r"limits\.max_operations_per_run: .*greater than or equal to 1"):
        load_config(config)


def test_the_readme_demo_then_a_second_sync_writes_nothing(tmp_path: Path) -> None:
    """README's first command (after install), with the shipped sf_stripe.yaml and the real clock."""
    env = _env(SF_STRIPE_HOME=str(tmp_path))
    demo = _run([str(BIN / "sf-stripe-pipeline"), "demo"], env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    synced = int(re.search(r"Contracts synced: (\d+)", demo.stdout).group(1))
    assert synced >= 20
    assert re.search(r"create subscription_schedule \(success\): (\d+)", demo.stdout)
    assert "invalid_decimal_quantity" in demo.stdout, "the demo summary names the rejected demo cases"

    again = _run([str(BIN / "sf-stripe-pipeline"), "sync"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Stripe sandbox write requests during the run: 0" in again.stdout
    assert "Salesforce sandbox write requests during the run: 0" in again.stdout
    assert f"Contracts synced: {synced}" in again.stdout


def test_dg_launch_runs_a_partition_range_and_a_manual_sync_as_the_readme_says(demo_org, tmp_path: Path) -> None:
    """README: `dg launch --job sync_job --partition-range A...B`, `--partition DAY`, and
    `dg launch --job manual_sync_job --config-json`."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = _env(
        SF_STRIPE_HOME=os.environ["SF_STRIPE_HOME"], SF_STRIPE_CONFIG=os.environ["SF_STRIPE_CONFIG"],
        SF_STRIPE_SANDBOX_NOW=os.environ["SF_STRIPE_SANDBOX_NOW"], DAGSTER_HOME=str(dagster_home),
    )
    [order, *_] = demo_org.unamended_new_orders()

    ranged = _run([str(BIN / "dg"), "launch", "--job", "sync_job", "--partition-range", "2025-03-01...2025-03-10"], env)
    one_day = _run([str(BIN / "dg"), "launch", "--job", "sync_job", "--partition", "2025-03-09"], env)
    manual = _run(
        [str(BIN / "dg"), "launch", "--job", "manual_sync_job", "--config-json", f'{{"order_ids": ["{order["Id"]}"]}}'],
        env,
    )

    for launched in (ranged, one_day, manual):
        assert launched.returncode == 0, launched.stdout + launched.stderr
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        assert [run.job_name for run in runs] == ["manual_sync_job", "sync_job", "sync_job"]
        assert runs[2].tags["dagster/asset_partition_range_start"] == "2025-03-01"
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        scopes = [
            record.asset_materialization.metadata["scope"].value
            for record in instance.fetch_materializations(APPLIED_SYNC, limit=3).records
        ]
    assert scopes == [f"orders {order['Id']}", "2025-03-09", "2025-03-01...2025-03-10"]
    assert demo_org.stripe_id("Order", order["Id"]).startswith("sub_sched_")


def test_extraction_stops_when_the_salesforce_api_budget_is_spent(tmp_path: Path) -> None:
    """Sforce-Limit-Info is honoured: past the resource's usage limit, extraction fails clearly and is not retried."""
    from dagster_duckdb import DuckDBResource

    from sf_stripe_pipeline.defs.salesforce.assets import extract_salesforce
    from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource

    salesforce = SalesforceResource(sandbox_dir=str(tmp_path / "sf"), api_usage_limit_percent=0.001)
    result = dg.materialize(
        [extract_salesforce],
        resources={"salesforce": salesforce, "duckdb": DuckDBResource(database=str(tmp_path / "w.duckdb"))},
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "Salesforce daily API usage is" in message and "api_usage_limit_percent = 0.001" in message
    assert len(result.get_asset_materialization_events()) == 1, "the first object ran before usage was known"
    assert not [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]
