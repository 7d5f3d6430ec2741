"""MDQ (multi-dimensional quoting) ramps: one schedule phase per segment, amended segment by segment (F41, F42).

CPQ splits a ramped product into one order line per segment (`SBQQ__SegmentIndex__c`, dates on the segment's
quote line), each priced for its own segment only. Like the connector, the sync lays the initial order out as one
phase per segment and replays amendments onto that timeline: a segment line's change applies from the later of
the amendment start and the segment start (so the current segment is split at the amendment and future segments
are replaced), and segments that ended before the amendment are left alone. The contract's
SBQQ__AmendmentStartDate__c must name the latest amendment's start (F42). The pure segment and quantity
arithmetic comes first, then `MdqDrafter`, which turns it into Stripe phases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sf_stripe_pipeline.core.amendments import (
    NOT_SKIPPED_MESSAGE,
    OVER_TERMINATION_MESSAGE,
    PhaseDraft,
    chain_origin,
    whole_months_between,
)
from sf_stripe_pipeline.core.contracts import amended_contract_id
from sf_stripe_pipeline.core.drafting.drafter import without_quantity
from sf_stripe_pipeline.core.drafting.schedule import ScheduleDrafter
from sf_stripe_pipeline.core.money import add_months

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


@dataclass
class Ramp:
    """An MDQ contract while its orders are replayed: segments, items (by chain origin) and their changes."""

    start: date
    end: date
    segments: list[Segment]
    items: dict[str, tuple[dict, bool]] = field(default_factory=dict)
    """Origin line Id -> (phase item params without quantity, metered), in the order the lines came."""
    changes: list[Change] = field(default_factory=list)
    invoice_items: defaultdict[date, list[dict]] = field(default_factory=lambda: defaultdict(list))
    intervals: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    used: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    """Segment index -> price keys its phase items use."""
    unsegmented_prices: set[str] = field(default_factory=set)

    def segment_of(self, line: Mapping[str, Any]) -> Segment | None:
        index = line.get("SBQQ__SegmentIndex__c")
        return next((segment for segment in self.segments if segment.index == index), None)


class MdqDrafter(ScheduleDrafter):
    """An MDQ contract: one schedule whose phases follow the segments and the amendments replayed onto them."""

    def draft_orders(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        """F41/F42: one phase per segment of the initial order, with each amendment replayed onto the segments."""
        schedule_mapped, start, term = self.term_and_start(initial)
        if start is None or term is None:
            return
        end = add_months(start, int(term))
        ramp = Ramp(start, end, self.mdq_segments(initial, end))
        orders = [(start, initial)]
        self.mdq_lines(initial, ramp, start, term)
        latest_start = None
        for amendment in amendments:
            dates = self.amendment_dates(amendment, start, end)
            latest_start = dates[0] if dates else None
            if dates is not None:
                orders.append((dates[0], amendment))
                self.mdq_lines(amendment, ramp, *dates)
        if amendments:
            self.check_amendment_start(amendments[-1], latest_start)
        self.check_intervals(initial, ramp.intervals)
        days = [*(segment.start for segment in ramp.segments), *(c.start for c in ramp.changes), *ramp.invoice_items]
        drafted = [self.mdq_phase(day, ramp, orders) for day in breakpoints(start, end, days)]
        phases, terminated = self.lay_out(drafted, end)
        self.schedule(initial, schedule_mapped, amendments, start, phases, terminated)

    def mdq_segments(self, initial: Mapping[str, Any], end: date) -> list[Segment]:
        """The initial order's segments by SBQQ__SegmentIndex__c; the last one runs to the contract end."""
        by_index: defaultdict[int, list[dict]] = defaultdict(list)
        for line in filter(is_segmented, self.billable_lines(initial)):
            by_index[int(line.get("SBQQ__SegmentIndex__c") or 0)].append(line)
        segments: list[Segment] = []
        for index, lines in sorted(by_index.items()):
            quote_lines = [self.org.get("SBQQ__QuoteLine__c", line.get("SBQQ__QuoteLine__c")) for line in lines]
            starts = {segment_start(line, quote_line) for line, quote_line in zip(lines, quote_lines, strict=True)}
            ends = {segment_end(line, quote_line) for line, quote_line in zip(lines, quote_lines, strict=True)}
            if len(starts) != 1 or len(ends) != 1 or None in starts | ends:
                self.problem(
                    "mdq_segment_dates",
                    "Order",
                    initial["Id"],
                    f"the lines of segment {index} ({', '.join(line['Id'] for line in lines)}) must share one start "
                    "and one end date",
                )
                continue
            labels = [quote_line.get("SBQQ__SegmentLabel__c") for quote_line in quote_lines if quote_line]
            segments.append(Segment(index, next(filter(None, labels), None), starts.pop(), ends.pop()))
        for previous, following in zip(segments, segments[1:]):
            if previous.end != following.start:
                self.problem(
                    "mdq_segment_dates",
                    "Order",
                    initial["Id"],
                    f"segment {following.index} starts {following.start}, not when segment {previous.index} ends "
                    f"({previous.end}): ramps must be consecutive",
                )
        return [*segments[:-1], replace(segments[-1], end=end)] if segments else []

    def mdq_lines(self, order: Mapping[str, Any], ramp: Ramp, order_start: date, term: float) -> None:
        """Record what each line of an order does to the ramp: a new item with its price, or a change in the
        quantity of the item it revises, over the part of its segment from the order's start."""
        for line in self.billable_lines(order):
            segment = ramp.segment_of(line) if is_segmented(line) else None
            if is_segmented(line) and segment is None:
                self.problem(
                    "mdq_segment_dates",
                    "OrderItem",
                    line["Id"],
                    f"segment index {line.get('SBQQ__SegmentIndex__c')!r} is not a segment of the initial order",
                )
                continue
            quote_line = self.org.get("SBQQ__QuoteLine__c", line.get("SBQQ__QuoteLine__c"))
            if segment and segment_start(line, quote_line) != segment.start:
                self.problem("mdq_segment_dates", "OrderItem", line["Id"], SEGMENT_DATES_MESSAGE)
                continue
            begins = max(order_start, segment.start) if segment else order_start
            ends = segment.end if segment else ramp.end
            if begins >= ends:
                continue  # a segment that ended before this amendment stays as it was
            quantity = line.get("Quantity") or 0
            origin = chain_origin(line)
            if not float(quantity).is_integer():
                self.decimal_quantity(line, quantity)
            elif origin in ramp.items:
                ramp.changes.append(Change(origin, quantity, begins, ends))
            elif quantity < 0:
                self.problem("amendment_netting", "OrderItem", line["Id"], NOT_SKIPPED_MESSAGE.format(origin=origin))
            else:
                months = whole_months_between(segment.start, segment.end) if segment else term
                self.mdq_new_item(order, line, ramp, segment, months, order_start)
                if origin in ramp.items:
                    ramp.changes.append(Change(origin, quantity, begins, ends))

    def mdq_new_item(
        self,
        order: Mapping[str, Any],
        line: Mapping[str, Any],
        ramp: Ramp,
        segment: Segment | None,
        months: float,
        order_start: date,
    ) -> None:
        """Draft a line's price; a recurring line becomes a ramp item, a one-time line an invoice item."""
        # Stripe refuses one price twice in a phase: a segment line shares phases with unsegmented lines only.
        in_its_phases = ramp.used[segment.index] if segment else set().union(*ramp.used.values())
        taken = in_its_phases | ramp.unsegmented_prices
        before = set(taken)
        drafted = self.discounted_line(order, line, months, taken)
        (ramp.used[segment.index] if segment else ramp.unsegmented_prices).update(taken - before)
        if drafted is None:
            return
        entry, candidate = drafted
        if candidate.interval is None:
            ramp.invoice_items[order_start].append(entry)
            return
        ramp.intervals.setdefault(candidate.interval, []).append(line["Id"])
        item = without_quantity(entry)
        if segment:
            item["metadata"] = {**item.get("metadata", {}), "salesforce_segment_key": line["SBQQ__SegmentKey__c"]}
        ramp.items[line["Id"]] = (item, candidate.metered)

    def check_amendment_start(self, amendment: Mapping[str, Any], amendment_start: date | None) -> None:
        """F42: the contract's SBQQ__AmendmentStartDate__c names the latest amendment's start."""
        contract_id = amended_contract_id(self.org, amendment)
        declared = (self.org.get("Contract", contract_id) or {}).get("SBQQ__AmendmentStartDate__c")
        if declared is None:
            self.problem(
                "mdq_amendment_start",
                "Contract",
                contract_id or "",
                "Field 'SBQQ__AmendmentStartDate__c' on contract is empty: CPQ sets it when the MDQ amendment "
                "is created; regenerate the amendment",
            )
        elif amendment_start is not None and declared != amendment_start:
            self.problem(
                "mdq_amendment_start",
                "Order",
                amendment["Id"],
                f"Start date on amendment order ({amendment_start}) does not match the contract's "
                f"SBQQ__AmendmentStartDate__c ({declared})",
            )

    def mdq_phase(self, day: date, ramp: Ramp, orders: list[tuple[date, Mapping[str, Any]]]) -> PhaseDraft:
        """The phase starting `day`: every item's quantity that day, with the latest order's phase fields."""
        order = [order for start, order in orders if start <= day][-1]
        items = []
        for key, (item, metered) in ramp.items.items():
            quantity = quantity_on(ramp.changes, key, day)
            if quantity < 0:
                self.problem(
                    "amendment_netting",
                    "Order",
                    order["Id"],
                    OVER_TERMINATION_MESSAGE.format(removed=-quantity, available=0, origin=key),
                )
            elif quantity > 0:
                items.append(dict(item) if metered else {**item, "quantity": int(quantity)})
        extra = self.phase_fields(order, day, first=day == ramp.start)
        if segment := segment_on(ramp.segments, day):
            extra["metadata"] = {**extra.get("metadata", {}), **segment.metadata}
        return PhaseDraft(day, order["Id"], items, ramp.invoice_items.get(day, []), extra)
