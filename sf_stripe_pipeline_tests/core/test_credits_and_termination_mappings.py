"""F36 credits for removed or reduced lines and F12 termination-only mappings, each behind its flag."""

from __future__ import annotations

from typing import Any

import pytest

from sf_stripe_pipeline.core.config import ConfigError, parse_config
from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.preflight import refusals
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config
from .test_plan import _stripe_state

BOTH_CREDITS = {"terminated_order_item_credit": True, "quantity_reduction_order_item_credit": True}
TERMINATION_MAPPINGS = {
    "termination_metadata": True,
    "field_mappings": {
        "subscription_item": {"sbc_termination.metadata.terminated_on": "OrderId.OpportunityId.CloseDate"},
        "subscription_phase": {"sbc_termination.metadata.terminated_by": "OrderNumber"},
    },
}


class _Contract:
    """Two years billed yearly from 2025-01-01: 3 seats at 1,200 a year and 2 add-ons at 600 a year."""

    def __init__(self) -> None:
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        yearly = {"SBQQ__BillingFrequency__c": "Annual"}
        self.seat = self.builder.entry(self.builder.product(Name="Seat", **yearly), 1200)
        self.addon = self.builder.entry(self.builder.product(Name="Add-on", **yearly), 600)
        self.initial = self.order("2025-01-01", 24)
        self.seats = self.builder.line(self.initial, self.seat, quantity=3, unit_price=2400, SBQQ__SubscriptionTerm__c=24)
        self.addons = self.builder.line(self.initial, self.addon, quantity=2, unit_price=1200, SBQQ__SubscriptionTerm__c=24)

    def order(self, start: str, term: int, amends: dict | None = None) -> dict:
        quote = {"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term}
        return self.builder.order(self.account, quote=quote, amends=amends, OrderNumber=f"0000{start[5:7]}")

    def amend(self, start: str, term: int, changes: list[tuple[dict, dict, int]]) -> dict:
        amendment = self.order(start, term, amends=self.initial)
        opportunity = next(o for o in self.builder.org["Opportunity"] if o["Id"] == amendment["OpportunityId"])
        opportunity["CloseDate"] = "2025-06-20"
        for entry, revises, quantity in changes:
            self.builder.line(amendment, entry, quantity=quantity, unit_price=0, SBQQ__SubscriptionTerm__c=term,
                              SBQQ__RevisedOrderProduct__c=revises["Id"])  # fmt: skip
        return amendment

    def assess(self, **overrides: Any) -> ContractAssessment:
        org = self.builder.snapshot()
        (assessment,) = assess_contracts(
            build_contracts(org), org, config(**overrides), today=TODAY, instance_url=INSTANCE_URL
        ).values()
        assert assessment.violations == []
        return assessment


def _phases(assessment: ContractAssessment) -> list[dict]:
    return next(o for o in assessment.objects if o.stripe_object == "subscription_schedule").params["phases"]


def _mid_year_removals() -> tuple[_Contract, dict]:
    """From 2025-07-01 (6 months before the next yearly bill): every seat removed, one add-on of two removed."""
    contract = _Contract()
    amendment = contract.amend(
        "2025-07-01", 18, [(contract.seat, contract.seats, -3), (contract.addon, contract.addons, -1)]
    )
    return contract, amendment


def test_f36_the_spec_example_credits_half_a_year_per_removed_unit() -> None:
    """F36's example: a 1,200 yearly line removed at month 6 is credited -600.00 a unit; the add-on reduced from 2
    to 1 is credited -300.00 for its one unit, with the other flag."""
    contract, amendment = _mid_year_removals()
    credits = _phases(contract.assess(**BOTH_CREDITS))[1]["add_invoice_items"]
    assert [(c["price_data"]["unit_amount_decimal"], c["quantity"]) for c in credits] == [("-60000", 3), ("-30000", 1)]
    seat_credit = credits[0]
    assert seat_credit["price_data"]["product"] == {"$ref": f"product:{contract.seat['Product2Id']}"}
    assert seat_credit["price_data"]["currency"] == "usd" and "recurring" not in seat_credit["price_data"]
    assert seat_credit["metadata"]["salesforce_credit"] == "true"
    assert seat_credit["metadata"]["salesforce_proration"] == "true"
    removing = [line["Id"] for line in contract.builder.org["OrderItem"] if line["OrderId"] == amendment["Id"]]
    assert seat_credit["metadata"]["salesforce_order_item_id"] == removing[0]
    assert seat_credit["period"]["start"] == {"type": "phase_start"}
    schedule = next(o for o in contract.assess(**BOTH_CREDITS).objects if o.stripe_object == "subscription_schedule")
    assert refusals("subscription_schedule", "create", schedule.params) == []


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, []),
        ({"terminated_order_item_credit": True}, [("-60000", 3)]),
        ({"quantity_reduction_order_item_credit": True}, [("-30000", 1)]),
    ],
)
def test_f36_each_flag_credits_its_kind_of_removal(flags: dict, expected: list) -> None:
    contract, _ = _mid_year_removals()
    phase = _phases(contract.assess(**flags))[1]
    credits = phase.get("add_invoice_items", [])
    assert [(c["price_data"]["unit_amount_decimal"], c["quantity"]) for c in credits] == expected


