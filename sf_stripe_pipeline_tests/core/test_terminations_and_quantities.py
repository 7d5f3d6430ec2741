"""Terminations that must cancel (F35, F42), zero quantities (F24, F30, F41) and the contract checks every kind of
contract must make (issue 7 item 2): the drafts the planner turns into requests Stripe accepts."""

from __future__ import annotations

from datetime import date

from sf_stripe_pipeline.core.drafting import SCHEDULE_CANCEL
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.preflight import refusals

from .builders import TODAY, OrgBuilder, assess_one
from .test_amendments import _Contract, _ts
from .test_evergreen import _Evergreen
from .test_mdq import _Ramp

NOW = _ts(TODAY.isoformat()) + 12 * 3600


def _running(start: str, *phase_ends: str) -> dict:
    """A started schedule as Stripe returns it (only what the planner reads)."""
    starts = [start, *phase_ends[:-1]]
    return {
        "id": "sub_sched_1",
        "status": "active",
        "customer": "cus_1",
        "current_phase": {"start_date": _ts(start), "end_date": _ts(phase_ends[0])},
        "phases": [{"start_date": _ts(s), "end_date": _ts(e), "items": []} for s, e in zip(starts, phase_ends)],
    }


def _schedule_operations(schedule, current: dict | None) -> list[tuple[str, dict]]:
    plan = build_plan([schedule], {schedule.address: current}, now=NOW)
    assert plan.notes == []
    return [(op.operation, op.params) for op in plan.operations if op.stripe_object == "subscription_schedule"]


# -- F35: a termination effective today cancels, whatever the phases before it ----------------------------------


def test_a_termination_on_the_contracts_first_day_cancels_and_sends_no_empty_phase() -> None:
    """The operator's report: a termination starting today, the initial order's own start, was a schedule update
    whose only phase had no items ("Missing required param: phases[0][items]"); the schedule kept billing."""
    contract = _Contract(start=TODAY.isoformat())
    termination = contract.amend(TODAY.isoformat(), 12)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    schedule = contract.schedule()
    assert schedule.params["phases"] == [] and schedule.end_now == SCHEDULE_CANCEL
    assert _schedule_operations(schedule, _running(TODAY.isoformat(), "2026-03-10")) == [("cancel", SCHEDULE_CANCEL)]
    assert _schedule_operations(schedule, None) == []  # never created: nothing of it is needed in Stripe


def test_a_future_termination_with_the_initial_orders_own_range_cancels_at_once() -> None:
    """F35: "an identical future range" cancels the not yet started schedule immediately."""
    contract = _Contract(start="2025-06-01")
    termination = contract.amend("2025-06-01", 12)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    schedule = contract.schedule()
    assert schedule.params["phases"] == [] and schedule.end_now == SCHEDULE_CANCEL
    not_started = {"id": "sub_sched_1", "status": "not_started", "customer": "cus_1"}
    assert _schedule_operations(schedule, not_started) == [("cancel", SCHEDULE_CANCEL)]


def test_stacked_amendments_ending_in_a_termination_today_cancel_after_a_phase_boundary() -> None:
    contract = _Contract(start="2025-01-10")
    increase = contract.amend("2025-02-10", 11)
    contract.change(increase, contract.b, 3)
    termination = contract.amend(TODAY.isoformat(), 10)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    contract.change(termination, contract.b, -3, revises=contract.builder.org["OrderItem"][-2])
    schedule = contract.schedule()
    assert [phase["end_date"] for phase in schedule.params["phases"]] == [_ts("2025-02-10"), _ts("2025-03-10")]
    running = _running("2025-02-10", "2026-01-10")
    assert _schedule_operations(schedule, running) == [("cancel", SCHEDULE_CANCEL)]


