"""F40: an evergreen order that started in the future is a schedule released into a subscription; once it has
started, its amendments apply to that subscription (the order's Stripe_ID__c still names the schedule until the
write-back swaps it), and before it starts they are refused."""

from __future__ import annotations

from datetime import date

from sf_stripe_pipeline.core.plan import build_plan

from .builders import TODAY
from .test_evergreen import _Evergreen
from .test_plan import _stripe_state

SCHEDULE_ID = "sub_sched_1"


def _started_with_an_addition(start: date = date(2025, 3, 5)) -> tuple[_Evergreen, dict]:
    """An evergreen order that began as a schedule (start `start`), amended today with 2 more units of a product."""
    contract = _Evergreen(start=start)
    contract.initial["Stripe_ID__c"] = SCHEDULE_ID
    added_entry = contract.builder.entry(contract.builder.product(Name="Extra"), 5)
    amendment = contract.order(TODAY, amends=contract.initial)
    contract.line(amendment, added_entry, 2)
    return contract, amendment


def test_a_started_schedule_is_amended_as_its_subscription_linked_to_the_schedule() -> None:
    contract, _ = _started_with_an_addition()
    assessment = contract.assess()
    assert assessment.violations == []
    (primary,) = [o for o in assessment.objects if o.sf_object == "Order"]
    assert (primary.stripe_object, primary.linked_stripe_id) == ("subscription", SCHEDULE_ID)
    assert [item["quantity"] for item in primary.params["items"]] == [1, 2]


def test_the_released_subscription_gets_the_new_item_and_nothing_is_recreated() -> None:
    """With the released subscription read in the schedule's place, the plan adds the item; the schedule itself is
    left alone (a released schedule cannot change)."""
    contract, _ = _started_with_an_addition()
    assessment = contract.assess()
    stripe_state = _stripe_state(assessment.objects)
    subscription = next(o for o in assessment.objects if o.stripe_object == "subscription")
    released = stripe_state[subscription.address]
    released |= {"id": "sub_9", "status": "active", "items": {"data": [{**released["items"][0], "id": "si_1"}]}}
    plan = build_plan(assessment.objects, stripe_state)
    (update,) = [op for op in plan.operations if op.stripe_object == "subscription"]
    assert (update.operation, update.stripe_id) == ("update", "sub_9")
    kept, added = update.params["items"]
    assert kept["id"] == "si_1" and added["quantity"] == 2 and "id" not in added
    assert not any(op.stripe_object == "subscription_schedule" for op in plan.operations)


def test_when_the_released_subscription_cannot_be_read_nothing_of_the_contract_is_sent() -> None:
    contract, _ = _started_with_an_addition()
    assessment = contract.assess()
    plan = build_plan(assessment.objects, {})
    assert plan.operations == []
    (note,) = plan.notes
    assert SCHEDULE_ID in note.message and "F40" in note.message


def test_amending_before_the_schedule_starts_is_refused_on_the_amendment() -> None:
    contract, amendment = _started_with_an_addition(start=date(2025, 4, 1))
    violations = contract.assess().violations
    assert ("evergreen_started", amendment["Id"]) in {(v.rule, v.sf_id) for v in violations}


def test_a_future_schedule_synced_again_stays_a_schedule() -> None:
    """The bug this fixes: a schedule id starts with "sub_", and was taken for a subscription's (a re-sync before
    the start drafted a subscription, which the plan would have created beside the schedule)."""
    contract = _Evergreen(start=date(2025, 4, 1))
    contract.initial["Stripe_ID__c"] = SCHEDULE_ID
    primary = contract.primary()
    assert (primary.stripe_object, primary.linked_stripe_id) == ("subscription_schedule", SCHEDULE_ID)
