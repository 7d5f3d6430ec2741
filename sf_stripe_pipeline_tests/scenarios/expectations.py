"""Checking a scenario's `expected.yaml` against the sandboxes, through the real clients only.

Stripe is read with stripe-python, Salesforce with simple-salesforce, the audit trail from the DuckDB warehouse; the
checker never calls the pipeline's own code. Every mismatch is collected (not raised on the first), so one failing
scenario shows everything that differs from the spec.

Expected values are plain YAML scalars compared for equality, with these conveniences:
- a YAML date (`2025-04-01`) equals that day's midnight UTC as a Stripe timestamp, or the Salesforce date text;
  a YAML datetime equals its Unix timestamp;
- fields ending in `_decimal` compare as numbers (`"800"` equals Stripe's `"800.000000000000"`);
- a mapping is a matcher: `{absent: true}`, `{len: 2}`, `{startswith: "in_"}`, `{contains: "text"}`,
  `{linked: "Order/801..."}` (the Stripe id written back on that Salesforce record), `{ref: alias}` (the id of an
  object found earlier with `as: alias`).

Paths are dotted with list indices (`phases.1.items.0.quantity`). When a path goes on past a Stripe id under a
known key (`price`, `product`, `customer`, `coupon`, `subscription`...), the object is retrieved and the path
continues inside it, like Stripe's `expand`: `phases.0.items.0.price.unit_amount_decimal`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
import stripe
from simple_salesforce import Salesforce

from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS

MISSING = object()

# Stripe object collections, by the service name used in expected files.
LIST_PARAMS: dict[str, dict[str, Any]] = {
    "customers": {},
    "products": {},
    "prices": {},
    "coupons": {},
    "subscription_schedules": {},
    "subscriptions": {"status": "all"},  # Stripe lists only non-canceled subscriptions by default
    "invoices": {},
    "invoice_items": {},
}
# Which service retrieves the id found under a key (Stripe's expandable fields) or with a prefix.
SERVICE_OF_KEY = {
    "price": "prices",
    "product": "products",
    "customer": "customers",
    "coupon": "coupons",
    "subscription": "subscriptions",
    "released_subscription": "subscriptions",
    "schedule": "subscription_schedules",
    "invoice": "invoices",
}
EXPAND_ON_RETRIEVE = {"prices": {"expand": ["tiers"]}}
"""Fields Stripe returns only when expanded, which expected files may check (a tiered price's `tiers`, F19)."""
SERVICE_OF_PREFIX = (
    ("sub_sched_", "subscription_schedules"),
    ("sub_", "subscriptions"),
    ("in_", "invoices"),
    ("ii_", "invoice_items"),
    ("cus_", "customers"),
    ("price_", "prices"),
    ("prod_", "products"),
)


def service_for_id(stripe_id: str) -> str:
    for prefix, service in SERVICE_OF_PREFIX:
        if stripe_id.startswith(prefix):
            return service
    return "coupons"  # coupon ids have no prefix


def _timestamp(moment: date | datetime) -> int:
    if isinstance(moment, datetime):
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp())


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _describe(sync_records: Sequence[Mapping[str, Any]]) -> str:
    """Sync records as `compound id status: message` (messages cut), for mismatch reports."""
    return "; ".join(
        f"{r['Compound_ID__c']} {r['Resolution_Status__c']}: {(r['Resolution_Message__c'] or '')[:160]}"
        for r in sync_records
    )


