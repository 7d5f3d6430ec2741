"""F33 old-order migration (flag old_order_migration): a pre-integration renewable order becomes a subscription
backdated to its start, first billed on its next billing date after today, handed to a schedule for the rest of
its term; nothing already billed elsewhere is billed again."""

from __future__ import annotations

from datetime import date
from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.mapping import BILLING_FREQUENCY_MONTHS
from sf_stripe_pipeline.core.money import midnight_timestamp
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, assess_one, config

MIGRATE = {"old_order_migration": True}
OLD = "2024-11-10T10:00:00.000+0000"


def _old_order(*, term: int = 12, frequency: str = "Monthly", **fields: Any) -> tuple[OrgBuilder, dict]:
    """4 seats at 50 a month (or a quarter), started 2024-11-15 and activated before the sync's start date."""
    builder = OrgBuilder()
    entry = builder.entry(builder.product(SBQQ__BillingFrequency__c=frequency), 50)
    order = builder.order(
        builder.account(), quote={"SBQQ__StartDate__c": "2024-11-15", "SBQQ__SubscriptionTerm__c": term},
        ActivatedDate=OLD,
    )  # fmt: skip
    months = BILLING_FREQUENCY_MONTHS[frequency]
    builder.line(order, entry, quantity=4, unit_price=50 * term / months, SBQQ__SubscriptionTerm__c=term, **fields)
    return builder, order


def _ts(day: str) -> int:
    return midnight_timestamp(date.fromisoformat(day))


def test_without_the_flag_an_old_order_is_a_pre_integration_error() -> None:
    builder, order = _old_order()
    assert [(v.rule, v.sf_id) for v in assess_one(builder).violations] == [("pre_integration_order", order["Id"])]


def test_the_spec_example_backdates_and_anchors_on_the_next_billing_date() -> None:
    """F33's example: monthly from 2024-11-15, migrated 2025-03-10 -> billing_cycle_anchor 2025-03-15, no
    proration (no back-billing); a schedule from the subscription runs to the term's end and cancels."""
    builder, order = _old_order()
    assessment = assess_one(builder, **MIGRATE)
    assert assessment.violations == []
    by_key = {o.key: o for o in assessment.objects if o.sf_object == "Order"}
    subscription = by_key[f"{order['Id']}-migration"]
    assert subscription.stripe_object == "subscription"
    params = subscription.params
    assert (params["backdate_start_date"], params["billing_cycle_anchor"]) == (_ts("2024-11-15"), _ts("2025-03-15"))
    assert params["proration_behavior"] == "none" and params["items"][0]["quantity"] == 4
    assert params["metadata"]["salesforce_pre_integration_order"] == "true"
    schedule = by_key[order["Id"]]
    assert schedule.params["from_subscription"] == {"$ref": f"subscription:{order['Id']}-migration"}
    assert schedule.params["end_behavior"] == "cancel"
    assert schedule.params["metadata"]["salesforce_pre_integration_order"] == "true"
    (phase,) = schedule.params["phases"]
    assert phase["end_date"] == _ts("2025-11-15") and phase["proration_behavior"] == "none"


def test_the_plan_creates_the_subscription_then_the_schedule_from_it_then_its_phases() -> None:
    builder, order = _old_order()
    assessment = assess_one(builder, **MIGRATE)
    plan = build_plan(assessment.objects, {}, now=_ts("2025-03-10") + 43200)
    assert plan.notes == []  # every request passes preflight
    steps = [(op.operation, op.stripe_object, op.key) for op in plan.operations if op.sf_object == "Order"]
    assert steps == [
        ("create", "subscription", f"{order['Id']}-migration"),
        ("create", "subscription_schedule", order["Id"]),
        ("update", "subscription_schedule", order["Id"]),
    ]
    create, update = [op for op in plan.operations if op.stripe_object == "subscription_schedule"]
    assert create.params == {"from_subscription": {"$ref": f"subscription:{order['Id']}-migration"}}
    assert update.stripe_id is None  # the schedule created just before, under the same key
    assert update.params["phases"][0]["start_date"] == _ts("2024-11-15")
    assert update.params["end_behavior"] == "cancel" and update.params["proration_behavior"] == "none"


def test_a_migrated_contract_synced_again_changes_nothing() -> None:
    builder, order = _old_order()
    objects = assess_one(builder, **MIGRATE).objects
    schedule = next(o for o in objects if o.stripe_object == "subscription_schedule")
    actual: dict[str, dict | None] = {o.address: {"id": f"id_{n}", "object": o.stripe_object} for n, o in enumerate(objects)}
    actual["customer:" + builder.org["Account"][0]["Id"]] |= {"name": "Acme"}
    price_ref = schedule.params["phases"][0]["items"][0]["price"]["$ref"]
    actual[price_ref] |= {"product": actual["product:" + builder.org["Product2"][0]["Id"]]["id"], "currency": "usd",
                          "unit_amount_decimal": "5000", "recurring": {"interval": "month", "interval_count": 1,
                          "usage_type": "licensed"}, "billing_scheme": "per_unit", "active": True,
                          "metadata": next(o for o in objects if o.address == price_ref).params["metadata"]}  # fmt: skip
    actual[f"subscription:{order['Id']}-migration"] |= {"status": "active", "items": {"data": []}}
    phase = {**schedule.params["phases"][0], "start_date": _ts("2024-11-15")}
    phase["items"] = [{**item, "price": actual[price_ref]["id"]} for item in phase["items"]]
    actual[schedule.address] = {
        "id": "sub_sched_1", "object": "subscription_schedule", "status": "active", "customer": "id_0",
        "end_behavior": "cancel", "metadata": schedule.params["metadata"], "phases": [phase],
        "current_phase": {"start_date": _ts("2024-11-15"), "end_date": _ts("2025-11-15")},
    }  # fmt: skip
    actual["customer:" + builder.org["Account"][0]["Id"]]["id"] = "id_0"
    plan = build_plan(objects, actual, now=_ts("2025-03-10"))
    assert [(op.operation, op.stripe_object) for op in plan.operations if op.sf_object == "Order"] == []


def test_a_quarterly_contract_is_anchored_on_its_next_quarter() -> None:
    builder, order = _old_order(frequency="Quarterly")
    subscription = next(o for o in assess_one(builder, **MIGRATE).objects if o.key.endswith("-migration"))
    assert subscription.params["billing_cycle_anchor"] == _ts("2025-05-15")


def test_a_contract_already_over_is_not_migrated() -> None:
    builder, order = _old_order(term=3)  # ended 2025-02-15
    assessment = assess_one(builder, **MIGRATE)
    assert [(v.rule, v.sf_id) for v in assessment.violations] == [("pre_integration_ended", order["Id"])]
    assert assessment.objects == []


def test_an_old_evergreen_order_stays_a_pre_integration_error() -> None:
    builder, order = _old_order(SBQQ__SubscriptionType__c="Evergreen", SBQQ__DefaultSubscriptionTerm__c=1)
    rules = {v.rule for v in assess_one(builder, **MIGRATE).violations}
    assert "pre_integration_order" in rules
