"""The Stripe object types the sync writes: their stripe-python services, reference form and display names."""

from __future__ import annotations

from typing import Any

import stripe

SERVICES = {
    "customer": "customers",
    "product": "products",
    "price": "prices",
    "coupon": "coupons",
    "subscription_schedule": "subscription_schedules",
    "subscription": "subscriptions",
    "invoice_item": "invoice_items",
    "invoice": "invoices",
}


def service(client: stripe.StripeClient, stripe_object: str) -> Any:
    return getattr(client.v1, SERVICES[stripe_object])


def object_ref(stripe_object: str, key: str) -> str:
    return f"{stripe_object}:{key}"


_LABELS = {
    "customer": "Customer",
    "product": "Product",
    "price": "Price",
    "coupon": "Coupon",
    "subscription_schedule": "Subscription Schedule",
    "subscription": "Subscription",
    "invoice_item": "Invoice Item",
    "invoice": "Invoice",
}


def object_label(stripe_object: str) -> str:
    return _LABELS.get(stripe_object, stripe_object)
