"""Scenario orgs: initial orders (F22-F28)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY, TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line, METERED, ONE_TIME


@case
def new_order_future_start(org: CpqOrg) -> None:
    """Spec F22's example: starts 2025-04-01, 12 months, 5 x a $10/month price book price."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 5)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def new_order_starts_today(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(), [Line(seat, 3)], start=TODAY, activated=ACTIVATED_TODAY)


@case
def backdated_order_bills_elapsed_periods(org: CpqOrg) -> None:
    """F23's example: monthly $10 x 1 started two months ago, without the skip flag."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1)], start="2025-01-10", activated=ACTIVATED_TODAY)


@case
def backdated_order_skip_past_invoices(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1)], start="2025-01-10", activated=ACTIVATED_TODAY,
              Skip_Past_Initial_Invoices__c=True)


@case
def payment_terms_net_30_mapping(org: CpqOrg) -> None:
    """The docs' Net 30 example, and the other accepted spellings: "Net-45" (dash) and a bare integer."""
    seat = org.product("Platform Seat", 10)
    for name, terms in (("Acme Corp", "Net 30"), ("Globex Corp", "Net-45"), ("Initech Corp", "15")):
        org.order(org.account(name), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY,
                  payment_terms=terms)


@case
def payment_terms_unsupported(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY,
              payment_terms="Due on receipt")


@case
def skipped_and_zero_amount_lines(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    free_tier = org.product("Community Support", 0)
    org.order(
        org.account(),
        [Line(seat, 2), Line(analytics, 1, fields={"Skip_Line_Item__c": True}), Line(free_tier, 1)],
        start="2025-04-01",
        activated=ACTIVATED_TODAY,
    )


@case
def metered_line_has_no_quantity(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    api_calls = org.product("API Calls (per 1,000)", 0.5, kind=METERED)
    org.order(org.account(), [Line(seat, 4), Line(api_calls, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def metered_quantity_above_one(org: CpqOrg) -> None:
    api_calls = org.product("API Calls (per 1,000)", 0.5, kind=METERED)
    org.order(org.account(), [Line(api_calls, 5)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def decimal_quantity_rejected(org: CpqOrg) -> None:
    """F24's example: Quantity 2.5."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 2.5)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def more_than_100_recurring_lines(org: CpqOrg) -> None:
    products = [org.product(f"Module {number:03d}", 1) for number in range(1, 102)]
    org.order(org.account(), [Line(product, 1) for product in products], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def mixed_billing_intervals_rejected(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    support = org.product("Premium Support", 1200, frequency="Annual")
    org.order(org.account(), [Line(seat, 1), Line(support, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def one_time_only_order(org: CpqOrg) -> None:
    """F26's example: one one-time line of $500, plus a second one of 2 x $1,500."""
    onboarding = org.product("Onboarding Package", 500, kind=ONE_TIME)
    training = org.product("Training Day", 1500, kind=ONE_TIME)
    org.order(org.account(), [Line(onboarding, 1), Line(training, 2)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def one_time_line_on_subscription(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    onboarding = org.product("Onboarding Package", 2500, kind=ONE_TIME)
    org.order(org.account(), [Line(seat, 10), Line(onboarding, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def discounted_line_gets_order_line_price(org: CpqOrg) -> None:
    """F17's example: PBE $10/month, a quote discount makes UnitPrice 96 for 12 months -> $8/month."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1, unit_price=96)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def multi_year_annual_reuses_pbe_price(org: CpqOrg) -> None:
    """F18's example: 24 months billed yearly, UnitPrice 2400 -> $1,200 a year = the PBE price."""
    support = org.product("Premium Support", 1200, frequency="Annual")
    org.order(org.account(), [Line(support, 1)], start="2025-04-01", term=24, activated=ACTIVATED_TODAY)


@case
def quarterly_price_typing(org: CpqOrg) -> None:
    """F16's example: Fixed Price, Quarterly, Advance, PBE 300."""
    storage = org.product("Data Storage (per TB)", 300, frequency="Quarterly")
    org.order(org.account(), [Line(storage, 2)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def duplicate_price_in_phase_cloned(org: CpqOrg) -> None:
    """F21's example: two lines of the same PBE at the same amount in one phase."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 2), Line(seat, 3)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def changed_pbe_amount_gets_new_price(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.step("step2")
    org.update(seat.entries["USD"], UnitPrice=12)
    org.order(org.account("Globex Corp"), [Line(seat, 2)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def zero_decimal_currency_jpy(org: CpqOrg) -> None:
    """F20's example: PricebookEntry UnitPrice 1000 JPY."""
    seat = org.product("Platform Seat", {"JPY": 1000})
    org.order(org.account("Nakatomi KK", currency="JPY", BillingCountry="JP", BillingCity="Tokyo",
                          BillingState=None, BillingPostalCode="100-0001"),
              [Line(seat, 3)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def multi_currency_eur_no_fx(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", {"USD": 50, "EUR": 46})
    org.order(org.account("Globex GmbH", currency="EUR", BillingCountry="DE", BillingCity="Berlin",
                          BillingState=None, BillingPostalCode="10115"),
              [Line(seat, 2)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def one_currency_per_customer(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", {"USD": 50, "EUR": 46})
    acme = org.account()
    org.order(acme, [Line(seat, 2)], start="2025-03-01", activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.order(acme, [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY, CurrencyIsoCode="EUR")


@case
def renewal_order_new_schedule(org: CpqOrg) -> None:
    """F29's example: the renewal starts where the first term ends, as its own schedule."""
    seat = org.product("Platform Seat", 10)
    acme = org.account()
    initial = org.order(acme, [Line(seat, 5)], start="2025-03-01", activated="2025-03-01T09:00:00Z")
    org.order(acme, [Line(seat, 5, revises=initial.items[0])], start="2026-03-01", activated=ACTIVATED_TODAY,
              renews=initial)


@case
def term_not_multiple_backend_proration(org: CpqOrg) -> None:
    """F28's example: an 18-month contract billed yearly at $1,200."""
    support = org.product("Premium Support", 1200, frequency="Annual")
    org.order(org.account(), [Line(support, 1)], start="2025-04-01", term=18, activated=ACTIVATED_TODAY)
