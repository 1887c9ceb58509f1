"""LaTeX derivation documents whose every displayed equality was checked first.

``spec_document(spec, ...)`` writes a standalone document (plain pdflatex, amsmath and
geometry only) that derives, for one convolution: the padding resolution with the
convention's formula and its numbers, the forward sum as the definition, L = sum(g*y) and
the chain rule, the Kronecker-delta collapse to the closed forms of dk and dx, and the
requested entries (products, pixels and, given tensors, numbers).  ``generic_document``
does the same for symbolic sizes and adds the proven-versus-checked table of
``symconv.proof.facts``.

Nothing is written unless every check passed: the derivation steps check themselves (see
``symconv.proof``), the padding arithmetic is recomputed by SymPy and compared with the
convention registry, and each requested entry's closed form is compared, product by
product, with the index maps and with ``symbolic.closed_form``.  A failing check raises
``StepFailed`` naming the step.  Output is deterministic: the same request gives the same
bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy
from sympy import Integer, KroneckerDelta, Symbol

from . import conventions, proof, symbolic
from .errors import SymconvError
from .indexmap import maps_for
from .proof import StepFailed, Term
from .spec import FACTORS, TENSOR_OF, ConvSpec, check_entry, format_padding, parse_entry

# An entry's products are listed one by one up to this many.
LIST_TERMS = 12

# ==== printing ===================================================================================

_ORDER = ["n", "h", "w", "z", "i", "j", "l", "a", "b", "e", "c", "m", "c_i", "c_o"]


def symbol_tex(sym) -> str:
    """``c_i'`` -> ``c'_{i}``, ``K_H`` -> ``K_{H}``, ``OH0`` -> ``\\mathit{OH}_{0}``."""
    name = {"ci": "c_i", "co": "c_o"}.get(sym.name, sym.name)
    primes = ""
    while name.endswith("'"):
        primes, name = primes + "'", name[:-1]
    if "_" in name:
        base, sub = name.split("_", 1)
        return f"{base}{primes}_{{{sub}}}"
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if m:
        base = m.group(1) if len(m.group(1)) == 1 else f"\\mathit{{{m.group(1)}}}"
        return f"{base}{primes}_{{{m.group(2)}}}"
    if len(name) > 1:
        return f"\\mathit{{{name}}}{primes}"
    return name + primes


def _rank(sym) -> int:
    base = sym.name.rstrip("'")
    return _ORDER.index(base) if base in _ORDER else len(_ORDER)


def _term_key(term):
    syms = sorted(term.free_symbols, key=lambda s: (_rank(s), s.name))
    if not syms:
        return (2, 0, "")
    first = syms[0]
    return (0 if _rank(first) < len(_ORDER) else 1, _rank(first), first.name)


def _factor_tex(f) -> str:
    if isinstance(f, Symbol):
        return symbol_tex(f)
    if isinstance(f, sympy.Pow) and isinstance(f.base, Symbol) and f.exp.is_Integer and f.exp > 0:
        return f"{symbol_tex(f.base)}^{{{f.exp}}}"
    if isinstance(f, sympy.floor):
        return f"\\left\\lfloor {expr_tex(f.args[0])} \\right\\rfloor"
    if isinstance(f, sympy.Mod):
        return f"\\left({expr_tex(f.args[0])} \\bmod {expr_tex(f.args[1])}\\right)"
    if isinstance(f, sympy.Indexed):
        return entry_tex(f)
    if isinstance(f, KroneckerDelta):
        return f"\\delta_{{{expr_tex(f.args[0])},\\,{expr_tex(f.args[1])}}}"
    if isinstance(f, sympy.Add):
        return f"\\left({expr_tex(f)}\\right)"
    return sympy.latex(f)


def expr_tex(expr) -> str:
    """An index expression with index terms first and the constant last: ``s_{H} i + d_{H} a - p_{H}``."""
    expr = sympy.sympify(expr)
    if not expr.is_Add and not expr.is_Mul:
        if expr.is_Number:
            return str(expr)
        return _factor_tex(expr)
    expr = sympy.expand(expr) if not expr.has(sympy.floor, sympy.Mod) else expr
    terms = sorted(expr.args, key=_term_key) if expr.is_Add else [expr]
    if len(terms) > 1 and terms[0].could_extract_minus_sign() and terms[-1].is_Number and terms[-1] > 0:
        terms = [terms[-1]] + terms[:-1]  # 1 - u rather than -u + 1
    out = ""
    for t in terms:
        coeff, rest = t.as_coeff_Mul()
        negative = coeff < 0
        magnitude = -coeff if negative else coeff
        if rest == 1:
            body = str(magnitude)
        else:
            factors = sorted(sympy.Mul.make_args(rest), key=lambda f: (1 if isinstance(f, Symbol) and _rank(f) < len(_ORDER) else 0, str(f)))
            body = " ".join(_factor_tex(f) for f in factors)
            if magnitude != 1:
                body = f"{magnitude} {body}"
        if not out:
            out = f"-{body}" if negative else body
        else:
            out += f" - {body}" if negative else f" + {body}"
    return out


SEP = ",\\,"  # a comma and a thin space between indices


def entry_tex(entry) -> str:
    """``x[n, 3*i + 1]`` -> ``x_{n,\\,3 i + 1}``."""
    return f"{entry.base}_{{{SEP.join(expr_tex(i) for i in entry.indices)}}}"


def condition_tex(condition) -> str:
    """``(e, lo, hi)`` -> the bracket ``[lo <= e <= hi]``."""
    e, lo, hi = condition
    parts = []
    if lo is not None:
        parts.append(f"{expr_tex(lo)} \\le ")
    parts.append(expr_tex(e))
    if hi is not None:
        parts.append(f" \\le {expr_tex(hi)}")
    return "\\left[" + "".join(parts) + "\\right]"


def limit_tex(limit) -> str:
    """``(v, lo, hi)`` -> ``\\sum_{v=lo}^{hi}``."""
    v, lo, hi = limit
    return f"\\sum_{{{symbol_tex(v)}={expr_tex(lo)}}}^{{{expr_tex(hi)}}}"


def term_pieces(term: Term) -> list[str]:
    """One Term as pieces that a display may break between: sums, brackets, factors."""
    pieces = [limit_tex(lim) for lim in term.limits]
    pieces += [condition_tex(c) for c in term.conditions]
    body = [_factor_tex(f) if not f.is_Number else str(f) for f in term.factors if f != 1]
    return pieces + (body or ["1"])


def term_tex(term: Term) -> str:
    """One Term: its sums, its bracketed conditions, its factors."""
    return " ".join(term_pieces(term))


def terms_pieces(terms) -> list[str]:
    """Several Terms, added, as breakable pieces."""
    if not terms:
        return ["0"]
    out = []
    for i, t in enumerate(terms):
        pieces = term_pieces(t)
        out += pieces if i == 0 else ["+ " + pieces[0]] + pieces[1:]
    return out


def terms_tex(terms) -> str:
    """Several Terms, added (``0`` for none)."""
    return " ".join(terms_pieces(terms))


def lhs_tex(lhs) -> str:
    """A step's left side: an entry, ``dL/d entry`` as a fraction, or ``L``."""
    if lhs is None:
        return ""
    if isinstance(lhs, sympy.Derivative):
        entry = lhs.args[1][0]
        return f"\\frac{{\\partial L}}{{\\partial {entry_tex(entry)}}}"
    if isinstance(lhs, sympy.Indexed):
        return entry_tex(lhs)
    return sympy.latex(lhs)


