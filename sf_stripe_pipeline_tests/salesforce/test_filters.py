"""User filters: the strict WHERE-fragment parser, and combining fragments so that one can never widen another
(checked against the Salesforce sandbox through simple-salesforce)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.core.config import ConfigError, parse_config
from sf_stripe_pipeline.salesforce.extract import build_query
from sf_stripe_pipeline.salesforce.filters import FilterError, parse_filter, where_clause
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline_tests.sandbox_salesforce.conftest import ACME, ORDER_2, PINNED_NOW, small_org

VALID = [
    ("Order", "Status = 'Activated'", ("Status",)),
    ("Order", "status = 'Activated'", ("Status",)),  # names are case-insensitive; the catalogue's spelling is kept
    ("Order", "Status != 'Draft' AND Type <> 'Renewal'", ("Status", "Type")),
    ("Order", "Status = 'Activated' OR Id != null", ("Status", "Id")),
    ("Order", "(Status = 'Activated' OR Type = 'New') AND Skip_Past_Initial_Invoices__c = true",
     ("Status", "Type", "Skip_Past_Initial_Invoices__c")),
    ("Order", "NOT (Status = 'Draft' OR Type = null)", ("Status", "Type")),
    ("Order", "NOT Status = 'Draft'", ("Status",)),
    ("Order", "account.name LIKE 'Acme\\_%'", ("Account.Name",)),
    ("Order", "Opportunity.Account.BillingCountry IN ('FR', 'DE', null)", ("Opportunity.Account.BillingCountry",)),
    ("Order", "Status NOT IN ('Draft')", ("Status",)),
    ("Order", "EffectiveDate >= 2025-01-01 AND EffectiveDate < 2026-01-01", ("EffectiveDate",)),
    ("Order", "ActivatedDate > 2025-01-01T00:00:00Z", ("ActivatedDate",)),
    ("Order", "ActivatedDate <= 2025-01-01T09:30:00.000+01:00", ("ActivatedDate",)),
    ("Order", "EffectiveDate = LAST_N_DAYS:30 OR ActivatedDate = TODAY", ("EffectiveDate", "ActivatedDate")),
    ("Order", f"AccountId = '{ACME[:15]}'", ("AccountId",)),
    ("OrderItem", "Quantity > -1.5 AND UnitPrice != 0", ("Quantity", "UnitPrice")),
    ("Account", "Name = 'O\\'Brien \\u00e9 \\\\ \\n'", ("Name",)),
    ("Account", "Name = ') OR (Name != '", ("Name",)),  # the parentheses are inside a string literal
    ("Product2", "IsActive = false", ("IsActive",)),
]

INVALID = [
    ("Order", "", "the filter is empty"),
    ("Order", "Status = ", "column 10: expected a value"),
    ("Order", "Colour__c = 'red'", "column 1: Order has no field 'Colour__c'"),
    ("Order", "Acount.Name = 'x'", "column 1: Order has no relationship 'Acount'"),
    ("Order", "Status = 'A' AND Type = 'New' OR Id = null", "column 31: OR after AND: mixing AND and OR needs paren"),
    ("Order", "Status = 'Activated') OR (Id != null", "column 21: ')' without a matching '('"),
    ("Order", "(Status = 'Activated'", "column 22: expected ')', found the end of the filter"),
    ("Order", "Status = 'Activated", "column 10: unterminated string literal"),
    ("Order", "Status = \"Activated\"", "column 10: unexpected character '\"'"),
    ("Order", "Status == 'Activated'", "column 9: expected a value"),
    ("Order", "Status = 'A' LIMIT 5", "column 14: expected AND, OR or the end of the filter, found 'LIMIT'"),
    ("Order", "Status = 'A'; DELETE", "column 13: unexpected character ';'"),
    ("Order", "Status = 'a\\qb'", "column 12: invalid escape sequence '\\q'"),
    ("Order", "Status = 'A\\%'", "column 12: invalid escape sequence '\\%'"),  # only LIKE patterns escape %
    ("Order", "EffectiveDate > 2025-13-01", "column 17: 2025-13-01 is not a valid date"),
    ("Order", "EffectiveDate > 2025-01-01T00:00:00Z", "EffectiveDate is a date field: it takes a date, not a datetime"),
    ("Order", "ActivatedDate > 2025-01-01T00:00:00", "column 17: datetime 2025-01-01T00:00:00 needs a time zone"),
    ("Order", "ActivatedDate > 2025-01-01", "ActivatedDate is a datetime field: it takes a datetime, not a date"),
    ("Order", "EffectiveDate = LAST_N_DAYS", "column 28: expected ':'"),
    ("Order", "EffectiveDate = LAST_N_DAYS:x", "column 29: LAST_N_DAYS takes a whole number of periods"),
    ("Order", "Status = LAST_N_DAYS:3", "column 10: Status is a picklist field: it takes a string, not a date literal"),
    ("Order", "SBQQ__Contracted__c = 'true'", "SBQQ__Contracted__c is a boolean field: it takes a boolean"),
    ("Order", "SBQQ__Contracted__c > false", "SBQQ__Contracted__c is a checkbox: compare it with = or !=, not >"),
    ("OrderItem", "Quantity = '5'", "Quantity is a double field: it takes a number, not a string"),
    ("Order", "EffectiveDate < null", "column 17: null cannot be compared with <"),
    ("Order", "AccountId = 'acme'", "column 13: 'acme' is not a 15- or 18-character record id for AccountId"),
    ("Order", "AccountId LIKE '001%'", "LIKE applies to text fields; AccountId is a reference"),
    ("Order", "Status NOT LIKE 'A%'", "column 12: expected IN after NOT"),
    ("Order", "Id IN (SELECT OrderId FROM OrderItem)", "column 8: sub-queries (semi-joins) are not allowed"),
    ("Order", "Status INCLUDES ('Activated')", "column 8: INCLUDES applies to multi-select picklists"),
    ("Order", "CALENDAR_YEAR(EffectiveDate) = 2025", "column 1: functions such as CALENDAR_YEAR() are not allowed"),
    ("Orders", "Status = 'Activated'", "unknown Salesforce object 'Orders'"),
]


@pytest.mark.parametrize(("sobject", "fragment", "fields"), VALID)
def test_valid_fragments_parse_with_canonical_field_paths(sobject: str, fragment: str, fields: tuple) -> None:
    parsed = parse_filter(f"  {fragment}  ", sobject)
    assert (parsed.sobject, parsed.text, parsed.fields) == (sobject, fragment, fields)


@pytest.mark.parametrize(("sobject", "fragment", "reason"), INVALID)
def test_invalid_fragments_are_refused_with_column_and_reason(sobject: str, fragment: str, reason: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter(fragment, sobject)
    assert reason in str(raised.value) and "\n" not in str(raised.value)


def test_where_clause_parenthesises_each_checked_condition() -> None:
    assert where_clause("Order", None, "Status = 'Activated' OR Id != null", " ", "Type = 'New'") == (
        "(Status = 'Activated' OR Id != null) AND (Type = 'New')"
    )
    assert where_clause("Order") == ""
    with pytest.raises(FilterError, match="without a matching"):
        where_clause("Order", "Type = 'New'", "Status = 'Activated') OR (Id != null")


def test_the_config_checks_filters_with_this_parser() -> None:
    config = parse_config({"start_date": "2025-01-01", "filters": {"Order": "EffectiveDate = LAST_N_DAYS:30"}})
    assert config.filters == {"Order": "EffectiveDate = LAST_N_DAYS:30"}
    with pytest.raises(ConfigError) as raised:
        parse_config({"start_date": "2025-01-01", "filters": {"Order": "Status = 'A' OR"}})
    expected = "filters.Order: invalid SOQL filter \"Status = 'A' OR\": column 16: expected a field name"
    assert expected in str(raised.value)


# ---------------------------------------------------------------------------------------------- against the sandbox


@pytest.fixture
def sf(tmp_path, monkeypatch):
    monkeypatch.setenv(NOW_ENV_VAR, PINNED_NOW)
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    sandbox.replace_org(small_org())
    yield sandbox.client()
    sandbox.close()


def order_numbers(sf, where: str) -> set[str]:
    return {record["OrderNumber"][-1] for record in sf.query(f"SELECT OrderNumber FROM Order WHERE {where}")["records"]}


def test_an_or_filter_cannot_widen_the_base_condition(sf) -> None:
    base, user_filter = "SBQQ__Contracted__c = true", "Status = 'Draft' OR OrderNumber = '00000004'"
    assert order_numbers(sf, base) == {"1", "3"}
    assert order_numbers(sf, user_filter) == {"2", "4"}  # orders 2 and 4 match the OR branch...
    assert order_numbers(sf, where_clause("Order", base, user_filter)) == set()  # ...but fail the base: not returned
    assert order_numbers(sf, where_clause("Order", base, "Status = 'Draft' OR Id != null")) == {"1", "3"}


def test_extraction_queries_keep_the_watermark_whatever_the_filter(sf, monkeypatch) -> None:
    monkeypatch.setenv(NOW_ENV_VAR, "2025-06-02T08:00:00Z")
    sf.Order.update(ORDER_2, {"Stripe_ID__c": "sub_sched_2"})  # the only order written after the watermark
    watermark = datetime(2025, 6, 2, tzinfo=UTC)
    query = build_query("Order", watermark, "Status = 'Activated' OR Id != null", fields=["OrderNumber"])
    assert query.endswith("WHERE (SystemModstamp >= 2025-06-02T00:00:00Z) AND (Status = 'Activated' OR Id != null)")
    assert {record["OrderNumber"] for record in sf.query(query)["records"]} == {"00000002"}
