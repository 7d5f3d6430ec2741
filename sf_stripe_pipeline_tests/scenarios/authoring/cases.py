"""The scenario orgs, one function per case folder; `python -m sf_stripe_pipeline_tests.scenarios.authoring`
writes them as snapshots. What each scenario expects is in its folder's expected.yaml.

Dates follow the spec's examples: "today" is 2025-03-10 unless a scenario's steps say otherwise, and the sync
start date is 2025-01-01.
"""

from __future__ import annotations

from collections.abc import Callable

from sf_stripe_pipeline_tests.scenarios.authoring.cpq import (
    EVERGREEN,
    METERED,
    ONE_TIME,
    CpqOrg,
    Line,
)

CASES: dict[str, Callable[[CpqOrg], None]] = {}
TODAY = "2025-03-10"
ACTIVATED_TODAY = "2025-03-10T09:00:00Z"


def case(function: Callable[[CpqOrg], None]) -> Callable[[CpqOrg], None]:
    CASES[function.__name__] = function
    return function


@case
def new_order_future_start(org: CpqOrg) -> None:
    """Spec F22's example: starts 2025-04-01, 12 months, 5 x a $10/month price book price."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 5)], start="2025-04-01", activated=ACTIVATED_TODAY)


# -- initial orders (F22-F28) -------------------------------------------------------------------------------------


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


# -- amendments and terminations (F5, F30-F32, F35, F37, F38) ------------------------------------------------------


@case
def amendment_insertion_docs_example(org: CpqOrg) -> None:
    """The docs' insertion example moved to 2025: A x 10 at $10/month from Jan 1 for 12 months; an amendment from
    Feb 1 (11 months) takes 4 A away and adds 5 B at $20/month. A third step re-runs the sync."""
    product_a = org.product("Product A", 10)
    product_b = org.product("Product B", 20)
    initial = org.order(org.account(), [Line(product_a, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(product_a, -4, revises=initial.items[0]), Line(product_b, 5)], start="2025-02-01",
              activated="2025-01-20T09:00:00Z")


@case
def amendment_quantity_increase(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 5, revises=initial.items[0])], start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def stacked_amendments_netted_in_one_run(org: CpqOrg) -> None:
    """Two reductions of the same line (-3 from Apr 1, -2 from Jul 1), both pointing at the original line, synced
    together with the initial order."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.amend(initial, [Line(seat, -3, revises=initial.items[0])], start="2025-04-01",
              activated="2025-03-03T09:00:00Z")
    org.amend(initial, [Line(seat, -2, revises=initial.items[0])], start="2025-07-01", activated=ACTIVATED_TODAY)


@case
def amendment_zeroed_item_dropped(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 2), Line(analytics, 3)], start="2025-01-01",
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(analytics, -3, revises=initial.items[1])], start="2025-05-01", activated=ACTIVATED_TODAY)


@case
def stacked_same_day_amendments(org: CpqOrg) -> None:
    """F37's example: two amendments both starting 2025-06-01, synced in one run."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, -2, revises=initial.items[0])], start="2025-06-01",
              activated="2025-03-10T08:00:00Z")
    org.amend(initial, [Line(analytics, 3)], start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def amendment_prorated_invoice_item(org: CpqOrg) -> None:
    """F32's example: a 2-year contract billed yearly; at month 6 an amendment adds 1 x $120/year (term 18)."""
    platform = org.product("Platform Licence", 240, frequency="Annual")
    support = org.product("Premium Support", 120, frequency="Annual")
    initial = org.order(org.account(), [Line(platform, 1)], start="2025-01-01", term=24,
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(support, 1)], start="2025-07-01", activated=ACTIVATED_TODAY)


@case
def amendment_not_coterminating(org: CpqOrg) -> None:
    """F31's example: initial Jan 1 for 12 months, amendment Mar 1 for 12 months."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 2, revises=initial.items[0])], start="2025-04-01", term=12, end="2026-04-01",
              activated=ACTIVATED_TODAY)


@case
def amendment_not_on_anniversary_day(org: CpqOrg) -> None:
    """Starts on the 15th of a contract that bills on the 1st, co-terminating, term in whole months rounded down."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 2, revises=initial.items[0])], start="2025-04-15", activated=ACTIVATED_TODAY)


