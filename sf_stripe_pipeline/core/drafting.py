"""Translation of one contract into desired Stripe objects, collecting every data problem on the way.

One pass both builds the objects (customer F13, products F15, prices F16-F18/F20, the subscription schedule
F22) and records what would make Stripe reject them or bill wrongly (missing required mappings, decimal
quantities, unsupported billing fields, mixed intervals, payment terms...). Validation reports the problems;
translation keeps the objects of contracts that have none. Doing both in one place means a rule can never
disagree with the code that depends on it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sf_stripe_pipeline.core.amendments import (
    NOT_SKIPPED_MESSAGE,
    OVER_TERMINATION_MESSAGE,
    Aggregate,
    PhaseDraft,
    Slot,
    amendment_date_problems,
    inclusive_end,
    merge_same_day,
    proration_months,
    same_day_of_month,
    whole_months_between,
)
from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import Contract, amended_contract_id, quote_of
from sf_stripe_pipeline.core.coupons import (
    QUOTE_COUPON,
    SNAPSHOT,
    SNAPSHOT_LINK_REF,
    SNAPSHOT_REF,
    CouponLink,
    CouponUse,
    snapshot_of,
    coupons_of,
    version_key,
)
from sf_stripe_pipeline.core.desired import DesiredObject, ref, refs_in
from sf_stripe_pipeline.core.mapping import DataMapper, MappedFields, ParamProblem, build_params
from sf_stripe_pipeline.core.mdq import (
    SEGMENT_DATES_MESSAGE,
    Change,
    Segment,
    breakpoints,
    is_mdq_order,
    is_segmented,
    quantity_on,
    segment_end,
    segment_on,
    segment_start,
)
from sf_stripe_pipeline.core.money import add_months, format_decimal, midnight_timestamp, minor_units, to_decimal
from sf_stripe_pipeline.core.paths import TERM_PSEUDO_PATH
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.violations import Violation

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
SUBSCRIPTION_CANCEL = SCHEDULE_CANCEL
"""F40: an evergreen cancellation effective today: no credit, no refund, no final invoice."""
EVERGREEN_SETTINGS = frozenset(
    {"default_settings.collection_method", "default_settings.invoice_settings.days_until_due"}
)


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
    coupon_links: list[CouponLink] = field(default_factory=list)


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
        self,
        stripe_object: str,
        sobject: str,
        record: Mapping[str, Any],
        params: dict,
        cleared: Iterable[str] = (),
        *,
        key: str | None = None,
        end_now: dict | None = None,
        linked_stripe_id: str | None = None,
    ) -> str:
        """Add a desired object; `key` defaults to the record's Id (derived objects such as proration prices have
        their own, and no Stripe_ID__c of their own)."""
        key = key or record["Id"]
        depends_on = tuple(sorted(set(refs_in(params))))
        self.draft.objects.append(
            DesiredObject(
                stripe_object=stripe_object,
                key=key,
                sf_object=sobject,
                sf_id=record["Id"],
                params=params,
                linked_stripe_id=linked_stripe_id or (record.get("Stripe_ID__c") if key == record["Id"] else None),
                contract_keys=(self.contract.key,),
                depends_on=depends_on,
                cleared_paths=tuple(cleared),
                end_now=end_now,
            )
        )
        return key

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

    # -- coupons (F43, F44) -----------------------------------------------------------------------------------

    def discounts(self, order: Mapping[str, Any], line: Mapping[str, Any] | None = None) -> list[dict]:
        """`discounts` for a phase or subscription (order coupons) or an item (line coupons)."""
        found = coupons_of(self.org, order, line)
        record_object, record = ("Order", order) if line is None else ("OrderItem", line)
        if found.problem:
            self.problem("coupon_associations", record_object, record["Id"], found.problem)
        currency = _currency(order, default=self.context.config.default_currency)
        return [{"coupon": ref("coupon", key)} for use in found.uses if (key := self.coupon(use, currency))]

    def coupon_params(self, snapshot: Mapping[str, Any], currency: str, sobject: str, sf_id: str) -> dict:
        mapped = self.context.mapper.map("coupon", snapshot, self.org)
        values = dict(mapped.values)
        amount, percent = values.pop("amount_off", None), values.pop("percent_off", None)
        months, redemptions = values.pop("duration_in_months", None), values.pop("max_redemptions", None)
        params = self._build(values, sobject, {"Id": sf_id})
        params.setdefault("duration", "once")
        if (amount is None) == (percent is None):
            self.problem("coupon_terms", sobject, sf_id, "exactly one of Amount_Off__c and Percent_Off__c must be set")
        elif percent is not None:
            if not 0 < percent <= 100:
                self.problem("coupon_terms", sobject, sf_id, f"Percent_Off__c {percent:g} must be above 0 and at most 100")
            params["percent_off"] = percent
        else:
            currency = str(snapshot.get("CurrencyIsoCode") or currency).lower()
            params.update(amount_off=int(minor_units(amount, currency)), currency=currency)
        if params["duration"] == "repeating":
            if months is None:
                self.problem("coupon_terms", sobject, sf_id, "a repeating coupon needs Duration_In_Months__c")
            else:
                params["duration_in_months"] = int(months)
        if redemptions is not None:
            params["max_redemptions"] = int(redemptions)
        return params

    def coupon(self, use: CouponUse, currency: str) -> str | None:
        """The Stripe coupon for one use: one per Salesforce coupon version, reused while its terms are equal."""
        quote_coupon = use.quote_coupon
        if quote_coupon is None:
            self.problem(
                "coupon_source",
                SNAPSHOT,
                use.snapshot.get("Id") or "",
                f"its Quote_Stripe_Coupon_Id__c {use.snapshot.get('Quote_Stripe_Coupon_Id__c')!r} names no coupon",
            )
            return None
        record = {"Id": quote_coupon["Id"]}
        params = self.coupon_params(use.snapshot, currency, QUOTE_COUPON, quote_coupon["Id"])
        key = version_key(quote_coupon["Id"], params)
        with self._collecting():  # the coupon's current terms only tell whether it is still this version
            current = self.coupon_params(snapshot_of(quote_coupon, "Order__c", ""), currency, QUOTE_COUPON, "")
        current_version = version_key(quote_coupon["Id"], current) == key
        # F10: the coupon points at the order coupon it was made from; a snapshot made in this run gets its Id
        # when the shell creates it, just before the Stripe writes.
        if use.exists:
            params["metadata"].update(self.context.back_references(SNAPSHOT, use.snapshot["Id"]))
        else:
            name = METADATA_PREFIX + metadata_type_name(SNAPSHOT)
            params["metadata"].update(
                {f"{name}_id": ref(SNAPSHOT_REF, use.snapshot_key), f"{name}_link": ref(SNAPSHOT_LINK_REF, use.snapshot_key)}
            )
        # Reused only while its terms are equal: the planner makes a new coupon when the linked one differs.
        linked = use.snapshot.get("Stripe_ID__c") or quote_coupon.get("Stripe_ID__c")
        address = self.add("coupon", QUOTE_COUPON, record, params, key=key, linked_stripe_id=linked)
        self.draft.coupon_links.append(CouponLink(use, f"coupon:{address}", current_version))
        return key

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

    def renewable_contract(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        """F22, F30-F32, F35, F37, F38: the initial order and every amendment, replayed into one schedule."""
        schedule_mapped, start, term = self.term_and_start(initial)
        end = add_months(start, int(term)) if start is not None and term is not None else None
        timeline = _Timeline(start, end)
        for order in (initial, *amendments):
            timeline.add(self.order_phase(order, timeline, term if order is initial else None))
        self._check_intervals(initial, timeline.intervals)
        leftover = self.term_leftover(initial, term, timeline.intervals, amended=bool(amendments))
        if start is None or end is None:
            return
        phases, terminated = timeline.laid_out(self)
        if leftover:
            boundary = add_months(start, int(term or 0) - leftover)  # from the start: month ends stay right
            phases = self.backend_proration(phases, timeline, boundary, leftover)
        refreshed = [self._map("subscription_schedule", "Order", order).values for order in amendments]
        self.schedule(initial, schedule_mapped, refreshed, start, phases, terminated)

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

    def order_phase(self, order: Mapping[str, Any], timeline: _Timeline, initial_term: float | None) -> PhaseDraft | None:
        """The phase an order opens: the aggregate after its lines, its one-time lines, and its phase fields.
        `initial_term` is given for the initial order only."""
        is_initial = initial_term is not None or not timeline.phases
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
        lines = self.billable_lines(order)
        if not is_initial and lines and all(line.get("SBQQ__SubscriptionPricing__c") is None for line in lines):
            self.problem(
                "amendment_not_all_one_time",
                "Order",
                order["Id"],
                "The amendment order represents all one-time invoices. Create a new, separate order for one-time items.",
            )
        partial_month = (
            not is_initial
            and order_start is not None
            and timeline.initial_start is not None
            and not same_day_of_month(timeline.initial_start, order_start)
        )
        for line in lines:
            quantity = line.get("Quantity") or 0
            if quantity < 0 and not is_initial:
                self.net_line(line, quantity, timeline.aggregate)
                continue
            drafted = self.line(order, line, term, timeline.used_prices)
            if drafted is None:
                continue
            entry, candidate = drafted
            if line_discounts := self.discounts(order, line):
                entry = {**entry, "discounts": line_discounts}
            if candidate.interval is None:
                invoice_items.append(entry)
                continue
            recurring.append(line["Id"])
            timeline.intervals.setdefault(candidate.interval, []).append(line["Id"])
            origin = line.get("SBQQ__RevisedOrderProduct__c") or line["Id"]
            item = {key: value for key, value in entry.items() if key != "quantity"}
            timeline.aggregate.open(Slot(line["Id"], origin, max(quantity, 0), item, candidate.metered))
            timeline.candidates[line["Id"]] = candidate
            if not is_initial and order_start is not None and timeline.end is not None:
                invoice_items += self.proration_items(line, candidate, entry, term, order_start, partial_month)
        if len(recurring) > MAX_RECURRING_LINES:
            self.problem(
                "max_recurring_lines",
                "Order",
                order["Id"],
                f"{len(recurring)} recurring lines; at most {MAX_RECURRING_LINES} are supported",
            )
        if order_start is None:
            return None
        extra = self.phase_fields(order, order_start, first=is_initial)
        return PhaseDraft(order_start, order["Id"], timeline.aggregate.items(), invoice_items, extra)

    def phase_fields(self, order: Mapping[str, Any], start: date, *, first: bool) -> dict:
        """A phase's mapped fields, its order's coupons and, unless it is a backdated first phase whose elapsed
        periods Stripe should bill (F23), `proration_behavior=none`."""
        extra = self._build(self.context.mapper.map("subscription_phase", order, self.org).values, "Order", order)
        if order_discounts := self.discounts(order):  # each phase has its own order's coupons only
            extra["discounts"] = order_discounts
        if not first or start >= self.context.today or order.get("Skip_Past_Initial_Invoices__c"):
            extra["proration_behavior"] = "none"
        return extra

    def billable_lines(self, order: Mapping[str, Any]) -> list[dict]:
        lines = sorted(self.org.children("OrderItem", "OrderId", order["Id"]), key=lambda line: line["Id"])
        return [line for line in lines if not line.get("Skip_Line_Item__c")]  # F25

    def decimal_quantity(self, line: Mapping[str, Any], quantity: float) -> None:
        self.problem(
            "integer_quantity",
            "OrderItem",
            line["Id"],
            f"Quantity {quantity:g} specified as a decimal value. Only integers are supported.",
        )

    def net_line(self, line: Mapping[str, Any], quantity: float, aggregate: Aggregate) -> None:
        """F30: a negative amendment line reduces the chain of the line it revises."""
        if not float(quantity).is_integer():
            self.decimal_quantity(line, quantity)
            return
        origin = line.get("SBQQ__RevisedOrderProduct__c")
        if origin is None:
            self.problem(
                "revised_line_present",
                "OrderItem",
                line["Id"],
                f"a negative quantity ({quantity:g}) needs SBQQ__RevisedOrderProduct__c naming the line it reduces",
            )
            return
        error = aggregate.net(origin, -quantity)
        if error:
            self.problem("amendment_netting", "OrderItem", line["Id"], error)

    def proration_items(
        self,
        line: Mapping[str, Any],
        candidate: PriceCandidate,
        entry: Mapping[str, Any],
        term: float | None,
        start: date,
        partial_month: bool,
    ) -> list[dict]:
        """F32 (Month precision): a new licensed line starting off-cycle is billed up to the next billing date by a
        one-time price worth `unit x months / frequency`, as the amendment phase's `add_invoice_items`."""
        if term is None or candidate.metered or "quantity" not in entry:
            return []
        months = proration_months(term, candidate.params["recurring"]["interval_count"], partial_month=partial_month)
        if not months:
            return []
        next_billing = midnight_timestamp(add_months(start, months))
        period = {"start": {"type": "phase_start"}, "end": {"type": "timestamp", "timestamp": next_billing}}
        return [self.proration_item(line, candidate, entry, months, key=f"{line['Id']}-proration", period=period)]

    def proration_item(
        self,
        line: Mapping[str, Any],
        candidate: PriceCandidate,
        entry: Mapping[str, Any],
        months: int,
        *,
        key: str,
        period: dict,
    ) -> dict:
        """An `add_invoice_items` entry billing `months` of a recurring line once: a one-time copy of its price
        worth `unit x months / frequency` (F28, F32)."""
        recurring = candidate.params["recurring"]
        unit = to_decimal(candidate.params["unit_amount_decimal"]) * months / recurring["interval_count"]
        marks = {"salesforce_proration": "true"}
        params = {
            name: value for name, value in candidate.params.items() if name not in ("recurring", "unit_amount_decimal")
        }
        params.update(
            unit_amount_decimal=format_decimal(unit),
            metadata={**candidate.params["metadata"], **marks, "salesforce_auto_archive": "true"},
        )
        self.add("price", "OrderItem", line, params, key=key)
        return {
            "price": ref("price", key),
            "quantity": entry["quantity"],
            "period": period,
            "metadata": {**entry.get("metadata", {}), **marks},
        }

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

    def _check_intervals(self, order: Mapping[str, Any], intervals: dict[tuple[str, int], list[str]]) -> None:
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

    def term_leftover(
        self,
        order: Mapping[str, Any],
        term: float | None,
        intervals: Mapping[tuple[str, int], list[str]],
        *,
        amended: bool,
    ) -> int:
        """F28: the months a term runs past its last whole billing period (0 when it is a multiple). Only backend
        proration (term longer than the frequency, no amendments yet) is supported; the rest is reported."""
        if term is None or len(intervals) != 1:
            return 0
        [((_, months), line_ids)] = intervals.items()
        leftover = int(term) % months
        if not leftover:
            return 0
        unsupported = None
        if term < months:
            unsupported = "a term shorter than the billing frequency (frontend proration, F28)"
        elif amended:
            unsupported = "amending a contract whose term is not a multiple of its billing frequency (F28)"
        if unsupported is None:
            return leftover
        self.problem(
            "not_yet_supported",
            "Order",
            order["Id"],
            f"a {term:g}-month term is not a multiple of the {months}-month billing frequency of "
            f"{', '.join(line_ids)}: {unsupported} - not yet supported",
        )
        return 0

    def backend_proration(self, phases: list[dict], timeline: _Timeline, boundary: date, leftover: int) -> list[dict]:
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

    def schedule(
        self,
        order: Mapping[str, Any],
        mapped: MappedFields,
        refreshed: list[Mapping[str, Any]],
        start: date,
        phases: list[dict],
        terminated: bool,
    ) -> None:
        values = {path: value for path, value in mapped.values.items() if path != "start_date"}
        for amendment_values in refreshed:  # F38: only these follow the latest amendment
            values.update({path: v for path, v in amendment_values.items() if path in REFRESHED_SCHEDULE_PATHS})
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


    # -- MDQ ramps (F41, F42) -----------------------------------------------------------------------------------

    def mdq_contract(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        """F41/F42: one phase per segment of the initial order, with each amendment replayed onto the segments."""
        schedule_mapped, start, term = self.term_and_start(initial)
        if start is None or term is None:
            return
        end = add_months(start, int(term))
        ramp = _Ramp(start, end, self.mdq_segments(initial, end))
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
        self._check_intervals(initial, ramp.intervals)
        days = [*(segment.start for segment in ramp.segments), *(c.start for c in ramp.changes), *ramp.invoice_items]
        timeline = _Timeline(start, end)
        timeline.phases = [self.mdq_phase(day, ramp, orders) for day in breakpoints(start, end, days)]
        phases, terminated = timeline.laid_out(self)
        refreshed = [self._map("subscription_schedule", "Order", order).values for order in amendments]
        self.schedule(initial, schedule_mapped, refreshed, start, phases, terminated)

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

    def mdq_lines(self, order: Mapping[str, Any], ramp: _Ramp, order_start: date, term: float) -> None:
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
            origin = line.get("SBQQ__RevisedOrderProduct__c") or line["Id"]
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
        ramp: _Ramp,
        segment: Segment | None,
        months: float,
        order_start: date,
    ) -> None:
        """Draft a line's price; a recurring line becomes a ramp item, a one-time line an invoice item."""
        # Stripe refuses one price twice in a phase: a segment line shares phases with unsegmented lines only.
        in_its_phases = ramp.used[segment.index] if segment else set().union(*ramp.used.values())
        taken = in_its_phases | ramp.unsegmented_prices
        before = set(taken)
        drafted = self.line(order, line, months, taken)
        (ramp.used[segment.index] if segment else ramp.unsegmented_prices).update(taken - before)
        if drafted is None:
            return
        entry, candidate = drafted
        if line_discounts := self.discounts(order, line):
            entry = {**entry, "discounts": line_discounts}
        if candidate.interval is None:
            ramp.invoice_items[order_start].append(entry)
            return
        ramp.intervals.setdefault(candidate.interval, []).append(line["Id"])
        item = {key: value for key, value in entry.items() if key != "quantity"}
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

    def mdq_phase(self, day: date, ramp: _Ramp, orders: list[tuple[date, Mapping[str, Any]]]) -> PhaseDraft:
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

    # -- one-time-only orders (F26) -----------------------------------------------------------------------------

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
        settings = {path: value for path, value in mapped.values.items() if path in EVERGREEN_SETTINGS}
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

    # -- evergreen orders (F39, F40) ---------------------------------------------------------------------------

    def evergreen_contract(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
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
        for amendment in amendments:
            cancellation = self.evergreen_amendment(amendment, aggregate, used_prices, linked) or cancellation
        if not isinstance(start, date) or settings is None:
            return
        metadata = self._build({}, "Order", initial)["metadata"]
        # A cancellation keeps the items billing until it takes effect.
        cancel_on, items = cancellation if cancellation else (None, aggregate.items())
        if start > self.context.today and not linked.startswith("sub_"):
            self.add("subscription_schedule", "Order", initial, self.evergreen_schedule(initial, start, items, settings))
            return
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
            {path: value for path, value in mapped.values.items() if path in EVERGREEN_SETTINGS}, "Order", order
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
        drafted = self.line(order, line, None, used_prices)  # evergreen prices are per period already
        if drafted is None:
            return
        entry, candidate = drafted
        if line_discounts := self.discounts(order, line):
            entry = {**entry, "discounts": line_discounts}
        origin = line.get("SBQQ__RevisedOrderProduct__c") or line["Id"]
        item = {key: value for key, value in entry.items() if key != "quantity"}
        aggregate.open(Slot(line["Id"], origin, max(line.get("Quantity") or 0, 0), item, candidate.metered))

    def evergreen_amendment(
        self, amendment: Mapping[str, Any], aggregate: Aggregate, used_prices: set[str], linked: str
    ) -> tuple[date, list[dict]] | None:
        """Apply one amendment; if it zeroes every item (F40), the date it cancels on and the items until then."""
        _, start, _ = self.term_and_start(amendment)
        before = aggregate.items()
        if linked.startswith("sub_sched_"):
            self.problem(
                "evergreen_started",
                "Order",
                amendment["Id"],
                "Amending a Salesforce evergreen order that has not started is not yet supported: sync the "
                "amendment once the evergreen subscription has begun.",
            )
        for line in self.billable_lines(amendment):
            quantity = line.get("Quantity") or 0
            if quantity < 0:
                self.net_line(line, quantity, aggregate)
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
        """F39: a future evergreen order is a schedule released into a plain subscription as soon as it starts."""
        begins = midnight_timestamp(start)
        return {
            "customer": ref("customer", self.contract.account_id or ""),
            "start_date": begins,
            "end_behavior": "release",
            "default_settings": {
                "collection_method": settings["collection_method"],
                "invoice_settings": {"days_until_due": settings["days_until_due"]},
            },
            "metadata": self._build({}, "Order", order)["metadata"],
            "phases": [{"items": items, "end_date": begins + 1, "proration_behavior": "none"}],
        }


@dataclass
class _Ramp:
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


class _Timeline:
    """The phases a contract's orders open, in order, and the aggregate they share."""

    def __init__(self, initial_start: date | None, end: date | None):
        self.initial_start = initial_start
        self.end = end
        self.aggregate = Aggregate()
        self.used_prices: set[str] = set()
        self.intervals: dict[tuple[str, int], list[str]] = {}
        self.candidates: dict[str, PriceCandidate] = {}
        """The price drafted for each line that opened a slot (F28 bills leftover months with copies of them)."""
        self.phases: list[PhaseDraft] = []
        self.terminated_by: str | None = None

    def add(self, phase: PhaseDraft | None) -> None:
        if phase is None:
            return
        if self.phases and not phase.items and self.terminated_by is None:
            self.terminated_by = phase.order_id
        self.phases.append(phase)

    def laid_out(self, drafter: _ContractDrafter) -> tuple[list[dict], bool]:
        """Phase params with their end dates; whether a termination ends the contract today or earlier (F35)."""
        phases = merge_same_day(self.phases)
        ends = [phase.start for phase in phases[1:]] + [self.end]
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
        return laid_out, terminated_on is not None and terminated_on <= drafter.context.today


def draft_contract(context: TranslationContext, contract: Contract) -> ContractDraft:
    """Desired objects and data problems of a contract in this issue's scope: a new renewable initial order."""
    drafter = _ContractDrafter(context, contract)
    org = context.org
    order = org.get("Order", contract.initial_order_id)
    account = org.get("Account", contract.account_id)
    amendments = [  # a draft amendment is not part of the contract until it is activated (spec 1.1)
        found
        for order_id in contract.amendment_order_ids
        if (found := org.get("Order", order_id)) and found.get("Status") == "Activated"
    ]
    if order is not None and account is not None:
        drafter.customer(account)
        lines = drafter.billable_lines(order)
        if any(line.get("SBQQ__SubscriptionType__c") == "Evergreen" for line in lines):
            drafter.evergreen_contract(order, amendments)
        elif lines and all(line.get("SBQQ__SubscriptionPricing__c") is None for line in lines):
            drafter.invoice_order(order)
        elif is_mdq_order(lines):
            drafter.mdq_contract(order, amendments)
        else:
            drafter.renewable_contract(order, amendments)
    return drafter.draft
