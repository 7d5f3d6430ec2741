"""Validation: each named rule fires with an actionable message naming the record, and all of them are listed."""

from __future__ import annotations

import pandas as pd

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.rules import Violation, validate_contracts
from sf_stripe_pipeline.core.schemas import records_frame, schema_failures

from .builders import TODAY, OrgBuilder, config


def _violations(builder: OrgBuilder, sync_config: SyncConfig | None = None) -> dict[str, list[Violation]]:
    org = builder.snapshot()
    return validate_contracts(build_contracts(org), org, sync_config or config(), today=TODAY)


def _only(builder: OrgBuilder, rule: str, sync_config: SyncConfig | None = None) -> Violation:
    found = [v for violations in _violations(builder, sync_config).values() for v in violations if v.rule == rule]
    assert len(found) == 1, found
    return found[0]


class _Org:
    """One valid new renewable order; tests break it one way at a time."""

    def __init__(self) -> None:
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.product = self.builder.product()
        self.entry = self.builder.entry(self.product, 10)

    def order(self, **fields) -> dict:
        return self.builder.order(self.account, **fields)

    def line(self, order: dict, entry: dict | None = None, **fields) -> dict:
        return self.builder.line(order, entry or self.entry, **fields)


def test_a_valid_order_has_no_violations() -> None:
    org = _Org()
    org.line(org.order())
    assert list(_violations(org.builder).values()) == [[]]


def test_quote_present() -> None:
    org = _Org()
    order = org.order(SBQQ__Quote__c=None)
    org.line(order)
    violation = _only(org.builder, "quote_present")
    assert (violation.sf_object, violation.sf_id) == ("Order", order["Id"])
    assert "There's no CPQ quote associated with the Salesforce order" in violation.message


def test_integer_quantity() -> None:
    org = _Org()
    line = org.line(org.order(), quantity=2.5)
    violation = _only(org.builder, "integer_quantity")
    assert (violation.sf_object, violation.sf_id) == ("OrderItem", line["Id"])
    assert "Quantity 2.5 specified as a decimal value. Only integers are supported." in violation.message


def test_metered_quantity() -> None:
    org = _Org()
    usage = org.builder.entry(org.builder.product(SBQQ__BillingType__c="Arrears"), 1)
    line = org.line(org.order(), usage, quantity=3)
    assert _only(org.builder, "metered_quantity").sf_id == line["Id"]


def test_single_billing_interval() -> None:
    org = _Org()
    quarterly = org.builder.entry(org.builder.product(SBQQ__BillingFrequency__c="Quarterly"), 30)
    order = org.order()
    monthly_line, quarterly_line = org.line(order), org.line(order, quarterly, unit_price=120)
    violation = _only(org.builder, "single_billing_interval")
    assert violation.sf_id == order["Id"]
    assert monthly_line["Id"] in violation.message and quarterly_line["Id"] in violation.message


def test_max_recurring_lines() -> None:
    org = _Org()
    order = org.order()
    for _ in range(101):
        org.line(order)
    assert "101 recurring lines" in _only(org.builder, "max_recurring_lines").message


def test_billing_frequency_and_type_supported() -> None:
    org = _Org()
    order = org.order()
    invoice_plan = org.line(order, SBQQ__BillingFrequency__c="Invoice Plan")
    one_time = org.builder.product(
        SBQQ__SubscriptionPricing__c=None, SBQQ__BillingFrequency__c=None, SBQQ__BillingType__c="Arrears"
    )
    arrears_one_time = org.line(
        order,
        org.builder.entry(one_time, 5),
        SBQQ__SubscriptionPricing__c=None,
        SBQQ__BillingType__c="Arrears",
        unit_price=5,
    )
    assert "'Invoice Plan' isn't supported" in _only(org.builder, "billing_frequency_supported").message
    assert _only(org.builder, "billing_frequency_supported").sf_id == invoice_plan["Id"]
    assert _only(org.builder, "billing_type_supported").sf_id == arrears_one_time["Id"]


def test_line_activated() -> None:
    org = _Org()
    line = org.line(org.order(), SBQQ__Activated__c=False)
    violation = _only(org.builder, "line_activated")
    assert violation.sf_id == line["Id"] and "deleted or not activated" in violation.message


