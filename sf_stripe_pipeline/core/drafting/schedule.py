"""What renewable and MDQ contracts share: one subscription schedule for the whole term (F22).

Both kinds replay the initial order and every amendment into phases; this module checks each amendment's dates
against the contract (F31), gives each phase its order's mapped fields and coupons (F23: only a backdated first
phase bills its elapsed periods), lays the phases out with their end dates and finds a termination effective
today or earlier (F35), requires one billing interval across the recurring lines (F16), and builds the schedule,
whose payment terms follow the latest amendment (F38). renewable.py and mdq.py decide what the phases hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sf_stripe_pipeline.core.amendments import PhaseDraft, amendment_date_problems, inclusive_end, merge_same_day
from sf_stripe_pipeline.core.contracts import quote_of
from sf_stripe_pipeline.core.desired import ref
from sf_stripe_pipeline.core.drafting.drafter import ContractDrafter
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


class ScheduleDrafter(ContractDrafter):
    """A contract billed by one subscription schedule; subclasses lay out its phases."""

    def amendment_dates(
        self, order: Mapping[str, Any], initial_start: date | None, initial_end: date | None
    ) -> tuple[date, float] | None:
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

    def check_intervals(self, order: Mapping[str, Any], intervals: dict[tuple[str, int], list[str]]) -> None:
        order_id = order["Id"]
        if len(intervals) > 1:
            described = "; ".join(
                f"every {count} {unit}(s): {', '.join(ids)}" for (unit, count), ids in sorted(intervals.items())
            )
            self.problem(
                "single_billing_interval",
                "Order",
                order_id,
                f"all recurring lines must share one billing frequency, found {described}",
            )

    def lay_out(self, drafted: list[PhaseDraft], end: date | None) -> tuple[list[dict], bool]:
        """Phase params with their end dates; whether a termination ends the contract today or earlier (F35)."""
        phases = merge_same_day(drafted)
        ends = [phase.start for phase in phases[1:]] + [end]
        cut = next((index for index, phase in enumerate(phases) if index and not phase.items), None)
        terminated_on = phases[cut].start if cut is not None else None
        if cut is not None:
            phases, ends = phases[:cut], ends[:cut]
        laid_out = [
            {
                "items": phase.items,
                **({"add_invoice_items": phase.invoice_items} if phase.invoice_items else {}),
                "end_date": midnight_timestamp(phase_end),
                **phase.extra,
            }
            for phase, phase_end in zip(phases, ends, strict=True)
            if phase_end is not None
        ]
        return laid_out, terminated_on is not None and terminated_on <= self.context.today

    def schedule(
        self,
        order: Mapping[str, Any],
        mapped: MappedFields,
        amendments: list[Mapping[str, Any]],
        start: date,
        phases: list[dict],
        terminated: bool,
    ) -> None:
        """The schedule of `order` (the initial order, mapped as `mapped`), with the laid out `phases`."""
        values = {path: value for path, value in mapped.values.items() if path != "start_date"}
        for amendment in amendments:  # F38: only these follow the latest amendment
            refreshed = self._map("subscription_schedule", "Order", amendment).values
            values.update({path: v for path, v in refreshed.items() if path in REFRESHED_SCHEDULE_PATHS})
        params = {"end_behavior": "cancel", **self._build(values, "Order", order)}
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
            phases=phases,
        )
        self.add(
            "subscription_schedule",
            "Order",
            order,
            params,
            mapped.empty_paths,
            end_now=SCHEDULE_CANCEL if terminated else None,
        )
