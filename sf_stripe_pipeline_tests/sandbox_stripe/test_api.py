"""The sandbox's API mechanics through stripe-python: CRUD, lists, idempotency, parameter checks derived from
the SDK, metadata rules, auth, faults, the request log, persistence and concurrency."""

from __future__ import annotations

import typing
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import stripe
import stripe.params
from stripe import _request_options

from sf_stripe_pipeline.sandbox.stripe import FaultConfig, StripeSandbox
from sf_stripe_pipeline.sandbox.transport import serve


def sdk_fields(params_cls: type) -> dict[str, object]:
    """The SDK's type hints for a params class (its RequestOptions base names TYPE_CHECKING-only types)."""
    return typing.get_type_hints(params_cls, localns=vars(_request_options) | {"StripeContext": stripe.StripeContext})


def literal_values(params_cls: type, field: str) -> set[str]:
    """The enum values the SDK declares for `field` (`Literal[...] | str`)."""
    return {
        value
        for alternative in typing.get_args(sdk_fields(params_cls)[field])
        if typing.get_origin(alternative) is typing.Literal
        for value in typing.get_args(alternative)
    }


def test_customer_create_retrieve_update_delete(client):
    created = client.v1.customers.create(params={"name": "Acme", "metadata": {"sf_id": "001A", "tier": "gold"}})
    assert created.id.startswith("cus_") and created.object == "customer" and created.livemode is False
    assert created.last_response.request_id.startswith("req_")

    updated = client.v1.customers.update(created.id, params={"email": "a@acme.test", "metadata": {"tier": ""}})
    assert updated.email == "a@acme.test"
    assert updated.metadata.to_dict() == {"sf_id": "001A"}  # "" deleted the key, the rest merged
    assert client.v1.customers.retrieve(created.id).email == "a@acme.test"

    deleted = client.v1.customers.delete(created.id)
    assert deleted.deleted is True
    assert client.v1.customers.retrieve(created.id).deleted is True
    assert client.v1.customers.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_missing")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"


def test_list_pagination_newest_first(client):
    ids = [client.v1.customers.create(params={"name": f"c{index}"}).id for index in range(25)]
    newest_first = ids[::-1]

    first = client.v1.customers.list(params={"limit": 10})
    assert [customer.id for customer in first.data] == newest_first[:10] and first.has_more
    assert first.url == "/v1/customers"
    second = client.v1.customers.list(params={"limit": 10, "starting_after": first.data[-1].id})
    assert [customer.id for customer in second.data] == newest_first[10:20] and second.has_more
    third = client.v1.customers.list(params={"limit": 10, "starting_after": second.data[-1].id})
    assert [customer.id for customer in third.data] == newest_first[20:] and not third.has_more
    back = client.v1.customers.list(params={"limit": 10, "ending_before": second.data[0].id})
    assert [customer.id for customer in back.data] == newest_first[:10] and not back.has_more

    assert [customer.id for customer in first.auto_paging_iter()] == newest_first
    with pytest.raises(stripe.InvalidRequestError) as too_many:
        client.v1.customers.list(params={"limit": 101})
    assert too_many.value.param == "limit"


def test_idempotent_replay_and_conflict(client):
    options = {"idempotency_key": "sync-customer-001A"}
    first = client.v1.customers.create(params={"name": "Acme"}, options=options)
    replay = client.v1.customers.create(params={"name": "Acme"}, options=options)
    assert replay.id == first.id
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert replay.last_response.body == first.last_response.body
    assert len(client.v1.customers.list().data) == 1

    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"name": "Someone else"}, options=options)


