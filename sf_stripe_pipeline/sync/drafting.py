"""Translation of one contract into desired Stripe objects, collecting every data problem on the way.

One pass both builds the objects (customer F13, products F15, prices F16-F18/F20, the subscription schedule
F22) and records what would make Stripe reject them or bill wrongly (missing required mappings, decimal
quantities, unsupported billing fields, mixed intervals, payment terms...). Validation reports the problems;
translation keeps the objects of contracts that have none. Doing both in one place means a rule can never
disagree with the code that depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sf_stripe_pipeline.sync.config import SyncConfig
from sf_stripe_pipeline.sync.contracts import Contract, quote_of
from sf_stripe_pipeline.sync.desired import DesiredObject, ref, refs_in
from sf_stripe_pipeline.sync.mapping import DataMapper, MappedFields, ParamProblem, build_params
from sf_stripe_pipeline.sync.money import add_months, format_decimal, midnight_timestamp, minor_units
from sf_stripe_pipeline.sync.paths import TERM_PSEUDO_PATH
from sf_stripe_pipeline.sync.records import OrgSnapshot
from sf_stripe_pipeline.sync.violations import Violation

METADATA_PREFIX = "salesforce_"
BILLING_FREQUENCY_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
USAGE_TYPES = {
    None: "licensed",
    "Advance": "licensed",
    "Arrears": "metered",
    "licensed": "licensed",
    "metered": "metered",
}
MAX_RECURRING_LINES = 100
DESCRIPTION_LIMIT = 350
SHIPPING_PHONE_LIMIT = 20
PRORATE_MULTIPLIER_TOLERANCE = 1e-10


def metadata_type_name(sobject: str) -> str:
    """Spec §1.12: `PricebookEntry` -> `pricebook_entry`, `SBQQ__Quote__c` -> `quote`, `OrderItemX` -> `oi_x`."""
    bare = sobject.removeprefix("SBQQ__").removesuffix("__c")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", bare).lower()
    return "oi_" + name[len("order_item_") :] if name.startswith("order_item_") else name


@dataclass(frozen=True)
class TranslationContext:
    org: OrgSnapshot
    config: SyncConfig
    mapper: DataMapper
    today: date
    instance_url: str

    def back_references(self, sobject: str, sf_id: str) -> dict[str, str]:
        """F10: `salesforce_<type>_id` and `_link` on every object the sync creates."""
        name = METADATA_PREFIX + metadata_type_name(sobject)
        return {f"{name}_id": sf_id, f"{name}_link": f"{self.instance_url.rstrip('/')}/{sf_id}"}


@dataclass
class ContractDraft:
    objects: list[DesiredObject] = field(default_factory=list)
    problems: list[Violation] = field(default_factory=list)


@dataclass(frozen=True)
class PriceCandidate:
    """Create params for one price, from a PricebookEntry or an OrderItem, with what is wrong with them."""

    params: dict
    cleared: tuple[str, ...]
    problems: tuple[Violation, ...]

    @property
    def billing_terms(self) -> tuple:
        """F17's equivalence: the fields that decide what a customer is billed (metadata ignored)."""
        recurring = self.params.get("recurring") or {}
        return (
            repr(self.params.get("product")),
            self.params.get("currency"),
            self.params.get("unit_amount_decimal"),
            self.params.get("tax_behavior"),
            self.params.get("billing_scheme", "per_unit"),
            tuple(recurring.get(key) for key in ("interval", "interval_count", "usage_type")),
        )

    @property
    def interval(self) -> tuple[str, int] | None:
        recurring = self.params.get("recurring")
        return (recurring["interval"], recurring["interval_count"]) if recurring else None

    @property
    def metered(self) -> bool:
        return (self.params.get("recurring") or {}).get("usage_type") == "metered"


def _currency(*records: Mapping[str, Any] | None, default: str) -> str:
    for record in records:
        if record and record.get("CurrencyIsoCode"):
            return str(record["CurrencyIsoCode"]).lower()
    return default.lower()


def _has_address(address: Mapping[str, Any] | None) -> bool:
    return bool(address) and any(address.values())  # type: ignore[union-attr]