def test_pre_integration_order() -> None:
    org = _Org()
    order = org.order(ActivatedDate="2024-12-15T09:00:00.000+0000")
    org.line(order)
    violation = _only(org.builder, "pre_integration_order")
    assert violation.sf_id == order["Id"] and "before the sync start date 2025-01-01" in violation.message


def test_required_mappings() -> None:
    org = _Org()
    order = org.order(quote={"SBQQ__StartDate__c": None})
    org.line(order)
    violation = _only(org.builder, "required_mappings")
    assert violation.sf_id == order["Id"]
    assert "The following required fields are missing: subscription_schedule.start_date" in violation.message


def test_payment_terms() -> None:
    org = _Org()
    order = org.order(SBQQ__PaymentTerm__c="Due on receipt")
    org.line(order)
    mapped = config(
        field_mappings={
            "subscription_schedule": {"default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c"}
        }
    )
    violation = _only(org.builder, "payment_terms", mapped)
    assert violation.sf_id == order["Id"] and "'Due on receipt'" in violation.message


def test_prorate_multiplier_mismatch_is_an_error_with_month_and_day_precision() -> None:
    org = _Org()
    line = org.line(org.order(), SBQQ__ProrateMultiplier__c=11.5)
    assert _only(org.builder, "prorate_multiplier", config(prorate_precision="month_and_day")).sf_id == line["Id"]
    assert list(_violations(org.builder).values()) == [[]]  # Month precision: a mismatch is tolerated


def _evergreen_line(org: _Org, order: dict, entry: dict | None = None, **fields) -> dict:
    return org.line(
        order,
        entry,
        SBQQ__SubscriptionType__c="Evergreen",
        SBQQ__SubscriptionTerm__c=1,
        SBQQ__DefaultSubscriptionTerm__c=1,
        **fields,
    )


def test_evergreen_terms_are_one() -> None:
    org = _Org()
    order = org.order()
    line = org.line(
        order, SBQQ__SubscriptionType__c="Evergreen", SBQQ__SubscriptionTerm__c=12, SBQQ__DefaultSubscriptionTerm__c=1
    )
    violation = _only(org.builder, "evergreen_terms_are_one")
    assert violation.sf_id == line["Id"] and "equal to 1" in violation.message


def test_no_mixed_evergreen_renewable() -> None:
    org = _Org()
    order = org.order()
    _evergreen_line(org, order)
    org.line(order, SBQQ__SubscriptionType__c="Renewable")
    assert "both Evergreen and Renewable" in _only(org.builder, "no_mixed_evergreen_renewable").message


def test_single_product_evergreen_cancellation() -> None:
    org = _Org()
    initial = org.order()
    first = _evergreen_line(org, initial)
    _evergreen_line(org, initial, org.builder.entry(org.builder.product(Name="Support"), 5))
    amendment = org.builder.order(org.account, amends=initial, quote={"SBQQ__Type__c": "Amendment"})
    _evergreen_line(org, amendment, quantity=-1, SBQQ__RevisedOrderProduct__c=first["Id"])
    invoiced = config(
        field_defaults={
            "subscription_schedule": {
                "default_settings.collection_method": "send_invoice",
                "default_settings.invoice_settings.days_until_due": 30,
            }
        }
    )
    violation = _only(org.builder, "single_product_evergreen_cancellation", invoiced)
    assert violation.sf_id == amendment["Id"] and first["Id"] in violation.message


def test_initial_order_passes_filter() -> None:
    org = _Org()
    initial = org.order(_passes_filter=False)
    org.line(initial)
    amendment = org.builder.order(org.account, amends=initial, quote={"SBQQ__Type__c": "Amendment"})
    org.line(amendment)
    (violation,) = next(iter(_violations(org.builder).values()))
    assert violation.rule == "initial_order_passes_filter" and "didn't match custom sync filters" in violation.message


def test_every_amendment_passes_filter() -> None:
    org = _Org()
    initial = org.order()
    org.line(initial)
    skipped_by_filter, passing = (
        org.builder.order(org.account, amends=initial, _passes_filter=passes) for passes in (False, True)
    )
    for amendment in (skipped_by_filter, passing):
        org.line(amendment)
    violation = _only(org.builder, "amendments_pass_filter")
    assert violation.sf_id == skipped_by_filter["Id"] and "not all amendment orders respect" in violation.message


