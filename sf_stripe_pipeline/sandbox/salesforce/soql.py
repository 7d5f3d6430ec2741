"""The SOQL subset the sandbox answers, parsed strictly: what it cannot answer exactly, it refuses.

A fake that drops a clause it does not understand returns rows a real org would filter out (see the
research notes on python-soql-parser), so this parser names every unsupported construct (aggregates,
GROUP BY, sub-queries, OFFSET, date functions and literals such as LAST_N_DAYS:n, TYPEOF, ...) with its
column, and `Salesforce` maps that to `MALFORMED_QUERY`. Field names resolve against the catalogue
(`sf_stripe_pipeline/salesforce/catalogue.py`), case-insensitively as in Salesforce, to their canonical API names; unknown ones raise
`SoqlFieldError` (`INVALID_FIELD`). Literals are checked against the field's type, so dates compare as
dates and a quoted number is refused as Salesforce refuses it.

The pipeline checks user-written filters with its own parser (`sf_stripe_pipeline/salesforce/filters.py`), so that
a config is judged against Salesforce's language rather than against this emulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

from sf_stripe_pipeline.salesforce import catalogue as objects
from sf_stripe_pipeline.sandbox.salesforce.ids import to_18
from sf_stripe_pipeline.salesforce.catalogue import FieldSpec, SObjectSpec


class SoqlError(ValueError):
    """A query the sandbox refuses; the message says what is unsupported and where."""

    error_code = "MALFORMED_QUERY"


class SoqlFieldError(SoqlError):
    """A query naming a field or relationship the object does not have, or a literal of the wrong type."""

    error_code = "INVALID_FIELD"


# ---------------------------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class FieldRef:
    """A field of the queried object, or of a parent reached through one lookup (`relationship`)."""

    field: FieldSpec
    relationship: FieldSpec | None = None

    @property
    def path(self) -> str:
        if self.relationship is None:
            return self.field.name
        return f"{self.relationship.relationship_name}.{self.field.name}"


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    operator: str
    """One of = != < <= > >= LIKE IN NOT-IN."""
    value: object
    """A Python value (str, int, float, bool, date, datetime or None); a tuple of them for IN / NOT IN.
    For LIKE, the pattern with `\\` escaping literal `%`, `_` and `\\`."""


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class BoolOp:
    operator: str
    """AND or OR."""
    operands: tuple[Condition, ...]


Condition = Comparison | Not | BoolOp


@dataclass(frozen=True)
class OrderBy:
    field: FieldRef
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Query:
    sobject: SObjectSpec
    fields: tuple[FieldRef, ...]
    where: Condition | None
    order_by: tuple[OrderBy, ...]
    limit: int | None

    @property
    def relationships(self) -> tuple[FieldSpec, ...]:
        """The lookups this query follows to parent objects, each once, in order of first use."""
        refs = list(self.fields) + [item.field for item in self.order_by] + list(_condition_fields(self.where))
        found: dict[str, FieldSpec] = {}
        for ref in refs:
            if ref.relationship is not None:
                found.setdefault(ref.relationship.name, ref.relationship)
        return tuple(found.values())


def _condition_fields(condition: Condition | None):
    if isinstance(condition, Comparison):
        yield condition.field
    elif isinstance(condition, Not):
        yield from _condition_fields(condition.operand)
    elif isinstance(condition, BoolOp):
        for operand in condition.operands:
            yield from _condition_fields(operand)


# ---------------------------------------------------------------------------------------------- tokens

_TOKEN_PATTERNS = [
    ("space", r"\s+"),
    ("datetime", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
    ("date", r"\d{4}-\d{2}-\d{2}"),
    ("number", r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"),
    ("string", r"'(?:[^'\\]|\\.)*'"),
    ("name", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("operator", r"!=|<>|<=|>=|=|<|>"),
    ("punct", r"[(),.:]"),
]
_TOKENIZER = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _TOKEN_PATTERNS))

# Keywords and clauses of real SOQL that this sandbox does not implement; named in the error.
_UNSUPPORTED_WORDS = {
    "GROUP": "GROUP BY",
    "HAVING": "HAVING",
    "OFFSET": "OFFSET",
    "TYPEOF": "TYPEOF",
    "WITH": "WITH clauses",
    "FOR": "FOR VIEW / FOR UPDATE / FOR REFERENCE",
    "USING": "USING SCOPE",
    "INCLUDES": "INCLUDES (multi-select picklists)",
    "EXCLUDES": "EXCLUDES (multi-select picklists)",
    "ROLLUP": "GROUP BY ROLLUP",
    "CUBE": "GROUP BY CUBE",
    "UPDATE": "UPDATE TRACKING / VIEWSTAT",
}
_STRING_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int

    @property
    def word(self) -> str:
        """Upper-cased text, for keyword tests on names."""
        return self.text.upper() if self.kind == "name" else ""


_END = "end"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKENIZER.match(text, position)
        if match is None:
            snippet = text[position : position + 10]
            if text[position] == "'":
                raise SoqlError(f"unterminated string literal at column {position + 1}: {snippet!r}")
            raise SoqlError(f"unexpected character {text[position]!r} at column {position + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token(_END, "", len(text)))
    return tokens


def _decode_string(token: _Token, for_like: bool) -> str:
    """The value of a quoted literal. For LIKE, `\\%` and `\\_` stay escaped (with `\\` itself escaped)."""
    raw = token.text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escaped = raw[index + 1]
        if escaped in "%_":
            out.append("\\" + escaped if for_like else escaped)
            index += 2
        elif escaped == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", raw[index + 2 : index + 6]):
            out.append(chr(int(raw[index + 2 : index + 6], 16)))
            index += 6
        elif escaped in _STRING_ESCAPES:
            decoded = _STRING_ESCAPES[escaped]
            out.append("\\\\" if for_like and decoded == "\\" else decoded)
            index += 2
        else:
            raise SoqlError(
                f"invalid escape sequence '\\{escaped}' in string literal at column {token.start + index + 2}"
            )
    return "".join(out)


# ---------------------------------------------------------------------------------------------- field lookup


@dataclass(frozen=True)
class _Names:
    fields: dict[str, FieldSpec]
    relationships: dict[str, FieldSpec]


@cache
def _names(sobject: str) -> _Names:
    spec = objects.SOBJECTS[sobject]
    fields = {name.lower(): field for name, field in spec.fields.items()}
    relationships = {
        field.relationship_name.lower(): field for field in spec.fields.values() if field.relationship_name
    }
    return _Names(fields, relationships)


def _find_sobject(name: str) -> SObjectSpec | None:
    for api_name, spec in objects.SOBJECTS.items():
        if api_name.lower() == name.lower():
            return spec
    return None


# ---------------------------------------------------------------------------------------------- parser

_LITERAL_KIND_OF_TYPE = {
    objects.BOOLEAN: "boolean",
    objects.DATE: "date",
    objects.DATETIME: "datetime",
    **{numeric: "number" for numeric in objects.NUMERIC_TYPES},
    **{text: "string" for text in objects.TEXT_TYPES},
}
_ID_TYPES = frozenset({objects.ID, objects.REFERENCE})
_EQUALITY_OPERATORS = frozenset({"=", "!="})


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    # -- token helpers

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

    def error(self, message: str, token: _Token | None = None, error_type: type[SoqlError] = SoqlError):
        token = token or self.token
        where = "at the end of the query" if token.kind == _END else f"at column {token.start + 1}"
        return error_type(f"{message} {where}")

    def unexpected(self, expected: str) -> SoqlError:
        token = self.token
        if token.word in _UNSUPPORTED_WORDS:
            return self.error(f"{_UNSUPPORTED_WORDS[token.word]} is not supported by the sandbox's SOQL subset")
        found = "end of query" if token.kind == _END else repr(token.text)
        return self.error(f"expected {expected}, found {found}")

    def expect_word(self, word: str) -> _Token:
        if not self.at(word):
            raise self.unexpected(word)
        return self.advance()

    def expect_punct(self, text: str) -> _Token:
        if not self.at_punct(text):
            raise self.unexpected(f"'{text}'")
        return self.advance()

    def expect_end(self) -> None:
        if self.token.kind != _END:
            raise self.unexpected("end of query")

    # -- query

    def parse_query(self) -> Query:
        self.expect_word("SELECT")
        paths = [self.parse_select_item()]
        while self.at_punct(","):
            self.advance()
            paths.append(self.parse_select_item())
        self.expect_word("FROM")
        object_token = self.advance()
        sobject = _find_sobject(object_token.text) if object_token.kind == "name" else None
        if sobject is None:
            raise self.error(f"sObject type {object_token.text!r} is not supported", object_token)
        fields = self.resolve_select_list(sobject, paths)
        where = None
        if self.at("WHERE"):
            self.advance()
            where = self.parse_condition(sobject)
        order_by: tuple[OrderBy, ...] = ()
        if self.at("ORDER"):
            self.advance()
            self.expect_word("BY")
            order_by = self.parse_order_by(sobject)
        limit = None
        if self.at("LIMIT"):
            self.advance()
            limit = self.parse_limit()
        self.expect_end()
        return Query(sobject, fields, where, order_by, limit)

    def parse_select_item(self) -> list[_Token]:
        if self.at_punct("("):
            raise self.error("sub-queries are not supported by the sandbox's SOQL subset")
        if self.at("TYPEOF"):
            raise self.unexpected("a field name")
        path = self.parse_path_tokens()
        if self.at_punct("("):
            raise self.error(f"functions such as {path[0].text}() are not supported by the sandbox's SOQL subset")
        return path

    def resolve_select_list(self, sobject: SObjectSpec, paths: list[list[_Token]]) -> tuple[FieldRef, ...]:
        fields: list[FieldRef] = []
        for path in paths:
            ref = self.resolve(sobject, path)
            if ref in fields:
                raise self.error(f"duplicate field selected: {ref.path}", path[0])
            fields.append(ref)
        return tuple(fields)

    def parse_path_tokens(self) -> list[_Token]:
        if self.token.kind != "name" or self.at("FROM"):
            raise self.unexpected("a field name")
        path = [self.advance()]
        while self.at_punct("."):
            self.advance()
            if self.token.kind != "name":
                raise self.unexpected("a field name after '.'")
            path.append(self.advance())
        return path

    def resolve(self, sobject: SObjectSpec, path: list[_Token]) -> FieldRef:
        dotted = ".".join(token.text for token in path)
        if len(path) > 2:
            raise self.error(f"{dotted}: only one level of parent relationship is supported by the sandbox", path[0])
        if len(path) == 1:
            field = _names(sobject.name).fields.get(path[0].text.lower())
            if field is None:
                raise self.error(f"No such column {dotted!r} on entity {sobject.name!r}", path[0], SoqlFieldError)
            return FieldRef(field)
        relationship = _names(sobject.name).relationships.get(path[0].text.lower())
        if relationship is None or relationship.reference_to is None:
            raise self.error(
                f"Didn't understand relationship {path[0].text!r} in field path {dotted!r} on entity {sobject.name!r}",
                path[0],
                SoqlFieldError,
            )
        field = _names(relationship.reference_to).fields.get(path[1].text.lower())
        if field is None:
            raise self.error(
                f"No such column {path[1].text!r} on entity {relationship.reference_to!r} "
                f"(via {sobject.name}.{relationship.name})",
                path[1],
                SoqlFieldError,
            )
        return FieldRef(field, relationship)

    def parse_field(self, sobject: SObjectSpec) -> FieldRef:
        path = self.parse_path_tokens()
        if self.at_punct("("):
            raise self.error(f"functions such as {path[0].text}() are not supported by the sandbox's SOQL subset")
        return self.resolve(sobject, path)

    # -- WHERE

    def parse_condition(self, sobject: SObjectSpec) -> Condition:
        operands = [self.parse_unary(sobject)]
        operator = None
        while self.at("AND", "OR"):
            token = self.advance()
            if operator is not None and token.word != operator:
                raise self.error("mixing AND and OR needs parentheses, as in Salesforce", token)
            operator = token.word
            operands.append(self.parse_unary(sobject))
        return BoolOp(operator, tuple(operands)) if operator else operands[0]

    def parse_unary(self, sobject: SObjectSpec) -> Condition:
        if self.at("NOT"):
            self.advance()
            return Not(self.parse_unary(sobject))
        if self.at_punct("("):
            self.advance()
            condition = self.parse_condition(sobject)
            self.expect_punct(")")
            return condition
        return self.parse_comparison(sobject)

    def parse_comparison(self, sobject: SObjectSpec) -> Comparison:
        ref = self.parse_field(sobject)
        operator_token = self.token
        if operator_token.kind == "operator":
            self.advance()
            operator = "!=" if operator_token.text == "<>" else operator_token.text
            return Comparison(ref, operator, self.parse_value(ref, operator))
        if self.at("LIKE"):
            self.advance()
            return Comparison(ref, "LIKE", self.parse_like_pattern(ref))
        if self.at("NOT", "IN"):
            operator = "NOT IN" if self.advance().word == "NOT" else "IN"
            if operator == "NOT IN":
                self.expect_word("IN")
            return Comparison(ref, operator, self.parse_value_list(ref, operator))
        raise self.unexpected("a comparison operator (= != < <= > >= LIKE IN NOT IN)")

    def parse_value_list(self, ref: FieldRef, operator: str) -> tuple[object, ...]:
        self.expect_punct("(")
        if self.at("SELECT"):
            raise self.error("semi-join sub-queries are not supported by the sandbox's SOQL subset")
        values = [self.parse_value(ref, operator)]
        while self.at_punct(","):
            self.advance()
            values.append(self.parse_value(ref, operator))
        self.expect_punct(")")
        return tuple(values)

    def parse_like_pattern(self, ref: FieldRef) -> str:
        token = self.token
        if ref.field.type in _ID_TYPES or _LITERAL_KIND_OF_TYPE[ref.field.type] != "string":
            raise self.error(
                f"invalid operator LIKE on field {ref.path!r} of type {ref.field.type}", token, SoqlFieldError
            )
        if token.kind != "string":
            raise self.unexpected("a quoted LIKE pattern")
        self.advance()
        return _decode_string(token, for_like=True)

    def parse_value(self, ref: FieldRef, operator: str) -> object:
        token = self.advance()
        kind, value = self.literal(token)
        if kind == "null":
            if operator in ("<", "<=", ">", ">="):
                raise self.error(f"null cannot be compared with {operator}", token)
            return None
        expected = _LITERAL_KIND_OF_TYPE[ref.field.type]
        if kind != expected:
            quoting = "be enclosed in quotes" if expected == "string" else "not be enclosed in quotes"
            raise self.error(
                f"value of filter criterion for field {ref.path!r} must be of type {ref.field.type} "
                f"and should {quoting}",
                token,
                SoqlFieldError,
            )
        if ref.field.type in _ID_TYPES and operator in _EQUALITY_OPERATORS | {"IN", "NOT IN"}:
            full_id = to_18(value)  # type: ignore[arg-type]
            if full_id is None:
                raise self.error(f"invalid ID field: {value!r} for {ref.path!r}", token, SoqlFieldError)
            return full_id
        return value

    def literal(self, token: _Token) -> tuple[str, object]:
        if token.kind == "string":
            return "string", _decode_string(token, for_like=False)
        if token.kind == "number":
            return "number", float(token.text) if "." in token.text else int(token.text)
        if token.kind == "date":
            return "date", self.parse_date(token)
        if token.kind == "datetime":
            return "datetime", self.parse_datetime(token)
        if token.word in ("TRUE", "FALSE"):
            return "boolean", token.word == "TRUE"
        if token.word == "NULL":
            return "null", None
        if token.kind == "name":
            raise self.error(
                f"date literals and functions such as {token.text} are not supported by the sandbox's "
                "SOQL subset; use a date (2025-01-31) or datetime (2025-01-31T00:00:00Z) literal",
                token,
            )
        self.index -= 1
        raise self.unexpected("a value")

    def parse_date(self, token: _Token) -> date:
        try:
            return date.fromisoformat(token.text)
        except ValueError:
            raise self.error(f"invalid date literal {token.text!r}", token) from None

    def parse_datetime(self, token: _Token) -> datetime:
        if not re.search(r"(Z|[+-]\d{2}:?\d{2})$", token.text):
            raise self.error(f"datetime literal {token.text!r} needs a time zone (Z or +hh:mm)", token)
        try:
            return parse_datetime_value(token.text)
        except ValueError:
            raise self.error(f"invalid datetime literal {token.text!r}", token) from None

    # -- ORDER BY, LIMIT

    def parse_order_by(self, sobject: SObjectSpec) -> tuple[OrderBy, ...]:
        items = [self.parse_order_item(sobject)]
        while self.at_punct(","):
            self.advance()
            items.append(self.parse_order_item(sobject))
        return tuple(items)

    def parse_order_item(self, sobject: SObjectSpec) -> OrderBy:
        ref = self.parse_field(sobject)
        descending = False
        if self.at("ASC", "DESC"):
            descending = self.advance().word == "DESC"
        nulls_first = not descending  # Salesforce's default: nulls first ascending, last descending
        if self.at("NULLS"):
            self.advance()
            if not self.at("FIRST", "LAST"):
                raise self.unexpected("FIRST or LAST")
            nulls_first = self.advance().word == "FIRST"
        return OrderBy(ref, descending, nulls_first)

    def parse_limit(self) -> int:
        token = self.advance()
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(f"LIMIT needs a non-negative whole number, found {token.text!r}", token)
        return int(token.text)


def parse_datetime_value(text: str) -> datetime:
    """An ISO 8601 datetime with Z or a ±hh:mm / ±hhmm offset and optional fraction, as aware UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"datetime {text!r} has no time zone")
    return parsed.astimezone(UTC)


def parse_query(soql: str) -> Query:
    """Parse and resolve a SOQL query against the catalogue; raises SoqlError / SoqlFieldError."""
    return _Parser(soql).parse_query()

