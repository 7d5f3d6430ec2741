"""Scenario orgs: the connector's remaining features (issue 7 item 7): tiered prices from consumption schedules
(F19), Month+Day proration and frontend proration (F32, F28), amendments of a released evergreen schedule (F40),
credits, termination mappings, old-order migration and account polling (F36, F12, F33, F14), and proration
invoices billed at once (F34)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import ACTIVATED_TODAY, case
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import EVERGREEN, METERED, CpqOrg, Line

# -- F19: tiered prices --------------------------------------------------------------------------------------------

API_CALL_TIERS = [(None, "FlatFee", 250), (1000, "PerUnit", 0.05), (10000, "PerUnit", 0.035)]
"""Graduated API usage, listed out of order: 5 cents a call up to 1,000, 3.5 cents up to 10,000, then 250 flat."""


@case
def tiered_usage_from_the_price_book(org: CpqOrg) -> None:
    """A metered API product priced by a Slab consumption schedule, beside a licensed seat; CPQ copied the
    schedule onto the line unchanged, so the price book entry's tiered price is used."""
    calls = org.product("API Calls", 0, kind=METERED)
    org.consumption_schedule(calls, "Slab", API_CALL_TIERS)
    seat = org.product("Platform Seat", 50)
    org.order(org.account("Vandelay Industries"), [Line(seat, 5), Line(calls, 1)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


STORAGE_TIERS = [(50, "PerUnit", 20), (None, "PerUnit", 15)]


@case
def tiered_volume_negotiated_on_the_line(org: CpqOrg) -> None:
    """Volume-priced storage (Range): one customer takes the price book's tiers, another negotiated lower ones on
    its order line, which win and get a price of their own."""
    storage = org.product("Storage TB", 0)
    org.consumption_schedule(storage, "Range", STORAGE_TIERS)
    org.order(org.account("Globex"), [Line(storage, 30, unit_price=0)], start="2025-04-01", activated=ACTIVATED_TODAY)
    negotiated = ("Range", [(50, "PerUnit", 18), (None, "PerUnit", 12.5)])
    org.order(org.account("Initrode"), [Line(storage, 80, unit_price=0, consumption=negotiated)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def tiered_schedule_errors_are_named(org: CpqOrg) -> None:
    """One order per defect the spec names (decimal bound, two unbounded tiers, two schedules on a product, an
    unsupported pricing method and schedule type), each an error on the record to fix; a valid neighbour syncs."""
    calls = org.product("API Calls", 0, kind=METERED)
    org.consumption_schedule(calls, "Slab", API_CALL_TIERS)
    defects = {
        "Decimal Bound Co": ("Slab", [(999.5, "PerUnit", 0.05), (None, "FlatFee", 250)]),
        "Two Infinities Co": ("Slab", [(None, "PerUnit", 0.05), (None, "FlatFee", 250)]),
        "Percent Pricing Co": ("Slab", [(1000, "Percent", 5), (None, "FlatFee", 250)]),
        "Block Type Co": ("Block", [(None, "PerUnit", 0.05)]),
    }
    for name, schedule in defects.items():
        org.order(org.account(name), [Line(calls, 1, consumption=schedule)], start="2025-04-01",
                  activated=ACTIVATED_TODAY)
    twice = org.product("Events", 0, kind=METERED)
    org.consumption_schedule(twice, "Slab", API_CALL_TIERS)
    org.consumption_schedule(twice, "Range", API_CALL_TIERS)
    org.order(org.account("Two Schedules Co"), [Line(twice, 1, copy_consumption=False)], start="2025-04-01",
              activated=ACTIVATED_TODAY)
    org.order(org.account("Valid Neighbour Co"), [Line(calls, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


# -- F32 Month+Day precision, F28 frontend proration ---------------------------------------------------------------


@case
def month_and_day_mid_month_amendment(org: CpqOrg) -> None:
    """A quarterly contract from Jan 1; on Feb 15 (not its day of month) an amendment adds 4 analytics seats to the
    end. With Monthly + Daily precision CPQ prices Feb 15 to Jan 1 as 10 months and 17 days (3854/365 months):
    300 x 3854/1095 = 1,055.89 for the line, multiplier 3854/1095."""
    seat = org.product("Platform Seat", 150, frequency="Quarterly")
    analytics = org.product("Analytics Seat", 300, frequency="Quarterly")
    initial = org.order(org.account("Dunder Mifflin"), [Line(seat, 2)], start="2025-01-01",
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    mid_month = {"SBQQ__ProrateMultiplier__c": 3854 / 1095}
    org.amend(initial, [Line(analytics, 4, unit_price=1055.89, fields=mid_month)], start="2025-02-15",
              end="2026-01-01", activated="2025-02-10T09:00:00Z")


@case
def frontend_proration_short_first_term(org: CpqOrg) -> None:
    """A 9-month first term of a yearly-billed support plan (1,200 a year, so CPQ's UnitPrice is 900) beside a
    monthly seat: with frontend_prorations on, the support line is billed 9/12 of a year once."""
    support = org.product("Premium Support", 1200, frequency="Annual")
    org.order(org.account("Sabre Corp"), [Line(support, 2)], start="2025-04-01", term=9, activated=ACTIVATED_TODAY)


# -- F40: amending an evergreen order whose schedule has released --------------------------------------------------


@case
def evergreen_released_schedule_amended(org: CpqOrg) -> None:
    """An evergreen order synced on Mar 10 to start Mar 15 (a schedule released into a subscription at its start);
    on Mar 20 an amendment adds 2 units of a second evergreen product from that day."""
    monitoring = org.product("Uptime Monitoring", 30, kind=EVERGREEN)
    logs = org.product("Log Retention", 40, kind=EVERGREEN)
    initial = org.order(org.account("Wernham Hogg"), [Line(monitoring, 1)], start="2025-03-15", term=1,
                        activated=ACTIVATED_TODAY)
    org.step("step2")
    org.amend(initial, [Line(logs, 2)], start="2025-03-20", activated="2025-03-20T09:00:00Z")


# -- F36 credits, F12 termination mappings -------------------------------------------------------------------------


@case
def credits_for_removed_and_reduced_lines(org: CpqOrg) -> None:
    """Two years billed yearly from Jan 1 (3 seats at 1,200, 2 add-ons at 600); from Jul 1, half-way to the next
    yearly bill, an amendment removes every seat and one add-on."""
    seat = org.product("Platform Seat", 1200, frequency="Annual")
    addon = org.product("Audit Add-on", 600, frequency="Annual")
    initial = org.order(org.account("Prestige Worldwide"), [Line(seat, 3), Line(addon, 2)], start="2025-01-01",
                        term=24, activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, -3, revises=initial.items[0]), Line(addon, -1, revises=initial.items[1])],
              start="2025-07-01", activated="2025-06-20T09:00:00Z")


@case
def termination_mappings_on_terminated_items(org: CpqOrg) -> None:
    """A monthly contract (5 seats, 1 support plan): an amendment from May 1 removes the support plan, then a
    termination from Jun 1 removes the seats; both carry the termination-only mappings."""
    seat = org.product("Platform Seat", 50)
    support = org.product("Premium Support", 200)
    initial = org.order(org.account("Cogswell Cogs"), [Line(seat, 5), Line(support, 1)], start="2025-01-01",
                        activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(support, -1, revises=initial.items[1])], start="2025-05-01", activated=ACTIVATED_TODAY)
    org.step("step3")
    org.amend(initial, [Line(seat, -5, revises=initial.items[0])], start="2025-06-01",
              activated="2025-03-20T09:00:00Z")


# -- F33 old-order migration ---------------------------------------------------------------------------------------


@case
def old_order_migrated_without_back_billing(org: CpqOrg) -> None:
    """A monthly contract started 2024-11-15 and activated before the sync's start date (2025-01-01), billed by
    another system until now."""
    seat = org.product("Platform Seat", 50)
    org.order(org.account("Bluth Company"), [Line(seat, 4)], start="2024-11-15", activated="2024-11-10T09:00:00Z")


# -- F14 account polling ---------------------------------------------------------------------------------------------


@case
def account_polling_updates_linked_customers(org: CpqOrg) -> None:
    """Two customers synced in January; in March one account gets a new phone and billing city in Salesforce while
    none of its orders changes."""
    seat = org.product("Platform Seat", 50)
    changed = org.account("Pied Piper")
    org.order(changed, [Line(seat, 6)], start="2025-02-01", activated="2025-01-02T09:00:00Z")
    org.order(org.account("Raviga Capital"), [Line(seat, 2)], start="2025-02-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.update(changed, Phone="+1 650 555 0142", BillingCity="Palo Alto")


# -- F34 proration invoices ----------------------------------------------------------------------------------------


@case
def proration_invoice_billed_at_once(org: CpqOrg) -> None:
    """A quarterly contract from Jan 1; on Feb 1 an amendment effective that day adds 4 analytics seats (300 a
    quarter), 2 months before the next quarter."""
    seat = org.product("Platform Seat", 150, frequency="Quarterly")
    analytics = org.product("Analytics Seat", 300, frequency="Quarterly")
    initial = org.order(org.account("Initech"), [Line(seat, 2)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(analytics, 4)], start="2025-02-01", activated="2025-02-01T09:00:00Z")
