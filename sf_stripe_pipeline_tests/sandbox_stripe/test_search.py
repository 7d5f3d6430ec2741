"""Search (`GET /v1/{customers,products,prices,subscriptions,invoices}/search`) with Stripe's query language,
its pagination and its lag, and the list filters the pipeline may use, through stripe-python."""

from __future__ import annotations

import pytest
import stripe

from sf_stripe_pipeline.sandbox.stripe import FaultConfig
from sf_stripe_pipeline.sandbox.transport import serve


def ids(result) -> list[str]:
    return [obj.id for obj in result.data]


def test_search_customers_by_metadata_and_fields(client):
    acme = client.v1.customers.create(params={"name": "Acme", "email": "ap@acme.test", "metadata": {"sf_id": "001A"}})
    beta = client.v1.customers.create(params={"name": "Beta", "email": "ap@beta.test", "metadata": {"sf_id": "001B"}})
    client.v1.customers.create(params={"name": "Gamma"})

    found = client.v1.customers.search(params={"query": "metadata['sf_id']:'001A'"})
    assert found.object == "search_result" and ids(found) == [acme.id] and found.has_more is False
    assert found.url == "/v1/customers/search" and found.next_page is None
    assert ids(client.v1.customers.search(params={"query": 'metadata["sf_id"]:"001a"'})) == [acme.id]  # any case
    assert ids(client.v1.customers.search(params={"query": "email:'ap@beta.test' AND name:'Beta'"})) == [beta.id]
    assert ids(client.v1.customers.search(params={"query": "name:'Acme' OR name:'Beta'"})) == [beta.id, acme.id]
    assert ids(client.v1.customers.search(params={"query": "name~'CME'"})) == [acme.id]
    assert ids(client.v1.customers.search(params={"query": "email~'acme'"})) == [acme.id]
    assert len(client.v1.customers.search(params={"query": "-metadata['sf_id']:'001A'"}).data) == 2
    assert len(client.v1.customers.search(params={"query": "metadata['sf_id']:null"}).data) == 1
    assert len(client.v1.customers.search(params={"query": f"created>={acme.created}"}).data) == 3
    client.v1.customers.delete(acme.id)
    assert ids(client.v1.customers.search(params={"query": "metadata['sf_id']:'001A'"})) == []


def test_search_other_resources(client, catalog):
    price = client.v1.prices.create(
        params={
            "product": catalog.product.id,
            "currency": "eur",
            "unit_amount": 700,
            "lookup_key": "platform-eur",
            "metadata": {"sf_id": "01tP"},
        }
    )
    assert ids(client.v1.prices.search(params={"query": "active:'true' AND currency:'eur'"})) == [price.id]
    assert ids(client.v1.prices.search(params={"query": "lookup_key:'platform-eur'"})) == [price.id]
    assert len(client.v1.prices.search(params={"query": f"product:'{catalog.product.id}'"}).data) == 3
    assert ids(client.v1.products.search(params={"query": "name:'Platform'"})) == [catalog.product.id]

    subscription = client.v1.subscriptions.create(
        params={"customer": catalog.customer.id, "items": [{"price": catalog.monthly.id}], "metadata": {"sf": "800A"}}
    )
    assert ids(client.v1.subscriptions.search(params={"query": "status:'active' AND metadata['sf']:'800A'"})) == [
        subscription.id
    ]
    invoice = client.v1.invoices.create(params={"customer": catalog.customer.id, "metadata": {"sf": "INV-1"}})
    assert ids(client.v1.invoices.search(params={"query": f"customer:'{catalog.customer.id}' AND status:'draft'"})) == [
        invoice.id
    ]


def test_search_pages_with_next_page(client):
    created = [client.v1.products.create(params={"name": f"P{n}", "metadata": {"batch": "7"}}).id for n in range(5)]
    first = client.v1.products.search(params={"query": "metadata['batch']:'7'", "limit": 2})
    assert ids(first) == created[::-1][:2] and first.has_more and first.next_page
    second = client.v1.products.search(params={"query": "metadata['batch']:'7'", "limit": 2, "page": first.next_page})
    assert ids(second) == created[::-1][2:4]
    everything = [product.id for product in first.auto_paging_iter()]
    assert everything == created[::-1]


@pytest.mark.parametrize(
    "query",
    [
        "name:'A' AND email:'b' OR phone:'c'",  # AND and OR together
        "balance:'3'",  # not a customer search field
        "name='Acme'",  # not an operator of the language
        "name:'Acme' AND",  # dangling joiner
        "name~'ab'",  # substring needs three characters
        "name>'Acme'",  # comparisons are for numbers
        " AND ".join(f"name:'{n}'" for n in range(11)),  # more than ten clauses
    ],
)
def test_unsupported_queries_are_refused_in_stripes_shape(client, query):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.search(params={"query": query})
    assert refused.value.http_status == 400 and refused.value.param == "query"
    assert refused.value.json_body["error"]["type"] == "invalid_request_error"


