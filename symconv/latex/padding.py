"""The padding of one axis as a chain of equalities, printed from the convention's own rule.

For SAME, every quantity the rule names (``symconv.conventions``) is shown as its formula, the
formula with the numbers written in, the value of each part, and the value; the values are
computed by SymPy from the rule's expressions and compared with the registry's numbers (the
same function run on exact rationals) and with the spec's pads before anything is written.  For
explicit pads and VALID the number of windows is computed by SymPy and compared with the
spec's output size.
"""

from __future__ import annotations

import sympy
from sympy import Integer

from ..model import conventions
from ..model.spec import ConvSpec
from .document import require
from .printing import _lines, quantity_tex, rule_tex


def _rows(expr, values) -> list:
    """The formula, the formula with the numbers, then its parts' values, as distinct rows."""
    rows = []
    for text in (rule_tex(expr), rule_tex(expr, values), rule_tex(expr, values, 2), rule_tex(expr, values, 1)):
        if not rows or rows[-1] != text:
            rows.append(text)
    return rows


def padding_display(spec: ConvSpec, axis: int) -> tuple:
    """(one aligned display of the axis's padding, what was checked)."""
    lines, checked = padding_chain(spec, axis)
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}", checked


def padding_chain(spec: ConvSpec, axis: int) -> tuple:
    """(rows of the chain for an align* display, what was checked) for one axis."""
    size, k = spec.direct_input_spatial[axis], spec.kernel_spatial[axis]
    s, d = spec.strides[axis], spec.dilations[axis]
    before, after = spec.pads[axis]
    small = spec.direct_output_spatial[axis]
    step = f"padding, axis {axis}"
    lines = []
    if spec.padding != "SAME":
        span = size + before + after - (k - 1) * d - 1
        out = sympy.floor(Integer(span) / s) + 1 if span >= 0 else Integer(0)
        lines.append(f"p_{{\\mathrm{{before}}}} &= {before},\\quad p_{{\\mathrm{{after}}}} = {after}")
        lines.append(f"O &= \\left\\lfloor \\frac{{\\mathit{{in}} + p_{{\\mathrm{{before}}}} + p_{{\\mathrm{{after}}}} - "
                     f"(k-1) d - 1}}{{s}} \\right\\rfloor + 1 = \\left\\lfloor \\frac{{{span}}}{{{s}}} \\right\\rfloor "
                     f"+ 1 = {out}")
        require(step, out == small, f"SymPy gives {out} outputs, the spec {small}")
        return lines, f"padding of axis {axis}: the number of windows, by SymPy, equals the spec's output size"
    convention = conventions.get(spec.convention)
    rule = convention.rule
    values = {conventions.SIZE: Integer(size), conventions.KERNEL: Integer(k), conventions.STRIDE: Integer(s),
              conventions.DILATION: Integer(d)}
    names = {}
    for name, expr in rule.definitions():
        value = sympy.sympify(expr).xreplace(values)
        require(step, value.is_Integer, f"SymPy's evaluation of {name} = {expr} gives {value}, not an integer")
        rows = _rows(expr, values) + [str(value)]
        packed = _lines([rows[0]] + [f"= {row}" for row in rows[1:]])
        lines.append(f"{quantity_tex(name)} &= {packed[0]}")
        lines += [f"&{line}" for line in packed[1:]]
        values[sympy.Symbol(name, integer=True)] = value
        names[name] = value
    by_sympy = tuple(int(names[rule.name_of(field)]) for field in ("out", "before", "after"))
    registry = tuple(convention(size, k, s, d))
    require(step, by_sympy == registry == (small, before, after),
            f"SymPy's evaluation of the {convention.name} rule gives (out, before, after) = {by_sympy}, the "
            f"registry's numbers {registry}, the spec {(small, before, after)}")
    return lines, (f"padding of axis {axis}: SymPy's evaluation of the {convention.name} rule equals the registry's "
                   f"numbers and the spec's pads")
