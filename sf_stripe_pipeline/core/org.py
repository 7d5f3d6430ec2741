"""The extracted Salesforce org as plain, typed records: the one input of the sync's functional core.

The shell extracts Salesforce objects (into DuckDB) and hands the core an `OrgSnapshot`; everything downstream
(contract grouping, validation, translation) reads records only through it, so the core stays testable on
small hand-built orgs. Lookups by Id and child lists by parent field are indexed lazily because each contract
walks from its orders to lines, quotes, accounts, products and price book entries.

Numbers are exact: a Salesforce double, currency or percent field is a `Decimal` here (the REST client parses JSON
numbers as Decimal and the warehouse stores them as DECIMAL), written without trailing zeros; an `int` field is an
int. No float ever stands for an amount.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import InvalidOperation
from functools import cache
from typing import Any

from sf_stripe_pipeline.core.money import plain_decimal, to_decimal, whole_number
from sf_stripe_pipeline.salesforce.catalogue import (
    BOOLEAN,
    DATE,
    DATETIME,
    INT,
    NUMERIC_TYPES,
    SOBJECTS,
)

PASSES_FILTER = "_passes_filter"
"""Extraction flag on a record: whether it matches the user's SOQL filter for its object (spec F4)."""
Rows = tuple[Sequence[str], Sequence[Sequence[Any]]]
"""A table as the warehouse returns it: column names, value tuples."""
UNSTORABLE_NUMBERS = "_unstorable_numbers"
"""Extraction flag on a record: its numbers the warehouse could not hold exactly ("UnitPrice 1E+25"), stored as
null; None when every number was stored. The pandera schemas report it on the record."""
VERSION = "_version"
"""A column the warehouse adds when it loads the org: a digest of the record's stored values but its change stamps,
so runs can tell whether a record changed (core/assessment_inputs.py). The snapshot keeps it apart from the record."""
CHANGE_STAMPS = ("SystemModstamp", "LastModifiedDate")
"""The fields saying when a record last changed (SystemModstamp also moves on system updates)."""


def without_change_stamps(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record less its change stamps: for what an assessment keeps of a record, which must not depend on when it
    was last written (a record's version leaves them out)."""
    return {name: value for name, value in record.items() if name not in CHANGE_STAMPS}


def _parse_datetime(text: str) -> datetime:
    # Salesforce writes `2025-03-10T12:00:00.000+0000`; Python 3.11 parses that and `Z` alike.
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _number(value: Any) -> Any:
    """A double, currency or percent value as an exact Decimal without trailing zeros. Text that is no number is
    left as it is, for the pandera schemas to name (rule `schema`)."""
    try:
        return plain_decimal(to_decimal(value))
    except (InvalidOperation, TypeError, ValueError):
        return value


def _integer(value: Any) -> Any:
    """An int field as an int; a value with a fraction stays a Decimal (the schemas report it)."""
    number = _number(value)
    whole = whole_number(number)
    return whole if whole is not None else number


_NUMBER_COERCIONS: dict[str, Callable[[Any], Any]] = {
    **{numeric: _number for numeric in NUMERIC_TYPES - {INT}},
    INT: _integer,
}
_REST_COERCIONS = {
    DATE: lambda value: value if isinstance(value, date) else date.fromisoformat(value),
    DATETIME: lambda value: value if isinstance(value, datetime) else _parse_datetime(value),
    BOOLEAN: _parse_boolean,
    **_NUMBER_COERCIONS,
}


@cache
def _number_fields(sobject: str) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    fields = SOBJECTS[sobject].fields.values()
    return tuple((spec.name, _NUMBER_COERCIONS[spec.type]) for spec in fields if spec.type in _NUMBER_COERCIONS)


@cache
def _typed_fields(sobject: str) -> dict[str, Callable[[Any], Any]]:
    """Field -> coercion, for the numbers, dates and datetimes of `sobject`: what `from_rows` types (the warehouse
    may hand them over as text, which is quicker to fetch)."""
    fields = SOBJECTS[sobject].fields.values()
    return {spec.name: _REST_COERCIONS[spec.type] for spec in fields if spec.type in {*NUMERIC_TYPES, DATE, DATETIME}}


def _exact_numbers(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `record` whose numbers are typed by the catalogue (Decimal, or int for int fields)."""
    typed = dict(record)
    for name, coerce in _number_fields(sobject):
        value = typed.get(name)
        if value is not None:
            typed[name] = coerce(value)
    return typed


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
    fields tz-aware datetime (UTC), numbers Decimal (int for int fields), booleans bool, text str, missing None.
    Numbers are typed here whatever the source gave (DuckDB's DECIMAL(38,18), JSON ints). A record may carry the
    extraction flag `_passes_filter` (bool; absent means True): whether it passes the user's SOQL filter for its
    object (spec F4)."""

    def __init__(self, records: Mapping[str, Iterable[Mapping[str, Any]]]):
        unknown = sorted(set(records) - set(SOBJECTS))
        if unknown:
            raise ValueError(f"OrgSnapshot: unknown Salesforce objects {unknown}; known: {sorted(SOBJECTS)}")
        self._records: dict[str, list[dict]] = {
            name: [_exact_numbers(name, record) for record in rows] for name, rows in records.items()
        }
        self._by_id: dict[str, dict[str, dict]] = {}
        self._children: dict[tuple[str, str], dict[str, list[dict]]] = {}
        self._versions: dict[str, dict[str, str]] = {}

    @classmethod
    def from_rows(cls, tables: Iterable[tuple[str, Rows]]) -> OrgSnapshot:
        """From table rows as the warehouse returns them ((sobject, (column names, value tuples)) pairs, taken one
        table at a time, so a large org's rows are never all held at once): numbers, dates and datetimes (typed
        values, or their text) are typed column by column, each distinct value once (prices, quantities and dates
        repeat across an org's lines). A `VERSION` column gives the records' versions."""
        snapshot = cls({})
        for sobject, (names, rows) in tables:
            if sobject not in SOBJECTS:
                raise ValueError(f"OrgSnapshot: unknown Salesforce object {sobject!r}; known: {sorted(SOBJECTS)}")
            coercions = _typed_fields(sobject)
            columns = [list(column) for column in zip(*rows)]
            del rows
            names = list(names)
            if VERSION in names:
                position = names.index(VERSION)
                names.pop(position)
                versions = columns.pop(position) if columns else []
                ids = columns[names.index("Id")] if columns else []
                snapshot._versions[sobject] = dict(zip(ids, versions))
            for position, name in enumerate(names):
                if (coerce := coercions.get(name)) is not None and columns:
                    distinct = {value: coerce(value) for value in set(columns[position]) if value is not None}
                    columns[position] = [None if value is None else distinct[value] for value in columns[position]]
            snapshot._records[sobject] = [dict(zip(names, values)) for values in zip(*columns)]
            del columns
        return snapshot

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

    def version(self, sobject: str, record_id: str) -> str | None:
        """A digest of the record's values (None: no such record): another version means the record changed. The
        warehouse's when it gave one, else made from the typed values."""
        record = self.get(sobject, record_id)
        if record is None:
            return None
        known = self._versions.get(sobject, {}).get(record_id)
        if known is None:
            known = hashlib.blake2b(repr(sorted(record.items())).encode(), digest_size=16).hexdigest()
            self._versions.setdefault(sobject, {})[record_id] = known
        return known

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
