"""Requests Stripe refuses for their values: unsupported currencies, strings over Stripe's documented lengths,
control characters, statement descriptors; each as Stripe's 400 `invalid_request_error` with the failing param."""

from __future__ import annotations

import pytest
import stripe

from sf_stripe_pipeline.sandbox.stripe.limits import STRING_MAX_LENGTHS, SUPPORTED_CURRENCIES


def refusal(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        call()
    assert refused.value.http_status == 400
    assert refused.value.json_body["error"]["type"] == "invalid_request_error"
    return refused.value


def test_unsupported_currency_is_refused_with_stripes_message(client, catalog):
    error = refusal(
        lambda: client.v1.prices.create(params={"product": catalog.product.id, "currency": "xxx", "unit_amount": 1})
    )
    assert error.param == "currency"
    assert error.user_message.startswith("Invalid currency: xxx. Stripe currently supports these currencies: usd, ")
    nested = refusal(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": catalog.customer.id,
                "phases": [
                    {
                        "items": [{"price": catalog.monthly.id}],
                        "add_invoice_items": [
                            {"price_data": {"currency": "tnd", "product": catalog.product.id, "unit_amount": 5}}
                        ],
                    }
                ],
            }
        )
    )
    assert nested.param == "phases[0][add_invoice_items][0][price_data][currency]"  # three-decimal: not for US
    coupon = refusal(lambda: client.v1.coupons.create(params={"amount_off": 5, "currency": "eek"}))  # retired kroon
    assert coupon.param == "currency"
    assert {"usd", "eur", "jpy", "ugx", "chf"} <= SUPPORTED_CURRENCIES
    jpy = client.v1.prices.create(params={"product": catalog.product.id, "currency": "JPY", "unit_amount": 500})
    assert jpy.currency == "jpy" and jpy.unit_amount == 500  # zero-decimal: the amount is in yen already


@pytest.mark.parametrize(
    ("make", "param", "limit"),
    [
        (lambda c, cat, text: c.v1.customers.create(params={"name": text}), "name", 256),
        (lambda c, cat, text: c.v1.customers.create(params={"phone": text}), "phone", 20),
        (lambda c, cat, text: c.v1.customers.create(params={"email": text}), "email", 512),
        (lambda c, cat, text: c.v1.customers.create(params={"description": text}), "description", 5000),
        (lambda c, cat, text: c.v1.coupons.create(params={"percent_off": 5, "name": text}), "name", 40),
        (lambda c, cat, text: c.v1.products.create(params={"name": "P", "unit_label": text}), "unit_label", 12),
        (lambda c, cat, text: c.v1.products.create(params={"name": "P", "description": text}), "description", 40000),
        (
            lambda c, cat, text: c.v1.prices.update(cat.monthly.id, params={"lookup_key": text}),
            "lookup_key",
            200,
        ),
        (lambda c, cat, text: c.v1.prices.update(cat.monthly.id, params={"nickname": text}), "nickname", 5000),
        (
            lambda c, cat, text: c.v1.subscriptions.create(
                params={"customer": cat.customer.id, "items": [{"price": cat.monthly.id}], "description": text}
            ),
            "description",
            500,
        ),
        (
            lambda c, cat, text: c.v1.invoices.create(params={"customer": cat.customer.id, "description": text}),
            "description",
            1500,
        ),
    ],
)
def test_strings_longer_than_stripe_documents_are_refused(client, catalog, make, param, limit):
    error = refusal(lambda: make(client, catalog, "x" * (limit + 1)))
    assert error.param == param and f"must be at most {limit} characters" in error.user_message
    assert make(client, catalog, "x" * limit) is not None  # exactly at the limit is fine


def test_length_limits_apply_at_every_nesting_level(client, catalog):
    assert STRING_MAX_LENGTHS["SubscriptionScheduleCreateParams"]["phases.items.price"] == 5000
    error = refusal(
        lambda: client.v1.subscription_schedules.create(
            params={"customer": catalog.customer.id, "phases": [{"items": [{"price": "p" * 5001}]}]}
        )
    )
    assert error.param == "phases[0][items][0][price]"


def test_control_characters_are_refused_anywhere(client, catalog):
    assert refusal(lambda: client.v1.customers.create(params={"name": "Acme\x00Corp"})).param == "name"
    assert refusal(lambda: client.v1.customers.create(params={"metadata": {"sf_id": "001\x07"}})).param == (
        "metadata[sf_id]"
    )
    nested = refusal(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": catalog.customer.id,
                "phases": [{"items": [{"price": catalog.monthly.id}], "description": "Q1\x1b"}],
            }
        )
    )
    assert nested.param == "phases[0][description]"
    multi_line = client.v1.customers.create(params={"description": "line one\nline two\ttabbed\r\n"})
    assert multi_line.description == "line one\nline two\ttabbed\r\n"


def test_statement_descriptor_rules(client):
    too_long = refusal(lambda: client.v1.products.create(params={"name": "P", "statement_descriptor": "A" * 23}))
    assert too_long.param == "statement_descriptor" and "at most 22 characters" in too_long.user_message
    assert refusal(
        lambda: client.v1.products.create(params={"name": "P", "statement_descriptor": "ACME <SaaS>"})
    ).param == "statement_descriptor"
    assert refusal(lambda: client.v1.products.create(params={"name": "P", "statement_descriptor": "12345"})).param == (
        "statement_descriptor"
    )
    assert client.v1.products.create(params={"name": "P", "statement_descriptor": "ACME SAAS 2025"}).id


def test_refused_request_is_logged_and_stores_nothing(sandbox, client):
    refusal(lambda: client.v1.customers.create(params={"name": "\x00"}, options={"idempotency_key": "k"}))
    assert [record.status for record in sandbox.request_log()] == [400]
    assert client.v1.customers.create(params={"name": "ok"}, options={"idempotency_key": "k"}).name == "ok"