def test_a_future_termination_overrides_a_mapped_release() -> None:
    """A released schedule keeps billing as a plain subscription: a terminated contract's schedule cancels."""
    contract = _Contract(start="2025-01-01")
    termination = contract.amend("2025-06-01", 7)
    contract.change(termination, contract.a, -10, revises=contract.line_a)
    schedule = contract.schedule(field_defaults={"subscription_schedule": {"end_behavior": "release"}})
    assert schedule.params["end_behavior"] == "cancel" and schedule.end_now is None
    release = {"subscription_schedule": {"end_behavior": "release"}}
    renewing = _Contract(start="2025-01-01").schedule(field_defaults=release)
    assert renewing.params["end_behavior"] == "release"


# -- zero and missing quantities ---------------------------------------------------------------------------------


def test_a_zero_quantity_line_in_a_new_order_is_a_named_problem() -> None:
    contract = _Contract(start="2025-04-01", quantity=0)
    (violation,) = contract.assess().violations
    assert (violation.rule, violation.sf_id) == ("positive_quantity", contract.line_a["Id"])


def test_a_zero_quantity_one_time_order_and_evergreen_order_are_named_problems() -> None:
    builder = OrgBuilder()
    entry = builder.entry(builder.product(SBQQ__SubscriptionPricing__c=None, SBQQ__BillingFrequency__c=None), 500)
    order = builder.order(builder.account())
    builder.line(order, entry, quantity=0, unit_price=500)
    assert [v.rule for v in assess_one(builder).violations] == ["positive_quantity"]
    evergreen = _Evergreen()
    evergreen.builder.org["OrderItem"][0]["Quantity"] = 0
    assert [v.rule for v in evergreen.assess().violations] == ["positive_quantity"]


def test_a_zero_delta_on_an_amendment_changes_nothing() -> None:
    """CPQ's 0 on an amendment line nets nothing: no per-line price, no item, no proration (the bug made an unused
    price, and off-cycle a proration at quantity 0)."""
    contract = _Contract(start="2025-01-01")
    for entry in contract.builder.org["Product2"]:
        entry["SBQQ__BillingFrequency__c"] = "Quarterly"
    contract.line_a["SBQQ__BillingFrequency__c"] = "Quarterly"
    amendment = contract.amend("2025-02-01", 11)  # 2 months before the next quarter: off-cycle (F32)
    contract.change(amendment, contract.a, 0, revises=contract.line_a, SBQQ__BillingFrequency__c="Quarterly")
    contract.change(amendment, contract.b, 0, SBQQ__BillingFrequency__c="Quarterly")
    added = contract.change(amendment, contract.b, 2, SBQQ__BillingFrequency__c="Quarterly")
    assessment = contract.assess()
    assert assessment.violations == []
    keys = {o.key for o in assessment.objects if o.stripe_object == "price"}
    zero_lines = {line["Id"] for line in contract.builder.org["OrderItem"] if line["Quantity"] == 0}
    assert not any(key.startswith(tuple(zero_lines)) for key in keys)
    assert f"{added['Id']}-proration" in keys
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    (_, phase) = schedule.params["phases"]
    assert [item["quantity"] for item in phase["items"]] == [10, 2]
    assert [item["quantity"] for item in phase["add_invoice_items"]] == [2]


def test_the_mapped_quantity_is_the_items_quantity_and_a_missing_one_is_never_zero() -> None:
    contract = _Contract(start="2025-04-01")
    contract.line_a["SBQQ__OrderedQuantity__c"] = 7
    mapped = {"subscription_item": {"quantity": "SBQQ__OrderedQuantity__c"}}
    (phase,) = contract.schedule(field_mappings=mapped).params["phases"]
    assert [item["quantity"] for item in phase["items"]] == [7]
    contract.line_a["SBQQ__OrderedQuantity__c"] = None
    (violation,) = contract.assess(field_mappings=mapped).violations
    assert violation.rule == "required_mappings" and "subscription_item.quantity" in violation.message


# -- MDQ: a zero segment is a pause, not a termination (F41, F42) -----------------------------------------------


def _ramp(quantities: tuple[int, int, int]) -> _Ramp:
    ramp = _Ramp()
    for line, quantity in zip(ramp.segment_lines, quantities, strict=True):
        line["Quantity"] = quantity
    ramp.builder.org["OrderItem"].remove(ramp.builder.org["OrderItem"][-1])  # the add-on
    return ramp


