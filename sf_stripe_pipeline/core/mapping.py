"""The data mapper (spec §1.3, F11, F27): which Salesforce value lands in which Stripe parameter.

Four layers, lowest precedence first: built-in required mappings, built-in default mappings, the user's
static field defaults, the user's field mappings. The mapper resolves them for one record into flat
`stripe_path -> value` pairs; `build_params` then turns those into nested, JSON-serialisable Stripe
parameters (dates as timestamps, metadata as strings, payment terms as days) and reports values Stripe
cannot take. Translators pop the paths they interpret themselves (prices' amount and recurring fields,
the schedule's start date and term) before building the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sf_stripe_pipeline.core.config import StaticValue, SyncConfig
from sf_stripe_pipeline.core.money import midnight_timestamp, plain_decimal, whole_number
from sf_stripe_pipeline.core.paths import (
    PSEUDO_PATHS,
    TARGET_SOURCES,
    TERMINATION_PREFIX,
    SalesforcePath,
    parse_salesforce_path,
)

_ADDRESS_PARTS = (
    ("line1", "Street"),
    ("city", "City"),
    ("state", "State"),
    ("postal_code", "PostalCode"),
    ("country", "Country"),
)

# target -> [(stripe_path, salesforce_path)]; spec §1.3's table of built-in mappings.
REQUIRED_MAPPINGS: dict[str, list[tuple[str, str]]] = {
    "subscription_schedule": [
        ("start_date", "SBQQ__Quote__c.SBQQ__StartDate__c"),
        ("iterations", "SBQQ__Quote__c.SBQQ__SubscriptionTerm__c"),
    ],
    "subscription_item": [("quantity", "Quantity")],
    "price": [("unit_amount_decimal", "UnitPrice")],
    "price_order_item": [("unit_amount_decimal", "UnitPrice")],
}
DEFAULT_MAPPINGS: dict[str, list[tuple[str, str]]] = {
    "price": [
        ("recurring.interval_count", "Product2.SBQQ__BillingFrequency__c"),
        ("recurring.usage_type", "Product2.SBQQ__BillingType__c"),
    ],
    "price_order_item": [
        ("recurring.interval_count", "SBQQ__BillingFrequency__c"),
        ("recurring.usage_type", "SBQQ__BillingType__c"),
    ],
    "customer": [
        ("name", "Name"),
        ("phone", "Phone"),
        ("description", "Description"),
        *((f"address.{part}", f"Billing{field}") for part, field in _ADDRESS_PARTS),
        ("shipping.name", "Name"),
        ("shipping.phone", "Phone"),
        *((f"shipping.address.{part}", f"Shipping{field}") for part, field in _ADDRESS_PARTS),
    ],
    "product": [("name", "Name"), ("description", "Description")],
    "coupon": [
        ("name", "Name__c"),
        ("amount_off", "Amount_Off__c"),
        ("percent_off", "Percent_Off__c"),
        ("duration", "Duration__c"),
        ("duration_in_months", "Duration_In_Months__c"),
        ("max_redemptions", "Max_Redemptions__c"),
    ],
}

REQUIRED, DEFAULT, FIELD_DEFAULT, FIELD_MAPPING = "required", "default", "field_default", "field_mapping"


@dataclass(frozen=True)
class MappingRule:
    stripe_path: str
    source: SalesforcePath | None
    """None for a static field default."""
    value: StaticValue | None
    origin: str
    required: bool


@dataclass(frozen=True)
class MappedFields:
    """One record's mapped values for one target."""

    values: dict[str, Any]
    """stripe_path -> non-null value ("true"/"false" already booleans)."""
    empty_paths: tuple[str, ...]
    """Mapped paths whose source is empty: owned by the sync, so a stale Stripe value there gets cleared."""
    missing_required: tuple[str, ...]
    """`target.path` of required mappings that resolved to null."""
    user_paths: frozenset[str]
    """Paths set by the user's field defaults or mappings (e.g. a custom price field, F18)."""


