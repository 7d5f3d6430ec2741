"""What renewable and MDQ contracts share: one subscription schedule for the whole term (F22).

Both kinds replay the initial order and every amendment into phases; this module checks each amendment's dates
against the contract (F31), gives each phase its order's mapped fields and coupons (F23: only a backdated first
phase bills its elapsed periods), lays the phases out with their end dates and finds where a termination ends the
contract (F35), requires one billing interval across the recurring lines (F16, naming the order that brings a
second one), holds the per-order limits (F24: 100 recurring lines; an amendment of one-time lines only), and builds
the schedule, whose payment terms follow the latest amendment (F38). renewable.py and mdq.py decide what the
phases hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sf_stripe_pipeline.core.amendments import PhaseDraft, amendment_date_problems, inclusive_end, merge_same_day
from sf_stripe_pipeline.core.contracts import quote_of
from sf_stripe_pipeline.core.desired import ref
from sf_stripe_pipeline.core.drafting.drafter import ContractDrafter
from sf_stripe_pipeline.core.drafting.migration import MIGRATION_KEY_SUFFIX, migrated
from sf_stripe_pipeline.core.mapping import MappedFields
from sf_stripe_pipeline.core.money import midnight_timestamp

REFRESHED_SCHEDULE_PATHS = frozenset(
    {
        "default_settings.collection_method",
        "default_settings.invoice_settings.days_until_due",
        "default_settings.invoice_settings.rendering.template",
        "default_settings.invoice_settings.rendering.template_version",
    }
)
"""F38: the only schedule fields an amendment re-maps; the rest stay as the initial order set them."""
SCHEDULE_CANCEL = {"invoice_now": False, "prorate": False}
"""F35: a termination effective today or earlier cancels the schedule with no final invoice and no proration."""
MAX_RECURRING_LINES = 100
"""F24: the connector's limit of recurring lines in one order."""


@dataclass
class Intervals:
    """The billing interval of each recurring line, in the order the contract's orders bring them (F16)."""

    lines: list[tuple[str, str, tuple[str, int]]] = field(default_factory=list)
    """(order Id, line Id, (interval, interval_count))."""

    def add(self, order_id: str, line_id: str, interval: tuple[str, int]) -> None:
        self.lines.append((order_id, line_id, interval))

    def by_interval(self) -> dict[tuple[str, int], list[str]]:
        grouped: dict[tuple[str, int], list[str]] = {}
        for _, line_id, interval in self.lines:
            grouped.setdefault(interval, []).append(line_id)
        return grouped

    def of_order(self, order_id: str) -> list[str]:
        return [line_id for order, line_id, _ in self.lines if order == order_id]


@dataclass(frozen=True)
class Layout:
    """A contract's phases as Stripe params, and where a termination ends it (F35)."""

    phases: list[dict]
    terminated_on: date | None = None
    """The start of the termination that ends the contract (its last phase ends there), if any."""
    ended: bool = False
    """Whether the schedule must be cancelled now: the termination starts today or earlier, or on the contract's
    start (an identical range: nothing of it was ever to be billed)."""


