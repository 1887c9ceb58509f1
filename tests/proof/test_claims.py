"""The claim parser: what it accepts, what it builds, and that hostile text is only ever a parse error."""

import builtins
import re
from pathlib import Path

import pytest
import sympy

from symconv.errors import SymconvError
from symconv.proof import claims
from symconv.proof.claims import parse_claim, size_symbol


def test_parses_a_sum_into_sympy_objects():
    claim = parse_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]")
    i, a = sympy.Symbol("i", integer=True), sympy.Symbol("a", integer=True)
    S, D, P, OH = (size_symbol(n) for n in ("S0", "D0", "P0", "OH0"))
    x, g = sympy.IndexedBase("x"), sympy.IndexedBase("g")
    assert claim.rhs == sympy.Sum(g[i] * x[S * i + D * a - P], (i, 0, OH - 1))
    assert (claim.tensor, claim.quantity, claim.ndim, claim.full) == ("dk", "filter_grad", 1, False)
    assert claim.free == (a,)


@pytest.mark.parametrize("text, ndim, full", [
    ("dk[a] = g[a]*x[a]", 1, False),
    ("dk[a,b] = g[a,b]*x[a,b]", 2, False),
    ("dk[a,ci,co] = g[0,a,co]*x[0,a,ci]", 1, True),
    ("dx[n,h,w,c] = g[n,h,w,c]*k[0,0,c,c]", 2, True),
])
def test_rank_of_the_left_side_gives_axes_and_layout(text, ndim, full):
    claim = parse_claim(text)
    assert (claim.ndim, claim.full) == (ndim, full)


def test_two_d_aliases_and_generic_names_are_the_same_symbols():
    one = parse_claim("dk[a,b] = sum(i=0..OH-1, j=0..OW-1) g[i,j]*x[SH*i+a-PH, SW*j+b-PW]")
    two = parse_claim("dk[a,b] = sum(i=0..OH0-1, j=0..OH1-1) g[i,j]*x[S0*i+a-P0, S1*j+b-P1]")
    assert one.rhs == two.rhs


def test_sum_binds_the_following_product_only():
    claim = parse_claim("y[i] = sum(a=0..1) x[i+a]*k[a] + x[i]*k[0]")
    assert isinstance(claim.rhs, sympy.Add)
    assert any(isinstance(t, sympy.Sum) for t in claim.rhs.args)


def test_brackets_delta_floor_and_mod_build_sympy_objects():
    claim = parse_claim("dx[h] = sum(a=0..K-1) [(h+P-D*a) % S == 0 and a <= h] * delta(a, a) * g[(h+P-D*a)//S] * k[a]")
    assert claim.rhs.has(sympy.Mod, sympy.floor, sympy.Piecewise)


HOSTILE = [
    ("__import__('os').system('ls')", r"unexpected character \"'\" at column 12"),
    ('__import__("os").system("ls")', r"unexpected character '\"' at column 12"),
    ("dk[a] = __import__(os)", r"unknown name '__import__' at column 9"),
    ("dk[a] = g[a]*x[a]; import os", r"unexpected character ';' at column 18"),
    ("dk[a] = g[a].__class__", r"unexpected character '\.' at column 13"),
    ("dk[a] = (lambda: 0)", r"unexpected character ':' at column 16"),
    ("dk[a] = (lambda)", r"unknown name 'lambda' at column 10"),
    ("dk[a] = g[a] * (x[a]", r"expected '\)' at column 21, got the end of the claim"),
    ("dk[a] = g[a] +", r"expected a number, a name, a tensor entry or '\(' at column 15"),
    ("", r"expected y, dk or dx .* at column 1"),
    ("x[a] = g[a]", r"expected y, dk or dx .* at column 1, got 'x'"),
    ("dk[a] = x[a]//g[a]", r"'//' applies to index arithmetic"),
    ("dk[a] = g[a]*x[99999999999]", r"too large at column 16"),
    ("dk[a] = g[b]*x[a]", r"unknown name 'b' at column 11"),
    ("dk[a] = g[a,a]*x[a]", r"g needs 1 indices .* at column 9"),
    ("dk[a] = sum(a=0..1) g[a]*x[a]", r"summation index 'a' at column 13 is already an index on the left"),
    ("dk[a] = g[a]*x[a//0]", r"division by zero at column 17"),
    ("dk[a] = dx[a]", r"dx may only appear on the left"),
    ("dk[a] = 3", r"uses no entry of x, k or g"),
    ("dk[a] = " + "(" * 200 + "g[a]" + ")" * 200, r"nesting deeper than"),
    ("dk[a] = g[a]" + " " * 5000, r"longer than 4000 characters"),
]


@pytest.mark.parametrize("text, message", HOSTILE)
def test_bad_or_hostile_text_is_a_one_line_parse_error(text, message):
    with pytest.raises(SymconvError, match=message) as err:
        parse_claim(text)
    assert "\n" not in str(err.value)


def test_parsing_never_evaluates_python(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the parser evaluated text")
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    monkeypatch.setattr(builtins, "compile", refuse)
    assert parse_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]").tensor == "dk"
    with pytest.raises(SymconvError, match="column"):
        parse_claim("__import__('os').system('echo pwned')")


def test_the_parser_source_uses_no_evaluating_function():
    source = Path(claims.__file__).read_text()
    code = re.sub(r'"""[\s\S]*?"""', "", source)
    for banned in ("eval", "exec", "sympify", "parse_expr", "compile", "S", "__import__"):
        assert not re.search(rf"(?<![.\w]){banned}\(", code), banned


def test_non_text_is_refused():
    with pytest.raises(SymconvError, match="claim must be text"):
        parse_claim(None)


def test_fixed_axes_refuse_a_left_side_of_another_rank():
    with pytest.raises(SymconvError, match=r"dk must have 2 \(spatial\) or 4 \(full\) indices, got 1"):
        parse_claim("dk[a] = g[a]*x[a]", ndim=2)
