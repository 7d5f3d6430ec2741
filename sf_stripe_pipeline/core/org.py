"""The extracted Salesforce org as plain, typed records: the one input of the sync's functional core.

The shell extracts Salesforce objects (into DuckDB) and hands the core an `OrgSnapshot`; everything downstream
(contract grouping, validation, translation) reads records only through it, so the core stays testable on
small hand-built orgs. Lookups by Id and child lists by parent field are indexed lazily because each contract
walks from its orders to lines, quotes, accounts, products and price book entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sf_stripe_pipeline.salesforce.catalogue import (
    BOOLEAN,
    DATE,
    DATETIME,
    NUMERIC_TYPES,
    SOBJECTS,
)

PASSES_FILTER = "_passes_filter"
"""Extraction flag on a record: whether it matches the user's SOQL filter for its object (spec F4)."""


def _parse_datetime(text: str) -> datetime:
    # Salesforce writes `2025-03-10T12:00:00.000+0000`; Python 3.11 parses that and `Z` alike.
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


_REST_COERCIONS = {
    DATE: lambda value: value if isinstance(value, date) else date.fromisoformat(value),
    DATETIME: lambda value: value if isinstance(value, datetime) else _parse_datetime(value),
    BOOLEAN: _parse_boolean,
    **{numeric: float for numeric in NUMERIC_TYPES},
}


def coerce_rest_record(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Type one REST-shaped record by the catalogue; unknown keys (flags such as `_passes_filter`) pass through."""
    fields = SOBJECTS[sobject].fields
    typed: dict[str, Any] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        spec = fields.get(name)
        coerce = _REST_COERCIONS.get(spec.type) if spec else None
        typed[name] = coerce(value) if coerce and value is not None else value
    return typed


class OrgSnapshot:
    """The extracted Salesforce org: sobject -> records. Values are typed: date fields datetime.date, datetime
    fields tz-aware datetime (UTC), numbers float, booleans bool, text str, missing None. A record may carry the
    extraction flag `_passes_filter` (bool; absent means True): whether it passes the user's SOQL filter for its
    object (spec F4)."""

    def __init__(self, records: Mapping[str, Iterable[Mapping[str, Any]]]):
        unknown = sorted(set(records) - set(SOBJECTS))
        if unknown:
            raise ValueError(f"OrgSnapshot: unknown Salesforce objects {unknown}; known: {sorted(SOBJECTS)}")
        self._records: dict[str, list[dict]] = {name: [dict(r) for r in rows] for name, rows in records.items()}
        self._by_id: dict[str, dict[str, dict]] = {}
        self._children: dict[tuple[str, str], dict[str, list[dict]]] = {}

    @classmethod
    def from_rest(cls, org: Mapping[str, Sequence[Mapping[str, Any]]]) -> OrgSnapshot:
        """From REST-shaped records (strings for dates/datetimes, as the sandbox and snapshots hold them), coerced
        by the catalogue's field types; `attributes` dropped. For tests and snapshots."""
        return cls({name: [coerce_rest_record(name, record) for record in rows] for name, rows in org.items()})

    def get(self, sobject: str, record_id: str | None) -> dict | None:
        if record_id is None:
            return None
        index = self._by_id.get(sobject)
        if index is None:
            index = self._by_id[sobject] = {record["Id"]: record for record in self.records(sobject)}
        return index.get(record_id)

    def records(self, sobject: str) -> list[dict]:
        return self._records.get(sobject, [])

    def children(self, sobject: str, parent_field: str, parent_id: str) -> list[dict]:
        index = self._children.get((sobject, parent_field))
        if index is None:
            grouped: defaultdict[str, list[dict]] = defaultdict(list)
            for record in self.records(sobject):
                if record.get(parent_field) is not None:
                    grouped[record[parent_field]].append(record)
            index = self._children[(sobject, parent_field)] = dict(grouped)
        return index.get(parent_id, [])


def passes_filter(record: Mapping[str, Any]) -> bool:
    return record.get(PASSES_FILTER, True) is not False
