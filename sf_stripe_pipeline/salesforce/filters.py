"""User filters (spec F4): the SOQL WHERE fragments of the sync config, checked strictly before any query runs.

A user writes `filters: {Order: "Status = 'Activated'"}`; extraction ANDs the fragment with its own conditions. This
module parses a fragment as Salesforce would read it: comparisons (`= != <> < <= > >=`, LIKE, IN / NOT IN lists,
INCLUDES / EXCLUDES), AND / OR / NOT with parentheses (mixing AND and OR needs parentheses, as in SOQL), and typed
literals (strings with escapes, numbers, true / false / null, dates, datetimes with a zone, and date literals such
as TODAY or LAST_N_DAYS:7). Field names, and parent fields through lookups (`Account.Name`), resolve against the
catalogue case-insensitively. Anything else is refused with one line naming the column and the reason.

It is the pipeline's own parser, not the sandbox's (`sandbox/salesforce/soql.py`): a config is checked against
Salesforce's language, not against what the emulator happens to answer, and production code does not depend on the
emulator. Where the two differ, the sandbox refuses at query time what it cannot answer (date literals, paths
through more than one lookup).

`where_clause` is the one place conditions are combined: each is parsed first, so it is a whole condition with
balanced parentheses, and then parenthesised, so `Status = 'Activated' OR Id != null` can narrow a query only
as a unit and never widens the conditions it is ANDed with.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sf_stripe_pipeline.salesforce import catalogue
from sf_stripe_pipeline.salesforce.catalogue import FieldSpec, SObjectSpec

MAX_RELATIONSHIP_HOPS = 5
"""SOQL follows at most five child-to-parent relationships in one path."""


class FilterError(ValueError):
    """A fragment Salesforce would refuse, or one naming what the catalogue does not have; one line with the column."""


@dataclass(frozen=True)
class Filter:
    sobject: str
    text: str
    """The fragment as written, without surrounding blanks."""
    fields: tuple[str, ...]
    """The field paths it reads, with the catalogue's spelling (`Account.Name`), in order of first use."""


def parse_filter(fragment: str, sobject: str) -> Filter:
    """Check a WHERE fragment (without `WHERE`) for `sobject`; raises FilterError naming the column and the reason."""
    spec = _find_sobject(sobject)
    parser = _Parser(fragment, spec)
    parser.condition()
    parser.expect_end()
    return Filter(spec.name, fragment.strip(), tuple(dict.fromkeys(parser.fields)))


def where_clause(sobject: str, *conditions: str | None) -> str:
    """`(a) AND (b) ...` of the given conditions on `sobject` (blank ones skipped), each checked by `parse_filter`
    first; "" when there are none. Use it wherever filter fragments meet other conditions."""
    parsed = [parse_filter(condition, sobject).text for condition in conditions if condition and condition.strip()]
    return " AND ".join(f"({text})" for text in parsed)


def _find_sobject(name: str) -> SObjectSpec:
    for api_name, spec in catalogue.SOBJECTS.items():
        if api_name.lower() == name.lower():
            return spec
    raise FilterError(f"unknown Salesforce object {name!r}; known: {', '.join(catalogue.SOBJECTS)}")


# ---------------------------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<date>\d{4}-\d{2}-\d{2})"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<operator>!=|<>|<=|>=|=|<|>)"
    r"|(?P<punct>[(),.:])"
)
_END = "end"


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int
    """1-based."""

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind == "name" else ""

    def describe(self) -> str:
        return "the end of the filter" if self.kind == _END else repr(self.text)


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position] == "'":
                raise FilterError(f"column {position + 1}: unterminated string literal")
            raise FilterError(f"column {position + 1}: unexpected character {text[position]!r}")
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup or "", match.group(), position + 1))
        position = match.end()
    tokens.append(_Token(_END, "", len(text) + 1))
    return tokens


_ESCAPES = frozenset("nrtbf\"'\\")
_LIKE_ESCAPES = frozenset("%_")


def _check_string(token: _Token, for_like: bool) -> None:
    """Refuse escape sequences SOQL does not have (`\\%` and `\\_` exist only in LIKE patterns)."""
    raw = token.text[1:-1]
    index = 0
    while index < len(raw):
        if raw[index] != "\\":
            index += 1
            continue
        escaped = raw[index + 1]
        if escaped == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", raw[index + 2 : index + 6]):
            index += 6
        elif escaped in _ESCAPES or (for_like and escaped in _LIKE_ESCAPES):
            index += 2
        else:
            raise FilterError(f"column {token.column + index + 1}: invalid escape sequence '\\{escaped}'")


