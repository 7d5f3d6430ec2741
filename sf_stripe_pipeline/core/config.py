"""The sync configuration: the one place its settings are defined, checked and documented.

It replaces the connector's setup wizard (spec §1.2, §1.3): start date, per-object SOQL filters, field defaults
and mappings, live sync, Sync Record retention, run limits, and the connector's optional "flags" that matter
for this scope. Everything is checked when it loads, including Stripe parameter paths, Salesforce field paths
and filter fragments, so a typo fails the run before any record is touched, with a message naming the key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sf_stripe_pipeline.core.org import CHANGE_STAMPS
from sf_stripe_pipeline.core.paths import TARGET_SOURCES, TERMINATION_PREFIX, check_stripe_path, parse_salesforce_path
from sf_stripe_pipeline.core.stripe_limits import SUPPORTED_CURRENCIES
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.salesforce.filters import FilterError, parse_filter

StaticValue = str | int | float | bool

_CONFIG_PROBLEMS = "sync_config_problems"


class ConfigError(ValueError):
    """A configuration that cannot be used. `str(error)` is one line naming the file, each key path and its reason
    (`sf_stripe.yaml: limits.max_operations_per_run: Input should be greater than or equal to 1`), so a command line
    can print it as it is; `source`, `problems` ((key path, reason) pairs, "" for the whole file), `key` and `reason`
    (the first problem) are there for callers that lay it out themselves."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        self.key, self.reason = problems[0] if problems else ("", "invalid sync configuration")
        described = "; ".join(f"{key_path or '<file>'}: {_one_line(reason)}" for key_path, reason in problems)
        super().__init__(f"{source}: {described}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LiveSyncConfig(_Section):
    enabled: bool = False
    interval_minutes: int = Field(15, ge=1, le=1440)
    """Minutes between live syncs; a divisor of 60, or whole hours dividing a day, so a cron schedule can run it."""

    @field_validator("interval_minutes")
    @classmethod
    def _cron_expressible(cls, minutes: int) -> int:
        if 60 % minutes == 0 or (minutes % 60 == 0 and 1440 % minutes == 0):
            return minutes
        raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) or be whole hours dividing a day (60, 120, 180, 240, 360, 480, 720, 1440)")


class DriftConfig(_Section):
    """The daily drift check (`stripe_drift_schedule`): off unless enabled; it can be run by hand either way."""

    enabled: bool = False
    hour_utc: int = Field(4, ge=0, le=23)
    """The hour (UTC) of the daily check."""
    requeue: bool = False
    """Whether the scheduled check syncs the contracts of drifted objects again afterwards."""


class RetentionConfig(_Section):
    salesforce_sync_records: int = Field(10_000, ge=100, le=1_000_000)
    """Success/Resolved Sync Records kept in Salesforce; the oldest beyond this are purged (F9)."""


class LimitsConfig(_Section):
    max_operations_per_run: int = Field(50_000, ge=1)
    allow_destructive: bool = False
    """Whether a run may archive Stripe prices that replaced ones (amount changed in Salesforce)."""


class StripeConfig(_Section):
    """How the sync talks to Stripe: its pace, its parallelism and how long it keeps retrying (issues 9.3, 10.2)."""

    requests_per_second: float | None = Field(None, gt=0, le=1000)
    """Client-side limit shared by every thread of a run. Unset: Stripe's documented limit for the key's mode
    (25 for test keys and the sandbox, 100 for live keys); the limiter paces at 95 % of it."""
    concurrency: int | None = Field(None, ge=1, le=128)
    """Requests in flight at once. Unset: one per allowed request a second (at most 64), enough to reach the
    rate at a second of latency per request."""
    retry_budget_seconds: float = Field(120.0, ge=0, le=3600)
    """How long a run keeps retrying while Stripe answers nothing but transient failures; once spent, the
    operations not done are recorded as failed and the run ends."""
    max_attempts: int = Field(6, ge=1, le=20)
    """Attempts per request before a transient failure (429, 5xx, connection error) is recorded as failed."""


