"""Renewable contracts: a fixed-term subscription schedule, amended and terminated by later orders.

The initial order opens the first phase (F22, backdated F23); every activated amendment is replayed onto the
aggregate of phase items and opens a phase from its start: positive lines add items, negative lines net the
chain they revise (F30), a phase with nothing left is a termination (F35, and it must be the last order, F37),
and a new licensed line starting off-cycle bills up to the next billing date once (F32). Amendment dates are
checked against the contract (F31); payment terms follow the latest amendment (F38). A term that is not a
multiple of the billing frequency gets backend proration (F28). One-time lines become the phase's
`add_invoice_items` (F26). The arithmetic of slots and dates lives in core/amendments.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from fractions import Fraction
from typing import Any

from sf_stripe_pipeline.core.amendments import (
    Aggregate,
    Netting,
    PhaseDraft,
    Slot,
    chain_origin,
    next_billing_date,
    proration_months,
    same_day_of_month,
    span_months,
)
from sf_stripe_pipeline.core.desired import SUBSCRIPTION_OF, ref
from sf_stripe_pipeline.core.drafting.drafter import METADATA_PREFIX, PriceCandidate, without_quantity
from sf_stripe_pipeline.core.drafting.migration import activated_before_start
from sf_stripe_pipeline.core.drafting.schedule import MAX_RECURRING_LINES, Intervals, ScheduleDrafter
from sf_stripe_pipeline.core.mapping import build_params
from sf_stripe_pipeline.core.money import add_months, format_decimal, fraction_of, midnight_timestamp, whole_number

__all__ = ["MAX_RECURRING_LINES", "PRORATION_INVOICE_SUFFIX", "RenewableDrafter"]

PRORATION_INVOICE_SUFFIX = "-proration-invoice"
"""The key of an amendment's proration invoice (F34): `<amendment Order Id>-proration-invoice`."""


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict:
    """`base` with `extra` laid over it, nested dicts merged, neither changed (phase items share their dicts)."""
    result = dict(base)
    for key, value in extra.items():
        current = result.get(key)
        result[key] = merged(current, value) if isinstance(current, Mapping) and isinstance(value, Mapping) else value
    return result


class Timeline:
    """The phases a contract's orders open, in order, and the aggregate they share."""

    def __init__(self, initial_start: date | None, end: date | None):
        self.initial_start = initial_start
        self.end = end
        self.aggregate = Aggregate()
        self.used_prices: set[str] = set()
        self.intervals = Intervals()
        self.candidates: dict[str, PriceCandidate] = {}
        """The price drafted for each line that opened a slot (F28 bills leftover months with copies of them)."""
        self.phases: list[PhaseDraft] = []
        self.terminated_by: str | None = None
        self.invoiced_now: list[Mapping[str, Any]] = []
        """Amendments this sync applies that bill prorations from today or earlier (F34)."""

    def add(self, phase: PhaseDraft | None) -> None:
        if phase is None:
            return
        if self.phases and not phase.items and self.terminated_by is None:
            self.terminated_by = phase.order_id
        self.phases.append(phase)


