"""Query pagination as Salesforce: 2,000-record batches, nextRecordsUrl, query_more, query_all_iter, queryAll."""

from __future__ import annotations

import re

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sf_stripe_pipeline.sandbox.salesforce.api import MAX_OPEN_CURSORS

from .conftest import error_code, sf_id

QUERY = "SELECT Id, Name FROM Account ORDER BY Name"


def load_accounts(sandbox, count: int) -> None:
    sandbox.replace_org({"Account": [{"Id": sf_id("Account", n), "Name": f"A{n:05d}"} for n in range(1, count + 1)]})


def test_exactly_one_full_batch_is_done_without_next_url(sandbox, sf) -> None:
    load_accounts(sandbox, 2000)
    result = sf.query(QUERY)
    assert (result["totalSize"], result["done"], len(result["records"])) == (2000, True, 2000)
    assert "nextRecordsUrl" not in result


def test_4001_records_come_in_three_batches_via_query_more(sandbox, sf) -> None:
    load_accounts(sandbox, 4001)
    first = sf.query(QUERY)
    assert (first["totalSize"], first["done"], len(first["records"])) == (4001, False, 2000)
    assert re.fullmatch(r"/services/data/v62\.0/query/01g[0-9A-Za-z]{15}-2000", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (second["done"], len(second["records"])) == (False, 2000)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (third["done"], len(third["records"])) == (True, 1)
    assert "nextRecordsUrl" not in third
    names = [r["Name"] for batch in (first, second, third) for r in batch["records"]]
    assert names == [f"A{n:05d}" for n in range(1, 4002)]


def test_query_all_iter_reads_every_batch_in_order(sandbox, sf) -> None:
    load_accounts(sandbox, 4001)
    names = [record["Name"] for record in sf.query_all_iter(QUERY, include_deleted=True)]
    assert names == [f"A{n:05d}" for n in range(1, 4002)]
    batches = [entry for entry in sandbox.request_log() if entry.path.startswith("/services/data/v62.0/queryAll")]
    assert len(batches) == 3


def test_batch_size_header_is_respected_down_to_200(sandbox, sf) -> None:
    load_accounts(sandbox, 450)
    first = sf.query(QUERY, headers={"Sforce-Query-Options": "batchSize=200"})
    assert len(first["records"]) == 200 and first["nextRecordsUrl"].endswith("-200")
    tiny = sf.query(QUERY, headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200
    assert len(list(sf.query_all_iter(QUERY, headers={"Sforce-Query-Options": "batchSize=200"}))) == 450


def test_a_read_cursor_is_dropped_and_old_cursors_are_evicted(sandbox, sf) -> None:
    load_accounts(sandbox, 201)
    small_batches = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query(QUERY, headers=small_batches)
    sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert error_code(raised) == "INVALID_QUERY_LOCATOR"

    oldest = sf.query(QUERY, headers=small_batches)["nextRecordsUrl"]
    for _ in range(MAX_OPEN_CURSORS):
        sf.query(QUERY, headers=small_batches)
    with pytest.raises(SalesforceMalformedRequest):
        sf.query_more(oldest, identifier_is_url=True)


def test_replace_org_invalidates_open_cursors(sandbox, sf) -> None:
    load_accounts(sandbox, 2001)
    next_url = sf.query(QUERY)["nextRecordsUrl"]
    load_accounts(sandbox, 2001)
    with pytest.raises(SalesforceMalformedRequest):
        sf.query_more(next_url, identifier_is_url=True)


def test_query_hides_deleted_records_and_query_all_shows_them(sf) -> None:
    acme = sf.query("SELECT Id FROM Account WHERE Name = 'Acme'")["records"][0]["Id"]
    assert sf.Account.delete(acme) == 204
    live = sf.query("SELECT Id FROM Account")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
    assert live["totalSize"] == 3 and acme not in {r["Id"] for r in live["records"]}
    assert everything["totalSize"] == 4
    assert {r["Id"]: r["IsDeleted"] for r in everything["records"]}[acme] is True
    deleted_only = sf.query_all("SELECT Id FROM Account WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in deleted_only["records"]] == [acme]
