"""Evergreen orders (F39, F40): a Subscription, invoiced, cancelled by a quantity-0 amendment."""

from __future__ import annotations

from datetime import date
from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.money import midnight_timestamp
from sf_stripe_pipeline.core.plan import build_plan, plan_operations
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config
from .test_plan import _stripe_state

INVOICED = {
    "field_defaults": {"subscription_schedule": {"default_settings.collection_method": "send_invoice"}},
    "field_mappings": {
        "subscription_schedule": {"default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c"}
    },
}
EVERGREEN = {
    "SBQQ__SubscriptionType__c": "Evergreen",
    "SBQQ__SubscriptionTerm__c": 1,
    "SBQQ__DefaultSubscriptionTerm__c": 1,
}


class _Evergreen:
    def __init__(self, start: date = TODAY, products: int = 1):
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.entries = [self.builder.entry(self.builder.product(Name=f"P{n}"), 10) for n in range(products)]
        self.initial = self.order(start)
        self.lines = [self.line(self.initial, entry, 1) for entry in self.entries]

    def order(self, start: date, amends: dict | None = None) -> dict:
        quote = {"SBQQ__StartDate__c": start.isoformat(), "SBQQ__SubscriptionTerm__c": 1}
        return self.builder.order(self.account, quote=quote, amends=amends, SBQQ__PaymentTerm__c="Net 30")

    def line(self, order: dict, entry: dict, quantity: float, revises: dict | None = None, **fields: Any) -> dict:
        fields = {**EVERGREEN, **fields}
        return self.builder.line(
            order,
            entry,
            quantity=quantity,
            unit_price=10,
            SBQQ__RevisedOrderProduct__c=revises["Id"] if revises else None,
            **fields,
        )

    def cancel(self, on: date) -> dict:
        amendment = self.order(on, amends=self.initial)
        self.line(amendment, self.entries[0], -1, revises=self.lines[0])
        return amendment

    def assess(self, **settings: Any) -> ContractAssessment:
        org = self.builder.snapshot()
        (assessment,) = assess_contracts(
            build_contracts(org), org, config(**(settings or INVOICED)), today=TODAY, instance_url=INSTANCE_URL
        ).values()
        return assessment

    def primary(self) -> Any:
        assessment = self.assess()
        assert assessment.violations == []
        return next(o for o in assessment.objects if o.sf_object == "Order")


def test_f39_starting_today_is_an_invoiced_subscription() -> None:
    subscription = _Evergreen().primary()
    assert subscription.stripe_object == "subscription"
    params = subscription.params
    assert (params["collection_method"], params["days_until_due"]) == ("send_invoice", 30)
    assert params["items"][0]["quantity"] == 1 and params["cancel_at_period_end"] is False
    assert params["metadata"]["salesforce_order_id"] == subscription.sf_id


def test_f39_a_future_start_is_a_schedule_released_at_once() -> None:
    start = date(2025, 4, 1)
    schedule = _Evergreen(start=start).primary()
    assert schedule.stripe_object == "subscription_schedule"
    assert schedule.params["end_behavior"] == "release"
    (phase,) = schedule.params["phases"]
    assert phase["end_date"] == midnight_timestamp(start) + 1


def test_f39_backdated_and_charge_automatically_are_rejected() -> None:
    backdated = _Evergreen(start=date(2025, 3, 1))
    assert "Backdated evergreen" in next(v.message for v in backdated.assess().violations)
    charged = _Evergreen()
    rules = {v.rule for v in charged.assess(field_defaults={}).violations}
    assert rules == {"evergreen_send_invoice"}


def test_f40_cancellation_today_cancels_now_and_a_future_one_sets_cancel_at() -> None:
    today = _Evergreen()
    today.cancel(TODAY)
    subscription = today.primary()
    assert subscription.end_now == {"invoice_now": False, "prorate": False}
    current = {"id": "sub_1", "status": "active", "items": {"data": []}}
    (cancel,) = plan_operations([subscription], {subscription.address: current})
    assert (cancel.operation, cancel.stripe_id) == ("cancel", "sub_1")
    assert plan_operations([subscription], {subscription.address: {**current, "status": "canceled"}}) == []

    future = _Evergreen()
    future.cancel(date(2025, 5, 1))
    params = future.primary().params
    assert (params["cancel_at"], params["proration_behavior"]) == (midnight_timestamp(date(2025, 5, 1)), "none")


def test_f40_partial_cancellation_of_a_multi_product_order_is_rejected() -> None:
    contract = _Evergreen(products=2)
    amendment = contract.cancel(TODAY)
    (violation,) = contract.assess().violations
    assert violation.rule == "single_product_evergreen_cancellation" and violation.sf_id == amendment["Id"]
    assert "single-product evergreen orders" in violation.message


def test_f40_additions_today_update_the_items_and_renewable_ones_are_rejected() -> None:
    contract = _Evergreen()
    added_entry = contract.builder.entry(contract.builder.product(Name="Extra"), 5)
    amendment = contract.order(TODAY, amends=contract.initial)
    contract.line(amendment, added_entry, 2)
    assessment = contract.assess()
    subscription = next(o for o in assessment.objects if o.sf_object == "Order")
    assert [item["quantity"] for item in subscription.params["items"]] == [1, 2]
    stripe_state = _stripe_state(assessment.objects)
    current = stripe_state[subscription.address]
    current |= {"status": "active", "items": {"data": [{**current["items"][0], "id": "si_1"}]}}
    (update,) = [op for op in plan_operations(assessment.objects, stripe_state) if op.stripe_object == "subscription"]
    kept, added = update.params["items"]
    assert kept == {"id": "si_1", "quantity": 1, "metadata": subscription.params["items"][0]["metadata"]}
    assert added["quantity"] == 2 and update.params["proration_behavior"] == "none"

    renewable = contract.order(TODAY, amends=contract.initial)
    line = contract.line(renewable, added_entry, 1, SBQQ__SubscriptionType__c="Renewable")
    (violation,) = [v for v in contract.assess().violations if v.sf_id == line["Id"]]
    assert "'Renewable' type to evergreen orders isn't supported" in violation.message


def test_f40_amending_a_cancelled_subscription_is_an_error_note() -> None:
    contract = _Evergreen()
    subscription = contract.primary()
    current = {"id": "sub_1", "status": "canceled", "items": {"data": []}}
    (note,) = build_plan([subscription], {subscription.address: current}).notes
    assert "already been canceled and can't be modified" in note.message