# ---------------------------------------------------------------------------------------------- values

_DATE_LITERALS = frozenset(
    f"{when}_{period}" for when in ("LAST", "THIS", "NEXT") for period in ("WEEK", "MONTH", "QUARTER", "YEAR")
) | frozenset(
    f"{when}_FISCAL_{period}" for when in ("LAST", "THIS", "NEXT") for period in ("QUARTER", "YEAR")
) | {"TODAY", "YESTERDAY", "TOMORROW", "LAST_90_DAYS", "NEXT_90_DAYS"}
_PERIODS = ("DAYS", "WEEKS", "MONTHS", "QUARTERS", "YEARS", "FISCAL_QUARTERS", "FISCAL_YEARS")
_N_DATE_LITERALS = frozenset(
    name for period in _PERIODS for name in (f"LAST_N_{period}", f"NEXT_N_{period}", f"N_{period}_AGO")
)

_KIND_OF_TYPE = {
    catalogue.BOOLEAN: "boolean",
    catalogue.DATE: "date",
    catalogue.DATETIME: "datetime",
    **{numeric: "number" for numeric in catalogue.NUMERIC_TYPES},
    **{text: "string" for text in catalogue.TEXT_TYPES},
}
_ID_TYPES = frozenset({catalogue.ID, catalogue.REFERENCE})
_ID_SHAPE = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
_ORDERING = frozenset({"<", "<=", ">", ">="})


# ---------------------------------------------------------------------------------------------- parser


@dataclass(frozen=True)
class _Field:
    spec: FieldSpec
    path: str


