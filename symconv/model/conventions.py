"""Padding conventions: how each framework resolves SAME, one rule each.

A convention is one function of one spatial axis's sizes ``size``, ``kernel``, ``stride`` and
``dilation`` that returns ``Resolved(out, before, after)``, written with ``+ - * /`` and the
functions here (``floor``, ``ceiling``, ``trunc``, ``Max``, ``Min``); ``let(name, value)``
names an intermediate quantity for display.  Pads may be negative: a negative pad crops.  The
function is the only definition, and everything else follows from it:

* the numbers: the function run on exact rationals (``Convention.__call__``; no SymPy, any
  size);
* the rule: the same function run on SymPy symbols gives its SymPy expressions (``rule``);
* documents: ``symconv.latex`` prints the rule and every value it takes, computed by SymPy
  from the expressions and compared with the numbers;
* facts: ``symconv.proof.same`` proves the rule's properties for every size, and checks the
  numbers against them up to a bound;
* backends: SAME is handed to a framework as SAME only when the convention's rule is the
  framework's own (``runs_as``);
* transposed convolutions: the default output size is the largest (Keras) or smallest
  (PyTorch) size that the rule maps back to the input's.

Adding a convention is adding one function:

>>> @register("half_kernel", citation="an example: pad floor(d*(k-1)/2) on both sides")
... def half_kernel(size, kernel, stride, dilation):
...     '''before = after = floor(d*(k-1)/2), out as for explicit pads'''
...     pad = let("p", floor(dilation * (kernel - 1) / 2))
...     return Resolved(floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1, pad, pad)
>>> get("half_kernel")(5, 3, 2, 1)
Resolved(out=3, before=1, after=1)
>>> unregister("half_kernel")

SymPy is imported only when a rule is needed as expressions (a document, a proof), never to
resolve a spec's padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Callable, NamedTuple

from ..errors import SymconvError

__all__ = ["Convention", "DEFAULT", "REGISTRY", "Resolved", "Rule", "ceiling", "floor", "Max", "Min", "trunc",
           "let", "register", "unregister", "get", "runs_as", "output_size", "effective_kernel", "ceil_div"]

# What SAME means when nobody says otherwise, and what TensorFlow, XLA and Keras compute.
DEFAULT = "tf"


class Resolved(NamedTuple):
    out: int
    before: int
    after: int


# ---- what a rule is written with: exact numbers or SymPy expressions, the same function ----------

def _numbers(*values) -> bool:
    return all(isinstance(v, (int, Fraction)) for v in values)


def floor(x):
    if _numbers(x):
        return math.floor(x)
    import sympy
    return sympy.floor(x)


def ceiling(x):
    if _numbers(x):
        return math.ceil(x)
    import sympy
    return sympy.ceiling(x)


def trunc(x):
    """Rounding toward zero, as C's integer division does: ``trunc(-1/2) = 0``."""
    if _numbers(x):
        return math.trunc(x)
    from .exact import trunc as symbolic_trunc
    return symbolic_trunc(x)


def Max(*values):
    if _numbers(*values):
        return max(values)
    import sympy
    return sympy.Max(*values)


def Min(*values):
    if _numbers(*values):
        return min(values)
    import sympy
    return sympy.Min(*values)


_recording: list | None = None


def let(name: str, value):
    """Name an intermediate quantity of a rule (``T`` for a total): documents show it as its own
    line.  With numbers it is just the value."""
    if _recording is None:
        return value
    import sympy
    if name in {s.name for s in arguments()} | {s.name for s, _ in _recording}:
        raise SymconvError(f"let: the name {name!r} is already taken in this rule")
    symbol = sympy.Symbol(name, integer=True)
    _recording.append((symbol, sympy.sympify(value)))
    return symbol


@lru_cache(maxsize=None)
def arguments() -> tuple:
    """The SymPy symbols of a rule's arguments: input size, kernel size, stride, dilation
    (positive integers)."""
    import sympy
    return tuple(sympy.Symbol(n, integer=True, positive=True) for n in ("in", "k", "s", "d"))


