"""Request parameters: decode Stripe's form encoding and check it against stripe-python's own TypedDicts.

The parameter schema is not written here. Each served endpoint maps by naming convention to the
installed SDK's params class (`POST /v1/prices/{id}` -> `stripe.params.PriceUpdateParams`), and the
checks are read from its type hints: which keys exist (at every nesting level), which are required
(`__required_keys__`), which scalar type or `Literal` set a value must fit, and whether `""` may unset
it (`Literal['']`). A parameter the pinned API version does not accept therefore fails here exactly as
it would against Stripe, and upgrading stripe-python upgrades the sandbox's schema with it.

Stripe's generated enums read `Literal['a', 'b'] | str`; the trailing `str` only keeps old SDKs
forward-compatible with new enum values, so the Literal set is treated as closed.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

import stripe
import stripe.params
from stripe import _request_options
from stripe._stripe_object import UntypedStripeObject

from .errors import StripeApiError, nested_param
from .limits import CONTROL_CHARACTERS, STATEMENT_DESCRIPTOR_FORBIDDEN, STRING_MAX_LENGTHS, SUPPORTED_CURRENCIES

ParamTree = dict[str, Any]
"""Decoded form parameters: nested dicts whose leaves are strings; list indices are string keys."""

_KEY_SEGMENTS = re.compile(r"\[([^\]]*)\]")
_INTEGER = re.compile(r"-?\d+")
_LIST_INDEX = re.compile(r"\[\d+\]")

# RequestOptions (the base of every params class) holds client-side options (api_key, idempotency_key, ...),
# not wire parameters; its annotations name types imported only under TYPE_CHECKING.
_CLIENT_OPTIONS = frozenset(_request_options.RequestOptions.__annotations__)
_HINT_NAMESPACE = vars(_request_options) | {"StripeContext": stripe.StripeContext}


def params_class(resource_name: str, operation: str) -> type | None:
    """`("SubscriptionSchedule", "update")` -> `stripe.params.SubscriptionScheduleUpdateParams`."""
    camel_operation = "".join(part.capitalize() for part in operation.split("_"))
    return getattr(stripe.params, f"{resource_name}{camel_operation}Params", None)


# ---------------------------------------------------------------------------------------------------
# Decoding: `items[0][price]=p&metadata[k]=v&expand[]=customer` -> {"items": {"0": {"price": "p"}}, ...}


def decode_form(pairs: Iterable[tuple[str, str]]) -> ParamTree:
    tree: ParamTree = {}
    for key, value in pairs:
        bracket = key.find("[")
        head = key if bracket < 0 else key[:bracket]
        segments = [head, *_KEY_SEGMENTS.findall(key[bracket:])] if bracket >= 0 else [head]
        node = tree
        for depth, segment in enumerate(segments):
            if segment == "":  # `expand[]=a&expand[]=b`: append at the next index
                segment = str(len(node))
            param = _format_param(segments[: depth + 1])
            if depth == len(segments) - 1:
                if isinstance(node.get(segment), dict):
                    raise _invalid_type(param, "string", "a hash")
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise _invalid_type(param, "hash", "a string")
                node = child
    return tree


def _format_param(segments: list[str]) -> str:
    return segments[0] + "".join(f"[{segment}]" for segment in segments[1:])


# ---------------------------------------------------------------------------------------------------
# Validation and coercion against the SDK's TypedDicts


@dataclass(frozen=True)
class _Shape:
    """What one annotation accepts, flattened out of its Union."""

    enum: tuple[str, ...]
    unsettable: bool  # `Literal['']`: an empty string unsets the field
    scalars: tuple[type, ...]  # in declaration order, among int, float, Decimal, bool, str
    record: type | None  # a nested TypedDict
    mapping_values: Any  # `Dict[str, X]`: the X
    sequence_items: Any  # `List[X]`: the X


@cache
def _record_fields(record: type) -> dict[str, Any]:
    hints = typing.get_type_hints(record, localns=_HINT_NAMESPACE, include_extras=True)
    return {name: hint for name, hint in hints.items() if name not in _CLIENT_OPTIONS}


def _is_typed_dict(candidate: Any) -> bool:
    return isinstance(candidate, type) and hasattr(candidate, "__required_keys__")


@cache
def _shape(annotation: Any) -> _Shape:
    if get_origin(annotation) in (NotRequired, Required):
        annotation = get_args(annotation)[0]
    alternatives = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    literal_values: list[str] = []
    scalars: list[type] = []
    record = mapping_values = sequence_items = None
    for alternative in alternatives:
        origin = get_origin(alternative)
        if origin is Literal:
            literal_values.extend(get_args(alternative))
            scalars.append(Literal)  # type: ignore[arg-type] - marks where the enum sits in the order
        elif origin in (list, typing.List):  # noqa: UP006 - the SDK annotates with typing.List
            sequence_items = get_args(alternative)[0]
        elif origin in (dict, typing.Dict):  # noqa: UP006
            mapping_values = get_args(alternative)[1]
        elif origin is UntypedStripeObject:
            mapping_values = get_args(alternative)[0]
        elif _is_typed_dict(alternative):
            record = alternative
        elif alternative in (int, float, Decimal, bool, str):
            scalars.append(alternative)
    enum = tuple(value for value in literal_values if value != "")
    if enum and str in scalars:
        scalars.remove(str)  # the SDK's forward-compatibility `| str`, see the module docstring
    return _Shape(
        enum=enum,
        unsettable="" in literal_values,
        scalars=tuple(scalars),
        record=record,
        mapping_values=mapping_values,
        sequence_items=sequence_items,
    )


def validate(tree: ParamTree, params_cls: type) -> dict[str, Any]:
    """Check `tree` against `params_cls` and return it with typed values; `""` that unsets becomes None.

    String values are also held to Stripe's documented rules: the parameter's maximum length (limits.py), no
    control characters, a supported currency code wherever a parameter is named `currency`, and Stripe's
    statement-descriptor rules."""
    return _validate_record(tree, params_cls, prefix=None, limits=STRING_MAX_LENGTHS.get(params_cls.__name__, {}))


def _validate_record(tree: ParamTree, record: type, prefix: str | None, limits: dict[str, int]) -> dict[str, Any]:
    fields = _record_fields(record)
    for name in tree:
        if name not in fields:
            raise StripeApiError(
                f"Received unknown parameter: {nested_param(prefix, name)}",
                code="parameter_unknown",
                param=nested_param(prefix, name),
            )
    for name in sorted(record.__required_keys__ & fields.keys()):
        if name not in tree:
            raise StripeApiError(
                f"Missing required param: {nested_param(prefix, name)}.",
                code="parameter_missing",
                param=nested_param(prefix, name),
            )
    return {
        name: _coerce(value, fields[name], nested_param(prefix, name), limits) for name, value in tree.items()
    }


def _coerce(
    value: str | ParamTree, annotation: Any, param: str, limits: dict[str, int], inside_mapping: bool = False
) -> Any:
    shape = _shape(annotation)
    if isinstance(value, dict):
        if shape.record is not None:
            return _validate_record(value, shape.record, prefix=param, limits=limits)
        if shape.sequence_items is not None:
            return _coerce_sequence(value, shape.sequence_items, param, limits)
        if shape.mapping_values is not None:
            return {
                key: _coerce(item, shape.mapping_values, f"{param}[{key}]", limits, True)
                for key, item in value.items()
            }
        raise _invalid_type(param, _expected(shape), "a hash")
    _check_characters(value, param)
    if value == "":
        if shape.unsettable or (inside_mapping and str in shape.scalars):
            return None if shape.unsettable else ""
        raise StripeApiError(
            f"You passed an empty string for '{param}'. We assume empty values are an attempt to unset a "
            f"parameter; however '{param}' cannot be unset. You should remove '{param}' from your request or "
            "supply a non-empty value.",
            code="parameter_invalid_empty",
            param=param,
        )
    if value in shape.enum:
        return value
    for scalar in shape.scalars:
        coerced = _coerce_scalar(value, scalar)
        if coerced is not None:
            if scalar is str and not inside_mapping:
                _check_string(coerced, param, limits)
            return coerced
    if shape.enum and not shape.scalars[:1] == (int,):
        raise StripeApiError(
            f"Invalid {param}: must be one of {', '.join(shape.enum)}",
            code="parameter_invalid_string",
            param=param,
        )
    raise _invalid_type(param, _expected(shape), repr(value))


def _coerce_sequence(value: ParamTree, item_annotation: Any, param: str, limits: dict[str, int]) -> list[Any]:
    if not all(_INTEGER.fullmatch(index) for index in value):
        raise _invalid_type(param, "array", "a hash")
    ordered = sorted(value.items(), key=lambda entry: int(entry[0]))
    return [_coerce(item, item_annotation, f"{param}[{index}]", limits) for index, item in ordered]


def _check_characters(value: str, param: str) -> None:
    if (control := CONTROL_CHARACTERS.search(value)) is not None:
        raise StripeApiError(
            f"Invalid string for {param}: it contains the control character {control.group()!r} at position "
            f"{control.start()}; strings may not contain null bytes or other control characters.",
            code="parameter_invalid_string",
            param=param,
        )


def _check_string(value: str, param: str, limits: dict[str, int]) -> None:
    """Stripe's documented rules for a string parameter: length, currency codes, statement descriptors."""
    path = _KEY_SEGMENTS.sub(r".\1", _LIST_INDEX.sub("", param))  # phases[0][items][1][price] -> phases.items.price
    name = path.rpartition(".")[2]
    if name == "statement_descriptor":
        _check_statement_descriptor(value, param, limits.get(path, 22))
    elif (limit := limits.get(path)) is not None and len(value) > limit:
        raise StripeApiError(
            f"Invalid string: {value[:40]}{'...' if len(value) > 40 else ''}; must be at most {limit} characters",
            code="parameter_invalid_string",
            param=param,
        )
    if name == "currency" and value.lower() not in SUPPORTED_CURRENCIES:
        raise StripeApiError(
            f"Invalid currency: {value.lower()}. Stripe currently supports these currencies: "
            f"{', '.join(sorted(SUPPORTED_CURRENCIES, key=lambda code: (code != 'usd', code)))}",
            param=param,
        )