WIDTH = 70  # visible characters per display line, roughly a line of the page


def _visible(tex: str) -> int:
    """About how many characters a piece of TeX shows (commands, braces and scripts dropped)."""
    return len(re.sub(r"\\[a-zA-Z]+|[{}_^\\]", "", tex))


def _lines(pieces, width: int = WIDTH) -> list[str]:
    lines, line = [], ""
    for piece in pieces:
        if line and _visible(line) + _visible(piece) > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    return lines + [line]


def display(lhs: str, rows: list) -> str:
    """An aligned display ``lhs = row1 = row2 ...`` (amsmath ``align*``); a row is a string or a
    list of pieces, broken between pieces when long."""
    out = []
    for i, row in enumerate(rows):
        pieces = [row] if isinstance(row, str) else row
        for j, chunk in enumerate(_lines(pieces)):
            head = (f"{lhs} &= " if i == 0 else "&= ") if j == 0 else "&\\qquad "
            out.append(head + chunk)
    return "\\begin{align*}\n" + " \\\\\n".join(out) + "\n\\end{align*}"


def tex_escape(text: str) -> str:
    """Plain text for LaTeX's text mode (comparisons become math symbols)."""
    table = {"\\": r"$\backslash$", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
             "{": r"$\{$", "}": r"$\}$", "~": r"$\sim$", "^": r"$\wedge$", "<": r"$<$", ">": r"$>$",
             "|": r"$|$"}
    text = text.replace("<=", "\x00le").replace(">=", "\x00ge").replace("!=", "\x00ne")
    out = "".join(table.get(c, c) for c in text)
    return out.replace("\x00le", r"$\le$").replace("\x00ge", r"$\ge$").replace("\x00ne", r"$\ne$")


# ==== the document ===============================================================================

PREAMBLE = r"""\documentclass[11pt]{article}
\ifdefined\pdftrailerid\pdftrailerid{symconv}\fi
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath}
\allowdisplaybreaks
\renewcommand{\labelitemi}{$\bullet$}
\renewcommand{\labelitemii}{$\circ$}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6em}
"""


