"""Scenario orgs: which contracts a sync selects, by activation or last change (F1, F2)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import ACTIVATED_TODAY, case
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line

BEFORE_THE_START = "2024-12-15T10:00:00Z"


@case
def pre_integration_order_modified_after_start(org: CpqOrg) -> None:
    """Two orders activated on 2024-12-15, before the sync start date 2025-01-01: one was edited on 2025-03-10 (so
    a regular sync sees it and must say why it is not synced), the other has not changed since (out of every
    partition: left alone, as the connector's poller never sees it). A new order beside them syncs."""
    seat = org.product("Platform Seat", 10)
    org.order(org.account(), [Line(seat, 2)], start="2025-01-01", activated=BEFORE_THE_START)
    untouched = org.order(org.account("Globex Corp"), [Line(seat, 4)], start="2025-01-01", activated=BEFORE_THE_START)
    for record in (untouched.order, untouched.quote, *untouched.items):
        org.update(record, LastModifiedDate=BEFORE_THE_START, SystemModstamp=BEFORE_THE_START)
    org.order(org.account("Initech Corp"), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)