@dataclass
class Checker:
    """Collects mismatches between expected values and the sandboxes' state."""

    stripe_client: stripe.StripeClient
    salesforce: Salesforce
    warehouse_path: str
    problems: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- reading -----------------------------------------------------------------------------------------------

    def stripe_object(self, stripe_id: str, service: str | None = None) -> dict[str, Any]:
        """The object, or {} (with a problem noted) when Stripe does not have it."""
        if stripe_id not in self._cache:
            service = service or service_for_id(stripe_id)
            params = EXPAND_ON_RETRIEVE.get(service, {})
            try:
                found = getattr(self.stripe_client.v1, service).retrieve(stripe_id, params)
            except stripe.InvalidRequestError as error:
                self.problems.append(f"stripe {stripe_id}: cannot be retrieved ({error.user_message})")
                return {}
            self._cache[stripe_id] = found.to_dict()
        return self._cache[stripe_id]

    def stripe_list(self, service: str) -> list[dict[str, Any]]:
        listed = getattr(self.stripe_client.v1, service).list(LIST_PARAMS[service] | {"limit": 100})
        return [item.to_dict() for item in listed.auto_paging_iter()]

    def salesforce_records(
        self, sobject: str, where: Mapping[str, Any], include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        conditions = " AND ".join(f"{name} = {self._soql_literal(value)}" for name, value in where.items())
        fields = ", ".join(SOBJECTS[sobject].fields)
        soql = f"SELECT {fields} FROM {sobject}" + (f" WHERE {conditions}" if conditions else "")
        return [dict(record) for record in self.salesforce.query_all_iter(soql, include_deleted=include_deleted)]

    @staticmethod
    def _soql_literal(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    def value_of(self, wanted: Any) -> Any:
        """A `where` value: literal, or the id a `{linked: ...}` / `{ref: ...}` matcher names."""
        if isinstance(wanted, Mapping) and "linked" in wanted:
            return self.linked_id(wanted["linked"])
        if isinstance(wanted, Mapping) and "ref" in wanted:
            return self.aliases.get(wanted["ref"])
        return wanted

    def linked_id(self, reference: str) -> str | None:
        """`Order/801...` -> that record's Stripe_ID__c (deleted records too: a merged account keeps its id)."""
        sobject, _, record_id = reference.partition("/")
        records = self.salesforce_records(sobject, {"Id": record_id}, include_deleted=True)
        return records[0].get("Stripe_ID__c") if records else None

    def warehouse_rows(self, table: str, where: Mapping[str, Any]) -> list[dict[str, Any]]:
        conn = duckdb.connect(self.warehouse_path, read_only=True)
        try:
            conditions = " AND ".join(f"{name} = ?" for name in where)
            cursor = conn.execute(
                f"SELECT * FROM sync.{table}" + (f" WHERE {conditions}" if conditions else ""), list(where.values())
            )
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
        finally:
            conn.close()

    # -- comparing ---------------------------------------------------------------------------------------------

    def resolve(self, node: Any, path: str) -> Any:
        """The value at dotted `path` under `node`, retrieving Stripe objects met on the way (see module doc)."""
        parts = [part for part in str(path).split(".") if part]
        key: str | None = None
        for index, part in enumerate(parts):
            if isinstance(node, str) and key in SERVICE_OF_KEY:
                node = self.stripe_object(node, SERVICE_OF_KEY[key])
            if isinstance(node, Mapping):
                node = node.get(part, MISSING)
            elif isinstance(node, Sequence) and not isinstance(node, str) and part.lstrip("-").isdigit():
                position = int(part)
                node = node[position] if -len(node) <= position < len(node) else MISSING
            else:
                return MISSING
            if node is MISSING:
                return MISSING
            key = part
        return node

    def compare(self, where: str, actual: Any, expected: Any, key: str = "") -> None:
        if isinstance(expected, Mapping):
            self._match(where, actual, expected)
            return
        if actual is MISSING:
            self.problems.append(f"{where}: missing, expected {expected!r}")
            return
        if isinstance(expected, date):
            expected = _timestamp(expected) if isinstance(actual, int) else expected.isoformat()
        if key.endswith("_decimal") and actual is not None and expected is not None:
            if _decimal(actual) != _decimal(expected):
                self.problems.append(f"{where}: {actual!r} != expected {expected!r}")
            return
        if isinstance(actual, float) and isinstance(expected, int) and actual == expected:
            return
        if actual != expected:
            self.problems.append(f"{where}: {actual!r} != expected {expected!r}")

    def _match(self, where: str, actual: Any, matcher: Mapping[str, Any]) -> None:
        if actual is MISSING and "absent" not in matcher:
            self.problems.append(f"{where}: missing, expected {dict(matcher)}")
            return
        (kind, wanted), *others = matcher.items()
        if others:
            raise ValueError(f"{where}: a matcher has exactly one key, got {sorted(matcher)}")
        present = actual is not MISSING and actual is not None
        if kind == "absent":
            if present == bool(wanted):
                state = "present" if present else "absent"
                self.problems.append(f"{where}: {state} ({actual!r}), expected absent={wanted}")
        elif kind == "len":
            size = len(actual) if present and hasattr(actual, "__len__") else 0
            if size != wanted:
                self.problems.append(f"{where}: {size} entries, expected {wanted}")
        elif kind in ("startswith", "contains"):
            text = actual if isinstance(actual, str) else ""
            ok = text.startswith(wanted) if kind == "startswith" else wanted in text
            if not ok:
                self.problems.append(f"{where}: {actual!r} does not {kind.rstrip('s')} {wanted!r}")
        elif kind == "linked":
            self.compare(where, actual, self.linked_id(wanted) or f"<no Stripe_ID__c on {wanted}>")
        elif kind == "ref":
            self.compare(where, actual, self.aliases.get(wanted, f"<no object found as {wanted!r}>"))
        else:
            raise ValueError(f"{where}: unknown matcher {kind!r}")

    def compare_fields(self, where: str, node: Any, fields: Mapping[str, Any]) -> None:
        for path, expected in (fields or {}).items():
            self.compare(f"{where} {path}", self.resolve(node, path), expected, key=str(path).rsplit(".", 1)[-1])

    # -- the sections of expected.yaml -------------------------------------------------------------------------

    def stripe_counts(self, counts: Mapping[str, int]) -> None:
        for service, expected in counts.items():
            objects = self.stripe_list(service)
            if len(objects) != expected:
                ids = ", ".join(o["id"] for o in objects)
                self.problems.append(f"stripe {service}: {len(objects)} objects ({ids}), expected {expected}")

    def _has(self, obj: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
        return all(self.resolve(obj, path) == self.value_of(value) for path, value in where.items())

    def stripe_objects(self, specs: Sequence[Mapping[str, Any]]) -> None:
        for number, spec in enumerate(specs, start=1):
            label = spec.get("as") or f"object #{number}"
            for found in self._find(label, spec):
                if spec.get("as"):
                    self.aliases[spec["as"]] = found["id"]
                self.compare_fields(f"stripe {label} ({found['id']})", found, spec.get("expect", {}))

    def _find(self, label: str, spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if "linked" in spec:
            stripe_id = self.linked_id(spec["linked"])
            if not stripe_id:
                self.problems.append(f"stripe {label}: {spec['linked']} has no Stripe_ID__c")
                return
            if spec.get("type") and service_for_id(stripe_id) != spec["type"]:
                self.problems.append(f"stripe {label}: {spec['linked']} links {stripe_id}, expected a {spec['type']}")
                return
            yield self.stripe_object(stripe_id)
            return
        matches = [o for o in self.stripe_list(spec["list"]) if self._has(o, spec.get("where", {}))]
        wanted = spec.get("count", 1)
        if len(matches) != wanted:
            ids = ", ".join(o["id"] for o in matches)
            self.problems.append(
                f"stripe {label}: {len(matches)} {spec['list']} match {spec.get('where')} ({ids}), expected {wanted}"
            )
        if matches:
            yield matches[0]

    def salesforce_section(self, specs: Sequence[Mapping[str, Any]]) -> None:
        for spec in specs:
            where = {"Id": spec["id"]} if "id" in spec else {
                name: self.value_of(value) for name, value in (spec.get("where") or {}).items()
            }
            records = self.salesforce_records(spec["sobject"], where)
            label = f"salesforce {spec['sobject']} {where}"
            wanted = spec.get("count", 1)
            if len(records) != wanted:
                self.problems.append(f"{label}: {len(records)} records, expected {wanted}")
            if records:
                self.compare_fields(label, records[0], spec.get("expect", {}))

    def sync_records(self, specs: Sequence[Mapping[str, Any]]) -> None:
        for spec in specs:
            where = dict(spec.get("where", {}))
            if "compound_id" in spec:
                where["Compound_ID__c"] = spec["compound_id"]
            records = self.salesforce_records("Sync_Record__c", where)
            if spec.get("status"):
                records = [r for r in records if r["Resolution_Status__c"] == spec["status"]]
            if spec.get("message"):
                records = [r for r in records if spec["message"] in (r["Resolution_Message__c"] or "")]
            wanted = spec.get("count")
            if (len(records) != wanted) if wanted is not None else not records:
                held = _describe(self.salesforce_records("Sync_Record__c", {}))
                self.problems.append(
                    f"Sync_Record__c {where} status={spec.get('status')} message~{spec.get('message')!r}: "
                    f"{len(records)} found, expected {wanted if wanted is not None else 'at least 1'}. Held: {held}"
                )

    def sync_record_counts(self, counts: Mapping[str, int]) -> None:
        held = self.salesforce_records("Sync_Record__c", {})
        for status, wanted in counts.items():
            found = [r for r in held if r["Resolution_Status__c"] == status]
            if len(found) != wanted:
                self.problems.append(
                    f"Sync_Record__c with status {status}: {len(found)}, expected {wanted} ({_describe(found)})"
                )

    def warehouse(self, specs: Sequence[Mapping[str, Any]]) -> None:
        for spec in specs:
            rows = self.warehouse_rows(spec.get("table", "sync_records"), spec.get("where", {}))
            if spec.get("message"):
                rows = [row for row in rows if spec["message"] in (row.get("message") or "")]
            if "count" in spec and len(rows) != spec["count"]:
                self.problems.append(f"warehouse {spec.get('where')}: {len(rows)} rows, expected {spec['count']}")
            elif "count" not in spec and not rows:
                self.problems.append(f"warehouse {spec.get('where')} message~{spec.get('message')!r}: no rows")