def test_initial_order_found() -> None:
    org = _Org()
    initial = org.order()
    orphan = org.builder.order(org.account, amends=initial)
    org.line(orphan)
    org.builder.org["Order"].remove(initial)
    assert _only(org.builder, "initial_order_found").sf_id == orphan["Id"]


def test_an_order_without_lines_is_not_yet_supported() -> None:
    org = _Org()
    order = org.order()
    violation = _only(org.builder, "not_yet_supported")
    assert violation.sf_id == order["Id"] and "no lines to bill" in violation.message


def test_schema_failures_are_violations_naming_the_record() -> None:
    org = _Org()
    order = org.order()
    weekly = org.line(order, SBQQ__BillingFrequency__c="Weekly")
    org.entry["UnitPrice"] = None
    (violations,) = _violations(org.builder).values()
    schema = {
        (v.sf_object, v.sf_id, v.message.split(": ", 1)[1].split(" fails")[0]) for v in violations if v.rule == "schema"
    }
    assert ("OrderItem", weekly["Id"], "SBQQ__BillingFrequency__c") in schema
    assert ("PricebookEntry", org.entry["Id"], "UnitPrice") in schema


def test_schema_failures_frame_has_one_row_per_failing_value() -> None:
    records = [
        {"Id": "801A", "AccountId": "001A", "Status": "Activated"},
        {"Id": "801B", "AccountId": None, "Status": "Shipped", "ActivatedDate": "yesterday"},
    ]
    failures = schema_failures("Order", records_frame("Order", records))
    assert list(failures.columns) == ["Id", "column", "check", "failure_case"]
    assert set(failures["Id"]) == {"801B"}
    assert set(failures["column"]) == {"AccountId", "Status", "ActivatedDate"}
    assert schema_failures("Order", pd.DataFrame(records[:1])).empty is False  # columns missing from the frame


def test_every_broken_rule_is_listed() -> None:
    org = _Org()
    order = org.order(ActivatedDate="2024-12-15T09:00:00.000+0000", SBQQ__PaymentTerm__c="Net 31")
    quarterly = org.builder.entry(org.builder.product(SBQQ__BillingFrequency__c="Quarterly"), 30)
    org.line(order, quantity=1.5)
    org.line(order, quarterly, unit_price=120, SBQQ__Activated__c=False)
    mapped = config(
        field_mappings={
            "subscription_schedule": {"default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c"}
        }
    )
    (violations,) = _violations(org.builder, mapped).values()
    assert {v.rule for v in violations} == {
        "pre_integration_order",
        "payment_terms",
        "integer_quantity",
        "single_billing_interval",
        "line_activated",
    }


def _two_orders(second_start: str) -> tuple[_Org, dict, dict]:
    """A synced USD order for Apr 2025 - Mar 2026, then a EUR order for the same account."""
    org = _Org()
    first = org.order(
        CurrencyIsoCode="USD", EffectiveDate="2025-04-01", EndDate="2026-03-31", Stripe_ID__c="sub_sched_1"
    )
    org.line(first)
    second = org.order(
        CurrencyIsoCode="EUR",
        EffectiveDate=second_start,
        EndDate="2027-03-31",
        ActivatedDate="2025-02-01T10:00:00.000+0000",  # earlier, but the USD order is already in Stripe
    )
    org.line(second)
    return org, first, second


def test_one_currency_per_customer_rejects_the_overlapping_order_not_yet_in_stripe() -> None:
    org, first, second = _two_orders("2025-09-01")
    violation = _only(org.builder, "one_currency_per_customer")
    assert (violation.sf_object, violation.sf_id) == ("Order", second["Id"])
    assert f"EUR differs from USD of Order {first['Id']}" in violation.message
    assert "one active currency" in violation.message


def test_one_currency_per_customer_allows_a_new_currency_after_the_old_term() -> None:
    org, _, _ = _two_orders("2026-04-01")
    assert not any(v.rule == "one_currency_per_customer" for vs in _violations(org.builder).values() for v in vs)
