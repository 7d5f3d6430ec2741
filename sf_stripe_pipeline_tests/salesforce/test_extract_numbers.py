"""Salesforce numbers are exact from the API to the core: simple-salesforce parses them as Decimal, the warehouse
stores them as DECIMAL(38,18), and the OrgSnapshot holds Decimals (ints for int fields). A value the warehouse
cannot hold never stops the extraction: it is stored as null, named on its record, and reported by the schemas."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.core.org import UNSTORABLE_NUMBERS
from sf_stripe_pipeline.core.schemas import records_frame, schema_failures
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.salesforce.extract import extract_object
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.warehouse import org as org_tables
from sf_stripe_pipeline.warehouse import prepare

ORDER = "801000000000001AAA"
LINES = {
    "802000000000001AAA": {"Quantity": 3.0, "UnitPrice": 0.1},  # 0.1 exactly, not 0.1000000000000000055511
    "802000000000002AAA": {"Quantity": 2.5, "UnitPrice": 1234567890.12345},
    "802000000000003AAA": {"Quantity": 1.0, "UnitPrice": 1e25},  # more digits than any Salesforce number
}


@pytest.fixture
def extracted(tmp_path, monkeypatch) -> duckdb.DuckDBPyConnection:
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:00:00Z")
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    sandbox.replace_org(
        {
            "Account": [{"Id": "001000000000001AAA", "Name": "Acme"}],
            "Order": [{"Id": ORDER, "AccountId": "001000000000001AAA", "Status": "Activated"}],
            "OrderItem": [{"Id": line_id, "OrderId": ORDER, **values} for line_id, values in LINES.items()],
            "ConsumptionRate": [{"Id": "0sr000000000001AAA", "LowerBound": 10, "UpperBound": 20, "Price": 4.99}],
        }
    )
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    prepare(conn)
    client = sandbox.client()
    for sobject in ("OrderItem", "ConsumptionRate"):
        extract_object(client, conn, sobject)
    yield conn
    conn.close()
    sandbox.close()


def test_numbers_arrive_and_are_stored_exactly(extracted: duckdb.DuckDBPyConnection) -> None:
    types = dict(extracted.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'salesforce' "
        "AND table_name = 'OrderItem' AND column_name IN ('UnitPrice', 'Quantity')"
    ).fetchall())  # fmt: skip
    assert types == {"UnitPrice": "DECIMAL(38,18)", "Quantity": "DECIMAL(38,18)"}
    org = org_tables.load_org(extracted)
    first, second, _ = sorted(org.records("OrderItem"), key=lambda line: line["Id"])
    assert first["UnitPrice"] == Decimal("0.1") and str(first["UnitPrice"]) == "0.1"
    assert first["Quantity"] == Decimal(3) and str(first["Quantity"]) == "3"
    assert second["UnitPrice"] == Decimal("1234567890.12345") and second["Quantity"] == Decimal("2.5")
    (rate,) = org.records("ConsumptionRate")
    assert (rate["LowerBound"], rate["UpperBound"]) == (10, 20) and isinstance(rate["LowerBound"], int)
    assert rate["Price"] == Decimal("4.99")


def test_a_number_the_warehouse_cannot_hold_is_flagged_on_its_record_not_fatal(
    extracted: duckdb.DuckDBPyConnection,
) -> None:
    org = org_tables.load_org(extracted)
    lines = {line["Id"]: line for line in org.records("OrderItem")}
    assert len(lines) == 3  # the other records of the same extraction are there
    unstorable = lines["802000000000003AAA"]
    field, value = unstorable[UNSTORABLE_NUMBERS].split()
    assert unstorable["UnitPrice"] is None and (field, Decimal(value)) == ("UnitPrice", Decimal("1e25"))
    assert lines["802000000000001AAA"][UNSTORABLE_NUMBERS] is None
    failures = schema_failures("OrderItem", records_frame("OrderItem", lines.values()))
    flagged = failures[failures["check"] == "number_stored_exactly"]
    assert flagged[["Id", "failure_case"]].values.tolist() == [["802000000000003AAA", f"UnitPrice {value}"]]


def test_a_warehouse_with_double_columns_is_upgraded_to_exact_decimals(tmp_path) -> None:
    """A warehouse made before numbers were exact: its DOUBLE columns become DECIMAL through their shortest text."""
    conn = duckdb.connect(str(tmp_path / "old.duckdb"))
    conn.execute("CREATE SCHEMA salesforce")
    conn.execute(
        'CREATE TABLE salesforce."OrderItem" ("Id" VARCHAR PRIMARY KEY, "UnitPrice" DOUBLE, "Quantity" DOUBLE)'
    )
    conn.execute("""INSERT INTO salesforce."OrderItem" VALUES ('802000000000001AAA', 0.1, 3)""")
    prepare(conn)
    (row,) = conn.execute('SELECT "UnitPrice", "Quantity", _unstorable_numbers FROM salesforce."OrderItem"').fetchall()
    assert row == (Decimal("0.1"), Decimal(3), None)
    conn.close()


def _unstorable_lines(conn: duckdb.DuckDBPyConnection) -> set[str]:
    failures = org_tables.stored_schema_failures(conn, ["OrderItem"])["OrderItem"]
    return set(failures[failures["check"] == "number_stored_exactly"]["Id"])


def test_extraction_validates_the_records_it_upserts_once_and_stores_what_fails(
    extracted: duckdb.DuckDBPyConnection, tmp_path, monkeypatch
) -> None:
    def unstorable_lines() -> set[str]:
        return _unstorable_lines(extracted)

    assert unstorable_lines() == {"802000000000003AAA"}
    client = SalesforceSandbox(tmp_path / "salesforce").client()
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:05:00Z")
    client.OrderItem.update("802000000000003AAA", {"UnitPrice": 10})

    fixed = extract_object(client, extracted, "OrderItem")  # from the 12:00 mark: every line again
    again = extract_object(client, extracted, "OrderItem")  # from 12:05: the fixed line only

    assert (fixed.records, fixed.validated) == (len(LINES), 1), "of the lines read again, only the changed one"
    assert (again.records, again.validated) == (1, 0), "read again unchanged: not validated again"
    assert unstorable_lines() == set(), "the fixed line's failure is gone"
    still_failing = org_tables.stored_schema_failures(extracted, ["OrderItem"])["OrderItem"]
    assert set(still_failing["Id"]) == set(LINES), "the failures of lines not re-read are kept (no price book entry)"


def test_a_record_stamped_in_the_future_does_not_hide_later_changes(tmp_path, monkeypatch) -> None:
    """The watermark never runs ahead of the clock: a generated org (or clock skew) may stamp a record after now,
    and a mark at that stamp would skip every change made before it (the README demo, run just after midnight UTC,
    stamps today's orders up to 01:00)."""
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:00:00Z")
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    account = {"Id": "001000000000001AAA", "Name": "Acme"}
    sandbox.replace_org({
        "Account": [account],
        "Order": [
            {"Id": ORDER, "AccountId": account["Id"], "Status": "Activated",
             "SystemModstamp": "2025-03-10T13:00:00.000+0000"},
            {"Id": "801000000000002AAA", "AccountId": account["Id"], "Status": "Draft"},
        ],
    })  # fmt: skip
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    prepare(conn)
    client = sandbox.client()

    first = extract_object(client, conn, "Order")
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:05:00Z")
    client.Order.update("801000000000002AAA", {"Status": "Activated"})
    second = extract_object(client, conn, "Order")

    assert first.watermark_after.isoformat() == "2025-03-10T12:00:00+00:00"
    assert second.records >= 1
    (status,) = conn.execute('SELECT "Status" FROM salesforce."Order" WHERE "Id" = ?', ["801000000000002AAA"]).fetchone()
    assert status == "Activated"
    conn.close()
    sandbox.close()


def test_what_an_interrupted_extraction_upserted_is_validated_by_the_next(
    extracted: duckdb.DuckDBPyConnection, tmp_path, monkeypatch
) -> None:
    """An extraction killed between upserting a page and validating it leaves no record unvalidated: the next
    validates every record whose stored failures were found at another version, even one it reads back unchanged."""
    client = SalesforceSandbox(tmp_path / "salesforce").client()
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:05:00Z")
    client.OrderItem.update("802000000000003AAA", {"UnitPrice": 10})
    fields = list(SOBJECTS["OrderItem"].fields)
    fixed = client.query_all(f"SELECT {', '.join(fields)} FROM OrderItem WHERE Id = '802000000000003AAA'")["records"]
    page = pd.DataFrame.from_records(fixed, columns=fields).assign(
        _passes_filter=True, _extracted_at=pd.Timestamp("2025-03-10T12:05:00Z"), _run_id="killed"
    )
    org_tables.upsert_records(extracted, "OrderItem", page)  # ... and the process dies here
    assert _unstorable_lines(extracted) == {"802000000000003AAA"}, "its failure is the old version's"

    again = extract_object(client, extracted, "OrderItem")

    assert again.validated == 1 and _unstorable_lines(extracted) == set()
