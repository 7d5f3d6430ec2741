"""replace_org / export_org: validation that names the bad record, atomicity, round trip, persistence."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sf_stripe_pipeline.sandbox.salesforce import OrgRecordError, SalesforceSandbox
from sf_stripe_pipeline.sandbox.salesforce.ids import case_safe_suffix, is_valid_id, make_id, to_18

from .conftest import ACME, BETA, ORDER_1, PINNED_NOW, sf_id, small_org


def with_change(sobject: str, index: int, **changes) -> dict:
    org = small_org()
    org[sobject][index] = {**org[sobject][index], **changes}
    return org


@pytest.mark.parametrize(
    ("org", "sobject", "index", "reason"),
    [
        (with_change("Account", 1, Colour__c="red"), "Account", 1, "unknown field 'Colour__c'"),
        (with_change("Order", 2, EffectiveDate="31/12/2024"), "Order", 2, "field 'EffectiveDate' (date)"),
        (with_change("OrderItem", 0, Quantity="1"), "OrderItem", 0, "field 'Quantity' (double)"),
        (with_change("Order", 1, SBQQ__Contracted__c="yes"), "Order", 1, "true or false"),
        (with_change("OrderItem", 2, OrderId=sf_id("Order", 99)), "OrderItem", 2, "not a Order record"),
        (with_change("Order", 3, AccountId=ORDER_1), "Order", 3, "refers to"),
        (with_change("Account", 2, Id=ACME), "Account", 2, "duplicate Id"),
        (with_change("Account", 0, Id=sf_id("Contact", 1)), "Account", 0, "starting '001'"),
        (with_change("Account", 0, Id=ACME[:15] + "ABA"), "Account", 0, "valid suffix"),
        ({**small_org(), "Widget__c": []}, "Widget__c", None, "unknown object"),
    ],
)
def test_replace_org_names_the_bad_record_and_keeps_the_previous_org(
    sandbox, sf, org: dict, sobject: str, index: int | None, reason: str
) -> None:
    sandbox.replace_org({"Account": [{"Id": BETA, "Name": "Only Beta"}]})
    with pytest.raises(OrgRecordError) as raised:
        sandbox.replace_org(org)
    assert (raised.value.sobject, raised.value.index) == (sobject, index)
    assert reason in raised.value.reason
    if index is not None:
        assert raised.value.record_id == org[sobject][index]["Id"]
        assert f"{sobject}[{index}]" in str(raised.value)
    assert [r["Name"] for r in sf.query("SELECT Name FROM Account")["records"]] == ["Only Beta"]


def test_replace_org_fills_system_fields_and_counts_records(sandbox) -> None:
    counts = sandbox.replace_org({"Account": [{"Id": ACME, "Name": "Acme", "attributes": {"type": "Account"}}]})
    assert counts["Account"] == 1 and counts["Order"] == 0
    (acme,) = sandbox.export_org()["Account"]
    assert acme["attributes"] == {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{ACME}"}
    assert (acme["IsDeleted"], acme["CreatedDate"], acme["SystemModstamp"]) == (False, PINNED_NOW, PINNED_NOW)
    assert acme["BillingCity"] is None


def test_export_org_round_trips_exactly(sandbox, sf) -> None:
    sf.Account.delete(BETA)
    sf.OrderItem.create({"OrderId": ORDER_1, "Quantity": 0.1 + 0.2, "UnitPrice": 1e-7})
    exported = sandbox.export_org()
    assert [record["Id"] for record in exported["Account"]] == sorted(record["Id"] for record in exported["Account"])
    assert {r["Id"]: r["IsDeleted"] for r in exported["Account"]}[BETA] is True
    assert 0.1 + 0.2 in {record["Quantity"] for record in exported["OrderItem"]}
    sandbox.replace_org(exported)
    assert sandbox.export_org() == exported


def test_replace_org_clears_the_request_log(sandbox, sf) -> None:
    sf.query("SELECT Id FROM Account")
    assert len(sandbox.request_log()) == 1
    sandbox.replace_org(small_org())
    assert sandbox.request_log() == []


def test_state_survives_reopening_the_sandbox(sandbox, sf, tmp_path) -> None:
    contact_id = sf.Contact.create({"LastName": "Kept"})["id"]
    sandbox.close()
    reopened = SalesforceSandbox(tmp_path / "salesforce")
    client = reopened.client()
    assert client.Contact.get(contact_id)["LastName"] == "Kept"
    client.query("SELECT Id FROM Contact")
    assert client.api_usage["api-usage"].used == 3  # create, get, query: the count is persisted too
    assert reopened.new_id("Contact") != contact_id
    reopened.close()


def test_new_ids_are_valid_fresh_and_skip_ids_in_use(sandbox) -> None:
    first = sandbox.new_id("Order")
    assert is_valid_id(first, "801")
    sandbox.replace_org({"Order": [{"Id": make_id("801", int_serial(first) + 1)}]})
    assert int_serial(sandbox.new_id("Order")) == int_serial(first) + 2
    with pytest.raises(ValueError, match="Widget__c"):
        sandbox.new_id("Widget__c")


def int_serial(record_id: str) -> int:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    serial = 0
    for char in record_id[3:15]:
        serial = serial * 62 + digits.index(char)
    return serial


def test_case_safe_ids() -> None:
    assert case_safe_suffix("001A0000006Vm9r") == "IAC"  # Salesforce's documented example
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert to_18("001A0000006Vm9rIAD") is None
    assert to_18("001A0000006Vm9-") is None


def test_two_sandboxes_on_one_folder_share_records_and_usage(sandbox, sf, tmp_path) -> None:
    other = SalesforceSandbox(tmp_path / "salesforce")  # as a Dagster run in another process opens it
    created = other.client().Account.create({"Name": "From the other process"})
    assert sf.Account.get(created["id"])["Name"] == "From the other process"
    assert [entry.method for entry in sandbox.request_log()] == ["POST", "GET"]
    other.close()


def test_concurrent_writers_get_distinct_ids(sandbox) -> None:
    def create_contacts(worker: int) -> list[str]:
        client = sandbox.client()
        return [client.Contact.create({"LastName": f"W{worker}-{n}"})["id"] for n in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [record_id for batch in pool.map(create_contacts, range(8)) for record_id in batch]
    assert len(set(ids)) == 80
    assert sandbox.client().query("SELECT Id FROM Contact")["totalSize"] == 80