def _check_statement_descriptor(value: str, param: str, limit: int) -> None:
    if len(value) > limit:
        raise StripeApiError(
            f"The statement descriptor must be at most {limit} characters. {value} is {len(value)} characters long.",
            param=param,
        )
    forbidden = sorted(STATEMENT_DESCRIPTOR_FORBIDDEN.intersection(value))
    if forbidden:
        raise StripeApiError(
            f"The statement descriptor may not contain the characters {' '.join(forbidden)}.", param=param
        )
    if not any(character.isalpha() for character in value):
        raise StripeApiError("The statement descriptor must contain at least one letter.", param=param)


def _coerce_scalar(text: str, scalar: type) -> Any:
    """The typed value, or None when `text` does not fit `scalar`."""
    if scalar is str:
        return text
    if scalar is int:
        return int(text) if _INTEGER.fullmatch(text) else None
    if scalar is bool:
        return {"true": True, "false": False}.get(text)
    if scalar is float:
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if scalar is Decimal:
        try:
            return text if Decimal(text).is_finite() else None  # Stripe echoes decimals as strings
        except InvalidOperation:
            return None
    return None


_TYPE_WORDS: dict[Any, str] = {int: "integer", float: "float", Decimal: "decimal", bool: "boolean", str: "string"}


def _expected(shape: _Shape) -> str:
    for scalar in shape.scalars:
        if scalar in _TYPE_WORDS:
            return _TYPE_WORDS[scalar]
    if shape.enum:
        return "string"
    if shape.sequence_items is not None:
        return "array"
    return "hash"


def _invalid_type(param: str, expected: str, received: str) -> StripeApiError:
    return StripeApiError(
        f"Invalid {expected} for {param}: received {received}", code=f"parameter_invalid_{expected}", param=param
    )
