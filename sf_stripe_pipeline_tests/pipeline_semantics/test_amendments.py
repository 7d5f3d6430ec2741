"""Amendments reach a running schedule: new phases, the current phase split or kept, terminations (F30, F35)."""

from __future__ import annotations

from datetime import date

from sf_stripe_pipeline.core.money import midnight_timestamp
from sf_stripe_pipeline_tests.core.builders import OrgBuilder

from .conftest import NOW, Pipeline


def _ts(day: str) -> int:
    return midnight_timestamp(date.fromisoformat(day))


def _started_contract(builder: OrgBuilder) -> tuple[dict, dict, dict, dict]:
    """Started 2025-02-01 for 12 months: product A qty 10 at $10/month. Returns (initial, line, A, B) entries."""
    account = builder.account(BillingCity="Paris", BillingCountry="FR")
    a = builder.entry(builder.product(Name="A"), 10)
    b = builder.entry(builder.product(Name="B"), 20)
    initial = builder.order(account, quote={"SBQQ__StartDate__c": "2025-02-01"}, SBQQ__PaymentTerm__c="Net 30")
    line = builder.line(initial, a, quantity=10)
    builder.contract_of(initial)
    return initial, line, a, b


def _amend(pipeline: Pipeline, initial: dict, start: str, term: int, lines: list[tuple[dict, float, dict | None]]) -> str:
    """An activated amendment created through simple-salesforce, as CPQ would leave it."""
    sf = pipeline.sf
    contract = sf.query(f"SELECT Id FROM Contract WHERE SBQQ__Quote__c = '{initial['SBQQ__Quote__c']}'")["records"][0]
    opportunity = sf.Opportunity.create({"Name": "Amend", "SBQQ__AmendedContract__c": contract["Id"]})["id"]
    quote = sf.SBQQ__Quote__c.create(
        {"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term, "SBQQ__Type__c": "Amendment"}
    )["id"]
    order = sf.Order.create(
        {
            "AccountId": initial["AccountId"],
            "OpportunityId": opportunity,
            "SBQQ__Quote__c": quote,
            "Status": "Activated",
            "SBQQ__PaymentTerm__c": "Net 30",
            "ActivatedDate": NOW.replace("Z", ".000+0000"),
        }
    )["id"]
    for entry, quantity, revises in lines:
        sf.OrderItem.create(
            {
                "OrderId": order,
                "Product2Id": entry["Product2Id"],
                "PricebookEntryId": entry["Id"],
                "Quantity": quantity,
                "UnitPrice": entry["UnitPrice"] * term,
                "SBQQ__Activated__c": True,
                "SBQQ__SubscriptionPricing__c": "Fixed Price",
                "SBQQ__SubscriptionType__c": "Renewable",
                "SBQQ__BillingFrequency__c": "Monthly",
                "SBQQ__BillingType__c": "Advance",
                "SBQQ__SubscriptionTerm__c": term,
                "SBQQ__RevisedOrderProduct__c": revises["Id"] if revises else None,
            }
        )
    return order


def _phase_items(pipeline: Pipeline, phase) -> list[tuple[str, int]]:
    return [(pipeline.stripe.v1.prices.retrieve(item.price).product, item.quantity) for item in phase["items"]]


def test_amendments_reach_running_schedules_and_a_rerun_is_a_no_op(pipeline: Pipeline) -> None:
    """Three started contracts, synced; then a future amendment, a backdated one and a termination today."""
    builder = OrgBuilder(salesforce_ids=True)
    future, backdated, terminated = (_started_contract(builder) for _ in range(3))
    pipeline.load(builder.org)
    pipeline.sync()
    schedule_ids = [pipeline.stripe_id("Order", contract[0]["Id"]) for contract in (future, backdated, terminated)]
    assert all(pipeline.stripe.v1.subscription_schedules.retrieve(i).status == "active" for i in schedule_ids)

    initial, line, a, b = future
    amendment = _amend(pipeline, initial, "2025-04-01", 10, [(a, -4, line), (b, 5, None)])
    _amend(pipeline, backdated[0], "2025-03-01", 11, [(backdated[3], 2, None)])
    termination = _amend(pipeline, terminated[0], "2025-03-01", 11, [(terminated[2], -10, terminated[1])])
    pipeline.sync()

    # F30: a future amendment adds a phase; the current one keeps its start and ends where the new one starts.
    schedule = pipeline.stripe.v1.subscription_schedules.retrieve(schedule_ids[0])
    current, added = schedule.phases
    assert (current.start_date, current.end_date) == (_ts("2025-02-01"), _ts("2025-04-01"))
    assert (added.start_date, added.end_date) == (_ts("2025-04-01"), _ts("2026-02-01"))
    product_a, product_b = (pipeline.stripe_id("Product2", entry["Product2Id"]) for entry in (a, b))
    assert _phase_items(pipeline, current) == [(product_a, 10)]
    assert _phase_items(pipeline, added) == [(product_a, 6), (product_b, 5)]
    assert added.metadata["salesforce_order_id"] == amendment
    assert pipeline.stripe_id("Order", amendment) == schedule.id
    assert pipeline.sync_record(amendment, amendment)["Resolution_Status__c"] == "Success"

    # A backdated amendment is processed now: the current phase is split at the time of the sync.
    kept, added = pipeline.stripe.v1.subscription_schedules.retrieve(schedule_ids[1]).phases
    now = _ts("2025-03-10") + 12 * 3600
    assert (kept.start_date, kept.end_date, added.start_date) == (_ts("2025-02-01"), now, now)
    assert [quantity for _, quantity in _phase_items(pipeline, kept)] == [10]
    assert [quantity for _, quantity in _phase_items(pipeline, added)] == [10, 2]

    # F35: a termination effective today or earlier cancels the schedule.
    assert pipeline.stripe.v1.subscription_schedules.retrieve(schedule_ids[2]).status == "canceled"
    assert pipeline.stripe_id("Order", termination) == schedule_ids[2]

    again = pipeline.sync()
    assert (again.stripe_writes, again.salesforce_writes) == (0, 0)

    late = _amend(pipeline, terminated[0], "2025-04-01", 10, [(terminated[2], 1, None)])
    pipeline.sync()
    record = pipeline.sync_record(late, late)  # the failing amendment's own record (the termination stays synced)
    assert record["Resolution_Status__c"] == "Error" and "more amendments are queued" in record["Resolution_Message__c"]
