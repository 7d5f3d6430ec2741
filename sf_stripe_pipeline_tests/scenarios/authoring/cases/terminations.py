"""Scenario orgs: terminations and cancellations that start today, and ramps that pause (issue 7 item 2; F35,
F37, F41, F42)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY, TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line


@case
def termination_on_start_day_in_a_later_run(org: CpqOrg) -> None:
    """A contract synced before it starts, then terminated from its first day, which is today when the termination
    syncs. It was sent as a schedule update whose only phase had no items (Stripe: "Missing required param:
    phases[0][items]"), so the schedule stayed on and the termination got no Stripe_ID__c; it must cancel."""
    seat = org.product("Platform Seat", 40)
    initial = org.order(org.account("Vandelay Industries"), [Line(seat, 12)], start=TODAY,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.amend(initial, CpqOrg.cancel(initial, [seat]), start=TODAY, activated=ACTIVATED_TODAY)


@case
def stacked_amendments_ending_in_termination_today(org: CpqOrg) -> None:
    """A contract amended once already (Analytics from 2025-02-10: a phase boundary), then, synced together today,
    an addition (Premium Support) and a termination both starting today: the termination nets every item, the
    addition's included, and the schedule is cancelled; both amendments point at it."""
    seat = org.product("Platform Seat", 40)
    analytics = org.product("Analytics Add-on", 25)
    support = org.product("Premium Support", 60)
    initial = org.order(org.account("Vandelay Industries"), [Line(seat, 12)], start="2025-01-10",
                        activated="2025-01-10T09:00:00Z")
    added = org.amend(initial, [Line(analytics, 3)], start="2025-02-10", activated="2025-01-20T09:00:00Z")
    org.step("step2")
    addition = org.amend(initial, [Line(support, 2)], start=TODAY, activated="2025-03-10T08:00:00Z")
    items = [*initial.items, *added.items, *addition.items]
    org.amend(initial, CpqOrg.cancel(initial, [seat, analytics, support], items), start=TODAY,
              activated=ACTIVATED_TODAY)


@case
def mdq_termination_on_start_day_in_a_later_run(org: CpqOrg) -> None:
    """The MDQ form of termination_on_start_day_in_a_later_run: a 2-year ramp synced before it starts, every
    segment zeroed from its first day, today."""
    seat = org.product("Platform Seat", 10)
    ramp = org.segments(seat, [10, 20], start=TODAY)
    initial = org.order(org.account("Vandelay Industries"), ramp, start=TODAY, term=24,
                        activated="2025-03-01T09:00:00Z")
    org.step("step2")
    cancellations = [
        Line(seat, -segment.quantity, unit_price=segment.unit_price, revises=item, fields=segment.fields,
             quote_line_fields=segment.quote_line_fields)
        for segment, item in zip(ramp, initial.items, strict=True)
    ]  # fmt: skip
    org.amend(initial, cancellations, start=TODAY, activated=ACTIVATED_TODAY)


@case
def mdq_ramp_with_a_zero_segment(org: CpqOrg) -> None:
    """A 3-year ramp of 10 / 0 / 30 seats: year 2 pauses the product, it does not end the contract. The sync keeps
    three phases (year 2's item at quantity 0, as nothing else bills then); a later run inside year 2 changes
    nothing. The zero segment was read as a termination: the schedule stopped after year 1 and was cancelled once
    year 2 began."""
    seat = org.product("Platform Seat", 120, frequency="Annual")  # yearly invoices keep the clock's advance cheap
    ramp = org.segments(seat, [10, 0, 30], start="2025-04-01")
    org.order(org.account("Vandelay Industries"), ramp, start="2025-04-01", term=36, activated=ACTIVATED_TODAY)