class ScheduleDrafter(ContractDrafter):
    """A contract billed by one subscription schedule; subclasses lay out its phases."""

    def amendment_dates(
        self, order: Mapping[str, Any], initial_start: date | None, initial_end: date | None
    ) -> tuple[date, int] | None:
        """An amendment's start and term, checked against the contract's dates (F31); None when unknown."""
        _, order_start, term = self.term_and_start(order)
        if order_start is None or term is None or initial_start is None or initial_end is None:
            return None
        quote = quote_of(self.org, order) or {}
        for rule, message in amendment_date_problems(
            initial_start=initial_start,
            initial_end=initial_end,
            start=order_start,
            term=term,
            quote_end=inclusive_end(quote),
            non_anniversary=self.context.config.non_anniversary_amendments,
        ):
            self.problem(rule, "Order", order["Id"], message)
        return order_start, term

    def phase_fields(self, order: Mapping[str, Any], start: date, *, first: bool) -> dict:
        """A phase's mapped fields, its order's coupons and, unless it is a backdated first phase whose elapsed
        periods Stripe should bill (F23), `proration_behavior=none`."""
        extra = self._build(self.context.mapper.map("subscription_phase", order, self.org).values, "Order", order)
        if order_discounts := self.discounts(order):  # each phase has its own order's coupons only
            extra["discounts"] = order_discounts
        if not first or start >= self.context.today or order.get("Skip_Past_Initial_Invoices__c"):
            extra["proration_behavior"] = "none"
        return extra

    def check_intervals(self, intervals: Intervals) -> None:
        """F16: one billing interval per contract. The order whose lines bring a second interval is the one named
        (the initial order when its own lines differ), so the fix lands on the record that caused it."""
        grouped = intervals.by_interval()
        if len(grouped) < 2:
            return
        described = "; ".join(
            f"every {count} {unit}(s): {', '.join(ids)}" for (unit, count), ids in sorted(grouped.items())
        )
        contract_interval = intervals.lines[0][2]
        blamed = dict.fromkeys(order for order, _, interval in intervals.lines if interval != contract_interval)
        for order_id in blamed:
            self.problem(
                "single_billing_interval",
                "Order",
                order_id,
                f"all recurring lines must share one billing frequency, found {described}",
            )

    def check_order_lines(self, order: Mapping[str, Any], recurring: Sequence[str], *, amendment: bool) -> None:
        """F24: at most MAX_RECURRING_LINES recurring lines in an order; and an amendment of one-time lines only is
        refused (spec §1.10): its one-time items would ride on a phase that changes nothing."""
        if len(recurring) > MAX_RECURRING_LINES:
            self.problem(
                "max_recurring_lines",
                "Order",
                order["Id"],
                f"{len(recurring)} recurring lines; at most {MAX_RECURRING_LINES} are supported",
            )
        lines = self.billable_lines(order)
        if amendment and lines and all(line.get("SBQQ__SubscriptionPricing__c") is None for line in lines):
            self.problem(
                "amendment_not_all_one_time",
                "Order",
                order["Id"],
                "The amendment order represents all one-time invoices. Create a new, separate order for one-time items.",
            )

    def lay_out(self, drafted: list[PhaseDraft], end: date | None) -> Layout:
        """Phase params with their end dates, and the termination that ends the contract (F35).

        Phases that bill nothing after the last phase that bills something are a termination: the schedule stops
        where they start. It ends now (cancelled) when that day is today or earlier, or the contract's first day (a
        termination with the initial order's own range: no phase is left, F35's "identical range"). An empty phase
        before a billing one cannot be a Stripe phase; the drafters never leave one (an MDQ pause keeps its items
        at quantity 0, and a termination followed by more amendments is the problem `termination_is_last`)."""
        phases = merge_same_day(drafted)
        ends = [phase.start for phase in phases[1:]] + [end]
        billing = [index for index, phase in enumerate(phases) if phase.items]
        cut = billing[-1] + 1 if billing else 0
        terminated_on = phases[cut].start if cut < len(phases) else None
        laid_out = [
            {
                "items": phase.items,
                **({"add_invoice_items": phase.invoice_items} if phase.invoice_items else {}),
                "end_date": midnight_timestamp(phase_end),
                **phase.extra,
            }
            for phase, phase_end in zip(phases[:cut], ends[:cut], strict=True)
            if phase_end is not None
        ]
        ended = terminated_on is not None and (cut == 0 or terminated_on <= self.context.today)
        return Layout(laid_out, terminated_on, ended)

    def schedule(
        self,
        order: Mapping[str, Any],
        mapped: MappedFields,
        amendments: list[Mapping[str, Any]],
        start: date,
        layout: Layout,
        *,
        migrate_every: int | None = None,
    ) -> None:
        """The schedule of `order` (the initial order, mapped as `mapped`), with the laid out phases. A terminated
        contract's schedule ends with `end_behavior=cancel` whatever is mapped (a release would keep billing).
        `migrate_every`: the billing months of a pre-integration contract to migrate (F33, see migration.py)."""
        values = {path: value for path, value in mapped.values.items() if path != "start_date"}
        for amendment in amendments:  # F38: only these follow the latest amendment (its mapping problems are
            # reported where the amendment's dates are read)
            refreshed = self.context.mapper.map("subscription_schedule", amendment, self.org).values
            values.update({path: v for path, v in refreshed.items() if path in REFRESHED_SCHEDULE_PATHS})
        params = {"end_behavior": "cancel", **self._build(values, "Order", order)}
        if layout.terminated_on is not None:
            params["end_behavior"] = "cancel"
        settings = params.get("default_settings", {})
        if settings.get("collection_method") == "send_invoice" and "days_until_due" not in settings.get(
            "invoice_settings", {}
        ):
            self.problem(
                "payment_terms",
                "Order",
                order["Id"],
                "collection_method send_invoice needs a days_until_due: set the order's payment terms "
                "(e.g. SBQQ__PaymentTerm__c 'Net 30') or map default_settings.invoice_settings.days_until_due",
            )
        params.update(
            customer=ref("customer", self.contract.account_id or ""),
            start_date=midnight_timestamp(start),
            phases=layout.phases,
        )
        if migrate_every is not None:
            found = None if layout.ended else migrated(
                params, order_start=start, today=self.context.today, interval_months=migrate_every
            )
            if found is None:
                self.problem(
                    "pre_integration_ended",
                    "Order",
                    order["Id"],
                    "a pre-integration order whose term is over (or terminated) by today: there is nothing left to "
                    "bill, so nothing is migrated (F33)",
                )
                return
            params, subscription = found
            key = self.add("subscription", "Order", order, subscription, key=order["Id"] + MIGRATION_KEY_SUFFIX)
            params["from_subscription"] = ref("subscription", key)
        self.add(
            "subscription_schedule",
            "Order",
            order,
            params,
            mapped.empty_paths,
            end_now=SCHEDULE_CANCEL if layout.ended else None,
        )
