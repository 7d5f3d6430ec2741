"""Consumption schedules (tiered prices, F19) as the sandbox serves them: describe, queries through the lookups the
connector follows, type checks, and org snapshots."""

from __future__ import annotations

from decimal import Decimal

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sf_stripe_pipeline.sandbox.salesforce import OrgRecordError, SalesforceSandbox
from sf_stripe_pipeline.sandbox.snapshot import load_snapshot_into, snapshot_file, write_snapshot

from .conftest import ORDER_1, error_code, sf_id, small_org

PRODUCT = sf_id("Product2", 1)
SCHEDULE = sf_id("ConsumptionSchedule", 1)
LINE = sf_id("OrderItem", 1)
LINE_SCHEDULE = sf_id("SBQQ__OrderItemConsumptionSchedule__c", 1)


def tiered_org() -> dict[str, list[dict]]:
    """F19's example twice: rates [0-10 @ 5.00 per unit, 10-inf flat 40.00], Slab, on a product and on a line."""
    org = small_org()
    org["Product2"] = [{"Id": PRODUCT, "Name": "API calls", "IsActive": True}]
    org["OrderItem"][0]["Product2Id"] = PRODUCT
    org["ConsumptionSchedule"] = [
        {"Id": SCHEDULE, "Name": "API tiers", "IsActive": True, "Type": "Slab", "RatingMethod": "Tier",
         "BillingTerm": 1, "BillingTermUnit": "Month"},
    ]
    org["ProductConsumptionSchedule"] = [
        {"Id": sf_id("ProductConsumptionSchedule", 1), "ProductId": PRODUCT, "ConsumptionScheduleId": SCHEDULE},
    ]
    org["ConsumptionRate"] = [
        {"Id": sf_id("ConsumptionRate", 1), "ConsumptionScheduleId": SCHEDULE, "ProcessingOrder": 1,
         "PricingMethod": "PerUnit", "LowerBound": 0, "UpperBound": 10, "Price": 5.0},
        {"Id": sf_id("ConsumptionRate", 2), "ConsumptionScheduleId": SCHEDULE, "ProcessingOrder": 2,
         "PricingMethod": "FlatFee", "LowerBound": 10, "UpperBound": None, "Price": 40.0},
    ]
    org["SBQQ__OrderItemConsumptionSchedule__c"] = [
        {"Id": LINE_SCHEDULE, "SBQQ__OrderItem__c": LINE, "SBQQ__Type__c": "Range", "SBQQ__RatingMethod__c": "Tier",
         "SBQQ__BillingTerm__c": 1, "SBQQ__BillingTermUnit__c": "Month"},
    ]
    org["SBQQ__OrderItemConsumptionRate__c"] = [
        {"Id": sf_id("SBQQ__OrderItemConsumptionRate__c", 1), "SBQQ__OrderItemConsumptionSchedule__c": LINE_SCHEDULE,
         "SBQQ__PricingMethod__c": "PerUnit", "SBQQ__LowerBound__c": 0, "SBQQ__UpperBound__c": 10.5,
         "SBQQ__Price__c": 4.99},
    ]
    return org


@pytest.fixture
def tiered(sandbox: SalesforceSandbox) -> SalesforceSandbox:
    sandbox.replace_org(tiered_org())
    return sandbox


def test_describe_reports_the_spec_fields(sf) -> None:
    schedule = {field["name"]: field for field in sf.ConsumptionSchedule.describe()["fields"]}
    assert [value["value"] for value in schedule["Type"]["picklistValues"]] == ["Range", "Slab"]
    assert [value["value"] for value in schedule["RatingMethod"]["picklistValues"]] == ["Tier"]
    assert {name: schedule[name]["type"] for name in ("IsActive", "BillingTerm", "IsDeleted")} == {
        "IsActive": "boolean", "BillingTerm": "int", "IsDeleted": "boolean"
    }
    rate = {field["name"]: field for field in sf.ConsumptionRate.describe()["fields"]}
    assert [value["value"] for value in rate["PricingMethod"]["picklistValues"]] == ["PerUnit", "FlatFee"]
    assert (rate["UpperBound"]["type"], rate["Price"]["type"]) == ("int", "currency")
    assert rate["ConsumptionScheduleId"]["relationshipName"] == "ConsumptionSchedule"
    junction = {field["name"]: field for field in sf.ProductConsumptionSchedule.describe()["fields"]}
    assert junction["ProductId"]["referenceTo"] == ["Product2"]
    line_rate = {field["name"]: field for field in sf.SBQQ__OrderItemConsumptionRate__c.describe()["fields"]}
    assert line_rate["SBQQ__UpperBound__c"]["type"] == "double"  # CPQ's bounds are plain numbers
    assert line_rate["SBQQ__OrderItemConsumptionSchedule__c"]["relationshipName"] == (
        "SBQQ__OrderItemConsumptionSchedule__r"
    )


