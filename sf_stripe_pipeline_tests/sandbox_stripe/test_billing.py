"""Stripe's billing rules as the sandbox enforces them, through stripe-python: prices, coupons, subscriptions,
subscription schedules on the pinned sandbox clock, invoice items and invoices."""

from __future__ import annotations

import pytest
import stripe

from sf_stripe_pipeline.clock import parse_instant


def timestamp(instant: str) -> int:
    return int(parse_instant(instant).timestamp())


def refused(call, *args, **kwargs) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as error:
        call(*args, **kwargs)
    return error.value


def test_price_amounts_are_immutable_and_active_toggles(client, catalog):
    assert (catalog.monthly.unit_amount, catalog.monthly.unit_amount_decimal) == (5000, 5000)
    assert catalog.monthly.type == "recurring" and catalog.one_time.type == "one_time"
    error = refused(client.v1.prices.update, catalog.monthly.id, params={"unit_amount": 1})
    assert error.code == "parameter_unknown"

    archived = client.v1.prices.update(catalog.monthly.id, params={"active": False})
    assert archived.active is False
    inactive = client.v1.prices.list(params={"active": False, "product": catalog.product.id})
    assert [price.id for price in inactive.data] == [catalog.monthly.id]
    active = client.v1.prices.list(params={"active": True, "type": "one_time"})
    assert [price.id for price in active.data] == [catalog.one_time.id]


def test_price_lookup_key_conflict_and_transfer(client, catalog):
    def monthly_price(amount: int, **extra) -> stripe.Price:
        params = {
            "product": catalog.product.id,
            "currency": "usd",
            "unit_amount": amount,
            "recurring": {"interval": "month"},
        }
        return client.v1.prices.create(params=params | extra)

    old = monthly_price(1000, lookup_key="platform_monthly")
    error = refused(monthly_price, amount=1200, lookup_key="platform_monthly")
    assert error.param == "lookup_key"

    new = monthly_price(1200, lookup_key="platform_monthly", transfer_lookup_key=True)
    assert new.lookup_key == "platform_monthly"
    assert client.v1.prices.retrieve(old.id).lookup_key is None
    found = client.v1.prices.list(params={"lookup_keys": ["platform_monthly"]})
    assert [price.id for price in found.data] == [new.id]


def test_price_with_product_data_decimal_and_tiers(client):
    fractional = client.v1.prices.create(
        params={"product_data": {"name": "Metered"}, "currency": "EUR", "unit_amount_decimal": "12.5"}
    )
    assert fractional.unit_amount is None and str(fractional.unit_amount_decimal) == "12.5"
    assert fractional.currency == "eur" and client.v1.products.retrieve(fractional.product).name == "Metered"

    tiered = client.v1.prices.create(
        params={
            "product": fractional.product,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [{"up_to": 10, "unit_amount": 100}, {"up_to": "inf", "unit_amount": 80}],
            "recurring": {"interval": "year", "usage_type": "licensed"},
            "expand": ["tiers"],
        }
    )
    assert [tier.up_to for tier in tiered.tiers] == [10, None]
    error = refused(client.v1.prices.create, params={"product": fractional.product, "currency": "usd"})
    assert (error.code, error.param) == ("parameter_missing", "unit_amount")


def test_coupon_validation(client):
    missing_currency = refused(client.v1.coupons.create, params={"amount_off": 500})
    assert (missing_currency.code, missing_currency.param) == ("parameter_missing", "currency")
    missing_months = refused(client.v1.coupons.create, params={"percent_off": 10, "duration": "repeating"})
    assert missing_months.param == "duration_in_months"
    too_much = refused(client.v1.coupons.create, params={"percent_off": 100.5})
    assert too_much.param == "percent_off"

    coupon = client.v1.coupons.create(
        params={
            "id": "SF-10-REPEAT-3",
            "percent_off": 10,
            "duration": "repeating",
            "duration_in_months": 3,
            "max_redemptions": 5,
        }
    )
    assert (coupon.id, coupon.duration_in_months, coupon.valid) == ("SF-10-REPEAT-3", 3, True)
    duplicate = refused(client.v1.coupons.create, params={"id": "SF-10-REPEAT-3", "percent_off": 10})
    assert duplicate.code == "resource_already_exists"
    renamed = client.v1.coupons.update(coupon.id, params={"name": "Ten off"})
    assert renamed.name == "Ten off"
    assert refused(client.v1.coupons.update, coupon.id, params={"percent_off": 20}).code == "parameter_unknown"


