"""Reading the actual Stripe state: many objects of a type are listed in pages, not retrieved one by one, with the
same answers (found, missing, deleted) as individual retrieves."""

from __future__ import annotations

from pathlib import Path

from sf_stripe_pipeline.stripe.reads import fetch_actual
from sf_stripe_pipeline.core import DesiredObject
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox


def _desired(key: str, linked: str | None) -> DesiredObject:
    return DesiredObject(
        stripe_object="customer", key=key, sf_object="Account", sf_id=key, params={}, linked_stripe_id=linked,
        contract_keys=(), depends_on=(),
    )


def test_many_customers_are_read_in_pages_with_the_same_answers(tmp_path: Path) -> None:
    sandbox = StripeSandbox(tmp_path / "stripe")
    client = sandbox.client()
    ids = [client.v1.customers.create(params={"name": f"Customer {n}"}).id for n in range(230)]
    client.v1.customers.delete(ids[0])
    known = {f"customer:acct{n}": stripe_id for n, stripe_id in enumerate(ids)}
    desired = [_desired(f"acct{n}", None) for n in range(len(ids))]
    desired += [_desired("pasted", "cus_doesnotexist"), _desired("new", None)]
    sandbox.clear_request_log()

    actual = {found.ref: found for found in fetch_actual(client, desired, known)}

    assert actual["customer:acct0"].state == "deleted"
    assert actual["customer:acct7"].state == "found" and actual["customer:acct7"].body["name"] == "Customer 7"
    assert all(actual[f"customer:acct{n}"].state == "found" for n in range(1, len(ids)))
    assert actual["customer:pasted"].state == "missing" and actual["customer:pasted"].stripe_id == "cus_doesnotexist"
    assert actual["customer:new"].state == "missing" and actual["customer:new"].stripe_id is None
    calls = [(entry.method, entry.path) for entry in sandbox.request_log()]
    lists = [call for call in calls if call == ("GET", "/v1/customers")]
    retrieves = [call for call in calls if call[1].startswith("/v1/customers/")]
    assert len(lists) == 3, "229 live customers in pages of 100"
    assert len(retrieves) == 2, "only the deleted one (lists omit it) and the pasted unknown id"
