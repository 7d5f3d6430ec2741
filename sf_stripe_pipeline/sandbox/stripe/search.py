"""Stripe's search query language (the subset the pipeline needs), compiled to a SQL condition over the store.

    GET /v1/customers/search?query=metadata['sf_id']:'001A' AND email:'a@b.test'&limit=10&page=...

Grammar (https://docs.stripe.com/search#search-query-language):

    query  := clause (joiner clause)*          at most 10 clauses; AND and OR may not be mixed; no parentheses
    joiner := " AND " | " OR " | " "           (a space alone means AND)
    clause := ["-"] field operator value       "-" negates the clause
    field  := name | metadata["key"] | metadata['key']
    operator := ":"  exact match, case-insensitive (strings), equality (numbers, booleans), `:null` = missing
              | "~"  substring, case-insensitive, at least 3 characters (strings only)
              | ">" | "<" | ">=" | "<="  (numbers and timestamps only)
    value  := "double quoted" | 'single quoted' (backslash escapes the quote) | number | null | true | false

Each resource names its searchable fields and their kind (`Resource.search_fields`), as Stripe's per-resource
"query fields" lists do; anything else is refused with Stripe's 400 shape on the `query` parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import StripeApiError

MAX_CLAUSES = 10
MIN_SUBSTRING_LENGTH = 3


@dataclass(frozen=True)
class SearchField:
    """One searchable field: the SQL expression over the stored object and what kind of value it holds."""

    expression: str
    kind: str  # "string", "number" (timestamps too) or "boolean"


def field(name: str, kind: str = "string") -> SearchField:
    """A field stored at `$.name` in the object's JSON (`created` uses its indexed column)."""
    return SearchField("created" if name == "created" else f"json_extract(data, '$.{name}')", kind)


METADATA = "metadata"

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<joiner>AND|OR)(?=\s)
    | (?P<negate>-)?
      (?P<field>[a-z_]+(?:\[\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\])?)
      (?P<operator>>=|<=|:|~|>|<)
      (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|null|true|false)
    )""",
    re.VERBOSE,
)
_METADATA_KEY = re.compile(r"""metadata\[\s*(["'])((?:[^\\]|\\.)*?)\1\s*\]""")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    args: list[Any]


def compile_query(query: str, fields: dict[str, SearchField], resource_plural: str) -> CompiledQuery:
    """The SQL condition (and its arguments) selecting the objects `query` matches."""
    clauses: list[tuple[str, list[Any]]] = []
    joiners: set[str] = set()
    position = 0
    text = query.strip()
    if not text:
        raise _invalid_query("The search query is empty.")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _invalid_query(
                f"We were unable to parse your search query at position {position} (`{text[position:][:30]}`). "
                "Use clauses such as metadata['key']:'value' or field:'value', joined by AND or OR."
            )
        position = match.end()
        if match.group("joiner"):
            if not clauses or position >= len(text):
                raise _invalid_query(f"`{match.group('joiner')}` must stand between two clauses.")
            joiners.add(match.group("joiner"))
            continue
        clauses.append(_clause(match, fields, resource_plural))
    if joiners == {"AND", "OR"}:
        raise _invalid_query("A search query cannot combine AND and OR clauses.")
    if len(clauses) > MAX_CLAUSES:
        raise _invalid_query(f"A search query can combine at most {MAX_CLAUSES} clauses; this one has {len(clauses)}.")
    glue = " OR " if joiners == {"OR"} else " AND "
    return CompiledQuery(
        glue.join(f"({sql})" for sql, _ in clauses), [arg for _, clause_args in clauses for arg in clause_args]
    )


def _clause(match: re.Match[str], fields: dict[str, SearchField], resource_plural: str) -> tuple[str, list[Any]]:
    name, operator, raw_value = match.group("field"), match.group("operator"), match.group("value")
    args: list[Any] = []
    if name.startswith(f"{METADATA}["):
        key_match = _METADATA_KEY.fullmatch(name)
        key = _ESCAPE.sub(r"\1", key_match.group(2)) if key_match else ""
        if not key or '"' in key:
            raise _invalid_query(f"`{name}` is not a metadata key this sandbox can search.")
        search_field = SearchField("json_extract(data, ?)", "string")
        args.append(f'$.{METADATA}."{key}"')
    elif name in fields and name != METADATA:
        search_field = fields[name]
    else:
        raise _invalid_query(
            f"Field `{name}` is an unsupported search field for resource `{resource_plural}`. See "
            f"http://stripe.com/docs/search#query-fields-for-{resource_plural.replace('_', '-')} for a list of "
            "supported fields."
        )
    sql = _comparison(search_field, operator, _value(raw_value), name, args)
    if match.group("negate"):
        sql = f"NOT IFNULL({sql}, 0)"
    return sql, args


def _comparison(search_field: SearchField, operator: str, value: Any, name: str, args: list[Any]) -> str:
    expression, kind = search_field.expression, search_field.kind
    if value is None:
        if operator != ":":
            raise _invalid_query(f"`null` only works with `:` (in `{name}`).")
        return f"{expression} IS NULL"
    if operator == "~":
        if kind != "string" or not isinstance(value, str) or len(value) < MIN_SUBSTRING_LENGTH:
            raise _invalid_query(
                f"The substring operator `~` needs a string field and at least {MIN_SUBSTRING_LENGTH} characters "
                f"(in `{name}`)."
            )
        args.append(value.lower())
        return f"instr(lower({expression}), ?) > 0"
    if operator != ":":
        if kind != "number" or not isinstance(value, int | float):
            raise _invalid_query(f"`{operator}` compares numbers and timestamps only (in `{name}`).")
        args.append(value)
        return f"{expression} {operator} ?"
    if kind == "string":
        args.append(str(value).lower())
        return f"lower({expression}) = ?"
    if kind == "boolean":
        if str(value).lower() not in ("true", "false"):
            raise _invalid_query(f"`{name}` is a boolean: search it with true or false.")
        args.append(1 if str(value).lower() == "true" else 0)
        return f"{expression} = ?"
    try:
        args.append(int(value) if isinstance(value, str) else value)
    except ValueError:
        raise _invalid_query(f"`{name}` is a number: `{value}` is not.") from None
    return f"{expression} = ?"


def _value(raw: str) -> Any:
    if raw[0] in "'\"":
        return _ESCAPE.sub(r"\1", raw[1:-1])
    if raw in ("true", "false"):
        return raw
    if raw == "null":
        return None
    return float(raw) if "." in raw else int(raw)


def encode_page(cursor: tuple[int, int]) -> str:
    """An opaque `next_page` token: where the previous page ended, newest first."""
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode().rstrip("=")


def decode_page(token: str) -> tuple[int, int]:
    try:
        created, seq = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(created), int(seq)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise StripeApiError(f"Invalid page token: {token}", param="page") from None


def _invalid_query(message: str) -> StripeApiError:
    return StripeApiError(message, param="query")
