"""Preflight: every request Stripe would refuse is named before it is sent, and its contract is withheld whole."""

from __future__ import annotations

from typing import Any

import pytest

from sf_stripe_pipeline.core.desired import DesiredObject, ref
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.preflight import refusals

NOW = 1741608000  # 2025-03-10 12:00 UTC
DAY = 86400
START = 1741564800  # 2025-03-10 00:00 UTC


def _rules(stripe_object: str, operation: str, params: dict, **context: Any) -> set[str]:
    return {refusal.rule for refusal in refusals(stripe_object, operation, params, now=NOW, **context)}


def _schedule(*phases: dict, start: int = START) -> dict:
    return {"customer": ref("customer", "001"), "start_date": start, "end_behavior": "cancel", "phases": list(phases)}


def _phase(*prices: str, end: int, **extra: Any) -> dict:
    return {"items": [{"price": ref("price", price), "quantity": 1} for price in prices], "end_date": end, **extra}


def test_a_well_formed_schedule_passes() -> None:
    schedule = _schedule(_phase("a", "b", end=START + 30 * DAY), _phase("a", end=START + 60 * DAY))
    assert _rules("subscription_schedule", "create", schedule) == set()


@pytest.mark.parametrize(
    ("schedule", "rule"),
    [
        (_schedule(_phase(end=START + DAY)), "empty_items"),  # "Missing required param: phases[0][items]"
        (_schedule(), "empty_phases"),
        (_schedule(_phase("a", "a", end=START + DAY)), "duplicate_price"),
        (_schedule(_phase("a", end=START)), "phase_order"),
        (_schedule(_phase("a", end=START + DAY), _phase("a", end=START + DAY)), "phase_order"),
        (_schedule(_phase("a", end=START + DAY, proration_behavior="sometimes")), "proration_behavior"),
        (_schedule({"items": [{"price": ref("price", "a"), "quantity": -1}], "end_date": START + DAY}),
         "item_quantity"),
        (_schedule({"items": [{"price": ref("price", "a"), "quantity": 1.5}], "end_date": START + DAY}),
         "item_quantity"),
        (_schedule({"items": [{"quantity": 1}], "end_date": START + DAY}), "item_price"),
        (_schedule(_phase("a", end=START + DAY, add_invoice_items=[{"price": ref("price", "p"), "quantity": 0}])),
         "item_quantity"),
        (_schedule(_phase("a", end=START + DAY, discounts=[{}])), "discount_shape"),
        (_schedule(_phase("a", end=START + DAY, start_date=START)), "phase_start"),
    ],
)
def test_schedule_creates_stripe_refuses(schedule: dict, rule: str) -> None:
    assert rule in _rules("subscription_schedule", "create", schedule)


def test_a_zero_quantity_phase_item_is_accepted_as_stripe_does() -> None:
    """Stripe accepts quantity 0 on a phase item (an MDQ pause bills it as zero); a phase with no item it refuses."""
    paused = _schedule({"items": [{"price": ref("price", "a"), "quantity": 0}], "end_date": START + DAY})
    assert _rules("subscription_schedule", "create", paused) == set()


RUNNING = {"status": "active", "current_phase": {"start_date": START - 60 * DAY, "end_date": START + 300 * DAY}}


def test_an_update_of_a_running_schedule_keeps_the_current_start_and_sends_no_ended_phase() -> None:
    good = {"phases": [{**_phase("a", end="now"), "start_date": START - 60 * DAY}, {**_phase("b", end=START + DAY),
            "start_date": "now"}], "proration_behavior": "none"}  # fmt: skip
    assert _rules("subscription_schedule", "update", good, current=RUNNING) == set()
    moved = {"phases": [{**_phase("a", end=START + DAY), "start_date": START - 59 * DAY}]}
    assert "current_phase_start" in _rules("subscription_schedule", "update", moved, current=RUNNING)
    ended = {"phases": [{**_phase("a", end=START - DAY), "start_date": START - 60 * DAY}, _phase("b", end=START + DAY)]}
    assert "past_phase" in _rules("subscription_schedule", "update", ended, current=RUNNING)
    gap = {"phases": [{**_phase("a", end=START), "start_date": START - 60 * DAY},
                      {**_phase("b", end=START + DAY), "start_date": START + 1}]}  # fmt: skip
    assert "phase_gap" in _rules("subscription_schedule", "update", gap, current=RUNNING)
    last_phase_empty = {"phases": [{"items": [], "end_date": START + DAY, "start_date": START - 60 * DAY}]}
    assert "empty_items" in _rules("subscription_schedule", "update", last_phase_empty, current=RUNNING)


