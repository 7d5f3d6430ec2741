"""Validation: every rule a contract breaks, each named and addressed to the record a user must fix.

A contract is synced whole or not at all, so validation runs before anything is written: pandera schemas
(rule `schema`), structural rules about how the contract is put together (quote present, filters, start
date, evergreen shapes, what is not yet supported), and the data problems translation itself finds (see
drafting/: required mappings, quantities, billing fields, payment terms). All of them are listed, so one
fix-and-resync round clears a contract (spec §1.10).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from sf_stripe_pipeline.core.amendments import chain_origin
from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import Contract, amended_contract_id, quote_of
from sf_stripe_pipeline.core.coupons import CouponLink
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.drafting import TranslationContext, draft_contract
from sf_stripe_pipeline.core.mapping import DataMapper
from sf_stripe_pipeline.core.org import OrgSnapshot, passes_filter
from sf_stripe_pipeline.core.schemas import SCHEMAS, records_frame, schema_failures
from sf_stripe_pipeline.core.violations import Violation

__all__ = ["ContractAssessment", "Violation", "assess_contracts", "validate_contracts"]

# Rules after which translating the contract would be meaningless (or impossible): they are reported alone.
BLOCKING_RULES = frozenset({"quote_present", "initial_order_found", "account_present", "not_yet_supported"})
_TYPE_CHECKS = ("coerce_dtype", "dtype")


@dataclass(frozen=True)
class ContractAssessment:
    violations: list[Violation]
    objects: list[DesiredObject]
    """The contract's desired Stripe objects; empty when a blocking rule or a schema type error stops translation."""
    coupon_links: list[CouponLink] = field(default_factory=list)
    """Its coupon uses and their Stripe coupons: the Salesforce snapshots and write-backs they need (F43, F44)."""


@dataclass(frozen=True)
class _ContractRecords:
    """The Salesforce records a contract's sync reads, by object."""

    orders: list[dict]
    lines: list[dict]
    by_object: dict[str, list[dict]]


def _records_of(org: OrgSnapshot, contract: Contract) -> _ContractRecords:
    orders = [order for order_id in contract.order_ids if (order := org.get("Order", order_id)) is not None]
    lines = [line for order in orders for line in org.children("OrderItem", "OrderId", order["Id"])]
    related = {
        "Account": [org.get("Account", contract.account_id)],
        "SBQQ__Quote__c": [quote_of(org, order) for order in orders],
        "Product2": [org.get("Product2", line.get("Product2Id")) for line in lines],
        "PricebookEntry": [org.get("PricebookEntry", line.get("PricebookEntryId")) for line in lines],
    }
    by_object = {"Order": orders, "OrderItem": lines}
    by_object.update({sobject: [r for r in records if r is not None] for sobject, records in related.items()})
    return _ContractRecords(orders, lines, by_object)


def _schema_violations(records: Iterable[_ContractRecords]) -> dict[str, list[tuple[str, Violation]]]:
    """Record Id -> (check, violation) for every failing value, validating each object's records once."""
    unique: dict[str, dict[str, dict]] = defaultdict(dict)
    for contract_records in records:
        for sobject, rows in contract_records.by_object.items():
            unique[sobject].update((row["Id"], row) for row in rows)
    found: dict[str, list[tuple[str, Violation]]] = defaultdict(list)
    for sobject in SCHEMAS:
        if not unique[sobject]:
            continue
        failures = schema_failures(sobject, records_frame(sobject, unique[sobject].values()))
        for failure in failures.itertuples(index=False):
            if failure.Id is None or pd.isna(failure.Id):
                continue
            detail = f"{failure.column} fails {failure.check} (value {failure.failure_case!r})"
            found[failure.Id].append((failure.check, Violation.on("schema", sobject, failure.Id, detail)))
    return found


def _is_evergreen(line: Mapping[str, Any]) -> bool:
    return line.get("SBQQ__SubscriptionType__c") == "Evergreen"


