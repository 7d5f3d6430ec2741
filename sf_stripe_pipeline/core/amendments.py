"""Amendments: how an initial order plus its amendments become one timeline of schedule phases (F30, F31, F35, F37).

CPQ amendments carry only deltas. Like the connector, the sync never trusts Stripe's current phase: it replays
every order of the contract from Salesforce, in order, into an aggregate of item "slots":
- an initial or positive amendment line opens a new slot (a separate phase item, even when it revises a line);
- a negative line takes its units, one at a time, from the most recent non-zero slot of its revision chain
  (`SBQQ__RevisedOrderProduct__c` always names the chain's original line);
- slots at zero are left out of the phase.
Orders starting on the same day collapse into one phase (stacked and same-day amendments), and an aggregate
with nothing left is a termination. The date rules (co-termination, same day of month, whole-month terms) are
checked here too, with the connector's messages.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from sf_stripe_pipeline.core.money import add_months

NOT_SKIPPED_MESSAGE = (
    "Any order items, revising order items in a previous order, must not be skipped: the line it revises "
    "({origin}) is skipped, not activated or not part of this contract's earlier orders"
)
OVER_TERMINATION_MESSAGE = (
    "The termination quantity is greater than the aggregate quantity: it removes {removed:g} but only "
    "{available:g} remain on {origin}. Quantities must not go below 0."
)


def chain_origin(line: Mapping[str, Any]) -> str:
    """The original line of `line`'s revision chain: its SBQQ__RevisedOrderProduct__c, or itself if it revises none."""
    return line.get("SBQQ__RevisedOrderProduct__c") or line["Id"]


@dataclass
class Slot:
    """One phase item as it carries across phases: the line that opened it and what is left of it."""

    line_id: str
    origin: str
    quantity: int
    entry: dict
    """The phase item params (price ref, metadata, discounts); quantity is added when the phase is laid out."""
    metered: bool = False

    def as_item(self) -> dict:
        return dict(self.entry) if self.metered else {**self.entry, "quantity": int(self.quantity)}


@dataclass(frozen=True)
class Netting:
    """What a negative amendment line took: units per slot (newest first), what is left of its chain, or why it
    could not (an error message)."""

    taken: list[tuple[Slot, int]] = field(default_factory=list)
    chain_left: int = 0
    error: str | None = None


@dataclass
class Aggregate:
    """The contract's items after each order so far, in the order they were opened."""

    slots: list[Slot] = field(default_factory=list)

    def open(self, slot: Slot) -> None:
        self.slots.append(slot)

    def net(self, origin: str, units: int) -> Netting:
        """Take `units` from the origin's chain, newest slot first, or say why that is impossible."""
        chain = [slot for slot in self.slots if slot.origin == origin]
        if not chain:
            return Netting(error=NOT_SKIPPED_MESSAGE.format(origin=origin))
        available = sum(slot.quantity for slot in chain)
        if units > available:
            return Netting(error=OVER_TERMINATION_MESSAGE.format(removed=units, available=available, origin=origin))
        taken_from: list[tuple[Slot, int]] = []
        for slot in reversed(chain):
            taken = min(slot.quantity, units)
            if taken:
                slot.quantity -= taken
                units -= taken
                taken_from.append((slot, taken))
        return Netting(taken=taken_from, chain_left=available - sum(taken for _, taken in taken_from))

    def items(self) -> list[dict]:
        return [slot.as_item() for slot in self.slots if slot.quantity > 0]


@dataclass
class PhaseDraft:
    """One phase of the timeline: what applies from `start` until the next phase (or the contract end)."""

    start: date
    order_id: str
    """The (last) order starting that day: its metadata and discounts go on the phase."""
    items: list[dict]
    invoice_items: list[dict]
    extra: dict = field(default_factory=dict)
    """Mapped phase fields, proration_behavior and discounts."""


