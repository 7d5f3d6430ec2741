"""The demo org synced end to end through Dagster, checked through the real clients (stripe SDK, simple-salesforce)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import pytest

from sf_stripe_pipeline import home
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.core.mapping import BILLING_FREQUENCY_MONTHS
from sf_stripe_pipeline.core.money import add_months
from sf_stripe_pipeline.salesforce.writes import enforce_retention
from sf_stripe_pipeline.sandbox.demo_org import DemoCase

from .conftest import SyncedOrg


def _by_id(synced: SyncedOrg, sobject: str) -> dict[str, dict]:
    return {record["Id"]: record for record in synced.org[sobject]}


def _midnight(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC).timestamp())


def test_new_contracts_become_the_expected_customers_products_prices_and_schedules(synced_demo) -> None:
    synced, _ = synced_demo
    client = synced.stripe
    accounts, quotes, entries = _by_id(synced, "Account"), _by_id(synced, "SBQQ__Quote__c"), _by_id(
        synced, "PricebookEntry"
    )
    products = _by_id(synced, "Product2")
    orders = synced.unamended_new_orders()
    assert len(orders) >= 5

    for order in orders:
        schedule_id = synced.stripe_id("Order", order["Id"])
        assert schedule_id and schedule_id.startswith("sub_sched_"), order["Id"]
        schedule = client.v1.subscription_schedules.retrieve(schedule_id)
        assert schedule.metadata["salesforce_order_id"] == order["Id"]
        assert schedule.end_behavior == "cancel"

        account = accounts[order["AccountId"]]
        customer = client.v1.customers.retrieve(schedule.customer)
        assert customer.id == synced.stripe_id("Account", account["Id"])
        assert customer.name == account["Name"]
        assert customer.metadata["salesforce_account_id"] == account["Id"]
        assert customer.address.city == account["BillingCity"]

        quote = quotes[order["SBQQ__Quote__c"]]
        term = int(quote["SBQQ__SubscriptionTerm__c"])
        start = date.fromisoformat(quote["SBQQ__StartDate__c"])
        assert len(schedule.phases) == 1
        phase = schedule.phases[0]
        assert phase.start_date == _midnight(quote["SBQQ__StartDate__c"])
        assert phase.end_date == _midnight(add_months(start, term).isoformat())

        lines = [
            line
            for line in synced.org["OrderItem"]
            if line["OrderId"] == order["Id"] and line["SBQQ__SubscriptionPricing__c"]
        ]
        assert len(phase["items"]) == len(lines)
        items_by_product = {}
        for item in phase["items"]:
            price = client.v1.prices.retrieve(item.price)
            items_by_product[price.product] = (item, price)
        for line in lines:
            product_id = synced.stripe_id("Product2", line["Product2Id"])
            item, price = items_by_product[product_id]
            assert price.currency == (order["CurrencyIsoCode"] or "USD").lower()
            assert price.recurring.interval == "month"
            assert price.recurring.interval_count == BILLING_FREQUENCY_MONTHS[line["SBQQ__BillingFrequency__c"]]
            periods = term / BILLING_FREQUENCY_MONTHS[line["SBQQ__BillingFrequency__c"]]
            # OrderItem.UnitPrice is the whole-term price (spec F18); Stripe bills per period, in minor units.
            expected_cents = round(line["UnitPrice"] * 100 / periods, 6)
            if products[line["Product2Id"]]["SBQQ__BillingType__c"] == "Arrears":
                assert price.recurring.usage_type == "metered"
                expected_cents = round(entries[line["PricebookEntryId"]]["UnitPrice"] * 100, 6)
            else:
                assert price.recurring.usage_type == "licensed"
                assert item.quantity == int(line["Quantity"])
            assert float(price.unit_amount_decimal) == pytest.approx(expected_cents)


def test_stripe_ids_are_written_back_to_salesforce(synced_demo) -> None:
    synced, _ = synced_demo
    client = synced.stripe
    for order in synced.unamended_new_orders():
        account_stripe_id = synced.stripe_id("Account", order["AccountId"])
        assert client.v1.customers.retrieve(account_stripe_id).metadata["salesforce_account_id"] == order["AccountId"]
        for line in (line for line in synced.org["OrderItem"] if line["OrderId"] == order["Id"]):
            product_stripe_id = synced.stripe_id("Product2", line["Product2Id"])
            product = client.v1.products.retrieve(product_stripe_id)
            assert product.metadata["salesforce_product2_id"] == line["Product2Id"]
            price_ids = [
                synced.stripe_id("PricebookEntry", line["PricebookEntryId"]),
                synced.stripe_id("OrderItem", line["Id"]),
            ]
            assert any(price_ids), f"no price written back for line {line['Id']}"
            for price_id in filter(None, price_ids):
                assert client.v1.prices.retrieve(price_id).product == product_stripe_id


def test_a_quarantined_contract_is_rejected_with_error_records_and_does_not_block_the_others(synced_demo) -> None:
    synced, summary = synced_demo
    [bad_order] = synced.orders(DemoCase.INVALID_DECIMAL_QUANTITY)
    [bad_line] = [line for line in synced.org["OrderItem"] if line["OrderId"] == bad_order["Id"] and line["Quantity"] % 1]

    schedules = synced.stripe.v1.subscription_schedules.list({"limit": 100})
    assert bad_order["Id"] not in {schedule.metadata.to_dict().get("salesforce_order_id") for schedule in schedules.data}
    assert len(schedules.data) >= len(synced.unamended_new_orders()), "the other contracts still synced"
    assert synced.stripe_id("Order", bad_order["Id"]) is None

    record = synced.sync_record(bad_order["Id"], bad_line["Id"])
    assert record["Resolution_Status__c"] == "Error"
    assert record["Secondary_Object_Type__c"] == "OrderItem"
    assert "decimal" in record["Resolution_Message__c"] and "integer_quantity" in record["Resolution_Message__c"]

    with duckdb.connect(str(home.warehouse_path(synced.home))) as conn:
        rows = conn.execute(
            "SELECT operation, status, message FROM sync.sync_records WHERE run_id = ? AND sf_id = ?",
            [summary.run_id, bad_line["Id"]],
        ).fetchall()
        validation = conn.execute(
            "SELECT status, violations FROM sync.contract_validation WHERE contract_key = ?", [bad_order["Id"]]
        ).fetchall()
    assert rows and all(operation == "reject" and status == "error" for operation, status, _ in rows)
    assert validation[0][0] == "quarantined"
    assert "integer_quantity" in {violation["rule"] for violation in json.loads(validation[0][1])}


def test_every_synced_order_gets_one_success_sync_record(synced_demo) -> None:
    synced, _ = synced_demo
    for order in synced.unamended_new_orders():
        schedule_id = synced.stripe_id("Order", order["Id"])
        record = synced.sync_record(order["Id"], order["Id"])
        assert record["Resolution_Status__c"] == "Success"
        assert record["Resolution_Message__c"] == f"Created Stripe Subscription Schedule with Id: {schedule_id}"
        assert record["Dagster_Run_ID__c"]


def test_a_second_sync_writes_nothing(synced_demo, monkeypatch: pytest.MonkeyPatch) -> None:
    synced, first = synced_demo
    monkeypatch.setenv("SF_STRIPE_HOME", str(synced.home))
    schedules_before = len(synced.stripe.v1.subscription_schedules.list({"limit": 100}).data)

    second = run_sync()

    assert second.success, second.failure
    assert first.stripe_writes and first.stripe_writes > 0
    assert (second.stripe_writes, second.salesforce_writes) == (0, 0)
    assert second.stripe_operations == {}
    assert second.contracts_synced == first.contracts_synced
    assert len(synced.stripe.v1.subscription_schedules.list({"limit": 100}).data) == schedules_before


def test_sync_records_deleted_by_retention_stay_deleted(synced_demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """F9: retention deletes the oldest Success/Resolved sync records. The next sync leaves them deleted (writing
    them back would only have retention delete as many others, every run, once an org has more synced orders than
    it keeps); an Error record deleted by hand is not retention's doing, and is written again."""
    synced, _ = synced_demo
    monkeypatch.setenv("SF_STRIPE_HOME", str(synced.home))

    def compound_ids(statuses: str) -> set[str]:
        soql = f"SELECT Compound_ID__c FROM Sync_Record__c WHERE Resolution_Status__c IN ({statuses})"
        return {record["Compound_ID__c"] for record in synced.sf.query_all(soql)["records"]}

    retained, errors = compound_ids("'Success', 'Resolved'"), compound_ids("'Error'")
    assert len(retained) > 10 and errors
    assert enforce_retention(synced.sf, keep=10) == len(retained) - 10
    kept = compound_ids("'Success', 'Resolved'")
    [error] = synced.sf.query("SELECT Id FROM Sync_Record__c WHERE Resolution_Status__c = 'Error' LIMIT 1")["records"]
    synced.sf.Sync_Record__c.delete(error["Id"])

    summary = run_sync()

    assert summary.success, summary.failure
    assert compound_ids("'Success', 'Resolved'") == kept
    assert compound_ids("'Error'") == errors
    assert summary.salesforce_writes == 1, "the deleted Error record, in one request"
