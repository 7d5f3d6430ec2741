"""The SOQL subset, through simple-salesforce: operators, logic, typed literals, parents, ORDER BY, LIMIT."""

from __future__ import annotations

from decimal import Decimal

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox

from .conftest import ACME, ORDER_1, error_code, small_org


@pytest.fixture(scope="module")
def sf(tmp_path_factory):
    """These tests only read, so they share one sandbox."""
    sandbox = SalesforceSandbox(tmp_path_factory.mktemp("salesforce"))
    sandbox.replace_org(small_org())
    yield sandbox.client()
    sandbox.close()


def order_numbers(sf, where: str) -> set[str]:
    result = sf.query(f"SELECT OrderNumber FROM Order WHERE {where}")
    return {record["OrderNumber"][-1] for record in result["records"]}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Status = 'Activated'", {"1", "3"}),
        ("Status = 'activated'", {"1", "3"}),  # text equality is case-insensitive, as in Salesforce
        ("Status != 'Activated'", {"2", "4"}),
        ("Status <> 'Activated'", {"2", "4"}),
        ("OrderNumber < '00000002'", {"1"}),
        ("OrderNumber >= '00000003'", {"3", "4"}),
        ("EffectiveDate < 2025-01-01", {"3"}),
        ("EffectiveDate <= 2025-01-01", {"1", "3"}),
        ("EffectiveDate > 2025-01-01", {"2"}),
        ("EffectiveDate >= 2025-03-15", {"2"}),
        ("EffectiveDate = null", {"4"}),
        ("ActivatedDate != null", {"1", "3"}),
        ("ActivatedDate > 2025-01-01T00:00:00Z", {"1"}),
        ("ActivatedDate < 2025-01-01T00:00:00.000Z", {"3"}),
        ("ActivatedDate >= 2025-01-01T00:30:00+01:00", {"1", "3"}),  # 23:30 UTC the day before
        ("ActivatedDate = 2025-01-01T10:00:00.000+01:00", {"1"}),
        ("SBQQ__Contracted__c = true", {"1", "3"}),
        ("SBQQ__Contracted__c = false", {"2", "4"}),  # an unset checkbox is false, never null
        ("OrderNumber IN ('00000001', '00000003')", {"1", "3"}),
        ("OrderNumber NOT IN ('00000001', '00000003')", {"2", "4"}),
        ("EffectiveDate IN (2025-01-01, null)", {"1", "4"}),
        ("EffectiveDate NOT IN (2025-01-01)", {"2", "3", "4"}),  # NOT IN matches nulls
        ("Status = 'Activated' AND EffectiveDate > 2024-12-31", {"1"}),
        ("Status = 'Draft' OR EffectiveDate < 2025-01-01", {"2", "3", "4"}),
        ("(Status = 'Draft' OR EffectiveDate < 2025-01-01) AND SBQQ__Contracted__c = true", {"3"}),
        ("Status = 'Draft' AND (EffectiveDate = null OR EffectiveDate > 2025-02-01)", {"2", "4"}),
        ("NOT Status = 'Draft'", {"1", "3"}),
        ("NOT (Status = 'Activated' OR OrderNumber = '00000002')", {"4"}),
        ("NOT EffectiveDate > 2025-01-01", {"1", "3", "4"}),  # two-valued: a null date is not > anything
        ("Account.Name = 'Acme'", {"1"}),
        ("Account.BillingCity = null", {"2", "4"}),  # no city, or no account at all
        ("Account.Name LIKE 'Beta 100\\%'", {"2"}),
        ("Account.Name LIKE 'gamma\\_%'", {"3"}),
        ("AccountId = '" + ACME + "'", {"1"}),
        ("AccountId = '" + ACME[:15] + "'", {"1"}),  # a 15-character id matches its 18-character form
        ("Id IN ('" + ORDER_1 + "')", {"1"}),
    ],
)
def test_where_clause_filters_like_salesforce(sf, where: str, expected: set[str]) -> None:
    assert order_numbers(sf, where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name LIKE 'ac%'", {"Acme"}),
        ("Name LIKE '_cme'", {"Acme"}),
        ("Name LIKE 'gamma_corp'", {"gamma_corp"}),  # `_` matches any one character...
        ("Name LIKE '%gamma_corp'", {"gamma_corp", "O'Brien & gammaXcorp"}),
        ("Name LIKE '%gamma\\_corp'", {"gamma_corp"}),  # ...unless escaped
        ("Name = 'O\\'Brien & gammaXcorp'", {"O'Brien & gammaXcorp"}),
        ("Name LIKE '%\\%'", {"Beta 100%"}),
    ],
)
def test_like_and_string_escapes(sf, where: str, expected: set[str]) -> None:
    records = sf.query(f"SELECT Name FROM Account WHERE {where}")["records"]
    assert {record["Name"] for record in records} == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Quantity > 2", {3.0, 2.5}),
        ("Quantity >= 3", {3.0}),
        ("UnitPrice = 99.5", {1.0}),
        ("UnitPrice < 1", {2.5}),
        ("Quantity IN (1, 3)", {1.0, 3.0}),
        ("Order.Status = 'Activated' AND Order.EffectiveDate < 2025-01-01", {2.5}),
    ],
)
def test_numeric_comparisons(sf, where: str, expected: set[float]) -> None:
    records = sf.query(f"SELECT Quantity FROM OrderItem WHERE {where}")["records"]
    assert {record["Quantity"] for record in records} == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("EffectiveDate", ["4", "3", "1", "2"]),  # ascending puts nulls first
        ("EffectiveDate DESC", ["2", "1", "3", "4"]),  # descending puts nulls last
        ("EffectiveDate ASC NULLS LAST", ["3", "1", "2", "4"]),
        ("EffectiveDate DESC NULLS FIRST", ["4", "2", "1", "3"]),
        ("Status, OrderNumber DESC", ["3", "1", "4", "2"]),
        ("Account.Name NULLS LAST", ["1", "2", "3", "4"]),
        ("Account.Name DESC", ["3", "2", "1", "4"]),
    ],
)
def test_order_by(sf, order_by: str, expected: list[str]) -> None:
    records = sf.query(f"SELECT OrderNumber FROM Order ORDER BY {order_by}")["records"]
    assert [record["OrderNumber"][-1] for record in records] == expected