def __getattr__(name):  # SIZE, KERNEL, STRIDE, DILATION, ARGUMENTS: SymPy on first use
    names = ("SIZE", "KERNEL", "STRIDE", "DILATION")
    if name in names:
        return arguments()[names.index(name)]
    if name == "ARGUMENTS":
        return arguments()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Rule:
    """A rule as data: named quantities in order, then out, before and after (which may be
    names)."""

    lets: tuple
    resolved: Resolved

    def expressions(self) -> Resolved:
        """out, before and after in the four arguments alone."""
        import sympy
        out = list(self.resolved)
        for symbol, value in reversed(self.lets):
            out = [sympy.sympify(e).xreplace({symbol: value}) for e in out]
        return Resolved(*out)

    def definitions(self) -> list:
        """(name, expression) in the order a document shows them: the named quantities, then
        out, before and after unless they are names already."""
        rows = [(s.name, v) for s, v in self.lets]
        let_names = {s for s, _ in self.lets}
        for name, value in zip(("O", "p_before", "p_after"), self.resolved):
            if value not in let_names:
                rows.append((name, value))
        return rows

    def name_of(self, field: str) -> str:
        """The name under which out, before or after is shown."""
        value = getattr(self.resolved, field)
        if value in {s for s, _ in self.lets}:
            return value.name
        return {"out": "O", "before": "p_before", "after": "p_after"}[field]


@dataclass(frozen=True)
class Convention:
    """A registered rule with its source; ``convention(size, kernel, stride, dilation)`` gives
    the exact ``Resolved`` numbers."""

    name: str
    function: Callable = None
    citation: str = ""
    transposed: str = "largest"  # which output size a transposed convolution takes by default
    note: str = ""               # told beside a comparison with the default convention

    @property
    def formula(self) -> str:
        """The rule in words (the function's docstring)."""
        return " ".join((self.function.__doc__ or "").split())

    @cached_property
    def rule(self) -> Rule:
        """The function run on SymPy symbols: its named quantities and expressions."""
        import sympy
        global _recording
        previous, _recording = _recording, []
        try:
            value = self.function(*arguments())
            lets = tuple(_recording)
        finally:
            _recording = previous
        try:
            resolved = Resolved(*(sympy.sympify(v) for v in value))
        except (TypeError, ValueError, sympy.SympifyError):
            raise SymconvError(f"convention {self.name!r} must return Resolved(out, before, after), "
                               f"got {value!r}") from None
        rule = Rule(lets, resolved)
        extra = set().union(*(e.free_symbols for e in rule.expressions())) - set(arguments())
        if extra:
            raise SymconvError(f"convention {self.name!r} uses {sorted(map(str, extra))}, which are not its "
                               f"arguments (size, kernel, stride, dilation) or names made with let()")
        return rule

    def __call__(self, size: int, kernel: int, stride: int, dilation: int) -> Resolved:
        """The function run on exact rationals: Python integers out, at any size."""
        value = self.function(Fraction(size), Fraction(kernel), Fraction(stride), Fraction(dilation))
        try:
            out = [Fraction(v) for v in value]
        except (TypeError, ValueError):
            out = None
        if out is None or len(out) != 3 or any(v.denominator != 1 for v in out):
            raise SymconvError(f"convention {self.name!r} gives {value!r} at (in, k, s, d) = "
                               f"{(size, kernel, stride, dilation)}, not three integers")
        return Resolved(*(int(v) for v in out))

    def transposed_size(self, small: int, kernel: int, stride: int, dilation: int) -> int:
        """The input size a transposed convolution produces by default: the largest (Keras,
        ``size * stride`` under tf) or the smallest (PyTorch) size whose SAME output is
        ``small``.  Found by bisection: the output size never decreases with the input's."""
        out = lambda size: self(size, kernel, stride, dilation).out
        high = 1
        while out(high) <= small and high < 1 << 70:
            high *= 2
        if self.transposed == "smallest":
            low, high = 0, high             # out(low) < small <= out(high)
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (mid, high) if out(mid) < small else (low, mid)
            return max(high, 1)
        low = 1                             # out(low) <= small < out(high)
        if out(low) > small:
            return 1
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if out(mid) <= small else (low, mid)
        return low


REGISTRY: dict[str, Convention] = {}


