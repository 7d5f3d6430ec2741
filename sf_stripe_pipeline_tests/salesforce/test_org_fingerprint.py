"""The extracted org's fingerprint (`warehouse/org.py::fingerprint`), from which a run decides that the latest
validation stands whole: it changes with every stored value of every record (change stamps and filter flags too)
and with the stored schema failures, never with when or by which run a record was extracted. Extracted through the
real simple-salesforce client from the Salesforce sandbox."""

from __future__ import annotations

import duckdb
import pytest

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.salesforce.extract import extract_object
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.warehouse import org as org_tables
from sf_stripe_pipeline.warehouse import prepare

ACCOUNT, ORDER = "001000000000001AAA", "801000000000001AAA"


@pytest.fixture
def extracted(tmp_path, monkeypatch):
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:00:00Z")
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    sandbox.replace_org(
        {
            "Account": [{"Id": ACCOUNT, "Name": "Acme"}],
            "Order": [{"Id": ORDER, "AccountId": ACCOUNT, "Status": "Activated"}],
        }
    )
    client = sandbox.client()
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    prepare(conn)
    for sobject in ("Account", "Order"):
        extract_object(client, conn, sobject, run_id="first")
    yield client, conn
    conn.close()
    sandbox.close()


def test_reading_the_same_records_again_keeps_the_fingerprint(extracted) -> None:
    client, conn = extracted
    before = org_tables.fingerprint(conn)
    again = extract_object(client, conn, "Order", run_id="second")  # the watermark's second is read again
    assert again.records == 1
    assert org_tables.fingerprint(conn) == before


def test_a_salesforce_write_changes_the_fingerprint(extracted, monkeypatch) -> None:
    client, conn = extracted
    before = org_tables.fingerprint(conn)
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:05:00Z")
    client.Order.update(ORDER, {"Stripe_ID__c": "sub_sched_123"})
    extract_object(client, conn, "Order")
    written = org_tables.fingerprint(conn)
    assert written != before

    client.Account.create({"Name": "Globex"})
    extract_object(client, conn, "Account")
    assert org_tables.fingerprint(conn) not in (before, written), "a new record"


@pytest.mark.parametrize(
    ("change", "changes_fingerprint"),
    [
        ("UPDATE salesforce.\"Order\" SET \"Status\" = 'Draft'", True),
        ('UPDATE salesforce."Order" SET "SystemModstamp" = "SystemModstamp" + INTERVAL 1 SECOND', True),
        ('UPDATE salesforce."Order" SET _passes_filter = false', True),
        (f"INSERT INTO salesforce._schema_failures VALUES ('Order', '{ORDER}', 'Status', 'isin', 'Draft')", True),
        ('DELETE FROM salesforce."Account"', True),
        ('UPDATE salesforce."Order" SET _extracted_at = now(), _run_id = \'another\'', False),
    ],
)
def test_what_the_fingerprint_follows(extracted, change: str, changes_fingerprint: bool) -> None:
    _, conn = extracted
    before = org_tables.fingerprint(conn)
    conn.execute(change)
    assert (org_tables.fingerprint(conn) != before) is changes_fingerprint
