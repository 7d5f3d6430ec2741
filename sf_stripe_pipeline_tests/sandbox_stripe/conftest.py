"""Fixtures for the Stripe sandbox tests: a sandbox in tmp_path, a real StripeClient on it, a pinnable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import stripe

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox


@pytest.fixture
def sandbox(tmp_path) -> Iterator[StripeSandbox]:
    sandbox = StripeSandbox(tmp_path / "stripe")
    yield sandbox
    sandbox.close()


@pytest.fixture
def client(sandbox: StripeSandbox) -> stripe.StripeClient:
    return sandbox.client()


@pytest.fixture
def pin_clock(monkeypatch) -> Callable[[str], None]:
    """Pin the sandbox clock to an ISO date (UTC); starts pinned at 2025-01-01."""

    def pin(instant: str) -> None:
        monkeypatch.setenv(NOW_ENV_VAR, instant)

    pin("2025-01-01")
    return pin


@dataclass
class Catalog:
    customer: stripe.Customer
    product: stripe.Product
    monthly: stripe.Price
    one_time: stripe.Price


@pytest.fixture
def catalog(client: stripe.StripeClient) -> Catalog:
    customer = client.v1.customers.create(params={"name": "Acme", "email": "billing@acme.test"})
    product = client.v1.products.create(params={"name": "Platform", "id": "prod_platform"})
    monthly = client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 5000, "recurring": {"interval": "month"}}
    )
    one_time = client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount_decimal": "1250"})
    return Catalog(customer, product, monthly, one_time)
