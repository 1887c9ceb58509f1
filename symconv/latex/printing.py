"""LaTeX printing: symbols, index expressions, entries, terms, rules and aligned displays.

Every piece of mathematics in symconv's documents and notebook displays is printed here, in one
style: indices first and constants last (``s_{H} i + d_{H} a - p_{H}``), sums and brackets as
pieces a long display may break between.
"""

from __future__ import annotations

import re

import sympy
from sympy import KroneckerDelta, Symbol

from ..model.exact import trunc
from ..proof import Term

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




# ---- padding rules (symconv.conventions) ------------------------------------------------------------

RULE_ORDER = ["O", "T", "p", "s", "k", "d", "in"]
_ADD, _MUL, _ATOM = 1, 2, 3


def quantity_tex(name: str) -> str:
    """A rule's quantity: ``p_before`` -> ``p_{\\mathrm{before}}``, ``in`` -> ``\\mathit{in}``."""
    if "_" in name:
        base, sub = name.split("_", 1)
        return f"{base}_{{\\mathrm{{{sub}}}}}"
    return f"\\mathit{{{name}}}" if len(name) > 1 else name


def _rule_rank(term) -> tuple:
    if term.is_Number:
        return (1, 0, len(RULE_ORDER), "")
    ranks = [RULE_ORDER.index(s.name) if s.name in RULE_ORDER else len(RULE_ORDER) for s in term.free_symbols]
    return (0, int(term.could_extract_minus_sign()), min(ranks, default=len(RULE_ORDER)), str(term))


def _fraction(expr):
    """(numerator factors, denominator factors) of a product."""
    num, den = [], []
    for f in sympy.Mul.make_args(expr):
        if isinstance(f, sympy.Pow) and f.exp.is_Integer and f.exp < 0:
            den.append(f.base ** -f.exp)
        elif f.is_Rational and f.q != 1:
            if f.p != 1:
                num.append(sympy.Integer(f.p))
            den.append(sympy.Integer(f.q))
        else:
            num.append(f)
    return num, den


def _number(value, level: int) -> tuple:
    value = sympy.Rational(value)
    if value.q != 1:
        return f"\\frac{{{value.p}}}{{{value.q}}}", _MUL if value.p >= 0 else _ADD
    return str(value.p), _ATOM if value.p >= 0 else _ADD


def _wrap(printed: tuple, level: int) -> str:
    text, own = printed
    return f"\\left({text}\\right)" if own < level else text


def _rule(expr, values, depth) -> tuple:
    """(tex, precedence) of a rule expression; ``values`` replace symbols literally; below
    ``depth`` levels a subexpression is shown as its value (computed by SymPy)."""
    expr = sympy.sympify(expr)
    if expr.is_Number:
        return _number(expr, _ATOM)
    if expr.is_Symbol:
        if values is not None and expr in values:
            return _number(values[expr], _ATOM)
        return quantity_tex(expr.name), _ATOM
    if depth is not None and depth <= 0:
        num, den = _fraction(expr) if isinstance(expr, sympy.Mul) else ([expr], [])
        value = lambda factors: sympy.Mul(*factors).xreplace(values)
        if den:  # a fraction shows its numerator's and denominator's values
            return f"\\frac{{{_number(value(num), _ATOM)[0]}}}{{{_number(value(den), _ATOM)[0]}}}", _MUL
        if not value(num).is_Number:
            raise ValueError(f"{expr} has no value at {values}")
        return _number(value(num), _ATOM)
    below = None if depth is None else depth - 1
    if isinstance(expr, sympy.Add):
        terms = sorted(expr.args, key=_rule_rank)
        out = ""
        for t in terms:
            negative = t.could_extract_minus_sign()
            text = _wrap(_rule(-t if negative else t, values, below), _MUL if out else _ADD)
            out = (f"{out} - {text}" if out else f"-{text}") if negative else (f"{out} + {text}" if out else text)
        return out, _ADD
    if isinstance(expr, sympy.Mul):
        coeff, rest = expr.as_coeff_Mul()
        if coeff < 0:
            text, _ = _rule(-expr, values, depth)
            return f"-{text}", _ADD
        num, den = _fraction(expr)
        join = " \\cdot " if values is not None else " "
        level = _MUL if len(num) > 1 or not den else _ADD
        top = join.join(_wrap(_rule(f, values, below), level) for f in num) or "1"
        if not den:
            return top, _MUL
        bottom = join.join(_wrap(_rule(f, values, below), _MUL if len(den) > 1 else _ADD) for f in den)
        return f"\\frac{{{top}}}{{{bottom}}}", _MUL
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return f"{_wrap(_rule(expr.base, values, below), _ATOM)}^{{{expr.exp}}}", _ATOM
    inner = lambda e: _rule(e, values, below)[0]
    if isinstance(expr, sympy.floor):
        return f"\\left\\lfloor {inner(expr.args[0])} \\right\\rfloor", _ATOM
    if isinstance(expr, sympy.ceiling):
        return f"\\left\\lceil {inner(expr.args[0])} \\right\\rceil", _ATOM
    if isinstance(expr, trunc):
        return f"\\operatorname{{trunc}}\\!\\left({inner(expr.args[0])}\\right)", _ATOM
    if isinstance(expr, (sympy.Max, sympy.Min)):
        args = sorted(expr.args, key=lambda a: (a.is_Number, _rule_rank(a)))
        name = "\\max" if isinstance(expr, sympy.Max) else "\\min"
        joined = ",\\ ".join(inner(a) for a in args)
        return f"{name}\\left({joined}\\right)", _ATOM
    if isinstance(expr, sympy.Mod):
        return f"\\left({inner(expr.args[0])} \\bmod {inner(expr.args[1])}\\right)", _ATOM
    if isinstance(expr, sympy.Piecewise):
        rows = [f"{inner(e)} & \\text{{if }} {sympy.latex(c)}" if c is not sympy.true else
                f"{inner(e)} & \\text{{otherwise}}" for e, c in expr.args]
        return "\\begin{cases} " + " \\\\ ".join(rows) + " \\end{cases}", _ATOM
    return sympy.latex(expr), _ATOM


def rule_tex(expr, values: dict | None = None, depth: int | None = None) -> str:
    """A padding rule's expression: symbolic, with ``values`` written in literally, or (with
    ``depth``) with every subexpression ``depth`` levels down replaced by its value."""
    return _rule(expr, values, depth)[0]
