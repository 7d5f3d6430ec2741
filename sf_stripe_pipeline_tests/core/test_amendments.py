"""Amendments and terminations (F30-F32, F35, F37, F38): the contract replayed into one schedule's phases."""

from __future__ import annotations

from datetime import date
from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.money import midnight_timestamp
from sf_stripe_pipeline.core.plan import plan_operations
from sf_stripe_pipeline.core.rules import assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


class _Contract:
    """The docs' insertion example by default: Jan 1 2022, 12 months, A qty 10 at $10/month."""

    def __init__(self, start: str = "2022-01-01", term: int = 12, quantity: float = 10):
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.a = self.builder.entry(self.builder.product(Name="A"), 10)
        self.b = self.builder.entry(self.builder.product(Name="B"), 20)
        self.initial = self.builder.order(
            self.account, quote={"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term}
        )
        self.line_a = self.builder.line(self.initial, self.a, quantity=quantity, unit_price=10 * term)

    def amend(self, start: str, term: int, **order_fields: Any) -> dict:
        return self.builder.order(
            self.account,
            amends=self.initial,
            quote={"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term, "SBQQ__Type__c": "Amendment"},
            **order_fields,
        )

    def change(self, amendment: dict, entry: dict, quantity: float, revises: dict | None = None, **fields: Any) -> dict:
        term = next(q for q in self.builder.org["SBQQ__Quote__c"] if q["Id"] == amendment["SBQQ__Quote__c"])[
            "SBQQ__SubscriptionTerm__c"
        ]
        unit = next(p for p in self.builder.org["PricebookEntry"] if p["Id"] == entry["Id"])["UnitPrice"]
        return self.builder.line(
            amendment,
            entry,
            quantity=quantity,
            unit_price=unit * term,
            SBQQ__RevisedOrderProduct__c=revises["Id"] if revises else None,
            SBQQ__SubscriptionTerm__c=term,
            **fields,
        )

    def assess(self, today: date = TODAY, **settings: Any):
        org = self.builder.snapshot()
        (assessment,) = assess_contracts(
            build_contracts(org), org, config(**settings), today=today, instance_url=INSTANCE_URL
        ).values()
        return assessment

    def schedule(self, today: date = TODAY, **settings: Any) -> DesiredObject:
        assessment = self.assess(today, **settings)
        assert assessment.violations == []
        return next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")


def _ts(day: str) -> int:
    return midnight_timestamp(date.fromisoformat(day))


def _quantities(phase: dict) -> list[tuple[str, int]]:
    return [(item["price"]["$ref"], item.get("quantity")) for item in phase["items"]]


def test_f30_docs_insertion_example_nets_a_and_adds_b_as_a_new_phase() -> None:
    contract = _Contract()
    amendment = contract.amend("2022-02-01", 11)
    contract.change(amendment, contract.a, -4, revises=contract.line_a)
    line_b = contract.change(amendment, contract.b, 5)
    schedule = contract.schedule(today=date(2021, 12, 1))
    first, second = schedule.params["phases"]
    assert schedule.params["start_date"] == _ts("2022-01-01")
    assert first["end_date"] == _ts("2022-02-01") and _quantities(first) == [(f"price:{contract.a['Id']}", 10)]
    assert second["end_date"] == _ts("2023-01-01")
    assert _quantities(second) == [(f"price:{contract.a['Id']}", 6), (f"price:{contract.b['Id']}", 5)]
    assert second["proration_behavior"] == "none"
    assert second["metadata"]["salesforce_order_id"] == amendment["Id"]
    assert second["items"][1]["metadata"]["salesforce_order_item_id"] == line_b["Id"]


def test_f30_a_quantity_increase_is_a_separate_item_with_a_duplicated_price() -> None:
    contract = _Contract()
    amendment = contract.amend("2022-04-01", 9)
    contract.change(amendment, contract.a, 2, revises=contract.line_a)
    assessment = contract.assess(today=date(2021, 12, 1))
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    items = schedule.params["phases"][1]["items"]
    assert [item["quantity"] for item in items] == [10, 2]
    duplicate = next(o for o in assessment.objects if o.key == items[1]["price"]["$ref"].split(":", 1)[1])
    assert duplicate.params["metadata"]["salesforce_duplicate"] == "true"


def test_f30_netting_takes_from_the_newest_line_of_the_chain_and_drops_zeroed_items() -> None:
    contract = _Contract(quantity=3)
    up = contract.amend("2022-03-01", 10)
    increase = contract.change(up, contract.a, 2, revises=contract.line_a)
    down = contract.amend("2022-06-01", 7)
    contract.change(down, contract.a, -4, revises=contract.line_a)
    phases = contract.schedule(today=date(2021, 12, 1)).params["phases"]
    assert [len(phase["items"]) for phase in phases] == [1, 2, 1]
    assert phases[2]["items"][0]["quantity"] == 1  # 2 taken from the increase, then 2 from the original 3
    assert phases[2]["items"][0]["metadata"]["salesforce_order_item_id"] == contract.line_a["Id"]
    assert increase["Id"] not in str(phases[2])


def test_f30_netting_errors_name_the_line() -> None:
    contract = _Contract(quantity=2)
    amendment = contract.amend("2022-02-01", 11)
    too_many = contract.change(amendment, contract.a, -3, revises=contract.line_a)
    skipped_origin = contract.builder.line(contract.initial, contract.b, Skip_Line_Item__c=True)
    revises_skipped = contract.change(amendment, contract.b, -1, revises=skipped_origin)
    violations = {(v.rule, v.sf_id): v.message for v in contract.assess(today=date(2021, 12, 1)).violations}
    assert "termination quantity is greater than the aggregate" in violations[("amendment_netting", too_many["Id"])]
    assert "must not be skipped" in violations[("amendment_netting", revises_skipped["Id"])]


def test_f31_co_termination_and_same_day_of_month() -> None:
    contract = _Contract()
    late = contract.amend("2022-03-01", 12)
    contract.change(late, contract.b, 1)
    mid_month = contract.amend("2022-05-15", 8, SBQQ__PaymentTerm__c=None)
    contract.builder.org["SBQQ__Quote__c"][-1]["SBQQ__EndDate__c"] = "2022-12-31"
    contract.change(mid_month, contract.b, 1)
    assessment = contract.assess(today=date(2021, 12, 1))
    rules = {(v.rule, v.sf_id): v.message for v in assessment.violations}
    assert "must co-terminate with the initial order" in rules[("co_termination", late["Id"])]
    # Amendments apply in order: the later one waits for the first failing one, then fails on its own dates.
    assert [order_id for order_id, _ in assessment.skipped] == [mid_month["Id"]]
    next(q for q in contract.builder.org["SBQQ__Quote__c"] if q["Id"] == late["SBQQ__Quote__c"])[
        "SBQQ__SubscriptionTerm__c"
    ] = 10
    rules = {(v.rule, v.sf_id): v.message for v in contract.assess(today=date(2021, 12, 1)).violations}
    assert "same day of the month" in rules[("same_day_of_month", mid_month["Id"])]
    allowed = {(v.rule, v.sf_id) for v in contract.assess(date(2021, 12, 1), non_anniversary_amendments=True).violations}
    assert ("same_day_of_month", mid_month["Id"]) not in allowed
    assert ("whole_month_term", mid_month["Id"]) in allowed  # May 15 2022 -> Jan 1 2023 is 7 whole months, not 8


def test_f31_end_of_month_start_snaps() -> None:
    contract = _Contract(start="2021-09-30", term=12)
    amendment = contract.amend("2022-02-28", 7)
    contract.builder.org["SBQQ__Quote__c"][-1]["SBQQ__EndDate__c"] = "2022-09-29"
    contract.change(amendment, contract.b, 1)
    assert not [v for v in contract.assess(today=date(2021, 9, 1)).violations if v.rule == "same_day_of_month"]


def test_f35_future_termination_ends_the_last_phase_on_the_termination_date() -> None:
    contract = _Contract(start="2025-01-01")
    termination = contract.amend("2025-06-01", 7)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    schedule = contract.schedule()
    (phase,) = schedule.params["phases"]
    assert phase["end_date"] == _ts("2025-06-01") and schedule.end_now is None


def test_f35_termination_today_or_earlier_cancels_the_schedule_without_invoice_or_proration() -> None:
    contract = _Contract(start="2025-01-01")
    termination = contract.amend("2025-03-01", 10)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    schedule = contract.schedule()
    assert schedule.end_now == {"invoice_now": False, "prorate": False}
    current = {"id": "sub_sched_1", "status": "active", "customer": "cus_1"}
    (cancel,) = [op for op in plan_operations([schedule], {schedule.address: current}) if op.stripe_object != "price"]
    assert (cancel.operation, cancel.stripe_id, cancel.params) == ("cancel", "sub_sched_1", schedule.end_now)
    assert plan_operations([schedule], {schedule.address: {**current, "status": "canceled"}}) == []


def test_f35_termination_must_be_the_last_amendment() -> None:
    contract = _Contract(start="2025-01-01")
    termination = contract.amend("2025-06-01", 7)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    later = contract.amend("2025-08-01", 5)
    contract.change(later, contract.b, 1)
    (violation,) = [v for v in contract.assess().violations if v.rule == "termination_is_last"]
    assert violation.sf_id == later["Id"] and "more amendments are queued" in violation.message


def test_f37_stacked_same_day_amendments_make_one_phase_with_every_one_time_item() -> None:
    contract = _Contract(start="2025-01-01")
    setup_fee = contract.builder.entry(contract.builder.product(Name="Setup", SBQQ__SubscriptionPricing__c=None), 99)
    first = contract.amend("2025-06-01", 7)
    contract.change(first, contract.b, 1)
    contract.change(first, setup_fee, 1)
    second = contract.amend("2025-06-01", 7)
    contract.change(second, contract.a, -4, revises=contract.line_a)
    contract.change(second, setup_fee, 1)
    phases = contract.schedule().params["phases"]
    assert len(phases) == 2
    assert [item["quantity"] for item in phases[1]["items"]] == [6, 1]
    assert len(phases[1]["add_invoice_items"]) == 2
    assert phases[1]["metadata"]["salesforce_order_id"] == second["Id"]


def test_f38_only_payment_fields_follow_the_amendment() -> None:
    contract = _Contract(start="2025-01-01")
    contract.initial.update(SBQQ__PaymentTerm__c="Net 30", OrderNumber="initial")
    amendment = contract.amend("2025-06-01", 7, SBQQ__PaymentTerm__c="Net 60", OrderNumber="amended")
    contract.change(amendment, contract.b, 1)
    mapped = {
        "field_mappings": {
            "subscription_schedule": {
                "default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c",
                "default_settings.description": "OrderNumber",
            }
        }
    }
    settings = contract.schedule(**mapped).params["default_settings"]
    assert settings["invoice_settings"]["days_until_due"] == 60
    assert settings["description"] == "initial"


def test_f32_off_cycle_amendment_line_is_prorated_as_a_one_time_invoice_item() -> None:
    contract = _Contract(start="2025-01-01", term=24)
    annual = contract.builder.entry(contract.builder.product(Name="Annual", SBQQ__BillingFrequency__c="Annual"), 120)
    contract.builder.org["OrderItem"].remove(contract.line_a)
    contract.line_a = contract.builder.line(contract.initial, annual, unit_price=240, SBQQ__BillingFrequency__c="Annual")
    amendment = contract.amend("2025-07-01", 18)
    added = contract.change(amendment, annual, 1, SBQQ__BillingFrequency__c="Annual")
    added["UnitPrice"] = 180  # CPQ prices the 18 remaining months: $120 a year
    assessment = contract.assess()
    assert assessment.violations == []
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    (proration,) = schedule.params["phases"][1]["add_invoice_items"]
    assert proration["metadata"]["salesforce_proration"] == "true"
    assert proration["period"]["end"] == {"type": "timestamp", "timestamp": _ts("2026-01-01")}
    price = next(o for o in assessment.objects if o.key == f"{added['Id']}-proration")
    assert price.params["unit_amount_decimal"] == "6000" and "recurring" not in price.params  # $120 x 6/12
