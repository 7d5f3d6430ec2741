"""Contract grouping (F5, F29) and scoping by activation window and by order ids (F4)."""

from __future__ import annotations

from datetime import UTC, datetime

from sf_stripe_pipeline.core.contracts import build_contracts, contracts_in_scope

from .builders import OrgBuilder


def _contract_org() -> tuple[OrgBuilder, dict, dict, dict, dict, dict]:
    builder = OrgBuilder()
    account = builder.account()
    initial = builder.order(account, ActivatedDate="2025-03-01T10:00:00.000+0000")
    # Two amendments, created out of order: sorted by quote start date, then LastModifiedDate.
    later = builder.order(
        account,
        amends=initial,
        quote={"SBQQ__StartDate__c": "2025-07-01", "SBQQ__Type__c": "Amendment"},
        ActivatedDate="2025-05-02T09:00:00.000+0000",
    )
    earlier = builder.order(
        account,
        amends=initial,
        quote={"SBQQ__StartDate__c": "2025-06-01", "SBQQ__Type__c": "Amendment"},
        ActivatedDate="2025-05-20T09:00:00.000+0000",
    )
    renewal = builder.order(account, quote={"SBQQ__StartDate__c": "2026-04-01", "SBQQ__Type__c": "Renewal"})
    quoteless = builder.order(account, SBQQ__Quote__c=None)
    return builder, initial, later, earlier, renewal, quoteless


def test_amendments_join_their_initial_order_in_quote_start_order() -> None:
    builder, initial, later, earlier, renewal, quoteless = _contract_org()
    contracts = {contract.key: contract for contract in build_contracts(builder.snapshot())}
    assert set(contracts) == {initial["Id"], renewal["Id"], quoteless["Id"]}
    assert contracts[initial["Id"]].amendment_order_ids == (earlier["Id"], later["Id"])
    assert contracts[initial["Id"]].account_id == initial["AccountId"]


def test_same_quote_start_orders_amendments_by_last_modified() -> None:
    builder = OrgBuilder()
    account = builder.account()
    initial = builder.order(account)
    amendment_quote = {"SBQQ__StartDate__c": "2025-06-01", "SBQQ__Type__c": "Amendment"}
    second = builder.order(account, amends=initial, quote=amendment_quote, LastModifiedDate="2025-05-03T00:00:00Z")
    first = builder.order(account, amends=initial, quote=amendment_quote, LastModifiedDate="2025-05-01T00:00:00Z")
    (contract,) = build_contracts(builder.snapshot())
    assert contract.amendment_order_ids == (first["Id"], second["Id"])


def test_renewal_and_quoteless_orders_are_contracts_of_their_own() -> None:
    builder, _, _, _, renewal, quoteless = _contract_org()
    contracts = {contract.key: contract for contract in build_contracts(builder.snapshot())}
    assert contracts[renewal["Id"]].amendment_order_ids == ()
    assert contracts[quoteless["Id"]].initial_order_id == quoteless["Id"]


def test_amendment_without_a_resolvable_initial_is_its_own_contract() -> None:
    builder = OrgBuilder()
    account = builder.account()
    initial = builder.order(account)
    orphan = builder.order(account, amends=initial)
    builder.org["Order"] = [order for order in builder.org["Order"] if order["Id"] != initial["Id"]]
    (contract,) = build_contracts(builder.snapshot())
    assert contract.key == orphan["Id"] and contract.amendment_order_ids == ()


def test_window_selects_contracts_with_any_order_activated_in_it() -> None:
    builder, initial, _later, _earlier, renewal, quoteless = _contract_org()
    org = builder.snapshot()
    contracts = build_contracts(org)
    may = (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 5, 3, tzinfo=UTC))
    assert [c.key for c in contracts_in_scope(contracts, org, window=may)] == [initial["Id"]]
    # The window's end is exclusive.
    up_to_the_amendment = (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 5, 2, 9, tzinfo=UTC))
    assert contracts_in_scope(contracts, org, window=up_to_the_amendment) == []
    march = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC))
    assert {c.key for c in contracts_in_scope(contracts, org, window=march)} == {
        initial["Id"],
        renewal["Id"],
        quoteless["Id"],
    }


def test_order_ids_select_the_contract_of_an_initial_or_an_amendment() -> None:
    builder, initial, later, _, renewal, _ = _contract_org()
    org = builder.snapshot()
    contracts = build_contracts(org)
    assert [c.key for c in contracts_in_scope(contracts, org, order_ids=[later["Id"]])] == [initial["Id"]]
    assert [c.key for c in contracts_in_scope(contracts, org, order_ids={renewal["Id"]})] == [renewal["Id"]]
    assert len(contracts_in_scope(contracts, org)) == 3


def test_orders_failing_the_filter_do_not_select_their_contract() -> None:
    builder, initial, _later, _earlier, renewal, quoteless = _contract_org()
    for order in builder.org["Order"]:
        order["_passes_filter"] = order["Id"] not in (initial["Id"], renewal["Id"])
    org = builder.snapshot()
    contracts = build_contracts(org)
    scoped = {c.key for c in contracts_in_scope(contracts, org)}
    # The amendments still pass, so the initial's contract is in scope (and validation will reject it, F4).
    assert scoped == {initial["Id"], quoteless["Id"]}
    assert contracts_in_scope(contracts, org, order_ids=[renewal["Id"]]) == []