def register(name: str, citation: str, transposed: str = "largest", note: str = "", check: bool = True):
    """Register the decorated rule under ``name``; its docstring is the formula in words.  The
    rule is built and checked now (``check``), or on first use (the built-in rules, which the
    tests check, so that ``import symconv`` stays light)."""
    if transposed not in ("largest", "smallest"):
        raise SymconvError(f"transposed must be 'largest' or 'smallest', got {transposed!r}")

    def wrap(function):
        convention = Convention(name, function, citation, transposed, note)
        if check:
            convention.rule
            convention(1, 1, 1, 1)
        REGISTRY[name] = convention
        return function
    return wrap


def unregister(name: str) -> None:
    """Remove a convention (one a test or a session added)."""
    REGISTRY.pop(name, None)


def get(name: str) -> Convention:
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise SymconvError(
            f"convention must be one of {', '.join(sorted(REGISTRY))}, got {name!r}") from None


# (name, native) -> (the two conventions compared, the answer): a backend asks for every call.
_RUNS_AS: dict = {}


def runs_as(name: str, native: str = DEFAULT) -> bool:
    """Whether SAME under ``name`` is what a framework whose own SAME is ``native`` computes:
    true when the two rules are the same SymPy expressions (a rule is its own, without SymPy).
    Answers are kept while the registry holds the same two conventions."""
    first, second = get(name), get(native)
    if first is second:
        return True
    kept = _RUNS_AS.get((name, native))
    if kept is not None and kept[0] is first and kept[1] is second:
        return kept[2]
    same = first.rule.expressions() == second.rule.expressions()
    _RUNS_AS[(name, native)] = (first, second, same)
    return same


def effective_kernel(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def output_size(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> int:
    """Number of window positions that fit in the padded axis (0 when none fits)."""
    span = size + before + after - effective_kernel(kernel, dilation)
    return span // stride + 1 if span >= 0 else 0


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ---- the conventions ----------------------------------------------------------------------

@register("tf", citation="TensorFlow kernel_shape_util.cc GetWindowedOutputSizeVerbose; also XLA, JAX 'SAME', "
                         "ONNX SAME_UPPER, Keras 'same'", check=False)
def tf(size, kernel, stride, dilation):
    """out = ceil(in/s); total = max((out-1)*s + (k-1)*d + 1 - in, 0); before = total // 2"""
    out = let("O", ceiling(size / stride))
    total = let("T", Max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0))
    return Resolved(out, floor(total / 2), total - floor(total / 2))


@register("same_lower", citation="ONNX Conv auto_pad=SAME_LOWER; JAX padtype_to_pads 'SAME_LOWER'", check=False)
def same_lower(size, kernel, stride, dilation):
    """out = ceil(in/s); total as tf; before = total - total // 2 (the odd pixel before)"""
    out = let("O", ceiling(size / stride))
    total = let("T", Max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0))
    return Resolved(out, total - floor(total / 2), floor(total / 2))


@register("legacy_eigen", citation="TensorFlow 1.x CPU forward (Eigen SpatialConvolution, 2017; TF PR 1991, "
                                   "issue 11092)",
          note="This is what TensorFlow 1.x's CPU kernels did in 2017: the forward used Eigen's unclamped "
               "padding, the filter gradient TensorFlow's clamped rule.", check=False)
def legacy_eigen(size, kernel, stride, dilation):
    """out = ceil(in/s); before = trunc(((out-1)*s + (k-1)*d + 1 - in) / 2), no clamping;
    after = total - before"""
    out = let("O", ceiling(size / stride))
    total = let("T", (out - 1) * stride + (kernel - 1) * dilation + 1 - size)
    return Resolved(out, trunc(total / 2), total - trunc(total / 2))


@register("torch", citation="PyTorch nn.Conv2d with padding=k//2 written by hand (PyTorch issue 3867)",
          transposed="smallest", check=False)
def torch(size, kernel, stride, dilation):
    """before = after = d*(k-1)//2; out = floor((in + 2*before - (k-1)*d - 1)/s) + 1"""
    pad = let("p", floor(dilation * (kernel - 1) / 2))
    return Resolved(floor((size + 2 * pad - (kernel - 1) * dilation - 1) / stride) + 1, pad, pad)
