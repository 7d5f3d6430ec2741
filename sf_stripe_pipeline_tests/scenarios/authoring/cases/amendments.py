"""Scenario orgs: amendments and terminations (F5, F30-F32, F35, F37, F38)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY, TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line, ONE_TIME


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
