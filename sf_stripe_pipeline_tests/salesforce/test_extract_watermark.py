"""Incremental extraction's mark (`salesforce/extract.py`, `warehouse/org.py::read_from`): SOQL datetime literals
are whole seconds, so the mark's second is read again while a record stamped later in it could still have been
written after the last query; once an extraction has queried `SETTLED` after that second, the next reads from the
second after (a bulk write of thousands of records in one second is not read again by every run). Through the real
simple-salesforce client; the sandbox stamps records by the pinned clock."""

from __future__ import annotations

import duckdb
import pytest

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.salesforce.extract import extract_object
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.warehouse import prepare

ACCOUNT = "001000000000001AAA"


@pytest.fixture
def org(tmp_path, monkeypatch):
    """Three orders written in one second (12:00:00), extracted once in that second."""
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:00:00Z")
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    sandbox.replace_org({"Account": [{"Id": ACCOUNT, "Name": "Acme"}], "Order": []})
    client = sandbox.client()
    orders = [client.Order.create({"AccountId": ACCOUNT, "Status": "Activated"})["id"] for _ in range(3)]
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    prepare(conn)
    assert extract_object(client, conn, "Order").records == 3
    yield client, conn, orders
    conn.close()
    sandbox.close()


def test_the_marks_second_is_read_again_while_it_may_still_be_written(org, monkeypatch) -> None:
    client, conn, orders = org
    again = extract_object(client, conn, "Order")  # still 12:00:00: another write could land in this second
    assert again.records == 3

    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:09:30Z")
    assert extract_object(client, conn, "Order").records == 3, "the last query ran in the second itself"
    settled = extract_object(client, conn, "Order")  # the previous query ran 9.5 minutes after: within SETTLED
    assert settled.records == 3


def test_a_settled_second_is_not_read_again_and_later_writes_are(org, monkeypatch) -> None:
    client, conn, orders = org
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:15:00Z")
    assert extract_object(client, conn, "Order").records == 3, "the last query ran in the mark's second"

    assert extract_object(client, conn, "Order").records == 0, "queried 15 minutes after: nothing more in it"

    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:16:00Z")
    client.Order.update(orders[1], {"Status": "Draft"})
    changed = extract_object(client, conn, "Order")
    assert changed.records == 1
    (status,) = conn.execute('SELECT "Status" FROM salesforce."Order" WHERE "Id" = ?', [orders[1]]).fetchone()
    assert status == "Draft"
    assert extract_object(client, conn, "Order").records == 1, "12:16:00 is the mark's second now, not settled"
