"""The org read on demand from the warehouse (`warehouse/org.py::WarehouseOrg`), which a manual sync assesses its
contracts through so that syncing one order costs what that order reads, however large the org (issue 9). It must
be indistinguishable from the org loaded whole (`load_org`): the same contracts (`core.contracts.contracts_of` vs
`build_contracts`), the same assessments and the same traced inputs, so a contract assessed either way is kept or
assessed again alike. The demo org goes through the real simple-salesforce client into DuckDB."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.core import SCHEMAS, build_contracts, contracts_in_scope, contracts_of
from sf_stripe_pipeline.core.assessment_inputs import assess_changed_in_batches
from sf_stripe_pipeline.core.config import parse_config
from sf_stripe_pipeline.core.rules import STRIPE_ID_OBJECTS, shared_record_violations
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.salesforce.extract import extract_object
from sf_stripe_pipeline.sandbox.demo_org import generate_demo_org
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.warehouse import org as org_tables
from sf_stripe_pipeline.warehouse import prepare

TODAY = date(2025, 3, 10)
CONFIG = parse_config({"start_date": "2025-01-01"})
INSTANCE_URL = "https://sandbox.my.salesforce.com"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The 60-order demo org (every demo case) extracted into a warehouse, with two accounts made to share one Stripe id."""
    folder = tmp_path_factory.mktemp("warehouse_org")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NOW_ENV_VAR, "2025-03-10T12:00:00Z")
        sandbox = SalesforceSandbox(folder / "salesforce")
        demo = generate_demo_org(60, seed=7, as_of=TODAY)
        sandbox.replace_org(demo)
        client = sandbox.client()
        first, second = (account["Id"] for account in demo["Account"][:2])
        for account_id in (first, second):
            client.Account.update(account_id, {"Stripe_ID__c": "cus_shared"})
        conn = duckdb.connect(str(folder / "warehouse.duckdb"))
        prepare(conn)
        for sobject in SOBJECTS:
            extract_object(client, conn, sobject, where="Status = 'Activated'" if sobject == "Order" else None)
        # A line whose Order is not in the org: a contract of its own, under that Order's Id.
        conn.execute(
            'INSERT INTO salesforce."OrderItem" SELECT * REPLACE (\'802MISSINGLINE0AAA\' AS "Id", '
            '\'801MISSINGORDER0AAA\' AS "OrderId") FROM salesforce."OrderItem" LIMIT 1'
        )
        # A line with a blank OrderId names no order: no contract, either way.
        conn.execute(
            'INSERT INTO salesforce."OrderItem" SELECT * REPLACE (\'802BLANKORDER00AAA\' AS "Id", \'\' AS "OrderId") '
            'FROM salesforce."OrderItem" LIMIT 1'
        )
        yield conn, (first, second)
        conn.close()
        sandbox.close()


def _assess(contracts, org, conn):
    found = assess_changed_in_batches(
        contracts,
        org,
        CONFIG,
        today=TODAY,
        instance_url=INSTANCE_URL,
        stored_schema_failures=org_tables.stored_schema_failures(conn, list(SCHEMAS)),
        stored_inputs={},
        shared_by_id=shared_record_violations(org_tables.stripe_id_sharers(conn, STRIPE_ID_OBJECTS)),
    )
    assessments, inputs = {}, {}
    for batch, batch_inputs in found.batches:
        assessments.update(batch)
        inputs.update(batch_inputs)
    return assessments, inputs


def test_the_contracts_of_chosen_orders_are_those_build_contracts_makes(extracted) -> None:
    conn, _ = extracted
    every = build_contracts(org_tables.load_org(conn))
    by_order = {order_id: contract for contract in every for order_id in contract.order_ids}
    assert any(contract.amendment_order_ids for contract in every), "the demo org has amended contracts"
    assert "801MISSINGORDER0AAA" in by_order

    for order_id, contract in by_order.items():
        assert contracts_of(org_tables.WarehouseOrg(conn), [order_id]) == [contract], order_id
    assert contracts_of(org_tables.WarehouseOrg(conn), list(by_order)) == every
    assert contracts_of(org_tables.WarehouseOrg(conn), ["801NOSUCHORDER00AAA", ""]) == []
    assert "" not in by_order