class _Parser:
    def __init__(self, text: str, sobject: SObjectSpec):
        if not text.strip():
            raise FilterError("the filter is empty; remove the entry to extract every record")
        self.tokens = _tokens(text)
        self.index = 0
        self.sobject = sobject
        self.fields: list[str] = []

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *words: str) -> bool:
        return self.token.word in words

    def at_punct(self, text: str) -> bool:
        return self.token.kind == "punct" and self.token.text == text

    def fail(self, reason: str, token: _Token | None = None) -> FilterError:
        return FilterError(f"column {(token or self.token).column}: {reason}")

    def expect_punct(self, text: str) -> None:
        if not self.at_punct(text):
            raise self.fail(f"expected '{text}', found {self.token.describe()}")
        self.advance()

    def expect_end(self) -> None:
        if self.token.kind != _END:
            if self.at_punct(")"):
                raise self.fail("')' without a matching '('")
            raise self.fail(f"expected AND, OR or the end of the filter, found {self.token.describe()}")

    # -- conditions

    def condition(self) -> None:
        self.unary()
        joined_by = None
        while self.at("AND", "OR"):
            token = self.advance()
            if joined_by is not None and token.word != joined_by:
                raise self.fail(f"{token.word} after {joined_by}: mixing AND and OR needs parentheses", token)
            joined_by = token.word
            self.unary()

    def unary(self) -> None:
        if self.at("NOT"):
            self.advance()
            self.unary()
        elif self.at_punct("("):
            self.advance()
            self.condition()
            self.expect_punct(")")
        else:
            self.comparison()

    def comparison(self) -> None:
        field = self.field()
        operator = self.token
        if operator.kind == "operator":
            self.advance()
            self.value(field, "!=" if operator.text == "<>" else operator.text)
        elif self.at("LIKE"):
            self.advance()
            self.like_pattern(field)
        elif self.at("IN"):
            self.advance()
            self.value_list(field, "IN")
        elif self.at("NOT"):
            self.advance()
            if not self.at("IN"):
                raise self.fail(f"expected IN after NOT, found {self.token.describe()} (put NOT before the field)")
            self.advance()
            self.value_list(field, "NOT IN")
        elif self.at("INCLUDES", "EXCLUDES"):
            self.advance()
            raise self.fail(
                f"{operator.word} applies to multi-select picklists; {field.path} is a {field.spec.type}", operator
            )
        else:
            raise self.fail(
                "expected a comparison operator (= != <> < <= > >= LIKE IN NOT IN INCLUDES EXCLUDES), "
                f"found {operator.describe()}"
            )

    def field(self) -> _Field:
        start = self.token
        if start.kind != "name" or start.word in ("AND", "OR", "NOT"):
            raise self.fail(f"expected a field name, found {start.describe()}")
        names = [self.advance()]
        while self.at_punct("."):
            self.advance()
            if self.token.kind != "name":
                raise self.fail(f"expected a field name after '.', found {self.token.describe()}")
            names.append(self.advance())
        if self.at_punct("("):
            raise self.fail(f"functions such as {start.text}() are not allowed in a filter", start)
        if len(names) - 1 > MAX_RELATIONSHIP_HOPS:
            raise self.fail(f"a field path follows at most {MAX_RELATIONSHIP_HOPS} relationships", start)
        resolved = self.resolve(names)
        self.fields.append(resolved.path)
        return resolved

    def resolve(self, names: list[_Token]) -> _Field:
        """Follow relationship names to the last object, then find the field, all case-insensitively."""
        sobject = self.sobject
        path: list[str] = []
        for token in names[:-1]:
            lookup = next(
                (f for f in sobject.fields.values() if (f.relationship_name or "").lower() == token.text.lower()), None
            )
            if lookup is None or lookup.reference_to is None:
                raise self.fail(f"{sobject.name} has no relationship {token.text!r}", token)
            path.append(lookup.relationship_name or "")
            sobject = catalogue.SOBJECTS[lookup.reference_to]
        last = names[-1]
        spec = next((f for name, f in sobject.fields.items() if name.lower() == last.text.lower()), None)
        if spec is None:
            raise self.fail(f"{sobject.name} has no field {last.text!r}", last)
        return _Field(spec, ".".join([*path, spec.name]))

    # -- values

    def value_list(self, field: _Field, operator: str) -> None:
        self.expect_punct("(")
        if self.at("SELECT"):
            raise self.fail("sub-queries (semi-joins) are not allowed in a filter")
        self.value(field, operator)
        while self.at_punct(","):
            self.advance()
            self.value(field, operator)
        self.expect_punct(")")

    def like_pattern(self, field: _Field) -> None:
        token = self.token
        if field.spec.type in _ID_TYPES or _KIND_OF_TYPE[field.spec.type] != "string":
            raise self.fail(f"LIKE applies to text fields; {field.path} is a {field.spec.type}", token)
        if token.kind != "string":
            raise self.fail(f"expected a quoted LIKE pattern, found {token.describe()}")
        _check_string(token, for_like=True)
        self.advance()

    def value(self, field: _Field, operator: str) -> None:
        token = self.token
        kind = self.literal()
        if kind == "null":
            if operator in _ORDERING:
                raise self.fail(f"null cannot be compared with {operator}", token)
            return
        expected = _KIND_OF_TYPE[field.spec.type]
        if kind == "date literal" and expected in ("date", "datetime"):
            return
        if kind != expected:
            raise self.fail(f"{field.path} is a {field.spec.type} field: it takes a {expected}, not a {kind}", token)
        if expected == "boolean" and operator not in ("=", "!="):
            raise self.fail(f"{field.path} is a checkbox: compare it with = or !=, not {operator}", token)
        is_id_match = field.spec.type in _ID_TYPES and operator in ("=", "!=", "IN", "NOT IN")
        if is_id_match and not _ID_SHAPE.fullmatch(token.text[1:-1]):
            raise self.fail(f"{token.text} is not a 15- or 18-character record id for {field.path}", token)

    def literal(self) -> str:
        """Consume one literal; return its kind: string, number, boolean, null, date, datetime or date literal."""
        token = self.advance()
        if token.kind == "string":
            _check_string(token, for_like=False)
            return "string"
        if token.kind == "number":
            return "number"
        if token.kind == "date":
            _parse(date.fromisoformat, token, "date")
            return "date"
        if token.kind == "datetime":
            if not re.search(r"(Z|[+-]\d{2}:\d{2})$", token.text):
                raise self.fail(f"datetime {token.text} needs a time zone (Z or +hh:mm)", token)
            _parse(lambda text: datetime.fromisoformat(text.replace("Z", "+00:00")), token, "datetime")
            return "datetime"
        if token.word in ("TRUE", "FALSE"):
            return "boolean"
        if token.word == "NULL":
            return "null"
        if token.word in _DATE_LITERALS:
            return "date literal"
        if token.word in _N_DATE_LITERALS:
            self.expect_punct(":")
            count = self.advance()
            if count.kind != "number" or not count.text.isdigit():
                raise self.fail(f"{token.word} takes a whole number of periods, as {token.word}:7", count)
            return "date literal"
        self.index -= 1
        raise self.fail(f"expected a value (quoted string, number, true, false, null, date), found {token.describe()}")


def _parse(parse: Callable[[str], object], token: _Token, kind: str) -> None:
    try:
        parse(token.text)
    except ValueError:
        raise FilterError(f"column {token.column}: {token.text} is not a valid {kind}") from None