class _StructuralRules:
    """The rules about how a contract is put together; each method yields the violations of one rule."""

    def __init__(self, org: OrgSnapshot, config: SyncConfig, contract: Contract, records: _ContractRecords):
        self.org = org
        self.config = config
        self.contract = contract
        self.records = records
        self.initial = org.get("Order", contract.initial_order_id) or {"Id": contract.initial_order_id}
        self.active_amendments = [order for order in records.orders[1:] if passes_filter(order)]
        self.billable_lines = [
            line
            for line in records.lines
            if line.get("OrderId") == self.initial["Id"] and not line.get("Skip_Line_Item__c")
        ]

    def all(self) -> Iterator[Violation]:
        for rule in (
            self.initial_order_found,
            self.quote_present,
            self.account_present,
            self.initial_order_passes_filter,
            self.amendments_pass_filter,
            self.pre_integration_order,
            self.line_activated,
            self.evergreen_terms_are_one,
            self.no_mixed_evergreen_renewable,
            self.single_product_evergreen_cancellation,
            self.one_currency_per_customer,
            self.not_yet_supported,
        ):
            yield from rule()

    def _order_violation(self, rule: str, order: Mapping[str, Any], message: str) -> Violation:
        return Violation.on(rule, "Order", order["Id"], message)

    def initial_order_found(self) -> Iterator[Violation]:
        contract_id = amended_contract_id(self.org, self.initial)
        if contract_id is not None:
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
        if self.org.get("Account", self.contract.account_id) is None:
            yield self._order_violation(
                "account_present",
                self.initial,
                f"its Account {self.contract.account_id!r} is not in the extracted org (set AccountId, or check the "
                "Account sync filter)",
            )

    def initial_order_passes_filter(self) -> Iterator[Violation]:
        if not passes_filter(self.initial) and self.active_amendments:
            yield self._order_violation(
                "initial_order_passes_filter",
                self.initial,
                "The connector attempted to sync the amendment order when the initial order was skipped, because "
                f"it didn't match custom sync filters (Order filter: {self.config.filters.get('Order')!r})",
            )

    def amendments_pass_filter(self) -> Iterator[Violation]:
        skipped = [
            order["Id"]
            for order in self.records.orders[1:]
            if order.get("Status") == "Activated" and not passes_filter(order)
        ]
        if skipped and self.active_amendments:
            yield self._order_violation(
                "amendments_pass_filter",
                self.active_amendments[-1],
                "Failed to sync amendment orders since not all amendment orders respect user's custom order filters "
                f"(skipped: {', '.join(skipped)}; Order filter: {self.config.filters.get('Order')!r})",
            )

    def pre_integration_order(self) -> Iterator[Violation]:
        activated = self.initial.get("ActivatedDate")
        start = datetime.combine(self.config.start_date, datetime.min.time(), tzinfo=UTC)
        if activated is not None and activated < start:
            yield self._order_violation(
                "pre_integration_order",
                self.initial,
                f"activated {activated.isoformat()}, before the sync start date {self.config.start_date}: "
                "pre-integration orders are not synced",
            )

    def line_activated(self) -> Iterator[Violation]:
        for line in self.billable_lines:
            if line.get("IsDeleted") or not line.get("SBQQ__Activated__c"):
                yield Violation.on(
                    "line_activated",
                    "OrderItem",
                    line["Id"],
                    "The order line was deleted or not activated. Activate the order's "
                    "lines (SBQQ__Activated__c) and do not delete them.",
                )

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
        if not any(map(_is_evergreen, self.billable_lines)) or not self.active_amendments:
            return
        net_quantity: dict[str, float] = defaultdict(int)
        for line in self.records.lines:
            net_quantity[chain_origin(line)] += line.get("Quantity") or 0
        cancelled = sorted(origin for origin, quantity in net_quantity.items() if quantity <= 0)
        if cancelled and len(cancelled) < len(net_quantity):
            yield self._order_violation(
                "single_product_evergreen_cancellation",
                self.active_amendments[-1],
                f"it cancels {', '.join(cancelled)} but not the rest of evergreen order {self.initial['Id']}. "
                "Cancellation is only supported for single-product evergreen orders: use one evergreen order per "
                "product.",
            )

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
                and order.get("Status") == "Activated"
                and passes_filter(order)
                and amended_contract_id(self.org, order) is None
                and _precedence(order) < own_rank
            ):
                yield order

    def not_yet_supported(self) -> Iterator[Violation]:
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


def assess_contracts(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    config: SyncConfig,
    *,
    today: date,
    instance_url: str = "",
) -> dict[str, ContractAssessment]:
    """Violations and desired objects of each contract, in one pass (translate.desired_state uses the objects)."""
    contracts = list(contracts)
    records = {contract.key: _records_of(org, contract) for contract in contracts}
    schema_by_id = _schema_violations(records.values())
    context = TranslationContext(org, config, DataMapper(config), today, instance_url)
    assessments = {}
    for contract in contracts:
        contract_records = records[contract.key]
        record_ids = {row["Id"] for rows in contract_records.by_object.values() for row in rows}
        schema = [found for record_id in sorted(record_ids) for found in schema_by_id.get(record_id, [])]
        violations = [violation for _, violation in schema]
        violations += _StructuralRules(org, config, contract, contract_records).all()
        objects: list[DesiredObject] = []
        coupon_links: list[CouponLink] = []
        blocked = any(v.rule in BLOCKING_RULES for v in violations)
        if not blocked and not any(check.startswith(_TYPE_CHECKS) for check, _ in schema):
            draft = draft_contract(context, contract)
            violations += draft.problems
            objects, coupon_links = draft.objects, draft.coupon_links
        assessments[contract.key] = ContractAssessment(violations, objects, coupon_links)
    return assessments


def validate_contracts(
    contracts: Iterable[Contract], org: OrgSnapshot, config: SyncConfig, *, today: date
) -> dict[str, list[Violation]]:
    """Contract key -> EVERY rule it breaks (empty list = valid). A failing contract is quarantined whole."""
    return {
        key: assessment.violations for key, assessment in assess_contracts(contracts, org, config, today=today).items()
    }