class Document:
    """Sections of text and displays; rendered only after every check it was given passed."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.checks: list[str] = []

    def section(self, title: str):
        self.parts.append(f"\\section{{{title}}}")

    def text(self, tex: str):
        self.parts.append(tex)

    def math(self, tex: str, checked: str):
        """A display; ``checked`` says what was verified before it was added."""
        self.parts.append(tex)
        self.checks.append(checked)

    def render(self) -> str:
        body = "\n\n".join(self.parts)
        return (f"{PREAMBLE}\\title{{{self.title}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n\n{body}\n\n"
                f"\\end{{document}}\n")


def verify(step: str, ok: bool, why: str):
    """Raise StepFailed naming the step unless ``ok``."""
    if not ok:
        raise StepFailed(f"step '{step}' failed: {why}")


# ---- padding ------------------------------------------------------------------------------------

def _ceil(a, b):
    return sympy.ceiling(sympy.Rational(a, b))


def padding_chain(spec: ConvSpec, axis: int) -> list[str]:
    """The padding of one axis as lines of checked equalities (SymPy arithmetic, then compared
    with the convention registry and with the spec's resolved pads)."""
    size, k = spec.big_spatial[axis], spec.kernel_spatial[axis]
    s, d = spec.strides[axis], spec.dilations[axis]
    before, after = spec.pads[axis]
    small = spec.small_spatial[axis]
    step = f"padding, axis {axis}"
    lines = []
    if spec.padding == "SAME":
        conv = conventions.get(spec.convention)
        resolved = conv(size, k, s, d)
        verify(step, (resolved.out, resolved.before, resolved.after) == (small, before, after),
               f"the registry's {conv.name} gives {tuple(resolved)}, the spec {(small, before, after)}")
        name = spec.convention
        if name in ("tf", "same_lower", "legacy_eigen"):
            out = _ceil(size, s)
            raw = (out - 1) * s + (k - 1) * d + 1 - size
            lines.append(f"O = \\left\\lceil \\frac{{\\mathit{{in}}}}{{s}} \\right\\rceil = "
                         f"\\left\\lceil \\frac{{{size}}}{{{s}}} \\right\\rceil = {out}")
            raw_tex = f"({out} - 1) \\cdot {s} + ({k} - 1) \\cdot {d} + 1 - {size}"
            if name == "legacy_eigen":
                total = Integer(raw)
                lines.append(f"T = (O - 1) s + (k - 1) d + 1 - \\mathit{{in}} = {raw_tex} = {total}")
                value = sympy.sign(total) * sympy.floor(abs(total) / Integer(2))
                lines.append(f"p_{{\\mathrm{{before}}}} = \\operatorname{{trunc}}\\!\\left(\\frac{{T}}{{2}}\\right) = "
                             f"\\operatorname{{trunc}}\\!\\left(\\frac{{{total}}}{{2}}\\right) = {value}")
            else:
                total = sympy.Max(Integer(raw), 0)
                lines.append(f"T = \\max\\bigl((O - 1) s + (k - 1) d + 1 - \\mathit{{in}},\\ 0\\bigr) = "
                             f"\\max({raw_tex},\\ 0) = \\max({raw},\\ 0) = {total}")
                half = sympy.floor(total / Integer(2))
                value = half if name == "tf" else total - half
                formula = "\\left\\lfloor T/2 \\right\\rfloor" if name == "tf" else "T - \\left\\lfloor T/2 \\right\\rfloor"
                lines.append(f"p_{{\\mathrm{{before}}}} = {formula} = {value}")
            shown = f"({value})" if value < 0 else f"{value}"
            lines.append(f"p_{{\\mathrm{{after}}}} = T - p_{{\\mathrm{{before}}}} = {total} - {shown} = {total - value}")
            verify(step, (out, value, total - value) == (small, before, after),
                   f"SymPy's arithmetic gives {(out, value, total - value)}, the registry {(small, before, after)}")
        elif name == "torch":
            pad = sympy.floor(Integer(d * (k - 1)) / 2)
            lines.append(f"p_{{\\mathrm{{before}}}} = p_{{\\mathrm{{after}}}} = \\left\\lfloor \\frac{{d (k-1)}}{{2}} "
                         f"\\right\\rfloor = \\left\\lfloor \\frac{{{d} \\cdot {k - 1}}}{{2}} \\right\\rfloor = {pad}")
            out = sympy.floor(Integer(size + 2 * pad - (k - 1) * d - 1) / s) + 1
            lines.append(f"O = \\left\\lfloor \\frac{{\\mathit{{in}} + 2p - (k-1) d - 1}}{{s}} \\right\\rfloor + 1 = "
                         f"\\left\\lfloor \\frac{{{size} + {2 * pad} - {(k - 1) * d} - 1}}{{{s}}} \\right\\rfloor + 1 = {out}")
            verify(step, (out, pad, pad) == (small, before, after),
                   f"SymPy's arithmetic gives {(out, pad, pad)}, the registry {(small, before, after)}")
        else:
            lines.append(f"(O, p_{{\\mathrm{{before}}}}, p_{{\\mathrm{{after}}}}) = ({small}, {before}, {after})")
    else:
        span = size + before + after - (k - 1) * d - 1
        out = sympy.floor(Integer(span) / s) + 1 if span >= 0 else Integer(0)
        lines.append(f"p_{{\\mathrm{{before}}}} = {before},\\quad p_{{\\mathrm{{after}}}} = {after}")
        lines.append(f"O = \\left\\lfloor \\frac{{\\mathit{{in}} + p_{{\\mathrm{{before}}}} + p_{{\\mathrm{{after}}}} - "
                     f"(k-1) d - 1}}{{s}} \\right\\rfloor + 1 = \\left\\lfloor \\frac{{{span}}}{{{s}}} \\right\\rfloor + 1 = {out}")
        verify(step, out == small, f"SymPy gives {out} outputs, the spec {small}")
    return lines


# ---- entries ------------------------------------------------------------------------------------

def _free_values(result, quantity: str, index: tuple) -> dict:
    """The closed form's free symbols -> the entry's numbers (a depthwise y channel splits)."""
    closed = result.closed[quantity]
    values = {}
    for e, v in zip(closed.lhs.indices, index):
        if isinstance(e, Symbol):
            values[e] = Integer(v)
        else:  # depthwise y channel c*M + m
            mult = result.geometry.c_out
            c, m = proof.index("c"), proof.index("m")
            values[c], values[m] = Integer(v // int(mult)), Integer(v % int(mult))
    return values


@dataclass
class EntryReading:
    """One requested entry under one spec: its products, closed forms and value."""

    spec: ConvSpec
    quantity: str
    index: tuple
    at_entry: tuple
    compact: sympy.Expr
    terms: dict
    value: int | None

    @property
    def name(self) -> str:
        return f"{TENSOR_OF[self.quantity]}[{','.join(map(str, self.index))}]"

    @property
    def tex_name(self) -> str:
        return f"\\mathit{{{TENSOR_OF[self.quantity]}}}_{{{','.join(map(str, self.index))}}}" \
            if len(TENSOR_OF[self.quantity]) > 1 else f"y_{{{','.join(map(str, self.index))}}}"

    def _repr_latex_(self):
        return math_block([f"{self.tex_name} &= {terms_tex(self.at_entry)}",
                           "&= " + " ".join(_sympy_sum_pieces(self.compact))])

    def pixels(self) -> list:
        """The x entries the products read (or g's for dx)."""
        tensor = "g" if self.quantity == "input_grad" else "x"
        return sorted({idx for m in self.terms for name, idx in m if name == tensor})


def read_entry(spec: ConvSpec, result, quantity: str, index: tuple, tensors: dict | None) -> EntryReading:
    """Instantiate the derived closed form at one entry and check it against the index maps
    (product by product) and against ``symbolic.closed_form`` (the compact form shown)."""
    index = check_entry(spec, quantity, index)
    closed = result.closed[quantity]
    values = _free_values(result, quantity, index)
    at_entry = tuple(t.xreplace(values) for t in closed.terms)
    name = f"{TENSOR_OF[quantity]}[{','.join(map(str, index))}]"
    shapes = {t: spec.shape_of(t) for t in ("x", "k", "g")}
    mine = proof.compile_formula(proof.formula_expr(at_entry)).terms({}, shapes)
    actual = proof.actual_terms(maps_for(spec), quantity, index, True)
    verify(f"closed form at {name}", mine == actual,
           f"the derived closed form gives {len(mine)} products, the index maps {len(actual)}")
    compact = symbolic.closed_form(spec, quantity, index)
    theirs = proof.compile_formula(compact).terms({}, shapes)
    verify(f"compact form of {name}", theirs == actual,
           f"symbolic.closed_form gives {len(theirs)} products, the index maps {len(actual)}")
    value = None
    if tensors is not None:
        one, two = FACTORS[quantity]
        if tensors.get(one) is not None and tensors.get(two) is not None:
            value = proof.value_of(actual, tensors)
            direct = maps_for(spec).evaluate(quantity, **{t: tensors[t] for t in (one, two)})[tuple(index)]
            verify(f"value of {name}", value == int(direct),
                   f"the products sum to {value}, the index maps' evaluation gives {direct}")
    return EntryReading(spec, quantity, tuple(index), at_entry, compact, actual, value)


FACTOR_ORDER = {"g": 0, "x": 1, "k": 2}


def _monomial_tex(monomial, coefficient, tensors=None) -> tuple[str, str | None]:
    monomial = sorted(monomial, key=lambda f: FACTOR_ORDER.get(f[0], 3))
    factors = [f"{name}_{{{SEP.join(map(str, idx))}}}" for name, idx in monomial]
    tex = " ".join(factors) if coefficient == 1 else f"{coefficient}\\, " + " ".join(factors)
    if tensors is None:
        return tex, None
    nums = [str(int(tensors[name][idx])) for name, idx in monomial]
    num = " \\cdot ".join(f"({n})" if n.startswith("-") else n for n in nums)
    return tex, num if coefficient == 1 else f"{coefficient} \\cdot {num}"


def entry_tex_block(reading: EntryReading, tensors: dict | None) -> tuple[str, str]:
    """(display, check note) of one entry: closed form at the entry, compact form, products, value."""
    lhs = reading.tex_name
    rows = [terms_pieces(reading.at_entry)]
    compact = _sympy_sum_pieces(reading.compact)
    if compact != rows[0]:
        rows.append(compact)
    ordered = sorted(reading.terms.items())
    if len(ordered) <= LIST_TERMS:
        pieces = [_monomial_tex(m, c, tensors) for m, c in ordered]
        listed = [p[0] if i == 0 else "+ " + p[0] for i, p in enumerate(pieces)] or ["0"]
        if " ".join(listed) not in (" ".join(r) for r in rows):
            rows.append(listed)
        if reading.value is not None:
            if pieces:
                rows.append([p[1] if i == 0 else "+ " + p[1] for i, p in enumerate(pieces)])
            rows.append(str(reading.value))
    elif reading.value is not None:
        rows.append(str(reading.value))
    note = (f"{reading.name}: the closed form at the entry and the compact form each give exactly the index maps' "
            f"{len(reading.terms)} products" + ("; the value equals the index maps' evaluation"
                                                if reading.value is not None else ""))
    return display(lhs, rows), note


def _sympy_sum_pieces(expr) -> list:
    """A ``symbolic.closed_form`` result (a Sum of a product, or a product) in this module's style."""
    if isinstance(expr, sympy.Sum):
        limits = tuple(expr.limits)
        body = expr.function
    else:
        limits, body = (), expr
    if body == 0:
        return ["0"]
    factors = sorted(sympy.Mul.make_args(body), key=lambda f: FACTOR_ORDER.get(str(getattr(f, "base", "")), 3))
    return term_pieces(Term(limits, (), tuple(factors)))


# ---- tensors given on the command line ----------------------------------------------------------

def parse_values(spec: ConvSpec, tensor: str, text) -> np.ndarray | None:
    """``'1,2,3,...'`` (flat, row-major in the spec's layout) -> an integer array of the
    tensor's shape; None stays None."""
    if text is None:
        return None
    if isinstance(text, np.ndarray):
        values = text
    else:
        items = [p for p in re.split(r"[\s,]+", str(text).strip()) if p]
        if not all(re.fullmatch(r"[-+]?\d+", p) for p in items):
            raise SymconvError(f"--{tensor} must be integers separated by commas, got {str(text)[:40]!r}")
        values = np.array([int(p) for p in items], dtype=np.int64)
    shape = spec.shape_of(tensor)
    if values.size != int(np.prod(shape)):
        raise SymconvError(f"--{tensor} needs {int(np.prod(shape))} values (shape {shape}, row-major), "
                           f"got {values.size}")
    return np.asarray(values, dtype=np.int64).reshape(shape)


# ---- the spec document --------------------------------------------------------------------------

def _spec_symbols_tex(geometry) -> str:
    """Which sizes the symbols stand for, with the spec's numbers (for the general form)."""
    general = proof.symbolic_geometry(geometry.kind, geometry.ndim, geometry.channels_last, True)
    pairs = []
    for field in ("big", "kernel", "stride", "dilation", "pad", "small"):
        for sym, value in zip(getattr(general, field), getattr(geometry, field)):
            pairs.append(f"{symbol_tex(sym)} = {value}")
    for field in ("batch", "c_in", "c_out"):
        pairs.append(f"{symbol_tex(getattr(general, field))} = {getattr(geometry, field)}")
    return ", ".join(f"${p}$" for p in pairs)


def _tensor_table(spec: ConvSpec, result) -> str:
    rows = []
    geometry = result.geometry
    general = proof.symbolic_geometry(geometry.kind, geometry.ndim, geometry.channels_last, True)
    meaning = {"x": "input", "k": "kernel (TensorFlow layout)", "y": "output", "g": "upstream gradient dL/dy"}
    for tensor, shape_of in (("x", "x"), ("k", "k"), ("y", "g"), ("g", "g")):
        idx, _ = general.tensor_indices("k" if tensor == "k" else shape_of)
        entry = sympy.IndexedBase(tensor)[idx]
        shape = "\\times".join(map(str, spec.shape_of(tensor)))
        rows.append(f"${entry_tex(entry)}$ & {meaning[tensor]} & ${shape}$ \\\\")
    return ("\\begin{tabular}{lll}\n entry & tensor & shape \\\\ \\hline\n" + "\n".join(rows) +
            "\n\\end{tabular}")


def _settings_text(spec: ConvSpec) -> str:
    return tex_escape(spec.describe())


def _derivation_displays(doc: Document, deriv: proof.Derivation, skip_definition: bool = True):
    for step in deriv.steps:
        if skip_definition and step.rule in ("definition",):
            continue
        lhs = lhs_tex(step.lhs) if step.lhs is not None else ""
        doc.text(f"\\emph{{{tex_escape(step.title)}}} ({tex_escape(step.rule)}): {tex_escape(step.checked)}.")
        if lhs:
            doc.math(display(lhs, [terms_pieces(step.terms)]), step.checked)
        else:
            doc.math(display("", [terms_pieces(step.terms)]), step.checked)


def spec_document(spec: ConvSpec, entries=(), values: dict | None = None, compare: str | None = None,
                  title: str | None = None) -> str:
    """The derivation document of one spec.

    ``entries``: entry strings like ``'dk[0,0,0,0]'`` (see ``spec.parse_entry``); ``values``:
    {'x': ..., 'k': ..., 'g': ...} as flat text or arrays; ``compare``: a second SAME convention
    whose reading is shown side by side (default: tf when the spec's convention is another).

    >>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME",
    ...                 convention="legacy_eigen")
    >>> tex = spec_document(spec, ["y[0,0,0,0]"], {"x": "1,2,3,4,5,6,7,8,0", "k": "10"})
    >>> "y_{0,0,0,0} &= x_{0,\\\\,1,\\\\,1,\\\\,0} k_{0,\\\\,0,\\\\,0,\\\\,0}" in tex, "= 50" in tex
    (True, True)
    """
    return build_spec_document(spec, entries, values, compare, title).render()


def _reading_set(spec: ConvSpec, entries, tensors):
    result = proof.derive(proof.spec_geometry(spec))
    readings = []
    for text in entries:
        quantity, index = parse_entry(spec, text)
        if index is None:
            raise SymconvError(f"--entry needs indices, e.g. {TENSOR_OF[quantity]}[{','.join('0' * len(spec.shape_of(TENSOR_OF[quantity])))}], got {text!r}")
        readings.append(read_entry(spec, result, quantity, index, tensors))
    return result, readings


def _compare_spec(spec: ConvSpec, compare: str | None):
    if spec.padding != "SAME":
        if compare:
            raise SymconvError(f"--compare-convention needs padding SAME, got {format_padding(spec.padding)}")
        return None
    if compare is None:
        compare = "tf" if spec.convention != "tf" else None
    if compare is None or compare == spec.convention:
        return None
    conventions.get(compare)
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, spec.strides, spec.dilations, spec.padding,
                    compare, spec.data_format, spec.groups, spec.output_shape_request)


def build_spec_document(spec: ConvSpec, entries=(), values=None, compare=None, title=None) -> Document:
    """The checked Document of one spec (``spec_document`` renders it)."""
    if spec.is_empty:
        raise SymconvError(f"the output of this {spec.op} is empty (shape {spec.y_shape}): nothing to derive")
    values = values or {}
    unknown = set(values) - {"x", "k", "g"}
    if unknown:
        raise SymconvError(f"values can be given for x, k and g, got {sorted(unknown)}")
    tensors = {t: parse_values(spec, t, values.get(t)) for t in ("x", "k", "g")}
    tensors = tensors if any(v is not None for v in tensors.values()) else None
    other = _compare_spec(spec, compare)
    result, readings = _reading_set(spec, entries, tensors)
    doc = Document(tex_escape(title) if title else f"Derivation: {tex_escape(spec.op)}")
    geometry = result.geometry
    general = proof.derive(proof.symbolic_geometry(geometry.kind, geometry.ndim, geometry.channels_last, True))

    doc.section("The convolution")
    doc.text(f"{_settings_text(spec)}.")
    doc.text(_tensor_table(spec, result))
    if spec.kind == "transpose":
        doc.text("A transposed convolution is the input gradient of the direct convolution that maps "
                 "$y$'s shape to $x$'s shape with the same kernel; sizes, padding and the formulas below "
                 "are those of that direct convolution, whose input side is $y$.")
    doc.text(f"Sizes (symbols of the general form and this convolution's numbers): {_spec_symbols_tex(geometry)}.")

    doc.section("Padding")
    for name, s in [(spec.convention, spec)] + ([(other.convention, other)] if other else []):
        if spec.padding == "SAME":
            conv = conventions.get(name)
            doc.text(f"SAME under the convention \\texttt{{{tex_escape(name)}}}: {tex_escape(conv.formula)}. "
                     f"Source: {tex_escape(conv.citation)}.")
        for axis in range(spec.ndim):
            lines = padding_chain(s, axis)
            axis_name = proof.AXIS_NAMES[spec.ndim][axis]
            doc.text(f"Axis {axis_name} (input size {s.big_spatial[axis]}, kernel {s.kernel_spatial[axis]}, "
                     f"stride {s.strides[axis]}, dilation {s.dilations[axis]}):")
            doc.math("\\begin{gather*}\n" + " \\\\\n".join(lines) + "\n\\end{gather*}",
                     f"padding of axis {axis}: SymPy arithmetic equals the registry")

    doc.section("The forward sum (definition)")
    y_entry, definition = general.geometry.definition()
    doc.text("In general, with $x$ zero outside its shape (the bracket $[\\cdot]$ is 1 when its condition "
             "holds and 0 otherwise):")
    doc.math(display(entry_tex(y_entry), [term_pieces(definition)]), "the definition")
    y_num, definition_num = geometry.definition()
    sizes = _size_map(general.geometry, geometry)
    verify("forward with numbers", _same_term(definition.xreplace(sizes), definition_num),
           "the definition with the numbers filled in differs from the numeric one")
    doc.text("With this convolution's numbers:")
    doc.math(display(entry_tex(y_num), [term_pieces(definition_num)]), "the general definition with the sizes substituted")

    for quantity, tensor in (("filter_grad", "k"), ("input_grad", "x")):
        deriv = result.derivations[quantity]
        doc.section(f"The gradient with respect to ${tensor}$")
        if quantity == "filter_grad":
            doc.text("The upstream gradient $g = \\partial L / \\partial y$ makes the loss linear in $y$ for "
                     "the purpose of differentiation: $L = \\sum g\\, y$ over every entry of $y$. Differentiating "
                     "by an entry (primed indices) gives Kronecker deltas $\\delta_{u,v}$ (1 if $u = v$, else 0), "
                     "which collapse the sums. Each step below was checked by SymPy as stated.")
        _derivation_displays(doc, deriv)
        closed = result.closed[quantity]
        doc.text("In general (every size symbolic; proven in \\texttt{generic.tex}):")
        doc.math(display(entry_tex(general.closed[quantity].lhs), [terms_pieces(general.closed[quantity].terms)]),
                 "the general closed form, derived with symbolic sizes")
        del closed

    if readings:
        doc.section("The requested entries")
        doc.text("Each entry: the closed form at the entry, the same sum over exact ranges, "
                 f"and (up to {LIST_TERMS} products) every product" +
                 (" with its numbers" if tensors is not None else "") +
                 ". Each line was compared with the index maps product by product.")
        for reading in readings:
            tex, note = entry_tex_block(reading, tensors)
            tensor = "g" if reading.quantity == "input_grad" else "x"
            doc.text(f"${reading.tex_name}$: {len(reading.terms)} product{'s' if len(reading.terms) != 1 else ''}; "
                     f"the entries of ${tensor}$ it reads: {_pixels_tex(reading)}.")
            doc.math(tex, note)
    if other is not None and readings:
        _comparison(doc, spec, other, readings, entries, tensors)
    return doc


def _size_map(general_geometry, geometry) -> dict:
    mapping = {}
    for field in ("big", "kernel", "stride", "dilation", "pad", "small"):
        mapping.update(dict(zip(getattr(general_geometry, field), getattr(geometry, field))))
    for field in ("batch", "c_in", "c_out"):
        mapping[getattr(general_geometry, field)] = getattr(geometry, field)
    return mapping


def _same_term(a: Term, b: Term) -> bool:
    ex = lambda e: None if e is None else sympy.expand(e)
    return ([(v, ex(lo), ex(hi)) for v, lo, hi in a.limits] == [(v, ex(lo), ex(hi)) for v, lo, hi in b.limits]
            and [tuple(map(ex, c)) for c in a.conditions] == [tuple(map(ex, c)) for c in b.conditions]
            and [ex(f) for f in a.factors] == [ex(f) for f in b.factors])


def _pixel_tex(tensor: str, index) -> str:
    return f"${tensor}_{{{','.join(map(str, index))}}}$"


def _pixels_tex(reading: EntryReading) -> str:
    tensor = "g" if reading.quantity == "input_grad" else "x"
    pixels = reading.pixels()
    if not pixels:
        return "nothing (every tap is padding)"
    shown = ", ".join(_pixel_tex(tensor, p) for p in pixels[:6])
    return shown + (f" and {len(pixels) - 6} more" if len(pixels) > 6 else "")


def _comparison(doc, spec, other, readings, entries, tensors):
    _, theirs = _reading_set(other, entries, tensors)
    a, b = tex_escape(spec.convention), tex_escape(other.convention)
    doc.section(f"Side by side: \\texttt{{{a}}} and \\texttt{{{b}}}")
    pads = lambda s: "; ".join(f"{bf}:{af}" for bf, af in s.pads)
    rows = [f"pads (before:after) & ${pads(spec)}$ & ${pads(other)}$ \\\\"]
    for mine, their in zip(readings, theirs):
        value = lambda r: f" $= {r.value}$" if r.value is not None else ""
        rows.append(f"${mine.tex_name}$ reads & {_pixels_tex(mine)}{value(mine)} & {_pixels_tex(their)}{value(their)} \\\\")
    doc.text("\\begin{tabular}{p{0.22\\textwidth}p{0.34\\textwidth}p{0.34\\textwidth}}\n"
             f" & \\texttt{{{a}}} & \\texttt{{{b}}} \\\\ \\hline\n" + "\n".join(rows) + "\n\\end{tabular}")
    doc.checks.append("side by side: each reading checked against its own spec's index maps")
    forward = [(m, t) for m, t in zip(readings, theirs) if m.quantity == "forward"]
    grads = [(m, t) for m, t in zip(readings, theirs) if m.quantity == "filter_grad"]
    for (fm, _), (_, gt) in ((f, g) for f in forward for g in grads):
        seen = set(fm.pixels())
        unseen = [p for p in gt.pixels() if p not in seen]
        if unseen:
            text = (f"If the forward resolves SAME by \\texttt{{{a}}} and the filter gradient by \\texttt{{{b}}}, "
                    f"${gt.tex_name}$ multiplies $g$ by {', '.join(_pixel_tex('x', p) for p in unseen[:4])}, "
                    f"which ${fm.tex_name}$ never read: the kernel is trained on pixels the forward did not use.")
            if {spec.convention, other.convention} == {"legacy_eigen", "tf"}:
                text += (" This is what TensorFlow 1.x's CPU kernels did in 2017: the forward used Eigen's "
                         "unclamped padding, the filter gradient TensorFlow's clamped rule.")
            doc.text(text)


# ==== the generic document ======================================================================

def generic_document(report=None, ndim: int = 2) -> str:
    """The derivation of dk and dx for symbolic sizes, the transposed-convolution reading, the SAME
    facts, and the table of what is proven for all sizes and what is only checked."""
    return build_generic_document(report, ndim).render()


def build_generic_document(report=None, ndim: int = 2) -> Document:
    """The checked Document behind ``generic_document``."""
    geometry = proof.symbolic_geometry("conv", ndim, True, True)
    result = proof.derive(geometry)
    doc = Document(f"Derivation: the gradients of a {ndim}-D convolution, for all sizes")
    doc.section("Setting")
    doc.text("Sizes are symbols: batch $N$, channels $C_{i}$ in and $C_{o}$ out; per spatial axis the input "
             "size, kernel size $K$, stride $s$, dilation $d$, padding before $p$ (any integer; negative "
             "crops) and output size $O$. Every index is an integer. $x$ is zero outside its shape; a bracket "
             "$[\\cdot]$ is 1 when its condition holds, else 0; $\\delta_{u,v}$ is 1 if $u = v$, else 0.")
    doc.text(_tensor_table_symbolic(geometry))
    y_entry, definition = geometry.definition()
    doc.section("The forward sum (definition)")
    doc.math(display(entry_tex(y_entry), [term_pieces(definition)]), "the definition")
    for quantity, tensor in (("filter_grad", "k"), ("input_grad", "x")):
        doc.section(f"The gradient with respect to ${tensor}$")
        _derivation_displays(doc, result.derivations[quantity])
    doc.section("The input gradient is a transposed convolution")
    deriv, _, _, pads = proof.transposed_form(ndim, True)
    pretty = _claims_to_pretty(geometry)
    doc.text("Let $\\tilde g$ be $g$ dilated by the stride ($s-1$ zeros between entries) and padded by "
             "$d(K-1) - p$ before and $\\mathit{in} - 1 + p - s(O-1)$ after (negative amounts crop), and "
             "$\\tilde k_{a',c_o,c_i} = k_{K-1-a',c_i,c_o}$ the kernel flipped on every spatial axis with its "
             "channel axes swapped. Then $dx$ is the stride-1 convolution of $\\tilde g$ with $\\tilde k$ at "
             "dilation $d$. With $\\tilde g$ written as $\\sum_o \\delta\\, g$:")
    for step in deriv.steps:
        doc.text(f"\\emph{{{tex_escape(step.title)}}} ({tex_escape(step.rule)}): {tex_escape(step.checked)}.")
        doc.math(display(lhs_tex(step.lhs), [terms_pieces(tuple(t.xreplace(pretty) for t in step.terms))]),
                 step.checked)
    doc.text("The last line is the closed form of $dx$ above (their normal forms match, checked by SymPy). "
             "The padded, dilated $\\tilde g$ has $d(K-1) - p + s(O-1) + 1 + \\mathit{in} - 1 + p - s(O-1) = "
             "\\mathit{in} + d(K-1)$ entries, so a stride-1 window of $d(K-1)+1$ gives exactly $\\mathit{in}$ "
             "outputs.")
    if report is None:
        report = proof.facts()
    doc.section("Proven for all sizes, or checked up to a bound")
    doc.text("A proof covers every size; a check covers exactly the sizes it names and nothing more.")
    items = []
    for fact in report.facts:
        status = {"proven": "proven for all sizes", "checked": "checked only, no proof", "failed": "FAILED"}[fact.status]
        checks = "\n".join(f"  \\item checked: {tex_escape(c.scope)} ({c.cases} cases): "
                           f"{'all agree' if c.ok else 'FAILED'}" for c in fact.checks)
        items.append(f"\\item \\texttt{{{tex_escape(fact.key)}}} --- \\textbf{{{status}}}. {tex_escape(fact.statement)}."
                     f"\n\\begin{{itemize}}\n{checks}\n\\end{{itemize}}")
    doc.text("\\begin{itemize}\n" + "\n".join(items) + "\n\\end{itemize}")
    doc.checks.append("facts: each proof checked by SymPy, each bounded check run against the index maps")
    for fact in report.facts:
        if fact.proven and fact.key.startswith("same"):
            doc.text(f"\\emph{{Proof of \\texttt{{{tex_escape(fact.key)}}}:}} " +
                     " ".join(tex_escape(line) + "." for line in fact.proof))
    doc.text(tex_escape(report.summary()) + ".")
    return doc


def _tensor_table_symbolic(geometry) -> str:
    rows = []
    meaning = {"x": "input", "k": "kernel (TensorFlow layout)", "y": "output", "g": "upstream gradient dL/dy"}
    for tensor, role in (("x", "x"), ("k", "k"), ("y", "g"), ("g", "g")):
        idx, ranges = geometry.tensor_indices(role)
        entry = sympy.IndexedBase(tensor)[idx]
        shape = " \\times ".join(expr_tex(hi + 1) for _, hi in ranges.values())
        rows.append(f"${entry_tex(entry)}$ & {meaning[tensor]} & ${shape}$ \\\\")
    return "\\begin{tabular}{lll}\n entry & tensor & index ranges (sizes) \\\\ \\hline\n" + "\n".join(rows) + \
        "\n\\end{tabular}"


def _claims_to_pretty(pretty_geometry) -> dict:
    """Claim-language size symbols -> the document's symbols (H0 -> H, K0 -> K_H, ...)."""
    claims_geometry = proof.symbolic_geometry("conv", pretty_geometry.ndim, True, True, names="claims")
    return _size_map(claims_geometry, pretty_geometry)


# ==== notebook display ==========================================================================

def math_block(rows: list[str]) -> str:
    """Rows of ``lhs &= rhs`` as one display for a notebook (MathJax)."""
    return "$$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$$"


def closed_latex(closed) -> str:
    """A closed form for a notebook."""
    return math_block([f"{entry_tex(closed.lhs)} &= {terms_tex(closed.terms)}"])


def derivation_latex(deriv) -> str:
    """A derivation for a notebook: one aligned row per step, with its title."""
    rows = []
    for step in deriv.steps:
        lhs = lhs_tex(step.lhs)
        rows.append(f"{lhs} &= {terms_tex(step.terms)} && \\text{{{tex_escape(step.title)}}}")
    return math_block(rows)


def result_latex(result) -> str:
    """The closed forms of y, dk and dx for a notebook."""
    return math_block([f"{entry_tex(c.lhs)} &= {terms_tex(c.terms)}" for c in result.closed.values()])


def claim_latex(claim_result) -> str:
    """A claim and its status for a notebook."""
    claim = claim_result.claim
    status = {"proven": "proven for all sizes", "checked": "checked only", "refuted": "refuted"}[claim_result.status]
    rhs = sympy.latex(claim.rhs)
    return f"$${entry_tex(claim.lhs_entry)} = {rhs} \\qquad \\text{{({status})}}$$"
