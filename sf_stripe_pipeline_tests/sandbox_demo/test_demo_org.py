"""The demo CPQ org: determinism, case coverage and proportions, catalogue conformance, and CPQ structure."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.core.mapping import BILLING_FREQUENCY_MONTHS
from sf_stripe_pipeline.core.money import add_months
from sf_stripe_pipeline.sandbox.demo_org import (
    INVALID_CASES,
    MIN_DEMO_ORDERS,
    DemoCase,
    demo_case_counts,
    demo_case_index,
    generate_demo_org,
)
from sf_stripe_pipeline.sandbox.salesforce.ids import is_valid_id
from sf_stripe_pipeline.salesforce.catalogue import (
    BOOLEAN,
    DATE,
    DATETIME,
    INT,
    NUMERIC_TYPES,
    PICKLIST,
    REFERENCE,
    SOBJECTS,
)
from sf_stripe_pipeline_tests.sandbox_demo.conftest import AS_OF, SMALL_ORDERS, Org

NEW_RENEWABLE_CASES = {case for case in DemoCase if case.startswith("new")}


class OrgView:
    """Lookups the assertions below share."""

    def __init__(self, org: Org):
        self.org = org
        self.by_id = {record["Id"]: record for records in org.values() for record in records}
        self.cases = demo_case_index(org)
        self.items = defaultdict(list)
        for item in org["OrderItem"]:
            self.items[item["OrderId"]].append(item)
        self.initial_order_of_quote = {o["SBQQ__Quote__c"]: o for o in org["Order"] if o["Type"] == "New"}

    def orders(self, *cases: DemoCase) -> list[dict[str, Any]]:
        return [order for order in self.org["Order"] if self.cases[order["Id"]] in cases]

    def initial_of(self, amendment: dict[str, Any]) -> dict[str, Any]:
        contract = self.by_id[self.by_id[amendment["OpportunityId"]]["SBQQ__AmendedContract__c"]]
        return self.initial_order_of_quote[contract["SBQQ__Quote__c"]]

    def netted(self, initial: dict[str, Any]) -> dict[str, float]:
        """Original line id -> quantity after every amendment of its contract."""
        quantities = {item["Id"]: item["Quantity"] for item in self.items[initial["Id"]]}
        for item in self.org["OrderItem"]:
            if item["SBQQ__RevisedOrderProduct__c"] in quantities:
                quantities[item["SBQQ__RevisedOrderProduct__c"]] += item["Quantity"]
        return quantities


@pytest.fixture(scope="module")
def small(small_org: Org) -> OrgView:
    return OrgView(small_org)


@pytest.fixture(scope="module")
def default(default_org: Org) -> OrgView:
    return OrgView(default_org)


def _parse_datetime(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


# ---------------------------------------------------------------------------------------------- determinism


def test_same_arguments_give_identical_org(small_org: Org) -> None:
    again = generate_demo_org(SMALL_ORDERS, seed=7, as_of=AS_OF)
    assert json.dumps(again) == json.dumps(small_org)  # same records, same order, same field order


def test_another_seed_gives_another_org(small_org: Org) -> None:
    other = generate_demo_org(SMALL_ORDERS, seed=8, as_of=AS_OF)
    assert other != small_org
    assert Counter(demo_case_index(other).values()) == Counter(demo_case_index(small_org).values())


def test_as_of_defaults_to_the_sandbox_clock(monkeypatch: pytest.MonkeyPatch, small_org: Org) -> None:
    monkeypatch.setenv(clock.NOW_ENV_VAR, "2025-03-10T12:00:00")
    assert generate_demo_org(SMALL_ORDERS, seed=7) == small_org


def test_too_few_orders_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_DEMO_ORDERS} orders"):
        generate_demo_org(MIN_DEMO_ORDERS - 1, as_of=AS_OF)


# ---------------------------------------------------------------------------------------------- cases


@pytest.mark.parametrize("orders", [MIN_DEMO_ORDERS, SMALL_ORDERS, 100, 1000])
def test_every_case_is_present_in_planned_numbers(orders: int) -> None:
    org = generate_demo_org(orders, seed=orders, as_of=AS_OF)
    counts = Counter(demo_case_index(org).values())
    assert len(org["Order"]) == orders
    assert set(counts) == set(DemoCase)
    assert counts == demo_case_counts(orders)


def test_default_size_has_the_documented_proportions(default: OrgView) -> None:
    counts = Counter(default.cases.values())
    assert len(default.org["Order"]) == 100
    assert sum(counts[case] for case in NEW_RENEWABLE_CASES) >= 70  # the bulk
    assert sum(counts[case] for case in INVALID_CASES) == len(INVALID_CASES) == 5  # a handful, fixed
    amendments = [DemoCase.AMENDMENT_QUANTITY_UP, DemoCase.AMENDMENT_QUANTITY_DOWN, DemoCase.AMENDMENT_ADD_PRODUCT,
                  DemoCase.AMENDMENT_TERMINATION]
    assert all(counts[case] >= 2 for case in amendments)
    assert counts[DemoCase.NEW_MULTI_LINE] > counts[DemoCase.NEW_DISCOUNTED] > counts[DemoCase.ONE_TIME]


def test_invalid_orders_stay_fixed_while_the_rest_scales() -> None:
    small, large = demo_case_counts(100), demo_case_counts(10_000)
    assert all(small[case] == large[case] == 1 for case in INVALID_CASES)
    assert large[DemoCase.AMENDMENT_TERMINATION] >= 50 * small[DemoCase.AMENDMENT_TERMINATION]


def test_record_counts_scale_linearly(small_org: Org) -> None:
    large = generate_demo_org(10 * SMALL_ORDERS, as_of=AS_OF)
    for sobject in ("Order", "OrderItem", "SBQQ__Quote__c", "Opportunity", "Account"):
        ratio = len(large[sobject]) / len(small_org[sobject])
        assert 7 <= ratio <= 13, (sobject, ratio)


# ---------------------------------------------------------------------------------------------- catalogue


def test_records_match_the_catalogue(default_org: Org) -> None:
    assert list(default_org) == list(SOBJECTS)
    for sobject, records in default_org.items():
        spec = SOBJECTS[sobject]
        for record in records:
            assert list(record) == list(spec.fields), sobject
            assert is_valid_id(record["Id"], spec.key_prefix)
            assert record["IsDeleted"] is False and record["CurrencyIsoCode"] in ("USD", "EUR")
            assert record["CreatedDate"] <= record["LastModifiedDate"] == record["SystemModstamp"]
            for name, value in record.items():
                field = spec.fields[name]
                if field.type == BOOLEAN:
                    assert type(value) is bool, (sobject, name)
                elif value is None:
                    continue
                elif field.type == INT:
                    assert type(value) is int, (sobject, name)
                elif field.type in NUMERIC_TYPES:
                    assert type(value) is float, (sobject, name)
                elif field.type == DATE:
                    date.fromisoformat(value)
                elif field.type == DATETIME:
                    assert value.endswith(".000+0000") and _parse_datetime(value)
                elif field.type == PICKLIST and field.picklist:
                    assert value in field.picklist, (sobject, name, value)


def test_every_reference_resolves_to_a_record_of_the_right_object(default: OrgView) -> None:
    checked = 0
    for sobject, records in default.org.items():
        references = [field for field in SOBJECTS[sobject].fields.values() if field.type == REFERENCE]
        for record in records:
            for field in references:
                if record[field.name] is not None:
                    target = default.by_id.get(record[field.name])
                    assert target is not None and target["Id"].startswith(
                        SOBJECTS[field.reference_to].key_prefix), (sobject, record["Id"], field.name)
                    checked += 1
    for line in default.org["SBQQ__QuoteLine__c"]:  # text fields that hold ids
        assert default.by_id[line["SBQQ__PricebookEntryId__c"]]["Id"].startswith("01u")
    for snapshot in default.org["Order_Stripe_Coupon__c"]:
        assert default.by_id[snapshot["Quote_Stripe_Coupon_Id__c"]]["Id"].startswith("a1c")
    assert checked > 1000


# ---------------------------------------------------------------------------------------------- reference data


def test_products_cover_frequencies_billing_types_and_one_time(default_org: Org) -> None:
    products = default_org["Product2"]
    recurring = [p for p in products if p["SBQQ__SubscriptionPricing__c"] == "Fixed Price"]
    assert {p["SBQQ__BillingFrequency__c"] for p in recurring} == {"Monthly", "Quarterly", "Annual"}
    assert {p["SBQQ__BillingType__c"] for p in recurring} == {"Advance", "Arrears"}
    assert all(p["SBQQ__SubscriptionType__c"] and p["SBQQ__SubscriptionTerm__c"] for p in recurring)
    one_time = [p for p in products if p["SBQQ__SubscriptionPricing__c"] is None]
    assert one_time and all(p["SBQQ__BillingFrequency__c"] is None for p in one_time)
    (pricebook,) = default_org["Pricebook2"]
    assert pricebook["IsStandard"] is True
    entries = Counter((e["Product2Id"], e["CurrencyIsoCode"]) for e in default_org["PricebookEntry"]
                      if e["Pricebook2Id"] == pricebook["Id"])
    assert set(entries) == {(p["Id"], currency) for p in products for currency in ("USD", "EUR")}
    assert set(entries.values()) == {1}


def test_accounts_exercise_customer_mapping_edge_cases(default: OrgView) -> None:
    ordering = {order["AccountId"] for order in default.org["Order"]}
    accounts = [a for a in default.org["Account"] if a["Id"] in ordering]
    assert len(accounts) == len(default.org["Account"])  # every account has orders
    assert any(len(a["Description"]) > 350 for a in accounts)
    assert any(len(a["Phone"]) == 20 for a in accounts)  # at Stripe's limit for a customer phone (F13)
    assert all(len(a["Phone"]) <= 20 for a in accounts)
    assert any(a["ShippingStreet"] is None for a in accounts) and any(a["ShippingStreet"] for a in accounts)
    assert all(a["Email__c"] and a["BillingStreet"] and a["BillingCountry"] for a in accounts)
    contacts = Counter(c["AccountId"] for c in default.org["Contact"])
    assert set(contacts) == {a["Id"] for a in accounts}


# ---------------------------------------------------------------------------------------------- CPQ chain


CPQ_LINE_FIELDS = ("SBQQ__SubscriptionPricing__c", "SBQQ__SubscriptionType__c", "SBQQ__ProductSubscriptionType__c",
                   "SBQQ__SubscriptionTerm__c", "SBQQ__DefaultSubscriptionTerm__c", "SBQQ__BillingFrequency__c",
                   "SBQQ__BillingType__c", "SBQQ__ChargeType__c", "SBQQ__ProrateMultiplier__c")


def test_orders_follow_the_cpq_chain(default: OrgView) -> None:
    for order in default.org["Order"]:
        assert order["Status"] == "Activated" and order["ActivatedDate"] and order["OrderNumber"]
        opportunity = default.by_id[order["OpportunityId"]]
        assert opportunity["AccountId"] == order["AccountId"]
        if order["SBQQ__Quote__c"] is None:
            continue
        quote = default.by_id[order["SBQQ__Quote__c"]]
        assert quote["SBQQ__Opportunity2__c"] == order["OpportunityId"]
        assert quote["SBQQ__Account__c"] == order["AccountId"]
        assert default.by_id[quote["SBQQ__PrimaryContact__c"]]["AccountId"] == order["AccountId"]
        assert quote["SBQQ__PaymentTerms__c"] == order["SBQQ__PaymentTerm__c"]
        assert quote["SBQQ__PaymentTerms__c"].startswith("Net ")
        assert order["EffectiveDate"] == quote["SBQQ__StartDate__c"] and order["EndDate"] == quote["SBQQ__EndDate__c"]
        assert order["Type"] == ("Amendment" if quote["SBQQ__Type__c"] == "Amendment" else "New")
        currencies = {order["CurrencyIsoCode"], quote["CurrencyIsoCode"]}
        for item in default.items[order["Id"]]:
            line = default.by_id[item["SBQQ__QuoteLine__c"]]
            entry = default.by_id[item["PricebookEntryId"]]
            assert line["SBQQ__Quote__c"] == quote["Id"] and line["SBQQ__PricebookEntryId__c"] == entry["Id"]
            assert entry["Product2Id"] == item["Product2Id"] == line["SBQQ__Product__c"]
            assert all(item[name] == line[name] for name in CPQ_LINE_FIELDS)
            assert item["SBQQ__Activated__c"] is True and item["SBQQ__Status__c"] == "Activated"
            assert item["ServiceDate"] == quote["SBQQ__StartDate__c"]
            currencies |= {item["CurrencyIsoCode"], entry["CurrencyIsoCode"]}
        assert len(currencies) == 1, order["Id"]


def test_renewable_terms_dates_and_contracts(default: OrgView) -> None:
    contracts_by_quote = {c["SBQQ__Quote__c"]: c for c in default.org["Contract"]}
    renewable = default.orders(*(NEW_RENEWABLE_CASES - {DemoCase.NEW_WITH_ONE_TIME}))
    for order in renewable:
        quote = default.by_id[order["SBQQ__Quote__c"]]
        start, term = date.fromisoformat(quote["SBQQ__StartDate__c"]), int(quote["SBQQ__SubscriptionTerm__c"])
        assert term in (12, 24, 36)
        assert date.fromisoformat(quote["SBQQ__EndDate__c"]) == add_months(start, term) - timedelta(days=1)
        for item in default.items[order["Id"]]:
            months = BILLING_FREQUENCY_MONTHS[item["SBQQ__BillingFrequency__c"]]
            assert term % months == 0 and item["SBQQ__ProrateMultiplier__c"] == term / months
        contract = contracts_by_quote[quote["Id"]]
        assert order["SBQQ__Contracted__c"] is True and contract["AccountId"] == order["AccountId"]
        assert (contract["StartDate"], contract["EndDate"], contract["ContractTerm"]) == (
            quote["SBQQ__StartDate__c"], quote["SBQQ__EndDate__c"], term)


def test_order_items_carry_whole_term_prices(default: OrgView) -> None:
    for order in default.orders(*NEW_RENEWABLE_CASES):
        discounted = default.cases[order["Id"]] == DemoCase.NEW_DISCOUNTED
        for item in default.items[order["Id"]]:
            list_price = default.by_id[item["PricebookEntryId"]]["UnitPrice"]
            if item["SBQQ__BillingType__c"] == "Advance":  # F18: per-period price x term / frequency
                list_price *= item["SBQQ__ProrateMultiplier__c"]
            if discounted:
                assert item["UnitPrice"] < list_price
            else:
                assert item["UnitPrice"] == pytest.approx(list_price), item["Id"]
            if item["SBQQ__BillingType__c"] == "Arrears":
                assert item["Quantity"] == 1


def test_activations_are_spread_over_sixty_days_with_some_today(default: OrgView) -> None:
    days = Counter(_parse_datetime(o["ActivatedDate"]).date() for o in default.org["Order"])
    assert min(days) >= AS_OF - timedelta(days=60) and max(days) == AS_OF
    assert days[AS_OF] >= 2
    assert len(days) >= 30


def test_quote_starts_are_mostly_firsts_some_backdated_today_and_future(default: OrgView) -> None:
    starts = [date.fromisoformat(default.by_id[o["SBQQ__Quote__c"]]["SBQQ__StartDate__c"])
              for o in default.orders(*NEW_RENEWABLE_CASES)]
    assert sum(start.day == 1 for start in starts) > len(starts) / 2
    assert any(start < AS_OF for start in starts) and any(start > AS_OF for start in starts)
    assert AS_OF in starts


# ---------------------------------------------------------------------------------------------- amendments


AMENDMENT_CASES = (DemoCase.AMENDMENT_QUANTITY_UP, DemoCase.AMENDMENT_QUANTITY_DOWN, DemoCase.AMENDMENT_ADD_PRODUCT,
                   DemoCase.AMENDMENT_TERMINATION)


def test_amendments_revise_original_lines_and_co_terminate(default: OrgView) -> None:
    amendments = default.orders(*AMENDMENT_CASES)
    assert len(amendments) >= 8
    for amendment in amendments:
        initial = default.initial_of(amendment)
        quote, initial_quote = (default.by_id[o["SBQQ__Quote__c"]] for o in (amendment, initial))
        assert quote["SBQQ__Type__c"] == "Amendment" and amendment["Type"] == "Amendment"
        assert amendment["ActivatedDate"] > initial["ActivatedDate"]
        assert amendment["CurrencyIsoCode"] == initial["CurrencyIsoCode"]
        start, initial_start = (date.fromisoformat(q["SBQQ__StartDate__c"]) for q in (quote, initial_quote))
        assert start > initial_start and start.day == initial_start.day
        assert quote["SBQQ__EndDate__c"] == initial_quote["SBQQ__EndDate__c"]  # co-terminates
        months = int(initial_quote["SBQQ__SubscriptionTerm__c"] - quote["SBQQ__SubscriptionTerm__c"])
        assert add_months(initial_start, months) == start
        originals = {item["Id"]: item for item in default.items[initial["Id"]]}
        for item in default.items[amendment["Id"]]:
            assert item["SBQQ__SubscriptionTerm__c"] == quote["SBQQ__SubscriptionTerm__c"]
            revised = item["SBQQ__RevisedOrderProduct__c"]
            if revised is not None:
                assert revised in originals and originals[revised]["Product2Id"] == item["Product2Id"]
                line = default.by_id[item["SBQQ__QuoteLine__c"]]
                assert line["SBQQ__Quantity__c"] == originals[revised]["Quantity"] + item["Quantity"]
        contract = default.by_id[default.by_id[amendment["OpportunityId"]]["SBQQ__AmendedContract__c"]]
        assert contract["SBQQ__Quote__c"] == initial_quote["Id"]
        assert contract["SBQQ__Order__c"] == amendment["Id"]
        assert contract["SBQQ__AmendmentStartDate__c"] == quote["SBQQ__StartDate__c"]


@pytest.mark.parametrize("case", AMENDMENT_CASES)
def test_amendment_deltas_match_their_case(default: OrgView, case: DemoCase) -> None:
    for amendment in default.orders(case):
        initial = default.initial_of(amendment)
        deltas = default.items[amendment["Id"]]
        netted = default.netted(initial)
        if case == DemoCase.AMENDMENT_QUANTITY_UP:
            assert all(d["Quantity"] > 0 and d["SBQQ__RevisedOrderProduct__c"] for d in deltas)
        elif case == DemoCase.AMENDMENT_QUANTITY_DOWN:
            assert all(d["Quantity"] < 0 for d in deltas) and all(q > 0 for q in netted.values())
        elif case == DemoCase.AMENDMENT_ADD_PRODUCT:
            initial_products = {item["Product2Id"] for item in default.items[initial["Id"]]}
            assert all(d["SBQQ__RevisedOrderProduct__c"] is None and d["Quantity"] > 0 for d in deltas)
            assert all(d["Product2Id"] not in initial_products for d in deltas)
        else:
            assert len(deltas) == len(netted) >= 2 and set(netted.values()) == {0}


def test_amendment_prices_are_whole_term_for_the_remaining_term(default: OrgView) -> None:
    for amendment in default.orders(*AMENDMENT_CASES):
        for item in default.items[amendment["Id"]]:
            per_period = default.by_id[item["PricebookEntryId"]]["UnitPrice"]
            assert item["UnitPrice"] == pytest.approx(per_period * item["SBQQ__ProrateMultiplier__c"])


# ---------------------------------------------------------------------------------------------- evergreen


def test_evergreen_orders_start_today_with_term_one(default: OrgView) -> None:
    orders = default.orders(DemoCase.EVERGREEN)
    assert len(orders) >= 3
    for order in orders:
        quote = default.by_id[order["SBQQ__Quote__c"]]
        assert quote["SBQQ__StartDate__c"] == AS_OF.isoformat() and quote["SBQQ__EndDate__c"] is None
        for item in default.items[order["Id"]]:
            assert (item["SBQQ__SubscriptionType__c"], item["SBQQ__ProductSubscriptionType__c"]) == (
                "Evergreen", "Renewable/Evergreen")
            assert (item["SBQQ__SubscriptionTerm__c"], item["SBQQ__DefaultSubscriptionTerm__c"]) == (1, 1)
            assert item["SBQQ__BillingFrequency__c"] == "Monthly" and item["EndDate"] is None


@pytest.mark.parametrize(("case", "initial_lines", "zeroed"), [
    (DemoCase.EVERGREEN_CANCELLATION, 1, 1),
    (DemoCase.INVALID_EVERGREEN_PARTIAL_CANCELLATION, 2, 1),
])
def test_evergreen_cancellations_start_in_the_future(default: OrgView, case: DemoCase, initial_lines: int,
                                                     zeroed: int) -> None:
    for amendment in default.orders(case):
        initial = default.initial_of(amendment)
        assert default.cases[initial["Id"]] == DemoCase.EVERGREEN
        assert len(default.items[initial["Id"]]) == initial_lines
        assert list(default.netted(initial).values()).count(0) == zeroed
        assert date.fromisoformat(default.by_id[amendment["SBQQ__Quote__c"]]["SBQQ__StartDate__c"]) > AS_OF


# ---------------------------------------------------------------------------------------------- invalid and one-time


def test_invalid_orders_have_exactly_their_defect(small: OrgView) -> None:
    def only(case: DemoCase) -> list[dict[str, Any]]:
        (order,) = small.orders(case)
        return small.items[order["Id"]]

    assert {(i["SBQQ__SubscriptionType__c"], i["SBQQ__SubscriptionTerm__c"])
            for i in only(DemoCase.INVALID_EVERGREEN_TERM)} == {("Evergreen", 12)}
    assert {i["SBQQ__SubscriptionType__c"] for i in only(DemoCase.INVALID_MIXED_EVERGREEN)} == {"Evergreen",
                                                                                               "Renewable"}
    assert [i["Quantity"] for i in only(DemoCase.INVALID_DECIMAL_QUANTITY)] == [2.5]
    assert all(i["SBQQ__QuoteLine__c"] is None for i in only(DemoCase.INVALID_NO_QUOTE))
    (no_quote,) = small.orders(DemoCase.INVALID_NO_QUOTE)
    assert no_quote["SBQQ__Quote__c"] is None and no_quote["SBQQ__Contracted__c"] is False


def test_one_time_orders_have_no_subscription_pricing(default: OrgView) -> None:
    for order in default.orders(DemoCase.ONE_TIME):
        assert order["SBQQ__Contracted__c"] is False
        assert all(i["SBQQ__SubscriptionPricing__c"] is None for i in default.items[order["Id"]])
    mixed = default.orders(DemoCase.NEW_WITH_ONE_TIME)
    assert all({i["SBQQ__SubscriptionPricing__c"] for i in default.items[o["Id"]]} == {"Fixed Price", None}
               for o in mixed)


def test_euro_orders_use_euro_accounts_and_entries(default: OrgView) -> None:
    euro = [o for o in default.org["Order"] if o["CurrencyIsoCode"] == "EUR"]
    assert {default.cases[o["Id"]] for o in euro} >= {DemoCase.NEW_EUR, DemoCase.AMENDMENT_QUANTITY_DOWN,
                                                      DemoCase.NEW_COUPON}
    assert all(default.by_id[o["AccountId"]]["CurrencyIsoCode"] == "EUR" for o in euro)


# ---------------------------------------------------------------------------------------------- coupons


def test_coupons_cover_kinds_durations_levels_and_reuse(small: OrgView) -> None:
    coupons = small.org["Quote_Stripe_Coupon__c"]
    assert all((c["Percent_Off__c"] is None) != (c["Amount_Off__c"] is None) for c in coupons)
    assert {c["Duration__c"] for c in coupons} == {"once", "repeating", "forever"}
    assert all(c["Duration_In_Months__c"] for c in coupons if c["Duration__c"] == "repeating")
    assert any(c["Max_Redemptions__c"] for c in coupons)
    assert {c["CurrencyIsoCode"] for c in coupons if c["Amount_Off__c"]} == {"USD", "EUR"}
    quote_level = small.org["Quote_Stripe_Coupon_Association__c"]
    line_level = small.org["Quote_Line_Stripe_Coupon_Association__c"]
    assert quote_level and line_level
    quotes_per_coupon = defaultdict(set)
    for coupon_id, quote_id in [(a["Quote_Stripe_Coupon__c"], a["Quote__c"]) for a in quote_level] + [
        (a["Quote_Stripe_Coupon__c"], small.by_id[a["Quote_Line__c"]]["SBQQ__Quote__c"]) for a in line_level
    ]:
        quotes_per_coupon[coupon_id].add(quote_id)
        if small.by_id[coupon_id]["Amount_Off__c"]:
            assert small.by_id[coupon_id]["CurrencyIsoCode"] == small.by_id[quote_id]["CurrencyIsoCode"]
    assert max(map(len, quotes_per_coupon.values())) >= 2  # one coupon reused across orders


def test_one_coupon_was_modified_after_an_older_order_snapshotted_it(small: OrgView) -> None:
    (snapshot,) = small.org["Order_Stripe_Coupon__c"]
    coupon = small.by_id[snapshot["Quote_Stripe_Coupon_Id__c"]]
    older = small.by_id[snapshot["Order__c"]]
    assert all(snapshot[name] != coupon[name] for name in ("Name__c", "Percent_Off__c", "Duration_In_Months__c"))
    assert snapshot["CreatedDate"] == older["ActivatedDate"] < coupon["LastModifiedDate"]
    using = {a["Quote__c"] for a in small.org["Quote_Stripe_Coupon_Association__c"]
             if a["Quote_Stripe_Coupon__c"] == coupon["Id"]}
    newer = [o for o in small.org["Order"] if o["SBQQ__Quote__c"] in using and o["Id"] != older["Id"]]
    assert len(newer) == 1 and newer[0]["ActivatedDate"] > coupon["LastModifiedDate"]