def _literal(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


class DataMapper:
    """The effective mapping rules of a configuration, resolved per record."""

    def __init__(self, config: SyncConfig):
        self._rules: dict[str, dict[str, MappingRule]] = {}
        for target, source_object in TARGET_SOURCES.items():
            rules: dict[str, MappingRule] = {}
            for origin, table in ((REQUIRED, REQUIRED_MAPPINGS), (DEFAULT, DEFAULT_MAPPINGS)):
                for stripe_path, sf_path in table.get(target, ()):
                    source = parse_salesforce_path(source_object, sf_path)
                    rules[stripe_path] = MappingRule(stripe_path, source, None, origin, origin == REQUIRED)
            for stripe_path, value in config.field_defaults.get(target, {}).items():
                required = stripe_path in rules and rules[stripe_path].required
                rules[stripe_path] = MappingRule(stripe_path, None, value, FIELD_DEFAULT, required)
            for stripe_path, sf_path in config.field_mappings.get(target, {}).items():
                required = stripe_path in rules and rules[stripe_path].required
                source = parse_salesforce_path(source_object, sf_path)
                rules[stripe_path] = MappingRule(stripe_path, source, None, FIELD_MAPPING, required)
            self._rules[target] = rules

    def rules(self, target: str) -> dict[str, MappingRule]:
        return self._rules[target]

    def map(self, target: str, record: Mapping[str, Any], org: Any, *, termination: bool = False) -> MappedFields:
        """`record`'s values for `target`; with `termination`, only the `sbc_termination.` mappings (prefix removed),
        which apply to the items and phase a termination ends (F12), and otherwise never."""
        values: dict[str, Any] = {}
        empty: list[str] = []
        missing: list[str] = []
        user: set[str] = set()
        for rule_path, rule in self._rules[target].items():
            if rule_path.startswith(TERMINATION_PREFIX) != termination:
                continue
            stripe_path = rule_path.removeprefix(TERMINATION_PREFIX)
            value = _literal(rule.value if rule.source is None else rule.source.resolve(org, record))
            if rule.origin in (FIELD_DEFAULT, FIELD_MAPPING):
                user.add(stripe_path)
            if value is None or value == "":
                empty.append(stripe_path)
                if rule.required:
                    missing.append(f"{target}.{stripe_path}")
            else:
                values[stripe_path] = value
        return MappedFields(values, tuple(empty), tuple(missing), frozenset(user))


BILLING_FREQUENCY_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
"""CPQ's SBQQ__BillingFrequency__c picklist -> the months of one billing period (a price's interval_count)."""
_NET_TERMS = re.compile(r"^\s*net[\s-]+(15|30|45|60|90)\s*$", re.IGNORECASE)


def days_until_due(value: Any) -> int:
    """Payment terms -> days (F27): an integer as-is, or "Net 15/30/45/60/90" with a dash or a space."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number of days")
    whole = whole_number(value)
    if whole is not None and whole >= 0:
        return whole
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        matched = _NET_TERMS.match(text)
        if matched:
            return int(matched.group(1))
    raise ValueError("use a whole number of days or one of Net 15, Net 30, Net 45, Net 60, Net 90")


@dataclass(frozen=True)
class ParamProblem:
    rule: str
    message: str


METADATA_MAX_KEYS = 50
METADATA_MAX_VALUE = 500


def metadata_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if (whole := whole_number(value)) is not None:
        return str(whole)
    if isinstance(value, Decimal):
        return format(plain_decimal(value), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _param_value(value: Any) -> Any:
    """A mapped value as a JSON-safe Stripe parameter: dates as timestamps, whole numbers as ints, and other
    Salesforce numbers as their exact decimal text (which Stripe's form encoding sends unchanged)."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, date):
        return midnight_timestamp(value)
    if (whole := whole_number(value)) is not None:
        return whole
    if isinstance(value, Decimal):
        return format(plain_decimal(value), "f")
    return value


def _is_metadata_path(segments: list[str], position: int) -> bool:
    return segments[position] == "metadata" and position < len(segments) - 1


def _assign(params: dict, path: str, value: Any) -> None:
    segments = path.split(".")
    node = params
    for position, segment in enumerate(segments[:-1]):
        if _is_metadata_path(segments, position):
            node.setdefault("metadata", {})[".".join(segments[position + 1 :])] = metadata_value(value)
            return
        node = node.setdefault(segment, {})
    node[segments[-1]] = _param_value(value)


def build_params(
    values: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> tuple[dict, list[ParamProblem]]:
    """Nested Stripe params from flat mapped values (pseudo paths skipped), plus our metadata keys (which win:
    they are the back-references the sync relies on, F10). Returns the params and what Stripe would reject."""
    params: dict = {}
    problems: list[ParamProblem] = []
    for path, value in values.items():
        if path in PSEUDO_PATHS["subscription_schedule"]:
            continue
        if path.split(".")[-1] == "days_until_due":
            try:
                value = days_until_due(value)
            except ValueError as error:
                problems.append(
                    ParamProblem("payment_terms", f"unsupported payment terms {value!r} for {path}: {error}")
                )
                continue
        _assign(params, path, value)
    if metadata:
        params.setdefault("metadata", {}).update(metadata)
    problems.extend(_metadata_problems(params.get("metadata", {})))
    return params, problems


def _metadata_problems(metadata: Mapping[str, str]) -> list[ParamProblem]:
    problems = []
    if len(metadata) > METADATA_MAX_KEYS:
        problems.append(
            ParamProblem("metadata_limits", f"{len(metadata)} metadata keys; Stripe allows {METADATA_MAX_KEYS}")
        )
    problems.extend(
        ParamProblem(
            "metadata_limits", f"metadata {key!r} is {len(value)} characters; Stripe allows {METADATA_MAX_VALUE}"
        )
        for key, value in metadata.items()
        if len(value) > METADATA_MAX_VALUE
    )
    return problems
