"""Evergreen contracts: an order with an Evergreen line is billed by a plain Stripe subscription (F39, F40).

It has no term and is invoiced (collection_method send_invoice with a days_until_due; no payment method is
collected). An order starting in the future is a schedule released into the subscription the day it starts;
a backdated one is refused. Once it has started, the contract is that subscription: an order still naming the
schedule is drafted as the subscription, linked to the schedule's id; the Stripe read follows the released
schedule to its subscription and the write-back swaps the id (F40). Amending it before it starts is refused. Amendments may add Evergreen lines the day they sync, or net lines away (F30); an
amendment that leaves nothing is a cancellation (F40): on its date in the future (`cancel_at`), or at once with
no credit, refund or final invoice when its date has come.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sf_stripe_pipeline.core.amendments import Aggregate, Slot, chain_origin
from sf_stripe_pipeline.core.desired import ref
from sf_stripe_pipeline.core.drafting.drafter import PAYMENT_TERM_PATHS, ContractDrafter, without_quantity
from sf_stripe_pipeline.core.drafting.schedule import SCHEDULE_CANCEL
from sf_stripe_pipeline.core.mapping import MappedFields
from sf_stripe_pipeline.core.money import midnight_timestamp, whole_number

SUBSCRIPTION_CANCEL = SCHEDULE_CANCEL
"""F40: an evergreen cancellation effective today: no credit, no refund, no final invoice."""
SCHEDULE_PREFIX, SUBSCRIPTION_PREFIX = "sub_sched_", "sub_"
"""How an evergreen order's Stripe_ID__c names what bills it: the schedule of a future start, or the subscription
(a schedule id also starts with "sub_", so the schedule prefix is checked first)."""


class EvergreenDrafter(ContractDrafter):
    """An evergreen order and its amendments, drafted as one subscription."""

    def draft_orders(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        """An evergreen order becomes a Subscription (a release-at-once schedule when it starts in the future);
        its amendments add items the day they start, or cancel it (all quantities 0) then or on their date."""
        mapped = self._map("subscription_schedule", "Order", initial)
        start = mapped.values.get("start_date")
        settings = self.evergreen_settings(initial, mapped)
        linked = initial.get("Stripe_ID__c") or ""
        if isinstance(start, date) and start < self.context.today and not linked:
            self.problem(
                "evergreen_start",
                "Order",
                initial["Id"],
                f"Backdated evergreen Salesforce orders are not yet supported (start {start}, today "
                f"{self.context.today}): start it today or later.",
            )
        aggregate = Aggregate()
        used_prices: set[str] = set()
        for line in self.billable_lines(initial):
            self.evergreen_item(initial, line, aggregate, used_prices)
        cancellation: tuple[date, list[dict]] | None = None
        cancelled_by: str | None = None
        scheduled = linked.startswith(SCHEDULE_PREFIX)
        not_started = isinstance(start, date) and start > self.context.today
        for amendment in amendments:
            if scheduled and not_started:
                self.problem(
                    "evergreen_started",
                    "Order",
                    amendment["Id"],
                    f"Amending a Salesforce evergreen order that has not started is not yet supported: its "
                    f"subscription starts {start}; sync the amendment from then on.",
                )
            if cancelled_by is not None:  # F35/F40: a cancellation must be the last amendment
                self.problem(
                    "termination_is_last",
                    "Order",
                    amendment["Id"],
                    f"A termination order is processing, but more amendments are queued: {cancelled_by} cancels the "
                    "evergreen subscription before this amendment. Deactivate or delete the later amendments.",
                )
            found = self.evergreen_amendment(amendment, aggregate, used_prices)
            if found is not None and cancelled_by is None:
                cancellation, cancelled_by = found, amendment["Id"]
        if not isinstance(start, date) or settings is None:
            return
        metadata = self._build({}, "Order", initial)["metadata"]
        # A cancellation keeps the items billing until it takes effect.
        cancel_on, items = cancellation if cancellation else (None, aggregate.items())
        if not_started and (scheduled or not linked.startswith(SUBSCRIPTION_PREFIX)):
            schedule = self.evergreen_schedule(initial, start, items, settings)
            self.add("subscription_schedule", "Order", initial, schedule)
            return
        # From its start on, the contract is its subscription; an order still naming the schedule it began as
        # names that schedule's released subscription (F40), which the Stripe read follows and the write-back swaps.
        params = {
            "customer": ref("customer", self.contract.account_id or ""),
            "items": items,
            "cancel_at_period_end": False,
            **settings,
            "metadata": metadata,
            **({"discounts": discounts} if (discounts := self.discounts(initial)) else {}),
        }
        end_now = None
        if cancel_on is not None and cancel_on > self.context.today:
            params.update(cancel_at=midnight_timestamp(cancel_on), proration_behavior="none")
        elif cancel_on is not None:
            end_now = SUBSCRIPTION_CANCEL
        self.add("subscription", "Order", initial, params, mapped.empty_paths, end_now=end_now)

    def evergreen_settings(self, order: Mapping[str, Any], mapped: MappedFields) -> dict | None:
        """F39: evergreen subscriptions are invoiced: collection_method send_invoice and a days_until_due."""
        params = self._build(
            {path: value for path, value in mapped.values.items() if path in PAYMENT_TERM_PATHS}, "Order", order
        )
        settings = params.get("default_settings", {})
        collection_method = settings.get("collection_method")
        days = settings.get("invoice_settings", {}).get("days_until_due")
        if collection_method != "send_invoice" or days is None:
            self.problem(
                "evergreen_send_invoice",
                "Order",
                order["Id"],
                "evergreen orders are invoiced: map subscription_schedule default_settings.collection_method to "
                f"send_invoice and a default_settings.invoice_settings.days_until_due (found {collection_method!r} "
                f"and {days!r}; charge_automatically is not supported, no payment method is collected)",
            )
            return None
        return {"collection_method": collection_method, "days_until_due": days}

    def evergreen_item(
        self, order: Mapping[str, Any], line: Mapping[str, Any], aggregate: Aggregate, used_prices: set[str]
    ) -> None:
        drafted = self.discounted_line(order, line, None, used_prices)  # evergreen prices are per period already
        quantity = whole_number(self.line_quantity(line))
        if drafted is None or quantity is None:
            return  # its problems (a decimal or missing quantity among them) are reported
        entry, candidate = drafted
        slot = Slot(line["Id"], chain_origin(line), max(quantity, 0), without_quantity(entry), candidate.metered)
        aggregate.open(slot)

    def evergreen_amendment(
        self, amendment: Mapping[str, Any], aggregate: Aggregate, used_prices: set[str]
    ) -> tuple[date, list[dict]] | None:
        """Apply one amendment; if it zeroes every item (F40), the date it cancels on and the items until then."""
        _, start, _ = self.term_and_start(amendment)
        before = aggregate.items()
        for line in self.billable_lines(amendment):
            raw_quantity = self.line_quantity(line)
            if self.removes_or_keeps(raw_quantity):
                removed = self.whole_quantity(line, raw_quantity)
                if removed:  # a negative delta nets its chain (F30); a 0 delta changes nothing
                    self.net_line(line, removed, aggregate)
                continue
            if line.get("SBQQ__SubscriptionType__c") != "Evergreen":
                self.problem(
                    "evergreen_additions",
                    "OrderItem",
                    line["Id"],
                    "Adding Salesforce products with a 'Renewable' type to evergreen orders isn't supported.",
                )
                continue
            if start is not None and start != self.context.today:
                self.problem(
                    "evergreen_additions",
                    "OrderItem",
                    line["Id"],
                    f"additions to an evergreen subscription must start the day they sync ({self.context.today}); "
                    f"future-dated or backdated additions ({start}) are not supported",
                )
            self.evergreen_item(amendment, line, aggregate, used_prices)
        if start is None or not aggregate.slots or aggregate.items():
            return None
        return start, before

    def evergreen_schedule(self, order: Mapping[str, Any], start: date, items: list[dict], settings: dict) -> dict:
        """F39: a future evergreen order is a schedule released into a plain subscription as soon as it starts; its
        only phase carries the order's coupons (F44), which the subscription keeps when it is released."""
        begins = midnight_timestamp(start)
        phase = {"items": items, "end_date": begins + 1, "proration_behavior": "none"}
        if discounts := self.discounts(order):
            phase["discounts"] = discounts
        return {
            "customer": ref("customer", self.contract.account_id or ""),
            "start_date": begins,
            "end_behavior": "release",
            "default_settings": {
                "collection_method": settings["collection_method"],
                "invoice_settings": {"days_until_due": settings["days_until_due"]},
            },
            "metadata": self._build({}, "Order", order)["metadata"],
            "phases": [phase],
        }