def test_assessing_through_the_warehouse_org_gives_what_the_loaded_org_gives(extracted) -> None:
    conn, _ = extracted
    loaded = org_tables.load_org(conn)
    contracts = build_contracts(loaded)
    on_demand = org_tables.WarehouseOrg(conn)

    assert _assess(contracts, on_demand, conn) == _assess(contracts, loaded, conn)
    assert on_demand.objects_loaded_whole == frozenset()


def test_one_contract_reads_only_its_own_records(extracted) -> None:
    conn, sharing_accounts = extracted
    amended = next(
        contract
        for contract in build_contracts(org_tables.load_org(conn))
        if contract.amendment_order_ids and contract.account_id not in sharing_accounts
    )
    on_demand = org_tables.WarehouseOrg(conn)

    [contract] = contracts_of(on_demand, [amended.amendment_order_ids[-1]])
    assessments, inputs = _assess([contract], on_demand, conn)

    assert contract == amended and assessments[contract.key].synced_order_ids
    assert on_demand.objects_loaded_whole == frozenset()
    read = sum(len(records) for records in on_demand._by_id.values())
    assert read < 60, f"{read} records read for one contract of {len(contract.order_ids)} orders"
    assert set(inputs[contract.key].reads.records) <= {
        (sobject, record_id) for sobject, records in on_demand._by_id.items() for record_id in records
    }


def test_shared_stripe_ids_are_found_without_loading_the_org(extracted) -> None:
    conn, (first, second) = extracted
    sharers = org_tables.stripe_id_sharers(conn, STRIPE_ID_OBJECTS)

    assert {record["Id"] for record in sharers.records("Account")} == {first, second}
    found = shared_record_violations(sharers)
    assert found == shared_record_violations(org_tables.load_org(conn))
    assert {rule.rule for violations in found.values() for rule in violations} == {"stripe_id_unique"}
    assert set(found) == {first, second}


def _windows(conn) -> list[tuple[datetime, datetime]]:
    """Some of the days an order was activated or a record of one changed, weeks from them, and the whole span."""
    stamps = sorted(
        stamp
        for (stamp,) in conn.execute(
            'SELECT "ActivatedDate" FROM salesforce."Order" UNION SELECT "SystemModstamp" FROM salesforce."OrderItem" '
            'UNION SELECT "LastModifiedDate" FROM salesforce."SBQQ__Quote__c" '
            'UNION SELECT "SystemModstamp" FROM salesforce."Order_Stripe_Coupon__c"'
        ).fetchall()
        if stamp is not None
    )
    days = sorted({datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC) for stamp in stamps})
    return [
        *((day, day + timedelta(days=1)) for day in days[::4]),
        *((day, day + timedelta(days=7)) for day in days[1::12]),
        (days[0], days[-1] + timedelta(days=1)),
    ]


def test_a_windows_changed_orders_select_the_contracts_the_loaded_org_selects(extracted) -> None:
    conn, _ = extracted
    loaded = org_tables.load_org(conn)
    every = build_contracts(loaded)
    windows = _windows(conn)
    selections = []
    for window in windows:
        on_demand = org_tables.WarehouseOrg(conn)
        changed = org_tables.orders_changed_in(conn, window)
        selected = contracts_in_scope(contracts_of(on_demand, changed), on_demand, window=window)
        assert selected == contracts_in_scope(every, loaded, window=window), window
        assert on_demand.objects_loaded_whole == frozenset()
        selections.append(len(selected))
    assert len(windows) > 10 and sum(1 for count in selections if count) > 10 and max(selections) == len(every)