def test_failed_validation_stores_no_idempotent_result(client):
    options = {"idempotency_key": "coupon-1"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.create(params={"amount_off": 500}, options=options)
    coupon = client.v1.coupons.create(
        params={"amount_off": 500, "currency": "eur"}, options={"idempotency_key": "coupon-1b"}
    )
    assert coupon.currency == "eur"
    # The key of the refused request is still free for a different, valid request.
    retry = client.v1.coupons.create(params={"percent_off": 5}, options=options)
    assert retry.percent_off == 5


def test_unknown_parameters_follow_the_sdk_params_classes(client, catalog):
    create_fields, update_fields = (
        sdk_fields(stripe.params.PriceCreateParams),
        sdk_fields(stripe.params.PriceUpdateParams),
    )
    assert "unit_amount" in create_fields and "unit_amount" not in update_fields
    with pytest.raises(stripe.InvalidRequestError) as immutable:
        client.v1.prices.update(catalog.monthly.id, params={"unit_amount": 9900})  # type: ignore[typeddict-unknown-key]
    assert (immutable.value.code, immutable.value.param) == ("parameter_unknown", "unit_amount")

    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.subscription_schedules.create(
            params={"customer": catalog.customer.id, "phases": [{"itemz": [{"price": catalog.monthly.id}]}]}  # type: ignore[typeddict-unknown-key]
        )
    assert (nested.value.code, nested.value.param) == ("parameter_unknown", "phases[0][itemz]")


def test_enum_values_outside_the_sdk_literal_are_refused(client, catalog):
    end_behaviors = literal_values(stripe.params.SubscriptionScheduleCreateParams, "end_behavior")
    assert "release" in end_behaviors and "pause" not in end_behaviors
    with pytest.raises(stripe.InvalidRequestError) as bad_enum:
        client.v1.subscription_schedules.create(
            params={
                "customer": catalog.customer.id,
                "end_behavior": "pause",
                "phases": [{"items": [{"price": catalog.monthly.id}]}],
            }
        )
    assert (bad_enum.value.code, bad_enum.value.param) == ("parameter_invalid_string", "end_behavior")

    intervals = literal_values(stripe.params.PriceCreateParamsRecurring, "interval")
    assert "fortnight" not in intervals
    with pytest.raises(stripe.InvalidRequestError) as nested_enum:
        client.v1.prices.create(
            params={
                "product": catalog.product.id,
                "currency": "usd",
                "unit_amount": 1,
                "recurring": {"interval": "fortnight"},
            }
        )
    assert nested_enum.value.param == "recurring[interval]"


def test_missing_required_and_mistyped_parameters(client):
    required = stripe.params.SubscriptionItemListParams.__required_keys__
    assert "subscription" in required
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscription_items.list(params={})  # type: ignore[typeddict-item]
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "subscription")

    with pytest.raises(stripe.InvalidRequestError) as missing_name:
        client.v1.products.create(params={})  # type: ignore[typeddict-item]
    assert missing_name.value.param == "name"

    with pytest.raises(stripe.InvalidRequestError) as not_an_integer:
        client.v1.customers.create(params={"balance": "lots"})  # type: ignore[typeddict-item]
    assert (not_an_integer.value.code, not_an_integer.value.param) == ("parameter_invalid_integer", "balance")

    with pytest.raises(stripe.InvalidRequestError) as empty:
        client.v1.customers.create(params={"description": ""})
    assert empty.value.code == "parameter_invalid_empty"


def test_metadata_limits(client):
    customer = client.v1.customers.create(params={"metadata": {"keep": "me", "drop": "me"}})
    cases = {
        "51 keys": ({f"k{index}": "v" for index in range(51)}, "metadata"),
        "41-char key": ({"k" * 41: "v"}, "metadata[" + "k" * 41 + "]"),
        "501-char value": ({"long": "v" * 501}, "metadata[long]"),
    }
    for case, (metadata, param) in cases.items():
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.customers.update(customer.id, params={"metadata": metadata})
        assert refused.value.param == param, case

    at_limits = {f"k{index}": "v" * 500 for index in range(48)} | {"x" * 40: "ok"}
    full = client.v1.customers.update(customer.id, params={"metadata": at_limits | {"drop": ""}})
    assert len(full.metadata.to_dict()) == 50 and "drop" not in full.metadata.to_dict()

    cleared = client.v1.customers.update(customer.id, params={"metadata": ""})
    assert cleared.metadata.to_dict() == {}


