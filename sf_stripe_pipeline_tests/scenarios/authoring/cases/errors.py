"""Scenario orgs: errors and their resolution (spec §1.10, F2, F7)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line


@case
def order_without_quote(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY, with_quote=False)


@case
def pre_integration_order(org: CpqOrg) -> None:
    """F2's example: activated 2024-12-15, before the sync start date 2025-01-01."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1)], start="2025-01-01", activated="2024-12-15T10:00:00Z")


@case
def line_not_activated(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    org.order(org.account(), [Line(seat, 1), Line(analytics, 1, fields={"SBQQ__Activated__c": False})],
              start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def decimal_subscription_term(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    placed = org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.update(placed.quote, SBQQ__SubscriptionTerm__c=12.5)


@case
def unsupported_billing_frequency(org: CpqOrg) -> None:
    plan = org.product("Implementation Plan", 1000, frequency="Invoice Plan")
    org.order(org.account(), [Line(plan, 1, unit_price=12000)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def required_start_date_missing(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    placed = org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.update(placed.quote, SBQQ__StartDate__c=None)


@case
def prorate_multiplier_mismatch(org: CpqOrg) -> None:
    """CPQ's SBQQ__ProrateMultiplier__c (11) disagrees with term / billing months (12 / 1)."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1, fields={"SBQQ__ProrateMultiplier__c": 11.0})], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def error_resolved_after_fix(org: CpqOrg) -> None:
    """F7's flow: the first sync fails on a decimal quantity; the user fixes the line and the resync succeeds."""
    seat = org.product("Platform Seat", 10)
    placed = org.order(org.account(), [Line(seat, 2.5)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.step("step2")
    org.update(placed.items[0], Quantity=2.0, SBQQ__OrderedQuantity__c=2.0)
    org.update(placed.quote_lines[0], SBQQ__Quantity__c=2.0)
