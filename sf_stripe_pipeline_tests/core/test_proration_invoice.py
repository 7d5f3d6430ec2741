"""F34 (flag invoice_prorations_immediately): the prorations of an amendment this sync applies from today or
earlier are invoiced at once, for the schedule's subscription, after the schedule update that starts their phase."""

from __future__ import annotations

from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, assess_one, config
from .test_plan import _stripe_state

NOW = {"invoice_prorations_immediately": True}


def _amended(start: str = "2025-03-01", **amendment: Any) -> tuple[OrgBuilder, dict]:
    """A quarterly contract from 2025-01-01; an amendment from `start` adds 4 seats (off-cycle: prorated)."""
    builder = OrgBuilder()
    entry = builder.entry(builder.product(SBQQ__BillingFrequency__c="Quarterly"), 300)
    account = builder.account()
    initial = builder.order(account, quote={"SBQQ__StartDate__c": "2025-01-01"}, Stripe_ID__c="sub_sched_1")
    builder.line(initial, entry, quantity=2, unit_price=1200)
    term = {"2025-03-01": 10, "2025-04-01": 9}[start]
    order = builder.order(account, amends=initial, quote={"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term},
                          **amendment)  # fmt: skip
    extra = builder.entry(builder.product(Name="Extra", SBQQ__BillingFrequency__c="Quarterly"), 300)
    builder.line(order, extra, quantity=4, unit_price=300 * term / 3, SBQQ__SubscriptionTerm__c=term)
    return builder, order


def _assess(builder: OrgBuilder, **overrides: Any) -> ContractAssessment:
    assessment = assess_one(builder, **overrides)
    assert assessment.violations == []
    return assessment


def _invoices(assessment: ContractAssessment) -> list:
    return [o for o in assessment.objects if o.stripe_object == "invoice"]


def test_an_amendment_applied_now_with_prorations_gets_an_invoice_for_the_schedules_subscription() -> None:
    builder, amendment = _amended()
    assert _invoices(_assess(builder)) == []  # the flag is off by default
    assessment = _assess(builder, **NOW)
    (invoice,) = _invoices(assessment)
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    assert (invoice.key, invoice.sf_id) == (f"{amendment['Id']}-proration-invoice", amendment["Id"])
    assert invoice.params["subscription"] == {"$subscription_of": schedule.address}
    assert invoice.params["pending_invoice_items_behavior"] == "include"
    assert invoice.params["metadata"]["salesforce_proration_invoice"] == "true"
    assert invoice.params["metadata"]["salesforce_order_id"] == amendment["Id"]
    assert f"subscription_schedule:{schedule.key}" in invoice.depends_on


def test_the_plan_invoices_after_the_schedule_update_and_finalizes() -> None:
    builder, _ = _amended()
    assessment = _assess(builder, **NOW)
    stripe_state = _stripe_state(assessment.objects)
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    invoice = _invoices(assessment)[0]
    stripe_state[invoice.address] = None
    stripe_state[schedule.address]["phases"] = stripe_state[schedule.address]["phases"][:1]
    stripe_state[schedule.address] |= {"status": "active", "subscription": "sub_1",
                                        "current_phase": {"start_date": schedule.params["start_date"],
                                                          "end_date": schedule.params["phases"][-1]["end_date"]}}  # fmt: skip
    plan = build_plan(assessment.objects, stripe_state, now=schedule.params["phases"][0]["end_date"] + 3600)
    steps = [(op.operation, op.stripe_object) for op in plan.operations if op.sf_object == "Order"]
    assert steps == [("update", "subscription_schedule"), ("create", "invoice"), ("finalize", "invoice")]
    create = next(op for op in plan.operations if op.stripe_object == "invoice" and op.operation == "create")
    assert create.params["subscription"] == "sub_1" and plan.notes == []


def test_without_a_subscription_to_name_the_invoice_is_left_to_stripe_with_a_note() -> None:
    builder, _ = _amended()
    assessment = _assess(builder, **NOW)
    plan = build_plan(assessment.objects, {})
    assert not any(op.stripe_object == "invoice" for op in plan.operations)
    (note,) = plan.notes
    assert "F34" in note.message


def test_no_invoice_for_a_future_amendment_an_on_cycle_one_or_one_synced_before() -> None:
    future, _ = _amended("2025-04-01")  # on a billing date, and after today
    assert _invoices(_assess(future, **NOW)) == []
    synced, _ = _amended(Stripe_ID__c="sub_sched_1")
    assert _invoices(_assess(synced, **NOW)) == []
