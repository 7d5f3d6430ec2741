"""Scenario orgs: coupons (F43, F44)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line


@case
def coupon_ten_percent_once(org: CpqOrg) -> None:
    """The docs' example: 10 % off once, on the quote."""
    seat = org.product("Platform Seat", 50)
    placed = org.order(org.account(), [Line(seat, 4)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.associate(org.coupon("10% off once", Percent_Off__c=10, Duration__c="once"), placed)


@case
def coupon_fifty_usd_three_months_on_line(org: CpqOrg) -> None:
    """The docs' example: $50 off for 3 months, on one quote line, stacked with a 5 % forever quote coupon."""
    seat = org.product("Platform Seat", 50)
    analytics = org.product("Analytics Add-on", 20)
    placed = org.order(org.account(), [Line(seat, 4), Line(analytics, 2)], start="2025-04-01",
                       activated=ACTIVATED_TODAY)
    org.associate(org.coupon("$50 off for 3 months", Amount_Off__c=50, Duration__c="repeating",
                             Duration_In_Months__c=3), placed, placed.quote_lines[0])
    org.associate(org.coupon("Loyalty 5% forever", Percent_Off__c=5, Duration__c="forever"), placed)


@case
def coupon_amount_in_eur(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", {"EUR": 46})
    placed = org.order(org.account("Globex GmbH", currency="EUR", BillingCountry="DE"), [Line(seat, 2)],
                       start="2025-04-01", activated=ACTIVATED_TODAY)
    org.associate(org.coupon("EUR 100 welcome credit", currency="EUR", Amount_Off__c=100, Duration__c="once"), placed)


@case
def coupon_reused_across_orders(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    loyalty = org.coupon("Loyalty 5% forever", Percent_Off__c=5, Duration__c="forever", Max_Redemptions__c=50)
    first = org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.associate(loyalty, first)
    org.step("step2")
    second = org.order(org.account("Globex Corp"), [Line(seat, 2)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.associate(loyalty, second)


@case
def coupon_modified_gets_new_coupon(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    launch = org.coupon("Launch week", Percent_Off__c=30, Duration__c="once", Max_Redemptions__c=50)
    first = org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.associate(launch, first)
    org.step("step2")
    org.update(launch, Name__c="Launch fortnight", Max_Redemptions__c=100)
    second = org.order(org.account("Globex Corp"), [Line(seat, 2)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.associate(launch, second)


@case
def coupon_snapshot_already_taken(org: CpqOrg) -> None:
    """The activation trigger already copied the coupons (F43); the sync adds none, and a re-run writes nothing."""
    seat = org.product("Platform Seat", 50)
    placed = org.order(org.account(), [Line(seat, 4)], start="2025-04-01", activated=ACTIVATED_TODAY)
    quote_coupon = org.coupon("10% off once", Percent_Off__c=10, Duration__c="once")
    line_coupon = org.coupon("$50 off for 3 months", Amount_Off__c=50, Duration__c="repeating",
                             Duration_In_Months__c=3)
    org.associate(quote_coupon, placed)
    org.associate(line_coupon, placed, placed.quote_lines[0])
    org.order_coupon(quote_coupon, order=placed.order)
    org.order_coupon(line_coupon, item=placed.items[0])


@case
def coupon_association_count_mismatch(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    placed = org.order(org.account(), [Line(seat, 4)], start="2025-04-01", activated=ACTIVATED_TODAY)
    coupon = org.coupon("10% off once", Percent_Off__c=10, Duration__c="once")
    org.associate(coupon, placed)
    org.order_coupon(coupon, order=placed.order)
    org.order_coupon(coupon, order=placed.order)


@case
def coupon_custom_mapping(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    placed = org.order(org.account(), [Line(seat, 4)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.associate(org.coupon("Partner 20% for 6 months", Percent_Off__c=20, Duration__c="repeating",
                             Duration_In_Months__c=6), placed)


@case
def amendment_coupon_on_new_phase(org: CpqOrg) -> None:
    """F30: the new phase's discounts are the amendment's order coupons; the initial phase keeps its own."""
    seat = org.product("Platform Seat", 50)
    initial = org.order(org.account(), [Line(seat, 4)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.associate(org.coupon("Welcome 10% once", Percent_Off__c=10, Duration__c="once"), initial)
    org.step("step2")
    amendment = org.amend(initial, [Line(seat, 2, revises=initial.items[0])], start="2025-06-01",
                          activated=ACTIVATED_TODAY)
    org.associate(org.coupon("Expansion 15% for 3 months", Percent_Off__c=15, Duration__c="repeating",
                             Duration_In_Months__c=3), amendment)
