"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safe suffix.

The suffix encodes, for each 5-character chunk of the 15-character id, which characters are upper case,
so that the 18-character form survives case-insensitive systems (spreadsheets, some databases). The
sandbox issues and accepts only ids whose suffix is right, as Salesforce does, and accepts a 15-character
id wherever Salesforce does by completing it (`to_18`).

`make_id` is deterministic (a key prefix and a serial number), so demo orgs can build ids from a counter.
"""

from __future__ import annotations

import re
import string

_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_15 = re.compile(r"[0-9A-Za-z]{15}")
_SERIAL_WIDTH = 12  # 15 characters less the 3-character key prefix
MAX_SERIAL = 62**_SERIAL_WIDTH - 1


_UPPER_AS_BITS = str.maketrans({char: "1" if char.isupper() else "0" for char in _BASE62})


def case_safe_suffix(id15: str) -> str:
    """The 3-character suffix that turns a 15-character id into its 18-character form."""
    bits = id15.translate(_UPPER_AS_BITS)  # "1" where upper case; each 5-character chunk read right to left
    return (
        _SUFFIX_ALPHABET[int(bits[4::-1], 2)]
        + _SUFFIX_ALPHABET[int(bits[9:4:-1], 2)]
        + _SUFFIX_ALPHABET[int(bits[14:9:-1], 2)]
    )


def make_id(key_prefix: str, serial: int) -> str:
    """The 18-character id number `serial` (0..MAX_SERIAL) of the object whose key prefix is `key_prefix`."""
    if len(key_prefix) != 3:
        raise ValueError(f"key prefix must have 3 characters, got {key_prefix!r}")
    if not 0 <= serial <= MAX_SERIAL:
        raise ValueError(f"id serial must be between 0 and {MAX_SERIAL}, got {serial}")
    digits = []
    for _ in range(_SERIAL_WIDTH):
        serial, digit = divmod(serial, 62)
        digits.append(_BASE62[digit])
    id15 = key_prefix + "".join(reversed(digits))
    return id15 + case_safe_suffix(id15)


def to_18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None if `value` is not a well-formed id."""
    if not isinstance(value, str) or len(value) not in (15, 18) or not _ID_15.fullmatch(value[:15]):
        return None
    full = value[:15] + case_safe_suffix(value[:15])
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def is_valid_id(value: object, key_prefix: str | None = None) -> bool:
    """True for a well-formed 18-character id (right suffix), with `key_prefix` if given."""
    return (
        isinstance(value, str)
        and len(value) == 18
        and to_18(value) == value
        and (key_prefix is None or value.startswith(key_prefix))
    )