def test_f36_no_credit_on_a_billing_date_or_when_the_whole_contract_ends() -> None:
    on_cycle = _Contract()
    on_cycle.amend("2026-01-01", 12, [(on_cycle.seat, on_cycle.seats, -1)])
    assert "add_invoice_items" not in _phases(on_cycle.assess(**BOTH_CREDITS))[1]

    ended = _Contract()
    ended.amend("2025-07-01", 18, [(ended.seat, ended.seats, -3), (ended.addon, ended.addons, -2)])
    (phase,) = _phases(ended.assess(**BOTH_CREDITS))  # the schedule ends at the termination, without proration
    assert "add_invoice_items" not in phase


def test_f36_a_credit_read_back_from_stripe_is_not_a_change() -> None:
    """Stripe keeps a credit's price_data as a price it made: a re-run compares the rest and sends nothing, and a
    changed credit (another quantity) is sent again."""
    contract, _ = _mid_year_removals()
    objects = contract.assess(**BOTH_CREDITS).objects
    stripe_state = _stripe_state(objects)
    schedule = next(o for o in objects if o.stripe_object == "subscription_schedule")
    for phase in stripe_state[schedule.address]["phases"]:
        phase["add_invoice_items"] = [
            {**{k: v for k, v in item.items() if k != "price_data"}, "price": f"price_credit_{n}", "discountable": True}
            for n, item in enumerate(phase["add_invoice_items"])
        ]
    assert build_plan(objects, stripe_state).operations == []
    stripe_state[schedule.address]["phases"][1]["add_invoice_items"][0]["quantity"] = 2
    (update,) = build_plan(objects, stripe_state).operations
    assert update.stripe_object == "subscription_schedule"
    assert update.params["phases"][1]["add_invoice_items"][0]["price_data"]["unit_amount_decimal"] == "-60000"


def test_f12_a_terminated_item_and_the_phase_a_termination_ends_carry_the_termination_mappings() -> None:
    contract, _ = _mid_year_removals()
    first, second = _phases(contract.assess(**TERMINATION_MAPPINGS))
    seats_item, addons_item = first["items"]
    assert seats_item["metadata"]["terminated_on"] == "2025-06-20"  # the seats end with the first phase
    assert "terminated_on" not in addons_item["metadata"]  # one add-on of two carries on
    assert "terminated_by" not in first.get("metadata", {}) and "terminated_on" not in str(second)

    ended = _Contract()
    ended.amend("2025-07-01", 18, [(ended.seat, ended.seats, -3), (ended.addon, ended.addons, -2)])
    (phase,) = _phases(ended.assess(**TERMINATION_MAPPINGS))
    assert phase["metadata"]["terminated_by"] == "000007"
    assert [item["metadata"]["terminated_on"] for item in phase["items"]] == ["2025-06-20", "2025-06-20"]


def test_f12_without_termination_mappings_nothing_changes() -> None:
    contract, _ = _mid_year_removals()
    with_flag = _phases(contract.assess(termination_metadata=True))
    assert with_flag == _phases(contract.assess())


def test_f12_termination_mappings_need_the_flag() -> None:
    settings = {"start_date": "2025-01-01", "field_mappings": TERMINATION_MAPPINGS["field_mappings"]}
    with pytest.raises(ConfigError) as error:
        parse_config(settings)
    assert "termination_metadata: true" in str(error.value)
    assert parse_config({**settings, "termination_metadata": True}).termination_metadata