def test_subscription_with_discounts_and_send_invoice(client, catalog):
    coupon = client.v1.coupons.create(params={"percent_off": 15, "duration": "forever"})
    subscription = client.v1.subscriptions.create(
        params={
            "customer": catalog.customer.id,
            "items": [{"price": catalog.monthly.id, "quantity": 3, "discounts": [{"coupon": coupon.id}]}],
            "discounts": [{"coupon": coupon.id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "metadata": {"sf_contract_id": "800A"},
            "expand": ["customer", "discounts"],
        }
    )
    assert subscription.status == "active" and subscription.customer.id == catalog.customer.id
    assert (subscription.collection_method, subscription.days_until_due) == ("send_invoice", 30)
    assert subscription.discounts[0].source.coupon == coupon.id
    (item,) = subscription["items"].data
    assert (item.price.id, item.quantity, len(item.discounts)) == (catalog.monthly.id, 3, 1)
    assert item.current_period_end > item.current_period_start
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 2

    error = refused(
        client.v1.subscriptions.create,
        params={"customer": catalog.customer.id, "items": [{"price": catalog.monthly.id}], "days_until_due": 30},
    )
    assert error.param == "days_until_due"
    one_time = refused(
        client.v1.subscriptions.create,
        params={"customer": catalog.customer.id, "items": [{"price": catalog.one_time.id}]},
    )
    assert one_time.param == "items[0][price]"


def test_subscription_items_update_cancel_and_list(client, catalog, pin_clock):
    subscription = client.v1.subscriptions.create(
        params={"customer": catalog.customer.id, "items": [{"price": catalog.monthly.id}]}
    )
    yearly = client.v1.prices.create(
        params={
            "product": catalog.product.id,
            "currency": "usd",
            "unit_amount": 50000,
            "recurring": {"interval": "year"},
        }
    )
    added = client.v1.subscription_items.create(
        params={"subscription": subscription.id, "price": yearly.id, "quantity": 2}
    )
    client.v1.subscription_items.update(added.id, params={"quantity": 4})
    listed = client.v1.subscription_items.list(params={"subscription": subscription.id})
    assert sorted(item.quantity for item in listed.data) == [1, 4]

    first_item = subscription["items"].data[0]
    updated = client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": first_item.id, "deleted": True}], "cancel_at": "max_period_end"}
    )
    assert [item.id for item in updated["items"].data] == [added.id]
    assert updated.cancel_at == added.current_period_end

    canceled = client.v1.subscriptions.cancel(subscription.id)
    assert canceled.status == "canceled" and canceled.canceled_at == timestamp("2025-01-01")
    assert client.v1.subscriptions.list(params={"customer": catalog.customer.id}).data == []
    assert [sub.id for sub in client.v1.subscriptions.list(params={"status": "canceled"}).data] == [subscription.id]


def test_schedule_lifecycle_on_the_sandbox_clock(client, catalog, pin_clock):
    february, august = timestamp("2025-02-01"), timestamp("2025-08-01")
    pin_clock("2025-01-15")
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": catalog.customer.id,
            "start_date": february,
            "end_behavior": "cancel",
            "metadata": {"sf_contract_id": "800B"},
            "phases": [
                {"items": [{"price": catalog.monthly.id, "quantity": 1}], "end_date": august},
                {
                    "items": [{"price": catalog.monthly.id, "quantity": 2}],
                    "duration": {"interval": "month", "interval_count": 6},
                },
            ],
        }
    )
    assert (schedule.status, schedule.subscription, schedule.current_phase) == ("not_started", None, None)
    assert [(phase.start_date, phase.end_date) for phase in schedule.phases] == [
        (february, august),
        (august, timestamp("2026-02-01")),
    ]

    pin_clock("2025-03-10")
    active = client.v1.subscription_schedules.retrieve(schedule.id, params={"expand": ["subscription"]})
    assert active.status == "active" and active.current_phase.start_date == february
    assert active.subscription.schedule == schedule.id and active.subscription.start_date == february
    assert [item.quantity for item in active.subscription["items"].data] == [1]

    moved = refused(
        client.v1.subscription_schedules.update,
        schedule.id,
        params={
            "phases": [
                {"items": [{"price": catalog.monthly.id}], "start_date": timestamp("2025-03-01"), "end_date": august}
            ]
        },
    )
    assert moved.param == "phases[0][start_date]"
    amended = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {"items": [{"price": catalog.monthly.id, "quantity": 5}], "start_date": february, "end_date": august},
                {"items": [{"price": catalog.monthly.id, "quantity": 7}], "end_date": timestamp("2026-08-01")},
            ]
        },
    )
    assert amended.phases[1].end_date == timestamp("2026-08-01")
    subscription = client.v1.subscriptions.retrieve(amended.subscription)
    assert [item.quantity for item in subscription["items"].data] == [5]

    pin_clock("2025-09-01")
    assert client.v1.subscription_schedules.retrieve(schedule.id).current_phase.start_date == august
    assert [item.quantity for item in client.v1.subscriptions.retrieve(subscription.id)["items"].data] == [7]

    pin_clock("2026-09-01")
    completed = client.v1.subscription_schedules.list(params={"customer": catalog.customer.id}).data[0]
    assert completed.status == "completed"
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"


