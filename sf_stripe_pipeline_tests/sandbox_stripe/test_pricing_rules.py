"""Tiered prices (F19), metered items without a quantity, credits (negative amounts) where Stripe takes them,
and the coupon and schedule-phase rules, through stripe-python."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe

GRADUATED = [
    {"up_to": 10, "unit_amount_decimal": "1000"},
    {"up_to": 50, "unit_amount": 800, "flat_amount": 500},
    {"up_to": "inf", "unit_amount_decimal": "650.5"},
]


def tiered(client, product_id: str, **overrides) -> stripe.Price:
    params = {
        "product": product_id,
        "currency": "usd",
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "tiers": GRADUATED,
        "recurring": {"interval": "month"},
    } | overrides
    return client.v1.prices.create(params=params)


def refused(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as error:
        call()
    assert error.value.http_status == 400
    return error.value


def test_tiered_price_is_stored_and_tiers_are_shown_only_when_expanded(client, catalog):
    price = tiered(client, catalog.product.id)
    assert price.billing_scheme == "tiered" and price.tiers_mode == "graduated"
    assert price.unit_amount is None and "tiers" not in price.to_dict()  # Stripe includes tiers on request only
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["tiers"]})
    assert [tier.to_dict() for tier in expanded.tiers] == [  # stripe-python reads decimal strings as Decimal
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": 1000, "unit_amount_decimal": Decimal(1000),
         "up_to": 10},
        {"flat_amount": 500, "flat_amount_decimal": Decimal(500), "unit_amount": 800,
         "unit_amount_decimal": Decimal(800), "up_to": 50},
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": None,
         "unit_amount_decimal": Decimal("650.5"), "up_to": None},
    ]  # fmt: skip
    listed = client.v1.prices.list(params={"product": catalog.product.id, "expand": ["data.tiers"]})
    assert [len(p.tiers or []) for p in listed.data] == [3, 0, 0]


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"tiers_mode": None}, "tiers_mode"),
        ({"tiers": [{"up_to": 5, "unit_amount": 1}, {"up_to": 3, "unit_amount": 1}, {"up_to": "inf", "unit_amount": 1}]},
         "tiers[1][up_to]"),
        ({"tiers": [{"up_to": 5, "unit_amount": 1}]}, "tiers[0][up_to]"),
        ({"tiers": [{"up_to": "inf", "unit_amount": 1}, {"up_to": "inf", "unit_amount": 1}]}, "tiers[0][up_to]"),
        ({"tiers": [{"up_to": "inf"}]}, "tiers[0]"),
        ({"tiers": [{"up_to": "inf", "unit_amount": 1, "unit_amount_decimal": "1"}]}, "tiers[0][unit_amount_decimal]"),
        ({"tiers": [{"up_to": "inf", "unit_amount_decimal": "-1"}]}, "tiers[0][unit_amount]"),
        ({"unit_amount": 100}, "unit_amount"),
        ({"recurring": None}, "billing_scheme"),
    ],
)  # fmt: skip
def test_tiered_price_validation(client, catalog, overrides, param):
    params = {key: value for key, value in overrides.items() if value is not None}
    removed = {key for key, value in overrides.items() if value is None}

    def create():
        base = {
            "product": catalog.product.id,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": GRADUATED,
            "recurring": {"interval": "month"},
        }
        return client.v1.prices.create(params={k: v for k, v in (base | params).items() if k not in removed})

    assert refused(create).param == param


def test_tiers_need_the_tiered_scheme(client, catalog):
    error = refused(
        lambda: client.v1.prices.create(
            params={"product": catalog.product.id, "currency": "usd", "unit_amount": 1, "tiers_mode": "volume"}
        )
    )
    assert error.param == "tiers_mode"


def test_tiered_prices_in_schedules_and_subscriptions_licensed_and_metered(client, catalog, pin_clock):
    licensed = tiered(client, catalog.product.id, tiers_mode="volume")
    metered = tiered(client, catalog.product.id, recurring={"interval": "month", "usage_type": "metered"})
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": catalog.customer.id,
            "start_date": "now",
            "phases": [{"items": [{"price": licensed.id, "quantity": 25}, {"price": metered.id}]}],
        }
    )
    phase_items = [item.to_dict() for item in schedule.phases[0]["items"]]
    assert phase_items[0]["quantity"] == 25 and "quantity" not in phase_items[1]  # Stripe omits it when metered
    subscription = client.v1.subscriptions.retrieve(schedule.subscription)
    items = {item.price.id: item.to_dict() for item in subscription["items"].data}
    assert items[licensed.id]["quantity"] == 25 and "quantity" not in items[metered.id]
    assert "livemode" not in items[licensed.id]
    with_tiers = client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["items.data.price.tiers"]})
    assert all(len(item.price.tiers) == 3 for item in with_tiers["items"].data)


def test_metered_items_refuse_a_quantity(client, catalog):
    metered = client.v1.prices.create(
        params={
            "product": catalog.product.id,
            "currency": "usd",
            "unit_amount": 3,
            "recurring": {"interval": "month", "usage_type": "metered"},
        }
    )
    error = refused(
        lambda: client.v1.subscriptions.create(
            params={"customer": catalog.customer.id, "items": [{"price": metered.id, "quantity": 2}]}
        )
    )
    assert error.param == "items[0][quantity]"
    phase = refused(
        lambda: client.v1.subscription_schedules.create(
            params={"customer": catalog.customer.id, "phases": [{"items": [{"price": metered.id, "quantity": 1}]}]}
        )
    )
    assert phase.param == "phases[0][items][0][quantity]"
    subscription = client.v1.subscriptions.create(
        params={"customer": catalog.customer.id, "items": [{"price": metered.id}]}
    )
    item = subscription["items"].data[0]
    assert "quantity" not in item.to_dict()
    assert refused(lambda: client.v1.subscription_items.update(item.id, params={"quantity": 4})).param == "quantity"
    licensed = client.v1.subscription_items.update(item.id, params={"price": catalog.monthly.id})
    assert licensed.quantity == 1  # a licensed price has a quantity again


def test_credits_only_where_stripe_takes_negative_amounts(client, catalog):
    credit = {"currency": "usd", "product": catalog.product.id, "unit_amount_decimal": "-1250.5"}
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": catalog.customer.id,
            "phases": [{"items": [{"price": catalog.monthly.id}], "add_invoice_items": [{"price_data": credit}]}],
        }
    )
    [line] = schedule.phases[0].add_invoice_items
    assert line.to_dict()["quantity"] == 1 and line.discountable is True
    assert client.v1.prices.retrieve(line.price).unit_amount_decimal == Decimal("-1250.5")

    subscription = client.v1.subscriptions.create(
        params={
            "customer": catalog.customer.id,
            "items": [{"price": catalog.monthly.id}],
            "add_invoice_items": [{"price_data": credit}],
        }
    )
    assert subscription.status == "active"
    recurring_credit = credit | {"recurring": {"interval": "month"}}
    assert refused(
        lambda: client.v1.subscriptions.create(
            params={"customer": catalog.customer.id, "items": [{"price_data": recurring_credit}]}
        )
    ).param == "items[0][price_data][unit_amount]"
    assert refused(
        lambda: client.v1.prices.create(params={"product": catalog.product.id, "currency": "usd", "unit_amount": -5})
    ).param == "unit_amount"
    assert refused(
        lambda: client.v1.invoice_items.create(params={"customer": catalog.customer.id, "price_data": credit})
    ).param == "price_data[unit_amount]"

    item = client.v1.invoice_items.create(
        params={"customer": catalog.customer.id, "currency": "usd", "unit_amount_decimal": "-1999.6"}
    )
    assert item.amount == -2000
    invoice = client.v1.invoices.create(
        params={"customer": catalog.customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert invoice.total == -2000 and invoice.amount_due == -2000


def test_coupon_rules(client, catalog):
    assert refused(lambda: client.v1.coupons.create(params={"amount_off": 500})).param == "currency"
    assert refused(
        lambda: client.v1.coupons.create(params={"percent_off": 10, "duration": "repeating"})
    ).param == "duration_in_months"
    assert refused(lambda: client.v1.coupons.create(params={"percent_off": 120})).param == "percent_off"
    coupon = client.v1.coupons.create(params={"percent_off": 10, "id": "TEN"})
    client.v1.coupons.delete(coupon.id)
    deleted = refused(
        lambda: client.v1.subscriptions.create(
            params={
                "customer": catalog.customer.id,
                "items": [{"price": catalog.monthly.id}],
                "discounts": [{"coupon": "TEN"}],
            }
        )
    )
    assert deleted.code == "resource_missing" and deleted.param == "discounts[0][coupon]"


def test_schedule_phase_rules(client, catalog, pin_clock):
    def create(phases: list[dict], **extra) -> stripe.SubscriptionSchedule:
        return client.v1.subscription_schedules.create(
            params={"customer": catalog.customer.id, "phases": phases} | extra
        )

    item = {"price": catalog.monthly.id}
    assert refused(lambda: create([{"items": [], "metadata": {"q": "1"}}])).param == "phases[0][items]"
    assert refused(lambda: create([{"items": [item]}, {"items": [item]}])).param == "phases[0][end_date]"
    assert refused(
        lambda: create([{"items": [item], "end_date": 1735689600 - 1}], start_date=1735689600)
    ).param == "phases[0][end_date]"
    assert refused(
        lambda: create(
            [
                {"items": [item], "duration": {"interval": "month"}},
                {"items": [item], "start_date": 1735689600 + 5, "duration": {"interval": "month"}},
            ],
            start_date=1735689600,
        )
    ).param == "phases[1][start_date]"
    twice = refused(lambda: create([{"items": [item, item]}]))
    assert twice.param == "phases[0][items][1][price]"
    assert refused(
        lambda: client.v1.subscriptions.create(params={"customer": catalog.customer.id, "items": [item, item]})
    ).param == "items[1][price]"
    active = create([{"items": [item], "duration": {"interval": "month"}}, {"items": [item]}], start_date="now")
    pin_clock("2025-01-15")
    moved = refused(
        lambda: client.v1.subscription_schedules.update(
            active.id, params={"phases": [{"items": [item], "start_date": 1735689600 + 86400}]}
        )
    )
    assert moved.param == "phases[0][start_date]"
