"""The shared drafter: what every kind of contract needs, whatever Stripe object bills it.

One pass both builds the objects and records what would make Stripe reject them or bill wrongly; validation
reports the problems and translation keeps the objects of contracts that have none, so a rule never disagrees
with the code that depends on it. This module holds the parts every contract kind uses: problem collection and
the data mapper (F11), the customer (F13) and products (F15), coupons (F43, F44), prices (F16-F18, F20) with the
choice between the price book's price and a per-line price (F17, F21), the phase or invoice entry of a line,
one-time proration prices (F28, F32) and amendment netting (F30). The subclasses, one per contract kind, lay
these out as schedules, subscriptions or invoices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from fractions import Fraction
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from sf_stripe_pipeline.core.amendments import Aggregate, Netting
from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import Contract, quote_of
from sf_stripe_pipeline.core.coupons import (
    QUOTE_COUPON,
    SNAPSHOT,
    SNAPSHOT_LINK_REF,
    SNAPSHOT_REF,
    CouponLink,
    CouponUse,
    coupons_of,
    snapshot_of,
    version_key,
)
from sf_stripe_pipeline.core.desired import DesiredObject, ref, refs_in
from sf_stripe_pipeline.core.drafting.tiers import (
    LINE_SCHEDULE,
    PRODUCT_SCHEDULE,
    Tiers,
    line_schedules,
    product_schedules,
    tiers_for,
)
from sf_stripe_pipeline.core.mapping import (
    BILLING_FREQUENCY_MONTHS,
    DataMapper,
    MappedFields,
    ParamProblem,
    build_params,
)
from sf_stripe_pipeline.core.money import (
    format_decimal,
    fraction_of,
    minor_units,
    plain_decimal,
    to_decimal,
    whole_minor_units,
    whole_number,
)
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.paths import TERM_PSEUDO_PATH, snake_case
from sf_stripe_pipeline.core.violations import Violation

METADATA_PREFIX = "salesforce_"
USAGE_TYPES = {
    None: "licensed",
    "Advance": "licensed",
    "Arrears": "metered",
    "licensed": "licensed",
    "metered": "metered",
}
DESCRIPTION_LIMIT = 350
SHIPPING_PHONE_LIMIT = 20
PRORATE_MULTIPLIER_TOLERANCE = Decimal("1e-10")
PAYMENT_TERM_PATHS = frozenset(
    {"default_settings.collection_method", "default_settings.invoice_settings.days_until_due"}
)
"""The schedule target's payment terms, which evergreen subscriptions (F39) and one-time invoices (F26) take."""


@cache
def metadata_type_name(sobject: str) -> str:
    """Spec §1.12: `PricebookEntry` -> `pricebook_entry`, `SBQQ__Quote__c` -> `quote`, `OrderItemX` -> `oi_x`."""
    name = snake_case(sobject.removeprefix("SBQQ__").removesuffix("__c"))
    return "oi_" + name[len("order_item_") :] if name.startswith("order_item_") else name


def without_quantity(entry: Mapping[str, Any]) -> dict:
    """A phase item's params less its quantity, which each phase sets from the aggregate of its contract."""
    return {key: value for key, value in entry.items() if key != "quantity"}


def billable_lines(org: OrgSnapshot, order: Mapping[str, Any]) -> list[dict]:
    """An order's lines in Id order, without those marked Skip_Line_Item__c (F25)."""
    lines = sorted(org.children("OrderItem", "OrderId", order["Id"]), key=lambda line: line["Id"])
    return [line for line in lines if not line.get("Skip_Line_Item__c")]


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
    unit_amount: Decimal | None = None
    """The exact per-period amount in minor units, before `unit_amount_decimal` rounds it to 12 places."""

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
            self.params.get("tiers_mode"),
            tuple(
                (tier["up_to"], tier.get("unit_amount_decimal"), tier.get("flat_amount_decimal"))
                for tier in self.params.get("tiers", ())
            ),
            tuple(recurring.get(key) for key in ("interval", "interval_count", "usage_type")),
        )

    @property
    def interval(self) -> tuple[str, int] | None:
        recurring = self.params.get("recurring")
        return (recurring["interval"], recurring["interval_count"]) if recurring else None

    @property
    def metered(self) -> bool:
        return (self.params.get("recurring") or {}).get("usage_type") == "metered"

    @property
    def tiered(self) -> bool:
        """A consumption schedule's price (F19): billed by tier, never prorated (F32) nor credited (F36)."""
        return self.params.get("billing_scheme") == "tiered"