def test_unsupported_field_names_the_resource(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.search(params={"query": "customer:'cus_1'"})
    assert "unsupported search field for resource `subscriptions`" in refused.value.user_message


def test_search_lags_behind_writes_on_the_sandbox_clock(sandbox, client, pin_clock):
    sandbox.configure_faults(FaultConfig(search_lag_seconds=60))
    customer = client.v1.customers.create(params={"metadata": {"sf_id": "001A"}})
    query = {"query": "metadata['sf_id']:'001A'"}
    assert client.v1.customers.search(params=query).data == []  # as on Stripe right after a write
    assert client.v1.customers.list().data[0].id == customer.id  # lists are read-after-write consistent
    pin_clock("2025-01-01T00:00:59")
    assert client.v1.customers.search(params=query).data == []
    pin_clock("2025-01-01T00:01:00")
    assert ids(client.v1.customers.search(params=query)) == [customer.id]
    client.v1.customers.update(customer.id, params={"metadata": {"sf_id": "001B"}})
    assert client.v1.customers.search(params={"query": "metadata['sf_id']:'001B'"}).data == []


def test_search_over_loopback(sandbox):
    with serve(sandbox) as server:
        client = stripe.StripeClient("sk_test_loopback", base_addresses={"api": server.url})
        customer = client.v1.customers.create(params={"name": "O'Brien & Co", "metadata": {"sf_id": "001A"}})
        found = client.v1.customers.search(params={"query": r"name:'O\'Brien & Co' AND metadata['sf_id']:'001A'"})
        assert ids(found) == [customer.id]


def test_list_filters_the_pipeline_uses(client, catalog):
    other = client.v1.customers.create(params={"name": "Other"})
    schedule = client.v1.subscription_schedules.create(
        params={"customer": catalog.customer.id, "phases": [{"items": [{"price": catalog.monthly.id}]}]}
    )
    client.v1.subscription_schedules.create(params={"customer": other.id, "phases": [{"items": [{"price": catalog.monthly.id}]}]})
    assert ids(client.v1.subscription_schedules.list(params={"customer": catalog.customer.id})) == [schedule.id]

    pending = client.v1.invoice_items.create(params={"customer": catalog.customer.id, "pricing": {"price": catalog.one_time.id}})
    invoice = client.v1.invoices.create(params={"customer": catalog.customer.id, "pending_invoice_items_behavior": "include"})
    loose = client.v1.invoice_items.create(params={"customer": catalog.customer.id, "amount": 100, "currency": "usd"})
    assert ids(client.v1.invoice_items.list(params={"customer": catalog.customer.id, "pending": True})) == [loose.id]
    assert ids(client.v1.invoice_items.list(params={"invoice": invoice.id})) == [pending.id]
    assert ids(client.v1.invoices.list(params={"customer": catalog.customer.id, "status": "draft"})) == [invoice.id]

    third = client.v1.customers.create(params={"name": "Third"})
    subscription = client.v1.subscriptions.create(params={"customer": third.id, "items": [{"price": catalog.monthly.id}]})
    client.v1.subscriptions.cancel(subscription.id)
    assert client.v1.subscriptions.list(params={"customer": third.id}).data == []
    assert ids(client.v1.subscriptions.list(params={"customer": third.id, "status": "all"})) == [subscription.id]

    keyed = client.v1.prices.create(
        params={"product": catalog.product.id, "currency": "usd", "unit_amount": 1, "lookup_key": "k1"}
    )
    assert ids(client.v1.prices.list(params={"lookup_keys": ["k1", "k2"], "active": True})) == [keyed.id]
    assert len(client.v1.prices.list(params={"product": catalog.product.id}).data) == 3
    assert ids(client.v1.products.list(params={"ids": [catalog.product.id]})) == [catalog.product.id]
    coupon = client.v1.coupons.create(params={"percent_off": 10})
    assert ids(client.v1.coupons.list(params={"limit": 1})) == [coupon.id]


def test_list_filters_the_sandbox_does_not_implement_are_refused(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscription_schedules.list(params={"scheduled": True})
    assert refused.value.param == "scheduled"
    with pytest.raises(stripe.InvalidRequestError) as too_many:
        client.v1.prices.list(params={"lookup_keys": [f"k{n}" for n in range(11)]})
    assert too_many.value.param == "lookup_keys"