def merge_same_day(phases: list[PhaseDraft]) -> list[PhaseDraft]:
    """F37: orders starting the same day make one phase holding the latest aggregate and every one-time item."""
    merged: list[PhaseDraft] = []
    for phase in phases:
        if merged and merged[-1].start == phase.start:
            previous = merged.pop()
            phase = PhaseDraft(
                phase.start, phase.order_id, phase.items, previous.invoice_items + phase.invoice_items, phase.extra
            )
        merged.append(phase)
    return merged


# -- date rules (F31) ------------------------------------------------------------------------------------------


def inclusive_end(quote: Mapping[str, Any]) -> date | None:
    """CPQ's inclusive SBQQ__EndDate__c as Stripe's exclusive end (+1 day)."""
    end = quote.get("SBQQ__EndDate__c")
    return end + timedelta(days=1) if isinstance(end, date) else None


def whole_months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months if add_months(start, months) <= end else months - 1


def _is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def same_day_of_month(initial_start: date, amendment_start: date) -> bool:
    """The amendment falls on the initial order's day of month, an end-of-month start snapping (Sep 30 -> Feb 28)."""
    if amendment_start.day == initial_start.day:
        return True
    return _is_month_end(amendment_start) and initial_start.day > amendment_start.day


def amendment_date_problems(
    *,
    initial_start: date,
    initial_end: date,
    start: date,
    term: int,
    quote_end: date | None,
    non_anniversary: bool,
) -> list[tuple[str, str]]:
    """(rule, message) for every date rule an amendment breaks."""
    problems = []
    end = quote_end or add_months(start, term)
    if not initial_start <= start < initial_end:
        problems.append(
            (
                "amendment_within_contract",
                f"The amendment starts {start}, outside the initial order's term ({initial_start} to {initial_end}, "
                "exclusive): amendments must start on or after the initial start and before its end, with no gaps.",
            )
        )
    if end != initial_end:
        problems.append(
            (
                "co_termination",
                f"Order amendments must co-terminate with the initial order: the amendment ends {end} (start + "
                f"term, or the quote end date + 1 day), the initial order ends {initial_end}.",
            )
        )
    if non_anniversary:
        months = whole_months_between(start, end)
        if term != months:
            problems.append(
                (
                    "whole_month_term",
                    "The amendment order subscription term doesn't equal a number of whole months between the "
                    f"start and end date: term {term}, but {start} to {end} is {months} whole months.",
                )
            )
    elif not same_day_of_month(initial_start, start):
        problems.append(
            (
                "same_day_of_month",
                "Amendment orders must start on the same day of the month as the initial order "
                f"(day {initial_start.day}; this one starts {start}). Move the start date, or enable "
                "non_anniversary_amendments in the sync config.",
            )
        )
    return problems


def proration_months(term: int, frequency_months: int, *, partial_month: bool) -> int:
    """F32, Month precision: months an amendment's new line runs before the next billing date (0: on a cycle).
    A co-terminating amendment's term ends on a billing date, so what is left over is `term % frequency`; a
    partial month (non-anniversary start) counts as a whole one, as CPQ's Month precision does."""
    return (term + (1 if partial_month else 0)) % frequency_months


# -- proration spans (F28, F32, F36) -----------------------------------------------------------------------------

DAYS_PER_MONTH = Fraction(365, 12)
"""CPQ's Monthly + Daily precision counts a day as 12/365 of a month (spec §1.7)."""


def next_billing_date(initial_start: date, frequency_months: int, day: date) -> date:
    """The contract's first billing date on or after `day`: its start plus whole billing periods, each counted from
    the start so a month end stays a month end (Jan 31 -> Apr 30 -> Jul 31)."""
    periods = 0
    while (billing := add_months(initial_start, periods * frequency_months)) < day:
        periods += 1
    return billing


def span_months(start: date, end: date, precision: str) -> Fraction:
    """The months from `start` to `end` as CPQ prorates them: whole months, then what is left of a month counted
    as a whole one ("month" precision) or day by day at 12/365 of a month ("month_and_day")."""
    months = whole_months_between(start, end)
    days = (end - add_months(start, months)).days
    if not days:
        return Fraction(months)
    return months + (Fraction(days) / DAYS_PER_MONTH if precision == "month_and_day" else 1)
