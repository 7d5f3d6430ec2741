"""Scenario orgs: one bad order never blocks another (F5, spec §1.10, §1.12), destructive changes held per
contract, deleted orders (F46)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import ACTIVATED_TODAY, TODAY, case
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import EVERGREEN, CpqOrg, Line


@case
def amendment_invalid_keeps_initial_and_holds_later(org: CpqOrg) -> None:
    """A 12-month contract from Jan 1 (10 seats), synced; then two amendments: from Apr 1 for 12 months (ends Apr 1
    2026: does not co-terminate) adding 2 seats, and from May 1 (co-terminating) adding 3 analytics."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    org.amend(initial, [Line(seat, 2, revises=initial.items[0])], start="2025-04-01", term=12, end="2026-04-01",
              activated="2025-03-10T08:00:00Z")
    org.amend(initial, [Line(analytics, 3)], start="2025-05-01", activated=ACTIVATED_TODAY)


@case
def amendment_fixed_resolves_and_releases_the_waiting_one(org: CpqOrg) -> None:
    """The first amendment adds 2.5 sandboxes (a decimal quantity); the second waits for it. The user fixes the
    quantity to 2 and the next sync applies both."""
    seat = org.product("Platform Seat", 10)
    sandbox = org.product("Sandbox Environment", 150)
    analytics = org.product("Analytics Add-on", 20)
    initial = org.order(org.account(), [Line(seat, 10)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
    org.step("step2")
    broken = org.amend(initial, [Line(sandbox, 2.5)], start="2025-04-01", activated="2025-03-03T08:00:00Z")
    org.amend(initial, [Line(analytics, 3)], start="2025-05-01", activated="2025-03-03T09:00:00Z")
    org.step("step3")
    org.update(broken.items[0], Quantity=2.0, SBQQ__OrderedQuantity__c=2.0)
    org.update(broken.quote_lines[0], SBQQ__Quantity__c=2.0)


@case
def evergreen_partial_cancel_keeps_the_subscription(org: CpqOrg) -> None:
    """A two-product evergreen order starting today and, synced in the same run, an amendment cancelling one of the
    products from May 1 (refused: cancellation is for single-product evergreen orders). The order still syncs."""
    monitoring = org.product("Uptime Monitoring", 30, kind=EVERGREEN)
    logs = org.product("Log Retention", 40, kind=EVERGREEN)
    initial = org.order(org.account(), [Line(monitoring, 1), Line(logs, 1)], start=TODAY, term=1,
                        activated="2025-03-10T08:00:00Z")
    org.amend(initial, CpqOrg.cancel(initial, [monitoring], initial.items[:1]), start="2025-05-01",
              activated=ACTIVATED_TODAY)


@case
def destructive_price_change_holds_one_contract(org: CpqOrg) -> None:
    """Two contracts synced on Mar 3 (seats, analytics). On Mar 10 the seat price book price goes from $10 to $12,
    and two new orders arrive: one for seats at the new price (it needs a new price and the old one archived) and
    one for analytics. Destructive changes are not allowed (the default)."""
    seat = org.product("Platform Seat", 10)
    analytics = org.product("Analytics Add-on", 20)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.order(org.account("Globex Corp"), [Line(analytics, 1)], start="2025-04-01", activated="2025-03-03T09:30:00Z")
    org.step("step2")
    org.update(seat.entries["USD"], UnitPrice=12)
    org.order(org.account("Initech Corp"), [Line(seat, 2)], start="2025-04-01", activated="2025-03-10T08:00:00Z")
    org.order(org.account("Umbrella Corp"), [Line(analytics, 4)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def deleted_orders_are_never_synced_or_reversed(org: CpqOrg) -> None:
    """Mar 3: one order syncs, another is already deleted (in the recycle bin). Mar 10: the synced order is deleted
    in Salesforce. A third sync changes nothing."""
    seat = org.product("Platform Seat", 10)
    synced = org.order(org.account(), [Line(seat, 3)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    deleted = org.order(org.account("Globex Corp"), [Line(seat, 5)], start="2025-04-01",
                        activated="2025-03-03T09:30:00Z")
    org.update(deleted.order, IsDeleted=True)
    org.step("step2")
    org.update(synced.order, IsDeleted=True)
