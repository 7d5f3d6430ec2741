"""One-time orders: an order whose lines are all one-time products is billed by one Stripe invoice (F26).

Each line becomes an invoice item (with its line coupons) over the order's term, and an invoice sweeps them in;
the planner finalizes it. The invoice takes the schedule target's payment terms unless the `invoice` target maps
its own. One-time lines inside a recurring order are not billed here: they become the phase's
`add_invoice_items` (renewable.py, mdq.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sf_stripe_pipeline.core.desired import ref
from sf_stripe_pipeline.core.drafting.drafter import PAYMENT_TERM_PATHS, ContractDrafter
from sf_stripe_pipeline.core.money import add_months, midnight_timestamp


class OneTimeInvoiceDrafter(ContractDrafter):
    """An order with only one-time lines: one invoice item per line, swept into an invoice that is finalized."""

    def draft_orders(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        self.invoice_order(initial)  # amendments are not drafted for a one-time order

    def invoice_order(self, order: Mapping[str, Any]) -> None:
        """An order with only one-time lines: one invoice item per line, swept into an invoice that is finalized."""
        mapped, start, term = self.term_and_start(order)
        used_prices: set[str] = set()
        period = None
        if start is not None:
            end = add_months(start, int(term)) if term is not None else start
            period = {"start": midnight_timestamp(start), "end": midnight_timestamp(end)}
        customer = ref("customer", self.contract.account_id or "")
        for line in self.billable_lines(order):
            drafted = self.line(order, line, None, used_prices)
            if drafted is None:
                continue
            entry, _ = drafted
            params = {
                "customer": customer,
                "pricing": {"price": entry["price"]},
                "quantity": entry.get("quantity", 1),
                **({"period": period} if period else {}),
                "metadata": entry.get("metadata", {}),
                **({"discounts": discounts} if (discounts := self.discounts(order, line)) else {}),
            }
            self.add("invoice_item", "OrderItem", line, params, key=f"{line['Id']}-invoice_item")
        settings = {path: value for path, value in mapped.values.items() if path in PAYMENT_TERM_PATHS}
        invoice_values = {  # the schedule's payment terms, unless the invoice target maps its own
            path.removeprefix("default_settings.").removeprefix("invoice_settings."): value
            for path, value in settings.items()
        }
        invoice_values.update(self._map("invoice", "Order", order).values)
        params = {
            "customer": customer,
            "pending_invoice_items_behavior": "include",
            "auto_advance": False,
            **self._build(invoice_values, "Order", order),
            **({"discounts": discounts} if (discounts := self.discounts(order)) else {}),
        }
        self.add("invoice", "Order", order, params)
