"""Schedule phases bill their `add_invoice_items` when they start (F34, F36): as Stripe does, each becomes a pending
invoice item of the schedule's subscription, which an invoice for that subscription sweeps in."""

from __future__ import annotations

from datetime import UTC, datetime

import stripe

from sf_stripe_pipeline_tests.sandbox_stripe.conftest import Catalog


def _ts(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def _pending(client: stripe.StripeClient, customer: str) -> list[stripe.InvoiceItem]:
    return list(client.v1.invoice_items.list(params={"customer": customer, "pending": True}).data)


def test_a_later_phase_bills_its_one_time_items_once_when_it_starts(client, catalog: Catalog, pin_clock) -> None:
    pin_clock("2025-01-01T12:00:00")
    period = {"start": {"type": "phase_start"}, "end": {"type": "timestamp", "timestamp": _ts("2025-03-01")}}
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": catalog.customer.id,
            "start_date": _ts("2025-01-01"),
            "phases": [
                {"items": [{"price": catalog.monthly.id}], "end_date": _ts("2025-02-01"),
                 "add_invoice_items": [{"price": catalog.one_time.id}]},
                {"items": [{"price": catalog.monthly.id, "quantity": 2}], "end_date": _ts("2025-06-01"),
                 "add_invoice_items": [{"price": catalog.one_time.id, "quantity": 3, "period": period,
                                        "metadata": {"salesforce_proration": "true"}}]},
            ],
        }
    )  # fmt: skip
    assert schedule.status == "active" and _pending(client, catalog.customer.id) == []  # the first phase's go on
    # the subscription's first invoice, which the sandbox does not make
    client.v1.prices.update(catalog.one_time.id, params={"active": False})  # archived once the schedule is saved
    pin_clock("2025-02-10T00:00:00")
    subscription = client.v1.subscription_schedules.retrieve(schedule.id).subscription
    (item,) = _pending(client, catalog.customer.id)
    assert item.quantity == 3 and item.amount == 3750 and item.metadata["salesforce_proration"] == "true"
    assert (item.period.start, item.period.end) == (_ts("2025-02-01"), _ts("2025-03-01"))
    assert item.parent.subscription_details.subscription == subscription
    client.v1.subscription_schedules.retrieve(schedule.id)
    assert len(_pending(client, catalog.customer.id)) == 1  # a phase start is billed once


def test_a_phase_starting_now_is_invoiced_for_its_subscription_only(client, catalog: Catalog, pin_clock) -> None:
    """An amendment effective now splits the current phase; its proration items are pending at once, and an
    invoice for the subscription with pending items included takes them, and not the customer's other items."""
    pin_clock("2025-01-01T12:00:00")
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": catalog.customer.id,
            "start_date": _ts("2025-01-01"),
            "phases": [{"items": [{"price": catalog.monthly.id}], "end_date": _ts("2026-01-01")}],
        }
    )
    pin_clock("2025-03-10T12:00:00")
    credit = {"currency": "usd", "product": catalog.product.id, "unit_amount_decimal": "-500"}
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {"items": [{"price": catalog.monthly.id}], "start_date": _ts("2025-01-01"), "end_date": "now"},
                {"items": [{"price": catalog.monthly.id, "quantity": 3}], "start_date": "now",
                 "end_date": _ts("2026-01-01"),
                 "add_invoice_items": [{"price": catalog.one_time.id, "quantity": 2}, {"price_data": credit}]},
            ],
            "proration_behavior": "none",
        },
    )  # fmt: skip
    other = client.v1.invoice_items.create(params={"customer": catalog.customer.id, "amount": 999, "currency": "usd"})
    assert {item.amount for item in _pending(client, catalog.customer.id)} == {2500, -500, 999}
    invoice = client.v1.invoices.create(
        params={"customer": catalog.customer.id, "subscription": updated.subscription,
                "pending_invoice_items_behavior": "include"}
    )  # fmt: skip
    assert invoice.total == 2000 and len(invoice.lines.data) == 2
    assert client.v1.invoices.finalize_invoice(invoice.id).status == "open"
    assert [item.id for item in _pending(client, catalog.customer.id)] == [other.id]