class SyncConfig(_Section):
    start_date: date
    """Orders activated before it are pre-integration and rejected (F2); the first live-sync window starts here."""
    default_currency: str = Field("USD", pattern=r"^[A-Za-z]{3}$")
    """Used for records without CurrencyIsoCode (single-currency orgs, F20); one Stripe supports."""
    filters: dict[str, str] = {"Order": "Status = 'Activated'"}
    """Per-object SOQL WHERE fragments (F4), appended to extraction queries with AND."""
    field_defaults: dict[str, dict[str, StaticValue]] = {}
    """target -> {stripe_path: static value} (F11)."""
    field_mappings: dict[str, dict[str, str]] = {}
    """target -> {stripe_path: salesforce_path} (F11); overrides built-ins and field defaults."""
    live_sync: LiveSyncConfig = LiveSyncConfig()
    drift: DriftConfig = DriftConfig()
    retention: RetentionConfig = RetentionConfig()
    limits: LimitsConfig = LimitsConfig()
    stripe: StripeConfig = StripeConfig()
    update_customers: bool = True
    """Update an existing Stripe customer from its Account on every sync (connector flag
    `update_customer_on_order_creation`, on here because Salesforce is the source of truth)."""
    update_products: bool = True
    """Update an existing Stripe product from its Product2 (connector flag `update_product_on_sync`)."""
    non_anniversary_amendments: bool = False
    """Allow amendments that start on another day of the month than the initial order (connector flag of the same
    name); their term must then be the whole months between their start and end."""
    prorate_precision: Literal["month", "month_and_day"] = "month"
    """CPQ's "Subscription Prorate Precision": `month` counts a partial month as a whole one; `month_and_day` counts
    it day by day (12/365 of a month a day) in amendment prices and prorations (F18, F32), and a ProrateMultiplier
    mismatch is then an error."""
    # -- the connector's optional features ("flags", spec §1.12), each off unless turned on ---------------------
    frontend_prorations: bool = False
    """F28: an initial order whose term is shorter than a line's billing period bills that line the term's share
    of one period (a price of its own), instead of being refused."""
    terminated_order_item_credit: bool = False
    """F36: a line an amendment removes entirely off a billing date is credited its unused time to the next billing
    date (a negative invoice item on the amendment's phase), as Stripe's own prorations would."""
    quantity_reduction_order_item_credit: bool = False
    """F36: the same credit for the units an amendment removes from a line that keeps some."""
    termination_metadata: bool = False
    """F12: apply the `sbc_termination.` field mappings (subscription_item, subscription_phase) to the items and
    the phase that a termination ends."""
    old_order_migration: bool = False
    """F33: an initial order activated before start_date is migrated instead of rejected as pre-integration: a
    subscription backdated to its start, first billed on its next billing date (nothing billed twice), handed to
    a schedule for the rest of the term (renewable orders)."""
    account_polling: bool = False
    """F14: a partition also re-syncs the customers of already linked accounts changed in its window, without any
    of their orders changing."""
    invoice_prorations_immediately: bool = False
    """F34: when an amendment that starts now bills prorations (F32), invoice them at once: an invoice for the
    customer and the subscription, with the pending proration items, finalized (the connector's webhook did this)."""

    @field_validator("default_currency")
    @classmethod
    def _supported_currency(cls, value: str) -> str:
        if value.lower() not in SUPPORTED_CURRENCIES:
            raise ValueError(f"{value!r} is not a currency Stripe supports (see https://docs.stripe.com/currencies)")
        return value.upper()

    @model_validator(mode="after")
    def _check_references(self) -> SyncConfig:
        problems = _reference_problems(self)
        if problems:
            raise PydanticCustomError(
                _CONFIG_PROBLEMS, "{summary}", {"summary": _summary(problems), "problems": problems}
            )
        return self


def _summary(problems: list[tuple[str, str]]) -> str:
    return "; ".join(f"{key_path}: {reason}" for key_path, reason in problems)