class RenewableDrafter(ScheduleDrafter):
    """A renewable contract: its initial order and every amendment, replayed into one schedule."""

    def draft_orders(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        """F22, F30-F32, F35, F37, F38: the initial order and every amendment, replayed into one schedule."""
        schedule_mapped, start, term = self.term_and_start(initial)
        end = add_months(start, term) if start is not None and term is not None else None
        timeline = Timeline(start, end)
        timeline.add(self.order_phase(initial, timeline, term, is_initial=True))
        for amendment in amendments:
            timeline.add(self.order_phase(amendment, timeline, None, is_initial=False))
        self.check_intervals(timeline.intervals)
        leftover = self.term_leftover(initial, term, timeline.intervals, amended=bool(amendments))
        if start is None or end is None or term is None:
            return
        layout = self.lay_out(timeline.phases, timeline.end)
        if leftover and layout.phases and layout.terminated_on is None:
            boundary = add_months(start, term - leftover)  # from the start: month ends stay right
            layout = replace(layout, phases=self.backend_proration(layout.phases, timeline, boundary, leftover))
        migrate_every = None
        if self.context.config.old_order_migration and activated_before_start(initial, self.context.config):
            intervals = list(timeline.intervals.by_interval())  # one, or a problem is reported (F16)
            migrate_every = intervals[0][1] if intervals else 1
        self.schedule(initial, schedule_mapped, amendments, start, layout, migrate_every=migrate_every)
        if self.context.config.invoice_prorations_immediately and not layout.ended:
            for amendment in timeline.invoiced_now:
                self.proration_invoice(initial, amendment)

    def proration_invoice(self, initial: Mapping[str, Any], amendment: Mapping[str, Any]) -> None:
        """F34 (flag invoice_prorations_immediately): the prorations of an amendment that starts now are pending
        invoice items of the schedule's subscription as soon as its phase starts; an invoice for that subscription
        sweeps them in and is finalized at once (the connector did this on Stripe's invoiceitem.created webhook). The
        planner names the subscription, which only Stripe knows."""
        schedule = next(
            (o for o in self.draft.objects if o.stripe_object == "subscription_schedule" and o.key == initial["Id"]),
            None,
        )
        if schedule is None:
            return
        settings = schedule.params.get("default_settings", {})
        terms = {"collection_method": settings["collection_method"]} if "collection_method" in settings else {}
        if terms.get("collection_method") == "send_invoice":
            terms["days_until_due"] = settings.get("invoice_settings", {}).get("days_until_due")
        metadata = {
            **self.context.back_references("Order", amendment["Id"]),
            "salesforce_proration_invoice": "true",
            "salesforce_subscription_schedule": ref("subscription_schedule", schedule.key),
        }
        params = {
            "customer": schedule.params["customer"],
            "subscription": {SUBSCRIPTION_OF: schedule.address},
            "pending_invoice_items_behavior": "include",
            "auto_advance": False,
            **terms,
            "metadata": metadata,
        }
        self.add("invoice", "Order", amendment, params, key=f"{amendment['Id']}{PRORATION_INVOICE_SUFFIX}")

    def order_phase(
        self, order: Mapping[str, Any], timeline: Timeline, initial_term: int | None, *, is_initial: bool
    ) -> PhaseDraft | None:
        """The phase an order opens: the aggregate after its lines, its one-time lines, and its phase fields.
        `initial_term` is the initial order's term (None for amendments, whose own term comes with their dates)."""
        if is_initial:
            order_start, term = timeline.initial_start, initial_term
        else:
            dates = self.amendment_dates(order, timeline.initial_start, timeline.end)
            if dates is None:
                return None
            order_start, term = dates
            if timeline.terminated_by is not None:
                self.problem(
                    "termination_is_last",
                    "Order",
                    order["Id"],
                    f"A termination order is processing, but more amendments are queued: {timeline.terminated_by} "
                    "terminates the contract before this amendment. Deactivate or delete the later amendments.",
                )
        invoice_items: list[dict] = []
        recurring: list[str] = []
        partial_month = (
            not is_initial
            and order_start is not None
            and timeline.initial_start is not None
            and not same_day_of_month(timeline.initial_start, order_start)
        )
        line_term: int | Fraction | None = term
        if partial_month and self.month_and_day and timeline.end is not None and order_start is not None:
            # F18 with Month+Day precision: CPQ priced the line for its whole months and days to the end
            line_term = span_months(order_start, timeline.end, "month_and_day")
        # F28 frontend proration: an initial term shorter than a line's billing period bills part of one period
        frontend_term = term if is_initial and self.context.config.frontend_prorations else None
        ended: dict[str, Mapping[str, Any]] = {}
        """Line Id of each slot this order zeroes -> the line that zeroes it (F12)."""
        for line in self.billable_lines(order):
            raw_quantity = self.line_quantity(line)
            if not is_initial and self.removes_or_keeps(raw_quantity):
                removed = self.whole_quantity(line, raw_quantity)
                if removed:  # F30: a negative delta nets its chain; a 0 delta changes nothing (no item, no price)
                    netting = self.net_line(line, removed, timeline.aggregate)
                    ended.update({slot.line_id: line for slot, _ in netting.taken if slot.quantity == 0})
                    if order_start is not None and term is not None:
                        invoice_items += self.credits(line, netting, term, order_start, timeline, partial_month)
                continue
            drafted = self.discounted_line(
                order, line, line_term, timeline.used_prices, frontend_term=frontend_term
            )
            if drafted is None:
                continue
            entry, candidate = drafted
            quantity = whole_number(raw_quantity)
            if candidate.interval is None:
                if quantity:
                    invoice_items.append(entry)
                continue
            recurring.append(line["Id"])
            timeline.intervals.add(order["Id"], line["Id"], candidate.interval)
            if quantity is None:
                continue  # a decimal or missing quantity is reported; the line opens no slot
            slot = Slot(line["Id"], chain_origin(line), max(quantity, 0), without_quantity(entry), candidate.metered)
            timeline.aggregate.open(slot)
            timeline.candidates[line["Id"]] = candidate
            if not is_initial and order_start is not None and timeline.end is not None:
                invoice_items += self.proration_items(line, candidate, entry, term, order_start, timeline, partial_month)
        self.check_order_lines(order, recurring, amendment=not is_initial)
        if order_start is None:
            return None
        items = timeline.aggregate.items()
        if (
            not is_initial
            and not order.get("Stripe_ID__c")  # applied by this sync
            and order_start <= self.context.today
            and any(item.get("metadata", {}).get("salesforce_proration") == "true" for item in invoice_items)
        ):
            timeline.invoiced_now.append(order)
        if self.context.config.termination_metadata and timeline.phases:
            self.mark_terminated(timeline.phases[-1], order, ended, contract_ends=not items)
        extra = self.phase_fields(order, order_start, first=is_initial)
        return PhaseDraft(order_start, order["Id"], items, invoice_items, extra)

    @property
    def month_and_day(self) -> bool:
        return self.context.config.prorate_precision == "month_and_day"

    def proration_items(
        self,
        line: Mapping[str, Any],
        candidate: PriceCandidate,
        entry: Mapping[str, Any],
        term: int | None,
        start: date,
        timeline: Timeline,
        partial_month: bool,
    ) -> list[dict]:
        """F32: a new licensed line starting off-cycle is billed up to the next billing date by a one-time price
        worth `unit x months / frequency`, as the amendment phase's `add_invoice_items`. With Month precision a
        partial month counts whole; with Month+Day it counts day by day (12/365 of a month a day)."""
        if term is None or candidate.metered or candidate.tiered or "quantity" not in entry:
            return []
        months = self.unbilled_months(candidate, term, start, timeline, partial_month)
        if not months or timeline.initial_start is None:
            return []
        frequency = candidate.params["recurring"]["interval_count"]
        next_billing = midnight_timestamp(next_billing_date(timeline.initial_start, frequency, start))
        period = {"start": {"type": "phase_start"}, "end": {"type": "timestamp", "timestamp": next_billing}}
        return [self.proration_item(line, candidate, entry, months, key=f"{line['Id']}-proration", period=period)]

    def unbilled_months(
        self, candidate: PriceCandidate, term: int, start: date, timeline: Timeline, partial_month: bool
    ) -> Fraction:
        """The months from an amendment's start to the contract's next billing date, as CPQ's prorate precision
        counts them (F32): 0 on a billing date."""
        frequency = candidate.params["recurring"]["interval_count"]
        if partial_month and self.month_and_day and timeline.initial_start is not None:
            return span_months(start, next_billing_date(timeline.initial_start, frequency, start), "month_and_day")
        return Fraction(proration_months(term, frequency, partial_month=partial_month))

    def credits(
        self,
        line: Mapping[str, Any],
        netting: Netting,
        term: int,
        start: date,
        timeline: Timeline,
        partial_month: bool,
    ) -> list[dict]:
        """F36 (flags terminated_order_item_credit, quantity_reduction_order_item_credit): units an amendment removes
        off a billing date were paid up to the next one; each slot they come from is credited `unit x unused
        months / frequency` per unit by a negative `price_data` invoice item on the amendment's phase. Metered and
        tiered lines bill usage and get none; nor does a termination of the whole contract, which opens no phase
        (its schedule ends there without proration, F35)."""
        config = self.context.config
        removes_the_line = netting.chain_left == 0
        wanted = config.terminated_order_item_credit if removes_the_line else config.quantity_reduction_order_item_credit
        if not wanted or netting.error or timeline.initial_start is None:
            return []
        credits = []
        for slot, units in netting.taken:
            candidate = timeline.candidates.get(slot.line_id)
            if candidate is None or candidate.metered or candidate.tiered or candidate.unit_amount is None:
                continue
            months = Fraction(self.unbilled_months(candidate, term, start, timeline, partial_month))
            if not months:
                continue
            frequency = candidate.params["recurring"]["interval_count"]
            unit = fraction_of(candidate.unit_amount, months.numerator, frequency * months.denominator)
            next_billing = midnight_timestamp(next_billing_date(timeline.initial_start, frequency, start))
            credits.append(
                {
                    "price_data": {
                        "currency": candidate.params["currency"],
                        "product": candidate.params["product"],
                        "unit_amount_decimal": format_decimal(-unit),
                    },
                    "quantity": units,
                    "period": {"start": {"type": "phase_start"}, "end": {"type": "timestamp", "timestamp": next_billing}},
                    "metadata": {
                        **self.context.back_references("OrderItem", line["Id"]),
                        "salesforce_credit": "true",
                        "salesforce_proration": "true",
                    },
                }
            )
        return credits

    def mark_terminated(
        self,
        previous: PhaseDraft,
        order: Mapping[str, Any],
        ended: Mapping[str, Mapping[str, Any]],
        *,
        contract_ends: bool,
    ) -> None:
        """F12 (flag termination_metadata): the `sbc_termination.` mappings of the line that zeroes an item go on
        that item in the last phase it is billed in, and when `order` ends the contract, the phase mappings of the
        order go on that phase."""
        items = []
        for item in previous.items:
            line = ended.get((item.get("metadata") or {}).get(METADATA_PREFIX + "order_item_id", ""))
            items.append(merged(item, self.termination_params("subscription_item", "OrderItem", line)) if line else item)
        previous.items = items
        if contract_ends:
            previous.extra = merged(previous.extra, self.termination_params("subscription_phase", "Order", order))

    def termination_params(self, target: str, sobject: str, record: Mapping[str, Any]) -> dict:
        mapped = self.context.mapper.map(target, record, self.org, termination=True)
        params, problems = build_params(mapped.values)
        self.draft.problems.extend(self._param_problems(problems, sobject, record["Id"]))
        return params

    def term_leftover(
        self,
        order: Mapping[str, Any],
        term: int | None,
        intervals: Intervals,
        *,
        amended: bool,
    ) -> int:
        """F28: the months a term runs past its last whole billing period (0 when it is a multiple), which backend
        proration bills once (a term longer than the frequency; amending such a contract is not supported yet). A
        term shorter than the frequency is frontend proration (the flag `frontend_prorations`): 0 here, as the
        lines' prices carry it."""
        grouped = intervals.by_interval()
        if term is None or len(grouped) != 1:
            return 0
        [((_, months), line_ids)] = grouped.items()
        leftover = term % months
        if not leftover:
            return 0
        if term < months:
            if not self.context.config.frontend_prorations:
                self.problem(
                    "frontend_proration",
                    "Order",
                    order["Id"],
                    f"a {term}-month term is shorter than the {months}-month billing frequency of "
                    f"{', '.join(line_ids)}: Stripe would bill a whole period. Set frontend_prorations: true in the "
                    "sync config to bill the term's share of a period (F28), or bill more often.",
                )
            return 0  # with the flag, the lines' prices carry the reduction (frontend proration)
        unsupported = "amending a contract whose term is not a multiple of its billing frequency (F28)" if amended else None
        if unsupported is None:
            return leftover
        self.problem(
            "not_yet_supported",
            "Order",
            order["Id"],
            f"a {term}-month term is not a multiple of the {months}-month billing frequency of "
            f"{', '.join(line_ids)}: {unsupported} - not yet supported",
        )
        return 0

    def backend_proration(self, phases: list[dict], timeline: Timeline, boundary: date, leftover: int) -> list[dict]:
        """F28 backend proration: the last phase stops at the last whole billing period; a copy runs to the end
        without prorations and bills the leftover months once, as one-time copies of its licensed prices."""
        *earlier, last = phases
        invoice_items = [
            self.proration_item(
                line,
                timeline.candidates[slot.line_id],
                slot.as_item(),
                leftover,
                key=f"{slot.line_id}-backend-proration",
                period={"start": {"type": "phase_start"}, "end": {"type": "phase_end"}},
            )
            for slot in timeline.aggregate.slots
            if slot.quantity > 0
            and not slot.metered
            and not timeline.candidates[slot.line_id].tiered
            and (line := self.org.get("OrderItem", slot.line_id)) is not None
        ]
        whole_periods = {key: value for key, value in last.items() if key != "end_date"}
        leftover_phase = {key: value for key, value in last.items() if key != "add_invoice_items"}
        leftover_phase.update(
            proration_behavior="none",
            metadata={**last.get("metadata", {}), "salesforce_backend_proration": "true"},
        )
        if invoice_items:
            leftover_phase["add_invoice_items"] = invoice_items
        return [*earlier, {**whole_periods, "end_date": midnight_timestamp(boundary)}, leftover_phase]
