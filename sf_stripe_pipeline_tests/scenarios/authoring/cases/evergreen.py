"""Scenario orgs: evergreen (F39, F40)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY, TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, EVERGREEN, Line


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
