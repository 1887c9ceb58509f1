"""Numbers a user gives symconv: tensor values (exact), probe seeds and timeouts, validated once.

Tensor values are exact: integers of any size stay Python integers, ``1/3`` and ``0.1`` (typed)
are fractions, never binary floats.  A float passed from Python is taken when it is an integer
within 2**53 or when its shortest decimal form is its exact value (0.5, 0.25); otherwise
(0.1 is stored as 0.1000000000000000055...) it is refused with a hint to give a fraction.

>>> parse_values("1, -2, 99999999999999999999999, 1/3, 0.1", (5,), "k").tolist()
[1, -2, 99999999999999999999999, Fraction(1, 3), Fraction(1, 10)]
>>> parse_values("7", (2, 2), "x").tolist()
[[7, 7], [7, 7]]
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from fractions import Fraction

import numpy as np

from ..errors import SymconvError, shown

# Digits (and decimal exponent) one typed value may have: more is refused, not computed.
MAX_DIGITS = 1000
# Seconds one backend call may be given at most.
MAX_TIMEOUT = 86_400.0

_INTEGER = re.compile(r"[-+]?\d+")
_FRACTION = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_DECIMAL = re.compile(r"[-+]?(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([-+]?\d+))?")
_ITEM = re.compile(r"[^\s,]+")
# Values of a text counted one by one before a wrong count is reported as "more than".
COUNTED_VALUES = 100_000
_INT64 = 2**63 - 1
_FLOAT_EXACT = 2**53


def exact_number(item, tensor: str = "tensor"):
    """One value as an exact ``int`` or ``Fraction`` (a Fraction with denominator 1 is an int)."""
    if isinstance(item, (bool, np.bool_)):
        raise SymconvError(f"{tensor} values must be numbers, got {shown(item)}")
    if isinstance(item, (int, np.integer)):
        return int(item)
    if isinstance(item, numbers.Rational):
        return _normal(Fraction(item.numerator, item.denominator))
    if isinstance(item, (float, np.floating)):
        return _from_float(float(item), tensor)
    if isinstance(item, str):
        return _from_text(item, tensor)
    raise SymconvError(f"{tensor} values must be numbers, got {shown(item)} (integers or fractions)")


def _normal(value: Fraction):
    return value.numerator if value.denominator == 1 else value


def _from_float(value: float, tensor: str):
    if not math.isfinite(value):
        raise SymconvError(f"{tensor} values must be finite numbers, got {value!r}")
    if value.is_integer() and abs(value) <= _FLOAT_EXACT:
        return int(value)
    exact = Fraction(value)
    if Fraction(repr(value)) == exact:
        return _normal(exact)
    meant = Fraction(repr(value))
    raise SymconvError(f"{tensor} value {value!r} is not exact as a binary float (it is stored as "
                       f"{shorten_fraction(exact)}): give it exactly, as the string {shown(str(meant), 40)} or as "
                       f"a fractions.Fraction")


def shorten_fraction(value: Fraction) -> str:
    """A float's exact value in 25 significant digits."""
    return f"{float(value):.25g}"


def _from_text(text: str, tensor: str):
    item = text.strip()
    if len(item) > MAX_DIGITS + 10:
        raise SymconvError(f"{tensor} values may have at most {MAX_DIGITS} digits, got {shown(item)}")
    if _INTEGER.fullmatch(item):
        return int(item)
    match = _FRACTION.fullmatch(item)
    if match:
        if int(match.group(2)) == 0:
            raise SymconvError(f"{tensor} value {item!r} divides by zero")
        return _normal(Fraction(int(match.group(1)), int(match.group(2))))
    match = _DECIMAL.fullmatch(item)
    if match:
        exponent = int(match.group(4) or 0) if len(match.group(4) or "") <= 8 else MAX_DIGITS + 1
        if abs(exponent) > MAX_DIGITS:
            raise SymconvError(f"{tensor} value {shown(item)} has an exponent beyond {MAX_DIGITS}")
        return _normal(Fraction(item))
    if item.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        raise SymconvError(f"{tensor} values must be finite numbers, got {item!r}")
    raise SymconvError(f"{tensor} values must be numbers, got {shown(item)} (integers, fractions like 1/3 or "
                       f"decimals like 0.25)")


def parse_values(values, shape, tensor: str) -> np.ndarray:
    """``'1,2,3'`` (commas or spaces) or a sequence or array -> an exact array of ``shape``:
    int64 when every value is an integer within int64, else an object array of Python
    integers and Fractions.  One value fills the whole tensor."""
    size = math.prod(shape)
    if isinstance(values, str):
        # Counted before they are split: a long text of the wrong length costs no list.
        counted = sum(1 for _ in itertools.islice(_ITEM.finditer(values), max(size, COUNTED_VALUES) + 1))
        if counted not in (1, size):
            _wrong_count(tensor, shape, counted if counted <= max(size, COUNTED_VALUES) else
                         f"more than {max(size, COUNTED_VALUES)}")
        items = _ITEM.findall(values)
    else:
        if isinstance(values, np.ndarray) and values.size not in (1, size):
            _wrong_count(tensor, shape, values.size)  # before a copy as Python objects
        try:
            items = np.asarray(values, dtype=object).reshape(-1).tolist()
        except (TypeError, ValueError):
            raise SymconvError(f"{tensor} values must be a flat list of numbers, got {shown(values)}") from None
    if len(items) not in (1, size):
        _wrong_count(tensor, shape, len(items))
    exact = [exact_number(item, tensor) for item in items]
    if len(exact) == 1:
        exact = exact * size
    return exact_array(exact, shape)


def _wrong_count(tensor: str, shape, got) -> None:
    raise SymconvError(f"{tensor} needs {math.prod(shape)} values (shape {'x'.join(map(str, shape))}, row-major), "
                       f"got {got}")


def exact_array(values: list, shape) -> np.ndarray:
    """int64 when every value is an integer within int64, else an object array."""
    if all(type(v) is int and -_INT64 <= v <= _INT64 for v in values):
        return np.array(values, dtype=np.int64).reshape(shape)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


def random_generator(seed) -> np.random.Generator:
    """NumPy's generator for a probe seed: a non-negative integer."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SymconvError(f"seed must be a non-negative integer, got {shown(seed)}")
    return np.random.default_rng(int(seed))


def timeout_seconds(value) -> float | None:
    """A per-call timeout in seconds: a finite positive number up to MAX_TIMEOUT (None: default)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise SymconvError(f"timeout must be a positive number of seconds, got {shown(value)}")
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise SymconvError(f"timeout must be a positive number of seconds, got {shown(value)}") from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT):
        raise SymconvError(f"timeout must be a positive number of seconds up to {MAX_TIMEOUT:g} (a day), "
                           f"got {shown(value)}")
    return seconds
