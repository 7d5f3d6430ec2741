"""The warehouse follows the pipeline's own write-backs (`warehouse/org.py::follow_writes`): the written values are
on the extracted records at once, and the next extraction, reading the records back with new change stamps, finds
them at the same version (nothing to validate or assess again). Through the real simple-salesforce client against
the Salesforce sandbox."""

from __future__ import annotations

import duckdb
import pytest

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.salesforce import writes as salesforce_writes
from sf_stripe_pipeline.salesforce.extract import extract_object
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.warehouse import org as org_tables
from sf_stripe_pipeline.warehouse import prepare

ORDER, OTHER_ORDER = "801000000000001AAA", "801000000000002AAA"


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:00:00Z")
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    sandbox.replace_org(
        {
            "Account": [{"Id": "001000000000001AAA", "Name": "Acme"}],
            "Order": [
                {"Id": order_id, "AccountId": "001000000000001AAA", "Status": "Activated"}
                for order_id in (ORDER, OTHER_ORDER)
            ],
        }
    )
    yield sandbox
    sandbox.close()


def test_written_back_ids_are_followed_and_read_back_at_the_same_version(sandbox, tmp_path, monkeypatch) -> None:
    client = sandbox.client()
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    prepare(conn)
    extract_object(client, conn, "Order")
    before = org_tables.load_org(conn, ["Order"])

    monkeypatch.setenv(NOW_ENV_VAR, "2025-03-10T12:05:00Z")  # the write moves the record's change stamps
    results = salesforce_writes.write_back_stripe_ids(client, [("Order", ORDER, "sub_sched_123")])
    assert [(r.success, dict(r.fields)) for r in results] == [(True, {"Stripe_ID__c": "sub_sched_123"})]
    written = [(r.sobject, r.record_key, r.fields) for r in results]
    unknown = ("Order", "801000000000009AAA", {"Stripe_ID__c": "sub_sched_999"})  # not in the warehouse
    assert org_tables.follow_writes(conn, [*written, unknown]) == 1

    followed = org_tables.load_org(conn, ["Order"])
    assert followed.get("Order", ORDER)["Stripe_ID__c"] == "sub_sched_123"
    assert followed.version("Order", ORDER) != before.version("Order", ORDER)
    assert followed.version("Order", OTHER_ORDER) == before.version("Order", OTHER_ORDER)
    assert followed.get("Order", "801000000000009AAA") is None

    again = extract_object(client, conn, "Order")

    read_back = org_tables.load_org(conn, ["Order"])
    assert read_back.get("Order", ORDER)["SystemModstamp"] > followed.get("Order", ORDER)["SystemModstamp"]
    assert read_back.version("Order", ORDER) == followed.version("Order", ORDER), "only its change stamps moved"
    assert again.records >= 1 and again.validated == 0, "read back, and validated by follow_writes at this version"
    conn.close()