@case
def termination_future_date(org: CpqOrg) -> None:
    """F35: every line zeroed from 2025-06-01: the schedule ends then, no new phase."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 5), Line(analytics, 1)], start="2025-01-01",
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [seat, analytics]), start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def termination_today_cancels_schedule(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-10", activated="2025-01-10T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [seat]), start=TODAY, activated=ACTIVATED_TODAY)


@case
def termination_quantity_exceeds_aggregate(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, -7, revises=initial.items[0])], start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def amendment_on_cancelled_schedule(org: CpqOrg) -> None:
    """The schedule was cancelled in Stripe; a later amendment cannot be applied."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 1, revises=initial.items[0])], start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def amendment_refreshes_payment_terms_only(org: CpqOrg) -> None:
    """F38's example: the amendment says Net 60; its other mapped schedule fields are not re-mapped."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 1, revises=initial.items[0])], start="2025-06-01", activated=ACTIVATED_TODAY,
              payment_terms="Net 60")


@case
def amendment_of_one_time_lines_only(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    training = org.product("Training Day", 1500, kind=ONE_TIME)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(training, 1)], start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def amendment_when_initial_skipped_by_filter(org: CpqOrg) -> None:
    """F4: the Order filter excludes the initial order (internal payment terms); its amendment passes."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z",
                        payment_terms="Internal")
    org.amend(initial, [Line(seat, 1, revises=initial.items[0])], start="2025-06-01", activated=ACTIVATED_TODAY)


@case
def draft_amendment_ignored(org: CpqOrg) -> None:
    """Only activated amendments shape the schedule: a Draft amendment (not yet activated) is left out."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.amend(initial, [Line(analytics, 2)], start="2025-06-01", activated=ACTIVATED_TODAY)
    draft = org.amend(initial, [Line(seat, -4, revises=initial.items[0])], start="2025-08-01",
                      activated=ACTIVATED_TODAY)
    org.update(draft.order, Status="Draft", StatusCode="Draft", ActivatedDate=None)
    for item in draft.items:
        org.update(item, SBQQ__Activated__c=False, SBQQ__Status__c="Draft")


@case
def termination_not_last_amendment(org: CpqOrg) -> None:
    """A termination (Jun 1) is pending while a later amendment (Jul 1) is queued after it."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [seat]), start="2025-06-01", activated="2025-03-10T08:00:00Z")
    org.amend(initial, [Line(analytics, 1)], start="2025-07-01", activated=ACTIVATED_TODAY)


