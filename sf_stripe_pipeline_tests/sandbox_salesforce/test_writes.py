"""Record writes through simple-salesforce: create, retrieve, update, delete, upsert, composite, errors."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.sandbox.salesforce.ids import is_valid_id

from .conftest import ACME, GAMMA, ORDER_1, PINNED_NOW, error_code, sf_id


def test_create_retrieve_update_and_soft_delete(sf) -> None:
    created = sf.Contact.create({"LastName": "Lovelace", "AccountId": ACME, "Email": "ada@acme.test"})
    assert created["success"] is True and created["errors"] == []
    contact_id = created["id"]
    assert is_valid_id(contact_id, "003")

    record = sf.Contact.get(contact_id)
    assert (record["LastName"], record["AccountId"], record["IsDeleted"]) == ("Lovelace", ACME, False)
    assert record["CreatedDate"] == record["SystemModstamp"] == PINNED_NOW
    assert record["attributes"]["url"].endswith(f"/sobjects/Contact/{contact_id}")

    assert sf.Contact.update(contact_id, {"Email": None, "FirstName": "Ada"}) == 204
    updated = sf.Contact.get(contact_id)
    assert (updated["FirstName"], updated["Email"]) == ("Ada", None)

    assert sf.Contact.delete(contact_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(contact_id)
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.update(contact_id, {"FirstName": "Again"})


def test_retrieve_honours_the_fields_parameter(sf) -> None:
    record = sf.Account.get(ACME, params={"fields": "Name,BillingCity"})
    assert list(record) == ["attributes", "Name", "BillingCity"]


def test_system_modstamp_advances_on_every_write(sf, monkeypatch) -> None:
    order = sf.Order.get(ORDER_1)
    monkeypatch.setenv(NOW_ENV_VAR, "2025-06-02T08:00:00Z")
    sf.Order.update(ORDER_1, {"Stripe_ID__c": "sub_sched_1"})
    updated = sf.Order.get(ORDER_1)
    assert updated["SystemModstamp"] == updated["LastModifiedDate"] == "2025-06-02T08:00:00.000+0000"
    assert updated["SystemModstamp"] > order["SystemModstamp"]
    assert updated["CreatedDate"] == order["CreatedDate"]
    found = sf.query("SELECT Id FROM Order WHERE SystemModstamp > 2025-06-01T12:00:00Z")["records"]
    assert [record["Id"] for record in found] == [ORDER_1]


@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ({"Colour__c": "red"}, "INVALID_FIELD", "Colour__c"),
        ({"Id": ACME}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Id"),
        ({"SystemModstamp": PINNED_NOW}, "INVALID_FIELD_FOR_INSERT_UPDATE", "SystemModstamp"),
        ({"Quantity": "two"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", "Quantity"),
        ({"ServiceDate": "01/02/2025"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", "ServiceDate"),
        ({"SBQQ__Activated__c": "yes"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", "SBQQ__Activated__c"),
        ({"OrderId": ACME}, "INVALID_CROSS_REFERENCE_KEY", "OrderId"),
        ({"OrderId": sf_id("Order", 99)}, "INVALID_CROSS_REFERENCE_KEY", "OrderId"),
    ],
)
def test_bad_writes_get_salesforce_errors(sf, fields: dict, code: str, named: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.OrderItem.create({"OrderId": ORDER_1, **fields})
    assert error_code(raised) == code
    assert raised.value.content[0]["fields"] == [named]
    assert sf.query("SELECT Id FROM OrderItem")["totalSize"] == 3


def test_unknown_record_and_object_are_not_found(sf) -> None:
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Order.get(sf_id("Order", 99))
    assert error_code(raised) == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Widget__c.create({"Name": "x"})


def test_upsert_by_external_id_creates_then_updates(sf) -> None:
    created = sf.Sync_Record__c.upsert(
        "Compound_ID__c/order-1|sub", {"Resolution_Status__c": "Error"}, raw_response=True
    )
    assert created.status_code == 201
    record_id = created.json()["id"]
    assert created.json() == {"id": record_id, "success": True, "errors": [], "created": True}

    updated = sf.Sync_Record__c.upsert(
        "Compound_ID__c/order-1|sub", {"Resolution_Status__c": "Success"}, raw_response=True
    )
    assert updated.status_code == 200
    assert updated.json() == {"id": record_id, "success": True, "errors": [], "created": False}
    record = sf.Sync_Record__c.get_by_custom_id("Compound_ID__c", "order-1|sub")
    assert (record["Id"], record["Resolution_Status__c"]) == (record_id, "Success")


def test_upsert_needs_an_external_id_field_and_a_single_match(sf, sandbox) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Sync_Record__c.upsert("Primary_Record_ID__c/x", {})
    assert error_code(raised) == "INVALID_FIELD"
    sf.Account.update(ACME, {"Stripe_ID__c": "cus_1"})
    sf.Account.create({"Name": "Acme twin", "Stripe_ID__c": "cus_1"})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert("Stripe_ID__c/cus_1", {"Name": "Which one?"})


def composite(sf, method: str, records: list[dict], all_or_none: bool, path: str = "composite/sobjects") -> list:
    return sf.restful(path, method=method, json={"allOrNone": all_or_none, "records": records})


def account(**fields) -> dict:
    return {"attributes": {"type": "Account"}, **fields}


def test_composite_create_reports_each_record_and_keeps_the_good_ones(sf) -> None:
    results = composite(sf, "POST", [account(Name="One"), account(Name=5), account(Name="Three")], False)
    assert [result["success"] for result in results] == [True, False, True]
    assert "id" not in results[1]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"
    assert results[1]["errors"][0]["fields"] == ["Name"]
    names = {r["Name"] for r in sf.query("SELECT Name FROM Account")["records"]}
    assert {"One", "Three"} <= names and len(names) == 6


def test_composite_all_or_none_rolls_everything_back(sf) -> None:
    results = composite(sf, "POST", [account(Name="One"), account(Nme="typo")], True)
    assert results[0] == {
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert sf.query("SELECT Id FROM Account WHERE Name = 'One'")["totalSize"] == 0


def test_composite_update_by_id(sf) -> None:
    missing = sf_id("Account", 99)
    results = composite(
        sf,
        "PATCH",
        [account(Id=ACME, BillingCity="Lyon"), account(Id=missing, Name="Ghost"), account(Name="No id")],
        False,
    )
    assert results[0] == {"id": ACME, "success": True, "errors": []}
    assert results[1]["id"] == missing and results[1]["errors"][0]["statusCode"] == "NOT_FOUND"
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert sf.Account.get(ACME)["BillingCity"] == "Lyon"

    # Field names are case-insensitive in Salesforce, and its own examples key composite updates by "id".
    assert composite(sf, "PATCH", [account(id=ACME, BillingCity="Lyon")], False)[0]["success"] is True

    rolled_back = composite(sf, "PATCH", [account(Id=ACME, BillingCity="Nice"), account(Id=missing, Name="x")], True)
    assert rolled_back[0]["id"] == ACME
    assert rolled_back[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.Account.get(ACME)["BillingCity"] == "Lyon"


def test_composite_upsert_by_external_id(sf) -> None:
    sf.Account.update(ACME, {"Stripe_ID__c": "cus_acme"})
    path = "composite/sobjects/Account/Stripe_ID__c"
    results = composite(
        sf,
        "PATCH",
        [
            account(Stripe_ID__c="cus_acme", Phone="+33 1"),
            account(Stripe_ID__c="cus_new", Name="New"),
            account(Stripe_ID__c="cus_bad", MasterRecordId=sf_id("Account", 99)),
            account(Name="no key"),
            {"attributes": {"type": "Contact"}, "Stripe_ID__c": "cus_x"},
        ],
        False,
        path,
    )
    assert results[0] == {"id": ACME, "success": True, "errors": [], "created": False}
    assert results[1]["created"] is True and results[1]["success"] is True
    assert [r["errors"][0]["statusCode"] for r in results[2:]] == [
        "INVALID_CROSS_REFERENCE_KEY",
        "MISSING_ARGUMENT",
        "INVALID_TYPE",
    ]
    assert sf.Account.get_by_custom_id("Stripe_ID__c", "cus_new")["Name"] == "New"
    repeated = composite(sf, "PATCH", [account(Stripe_ID__c="cus_r"), account(Stripe_ID__c="cus_r")], False, path)
    assert [r["errors"][0]["statusCode"] for r in repeated] == ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]


def test_composite_takes_at_most_200_records(sf) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        composite(sf, "POST", [account(Name=f"A{n}") for n in range(201)], False)
    assert error_code(raised) == "EXCEEDED_ID_LIMIT"
    assert "200" in raised.value.content[0]["message"]


def test_request_log_records_every_request_with_write_flag(sandbox, sf) -> None:
    sf.query("SELECT Id FROM Account")
    sf.Account.create({"Name": "Logged"})
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(sf_id("Account", 99))
    log = sandbox.request_log()
    assert [(entry.seq, entry.method, entry.status, entry.is_write) for entry in log] == [
        (1, "GET", 200, False),
        (2, "POST", 201, True),
        (3, "GET", 404, False),
    ]
    assert log[1].path == "/services/data/v62.0/sobjects/Account/" and log[1].at == PINNED_NOW
    sandbox.clear_request_log()
    assert sandbox.request_log() == []


def test_composite_writes_report_deleted_records_as_entity_is_deleted(sf) -> None:
    sf.Account.delete(GAMMA)
    results = composite(sf, "PATCH", [account(Id=GAMMA, Name="Back?"), account(Id=ACME, BillingCity="Lyon")], False)
    assert results[0]["id"] == GAMMA and results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert results[1] == {"id": ACME, "success": True, "errors": []}


def composite_delete(sf, ids: list[str], all_or_none: bool = False) -> list[dict]:
    return sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": str(all_or_none).lower()}
    )


def deleted_flags(sf, sobject: str) -> dict[str, bool]:
    records = sf.query_all(f"SELECT Id, IsDeleted FROM {sobject}", include_deleted=True)["records"]
    return {record["Id"]: record["IsDeleted"] for record in records}


def test_composite_delete_deletes_records_of_any_objects_by_id(sf, sandbox) -> None:
    item = sf_id("OrderItem", 1)
    missing = sf_id("Contact", 99)
    results = composite_delete(sf, [item, GAMMA[:15], "not-an-id", missing, "00Q000000000001"])
    assert results[:2] == [
        {"id": item, "success": True, "errors": []},
        {"id": GAMMA, "success": True, "errors": []},  # a 15-character id answers with its 18-character form
    ]
    assert results[2] == {
        "success": False,
        "errors": [{"statusCode": "MALFORMED_ID", "message": "malformed id not-an-id", "fields": []}],
    }
    assert [(r["success"], r["errors"][0]["statusCode"]) for r in results[3:]] == [(False, "NOT_FOUND")] * 2
    assert deleted_flags(sf, "OrderItem")[item] is True and deleted_flags(sf, "Account")[GAMMA] is True
    assert sf.query(f"SELECT Id FROM OrderItem WHERE Id = '{item}'")["totalSize"] == 0  # soft delete: queryAll only

    again = composite_delete(sf, [item])
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert [entry.method for entry in sandbox.request_log()].count("DELETE") == 2  # one request a batch


def test_composite_delete_all_or_none_rolls_back(sf) -> None:
    item = sf_id("OrderItem", 2)
    results = composite_delete(sf, [item, sf_id("OrderItem", 99)], all_or_none=True)
    assert [r["errors"][0]["statusCode"] for r in results] == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "NOT_FOUND"]
    assert deleted_flags(sf, "OrderItem")[item] is False


def test_composite_delete_takes_1_to_200_ids(sf) -> None:
    many = [sf_id("Sync_Record__c", n) for n in range(1, 202)]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        composite_delete(sf, many)
    assert error_code(raised) == "EXCEEDED_ID_LIMIT"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful("composite/sobjects", method="DELETE")
    assert error_code(raised) == "MISSING_ARGUMENT"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful("composite/sobjects", method="DELETE", params={"ids": ACME, "allOrNone": "maybe"})
    assert error_code(raised) == "INVALID_QUERY_PARAMETER_VALUE"
    assert deleted_flags(sf, "Account")[ACME] is False


def test_composite_delete_of_200_sync_records_is_one_request(sf, sandbox) -> None:
    records = [{"attributes": {"type": "Sync_Record__c"}, "Compound_ID__c": f"order-{n}"} for n in range(200)]
    created = composite(sf, "POST", records, True)
    sandbox.clear_request_log()
    results = composite_delete(sf, [result["id"] for result in created])
    assert all(result["success"] for result in results) and len(results) == 200
    assert sf.query("SELECT Id FROM Sync_Record__c")["totalSize"] == 0
    assert [(entry.method, entry.status) for entry in sandbox.request_log()] == [("DELETE", 200), ("GET", 200)]
