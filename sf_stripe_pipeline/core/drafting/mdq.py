"""MDQ (multi-dimensional quoting) ramps: one schedule phase per segment, amended segment by segment (F41, F42).

CPQ splits a ramped product into one order line per segment (`SBQQ__SegmentIndex__c`, dates on the segment's
quote line), each priced for its own segment only. Like the connector, the sync lays the initial order out as one
phase per segment and replays amendments onto that timeline: a segment line's change applies from the later of
the amendment start and the segment start (so the current segment is split at the amendment and future segments
are replaced), and segments that ended before the amendment are left alone. The contract's
SBQQ__AmendmentStartDate__c must name the latest amendment's start (F42).

A segment at quantity 0 is a phase without that item, not a termination: a ramp of 10/0/30 seats bills 10, then
nothing of that product, then 30. When no other item bills during the pause, the phase keeps the paused items at
quantity 0 (Stripe accepts a quantity of 0 on a phase item and bills it as zero; a phase without items it refuses).
Only items that bill nothing from some day to the contract end are a termination (F35, F42: the schedule stops
there, and is cancelled once that day has come), and such an amendment must be the last (F35).

What the connector does not bill for MDQ is reported, not billed wrongly (spec §4 Q16): a term or segment that is
not a whole number of billing periods (F28) and an amendment adding units off a billing date (F32).

The pure segment and quantity arithmetic comes first, then `MdqDrafter`, which turns it into Stripe phases.
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
    proration_months,
    same_day_of_month,
    whole_months_between,
)
from sf_stripe_pipeline.core.contracts import amended_contract_id
from sf_stripe_pipeline.core.drafting.drafter import without_quantity
from sf_stripe_pipeline.core.drafting.schedule import Intervals, ScheduleDrafter
from sf_stripe_pipeline.core.money import add_months, whole_number

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
    quantity: int
    start: date
    end: date
    order_id: str = ""
    """The order whose line made the change."""

    def active_on(self, day: date) -> bool:
        return self.start <= day < self.end


def quantity_on(changes: Iterable[Change], item_key: str, day: date) -> int:
    return sum(change.quantity for change in changes if change.item_key == item_key and change.active_on(day))


def present_on(changes: Iterable[Change], item_key: str, day: date) -> bool:
    """Whether any line places the item in the phase of `day` (at quantity 0 too: a paused segment)."""
    return any(change.item_key == item_key and change.active_on(day) for change in changes)


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
    intervals: Intervals = field(default_factory=Intervals)
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
        end = add_months(start, term)
        ramp = Ramp(start, end, self.mdq_segments(initial, end))
        orders = [(start, initial)]
        self.mdq_lines(initial, ramp, start, term, is_initial=True)
        latest_start = None
        for amendment in amendments:
            dates = self.amendment_dates(amendment, start, end)
            latest_start = dates[0] if dates else None
            if dates is not None:
                orders.append((dates[0], amendment))
                self.mdq_lines(amendment, ramp, *dates, is_initial=False)
        if amendments:
            self.check_amendment_start(amendments[-1], latest_start)
        self.check_intervals(ramp.intervals)
        self.check_whole_periods(initial, ramp, term)
        days = breakpoints(start, end, self.ramp_days(ramp))
        self.check_termination_is_last(ramp, days, orders[1:])
        drafted = self.with_pauses([self.mdq_phase(day, ramp, orders) for day in days], ramp, initial)
        layout = self.lay_out(drafted, end)
        self.drop_unused_line_prices(ramp, layout.phases, days)
        self.schedule(initial, schedule_mapped, amendments, start, layout)

    def drop_unused_line_prices(self, ramp: Ramp, phases: list[dict], days: list[date]) -> None:
        """A segment at quantity 0 needs its own price only where its item stays in a phase at 0 (a pause nothing
        else bills); elsewhere its line price would be created only to be archived."""
        used = {
            entry["price"]["$ref"]
            for phase in phases
            for entry in (*phase["items"], *phase.get("add_invoice_items", []))
        }
        never_billed = {
            f"price:{key}" for key in ramp.items if all(quantity_on(ramp.changes, key, day) <= 0 for day in days)
        }
        self.draft.objects = [o for o in self.draft.objects if o.address not in never_billed - used]

    @staticmethod
    def ramp_days(ramp: Ramp) -> list[date]:
        return [*(segment.start for segment in ramp.segments), *(c.start for c in ramp.changes), *ramp.invoice_items]

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

    def mdq_lines(
        self, order: Mapping[str, Any], ramp: Ramp, order_start: date, term: int, *, is_initial: bool
    ) -> None:
        """Record what each line of an order does to the ramp: a new item with its price, or a change in the
        quantity of the item it revises, over the part of its segment from the order's start. A segment line of the
        initial order may be 0 (a pause); other lines of a new order may not, and a 0 delta on an amendment changes
        nothing."""
        recurring: list[str] = []
        off_cycle = not is_initial and self.off_cycle(ramp, order_start, term)
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
            raw_quantity = self.line_quantity(line)
            origin = chain_origin(line)
            quantity: int | None = None
            if origin in ramp.items or (not is_initial and self.removes_or_keeps(raw_quantity)):
                quantity = None if raw_quantity is None else self.whole_quantity(line, raw_quantity)
                if not quantity:
                    continue  # F30: a 0 delta changes nothing (a decimal or missing one is reported)
                if origin not in ramp.items:
                    self.problem(
                        "amendment_netting", "OrderItem", line["Id"], NOT_SKIPPED_MESSAGE.format(origin=origin)
                    )
                    continue
                ramp.changes.append(Change(origin, quantity, begins, ends, order["Id"]))
            else:
                months = whole_months_between(segment.start, segment.end) if segment else term
                added = self.mdq_new_item(order, line, ramp, segment, months, order_start)
                quantity = whole_number(raw_quantity)  # a decimal or missing one is reported by the line's entry
                if added and quantity is not None:
                    recurring.append(line["Id"])
                    ramp.changes.append(Change(origin, quantity, begins, ends, order["Id"]))
            if off_cycle and quantity is not None and quantity > 0 and begins == order_start:
                self.problem(
                    "not_yet_supported",
                    "OrderItem",
                    line["Id"],
                    f"it adds {quantity} unit(s) from {order_start}, which is not a billing date of this MDQ ramp; "
                    "prorating MDQ amendments (F32) is not yet supported - start the amendment on a billing date",
                )
        self.check_order_lines(order, recurring, amendment=not is_initial)

    def off_cycle(self, ramp: Ramp, order_start: date, term: int) -> bool:
        """F32: whether an amendment starting `order_start` (running `term` months to the end) starts between two
        billing dates of the ramp's interval."""
        grouped = ramp.intervals.by_interval()
        if len(grouped) != 1:
            return False
        [(_, months)] = grouped
        return bool(proration_months(term, months, partial_month=not same_day_of_month(ramp.start, order_start)))

    def mdq_new_item(
        self,
        order: Mapping[str, Any],
        line: Mapping[str, Any],
        ramp: Ramp,
        segment: Segment | None,
        months: int,
        order_start: date,
    ) -> bool:
        """Draft a line's price; a recurring line becomes a ramp item (True), a one-time line an invoice item. A
        segment line may pause its product (quantity 0); any other line of a new order must bill something."""
        # Stripe refuses one price twice in a phase: a segment line shares phases with unsegmented lines only.
        in_its_phases = ramp.used[segment.index] if segment else set().union(*ramp.used.values())
        taken = in_its_phases | ramp.unsegmented_prices
        before = set(taken)
        drafted = self.discounted_line(order, line, months, taken, zero_allowed=segment is not None)
        (ramp.used[segment.index] if segment else ramp.unsegmented_prices).update(taken - before)
        if drafted is None:
            return False
        entry, candidate = drafted
        if candidate.interval is None:
            if entry.get("quantity"):
                ramp.invoice_items[order_start].append(entry)
            return False
        ramp.intervals.add(order["Id"], line["Id"], candidate.interval)
        item = without_quantity(entry)
        if segment:
            item["metadata"] = {**item.get("metadata", {}), "salesforce_segment_key": line["SBQQ__SegmentKey__c"]}
        ramp.items[line["Id"]] = (item, candidate.metered)
        return True

    def check_amendment_start(self, amendment: Mapping[str, Any], amendment_start: date | None) -> None:
        """F42: the contract's SBQQ__AmendmentStartDate__c names the latest amendment's start."""
        if self.contract.held_order_ids:
            return  # a later amendment exists: the date is its start, checked when it is drafted
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
        """The phase starting `day`: every item's quantity that day (items at 0 left out), with the latest order's
        phase fields."""
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
                items.append(dict(item) if metered else {**item, "quantity": quantity})
        extra = self.phase_fields(order, day, first=day == ramp.start)
        if segment := segment_on(ramp.segments, day):
            extra["metadata"] = {**extra.get("metadata", {}), **segment.metadata}
        return PhaseDraft(day, order["Id"], items, ramp.invoice_items.get(day, []), extra)

    def with_pauses(self, drafted: list[PhaseDraft], ramp: Ramp, initial: Mapping[str, Any]) -> list[PhaseDraft]:
        """A phase billing nothing before a phase that bills again is a pause, not a termination: it keeps the
        items placed in it at quantity 0, as Stripe needs at least one item per phase."""
        billing = [index for index, phase in enumerate(drafted) if phase.items]
        if not billing:
            if not any(phase.order_id != initial["Id"] for phase in drafted):
                self.problem(
                    "positive_quantity",
                    "Order",
                    initial["Id"],
                    "every line of this new MDQ order has quantity 0: it bills nothing",
                )
            return drafted
        paused = []
        for index, phase in enumerate(drafted):
            if phase.items or index > billing[-1]:
                paused.append(phase)
                continue
            items = [
                {**item, "quantity": 0}
                for key, (item, metered) in ramp.items.items()
                if not metered and present_on(ramp.changes, key, phase.start)
            ]
            if not items:
                self.problem(
                    "not_yet_supported",
                    "Order",
                    phase.order_id,
                    f"from {phase.start} no licensed item of the ramp is placed until a later segment bills again; a "
                    "Stripe phase needs an item - not yet supported",
                )
            paused.append(replace(phase, items=items))
        return paused

    def check_termination_is_last(
        self, ramp: Ramp, days: list[date], amendments: list[tuple[date, Mapping[str, Any]]]
    ) -> None:
        """F35: an amendment after which nothing bills from its start to the end terminates the contract; a later
        amendment is refused ("A termination order is processing, but more amendments are queued")."""
        amendment_ids = [amendment["Id"] for _, amendment in amendments]
        for position, (start, amendment) in enumerate(amendments[:-1]):
            later = set(amendment_ids[position + 1 :])
            changes = [change for change in ramp.changes if change.order_id not in later]
            if all(quantity_on(changes, key, day) <= 0 for key in ramp.items for day in days if day >= start):
                for _, later in amendments[position + 1 :]:
                    self.problem(
                        "termination_is_last",
                        "Order",
                        later["Id"],
                        f"A termination order is processing, but more amendments are queued: {amendment['Id']} "
                        "terminates the contract before this amendment. Deactivate or delete the later amendments.",
                    )
                return

    def check_whole_periods(self, initial: Mapping[str, Any], ramp: Ramp, term: int) -> None:
        """F28 for MDQ: the term and each segment must be whole billing periods; otherwise Stripe would bill a
        whole period for part of one (backend and frontend proration are not yet supported for ramps)."""
        grouped = ramp.intervals.by_interval()
        if len(grouped) != 1:
            return
        [(_, months)] = grouped
        short = [
            f"segment {segment.index} ({segment.start} to {segment.end})"
            for segment in ramp.segments
            if add_months(segment.start, whole_months_between(segment.start, segment.end)) != segment.end
            or whole_months_between(segment.start, segment.end) % months
        ]
        if term % months:
            short.insert(0, f"the {term}-month term")
        if short:
            self.problem(
                "not_yet_supported",
                "Order",
                initial["Id"],
                f"{', '.join(short)} is not a whole number of {months}-month billing periods: prorating MDQ ramps "
                "(F28) is not yet supported",
            )