def test_limit_applies_after_order_by(sf) -> None:
    result = sf.query("SELECT OrderNumber FROM Order ORDER BY OrderNumber DESC LIMIT 2")
    assert result["totalSize"] == 2
    assert [record["OrderNumber"] for record in result["records"]] == ["00000004", "00000003"]


def test_parent_fields_come_back_nested_or_null(sf) -> None:
    result = sf.query(
        "SELECT Id, OrderNumber, Account.Name, Account.Email__c, SBQQ__Contracted__c FROM Order "
        "WHERE OrderNumber IN ('00000001', '00000004') ORDER BY OrderNumber"
    )
    first, fourth = result["records"]
    assert first["attributes"] == {"type": "Order", "url": f"/services/data/v62.0/sobjects/Order/{ORDER_1}"}
    assert first["Account"] == {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{ACME}"},
        "Name": "Acme",
        "Email__c": "billing@acme.test",
    }
    assert first["SBQQ__Contracted__c"] is True
    assert fourth["Account"] is None
    assert fourth["SBQQ__Contracted__c"] is False


def test_field_names_resolve_case_insensitively_to_api_names(sf) -> None:
    record = sf.query("select orderNUMBER, account.name from ORDER where ordernumber = '00000001'")["records"][0]
    assert record["OrderNumber"] == "00000001"
    assert record["Account"]["Name"] == "Acme"


def test_numbers_and_dates_keep_their_json_types(sf) -> None:
    records = sf.query("SELECT UnitPrice, Quantity, Order.EffectiveDate FROM OrderItem ORDER BY UnitPrice")["records"]
    # The client parses JSON numbers as Decimal (parse_float), so the sandbox's JSON text arrives exactly.
    assert [record["UnitPrice"] for record in records] == [Decimal("0.1"), Decimal("10.0"), Decimal("99.5")]
    assert all(isinstance(record["Quantity"], Decimal) for record in records)
    assert records[0]["Order"]["EffectiveDate"] == "2024-12-31"


@pytest.mark.parametrize(
    ("soql", "named"),
    [
        ("SELECT COUNT() FROM Order", "COUNT"),
        ("SELECT COUNT(Id) FROM Order", "COUNT"),
        ("SELECT Status FROM Order GROUP BY Status", "GROUP BY"),
        ("SELECT Id, (SELECT Id FROM OrderItems) FROM Order", "sub-queries"),
        ("SELECT Id FROM Order WHERE AccountId IN (SELECT Id FROM Account)", "semi-join"),
        ("SELECT Id FROM Order LIMIT 10 OFFSET 5", "OFFSET"),
        ("SELECT Id FROM Order WHERE EffectiveDate = LAST_N_DAYS:30", "LAST_N_DAYS"),
        ("SELECT Id FROM Order WHERE EffectiveDate = TODAY", "TODAY"),
        ("SELECT Id FROM Order WHERE CALENDAR_YEAR(EffectiveDate) = 2025", "CALENDAR_YEAR"),
        ("SELECT TYPEOF What WHEN Account THEN Name END FROM Task", "TYPEOF"),
        ("SELECT Id FROM Widget__c", "Widget__c"),
        ("SELECT Id FROM Order WHERE Status = 'Draft' AND OrderNumber = '1' OR Status = 'x'", "parentheses"),
        ("SELECT Id FROM Order WHERE Status = 'Draft", "unterminated"),
        ("SELECT Id FROM Order WHERE ActivatedDate > 2025-01-01T00:00:00", "time zone"),
        ("SELECT Account.MasterRecord.Name FROM Order", "one level"),
        ('SELECT Id FROM Order WHERE Status = "Draft"', "unexpected character"),
        ("SELECT Id FROM Order ORDER BY", "expected a field name"),
        ("SELECT Id FROM Order o", "expected end of query"),
    ],
)
def test_unsupported_soql_is_malformed_query(sf, soql: str, named: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    assert error_code(raised) == "MALFORMED_QUERY"
    assert named in raised.value.content[0]["message"]


@pytest.mark.parametrize(
    ("soql", "named"),
    [
        ("SELECT Id, Colour__c FROM Order", "Colour__c"),
        ("SELECT Id FROM Order WHERE Colour__c = 'red'", "Colour__c"),
        ("SELECT Owner.Name FROM Order", "Owner"),
        ("SELECT Account.Colour__c FROM Order", "Colour__c"),
        ("SELECT Id FROM Order WHERE EffectiveDate = '2025-01-01'", "EffectiveDate"),
        ("SELECT Id FROM Order WHERE OrderNumber = 1", "OrderNumber"),
        ("SELECT Id FROM Order WHERE SBQQ__Contracted__c = 'true'", "SBQQ__Contracted__c"),
        ("SELECT Id FROM Order WHERE EffectiveDate LIKE '2025%'", "LIKE"),
        ("SELECT Id FROM Order WHERE AccountId = 'not-an-id'", "invalid ID"),
    ],
)
def test_unknown_fields_and_mistyped_literals_are_invalid_field(sf, soql: str, named: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    assert error_code(raised) == "INVALID_FIELD"
    assert named in raised.value.content[0]["message"]

