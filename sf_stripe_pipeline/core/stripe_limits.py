"""Stripe's documented limits: supported currencies, string lengths, characters and amounts.

The sync's validation (rules.py) refuses, before any write, every value Stripe would refuse; the Stripe sandbox
enforces the same limits (sandbox/stripe/params.py), so a rule the pipeline misses fails in the tests as it would
against Stripe. Data, not behaviour. Sources:
- Currencies: the presentment currencies on https://docs.stripe.com/currencies (a US account: the three-decimal
  currencies BHD, JOD, KWD, OMR, TND are refused for US accounts, as Stripe's error for `tnd` says). Stripe
  refuses any other code with `Invalid currency: xxx. Stripe currently supports these currencies: ...`.
- Zero-decimal currencies need nothing here: every amount in the API is in minor units whatever the currency.
- Amounts: "the amount value supports up to eight digits" (docs.stripe.com/currencies, minimum and maximum charge
  amounts): 99999999 minor units, e.g. USD 999,999.99.
- Control characters: Stripe refuses null bytes and other C0 control characters in strings; tab, line feed and
  carriage return pass (descriptions and footers may span lines). Emoji and other Unicode text pass.
- String lengths: the `maxLength` of each parameter in Stripe's OpenAPI spec (stripe/openapi `spec3`, read
  from parameter docs generated from the February 2026 spec), keyed by the stripe-python params class and the
  parameter path without list indices (`phases.items.price`), for the endpoints the sandbox serves; plus
  `statement_descriptor` on products (22, stated in the API reference text rather than as a `maxLength`).
  Regenerate when stripe-python is upgraded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

SUPPORTED_CURRENCIES = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd cad cdf chf
    clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr
    ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk
    mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp
    sle sos srd std szl thb tjs top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()
)

MAX_AMOUNT_MINOR_UNITS = 99_999_999
"""The largest amount Stripe takes in one parameter or charge: eight digits of minor units."""

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""C0 controls and DEL, except tab, line feed and carriage return: what Stripe refuses in a string."""

STATEMENT_DESCRIPTOR_FORBIDDEN = frozenset("<>\\\"'")
"""Characters Stripe refuses in statement descriptors (API reference, `statement_descriptor`)."""

