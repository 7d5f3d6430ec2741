"""Validation: every rule a contract's orders break, each named and addressed to the record a user must fix, and
which of its orders can sync anyway.

A contract is an initial order plus its amendments, applied in order (spec F5, §1.12: the initial order is always
processed first). Validation runs before anything is written: pandera schemas (one column's properties, see
schemas.py), structural rules about how the contract is put together (quote present, filters, start date, dates,
terms, revision chains, evergreen shapes, what is not yet supported), the data problems translation itself finds
(see drafting/: required mappings, quantities, billing fields, payment terms) and every value Stripe would refuse
(stripe_limits.py: currencies, string lengths, control characters, amounts).

One bad order never blocks another (spec §1.10): the orders are taken in contract order, and the first one that
breaks a rule is the *failing* order. The orders before it are *synced* (the contract's Stripe objects are drafted
from them alone), the failing one gets every rule it breaks, and the ones after it *wait* for it to be fixed, since
amendments only make sense on top of the ones before them. Some failures hold the whole contract back:
- a rule on the initial order or on what every order shares (its Account, its quote, a product of its lines);
- a failing or waiting order that was synced before (its `Stripe_ID__c` is set): syncing only the orders before
  it would undo it in Stripe, which Salesforce never asked for;
- an order deleted in Salesforce after its sync (spec F46: deletes are never propagated), or a deleted initial
  order. An amendment deleted before its sync is left out, like a draft.
Each contract is translated once; only when an amendment fails is the valid prefix translated again, alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from sf_stripe_pipeline.core.amendments import chain_origin
from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import Contract, amended_contract_id, is_renewal, quote_of
from sf_stripe_pipeline.core.coupons import QUOTE_COUPON, SNAPSHOT, CouponLink
from sf_stripe_pipeline.core.desired import REF_KEY, DesiredObject, is_ref
from sf_stripe_pipeline.core.drafting import METADATA_PREFIX, TranslationContext, draft_contract
from sf_stripe_pipeline.core.drafting.migration import activated_before_start
from sf_stripe_pipeline.core.drafting.tiers import LINE_SCHEDULE, PRODUCT_LINK, PRODUCT_SCHEDULE, TIER_AMOUNTS
from sf_stripe_pipeline.core.mapping import DataMapper
from sf_stripe_pipeline.core.org import OrgSnapshot, passes_filter
from sf_stripe_pipeline.core.schemas import CUSTOM_CHECKS, SCHEMAS, records_frame, schema_failures
from sf_stripe_pipeline.core.stripe_limits import MAX_AMOUNT_MINOR_UNITS, string_problems
from sf_stripe_pipeline.core.violations import Violation

__all__ = [
    "DELETED",
    "PARTIAL",
    "QUARANTINED",
    "VALID",
    "ContractAssessment",
    "ContractVerdict",
    "Violation",
    "assess_contracts",
    "validate_contracts",
]

VALID, PARTIAL, QUARANTINED, DELETED = "valid", "partial", "quarantined", "deleted"
"""Contract statuses: every order synced; the orders before a failing amendment synced; nothing synced (the initial
order or a record every order shares fails, or a synced order fails); an order deleted in Salesforce holds it."""

# Rules after which translating the contract would be meaningless (or impossible): they are reported alone.
FAULT_OF_THE_ORDER_BEFORE = frozenset({"termination_is_last"})
"""Rules raised on an order that belong to the order before it while that one is not synced yet: a termination with
amendments queued after it is not processed (spec §1.10), so the termination fails and the amendments after it
wait. Once the termination is in Stripe, the amendment after it is the one that fails."""
BLOCKING_RULES = frozenset(
    {"quote_present", "initial_order_found", "amendment_cycle", "account_present", "order_present", "not_yet_supported"}
)
_TYPE_CHECKS = ("coerce_dtype", "dtype")
_EPOCH = date(1970, 1, 1)
STRIPE_ID_OBJECTS = ("Account", "Product2", "PricebookEntry")
"""Objects whose Stripe_ID__c names a Stripe object of their own: two records sharing one would sync into it."""


@dataclass(frozen=True)
class ContractAssessment:
    """What a run does with one contract, order by order."""

    violations: list[Violation]
    """Every rule the failing order breaks (empty when none fails)."""
    objects: list[DesiredObject]
    """The desired Stripe objects of the synced orders (empty when none syncs)."""
    coupon_links: list[CouponLink] = field(default_factory=list)
    """Coupon uses of the synced orders and their Stripe coupons: the Salesforce snapshots and write-backs they
    need (F43, F44)."""
    status: str = VALID
    synced_order_ids: tuple[str, ...] = ()
    """The initial order and the amendments whose state goes to Stripe, in order."""
    failing_order_id: str | None = None
    skipped: tuple[tuple[str, str], ...] = ()
    """(order Id, why it is not synced now): the orders waiting for the failing one, and deleted orders."""


    def verdict(self, contract: Contract) -> ContractVerdict:
        return ContractVerdict(
            contract, self.status, self.synced_order_ids, self.failing_order_id, list(self.violations), self.skipped
        )


@dataclass(frozen=True)
class ContractVerdict:
    """What validation decided about one contract, without its Stripe objects: what the shell reports after
    planning (Sync_Record__c per order, audit rows, the run's summary)."""

    contract: Contract
    status: str
    synced_order_ids: tuple[str, ...]
    failing_order_id: str | None
    violations: list[Violation]
    """Every rule the failing order breaks."""
    skipped: tuple[tuple[str, str], ...]
    """(order Id, why it is not synced now)."""

    @property
    def synced_contract(self) -> Contract | None:
        """The contract as far as it syncs: its initial order and the amendments before the failing one."""
        if not self.synced_order_ids:
            return None
        return replace(self.contract, amendment_order_ids=self.synced_order_ids[1:])


@dataclass(frozen=True)
class _ContractRecords:
    """The Salesforce records a contract's sync reads, by object, and which order reads each first."""

    orders: list[dict]
    lines: list[dict]
    by_object: dict[str, list[dict]]
    first_reader: dict[str, int]
    """Record Id -> position (in contract order) of the first order reading it; the Account is read by the first."""


def _order_reads(org: OrgSnapshot, order: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    """(sobject, record) for each record the sync of one order reads, besides the contract's Account."""
    yield "Order", dict(order)
    for sobject, record_id in (
        ("SBQQ__Quote__c", order.get("SBQQ__Quote__c")),
        ("Opportunity", order.get("OpportunityId")),
        ("Contract", amended_contract_id(org, order)),
    ):
        if (record := org.get(sobject, record_id)) is not None:
            yield sobject, record
    coupons = [
        coupon
        for association in org.children("Quote_Stripe_Coupon_Association__c", "Quote__c", order.get("SBQQ__Quote__c"))
        if (coupon := org.get(QUOTE_COUPON, association.get("Quote_Stripe_Coupon__c")))
    ]
    snapshots = list(org.children(SNAPSHOT, "Order__c", order["Id"]))
    for line in org.children("OrderItem", "OrderId", order["Id"]):
        yield "OrderItem", line
        for sobject, field_name in (("Product2", "Product2Id"), ("PricebookEntry", "PricebookEntryId")):
            if (record := org.get(sobject, line.get(field_name))) is not None:
                yield sobject, record
        yield from _consumption_reads(org, line)
        snapshots += org.children(SNAPSHOT, "Order_Item__c", line["Id"])
        for association in org.children(
            "Quote_Line_Stripe_Coupon_Association__c", "Quote_Line__c", line.get("SBQQ__QuoteLine__c")
        ):
            if coupon := org.get(QUOTE_COUPON, association.get("Quote_Stripe_Coupon__c")):
                coupons.append(coupon)
    for snapshot in snapshots:
        yield SNAPSHOT, snapshot
        if coupon := org.get(QUOTE_COUPON, snapshot.get("Quote_Stripe_Coupon_Id__c")):
            coupons.append(coupon)
    for coupon in coupons:
        yield QUOTE_COUPON, coupon


def _consumption_reads(org: OrgSnapshot, line: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    """F19: the consumption schedules and rates that may price a line: its own, and its product's."""
    for schedule in org.children(LINE_SCHEDULE.schedule, "SBQQ__OrderItem__c", line["Id"]):
        yield LINE_SCHEDULE.schedule, schedule
        for rate in org.children(LINE_SCHEDULE.rate, LINE_SCHEDULE.rate_parent, schedule["Id"]):
            yield LINE_SCHEDULE.rate, rate
    for link in org.children(PRODUCT_LINK, "ProductId", line.get("Product2Id")):
        yield PRODUCT_LINK, link
        if (schedule := org.get(PRODUCT_SCHEDULE.schedule, link.get("ConsumptionScheduleId"))) is not None:
            yield PRODUCT_SCHEDULE.schedule, schedule
            for rate in org.children(PRODUCT_SCHEDULE.rate, PRODUCT_SCHEDULE.rate_parent, schedule["Id"]):
                yield PRODUCT_SCHEDULE.rate, rate


def _records_of(org: OrgSnapshot, contract: Contract) -> _ContractRecords:
    orders = [order for order_id in contract.order_ids if (order := org.get("Order", order_id)) is not None]
    by_object: dict[str, dict[str, dict]] = defaultdict(dict)
    first_reader: dict[str, int] = {}
    if (account := org.get("Account", contract.account_id)) is not None:
        by_object["Account"][account["Id"]] = account
        first_reader[account["Id"]] = 0
    for position, order in enumerate(orders):
        for sobject, record in _order_reads(org, order):
            by_object[sobject].setdefault(record["Id"], record)
            first_reader.setdefault(record["Id"], position)
    if not orders:  # lines whose order is missing: the contract is keyed by that order's Id
        for line in org.children("OrderItem", "OrderId", contract.initial_order_id):
            by_object["OrderItem"][line["Id"]] = line
            first_reader[line["Id"]] = 0
    return _ContractRecords(
        orders,
        list(by_object["OrderItem"].values()),
        {sobject: list(records.values()) for sobject, records in by_object.items()},
        first_reader,
    )


def schema_violations(
    records: Iterable[_ContractRecords], stored: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, list[tuple[str, Violation]]]:
    """Record Id -> (check, violation) for every failing value. `stored`: the failures extraction found (sobject ->
    frame of schemas.FAILURE_COLUMNS); without them, each object's records are validated here, once. A custom check
    (schemas.CUSTOM_CHECKS) is its own rule; pandera's built-in checks are rule `schema`."""
    if stored is None:
        unique: dict[str, dict[str, dict]] = defaultdict(dict)
        for contract_records in records:
            for sobject, rows in contract_records.by_object.items():
                unique[sobject].update((row["Id"], row) for row in rows)
        stored = {
            sobject: schema_failures(sobject, records_frame(sobject, unique[sobject].values()))
            for sobject in SCHEMAS
            if unique[sobject]
        }
    found: dict[str, list[tuple[str, Violation]]] = defaultdict(list)
    for sobject in SCHEMAS:
        failures = stored.get(sobject)
        if failures is None:
            continue
        for failure in failures.itertuples(index=False):
            if failure.Id is None or pd.isna(failure.Id):
                continue
            rule = failure.check if failure.check in CUSTOM_CHECKS else "schema"
            detail = f"{failure.column} fails {failure.check} (value {failure.failure_case!r})"
            if rule != "schema":
                detail = f"{failure.column} {failure.failure_case!r}: {CUSTOM_CHECKS[rule]}"
            found[failure.Id].append((failure.check, Violation.on(rule, sobject, failure.Id, detail)))
    return found


def shared_record_violations(org: OrgSnapshot) -> dict[str, list[Violation]]:
    """Record Id -> violations of the rules that compare records across the whole org, computed once a run:
    two records with one Id (`record_id_unique`), two records pointing at one Stripe object (`stripe_id_unique`)."""
    found: dict[str, list[Violation]] = defaultdict(list)
    for sobject in SCHEMAS:
        counts = Counter(record["Id"] for record in org.records(sobject))
        for record_id, count in counts.items():
            if count > 1:
                found[record_id].append(
                    Violation.on(
                        "record_id_unique",
                        sobject,
                        record_id,
                        f"the extracted org holds {count} different {sobject} records with this Id; Salesforce Ids "
                        "are unique, so the extract is corrupt: re-extract it (full refresh)",
                    )
                )
    for sobject in STRIPE_ID_OBJECTS:
        holders: dict[str, list[str]] = defaultdict(list)
        for record in org.records(sobject):
            if record.get("Stripe_ID__c") and not record.get("IsDeleted"):
                holders[record["Stripe_ID__c"]].append(record["Id"])
        for stripe_id, record_ids in holders.items():
            for record_id in record_ids if len(record_ids) > 1 else ():
                others = ", ".join(other for other in record_ids if other != record_id)
                found[record_id].append(
                    Violation.on(
                        "stripe_id_unique",
                        sobject,
                        record_id,
                        f"Stripe_ID__c {stripe_id} is also on {sobject} {others}: both would sync into one Stripe "
                        "object. Clear Stripe_ID__c on the record that does not own it.",
                    )
                )
    return found


def _is_evergreen(line: Mapping[str, Any]) -> bool:
    return line.get("SBQQ__SubscriptionType__c") == "Evergreen"


def _is_activated(order: Mapping[str, Any]) -> bool:
    return order.get("Status") == "Activated"


class _StructuralRules:
    """The rules about how a contract is put together; each method yields the violations of one rule."""

    def __init__(self, org: OrgSnapshot, config: SyncConfig, contract: Contract, records: _ContractRecords):
        self.org = org
        self.config = config
        self.contract = contract
        self.records = records
        self.initial = org.get("Order", contract.initial_order_id) or {"Id": contract.initial_order_id}
        self.active_amendments = [order for order in records.orders[1:] if passes_filter(order)]
        self.synced_orders = [self.initial, *(order for order in records.orders[1:] if _is_activated(order))]
        """The orders drafted into Stripe objects: the initial one and the activated amendments."""
        self.billable_lines = [
            line
            for line in records.lines
            if line.get("OrderId") == self.initial["Id"] and not line.get("Skip_Line_Item__c")
        ]

    def all(self) -> Iterator[Violation]:
        for rule in (
            self.order_present,
            self.initial_order_found,
            self.quote_present,
            self.account_present,
            self.initial_order_passes_filter,
            self.amendments_pass_filter,
            self.pre_integration_order,
            self.dates_in_order,
            self.dates_after_epoch,
            self.line_activated,
            self.line_terms_positive,
            self.prorate_multiplier_positive,
            self.revision_chain,
            self.evergreen_terms_are_one,
            self.no_mixed_evergreen_renewable,
            self.single_product_evergreen_cancellation,
            self.one_currency_per_customer,
            self.not_yet_supported,
        ):
            yield from rule()

    def _order_violation(self, rule: str, order: Mapping[str, Any], message: str) -> Violation:
        return Violation.on(rule, "Order", order["Id"], message)

    def _lines_of(self, order: Mapping[str, Any], *, billable: bool = True) -> list[dict]:
        lines = [line for line in self.records.lines if line.get("OrderId") == order["Id"]]
        return [line for line in lines if not line.get("Skip_Line_Item__c")] if billable else lines

    def order_present(self) -> Iterator[Violation]:
        if self.records.orders:
            return
        for line in self.records.lines:
            yield Violation.on(
                "order_present",
                "OrderItem",
                line["Id"],
                f"its Order {line.get('OrderId')} is not in the extracted org (deleted and emptied from the recycle "
                "bin, or not visible to the integration user): a line is synced with its order",
            )

    def initial_order_found(self) -> Iterator[Violation]:
        contract_id = amended_contract_id(self.org, self.initial)
        if contract_id is None:
            return
        amended = self.org.get("Contract", contract_id) or {}
        quote_id = amended.get("SBQQ__Quote__c")
        holders = [order["Id"] for order in self.org.children("Order", "SBQQ__Quote__c", quote_id)] if quote_id else []
        if quote_id is not None and quote_id == self.initial.get("SBQQ__Quote__c"):
            yield self._order_violation(
                "amendment_cycle",
                self.initial,
                f"it amends Contract {contract_id}, whose SBQQ__Quote__c is this order's own quote: an order cannot "
                "amend itself. Point its Opportunity's SBQQ__AmendedContract__c at the contract of the initial order.",
            )
        elif holders and all(amended_contract_id(self.org, self.org.get("Order", h) or {}) for h in holders):
            yield self._order_violation(
                "amendment_cycle",
                self.initial,
                f"it amends Contract {contract_id}, whose quote {quote_id} belongs to amendment order(s) "
                f"{', '.join(holders)}, not to an initial order: the amendments refer to each other in a cycle",
            )
        else:
            yield self._order_violation(
                "initial_order_found",
                self.initial,
                f"it amends Contract {contract_id}, but the initial CPQ order cannot be found: the contract's "
                "SBQQ__Quote__c must be the quote of exactly one non-amendment order in the extracted org",
            )

    def quote_present(self) -> Iterator[Violation]:
        for order in self.records.orders:
            if quote_of(self.org, order) is None:
                yield self._order_violation(
                    "quote_present",
                    order,
                    "There's no CPQ quote associated with the Salesforce order. Regenerate the order from a CPQ "
                    f"quote (SBQQ__Quote__c is {order.get('SBQQ__Quote__c')!r}).",
                )

    def account_present(self) -> Iterator[Violation]:
        if self.records.orders and self.org.get("Account", self.contract.account_id) is None:
            yield self._order_violation(
                "account_present",
                self.initial,
                f"its Account {self.contract.account_id!r} is not in the extracted org (set AccountId, or check the "
                "Account sync filter)",
            )

    def initial_order_passes_filter(self) -> Iterator[Violation]:
        """F4: a contract is in scope for an amendment passing the Order filter; its initial order must pass too."""
        if self.records.orders and not passes_filter(self.initial):
            yield self._order_violation(
                "initial_order_passes_filter",
                self.initial,
                "The connector attempted to sync the amendment order when the initial order was skipped, because "
                f"it didn't match custom sync filters (Order filter: {self.config.filters.get('Order')!r})",
            )

    def amendments_pass_filter(self) -> Iterator[Violation]:
        """F4: every activated amendment must pass the Order filter; each one that does not fails (the ones before
        it still sync)."""
        if not passes_filter(self.initial):
            return
        for order in self.records.orders[1:]:
            if _is_activated(order) and not passes_filter(order):
                yield self._order_violation(
                    "amendments_pass_filter",
                    order,
                    "Failed to sync amendment orders since not all amendment orders respect user's custom order "
                    f"filters (this one does not; Order filter: {self.config.filters.get('Order')!r})",
                )

    def pre_integration_order(self) -> Iterator[Violation]:
        """F2; with old_order_migration (F33) such an order is migrated instead (drafting names the kinds it cannot)."""
        activated = self.initial.get("ActivatedDate")
        if activated_before_start(self.initial, self.config) and not self.config.old_order_migration:
            yield self._order_violation(
                "pre_integration_order",
                self.initial,
                f"activated {activated.isoformat()}, before the sync start date {self.config.start_date}: "
                "pre-integration orders are not synced, even when they change later (spec F2)",
            )

    def _dated_records(self) -> Iterator[tuple[str, dict, str, str]]:
        """(sobject, record, start field, end field) of every start/end pair the sync reads."""
        for order in self.synced_orders:
            yield "Order", order, "EffectiveDate", "EndDate"
            if (quote := quote_of(self.org, order)) is not None:
                yield "SBQQ__Quote__c", quote, "SBQQ__StartDate__c", "SBQQ__EndDate__c"
        for _, line in self._synced_lines():
            yield "OrderItem", line, "ServiceDate", "EndDate"

    def dates_in_order(self) -> Iterator[Violation]:
        for sobject, record, start_field, end_field in self._dated_records():
            start, end = record.get(start_field), record.get(end_field)
            if isinstance(start, date) and isinstance(end, date) and end < start:
                yield Violation.on(
                    "dates_in_order",
                    sobject,
                    record["Id"],
                    f"{end_field} {end} is before {start_field} {start}: it would end before it starts",
                )

    def dates_after_epoch(self) -> Iterator[Violation]:
        """Stripe's timestamps are Unix seconds from 1970-01-01: an earlier date cannot be sent (a typo'd year)."""
        for sobject, record, *fields in self._dated_records():
            for field_name in fields:
                value = record.get(field_name)
                if isinstance(value, date) and value < _EPOCH:
                    yield Violation.on(
                        "dates_after_epoch",
                        sobject,
                        record["Id"],
                        f"{field_name} {value} is before 1970-01-01, where Stripe's timestamps begin",
                    )

    def _synced_lines(self) -> Iterator[tuple[int, dict]]:
        """(position of its order, line) for each billable line of the orders drafted into Stripe objects."""
        for position, order in enumerate(self.synced_orders):
            for line in self._lines_of(order):
                yield position, line

    def line_activated(self) -> Iterator[Violation]:
        for _, line in self._synced_lines():
            if line.get("IsDeleted") or not line.get("SBQQ__Activated__c"):
                yield Violation.on(
                    "line_activated",
                    "OrderItem",
                    line["Id"],
                    "The order line was deleted or not activated. Activate the order's "
                    "lines (SBQQ__Activated__c) and do not delete them.",
                )

    def line_terms_positive(self) -> Iterator[Violation]:
        for _, line in self._synced_lines():
            term = line.get("SBQQ__SubscriptionTerm__c")
            if line.get("SBQQ__SubscriptionPricing__c") is not None and term is not None and term <= 0:
                yield Violation.on(
                    "subscription_term_positive",
                    "OrderItem",
                    line["Id"],
                    f"SBQQ__SubscriptionTerm__c is {term:g}: a subscription line runs for at least one month",
                )

    def prorate_multiplier_positive(self) -> Iterator[Violation]:
        for _, line in self._synced_lines():
            multiplier = line.get("SBQQ__ProrateMultiplier__c")
            if multiplier is not None and multiplier <= 0:
                yield Violation.on(
                    "prorate_multiplier_positive",
                    "OrderItem",
                    line["Id"],
                    f"SBQQ__ProrateMultiplier__c is {multiplier:g}: CPQ's price multiplier of a line that bills is "
                    "above 0 (term / billing months); a 0 or negative one would bill nothing or a credit",
                )

    def revision_chain(self) -> Iterator[Violation]:
        """F30: an amendment line's SBQQ__RevisedOrderProduct__c names the original line of its chain, a line of an
        earlier order of the contract; anything else (itself, a line that revises another, a cycle) is corrupt."""
        earlier: set[str] = set()
        for position, order in enumerate(self.synced_orders):
            lines = self._lines_of(order, billable=False)
            for line in lines if position > 0 and not is_renewal(self.org, order) else ():
                revised_id = line.get("SBQQ__RevisedOrderProduct__c")
                if revised_id is None:
                    continue
                revised = self.org.get("OrderItem", revised_id) or {}
                problem = None
                if revised_id == line["Id"]:
                    problem = "it revises itself"
                elif revised.get("SBQQ__RevisedOrderProduct__c"):
                    problem = (
                        f"it revises {revised_id}, which itself revises {revised['SBQQ__RevisedOrderProduct__c']} "
                        "(a chain or a cycle): CPQ names the chain's original line"
                    )
                elif revised_id not in earlier and (line.get("Quantity") or 0) >= 0:
                    problem = f"it revises {revised_id}, which is not a line of an earlier order of this contract"
                if problem:
                    yield Violation.on(
                        "revision_chain",
                        "OrderItem",
                        line["Id"],
                        f"SBQQ__RevisedOrderProduct__c: {problem}. Regenerate the amendment from its contract.",
                    )
            earlier.update(line["Id"] for line in lines)

    def evergreen_terms_are_one(self) -> Iterator[Violation]:
        for line in filter(_is_evergreen, self.billable_lines):
            terms = (line.get("SBQQ__SubscriptionTerm__c"), line.get("SBQQ__DefaultSubscriptionTerm__c"))
            if terms != (1, 1):
                yield Violation.on(
                    "evergreen_terms_are_one",
                    "OrderItem",
                    line["Id"],
                    "Evergreen Salesforce orders should have default subscription term and "
                    f"quote subscription term equal to 1 (found {terms[0]!r} and {terms[1]!r}).",
                )

    def no_mixed_evergreen_renewable(self) -> Iterator[Violation]:
        types = {line.get("SBQQ__SubscriptionType__c") for line in self.billable_lines}
        if {"Evergreen", "Renewable"} <= types:
            yield self._order_violation(
                "no_mixed_evergreen_renewable",
                self.initial,
                "Salesforce orders with both Evergreen and Renewable items are not yet supported; split the order.",
            )

    def single_product_evergreen_cancellation(self) -> Iterator[Violation]:
        """F40: cancelling some products of a multi-product evergreen order is refused, on the amendment that does."""
        if not any(map(_is_evergreen, self.billable_lines)) or not self.active_amendments:
            return
        net_quantity: dict[str, Decimal | int] = defaultdict(int)
        for position, order in enumerate(self.synced_orders):
            for line in self._lines_of(order, billable=False):
                net_quantity[chain_origin(line)] += line.get("Quantity") or 0
            cancelled = sorted(origin for origin, quantity in net_quantity.items() if quantity <= 0)
            if position > 0 and cancelled and len(cancelled) < len(net_quantity):
                yield self._order_violation(
                    "single_product_evergreen_cancellation",
                    order,
                    f"it cancels {', '.join(cancelled)} but not the rest of evergreen order {self.initial['Id']}. "
                    "Cancellation is only supported for single-product evergreen orders: use one evergreen order "
                    "per product.",
                )
                return

    def one_currency_per_customer(self) -> Iterator[Violation]:
        """Spec §1.5: a Stripe customer bills in one currency at a time, so Stripe would refuse a contract in
        another currency while an earlier one for the same account is still running."""
        currency = self._currency_of(self.initial)
        start, end = _term_of(self.initial)
        for other in self._prior_initial_orders():
            other_start, other_end = _term_of(other)
            if self._currency_of(other) != currency and start <= other_end and other_start <= end:
                yield self._order_violation(
                    "one_currency_per_customer",
                    self.initial,
                    f"its currency {currency} differs from {self._currency_of(other)} of Order {other['Id']}, which "
                    f"bills the same Stripe customer (Account {self.contract.account_id}) until "
                    f"{other.get('EndDate')}. "
                    "A Stripe customer has one active currency: start this order after that one ends, or bill it to "
                    "another account.",
                )
                return

    def _currency_of(self, order: Mapping[str, Any]) -> str:
        return str(order.get("CurrencyIsoCode") or self.config.default_currency).upper()

    def _prior_initial_orders(self) -> Iterator[dict]:
        """The account's other contracts that take precedence: already in Stripe, or else activated earlier."""
        own_rank = _precedence(self.initial)
        for order in self.org.children("Order", "AccountId", self.contract.account_id):
            if (
                order["Id"] != self.initial["Id"]
                and _is_activated(order)
                and not order.get("IsDeleted")
                and passes_filter(order)
                and amended_contract_id(self.org, order) is None
                and _precedence(order) < own_rank
            ):
                yield order

    def not_yet_supported(self) -> Iterator[Violation]:
        if not self.records.orders:
            return
        reasons = [reason for detect in _UNSUPPORTED_SHAPES if (reason := detect(self))]
        for reason in reasons:
            yield self._order_violation("not_yet_supported", self.initial, f"{reason} - not yet supported")


def _term_of(order: Mapping[str, Any]) -> tuple[date, date]:
    """An order's billing period; an evergreen order (no EndDate) runs until cancelled."""
    return order.get("EffectiveDate") or date.min, order.get("EndDate") or date.max


def _precedence(order: Mapping[str, Any]) -> tuple:
    activated = order.get("ActivatedDate") or datetime.max.replace(tzinfo=UTC)
    return (not order.get("Stripe_ID__c"), activated, order["Id"])


def _without_recurring_lines(rules: _StructuralRules) -> str | None:
    return None if rules.billable_lines else "an order with no lines to bill"


def _custom_segments(rules: _StructuralRules) -> str | None:
    custom = [line["Id"] for line in rules.billable_lines if line.get("SBQQ__DimensionType__c") == "Custom"]
    return f"Custom MDQ segments (lines {', '.join(custom)}; F41: use Year, Quarter or Month)" if custom else None


_UNSUPPORTED_SHAPES: tuple[Callable[[_StructuralRules], str | None], ...] = (
    _without_recurring_lines,
    _custom_segments,
)


# -- what Stripe would refuse in the drafted parameters ----------------------------------------------------------

_RECORD_MARKS = ((f"{METADATA_PREFIX}order_item_id", "OrderItem"), (f"{METADATA_PREFIX}order_id", "Order"))
"""Back-reference metadata (F10) naming the record a nested phase, item or invoice line comes from."""


def _mapping_target(desired: DesiredObject, path: str) -> tuple[str, str] | None:
    """(mapping target, path within it) of a parameter, to name the Salesforce field it is mapped from."""
    stripe_object = desired.stripe_object
    if stripe_object in ("customer", "product", "coupon", "invoice"):
        return stripe_object, path
    if stripe_object == "price":
        return ("price" if desired.sf_object == "PricebookEntry" else "price_order_item"), path
    if stripe_object in ("subscription_schedule", "subscription"):
        for prefix, target in (("phases.items.", "subscription_item"), ("items.", "subscription_item")):
            if path.startswith(prefix):
                return target, path.removeprefix(prefix)
        if path.startswith("phases."):
            return "subscription_phase", path.removeprefix("phases.")
        return "subscription_schedule", path
    return None


def _record_of(node: Mapping[str, Any], default: tuple[str, str]) -> tuple[str, str]:
    metadata = node.get("metadata")
    if isinstance(metadata, Mapping):
        for key, sobject in _RECORD_MARKS:
            if isinstance(metadata.get(key), str):
                return sobject, metadata[key]
    return default


def _nodes(value: Any, record: tuple[str, str]) -> Iterator[tuple[dict, tuple[str, str]]]:
    """Every dict inside params, with the record it comes from (the nearest back-reference metadata)."""
    if isinstance(value, dict) and not is_ref(value):
        record = _record_of(value, record)
        yield value, record
        for child in value.values():
            yield from _nodes(child, record)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child, record)


def _minor_units(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


class _StripeParamRules:
    """Every value of a contract's drafted objects that Stripe would refuse or could not hold, named on the
    Salesforce record (and field, when a mapping says which) it comes from."""

    def __init__(self, mapper: DataMapper, objects: list[DesiredObject]):
        self.mapper = mapper
        self.objects = objects
        self.prices = {obj.address: obj.params for obj in objects if obj.stripe_object == "price"}

    def all(self) -> Iterator[Violation]:
        for desired in self.objects:
            yield from self.strings(desired)
            yield from self.amounts(desired)

    def _source(self, desired: DesiredObject, path: str) -> str:
        found = _mapping_target(desired, path)
        rule = self.mapper.rules(found[0]).get(found[1]) if found else None
        return f" (mapped from {rule.source.text})" if rule is not None and rule.source is not None else ""

    def strings(self, desired: DesiredObject) -> Iterator[Violation]:
        """`stripe_field_limit` (longer than the parameter's documented maxLength; only customer description and
        shipping.phone are truncated, spec F13, by drafting) and `control_characters` (NUL and other C0 controls)."""
        default = (desired.sf_object, desired.sf_id)
        for problem in string_problems(desired.stripe_object, desired.params):
            sobject, sf_id = _record_at(desired.params, problem.path, default)
            yield Violation.on(
                problem.rule,
                sobject,
                sf_id,
                f"Stripe {desired.stripe_object} {problem.param}{self._source(desired, problem.param)}: "
                f"{problem.message}",
            )

    def amounts(self, desired: DesiredObject) -> Iterator[Violation]:
        """`amount_within_stripe_limit`: a price, a coupon's amount off, or what one line bills per invoice
        (unit amount x quantity) over Stripe's eight-digit maximum."""
        limit = MAX_AMOUNT_MINOR_UNITS
        own = [desired.params.get("unit_amount_decimal") or desired.params.get("amount_off")]
        own += [tier.get(name) for tier in desired.params.get("tiers") or () for name in TIER_AMOUNTS.values()]
        for amount in filter(None, map(_minor_units, own)):
            if amount > limit:
                yield Violation.on(
                    "amount_within_stripe_limit",
                    desired.sf_object,
                    desired.sf_id,
                    f"the Stripe {desired.stripe_object}'s amount {amount.normalize():f} (minor units) is over "
                    f"Stripe's maximum of {limit} (eight digits): check the amount, or split it",
                )
        for node, (sobject, sf_id) in _nodes(desired.params, (desired.sf_object, desired.sf_id)):
            price = node.get("price")
            if not is_ref(price) or node.get("quantity") is None:
                continue
            unit = _minor_units((self.prices.get(price[REF_KEY]) or {}).get("unit_amount_decimal"))
            if unit is not None and unit <= limit and unit * Decimal(str(node["quantity"])) > limit:
                total = unit * Decimal(str(node["quantity"]))
                yield Violation.on(
                    "amount_within_stripe_limit",
                    sobject,
                    sf_id,
                    f"quantity {node['quantity']} x unit amount {unit.normalize():f} bills {total.normalize():f} "
                    f"minor units on one invoice, over Stripe's maximum of {limit} (eight digits)",
                )


def _record_at(params: Mapping[str, Any], path: tuple[str | int, ...], default: tuple[str, str]) -> tuple[str, str]:
    """The record the value at `path` comes from: the nearest back-reference metadata on the way down to it."""
    record = _record_of(params, default)
    node: Any = params
    for step in path[:-1]:
        node = node[step]
        if isinstance(node, dict):
            record = _record_of(node, record)
    return record


# -- assessing a contract, order by order ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Evaluation:
    """Validation and translation of a contract's first orders."""

    violations: list[Violation]
    objects: list[DesiredObject]
    coupon_links: list[CouponLink]


class _ContractAssessor:
    """Assesses one contract: its orders in sequence (the initial one, then the activated amendments that are not
    deleted), translated once, and again up to the failing order when one fails."""

    def __init__(self, org: OrgSnapshot, config: SyncConfig, contract: Contract):
        self.org = org
        self.config = config
        self.contract = contract
        orders = [order for order_id in contract.order_ids if (order := org.get("Order", order_id)) is not None]
        self.initial = orders[0] if orders else None
        activated = [order for order in orders[1:] if _is_activated(order)]
        self.deleted = [order for order in (self.initial, *activated) if order is not None and order.get("IsDeleted")]
        self.sequence = [contract.initial_order_id, *(o["Id"] for o in activated if not o.get("IsDeleted"))]
        self.sequenced = replace(contract, amendment_order_ids=tuple(self.sequence[1:]))
        self.records = _records_of(org, self.sequenced)
        self._evaluated: dict[int, _Evaluation] = {}

    @property
    def held_by_deletion(self) -> bool:
        """F46: a deleted initial order, or an order deleted after its sync, holds the whole contract."""
        deleted_initial = self.initial is not None and self.initial.get("IsDeleted")
        return bool(deleted_initial or any(order.get("Stripe_ID__c") for order in self.deleted))

    def assess(
        self,
        context: TranslationContext,
        schema_by_id: Mapping[str, list[tuple[str, Violation]]],
        shared_by_id: Mapping[str, list[Violation]],
    ) -> ContractAssessment:
        deleted = tuple(_deleted(order) for order in self.deleted)
        if self.held_by_deletion:
            return ContractAssessment([], [], status=DELETED, skipped=deleted)
        self.context, self.schema_by_id, self.shared_by_id = context, schema_by_id, shared_by_id
        failure = self._first_failure()
        if failure is None:
            full = self._evaluate(len(self.sequence))
            return ContractAssessment([], full.objects, full.coupon_links, VALID, tuple(self.sequence), skipped=deleted)
        failing_length, violations = failure
        failing_id = self.sequence[failing_length - 1]
        synced, waiting = self.sequence[: failing_length - 1], self.sequence[failing_length:]
        rules = ", ".join(sorted({violation.rule for violation in violations}))
        skipped = tuple(
            (
                order_id,
                f"Waiting for Order {failing_id}: amendments sync in order, so this one syncs once that order is "
                f"fixed ({rules}).",
            )
            for order_id in waiting
        )
        # Syncing only the orders before a failing one that Stripe already holds would undo it there.
        undoes = any((self.org.get("Order", order_id) or {}).get("Stripe_ID__c") for order_id in (failing_id, *waiting))
        if not synced or undoes:
            return ContractAssessment(violations, [], [], QUARANTINED, (), failing_id, skipped + deleted)
        prefix = self._evaluate(len(synced))
        return ContractAssessment(
            violations, prefix.objects, prefix.coupon_links, PARTIAL, tuple(synced), failing_id, skipped + deleted
        )

    def _first_failure(self) -> tuple[int, list[Violation]] | None:
        """(number of orders up to and including the failing one, every rule it breaks), None if none fails."""
        length = self._first_failing_length()
        if length is None:
            return None
        violations = self._evaluate(length).violations
        blamed = [violation for violation in violations if violation.rule in FAULT_OF_THE_ORDER_BEFORE]
        if blamed and length > 1 and not (self.org.get("Order", self.sequence[length - 2]) or {}).get("Stripe_ID__c"):
            return length - 1, blamed
        return length, violations

    def _first_failing_length(self) -> int | None:
        """The number of orders (in sequence) up to and including the first failing one; None if none fails.
        The whole contract is translated first; when it fails, the first order its violations name is the likely
        culprit, confirmed by translating the orders before it (and, if they pass, each longer prefix)."""
        upper = len(self.sequence)
        if not self._evaluate(upper).violations:
            return None
        while True:
            clean = max(self._first_named_position(self._evaluate(upper).violations, upper), 1)
            if clean >= upper:
                return upper
            if self._evaluate(clean).violations:
                if clean == 1:
                    return 1
                upper = clean
                continue
            for length in range(clean + 1, upper):
                if self._evaluate(length).violations:
                    return length
            return upper

    def _first_named_position(self, violations: Iterable[Violation], upper: int) -> int:
        """The earliest order reading a record the violations name (a record no order reads counts as shared)."""
        positions = [self.records.first_reader.get(violation.sf_id, 0) for violation in violations]
        return min(min(positions, default=0), upper - 1)

    def _evaluate(self, length: int) -> _Evaluation:
        """Every violation of the sequence's first `length` orders, and their desired objects when there is none."""
        if length in self._evaluated:
            return self._evaluated[length]
        contract = replace(
            self.sequenced,
            amendment_order_ids=tuple(self.sequence[1:length]),
            held_order_ids=tuple(self.sequence[length:]),
        )
        records = self.records if length == len(self.sequence) else _records_of(self.org, contract)
        record_ids = sorted({row["Id"] for rows in records.by_object.values() for row in rows})
        schema = [found for record_id in record_ids for found in self.schema_by_id.get(record_id, [])]
        violations = [violation for _, violation in schema]
        violations += [found for record_id in record_ids for found in self.shared_by_id.get(record_id, [])]
        violations += _StructuralRules(self.org, self.config, contract, records).all()
        objects: list[DesiredObject] = []
        links: list[CouponLink] = []
        blocked = any(v.rule in BLOCKING_RULES for v in violations)
        if not blocked and not any(check.startswith(_TYPE_CHECKS) for check, _ in schema):
            draft = draft_contract(self.context, contract)
            found = list(_StripeParamRules(self.context.mapper, draft.objects).all())
            violations += draft.problems
            violations += found
            objects, links = draft.objects, draft.coupon_links
        evaluation = _Evaluation(violations, [] if violations else objects, [] if violations else links)
        self._evaluated[length] = evaluation
        return evaluation


def _deleted(order: Mapping[str, Any]) -> tuple[str, str]:
    if order.get("Stripe_ID__c"):
        return order["Id"], (
            f"Order {order['Id']} was deleted in Salesforce after it was synced ({order['Stripe_ID__c']}): its "
            "Stripe objects are left as they are (deletes are never propagated, spec F46) and its contract is no "
            "longer synced."
        )
    return order["Id"], f"Order {order['Id']} is deleted in Salesforce: nothing is created in Stripe for it."


def assess_contracts(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    config: SyncConfig,
    *,
    today: date,
    instance_url: str = "",
    stored_schema_failures: Mapping[str, pd.DataFrame] | None = None,
    shared_by_id: Mapping[str, list[Violation]] | None = None,
    org_of: Callable[[Contract], OrgSnapshot] | None = None,
) -> dict[str, ContractAssessment]:
    """What each contract syncs, which order fails with which violations, which wait, and the desired objects of
    the synced orders (translate.desired_state merges them), each contract assessed once. `stored_schema_failures`:
    the failing values extraction stored (sobject -> frame); without them the contracts' records are validated
    here. `shared_by_id`: `shared_record_violations(org)` when the caller has it. `org_of`: the view of `org` each
    contract reads through (core/assessment_inputs.py traces its reads)."""
    contracts = list(contracts)
    views = {contract.key: org_of(contract) if org_of else org for contract in contracts}
    assessors = {contract.key: _ContractAssessor(views[contract.key], config, contract) for contract in contracts}
    schema_by_id = schema_violations(
        (a.records for a in assessors.values() if not a.held_by_deletion), stored_schema_failures
    )
    shared_by_id = shared_record_violations(org) if shared_by_id is None else shared_by_id
    context = TranslationContext(org, config, DataMapper(config), today, instance_url)
    return {
        key: assessor.assess(
            context if views[key] is org else replace(context, org=views[key]), schema_by_id, shared_by_id
        )
        for key, assessor in assessors.items()
    }


def validate_contracts(
    contracts: Iterable[Contract], org: OrgSnapshot, config: SyncConfig, *, today: date
) -> dict[str, list[Violation]]:
    """Contract key -> every rule its failing order breaks (empty list: every order syncs)."""
    return {
        key: assessment.violations for key, assessment in assess_contracts(contracts, org, config, today=today).items()
    }