@pytest.mark.parametrize("status", ["canceled", "completed", "released"])
def test_an_ended_schedule_is_neither_updated_nor_cancelled(status: str) -> None:
    current = {"status": status}
    assert "schedule_ended" in _rules("subscription_schedule", "cancel", {"invoice_now": False}, current=current)
    assert "schedule_ended" in _rules("subscription_schedule", "update", {"metadata": {}}, current=current)
    assert _rules("subscription_schedule", "cancel", {"invoice_now": False}, current={"status": "active"}) == set()


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "1.0000000000001"},
         "decimal_amount"),
        ({"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "-1"}, "decimal_amount"),
        ({"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "1e3"}, "decimal_amount"),
        ({"product": ref("product", "p"), "currency": "usd"}, "price_amount"),
        ({"product": ref("product", "p"), "unit_amount_decimal": "1"}, "price_currency"),
        ({"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "1",
          "recurring": {"interval": "month", "interval_count": 37}}, "price_interval"),  # fmt: skip
        ({"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "1",
          "recurring": {"interval": "month", "interval_count": 1, "usage_type": "sometimes"}}, "price_usage_type"),
    ],
)
def test_prices_stripe_refuses(params: dict, rule: str) -> None:
    assert rule in _rules("price", "create", params)


def test_twelve_decimal_places_are_accepted() -> None:
    params = {"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "1428.571428571429"}
    assert _rules("price", "create", params) == set()
    assert "price_immutable" in _rules("price", "update", {"unit_amount_decimal": "2"})
    assert "archive_shape" in _rules("price", "archive", {"active": False, "nickname": "x"})


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"amount_off": 1000}, "coupon_currency"),  # "You must pass `currency` when passing `amount_off`."
        ({"amount_off": 0, "currency": "usd"}, "coupon_amount"),
        ({"amount_off": 1000.5, "currency": "usd"}, "coupon_amount"),
        ({"percent_off": 10, "amount_off": 100, "currency": "usd"}, "coupon_discount"),
        ({}, "coupon_discount"),
        ({"percent_off": "100.5"}, "coupon_percent"),
        ({"percent_off": 10, "duration": "repeating"}, "coupon_duration"),
        ({"percent_off": 10, "duration": "once", "duration_in_months": 3}, "coupon_duration"),
        ({"percent_off": 10, "max_redemptions": 0}, "coupon_redemptions"),
    ],
)
def test_coupons_stripe_refuses(params: dict, rule: str) -> None:
    assert rule in _rules("coupon", "create", params)


def test_coupons_stripe_accepts() -> None:
    assert _rules("coupon", "create", {"percent_off": "12.5", "duration": "forever"}) == set()
    assert _rules("coupon", "create", {"amount_off": 5000, "currency": "usd", "duration": "repeating",
                                       "duration_in_months": 3}) == set()  # fmt: skip


def test_subscriptions_invoice_items_and_invoices() -> None:
    assert "empty_items" in _rules("subscription", "create", {"customer": "cus_1", "items": []})
    assert "days_until_due" in _rules(
        "subscription", "create", {"customer": "cus_1", "items": [{"price": "p"}], "collection_method": "send_invoice"}
    )
    assert "cancel_at" in _rules("subscription", "update", {"cancel_at": NOW - 1}, current={"status": "active"})
    assert "subscription_ended" in _rules("subscription", "cancel", {}, current={"status": "canceled"})
    item = {"customer": "cus_1", "pricing": {"price": "p"}, "quantity": 0, "period": {"start": START, "end": START}}
    assert "item_quantity" in _rules("invoice_item", "create", item)
    assert "invoice_finalized" in _rules("invoice", "finalize", {}, current={"status": "open"})


def test_a_reference_to_a_deleted_object_is_refused() -> None:
    schedule = _schedule(_phase("a", end=START + DAY))
    found = refusals("subscription_schedule", "create", schedule, now=NOW, unavailable={"customer:001"})
    assert [(r.rule, r.param) for r in found] == [("unavailable_reference", "customer:001")]


# -- build_plan: a refused operation withholds its contract, never the others ------------------------------------


def _desired(stripe_object: str, key: str, params: dict, contracts: tuple[str, ...], **extra: Any) -> DesiredObject:
    return DesiredObject(stripe_object, key, "Order", key, params, None, contracts, (), **extra)


def test_a_refused_operation_becomes_a_note_and_withholds_every_operation_of_its_contract_only() -> None:
    shared_price = {"product": ref("product", "p"), "currency": "usd", "unit_amount_decimal": "1000",
                    "recurring": {"interval": "month", "interval_count": 1}, "metadata": {}}  # fmt: skip
    line_price = {**shared_price, "unit_amount_decimal": "800", "metadata": {"salesforce_auto_archive": "true"}}
    desired = [
        _desired("customer", "acct", {"name": "Acme"}, ("A", "B")),
        _desired("product", "p", {"name": "Seats"}, ("A", "B")),
        _desired("price", "pbe", shared_price, ("A", "B")),
        _desired("price", "line-a", line_price, ("A",)),
        _desired("subscription_schedule", "A", _schedule(_phase("pbe", "pbe", end=START + DAY)), ("A",)),
        _desired("subscription_schedule", "B", _schedule(_phase("pbe", end=START + DAY)), ("B",)),
    ]
    plan = build_plan(desired, {}, now=NOW)
    planned = {(op.stripe_object, op.key, op.operation) for op in plan.operations}
    assert planned == {
        ("customer", "acct", "create"),
        ("product", "p", "create"),
        ("price", "pbe", "create"),
        ("subscription_schedule", "B", "create"),
    }
    (note,) = plan.notes
    assert note.contract_keys == ("A",) and note.sf_id == "A"
    assert "duplicate_price" in note.message and "would be refused by Stripe" in note.message
    assert [op.seq for op in plan.operations] == [1, 2, 3, 4]


def test_a_contract_cancelled_on_its_first_day_and_never_created_needs_nothing_in_stripe() -> None:
    """F35's identical range: the schedule has no phase to bill; nothing of its contract is created."""
    terminated = _schedule()
    desired = [
        _desired("customer", "acct", {"name": "Acme"}, ("A",)),
        _desired("subscription_schedule", "A", terminated, ("A",), end_now={"invoice_now": False, "prorate": False}),
    ]
    plan = build_plan(desired, {}, now=NOW)
    assert plan.operations == [] and plan.notes == []
    existing = {"subscription_schedule:A": {"id": "sub_sched_1", "status": "not_started", "customer": "cus_1"},
                "customer:acct": {"id": "cus_1", "name": "Acme"}}  # fmt: skip
    plan = build_plan(desired, existing, now=NOW)
    assert [(op.operation, op.stripe_id, op.params) for op in plan.operations] == [
        ("cancel", "sub_sched_1", {"invoice_now": False, "prorate": False})
    ]