@case
def amendment_initial_quote_not_found(org: CpqOrg) -> None:
    """The amended contract's SBQQ__Quote__c names a quote that no order carries (the initial order is missing)."""
    seat = org.product("Platform Seat", 10)
    initial = org.order(org.account(), [Line(seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.amend(initial, [Line(seat, 1, revises=initial.items[0])], start="2025-06-01", activated=ACTIVATED_TODAY)
    orphan_quote = org.add("SBQQ__Quote__c", Name="Q-ORPHAN", SBQQ__Type__c="Quote", SBQQ__Primary__c=True)
    org.update(initial.contract, SBQQ__Quote__c=orphan_quote["Id"])


# -- evergreen (F39, F40) ------------------------------------------------------------------------------------------


def _monitoring(org: CpqOrg):
    return org.product("Uptime Monitoring", 30, kind=EVERGREEN)


@case
def evergreen_starts_today(org: CpqOrg) -> None:
    """F39's example. The line's SBQQ__SubscriptionType__c decides, even though the product type says Renewable."""
    org.order(org.account(), [Line(_monitoring(org), 2, fields={"SBQQ__ProductSubscriptionType__c": "Renewable"})],
              start=TODAY, term=1, activated=ACTIVATED_TODAY)


@case
def evergreen_future_start(org: CpqOrg) -> None:
    org.order(org.account(), [Line(_monitoring(org), 1)], start="2025-04-01", term=1, activated=ACTIVATED_TODAY)


@case
def evergreen_backdated_rejected(org: CpqOrg) -> None:
    org.order(org.account(), [Line(_monitoring(org), 1)], start="2025-03-01", term=1, activated=ACTIVATED_TODAY)


@case
def evergreen_term_not_one(org: CpqOrg) -> None:
    twelve_months = {"SBQQ__SubscriptionTerm__c": 12.0, "SBQQ__DefaultSubscriptionTerm__c": 12.0}
    line = Line(_monitoring(org), 1, fields=twelve_months)
    org.order(org.account(), [line], start=TODAY, term=1, activated=ACTIVATED_TODAY)


@case
def evergreen_mixed_with_renewable(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(), [Line(_monitoring(org), 1), Line(seat, 1, fields={"SBQQ__SubscriptionTerm__c": 12.0})],
              start=TODAY, term=1, activated=ACTIVATED_TODAY)


@case
def evergreen_charge_automatically_rejected(org: CpqOrg) -> None:
    org.order(org.account(), [Line(_monitoring(org), 1)], start=TODAY, term=1, activated=ACTIVATED_TODAY)


@case
def evergreen_cancel_future_date(org: CpqOrg) -> None:
    """F40's example: started 2025-03-01; on 2025-03-10 an amendment zeroes it from 2025-05-01."""
    monitoring = _monitoring(org)
    initial = org.order(org.account(), [Line(monitoring, 1)], start="2025-03-01", term=1,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [monitoring]), start="2025-05-01", activated=ACTIVATED_TODAY)


@case
def evergreen_cancel_today(org: CpqOrg) -> None:
    monitoring = _monitoring(org)
    initial = org.order(org.account(), [Line(monitoring, 1)], start="2025-02-10", term=1,
                        activated="2025-02-10T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [monitoring]), start=TODAY, activated=ACTIVATED_TODAY)


@case
def evergreen_partial_cancel_rejected(org: CpqOrg) -> None:
    monitoring = _monitoring(org)
    logs = org.product("Log Retention", 40, kind=EVERGREEN)
    initial = org.order(org.account(), [Line(monitoring, 1), Line(logs, 1)], start="2025-03-01", term=1,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [monitoring], initial.items[:1]), start="2025-05-01",
              activated=ACTIVATED_TODAY)


@case
def evergreen_already_cancelled(org: CpqOrg) -> None:
    monitoring = _monitoring(org)
    logs = org.product("Log Retention", 40, kind=EVERGREEN)
    initial = org.order(org.account(), [Line(monitoring, 1)], start="2025-03-01", term=1,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(logs, 1)], start=TODAY, activated=ACTIVATED_TODAY)


@case
def evergreen_addition_today(org: CpqOrg) -> None:
    monitoring = _monitoring(org)
    logs = org.product("Log Retention", 40, kind=EVERGREEN)
    initial = org.order(org.account(), [Line(monitoring, 1)], start="2025-03-01", term=1,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(logs, 2)], start=TODAY, activated=ACTIVATED_TODAY)


@case
def evergreen_add_renewable_rejected(org: CpqOrg) -> None:
    monitoring = _monitoring(org)
    seat = org.product("Platform Seat", 50)
    initial = org.order(org.account(), [Line(monitoring, 1)], start="2025-03-01", term=1,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 1, fields={"SBQQ__SubscriptionTerm__c": 12.0})], start=TODAY,
              activated=ACTIVATED_TODAY)


# -- coupons (F43, F44) --------------------------------------------------------------------------------------------


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


# -- accounts and customers (spec §1.4, F6, F13, F46) --------------------------------------------------------------

LONG_DESCRIPTION = ("Strategic enterprise account with a multi-year platform commitment. " * 8).strip()
LONG_PHONE = "+1 (415) 555-0142 ext. 4471"


