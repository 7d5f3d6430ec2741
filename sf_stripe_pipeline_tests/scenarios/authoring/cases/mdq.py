"""Scenario orgs: MDQ (F41, F42)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY, TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line, ONE_TIME


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
