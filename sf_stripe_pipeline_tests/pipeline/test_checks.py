"""The asset checks are real checks: every extracted object has a schema check, each executable on its own; every
table asset reports Dagster's table metadata; rejections and plans are tables."""

from __future__ import annotations

import duckdb
import dagster as dg
import pytest

from sf_stripe_pipeline import home, warehouse
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS
from sf_stripe_pipeline.defs.sync.assets import (
    ACTUAL_STATE,
    APPLIED_SYNC,
    DESIRED_STATE,
    SYNC_PLAN,
    VALIDATED_CONTRACTS,
)
from sf_stripe_pipeline.sandbox.demo_org import DemoCase
from sf_stripe_pipeline.sandbox.stripe.faults import FAULTS_ENV_VAR as STRIPE_FAULTS

from .conftest import SyncedOrg

TABLE_ASSETS = [*EXTRACT_KEYS.values(), VALIDATED_CONTRACTS, DESIRED_STATE, ACTUAL_STATE, SYNC_PLAN, APPLIED_SYNC]


@pytest.fixture
def synced_instance(demo_org: SyncedOrg) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    result = defs().resolve_job_def("sync_job").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success, [event.message for event in result.all_events if event.is_failure]
    return instance


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict:
    [record] = instance.fetch_materializations(key, limit=1).records
    return record.asset_materialization.metadata


def test_every_extracted_object_has_a_schema_check_that_the_sync_evaluates(synced_instance) -> None:
    graph = defs().resolve_asset_graph()
    for key in EXTRACT_KEYS.values():
        assert [check.name for check in graph.get(key).check_keys] == ["schema"], key
        evaluation = synced_instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, "schema")]
        )[dg.AssetCheckKey(key, "schema")]
        assert evaluation.evaluation.passed, key  # the demo's bad records break rules, not the schemas


def test_every_table_asset_reports_its_row_count_and_column_schema(synced_instance, demo_org: SyncedOrg) -> None:
    with duckdb.connect(str(home.warehouse_path())) as conn:
        for key in TABLE_ASSETS:
            metadata = _latest(synced_instance, key)
            table = metadata["dagster/table_name"].value
            described = [row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall()]
            assert [column.name for column in metadata["dagster/column_schema"].schema.columns] == described, key
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if key in EXTRACT_KEYS.values():
                # applied_sync's settle extracts the run's own Salesforce writes after the extraction reported
                # (the coupon snapshots it created): an extracted table can only have grown since.
                assert metadata["dagster/row_count"].value <= rows, key
            else:
                assert metadata["dagster/row_count"].value == rows, key
    assert _latest(synced_instance, EXTRACT_KEYS["Order"])["dagster/row_count"].value == len(demo_org.org["Order"])


def test_rejections_and_the_plan_are_tables(synced_instance, demo_org: SyncedOrg) -> None:
    [bad_order] = demo_org.orders(DemoCase.INVALID_DECIMAL_QUANTITY)
    rejections = _latest(synced_instance, VALIDATED_CONTRACTS)["rejections"]
    assert isinstance(rejections, dg.TableMetadataValue)
    assert [column.name for column in rejections.schema.columns] == ["contract", "order", "rule", "record", "message"]
    assert {"contract": bad_order["Id"], "rule": "integer_quantity"}.items() <= next(
        record.data for record in rejections.records if record.data["contract"] == bad_order["Id"]
    ).items()

    planned = _latest(synced_instance, SYNC_PLAN)["plan"]
    assert isinstance(planned, dg.TableMetadataValue)
    assert {"create", "finalize"} <= {record.data["operation"] for record in planned.records}
    assert len(planned.records) == _latest(synced_instance, SYNC_PLAN)["dagster/row_count"].value


def test_a_schema_check_executes_on_its_own_and_names_the_failing_record(demo_org: SyncedOrg) -> None:
    instance = dg.DagsterInstance.ephemeral()
    coupon_key = EXTRACT_KEYS["Quote_Stripe_Coupon__c"]
    check_key = dg.AssetCheckKey(coupon_key, "schema")
    definitions = dg.Definitions.merge(
        defs(),
        dg.Definitions(jobs=[dg.define_asset_job("coupon_schema_only", selection=dg.AssetSelection.checks(check_key))]),
    )
    extract = definitions.resolve_job_def("sync_job").execute_in_process(
        instance=instance, op_selection=["extract_salesforce"]
    )
    assert extract.success
    coupon_id = demo_org.org["Quote_Stripe_Coupon__c"][0]["Id"]
    with duckdb.connect(str(home.warehouse_path())) as conn:  # a value the catalogue's picklist does not allow
        conn.execute(
            f"UPDATE {warehouse.table_name('Quote_Stripe_Coupon__c')} SET Duration__c = 'sometimes' WHERE Id = ?",
            [coupon_id],
        )
    requests_before = len(demo_org.salesforce.request_log())

    result = definitions.resolve_job_def("coupon_schema_only").execute_in_process(instance=instance)

    assert result.success, "a failing schema check warns; it does not fail the run"
    [evaluation] = result.get_asset_check_evaluations()
    assert (evaluation.asset_key, evaluation.check_name, evaluation.passed) == (coupon_key, "schema", False)
    [failure] = evaluation.metadata["failure_cases"].records
    assert failure.data["Id"] == coupon_id and failure.data["failure_case"] == "sometimes"
    assert not result.get_asset_materialization_events(), "executing a check extracts nothing"
    assert len(demo_org.salesforce.request_log()) == requests_before


def test_failed_operations_fail_the_run_through_no_sync_errors(
    demo_org: SyncedOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRIPE_FAULTS, '{"fail_after_writes": 70}')

    result = defs().resolve_job_def("sync_job").execute_in_process(raise_on_error=False)

    assert not result.success, "a run with failed operations is never green"
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_sync_errors"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    failed = check.metadata["failed"].value
    assert failed > 0 and check.description.startswith(f"{failed} of ")
    rows = [record.data for record in check.metadata["failed_operations"].records]
    assert any("Injected fault: writes fail after 70 executed writes" in row["message"] for row in rows)
    [applied] = [e for e in result.get_asset_materialization_events() if e.asset_key == APPLIED_SYNC]
    metadata = applied.materialization.metadata
    assert (metadata["failed"].value, metadata["rejected"].value) == (failed, 5), "API failures apart from rejections"