def test_an_mdq_ramp_with_a_zero_segment_keeps_all_its_phases() -> None:
    """10/0/30 seats: the bug cut the schedule after year 1 and cancelled it once year 2 had started."""
    for today in (TODAY, date(2026, 6, 1)):
        schedule = _ramp((10, 0, 30)).schedule(today)
        assert [
            (phase["end_date"], [item["quantity"] for item in phase["items"]]) for phase in schedule.params["phases"]
        ] == [(_ts("2026-01-01"), [10]), (_ts("2027-01-01"), [0]), (_ts("2028-01-01"), [30])]
        assert schedule.end_now is None and schedule.params["end_behavior"] == "cancel"
        assert refusals("subscription_schedule", "create", schedule.params) == []


def test_an_mdq_ramp_may_start_with_a_zero_segment_and_a_zero_segment_beside_another_item_is_left_out() -> None:
    schedule = _ramp((0, 10, 30)).schedule()
    assert [[item["quantity"] for item in phase["items"]] for phase in schedule.params["phases"]] == [[0], [10], [30]]
    ramp = _Ramp()
    ramp.segment_lines[1]["Quantity"] = 0
    phases = ramp.schedule().params["phases"]
    assert [[item["quantity"] for item in phase["items"]] for phase in phases] == [[10, 2], [2], [30, 2]]


def test_an_mdq_ramp_whose_last_segments_are_zero_ends_there() -> None:
    schedule = _ramp((10, 20, 0)).schedule()
    assert [phase["end_date"] for phase in schedule.params["phases"]] == [_ts("2026-01-01"), _ts("2027-01-01")]
    assert schedule.end_now is None


def test_an_mdq_termination_today_cancels_and_a_later_amendment_is_refused() -> None:
    ramp = _Ramp()
    termination = ramp.amend("2025-03-01", 34)  # the ramp's day of month, before today
    for index, line in enumerate(ramp.segment_lines, start=1):
        ramp.segment_line(termination, index, -line["Quantity"], term=34, SBQQ__RevisedOrderProduct__c=line["Id"])
    addon = ramp.builder.org["OrderItem"][3]
    ramp.builder.line(termination, ramp.seat, quantity=-2, unit_price=0, SBQQ__RevisedOrderProduct__c=addon["Id"],
                      PricebookEntryId=addon["PricebookEntryId"], Product2Id=addon["Product2Id"])  # fmt: skip
    schedule = ramp.schedule()
    assert schedule.end_now == SCHEDULE_CANCEL
    later = ramp.amend("2025-04-01", 33)
    ramp.builder.line(later, ramp.seat, quantity=1, unit_price=330, SBQQ__SubscriptionTerm__c=33)
    assert "termination_is_last" in {v.rule for v in ramp.assess().violations if v.sf_id == later["Id"]}


def test_mdq_contracts_hold_the_checks_every_schedule_holds() -> None:
    """The bug skipped them for MDQ: the one-time-only amendment, F28 (a term not a whole number of periods) and
    F32 (units added off a billing date, which MDQ cannot prorate yet) are named problems."""
    ramp = _Ramp()
    one_time = ramp.builder.entry(ramp.builder.product(SBQQ__SubscriptionPricing__c=None), 500)
    amendment = ramp.amend("2025-03-01", 34)
    ramp.builder.line(amendment, one_time, quantity=1, unit_price=500, SBQQ__SubscriptionPricing__c=None)
    assert "amendment_not_all_one_time" in {v.rule for v in ramp.assess().violations}

    quarterly = _Ramp()
    for line in quarterly.builder.org["OrderItem"]:
        line["SBQQ__BillingFrequency__c"] = "Annual"
    quarterly.builder.org["SBQQ__Quote__c"][0]["SBQQ__SubscriptionTerm__c"] = 30
    assert "not_yet_supported" in {v.rule for v in quarterly.assess().violations}

    annual = _Ramp()
    for line in annual.builder.org["OrderItem"]:
        line["SBQQ__BillingFrequency__c"] = "Annual"
        line["UnitPrice"] = line["UnitPrice"] if line.get("SBQQ__SegmentKey__c") else 720
    addition = annual.amend("2025-03-01", 34)
    added = annual.segment_line(addition, 1, 5, term=34, SBQQ__RevisedOrderProduct__c=annual.segment_lines[0]["Id"],
                                SBQQ__BillingFrequency__c="Annual")  # fmt: skip
    (violation,) = [v for v in annual.assess().violations if v.rule == "not_yet_supported"]
    assert violation.sf_id == added["Id"] and "F32" in violation.message


