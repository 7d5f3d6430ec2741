"""Scenario orgs: exact money (issue 7 item 3; F17, F18, F20, F24, F28, F32, F44)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line


@case
def money_twenty_months_semiannual_reuses_price_book(org: CpqOrg) -> None:
    """Issue 7's example: a 20-month term billed every 6 months at 420.00 a period. UnitPrice 1,400 / (20 / 6)
    is exactly 420 (float arithmetic gave 41999.999999999997 cents and a per-line price); the 2 leftover months
    are billed once at 420 x 2 / 6 = 140 (F28 backend proration)."""
    storage = org.product("Archive Storage", 420, frequency="Semiannual")
    org.order(org.account("Initech Ltd"), [Line(storage, 3)], start="2025-05-15", term=20, activated=ACTIVATED_TODAY)


@case
def money_eleven_month_quarterly_amendment_prorates_exactly(org: CpqOrg) -> None:
    """An 11-month quarterly amendment adds 4 Analytics seats at 300 a quarter: UnitPrice 1,100 / (11 / 3) is 300
    (not 300.00000000000001, which made a per-line price instead of the price book's), and the 2 months to the
    next quarter are prorated once at 300 x 2 / 3 = 200 (F32)."""
    seat = org.product("Platform Seat", 150, frequency="Quarterly")
    analytics = org.product("Analytics Seat", 300, frequency="Quarterly")
    initial = org.order(org.account("Umbrella Health"), [Line(seat, 2)], start="2025-01-01",
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(analytics, 4)], start="2025-02-01", activated="2025-01-20T09:00:00Z")


@case
def money_zero_delta_amendment_line_makes_nothing(org: CpqOrg) -> None:
    """An amendment carrying a line at quantity 0 (CPQ: nothing changes for it) beside a real addition: no price,
    no item and no proration for the 0 line (it made an unused per-line price, and a proration at quantity 0)."""
    seat = org.product("Platform Seat", 150, frequency="Quarterly")
    analytics = org.product("Analytics Seat", 90, frequency="Quarterly")
    initial = org.order(org.account("Umbrella Health"), [Line(seat, 2)], start="2025-01-01",
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 0, discount=0.1, revises=initial.items[0]), Line(analytics, 0, discount=0.2),
                        Line(analytics, 5)], start="2025-02-01", activated="2025-01-20T09:00:00Z")  # fmt: skip


@case
def money_coupon_sub_cent_amount_rejected(org: CpqOrg) -> None:
    """A coupon of 12.345 USD: 1234.5 cents is no Stripe amount_off; it is a named error on the coupon, never
    truncated to an amount_off of 1234."""
    seat = org.product("Platform Seat", 50)
    placed = org.order(org.account("Hooli"), [Line(seat, 4)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.associate(org.coupon("Odd welcome credit", Amount_Off__c=12.345, Duration__c="once"), placed)


@case
def money_zero_quantity_new_line_rejected(org: CpqOrg) -> None:
    """A new order with a line at quantity 0 beside a real one: an error on that line (F24), nothing in Stripe."""
    seat = org.product("Platform Seat", 50)
    support = org.product("Premium Support", 200)
    org.order(org.account("Soylent Foods"), [Line(seat, 10), Line(support, 0)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def money_ugx_is_zero_decimal(org: CpqOrg) -> None:
    """Ugandan shillings have no minor unit in Stripe: 185,000 UGX a month is unit_amount_decimal 185000, not 18500000
    (UGX was missing from the zero-decimal currencies)."""
    seat = org.product("Platform Seat", {"UGX": 185000})
    account = org.account("Kampala Logistics", currency="UGX", BillingCountry="UG", BillingState=None,
                          BillingPostalCode=None)
    org.order(account, [Line(seat, 3)], start="2025-04-01", activated=ACTIVATED_TODAY)