@case
def customer_fields_and_truncation(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    shipped = org.account(
        "Acme Corp", Description=LONG_DESCRIPTION, Phone=LONG_PHONE, ShippingStreet="9 Harbor Street",
        ShippingCity="Oakland", ShippingState="CA", ShippingPostalCode="94607", ShippingCountry="US",
    )
    org.order(shipped, [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.order(org.account("Globex Corp"), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def customer_updated_from_account(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    acme = org.account()
    org.order(acme, [Line(seat, 1)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.step("step2")
    org.update(acme, Name="Acme Holdings Inc.", Phone="+1 415 555 0199", BillingCity="Oakland",
               BillingPostalCode="94607")


@case
def customer_existing_id_adopted(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def customer_id_missing_in_stripe(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(Stripe_ID__c="cus_NotInThisStripeAccount1"), [Line(seat, 1)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def customer_deleted_in_stripe(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def account_deleted_in_salesforce(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    acme = org.account()
    org.order(acme, [Line(seat, 1)], start="2025-03-01", activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.update(acme, IsDeleted=True)


@case
def accounts_merged_in_salesforce(org: CpqOrg) -> None:
    """Globex is merged into Acme after both synced: Globex is deleted with MasterRecordId = Acme and its order
    reparented, as a Salesforce merge does."""
    seat = org.product("Platform Seat", 50)
    acme, globex = org.account(), org.account("Globex Corp")
    org.order(acme, [Line(seat, 1)], start="2025-03-01", activated="2025-03-01T09:00:00Z")
    merged = org.order(globex, [Line(seat, 2)], start="2025-03-01", activated="2025-03-01T09:30:00Z")
    org.step("step2")
    org.update(globex, IsDeleted=True, MasterRecordId=acme["Id"])
    org.update(merged.order, AccountId=acme["Id"])


# -- errors and their resolution (spec §1.10, F2, F7) ---------------------------------------------------------------


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


# -- MDQ (F41, F42) ------------------------------------------------------------------------------------------------


@case
def mdq_yearly_ramp(org: CpqOrg) -> None:
    """F41's example: a 3-year yearly ramp of 10/20/30 seats, plus a flat add-on and a one-time fee."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    onboarding = org.product("Onboarding Package", 2500, kind=ONE_TIME)
    ramp = org.segments(seat, [10, 20, 30], start="2025-04-01")
    org.order(org.account(), [*ramp, Line(analytics, 2), Line(onboarding, 1)], start="2025-04-01", term=36,
              activated=ACTIVATED_TODAY)


@case
def mdq_custom_segment_rejected(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 10)
    ramp = org.segments(seat, [10, 20], start="2025-04-01", months=6, dimension="Custom")
    org.order(org.account(), ramp, start="2025-04-01", term=12, activated=ACTIVATED_TODAY)


@case
def mdq_amend_future_segment(org: CpqOrg) -> None:
    """F42's example: while year 1 is current, year 2 goes from 20 to 25 seats."""
    seat = org.product("Platform Seat", 10)
    ramp = org.segments(seat, [10, 20, 30], start="2025-01-01")
    initial = org.order(org.account(), ramp, start="2025-01-01", term=36, activated="2025-01-02T09:00:00Z")
    org.step("step2")
    year_two = ramp[1]
    increase = Line(seat, 5, unit_price=year_two.unit_price, revises=initial.items[1], fields=year_two.fields,
                    quote_line_fields=year_two.quote_line_fields)
    org.amend(initial, [increase], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def mdq_termination_today_cancels(org: CpqOrg) -> None:
    """F42: every segment of a yearly ramp zeroed from today cancels the schedule."""
    seat = org.product("Platform Seat", 10)
    ramp = org.segments(seat, [10, 20], start="2025-01-10")
    initial = org.order(org.account(), ramp, start="2025-01-10", term=24, activated="2025-01-10T09:00:00Z")
    org.step("step2")
    cancellations = [
        Line(seat, -segment.quantity, unit_price=segment.unit_price, revises=item, fields=segment.fields,
             quote_line_fields=segment.quote_line_fields)
        for segment, item in zip(ramp, initial.items, strict=True)
    ]
    org.amend(initial, cancellations, start=TODAY, activated=ACTIVATED_TODAY)