# -- the remaining contract checks (issue 7's list) ----------------------------------------------------------------


def test_an_amendment_missing_its_schedule_mapping_is_reported_once() -> None:
    contract = _Contract(start="2025-01-01")
    amendment = contract.amend("2025-04-01", 9)
    contract.change(amendment, contract.b, 1)
    quote = next(q for q in contract.builder.org["SBQQ__Quote__c"] if q["Id"] == amendment["SBQQ__Quote__c"])
    quote["SBQQ__StartDate__c"] = None
    violations = [v for v in contract.assess().violations if v.rule == "required_mappings"]
    assert [v.sf_id for v in violations] == [amendment["Id"]]


def test_an_amendment_is_never_taken_for_the_initial_order() -> None:
    """With the initial order's start date missing, the first amendment was replayed as the initial order: its
    negative line was reported as negative in a new order."""
    contract = _Contract(start="2025-01-01")
    contract.builder.org["SBQQ__Quote__c"][0]["SBQQ__StartDate__c"] = None
    amendment = contract.amend("2025-04-01", 9)
    reduction = contract.change(amendment, contract.a, -2, revises=contract.line_a)
    violations = contract.assess().violations
    assert {(v.rule, v.sf_id) for v in violations} == {("required_mappings", contract.initial["Id"])}
    assert reduction["Id"] not in {v.sf_id for v in violations}


def test_a_second_billing_interval_is_blamed_on_the_order_that_brings_it() -> None:
    contract = _Contract(start="2025-01-01")
    quarterly = contract.builder.entry(contract.builder.product(SBQQ__BillingFrequency__c="Quarterly"), 30)
    amendment = contract.amend("2025-04-01", 9)
    contract.change(amendment, quarterly, 1, SBQQ__BillingFrequency__c="Quarterly")
    (violation,) = [v for v in contract.assess().violations if v.rule == "single_billing_interval"]
    assert violation.sf_id == amendment["Id"]


def test_a_future_evergreen_order_keeps_its_coupons_on_the_release_schedule() -> None:
    evergreen = _Evergreen(start=date(2025, 4, 1))
    coupon = evergreen.builder._add("Quote_Stripe_Coupon__c", "a1c", {"Name__c": "Ten", "Percent_Off__c": 10,
                                                                      "Duration__c": "forever"})  # fmt: skip
    evergreen.builder._add("Quote_Stripe_Coupon_Association__c", "a1d", {
        "Quote__c": evergreen.initial["SBQQ__Quote__c"], "Quote_Stripe_Coupon__c": coupon["Id"]})  # fmt: skip
    schedule = evergreen.primary()
    assert schedule.stripe_object == "subscription_schedule"
    (phase,) = schedule.params["phases"]
    assert [discount["coupon"]["$ref"].split(":")[0] for discount in phase["discounts"]] == ["coupon"]


def test_an_evergreen_addition_after_its_cancellation_is_refused_not_dropped() -> None:
    evergreen = _Evergreen()
    evergreen.cancel(TODAY)
    addition = evergreen.order(TODAY, amends=evergreen.initial)
    evergreen.line(addition, evergreen.entries[0], 1)
    (violation,) = [v for v in evergreen.assess().violations if v.rule == "termination_is_last"]
    assert violation.sf_id == addition["Id"]