def test_schedule_cancel_release_and_phase_rules(client, catalog, pin_clock):
    def schedule_now(**extra) -> stripe.SubscriptionSchedule:
        params = {
            "customer": catalog.customer.id,
            "start_date": "now",
            "phases": [{"items": [{"price": catalog.monthly.id}]}],
        }
        return client.v1.subscription_schedules.create(params=params | extra)

    to_cancel = schedule_now()
    assert to_cancel.status == "active" and to_cancel.phases[0].end_date == timestamp("2025-02-01")
    canceled = client.v1.subscription_schedules.cancel(to_cancel.id)
    assert canceled.status == "canceled"
    assert client.v1.subscriptions.retrieve(to_cancel.subscription).status == "canceled"
    assert refused(client.v1.subscription_schedules.release, to_cancel.id).param == "id"

    to_release = schedule_now()
    released = client.v1.subscription_schedules.release(to_release.id)
    assert (released.status, released.subscription, released.released_subscription) == (
        "released",
        None,
        to_release.subscription,
    )
    carried_on = client.v1.subscriptions.retrieve(to_release.subscription)
    assert (carried_on.status, carried_on.schedule) == ("active", None)

    open_middle = refused(
        schedule_now,
        phases=[{"items": [{"price": catalog.monthly.id}]}, {"items": [{"price": catalog.monthly.id}]}],
    )
    assert open_middle.param == "phases[0][end_date]"


def test_invoice_items_and_invoice_finalize(client, catalog):
    item = client.v1.invoice_items.create(
        params={
            "customer": catalog.customer.id,
            "pricing": {"price": catalog.one_time.id},
            "quantity": 3,
            "period": {"start": 1735689600, "end": 1738368000},
            "metadata": {"sf_order_item": "802C"},
        }
    )
    assert (item.amount, item.currency, item.invoice) == (3750, "usd", None)
    assert item.pricing.price_details.price == catalog.one_time.id
    # This API version moved `price` under `pricing`; the top-level parameter is refused like Stripe does.
    assert (
        refused(
            client.v1.invoice_items.create, params={"customer": catalog.customer.id, "price": catalog.one_time.id}
        ).code
        == "parameter_unknown"
    )

    invoice = client.v1.invoices.create(
        params={
            "customer": catalog.customer.id,
            "pending_invoice_items_behavior": "include",
            "collection_method": "send_invoice",
            "days_until_due": 14,
        }
    )
    assert invoice.status == "draft" and invoice.total == 3750
    assert [line.parent.invoice_item_details.invoice_item for line in invoice.lines.data] == [item.id]

    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert finalized.status == "open" and finalized.number.endswith("-0001")
    assert finalized.hosted_invoice_url.startswith("https://") and finalized.due_date is not None
    assert refused(client.v1.invoices.finalize_invoice, invoice.id).code == "invoice_not_editable"
    assert refused(client.v1.invoice_items.update, item.id, params={"quantity": 1}).param == "id"
    assert [listed.id for listed in client.v1.invoice_items.list(params={"invoice": invoice.id}).data] == [item.id]


def test_archived_prices_keep_billing_on_the_schedules_that_hold_them(client, catalog, pin_clock):
    """Archiving a price stops new uses only: a schedule saved with it still starts its phases with it and may be
    updated with it (the connector archives order-line prices right after saving their schedule, spec F21)."""
    line_price = client.v1.prices.create(
        params={"product": catalog.product.id, "currency": "usd", "unit_amount": 800, "recurring": {"interval": "month"}}
    )
    phases = [
        {"items": [{"price": catalog.monthly.id, "quantity": 1}], "end_date": timestamp("2025-03-01")},
        {"items": [{"price": line_price.id, "quantity": 2}], "end_date": timestamp("2025-06-01")},
    ]
    schedule = client.v1.subscription_schedules.create(
        params={"customer": catalog.customer.id, "start_date": timestamp("2025-02-01"), "phases": phases}
    )
    client.v1.prices.update(line_price.id, params={"active": False})

    pin_clock("2025-03-15")  # the second phase, with the archived price, has begun
    started = client.v1.subscription_schedules.retrieve(schedule.id)
    assert started.status == "active" and started.current_phase.start_date == timestamp("2025-03-01")
    items = client.v1.subscription_items.list(params={"subscription": started.subscription}).data
    assert [(item.price.id, item.quantity) for item in items] == [(line_price.id, 2)]

    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {
                    "items": [{"price": line_price.id, "quantity": 3}],
                    "start_date": timestamp("2025-03-01"),
                    "end_date": timestamp("2025-06-01"),
                }
            ]
        },
    )
    assert updated.phases[0].items[0].quantity == 3

    error = refused(
        client.v1.subscription_schedules.create,
        params={
            "customer": catalog.customer.id,
            "start_date": timestamp("2025-04-01"),
            "phases": [{"items": [{"price": line_price.id, "quantity": 1}], "end_date": timestamp("2025-05-01")}],
        },
    )
    assert "inactive" in str(error) and error.param == "phases[0][items][0][price]"