def _currency(*records: Mapping[str, Any] | None, default: str) -> str:
    for record in records:
        if record and record.get("CurrencyIsoCode"):
            return str(record["CurrencyIsoCode"]).lower()
    return default.lower()


def _has_address(address: Mapping[str, Any] | None) -> bool:
    return bool(address) and any(address.values())  # type: ignore[union-attr]


class ContractDrafter:
    """Drafts one contract; every method appends to `draft` rather than raising, so all problems are found.
    A subclass per contract kind implements `draft_orders`."""

    def __init__(self, context: TranslationContext, contract: Contract):
        self.context = context
        self.org = context.org
        self.contract = contract
        self.draft = ContractDraft()

    def draft_orders(self, initial: Mapping[str, Any], amendments: list[Mapping[str, Any]]) -> None:
        """Draft the contract's objects from its initial order and its activated amendments, in order."""
        raise NotImplementedError

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
            percent = self._number(percent, "Percent_Off__c", sobject, sf_id)
            if percent is not None and not 0 < percent <= 100:
                self.problem(
                    "coupon_terms", sobject, sf_id, f"Percent_Off__c {percent:f} must be above 0 and at most 100"
                )
            elif percent is not None:  # Stripe's percent_off is a decimal number: its exact text, or an int
                whole = whole_number(percent)
                params["percent_off"] = whole if whole is not None else format(plain_decimal(percent), "f")
        else:
            currency = str(snapshot.get("CurrencyIsoCode") or currency).lower()
            params.update(currency=currency)
            if (amount_off := self.coupon_amount(amount, currency, sobject, sf_id)) is not None:
                params["amount_off"] = amount_off
        if params["duration"] == "repeating":
            if months is None:
                self.problem("coupon_terms", sobject, sf_id, "a repeating coupon needs Duration_In_Months__c")
            elif (whole_months := self._positive_whole(months, "Duration_In_Months__c", sobject, sf_id)) is not None:
                params["duration_in_months"] = whole_months
        if redemptions is not None:
            if (whole_redemptions := self._positive_whole(redemptions, "Max_Redemptions__c", sobject, sf_id)):
                params["max_redemptions"] = whole_redemptions
        return params

    def coupon_amount(self, amount: Any, currency: str, sobject: str, sf_id: str) -> int | None:
        """F44: `amount_off` in whole minor units, exactly; an amount with a fraction of a minor unit (10.005 USD)
        or not above 0 is a named problem, never truncated into a different discount."""
        value = self._number(amount, "Amount_Off__c", sobject, sf_id)
        if value is None:
            return None
        minor = whole_minor_units(value, currency)
        if minor is None:
            self.problem(
                "coupon_amount_precision",
                sobject,
                sf_id,
                f"Amount_Off__c {value:f} {currency.upper()} is {minor_units(value, currency):f} minor units; Stripe "
                "takes a coupon amount in whole minor units. Round it to the currency's smallest unit.",
            )
        elif minor <= 0:
            self.problem("coupon_terms", sobject, sf_id, f"Amount_Off__c {value:f} must be above 0")
            return None
        return minor

    def _number(self, value: Any, field_name: str, sobject: str, sf_id: str) -> Decimal | None:
        try:
            return to_decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            self.problem("number_value", sobject, sf_id, f"{field_name} {value!r} is not a number")
            return None

    def _positive_whole(self, value: Any, field_name: str, sobject: str, sf_id: str) -> int | None:
        whole = whole_number(self._number(value, field_name, sobject, sf_id))
        if whole is None or whole <= 0:
            self.problem("coupon_terms", sobject, sf_id, f"{field_name} {value!s} must be a whole number above 0")
            return None
        return whole

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
        term_months: int | Fraction | None = None,
        tiers: Tiers | None = None,
    ) -> PriceCandidate:
        """F16-F18: the price this record describes. Order lines carry the whole-term unit price, so licensed
        recurring lines are divided by the number of billing periods in the term, unless a custom price field is
        mapped (then it is taken as the per-period amount). With `tiers` (a consumption schedule, F19) the price is
        tiered and its unit price is not used."""
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
            unit_amount = None
            if tiers is not None:
                self.draft.problems.extend(tiers.problems)
                params.update(tiers.params)
                if not recurring:
                    self.problem(
                        "tiered_price_recurring",
                        sobject,
                        record["Id"],
                        "a consumption schedule prices recurring usage: Stripe tiered prices must be recurring "
                        "(set SBQQ__SubscriptionPricing__c), or remove the schedule",
                    )
            elif amount is not None:
                whole_term = (  # F18: licensed recurring lines priced for the whole term, no custom price field
                    recurring
                    and term_months
                    and params["recurring"]["usage_type"] == "licensed"
                    and "unit_amount_decimal" not in mapped.user_paths
                )
                interval = params["recurring"]["interval_count"] if whole_term else None
                unit_amount = self._unit_amount(record, sobject, amount, currency, term_months, interval)
                if unit_amount is not None:
                    params["unit_amount_decimal"] = format_decimal(unit_amount)
        return PriceCandidate(params, tuple(mapped.empty_paths), tuple(problems), unit_amount)

    def _unit_amount(
        self,
        record: Mapping[str, Any],
        sobject: str,
        amount: Any,
        currency: str,
        term_months: int | Fraction | None,
        interval_months: int | None,
    ) -> Decimal | None:
        """The exact per-period amount in minor units. With `interval_months`, `amount` is CPQ's whole-term price:
        it is billed `term / interval` times, so one period is `amount x interval / term` (F18), computed exactly
        (60000 x 6 / 20 = 18000, never 17999.999999999997)."""
        value = self._number(amount, "unit price", sobject, record["Id"])
        if value is None:
            return None
        unit_amount = minor_units(value, currency)
        if term_months and interval_months:
            term = Fraction(term_months)  # whole months, or months and days (Month+Day precision, F32)
            unit_amount = fraction_of(unit_amount, interval_months * term.denominator, term.numerator)
            multiplier = fraction_of(Decimal(1), term.numerator, interval_months * term.denominator)
            self._check_prorate_multiplier(record, multiplier)
        if unit_amount < 0:
            self.problem(
                "negative_amount",
                sobject,
                record["Id"],
                f"negative unit price {value:f}; Stripe prices cannot be negative",
            )
        return unit_amount

    def _interval_months(self, frequency: Any, sobject: str, sf_id: str) -> int:
        if frequency is None:
            return 1  # the connector's documented fallback for a blank billing frequency
        if (months := whole_number(frequency)) is not None and months > 0:
            return months
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

    def _check_prorate_multiplier(self, line: Mapping[str, Any], expected: Decimal) -> None:
        recorded = line.get("SBQQ__ProrateMultiplier__c")
        if (
            self.context.config.prorate_precision == "month_and_day"
            and isinstance(recorded, Decimal | int)
            and abs(recorded - expected) > PRORATE_MULTIPLIER_TOLERANCE
        ):
            self.problem(
                "prorate_multiplier",
                "OrderItem",
                line["Id"],
                f"calculated price multiplier {format_decimal(expected)} (term / billing months) differs "
                f"from CPQ's SBQQ__ProrateMultiplier__c {recorded}; check CPQ's prorate precision setting",
            )

    # -- order lines: their price and phase entry (F16-F21, F24, F25) ------------------------------------------

    def line_quantity(self, line: Mapping[str, Any]) -> Any:
        """What the subscription_item mapping gives the line as its quantity (OrderItem.Quantity unless the user maps
        another field, e.g. the docs' SBQQ__OrderedQuantity__c, F11); None when empty (a missing required mapping,
        reported when the line is drafted)."""
        return self.context.mapper.map("subscription_item", line, self.org).values.get("quantity")

    @staticmethod
    def removes_or_keeps(quantity: Any) -> bool:
        """Whether an amendment line's quantity is a delta of 0 or less: it opens no item of its own (F30)."""
        return isinstance(quantity, int | Decimal) and quantity <= 0

    def whole_quantity(self, line: Mapping[str, Any], quantity: Any) -> int | None:
        """F24: a quantity is a whole number; anything else is a named problem on the line (None)."""
        whole = whole_number(quantity)
        if whole is None:
            shown = format(quantity, "f") if isinstance(quantity, Decimal) else repr(quantity)
            self.problem(
                "integer_quantity",
                "OrderItem",
                line["Id"],
                f"Quantity {shown} specified as a decimal value. Only integers are supported.",
            )
        return whole

    def line(
        self,
        order: Mapping[str, Any],
        line: Mapping[str, Any],
        term: int | Fraction | None,
        used_prices: set[str],
        *,
        zero_allowed: bool = False,
        frontend_term: int | None = None,
    ) -> tuple[dict, PriceCandidate] | None:
        """The line's price (the price book's, or its own, F17) and its phase or invoice entry. `zero_allowed`: a
        quantity of 0 is meaningful (an MDQ segment that pauses); in a new order it is otherwise a problem.
        `frontend_term`: an initial order's term, when frontend proration is on (F28): a licensed line billed less
        often than that gets a price for the term's share of its period."""
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
        line_currency = _currency(line, order, default=self.context.config.default_currency)
        entry_currency = _currency(entry, default=self.context.config.default_currency)
        line_candidate = self.price_candidate(
            "price_order_item",
            "OrderItem",
            line,
            product_id=line["Product2Id"],
            recurring=line.get("SBQQ__SubscriptionPricing__c") is not None,
            currency=line_currency,
            term_months=term,
            tiers=self.line_tiers(line, product, line_currency),
        )
        entry_candidate = self.price_candidate(
            "price",
            "PricebookEntry",
            entry,
            product_id=entry["Product2Id"],
            recurring=product.get("SBQQ__SubscriptionPricing__c") is not None,
            currency=entry_currency,
            tiers=self.product_tiers(product, entry_currency),
        )
        if frontend_term is not None and (frontend := self.frontend_prorated(line_candidate, frontend_term)):
            line_candidate = frontend
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
        return self.phase_entry(line, price_key, candidate, zero_allowed=zero_allowed), candidate

    @staticmethod
    def frontend_prorated(candidate: PriceCandidate, term: int) -> PriceCandidate | None:
        """F28 frontend proration: a licensed, per-unit line whose billing period is longer than the initial term
        is billed the term's share of a period once (`unit x term / frequency`), by a price of its own marked
        `salesforce_frontend_proration`; None when the line needs none."""
        recurring = candidate.params.get("recurring")
        if (
            recurring is None
            or candidate.metered
            or candidate.tiered
            or candidate.unit_amount is None
            or term >= recurring["interval_count"]
        ):
            return None
        unit = fraction_of(candidate.unit_amount, term, recurring["interval_count"])
        metadata = {**candidate.params["metadata"], "salesforce_frontend_proration": "true"}
        params = {**candidate.params, "unit_amount_decimal": format_decimal(unit), "metadata": metadata}
        return replace(candidate, params=params, unit_amount=unit)

    def line_tiers(self, line: Mapping[str, Any], product: Mapping[str, Any], currency: str) -> Tiers | None:
        """F19: the line's own consumption schedule, else its product's (None: not a tiered line)."""
        own = line_schedules(self.org, line)
        if own:
            return tiers_for(self.org, ("OrderItem", line["Id"]), own, LINE_SCHEDULE, currency)
        return self.product_tiers(product, currency)

    def product_tiers(self, product: Mapping[str, Any], currency: str) -> Tiers | None:
        """F19: the tiers of the product's active consumption schedule, which its price book price carries."""
        schedules = product_schedules(self.org, product)
        return tiers_for(self.org, ("Product2", product["Id"]), schedules, PRODUCT_SCHEDULE, currency)

    def discounted_line(
        self,
        order: Mapping[str, Any],
        line: Mapping[str, Any],
        term: int | Fraction | None,
        used_prices: set[str],
        *,
        zero_allowed: bool = False,
        frontend_term: int | None = None,
    ) -> tuple[dict, PriceCandidate] | None:
        """What `line` returns, with the line's own coupons (F44) on the entry."""
        drafted = self.line(order, line, term, used_prices, zero_allowed=zero_allowed, frontend_term=frontend_term)
        if drafted is None:
            return None
        entry, candidate = drafted
        if line_discounts := self.discounts(order, line):
            entry = {**entry, "discounts": line_discounts}
        return entry, candidate

    def phase_entry(
        self, line: Mapping[str, Any], price_key: str, candidate: PriceCandidate, *, zero_allowed: bool = False
    ) -> dict:
        """The line's phase item or invoice item params; its quantity must be a whole number, above 0 in a new order
        (F24: a line of nothing is a data error, not an item Stripe would bill as zero), and 1 at most for metered
        lines, which carry none (Stripe bills their reported usage)."""
        mapped = self._map("subscription_item", "OrderItem", line)
        values = dict(mapped.values)
        quantity = values.pop("quantity", None)
        entry = {"price": ref("price", price_key), **self._build(values, "OrderItem", line)}
        whole = None if quantity is None else self.whole_quantity(line, quantity)
        if whole is None:
            return entry
        if whole < 0:
            self.problem(
                "integer_quantity",
                "OrderItem",
                line["Id"],
                f"Quantity {whole} must not be negative in a new order. Only integers are supported.",
            )
        elif whole == 0 and not zero_allowed:
            self.problem(
                "positive_quantity",
                "OrderItem",
                line["Id"],
                "Quantity 0 in a new order bills nothing: a new order's lines must have a quantity of at least 1 "
                "(remove the line, or mark it Skip_Line_Item__c).",
            )
        elif candidate.metered:
            if whole > 1:
                self.problem(
                    "metered_quantity",
                    "OrderItem",
                    line["Id"],
                    f"metered (Arrears) lines bill reported usage, so their quantity must be 1, not {whole}",
                )
        else:
            entry["quantity"] = whole
        return entry

    # -- one-time proration prices (F28, F32) ------------------------------------------------------------------

    def proration_item(
        self,
        line: Mapping[str, Any],
        candidate: PriceCandidate,
        entry: Mapping[str, Any],
        months: int | Fraction,
        *,
        key: str,
        period: dict,
    ) -> dict:
        """An `add_invoice_items` entry billing `months` (whole, or months and days) of a recurring line once: a
        one-time copy of its price worth `unit x months / frequency` (F28, F32), from the exact per-period amount."""
        recurring = candidate.params["recurring"]
        share = Fraction(months)
        unit = fraction_of(
            candidate.unit_amount or Decimal(0), share.numerator, recurring["interval_count"] * share.denominator
        )
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

    # -- orders: term, start and amendment netting (F22, F30) ------------------------------------------------

    def billable_lines(self, order: Mapping[str, Any]) -> list[dict]:
        return billable_lines(self.org, order)

    def net_line(self, line: Mapping[str, Any], quantity: int, aggregate: Aggregate) -> Netting:
        """F30: a negative amendment line reduces the chain of the line it revises; what it took from which slots."""
        origin = line.get("SBQQ__RevisedOrderProduct__c")
        if origin is None:
            self.problem(
                "revised_line_present",
                "OrderItem",
                line["Id"],
                f"a negative quantity ({quantity}) needs SBQQ__RevisedOrderProduct__c naming the line it reduces",
            )
            return Netting(error="no revised line")
        netting = aggregate.net(origin, -quantity)
        if netting.error:
            self.problem("amendment_netting", "OrderItem", line["Id"], netting.error)
        return netting

    def term_and_start(self, order: Mapping[str, Any]) -> tuple[MappedFields, date | None, int | None]:
        """The order's mapped schedule fields, its start date and its term in whole months (None when unknown)."""
        mapped = self._map("subscription_schedule", "Order", order)
        phase_term = self.context.mapper.map("subscription_phase", order, self.org).values.get(TERM_PSEUDO_PATH)
        term = phase_term if phase_term is not None else mapped.values.get(TERM_PSEUDO_PATH)
        months = whole_number(term)
        if term is not None and (months is None or months <= 0):
            quote = quote_of(self.org, order) or {"Id": order["Id"]}
            shown = format(term, "f") if isinstance(term, Decimal) else repr(term)
            self.problem(
                "integer_term",
                "SBQQ__Quote__c",
                quote["Id"],
                f"subscription term {shown} must be a whole, positive number of months",
            )
            months = None
        start = mapped.values.get("start_date")
        return mapped, start if isinstance(start, date) else None, months
