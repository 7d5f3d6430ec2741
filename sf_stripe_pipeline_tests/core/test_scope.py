"""Scope by modification (spec F1, F2): a partition selects the contracts activated or changed that day."""

from __future__ import annotations

from datetime import UTC, datetime

from sf_stripe_pipeline.core import assess_contracts, build_contracts, contracts_in_scope

from .builders import TODAY, OrgBuilder, config

MARCH_10 = (datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 11, tzinfo=UTC))
STAMP = "2025-03-10T15:00:00.000+0000"


def _org(**order_fields) -> tuple[OrgBuilder, dict, dict]:
    builder = OrgBuilder()
    account = builder.account()
    entry = builder.entry(builder.product(), 10)
    stamps = dict.fromkeys(("ActivatedDate", "LastModifiedDate", "SystemModstamp"), "2025-02-03T10:00:00.000+0000")
    order = builder.order(account, **{**stamps, **order_fields})
    line = builder.line(order, entry, LastModifiedDate="2025-02-03T10:00:00.000+0000")
    return builder, order, line


def _scoped(builder: OrgBuilder, window=MARCH_10) -> list[str]:
    org = builder.snapshot()
    return [contract.key for contract in contracts_in_scope(build_contracts(org), org, window=window)]


def test_a_contract_untouched_in_the_window_is_out_of_scope() -> None:
    builder, _, _ = _org()
    assert _scoped(builder) == []


def test_activation_in_the_window_selects_the_contract() -> None:
    builder, order, _ = _org()
    february_3 = (datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 4, tzinfo=UTC))
    assert _scoped(builder, february_3) == [order["Id"]]


def test_a_change_to_the_order_its_lines_its_quote_or_its_coupons_selects_the_contract() -> None:
    for touch in ("order", "line", "quote", "coupon"):
        builder, order, line = _org()
        if touch == "order":
            order["SystemModstamp"] = STAMP
        elif touch == "line":
            line["SystemModstamp"] = STAMP
        elif touch == "quote":
            builder.org["SBQQ__Quote__c"][0]["LastModifiedDate"] = STAMP
        else:
            builder._add("Order_Stripe_Coupon__c", "a1o", {"Order_Item__c": line["Id"], "SystemModstamp": STAMP})
        assert _scoped(builder) == [order["Id"]], touch


def test_a_change_to_a_shared_record_does_not_select_its_contracts() -> None:
    builder, _, _ = _org()
    builder.org["PricebookEntry"][0]["SystemModstamp"] = STAMP
    builder.org["Account"][0]["SystemModstamp"] = STAMP
    assert _scoped(builder) == []


def test_an_amendment_changed_in_the_window_selects_its_whole_contract() -> None:
    builder, order, _ = _org()
    builder.order(builder.org["Account"][0], amends=order, LastModifiedDate=STAMP, ActivatedDate=None)
    assert _scoped(builder) == [order["Id"]]


def test_a_pre_integration_order_changed_after_the_start_date_is_selected_and_rejected() -> None:
    """F2: activated 2024-12-15, before the start date 2025-01-01, edited on 2025-03-10: an error, not silence."""
    builder, order, _ = _org(ActivatedDate="2024-12-15T10:00:00.000+0000")
    order["LastModifiedDate"] = STAMP
    org = builder.snapshot()
    (contract,) = contracts_in_scope(build_contracts(org), org, window=MARCH_10)
    (assessment,) = assess_contracts([contract], org, config(), today=TODAY).values()
    (violation,) = assessment.violations
    assert (violation.rule, violation.sf_id) == ("pre_integration_order", order["Id"])
    assert "pre-integration" in violation.message and "2024-12-15" in violation.message


def test_a_deleted_order_is_selected_the_day_it_is_deleted() -> None:
    builder, order, _ = _org()
    order.update(IsDeleted=True, SystemModstamp=STAMP)
    assert _scoped(builder) == [order["Id"]]
