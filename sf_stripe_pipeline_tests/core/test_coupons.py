"""Coupons (F43, F44): snapshots, one Stripe coupon per Salesforce coupon version, phase and item discounts."""

from __future__ import annotations

from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.coupons import coupon_write_backs, snapshots_to_create
from sf_stripe_pipeline.core.rules import assess_contracts
from sf_stripe_pipeline.core.translate import desired_state

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


class _Org:
    def __init__(self) -> None:
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.entry = self.builder.entry(self.builder.product(), 10)

    def coupon(self, **fields: Any) -> dict:
        return self.builder._add("Quote_Stripe_Coupon__c", "a1c", {"Name__c": "Promo", "Duration__c": "once", **fields})

    def order(self, *order_coupons: dict, line_coupons: tuple[dict, ...] = ()) -> tuple[dict, dict]:
        order = self.builder.order(self.account)
        quote_line = self.builder._add("SBQQ__QuoteLine__c", "a0r", {"SBQQ__Quote__c": order["SBQQ__Quote__c"]})
        line = self.builder.line(order, self.entry, SBQQ__QuoteLine__c=quote_line["Id"])
        for coupon in order_coupons:
            self.builder._add(
                "Quote_Stripe_Coupon_Association__c",
                "a1a",
                {"Quote__c": order["SBQQ__Quote__c"], "Quote_Stripe_Coupon__c": coupon["Id"]},
            )
        for coupon in line_coupons:
            self.builder._add(
                "Quote_Line_Stripe_Coupon_Association__c",
                "a1l",
                {"Quote_Line__c": quote_line["Id"], "Quote_Stripe_Coupon__c": coupon["Id"]},
            )
        return order, line

    def assessments(self):
        org = self.builder.snapshot()
        return assess_contracts(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)

    def desired(self):
        org = self.builder.snapshot()
        return desired_state(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)


def test_f44_docs_examples_10_percent_once_and_50_usd_for_3_months() -> None:
    org = _Org()
    ten = org.coupon(Name__c="10% off once", Percent_Off__c=10)
    fifty = org.coupon(Name__c="$50 off 3 months", Amount_Off__c=50, Duration__c="repeating", Duration_In_Months__c=3)
    org.order(ten, line_coupons=(fifty,))
    desired = org.desired()
    coupons = {o.sf_id: o.params for o in desired if o.stripe_object == "coupon"}
    assert {k: v for k, v in coupons[ten["Id"]].items() if k != "metadata"} == {
        "name": "10% off once",
        "percent_off": 10,
        "duration": "once",
    }
    assert coupons[fifty["Id"]]["amount_off"] == 5000 and coupons[fifty["Id"]]["currency"] == "usd"
    assert coupons[fifty["Id"]]["duration_in_months"] == 3
    (phase,) = next(o for o in desired if o.stripe_object == "subscription_schedule").params["phases"]
    coupon_keys = {o.sf_id: o.key for o in desired if o.stripe_object == "coupon"}
    assert phase["discounts"] == [{"coupon": {"$ref": f"coupon:{coupon_keys[ten['Id']]}"}}]
    assert phase["items"][0]["discounts"] == [{"coupon": {"$ref": f"coupon:{coupon_keys[fifty['Id']]}"}}]


def test_f44_one_coupon_reused_on_two_orders_is_one_stripe_coupon_and_a_modified_one_is_new() -> None:
    org = _Org()
    loyalty = org.coupon(Percent_Off__c=5, Duration__c="forever")
    older, _ = org.order(loyalty)
    org.order(loyalty)
    assert len([o for o in org.desired() if o.stripe_object == "coupon"]) == 1
    org.builder._add(  # the older order's snapshot, taken before the coupon changed
        "Order_Stripe_Coupon__c",
        "a1o",
        {"Order__c": older["Id"], "Quote_Stripe_Coupon_Id__c": loyalty["Id"], "Name__c": "Promo",
         "Percent_Off__c": 3, "Duration__c": "forever"},
    )
    coupons = [o for o in org.desired() if o.stripe_object == "coupon"]
    assert sorted(o.params["percent_off"] for o in coupons) == [3, 5]


def test_f43_snapshots_are_created_once_and_ids_written_back_to_both_records() -> None:
    org = _Org()
    coupon = org.coupon(Percent_Off__c=10)
    order, line = org.order(coupon, line_coupons=(coupon,))
    (assessment,) = org.assessments().values()
    creates = snapshots_to_create(assessment.coupon_links)
    assert {(c.get("Order__c"), c.get("Order_Item__c")) for c in creates.values()} == {
        (order["Id"], None),
        (None, line["Id"]),
    }
    assert all(c["Quote_Stripe_Coupon_Id__c"] == coupon["Id"] for c in creates.values())
    (address,) = {link.address for link in assessment.coupon_links}
    created = {key: f"a1o00000000000{n}" for n, key in enumerate(creates)}
    updates = coupon_write_backs(assessment.coupon_links, {address: "co_1"}, created)
    assert sorted(updates) == sorted(
        [("Order_Stripe_Coupon__c", record_id, "co_1") for record_id in created.values()]
        + [("Quote_Stripe_Coupon__c", coupon["Id"], "co_1")]
    )
    coupon_object = next(o for o in org.desired() if o.stripe_object == "coupon")
    snapshot_ref = coupon_object.params["metadata"]["salesforce_order_stripe_coupon_id"]["$ref"]
    assert snapshot_ref in {f"order_stripe_coupon:{parent['Id']}-{coupon['Id']}" for parent in (order, line)}

    for key, created_fields in creates.items():  # as Salesforce now holds them
        org.builder._add("Order_Stripe_Coupon__c", "a1o", {**created_fields, "Stripe_ID__c": "co_1"})
    coupon["Stripe_ID__c"] = "co_1"
    (assessment,) = org.assessments().values()
    assert snapshots_to_create(assessment.coupon_links) == {}
    assert coupon_write_backs(assessment.coupon_links, {address: "co_1"}, {}) == []


def test_f44_association_count_mismatch_is_an_error() -> None:
    org = _Org()
    first, second = org.coupon(Percent_Off__c=10), org.coupon(Percent_Off__c=20)
    order, _ = org.order(first, second)
    org.builder._add(
        "Order_Stripe_Coupon__c",
        "a1o",
        {"Order__c": order["Id"], "Quote_Stripe_Coupon_Id__c": first["Id"], "Percent_Off__c": 10},
    )
    (assessment,) = org.assessments().values()
    (violation,) = assessment.violations
    assert violation.rule == "coupon_associations" and "different number of Quote or Quote Line" in violation.message


def test_f44_invalid_terms_are_rejected_before_stripe() -> None:
    org = _Org()
    org.order(org.coupon(Percent_Off__c=10, Amount_Off__c=5), org.coupon(Duration__c="repeating", Percent_Off__c=5))
    (assessment,) = org.assessments().values()
    messages = [v.message for v in assessment.violations if v.rule == "coupon_terms"]
    assert any("exactly one of Amount_Off__c and Percent_Off__c" in m for m in messages)
    assert any("needs Duration_In_Months__c" in m for m in messages)