class _ContractDrafter:
    """Drafts one contract; every method appends to `draft` rather than raising, so all problems are found."""

    def __init__(self, context: TranslationContext, contract: Contract):
        self.context = context
        self.org = context.org
        self.contract = contract
        self.draft = ContractDraft()

    # -- bookkeeping -------------------------------------------------------------------------------------------

    @contextmanager
    def _collecting(self) -> Iterator[list[Violation]]:
        """Route problems into a separate list, for drafts that may be discarded."""
        outer, self.draft.problems = self.draft.problems, []
        try:
            yield self.draft.problems
        finally:
            self.draft.problems = outer

    def problem(self, rule: str, sobject: str, sf_id: str, detail: str) -> None:
        self.draft.problems.append(Violation.on(rule, sobject, sf_id, detail))

    def _param_problems(self, problems: list[ParamProblem], sobject: str, sf_id: str) -> list[Violation]:
        return [Violation.on(p.rule, sobject, sf_id, p.message) for p in problems]

    def _map(self, target: str, sobject: str, record: Mapping[str, Any]) -> MappedFields:
        mapped = self.context.mapper.map(target, record, self.org)
        if mapped.missing_required:
            self.problem(
                "required_mappings",
                sobject,
                record["Id"],
                "The following required fields are missing: " + ", ".join(mapped.missing_required),
            )
        return mapped

    def _build(self, mapped_values: Mapping[str, Any], sobject: str, record: Mapping[str, Any]) -> dict:
        params, problems = build_params(mapped_values, self.context.back_references(sobject, record["Id"]))
        self.draft.problems.extend(self._param_problems(problems, sobject, record["Id"]))
        return params

    def add(
        self, stripe_object: str, sobject: str, record: Mapping[str, Any], params: dict, cleared: Iterable[str] = ()
    ) -> str:
        depends_on = tuple(sorted(set(refs_in(params))))
        self.draft.objects.append(
            DesiredObject(
                stripe_object=stripe_object,
                key=record["Id"],
                sf_object=sobject,
                sf_id=record["Id"],
                params=params,
                linked_stripe_id=record.get("Stripe_ID__c"),
                contract_keys=(self.contract.key,),
                depends_on=depends_on,
                cleared_paths=tuple(cleared),
            )
        )
        return record["Id"]

    # -- customers and products (F13, F15) ---------------------------------------------------------------------

    def customer(self, account: Mapping[str, Any]) -> None:
        mapped = self._map("customer", "Account", account)
        params = self._build(mapped.values, "Account", account)
        cleared = list(mapped.empty_paths)
        if "description" in params:
            params["description"] = str(params["description"])[:DESCRIPTION_LIMIT]
        shipping = params.get("shipping")
        if shipping is not None:
            if "phone" in shipping:
                shipping["phone"] = str(shipping["phone"])[:SHIPPING_PHONE_LIMIT]
            if not _has_address(shipping.get("address")):
                del params["shipping"]
                cleared = [path for path in cleared if not path.startswith("shipping.")] + ["shipping"]
        self.add("customer", "Account", account, params, cleared)

    def product(self, product: Mapping[str, Any]) -> None:
        mapped = self._map("product", "Product2", product)
        self.add("product", "Product2", product, self._build(mapped.values, "Product2", product), mapped.empty_paths)

    # -- prices (F16-F18, F20) ---------------------------------------------------------------------------------

    def price_candidate(
        self,
        target: str,
        sobject: str,
        record: Mapping[str, Any],
        *,
        product_id: str,
        recurring: bool,
        currency: str,
        term_months: float | None = None,
    ) -> PriceCandidate:
        """F16-F18: the price this record describes. Order lines carry the whole-term unit price, so licensed
        recurring lines are divided by the number of billing periods in the term, unless a custom price field is
        mapped (then it is taken as the per-period amount)."""
        with self._collecting() as problems:
            mapped = self._map(target, sobject, record)
            values = dict(mapped.values)
            amount = values.pop("unit_amount_decimal", None)
            frequency = values.pop("recurring.interval_count", None)
            billing_type = values.pop("recurring.usage_type", None)
            params = self._build(values, sobject, record)
            mapped_recurring = params.pop("recurring", {})
            if recurring:
                params["recurring"] = {
                    "interval": "month",
                    **mapped_recurring,
                    "interval_count": self._interval_months(frequency, sobject, record["Id"]),
                    "usage_type": self._usage_type(billing_type, sobject, record["Id"]),
                }
            elif billing_type == "Arrears":
                self.problem(
                    "billing_type_supported",
                    sobject,
                    record["Id"],
                    "billing type Arrears (metered) needs a recurring product "
                    "(set SBQQ__SubscriptionPricing__c) or billing type Advance",
                )
            params.update(product=ref("product", product_id), currency=currency)
            if amount is not None:
                whole_term = (  # F18: licensed recurring lines priced for the whole term, no custom price field
                    recurring
                    and term_months
                    and params["recurring"]["usage_type"] == "licensed"
                    and "unit_amount_decimal" not in mapped.user_paths
                )
                periods = term_months / params["recurring"]["interval_count"] if whole_term else None
                params["unit_amount_decimal"] = self._unit_amount(record, sobject, amount, currency, periods)
        return PriceCandidate(params, tuple(mapped.empty_paths), tuple(problems))

    def _unit_amount(
        self, record: Mapping[str, Any], sobject: str, amount: Any, currency: str, periods: float | None
    ) -> str:
        unit_amount = minor_units(amount, currency)
        if periods is not None:
            unit_amount /= Decimal(repr(float(periods)))
            self._check_prorate_multiplier(record, periods)
        if unit_amount < 0:
            self.problem(
                "negative_amount",
                sobject,
                record["Id"],
                f"negative unit price {amount}; Stripe prices cannot be negative",
            )
        return format_decimal(unit_amount)

    def _interval_months(self, frequency: Any, sobject: str, sf_id: str) -> int:
        if frequency is None:
            return 1  # the connector's documented fallback for a blank billing frequency
        if isinstance(frequency, int | float) and float(frequency).is_integer() and frequency > 0:
            return int(frequency)
        if frequency in BILLING_FREQUENCY_MONTHS:
            return BILLING_FREQUENCY_MONTHS[frequency]
        self.problem(
            "billing_frequency_supported",
            sobject,
            sf_id,
            f"billing frequency {frequency!r} isn't supported; use Monthly, Quarterly, Semiannual or Annual",
        )
        return 1

    def _usage_type(self, billing_type: Any, sobject: str, sf_id: str) -> str:
        if billing_type in USAGE_TYPES:
            return USAGE_TYPES[billing_type]
        self.problem(
            "billing_type_supported",
            sobject,
            sf_id,
            f"billing type {billing_type!r} isn't a supported CPQ Product Billing Type option (Advance or Arrears)",
        )
        return "licensed"

    def _check_prorate_multiplier(self, line: Mapping[str, Any], expected: float) -> None:
        recorded = line.get("SBQQ__ProrateMultiplier__c")
        if (
            self.context.config.prorate_precision == "month_and_day"
            and recorded is not None
            and abs(recorded - expected) > PRORATE_MULTIPLIER_TOLERANCE
        ):
            self.problem(
                "prorate_multiplier",
                "OrderItem",
                line["Id"],
                f"calculated price multiplier {expected:g} (term / billing months) differs "
                f"from CPQ's SBQQ__ProrateMultiplier__c {recorded:g}; check CPQ's prorate precision setting",
            )

    # -- the initial order (F22) -------------------------------------------------------------------------------

    def term_and_start(self, order: Mapping[str, Any]) -> tuple[MappedFields, date | None, float | None]:
        mapped = self._map("subscription_schedule", "Order", order)
        phase_term = self.context.mapper.map("subscription_phase", order, self.org).values.get(TERM_PSEUDO_PATH)
        term = phase_term if phase_term is not None else mapped.values.get(TERM_PSEUDO_PATH)
        if term is not None and (not float(term).is_integer() or term <= 0):
            quote = quote_of(self.org, order) or {"Id": order["Id"]}
            self.problem(
                "integer_term",
                "SBQQ__Quote__c",
                quote["Id"],
                f"subscription term {term:g} must be a whole, positive number of months",
            )
            term = None
        start = mapped.values.get("start_date")
        return mapped, start if isinstance(start, date) else None, term

    def order(self, order: Mapping[str, Any]) -> None:
        schedule_mapped, start, term = self.term_and_start(order)
        items: list[dict] = []
        invoice_items: list[dict] = []
        intervals: dict[tuple[str, int], list[str]] = {}
        used_prices: set[str] = set()
        lines = sorted(self.org.children("OrderItem", "OrderId", order["Id"]), key=lambda line: line["Id"])
        for line in lines:
            if line.get("Skip_Line_Item__c"):
                continue  # F25
            drafted = self.line(order, line, term, used_prices)
            if drafted is None:
                continue
            entry, candidate = drafted
            if candidate.interval:
                items.append(entry)
                intervals.setdefault(candidate.interval, []).append(line["Id"])
            else:
                invoice_items.append(entry)
        self._check_lines(order, items, intervals, term)
        if start is None or term is None:
            return
        self.schedule(order, schedule_mapped, start, int(term), items, invoice_items)

    def line(
        self, order: Mapping[str, Any], line: Mapping[str, Any], term: float | None, used_prices: set[str]
    ) -> tuple[dict, PriceCandidate] | None:
        product = self.org.get("Product2", line.get("Product2Id"))
        entry = self.org.get("PricebookEntry", line.get("PricebookEntryId"))
        if product is None or entry is None:
            self.problem(
                "references_resolve",
                "OrderItem",
                line["Id"],
                f"its Product2 ({line.get('Product2Id')}) and PricebookEntry "
                f"({line.get('PricebookEntryId')}) must both be present in the extracted org",
            )
            return None
        self.product(product)
        line_candidate = self.price_candidate(
            "price_order_item",
            "OrderItem",
            line,
            product_id=line["Product2Id"],
            recurring=line.get("SBQQ__SubscriptionPricing__c") is not None,
            currency=_currency(line, order, default=self.context.config.default_currency),
            term_months=term,
        )
        entry_candidate = self.price_candidate(
            "price",
            "PricebookEntry",
            entry,
            product_id=entry["Product2Id"],
            recurring=product.get("SBQQ__SubscriptionPricing__c") is not None,
            currency=_currency(entry, default=self.context.config.default_currency),
        )
        reuse_entry = not entry_candidate.problems and entry_candidate.billing_terms == line_candidate.billing_terms
        # Only phase items need distinct prices; one-time invoice items may share one.
        if reuse_entry and (entry["Id"] not in used_prices or entry_candidate.interval is None):
            candidate, price_key = (
                entry_candidate,
                self.add("price", "PricebookEntry", entry, entry_candidate.params, entry_candidate.cleared),
            )
        else:
            candidate = line_candidate
            params = dict(
                line_candidate.params, metadata={**line_candidate.params["metadata"], "salesforce_auto_archive": "true"}
            )
            if reuse_entry:  # F21: Stripe forbids one price twice in a phase, so this line gets a copy
                params["metadata"].update(
                    salesforce_duplicate="true", salesforce_original_stripe_price_id=ref("price", entry["Id"])
                )
            price_key = self.add("price", "OrderItem", line, params, line_candidate.cleared)
        # The line's own data must be right even when the price book's price is used; a price book candidate
        # with problems is never used, and the line's price replaces it.
        self.draft.problems.extend(line_candidate.problems)
        if candidate.interval is not None:
            used_prices.add(price_key)
        return self.phase_entry(line, price_key, candidate), candidate

    def phase_entry(self, line: Mapping[str, Any], price_key: str, candidate: PriceCandidate) -> dict:
        mapped = self._map("subscription_item", "OrderItem", line)
        values = dict(mapped.values)
        quantity = values.pop("quantity", None)
        entry = {"price": ref("price", price_key), **self._build(values, "OrderItem", line)}
        if quantity is None:
            return entry
        if not float(quantity).is_integer() or quantity < 0:
            reason = "must not be negative in a new order" if quantity < 0 else "specified as a decimal value"
            self.problem(
                "integer_quantity",
                "OrderItem",
                line["Id"],
                f"Quantity {quantity:g} {reason}. Only integers are supported.",
            )
        elif candidate.metered:
            if quantity > 1:
                self.problem(
                    "metered_quantity",
                    "OrderItem",
                    line["Id"],
                    f"metered (Arrears) lines bill reported usage, so their quantity must be 1, not {quantity:g}",
                )
        else:
            entry["quantity"] = int(quantity)
        return entry

    def _check_lines(
        self,
        order: Mapping[str, Any],
        items: list[dict],
        intervals: dict[tuple[str, int], list[str]],
        term: float | None,
    ) -> None:
        order_id = order["Id"]
        if len(items) > MAX_RECURRING_LINES:
            self.problem(
                "max_recurring_lines",
                "Order",
                order_id,
                f"{len(items)} recurring lines; at most {MAX_RECURRING_LINES} are supported",
            )
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
        for (_, months), line_ids in intervals.items():
            if term is not None and term % months:
                self.problem(
                    "not_yet_supported",
                    "Order",
                    order_id,
                    f"a {term:g}-month term is not a multiple of the {months}-month billing "
                    f"frequency of {', '.join(line_ids)} (backend/frontend proration, F28) - not yet supported",
                )

    def schedule(
        self,
        order: Mapping[str, Any],
        mapped: MappedFields,
        start: date,
        term: int,
        items: list[dict],
        invoice_items: list[dict],
    ) -> None:
        schedule_values = {path: value for path, value in mapped.values.items() if path != "start_date"}
        params = {"end_behavior": "cancel", **self._build(schedule_values, "Order", order)}
        phase_values = self.context.mapper.map("subscription_phase", order, self.org).values
        phase = {
            "items": items,
            **({"add_invoice_items": invoice_items} if invoice_items else {}),
            "end_date": midnight_timestamp(add_months(start, term)),
            **self._build(phase_values, "Order", order),
        }
        if start >= self.context.today or order.get("Skip_Past_Initial_Invoices__c"):
            phase["proration_behavior"] = "none"  # otherwise Stripe bills the elapsed periods (F23)
        params.update(
            customer=ref("customer", self.contract.account_id or ""),
            start_date=midnight_timestamp(start),
            phases=[phase],
        )
        self.add("subscription_schedule", "Order", order, params, mapped.empty_paths)


def draft_contract(context: TranslationContext, contract: Contract) -> ContractDraft:
    """Desired objects and data problems of a contract in this issue's scope: a new renewable initial order."""
    drafter = _ContractDrafter(context, contract)
    order = context.org.get("Order", contract.initial_order_id)
    account = context.org.get("Account", contract.account_id)
    if order is not None and account is not None:
        drafter.customer(account)
        drafter.order(order)
    return drafter.draft