def _reference_problems(config: SyncConfig) -> list[tuple[str, str]]:
    """Problems with what the settings refer to: objects, filter syntax, Stripe and Salesforce paths."""
    problems: list[tuple[str, str]] = []
    if not config.termination_metadata:
        problems += [
            (f"{section}.{target}.{path}", "termination mappings apply only with termination_metadata: true (F12)")
            for section, by_target in (("field_defaults", config.field_defaults), ("field_mappings", config.field_mappings))
            for target, paths in by_target.items()
            for path in paths
            if path.startswith(TERMINATION_PREFIX)
        ]
    for sobject, fragment in config.filters.items():
        if sobject not in SOBJECTS:
            problems.append((f"filters.{sobject}", f"unknown Salesforce object; known: {', '.join(SOBJECTS)}"))
            continue
        try:
            parse_filter(fragment, sobject)
        except FilterError as error:
            problems.append((f"filters.{sobject}", f"invalid SOQL filter {fragment!r}: {error}"))
    for section, by_target in (("field_defaults", config.field_defaults), ("field_mappings", config.field_mappings)):
        for target, paths in by_target.items():
            if target not in TARGET_SOURCES:
                problems.append(
                    (f"{section}.{target}", f"unknown mapping target; known targets: {', '.join(TARGET_SOURCES)}")
                )
                continue
            for stripe_path, value in paths.items():
                key_path = f"{section}.{target}.{stripe_path}"
                try:
                    check_stripe_path(target, stripe_path)
                    mapped = parse_salesforce_path(TARGET_SOURCES[target], value) if section == "field_mappings" else None
                    if mapped is not None and mapped.field in CHANGE_STAMPS:
                        raise ValueError(
                            f"{value!r} is a change stamp, which the sync does not count as a change of its record "
                            "(it moves on every write, the sync's own write-backs included): a Stripe value mapped "
                            "from it would not follow it; map another field"
                        )
                except ValueError as error:
                    problems.append((key_path, str(error)))
    return problems


_STATIC_VALUE_MEMBERS = ("str", "int", "float", "bool")
"""How pydantic names the members of StaticValue in an error's location; one problem is reported for all four."""


def _validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for detail in error.errors():
        if detail["type"] == _CONFIG_PROBLEMS:
            problems.extend(tuple(problem) for problem in detail["ctx"]["problems"])
            continue
        location = [str(part) for part in detail["loc"]]
        reason = detail["msg"].removeprefix("Value error, ")
        if location and location[-1] in _STATIC_VALUE_MEMBERS:
            location, reason = location[:-1], "expected a static value: a text, a number or true/false"
        problem = (".".join(location), reason)
        if problem not in problems:
            problems.append(problem)
    return problems


def parse_config(data: Any, source: str = "<config>") -> SyncConfig:
    """A SyncConfig from already-parsed YAML/JSON data; ConfigError names `source` and each key path."""
    if not isinstance(data, dict):
        raise ConfigError(source, [("", f"expected a mapping of settings, got {type(data).__name__}")])
    try:
        return SyncConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, _validation_problems(error)) from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key_path: str, line: int, first_line: int):
        super().__init__(f"{key_path} is set twice (lines {first_line} and {line})")
        self.key_path, self.line, self.first_line = key_path, line, first_line


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key set twice in one mapping (PyYAML would keep the last silently, so a
    setting could be overridden by accident further down the file)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._parents: dict[int, tuple[str, ...]] = {}
        """id(mapping node) -> the key path leading to it, for naming a duplicate key where it sits."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(self._key_path(node, key), line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def _key_path(self, node: yaml.MappingNode, key: Any) -> str:
        return ".".join([*self._parents.get(id(node), ()), str(key)])

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A date YAML cannot build (2025-02-30) stays text, so validation names its key instead of crashing."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        node = super().compose_node(parent, index)
        if isinstance(node, yaml.MappingNode):
            path = self._parents.get(id(parent), ()) if parent is not None else ()
            if isinstance(index, yaml.ScalarNode):
                path = (*path, str(index.value))
            self._parents[id(node)] = path
        return node


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return f"not valid YAML: {error}"


def load_config(path: str | Path) -> SyncConfig:
    """YAML -> SyncConfig. Any error raises ConfigError(ValueError) whose one-line message names the file, the key
    path (e.g. `field_mappings.customer.emial`) and the reason; a key set twice is an error too."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(source, [("", f"cannot read the file: {error.strerror or error}")]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as error:
        reason = f"set twice (lines {error.first_line} and {error.line})"
        raise ConfigError(source, [(error.key_path, reason)]) from None
    except yaml.YAMLError as error:
        raise ConfigError(source, [("", _yaml_problem(error))]) from None
    return parse_config(data, source)