def test_authentication_is_required(sandbox):
    with pytest.raises(stripe.AuthenticationError):
        sandbox.client(api_key="sk_live_not_for_sandboxes").v1.customers.list()
    assert sandbox.client(api_key="rk_test_restricted").v1.customers.list().data == []
    assert sandbox.request_log()[0].status == 401


def test_error_rate_fault_stores_no_idempotent_result(sandbox, client):
    sandbox.configure_faults(FaultConfig(error_rate=1.0))
    with pytest.raises(stripe.APIError) as failed:
        client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "k"})
    assert failed.value.http_status == 500
    sandbox.configure_faults(None)
    created = client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "k"})
    assert "Idempotent-Replayed" not in created.last_response.headers


def test_fail_after_writes_fault(sandbox, client):
    sandbox.configure_faults(FaultConfig(fail_after_writes=2))
    client.v1.customers.create(params={"name": "one"})
    client.v1.customers.create(params={"name": "two"})
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"name": "three"})
    assert len(client.v1.customers.list().data) == 2  # reads still answer


def test_request_log_counts_and_persists(sandbox, client, tmp_path):
    customer = client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "log-1"})
    client.v1.customers.retrieve(customer.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"bogus": "x"})  # type: ignore[typeddict-unknown-key]

    log = sandbox.request_log()
    assert [(record.method, record.path, record.status) for record in log] == [
        ("POST", "/v1/customers", 200),
        ("GET", f"/v1/customers/{customer.id}", 200),
        ("POST", "/v1/customers", 400),
    ]
    assert [record.is_write for record in log] == [True, False, True]
    assert log[0].params == {"name": "Acme"} and log[0].idempotency_key == "log-1"
    assert log[0].request_id == customer.last_response.request_id

    other_process_view = StripeSandbox(sandbox.root)
    assert len(other_process_view.request_log()) == 3
    other_process_view.close()
    sandbox.clear_request_log()
    assert sandbox.request_log() == []
    assert client.v1.customers.retrieve(customer.id).id == customer.id


def test_persistence_and_reset(sandbox, client):
    customer = client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "persist"})
    sandbox.close()

    reopened = StripeSandbox(sandbox.root)
    reopened_client = reopened.client()
    assert reopened_client.v1.customers.retrieve(customer.id).name == "Acme"
    replay = reopened_client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "persist"})
    assert replay.id == customer.id

    reopened.reset()
    assert reopened.request_log() == []
    assert reopened_client.v1.customers.list().data == []
    reopened.close()


def test_concurrent_creates_get_unique_ids(sandbox):
    def create_batch(batch: int) -> list[str]:
        client = sandbox.client()
        return [client.v1.customers.create(params={"name": f"{batch}-{index}"}).id for index in range(15)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [customer_id for batch in pool.map(create_batch, range(6)) for customer_id in batch]
    assert len(set(ids)) == 90
    listed = sandbox.client().v1.customers.list(params={"limit": 100})
    assert len(listed.data) == 90 and not listed.has_more
    assert sum(record.is_write for record in sandbox.request_log()) == 90


def test_loopback_http(sandbox):
    with serve(sandbox) as server:
        client = stripe.StripeClient("sk_test_loopback", base_addresses={"api": server.url})
        product = client.v1.products.create(params={"name": "Over the wire", "id": "prod_wire"})
        with pytest.raises(stripe.InvalidRequestError) as duplicate:
            client.v1.products.create(params={"name": "Again", "id": "prod_wire"})
        assert duplicate.value.code == "resource_already_exists"
        assert client.v1.products.retrieve(product.id).name == "Over the wire"
        assert client.v1.products.list(params={"ids": ["prod_wire"]}).data[0].id == "prod_wire"
        # As `curl -u sk_test_...:` sends it (Stripe's docs): the key as the user of HTTP Basic auth.
        basic = requests.get(f"{server.url}/v1/products/prod_wire", auth=("sk_test_curl", ""), timeout=10)
        assert basic.status_code == 200 and basic.json()["name"] == "Over the wire"
        assert requests.get(f"{server.url}/v1/products/prod_wire", auth=("pk_test_x", ""), timeout=10).status_code == 401