STRING_MAX_LENGTHS: dict[str, dict[str, int]] = {
    "CouponCreateParams": {
        "id": 5000,
        "name": 40,
    },
    "CouponListParams": {
        "ending_before": 5000,
        "starting_after": 5000,
    },
    "CouponUpdateParams": {
        "name": 40,
    },
    "CustomerCreateParams": {
        "description": 5000,
        "email": 512,
        "invoice_prefix": 5000,
        "invoice_settings.default_payment_method": 5000,
        "invoice_settings.footer": 5000,
        "name": 256,
        "payment_method": 5000,
        "phone": 20,
        "source": 5000,
        "tax_id_data.type": 5000,
        "test_clock": 5000,
    },
    "CustomerListParams": {
        "email": 512,
        "ending_before": 5000,
        "starting_after": 5000,
        "test_clock": 5000,
    },
    "CustomerSearchParams": {
        "page": 5000,
        "query": 5000,
    },
    "CustomerUpdateParams": {
        "description": 5000,
        "email": 512,
        "invoice_prefix": 5000,
        "invoice_settings.default_payment_method": 5000,
        "invoice_settings.footer": 5000,
        "name": 256,
        "phone": 20,
        "source": 5000,
    },
    "InvoiceCreateParams": {
        "customer": 5000,
        "customer_account": 5000,
        "default_payment_method": 5000,
        "default_source": 5000,
        "description": 1500,
        "footer": 5000,
        "from_invoice.action": 5000,
        "from_invoice.invoice": 5000,
        "number": 26,
        "rendering.template": 5000,
        "shipping_cost.shipping_rate": 5000,
        "shipping_cost.shipping_rate_data.display_name": 100,
        "shipping_details.address.city": 5000,
        "shipping_details.address.country": 5000,
        "shipping_details.address.line1": 5000,
        "shipping_details.address.line2": 5000,
        "shipping_details.address.postal_code": 5000,
        "shipping_details.address.state": 5000,
        "shipping_details.name": 5000,
        "statement_descriptor": 22,
        "subscription": 5000,
    },
    "InvoiceItemCreateParams": {
        "customer": 5000,
        "customer_account": 5000,
        "description": 5000,
        "invoice": 5000,
        "price_data.product": 5000,
        "pricing.price": 5000,
        "subscription": 5000,
    },
    "InvoiceItemListParams": {
        "customer": 5000,
        "customer_account": 5000,
        "ending_before": 5000,
        "invoice": 5000,
        "starting_after": 5000,
    },
    "InvoiceItemUpdateParams": {
        "description": 5000,
        "price_data.product": 5000,
        "pricing.price": 5000,
    },
    "InvoiceListParams": {
        "customer": 5000,
        "customer_account": 5000,
        "ending_before": 5000,
        "starting_after": 5000,
        "subscription": 5000,
    },
    "InvoiceSearchParams": {
        "page": 5000,
        "query": 5000,
    },
    "InvoiceUpdateParams": {
        "default_payment_method": 5000,
        "description": 1500,
        "footer": 5000,
        "rendering.template": 5000,
        "statement_descriptor": 22,
    },
    "PriceCreateParams": {
        "lookup_key": 200,
        "nickname": 5000,
        "product": 5000,
        "product_data.id": 5000,
        "product_data.name": 5000,
        "product_data.statement_descriptor": 22,
        "product_data.tax_code": 5000,
        "product_data.unit_label": 12,
        "recurring.meter": 5000,
    },
    "PriceListParams": {
        "ending_before": 5000,
        "product": 5000,
        "recurring.meter": 5000,
        "starting_after": 5000,
    },
    "PriceSearchParams": {
        "page": 5000,
        "query": 5000,
    },
    "PriceUpdateParams": {
        "lookup_key": 200,
        "nickname": 5000,
    },
    "ProductCreateParams": {
        "description": 40000,
        "id": 5000,
        "marketing_features.name": 5000,
        "name": 5000,
        "statement_descriptor": 22,
        "unit_label": 12,
        "url": 5000,
    },
    "ProductListParams": {
        "ending_before": 5000,
        "starting_after": 5000,
        "url": 5000,
    },
    "ProductSearchParams": {
        "page": 5000,
        "query": 5000,
    },
    "ProductUpdateParams": {
        "default_price": 5000,
        "name": 5000,
        "statement_descriptor": 22,
    },
    "SubscriptionCreateParams": {
        "add_invoice_items.discounts.coupon": 5000,
        "add_invoice_items.discounts.discount": 5000,
        "add_invoice_items.discounts.promotion_code": 5000,
        "add_invoice_items.price": 5000,
        "add_invoice_items.price_data.product": 5000,
        "customer": 5000,
        "customer_account": 5000,
        "default_payment_method": 5000,
        "default_source": 5000,
        "description": 500,
        "items.plan": 5000,
        "items.price": 5000,
        "items.price_data.product": 5000,
    },
    "SubscriptionItemCreateParams": {
        "plan": 5000,
        "price": 5000,
        "price_data.product": 5000,
        "subscription": 5000,
    },
    "SubscriptionItemListParams": {
        "subscription": 5000,
    },
    "SubscriptionItemUpdateParams": {
        "plan": 5000,
        "price": 5000,
        "price_data.product": 5000,
    },
    "SubscriptionListParams": {
        "customer": 5000,
        "customer_account": 5000,
        "ending_before": 5000,
        "plan": 5000,
        "price": 5000,
        "starting_after": 5000,
        "test_clock": 5000,
    },
    "SubscriptionScheduleCreateParams": {
        "customer": 5000,
        "customer_account": 5000,
        "default_settings.default_payment_method": 5000,
        "from_subscription": 5000,
        "phases.add_invoice_items.discounts.coupon": 5000,
        "phases.add_invoice_items.discounts.discount": 5000,
        "phases.add_invoice_items.discounts.promotion_code": 5000,
        "phases.add_invoice_items.price": 5000,
        "phases.add_invoice_items.price_data.product": 5000,
        "phases.default_payment_method": 5000,
        "phases.items.plan": 5000,
        "phases.items.price": 5000,
        "phases.items.price_data.product": 5000,
    },
    "SubscriptionScheduleListParams": {
        "customer": 5000,
        "customer_account": 5000,
        "ending_before": 5000,
        "starting_after": 5000,
    },
    "SubscriptionScheduleUpdateParams": {
        "default_settings.default_payment_method": 5000,
        "phases.add_invoice_items.discounts.coupon": 5000,
        "phases.add_invoice_items.discounts.discount": 5000,
        "phases.add_invoice_items.discounts.promotion_code": 5000,
        "phases.add_invoice_items.price": 5000,
        "phases.add_invoice_items.price_data.product": 5000,
        "phases.default_payment_method": 5000,
        "phases.items.plan": 5000,
        "phases.items.price": 5000,
        "phases.items.price_data.product": 5000,
    },
    "SubscriptionSearchParams": {
        "page": 5000,
        "query": 5000,
    },
    "SubscriptionUpdateParams": {
        "add_invoice_items.discounts.coupon": 5000,
        "add_invoice_items.discounts.discount": 5000,
        "add_invoice_items.discounts.promotion_code": 5000,
        "add_invoice_items.price": 5000,
        "add_invoice_items.price_data.product": 5000,
        "billing_cycle_anchor": 5000,
        "default_payment_method": 5000,
        "items.id": 5000,
        "items.plan": 5000,
        "items.price": 5000,
        "items.price_data.product": 5000,
    },
}