def test_product_tiers_are_reached_through_the_junction(tiered, sf) -> None:
    [link] = sf.query(
        "SELECT ConsumptionScheduleId, ConsumptionSchedule.Type, ConsumptionSchedule.RatingMethod "
        f"FROM ProductConsumptionSchedule WHERE ProductId = '{PRODUCT}' AND ConsumptionSchedule.IsActive = true"
    )["records"]
    assert (link["ConsumptionScheduleId"], link["ConsumptionSchedule"]["Type"]) == (SCHEDULE, "Slab")
    rates = sf.query(
        "SELECT UpperBound, PricingMethod, Price FROM ConsumptionRate "
        f"WHERE ConsumptionScheduleId = '{SCHEDULE}' ORDER BY UpperBound NULLS LAST"
    )["records"]
    assert [(r["UpperBound"], r["PricingMethod"], r["Price"]) for r in rates] == [
        (10, "PerUnit", 5.0),
        (None, "FlatFee", 40.0),
    ]


def test_line_tiers_hang_off_the_order_product(tiered, sf) -> None:
    rates = sf.query(
        "SELECT SBQQ__UpperBound__c, SBQQ__Price__c, SBQQ__OrderItemConsumptionSchedule__r.SBQQ__Type__c "
        "FROM SBQQ__OrderItemConsumptionRate__c "
        f"WHERE SBQQ__OrderItemConsumptionSchedule__r.SBQQ__OrderItem__c = '{LINE}'"
    )["records"]
    assert [(r["SBQQ__UpperBound__c"], r["SBQQ__Price__c"]) for r in rates] == [(Decimal("10.5"), Decimal("4.99"))]
    assert rates[0]["SBQQ__OrderItemConsumptionSchedule__r"]["SBQQ__Type__c"] == "Range"
    [line_schedule] = sf.query(
        f"SELECT Id FROM SBQQ__OrderItemConsumptionSchedule__c WHERE SBQQ__OrderItem__r.OrderId = '{ORDER_1}'"
    )["records"]
    assert line_schedule["Id"] == LINE_SCHEDULE


def test_field_types_are_enforced_on_load_and_on_write(sandbox, sf) -> None:
    org = tiered_org()
    org["ConsumptionRate"][0]["UpperBound"] = 10.5  # the standard object's bounds are whole numbers
    with pytest.raises(OrgRecordError, match=r"ConsumptionRate\[0\].*'UpperBound' \(int\)"):
        sandbox.replace_org(org)

    sandbox.replace_org(tiered_org())
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.ConsumptionRate.create({"ConsumptionScheduleId": sf_id("ConsumptionSchedule", 9), "Price": 1.0})
    assert error_code(raised) == "INVALID_CROSS_REFERENCE_KEY"
    created = sf.ConsumptionRate.create({"ConsumptionScheduleId": SCHEDULE, "LowerBound": 20, "Price": 0.05})
    assert sf.ConsumptionRate.get(created["id"])["Price"] == 0.05


def test_schedules_round_trip_through_an_org_snapshot(tiered, tmp_path) -> None:
    exported = tiered.export_org()
    write_snapshot(exported, tmp_path / "snapshot")
    assert snapshot_file(tmp_path / "snapshot", "SBQQ__OrderItemConsumptionRate__c").exists()

    other = SalesforceSandbox(tmp_path / "other")
    counts = load_snapshot_into(other, tmp_path / "snapshot")
    schedule_objects = ("ConsumptionSchedule", "ConsumptionRate", "ProductConsumptionSchedule")
    assert [counts[name] for name in schedule_objects] == [1, 2, 1]
    assert other.export_org() == exported
    other.close()
