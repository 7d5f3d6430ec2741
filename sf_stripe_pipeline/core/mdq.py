"""MDQ (multi-dimensional quoting) ramps: one schedule phase per segment, amended segment by segment (F41, F42).

CPQ splits a ramped product into one order line per segment (`SBQQ__SegmentIndex__c`, dates on the segment's
quote line), each priced for its own segment only. Like the connector, the sync lays the initial order out as one
phase per segment and replays amendments onto that timeline: a segment line's change applies from the later of
the amendment start and the segment start (so the current segment is split at the amendment and future segments
are replaced), and segments that ended before the amendment are left alone. This module holds that date and
quantity arithmetic; drafting.py turns its result into Stripe phases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

SEGMENT_DATES_MESSAGE = "Amendment order segment dates do not match initial order segment dates."


def is_segmented(line: Mapping[str, Any]) -> bool:
    return bool(line.get("SBQQ__SegmentKey__c"))


def is_mdq_order(lines: Iterable[Mapping[str, Any]]) -> bool:
    """The connector's test: an order is MDQ when any line has a price dimension."""
    return any(line.get("SBQQ__PriceDimension__c") for line in lines)


@dataclass(frozen=True)
class Segment:
    index: int
    label: str | None
    start: date
    end: date
    """Exclusive: the segment quote line's inclusive SBQQ__EndDate__c + 1 day (the contract end for the last)."""

    @property
    def metadata(self) -> dict[str, str]:
        found = {"salesforce_segment_index": str(self.index)}
        if self.label:
            found["salesforce_segment_label"] = self.label
        return found


def segment_start(line: Mapping[str, Any], quote_line: Mapping[str, Any] | None) -> date | None:
    quote_line = quote_line or {}
    return quote_line.get("SBQQ__EffectiveStartDate__c") or quote_line.get("SBQQ__StartDate__c") or line.get(
        "ServiceDate"
    )


def segment_end(line: Mapping[str, Any], quote_line: Mapping[str, Any] | None) -> date | None:
    """Exclusive end of a segment line (inclusive CPQ end + 1 day)."""
    inclusive = (quote_line or {}).get("SBQQ__EndDate__c") or line.get("EndDate")
    return inclusive + timedelta(days=1) if isinstance(inclusive, date) else None


@dataclass(frozen=True)
class Change:
    """What one order line does to one phase item: `quantity` units over [start, end)."""

    item_key: str
    """The item it belongs to: its revision chain's original line."""
    quantity: float
    start: date
    end: date

    def active_on(self, day: date) -> bool:
        return self.start <= day < self.end


def quantity_on(changes: Iterable[Change], item_key: str, day: date) -> float:
    return sum(change.quantity for change in changes if change.item_key == item_key and change.active_on(day))


def breakpoints(start: date, end: date, days: Iterable[date]) -> list[date]:
    """The days a phase starts: the contract start and every given day (segment starts, changes) before the end."""
    return sorted(day for day in {start, *days} if start <= day < end)


def segment_on(segments: Iterable[Segment], day: date) -> Segment | None:
    return next((segment for segment in segments if segment.start <= day < segment.end), None)
