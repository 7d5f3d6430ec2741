"""Every value Stripe would refuse or that would bill wrongly is a named rule before any write, naming the record
(and the field): currencies, dates, terms, multipliers, quantities, amounts, string lengths, control characters,
revision chains and cycles, duplicate ids (issue 11.3). Emoji and line breaks pass, as Stripe takes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_pipeline.core import OrgSnapshot, assess_contracts, build_contracts
from sf_stripe_pipeline.core.org import coerce_rest_record
from sf_stripe_pipeline.core.rules import Violation

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


class _Org:
    """One valid 12-month monthly order of 5 seats at $10 (quote from 2025-04-01); each test breaks one value."""

    def __init__(self) -> None:
        self.builder = OrgBuilder()
        self.account = self.builder.account(Phone="+1 415 555 0100", Description="Billing entity")
        self.product = self.builder.product(Name="Seats")
        self.entry = self.builder.entry(self.product, 10)
        self.order = self.builder.order(self.account, EffectiveDate="2025-04-01", EndDate="2026-03-31")
        self.quote = self.builder.org["SBQQ__Quote__c"][-1]
        self.line = self.builder.line(
            self.order, self.entry, quantity=5, ServiceDate="2025-04-01", EndDate="2026-03-31",
            SBQQ__ProrateMultiplier__c=12,
        )

    def amend(self, *, quantity: float, **line_fields: Any) -> tuple[dict, dict]:
        quote = {"SBQQ__StartDate__c": "2025-06-01", "SBQQ__SubscriptionTerm__c": 10, "SBQQ__Type__c": "Amendment"}
        amendment = self.builder.order(self.account, amends=self.order, quote=quote)
        line = self.builder.line(amendment, self.entry, quantity=quantity, unit_price=100, **line_fields)
        return amendment, line

    def violations(self, org: OrgSnapshot | None = None, **settings: Any) -> list[Violation]:
        org = org or self.builder.snapshot()
        assessments = assess_contracts(build_contracts(org), org, config(**settings), today=TODAY,
                                       instance_url=INSTANCE_URL)
        return [violation for assessment in assessments.values() for violation in assessment.violations]

    def only(self, rule: str, **settings: Any) -> Violation:
        found = self.violations(**settings)
        assert [v.rule for v in found] == [rule], found
        return found[0]


def test_the_base_order_is_valid() -> None:
    assert _Org().violations() == []


@pytest.mark.parametrize("sobject", ["Order", "OrderItem", "PricebookEntry", "Account"])
def test_a_currency_stripe_does_not_support_is_refused_on_the_record_holding_it(sobject: str) -> None:
    org = _Org()
    record = {"Order": org.order, "OrderItem": org.line, "PricebookEntry": org.entry, "Account": org.account}[sobject]
    record["CurrencyIsoCode"] = "XXX"
    violation = org.only("currency_supported")
    assert (violation.sf_object, violation.sf_id) == (sobject, record["Id"])
    assert "CurrencyIsoCode 'XXX'" in violation.message


def test_a_supported_currency_in_any_case_passes() -> None:
    org = _Org()
    for record in (org.order, org.line, org.entry):
        record["CurrencyIsoCode"] = "eur"
    assert org.violations() == []


def test_a_coupon_in_an_unsupported_currency_is_refused() -> None:
    org = _Org()
    coupon = org.builder._add(
        "Quote_Stripe_Coupon__c", "a1c", {"Name__c": "Promo", "Amount_Off__c": 5, "CurrencyIsoCode": "XXX"}
    )
    org.builder._add(
        "Quote_Stripe_Coupon_Association__c", "a1a",
        {"Quote__c": org.order["SBQQ__Quote__c"], "Quote_Stripe_Coupon__c": coupon["Id"]},
    )
    violation = org.only("currency_supported")
    assert (violation.sf_object, violation.sf_id) == ("Quote_Stripe_Coupon__c", coupon["Id"])


@pytest.mark.parametrize(
    ("record", "start", "end"),
    [("order", "EffectiveDate", "EndDate"), ("quote", "SBQQ__StartDate__c", "SBQQ__EndDate__c"),
     ("line", "ServiceDate", "EndDate")],
)
def test_a_record_that_ends_before_it_starts_is_refused(record: str, start: str, end: str) -> None:
    org = _Org()
    target = getattr(org, record)
    target[start], target[end] = "2025-04-01", "2025-03-01"
    violation = org.only("dates_in_order")
    assert violation.sf_id == target["Id"] and f"{end} 2025-03-01 is before {start} 2025-04-01" in violation.message


def test_a_date_before_the_unix_epoch_is_refused() -> None:
    org = _Org()
    org.line["ServiceDate"] = "1925-04-01"
    violation = org.only("dates_after_epoch")
    assert violation.sf_id == org.line["Id"] and "ServiceDate 1925-04-01" in violation.message


@pytest.mark.parametrize("term", [0, -12])
def test_a_quote_term_of_zero_or_less_is_refused(term: int) -> None:
    org = _Org()
    org.quote["SBQQ__SubscriptionTerm__c"] = term
    found = {(v.rule, v.sf_id) for v in org.violations()}
    assert ("integer_term", org.quote["Id"]) in found or ("schema", org.quote["Id"]) in found


def test_a_line_term_of_zero_is_refused() -> None:
    org = _Org()
    org.line["SBQQ__SubscriptionTerm__c"] = 0
    assert org.only("subscription_term_positive").sf_id == org.line["Id"]


def test_a_prorate_multiplier_of_zero_is_refused() -> None:
    org = _Org()
    org.line["SBQQ__ProrateMultiplier__c"] = 0
    violation = org.only("prorate_multiplier_positive")
    assert violation.sf_id == org.line["Id"] and "SBQQ__ProrateMultiplier__c is 0" in violation.message


def test_quantity_zero_on_a_new_line_is_refused_but_not_on_a_reduction() -> None:
    org = _Org()
    org.line["Quantity"] = 0
    assert org.only("positive_quantity").sf_id == org.line["Id"]
    org = _Org()
    org.amend(quantity=-2, SBQQ__RevisedOrderProduct__c=org.line["Id"])
    assert org.violations() == []


def test_numeric_rules_hold_for_decimal_values() -> None:
    """Money becomes Decimal in OrgSnapshot: the rules compare Decimals as they compare floats."""
    org = _Org()
    org.line.update(Quantity=0, SBQQ__ProrateMultiplier__c=0, SBQQ__SubscriptionTerm__c=0)
    typed = {
        sobject: [
            {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in coerce_rest_record(sobject, r).items()}
            for r in rows
        ]
        for sobject, rows in org.builder.org.items()
    }
    rules = {v.rule for v in org.violations(OrgSnapshot(typed))}
    assert {"positive_quantity", "prorate_multiplier_positive", "subscription_term_positive"} <= rules


@pytest.mark.parametrize(
    ("record", "field", "value", "param", "limit"),
    [
        ("account", "Name", "A" * 10_240, "customer name", 256),
        ("product", "Name", "P" * 10_240, "product name", 5000),
        ("account", "Phone", "+1 415 555 0100 ext. 12345", "customer phone", 20),
        ("account", "Email__c", "a" * 600 + "@example.com", "customer email", 512),
    ],
)
def test_a_string_over_stripes_limit_is_refused_naming_record_field_and_limit(
    record: str, field: str, value: str, param: str, limit: int
) -> None:
    org = _Org()
    getattr(org, record)[field] = value
    violation = org.only("stripe_field_limit", field_mappings={"customer": {"email": "Email__c"}})
    assert violation.sf_id == getattr(org, record)["Id"]
    assert f"Stripe {param} (mapped from {field})" in violation.message and f"at most {limit}" in violation.message


def test_the_connector_truncates_the_customer_description_and_shipping_phone_instead() -> None:
    org = _Org()
    org.account.update(Description="D" * 10_240, Phone="+1 415 555 0100", ShippingCity="Lyon")
    assert org.violations() == []


def test_a_coupon_name_over_40_characters_is_refused() -> None:
    org = _Org()
    coupon = org.builder._add("Quote_Stripe_Coupon__c", "a1c", {"Name__c": "N" * 41, "Percent_Off__c": 5})
    org.builder._add(
        "Quote_Stripe_Coupon_Association__c", "a1a",
        {"Quote__c": org.order["SBQQ__Quote__c"], "Quote_Stripe_Coupon__c": coupon["Id"]},
    )
    violation = org.only("stripe_field_limit")
    assert violation.sf_id == coupon["Id"] and "at most 40" in violation.message


@pytest.mark.parametrize(("record", "field"), [("account", "Name"), ("product", "Name"), ("account", "Description")])
def test_a_control_character_is_refused(record: str, field: str) -> None:
    org = _Org()
    getattr(org, record)[field] = "Acme\x00Corp"
    violation = org.only("control_characters")
    assert violation.sf_id == getattr(org, record)["Id"] and "'\\x00' at position 4" in violation.message


def test_a_control_character_in_a_mapped_line_field_names_the_line() -> None:
    org = _Org()
    org.line["SBQQ__SegmentKey__c"] = "key\x07"
    violation = org.only(
        "control_characters", field_mappings={"subscription_item": {"metadata.segment": "SBQQ__SegmentKey__c"}}
    )
    assert (violation.sf_object, violation.sf_id) == ("OrderItem", org.line["Id"])
    assert "(mapped from SBQQ__SegmentKey__c)" in violation.message


def test_emoji_tabs_and_line_breaks_pass() -> None:
    org = _Org()
    org.account.update(Name="Acme 🚀 Corp", Description="Line one\nLine\ttwo")
    org.product["Name"] = "Seats ✨"
    assert org.violations() == []


def test_a_unit_price_over_eight_digits_of_minor_units_is_refused() -> None:
    org = _Org()
    org.entry["UnitPrice"] = 1_000_000  # 100,000,000 cents a month
    org.line["UnitPrice"] = 12_000_000  # the same for the 12-month term: the price book's price is used
    violation = org.only("amount_within_stripe_limit")
    assert (violation.sf_object, violation.sf_id) == ("PricebookEntry", org.entry["Id"])
    assert "amount 100000000 (minor units) is over Stripe's maximum of 99999999" in violation.message


def test_a_quantity_that_bills_over_the_maximum_on_one_invoice_is_refused_on_its_line() -> None:
    org = _Org()
    org.line["Quantity"] = 10_000_001  # x 1000 cents
    violation = org.only("amount_within_stripe_limit")
    assert (violation.sf_object, violation.sf_id) == ("OrderItem", org.line["Id"])
    assert "quantity 10000001 x unit amount 1000 bills 10000001000" in violation.message


def test_an_amendment_line_that_revises_itself_is_refused_on_the_amendment() -> None:
    org = _Org()
    amendment, line = org.amend(quantity=1)
    line["SBQQ__RevisedOrderProduct__c"] = line["Id"]
    violation = org.only("revision_chain")
    assert violation.sf_id == line["Id"] and "revises itself" in violation.message


def test_amendment_lines_revising_each_other_in_a_cycle_are_refused() -> None:
    org = _Org()
    _, first = org.amend(quantity=1)
    _, second = org.amend(quantity=1)
    first["SBQQ__RevisedOrderProduct__c"], second["SBQQ__RevisedOrderProduct__c"] = second["Id"], first["Id"]
    assert {v.rule for v in org.violations()} == {"revision_chain"}


def test_an_order_amending_its_own_contract_is_a_cycle() -> None:
    org = _Org()
    contract = org.builder.contract_of(org.order)
    opportunity = next(o for o in org.builder.org["Opportunity"] if o["Id"] == org.order["OpportunityId"])
    opportunity["SBQQ__AmendedContract__c"] = contract["Id"]
    violation = org.only("amendment_cycle")
    assert violation.sf_id == org.order["Id"] and "cannot amend itself" in violation.message


def test_two_accounts_pointing_at_one_stripe_customer_are_refused() -> None:
    org = _Org()
    org.account["Stripe_ID__c"] = "cus_shared"
    other = org.builder.account(Name="Other", Stripe_ID__c="cus_shared")
    other_order = org.builder.order(other)
    org.builder.line(other_order, org.entry)
    found = org.violations()
    assert {(v.rule, v.sf_id) for v in found} == {
        ("stripe_id_unique", org.account["Id"]),
        ("stripe_id_unique", other["Id"]),
    }


def test_two_records_with_one_id_are_refused() -> None:
    org = _Org()
    org.builder.org["OrderItem"].append({**org.line, "Quantity": 7})
    assert "record_id_unique" in {v.rule for v in org.violations()}