CREATE_PARAMS = {
    "customer": "CustomerCreateParams",
    "product": "ProductCreateParams",
    "price": "PriceCreateParams",
    "coupon": "CouponCreateParams",
    "subscription_schedule": "SubscriptionScheduleCreateParams",
    "subscription": "SubscriptionCreateParams",
    "invoice_item": "InvoiceItemCreateParams",
    "invoice": "InvoiceCreateParams",
}
"""The stripe-python params class each object the sync writes is created with (the key of STRING_MAX_LENGTHS)."""


@dataclass(frozen=True)
class StringProblem:
    """A string Stripe would refuse, at `path` in the params (keys and list indices)."""

    path: tuple[str | int, ...]
    rule: str
    """`control_characters` or `stripe_field_limit`."""
    message: str

    @property
    def param(self) -> str:
        """The parameter as STRING_MAX_LENGTHS names it: `phases.items.metadata.plan` (no list indices)."""
        return ".".join(step for step in self.path if isinstance(step, str))


def string_problems(stripe_object: str, params: Mapping[str, Any]) -> Iterator[StringProblem]:
    """Every string in create `params` of `stripe_object` that Stripe refuses: over its parameter's documented length,
    or holding a control character (in metadata keys too). Emoji and other Unicode text are fine."""
    limits = STRING_MAX_LENGTHS.get(CREATE_PARAMS.get(stripe_object, ""), {})
    yield from _string_problems(params, (), "", limits)


def _string_problems(
    value: Any, path: tuple[str | int, ...], param: str, limits: Mapping[str, int]
) -> Iterator[StringProblem]:
    """`param`: `path` as StringProblem.param names it, built on the way down (every string of every drafted object
    passes here)."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            if isinstance(key, str) and (found := _control_character(key)):
                yield StringProblem((*path, key), "control_characters", f"the key {key!r} {found}")
            child_param = (f"{param}.{key}" if param else key) if isinstance(key, str) else param
            yield from _string_problems(child, (*path, key), child_param, limits)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _string_problems(child, (*path, index), param, limits)
    elif isinstance(value, str):
        if found := _control_character(value):
            yield StringProblem(path, "control_characters", f"the value {found}")
        limit = limits.get(param)
        if limit is not None and len(value) > limit:
            message = f"{len(value)} characters ({value[:30]!r}...); Stripe takes at most {limit}"
            yield StringProblem(path, "stripe_field_limit", message)


def _control_character(text: str) -> str | None:
    found = CONTROL_CHARACTERS.search(text)
    if found is None:
        return None
    return (
        f"contains the control character {found.group()!r} at position {found.start()}; Stripe refuses null bytes "
        "and other control characters"
    )
