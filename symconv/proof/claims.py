"""Claims: a small formula language for statements about y, dk and dx, and its parser.

A claim states one entry of y, dk or dx as a formula in x, k and g::

    dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]
    dx[n,h,w,ci] = sum(i=0..OH-1, j=0..OW-1, a=0..KH-1, b=0..KW-1, co=0..CO-1)
                   delta(h, SH*i+DH*a-PH)*delta(w, SW*j+DW*b-PW)*g[n,i,j,co]*k[a,b,ci,co]
    dk[0,0,0,0] = g[0,0,0,0]*x[0,1,1,0]

The parser is a tokenizer and a recursive-descent parser that builds SymPy objects directly;
it never evaluates Python (no ``eval``, ``exec``, ``sympify`` or ``parse_expr`` on the text).
Anything outside the grammar is a one-line ``SymconvError`` naming the column and the token.

Grammar (``*`` repeats, ``?`` optional, quoted text is literal)::

    claim      := entry "=" expr
    entry      := ("y" | "dk" | "dx") "[" lhs_index ("," lhs_index)* "]"
    lhs_index  := NAME | INT                  a NAME here is a free index: the claim must
                                              hold for every value in the tensor's range
    expr       := ("+" | "-")? term (("+" | "-") term)*
    term       := factor (("*" | "//" | "%") factor)*
    factor     := "-" factor | atom
    atom       := INT
                | ("x" | "k" | "g") "[" expr ("," expr)* "]"        a tensor entry
                | "sum" "(" range ("," range)* ")" term            the sum binds the term
                | "delta" "(" expr "," expr ")"                    1 if equal, else 0
                | ("min" | "max") "(" expr "," expr ")"
                | "[" condition "]"                               1 if it holds, else 0
                | NAME                                            a size or an index
                | "(" expr ")"
    range      := NAME "=" expr ".." expr                         both ends included
    condition  := comparison ("and" comparison)*
    comparison := expr (("<" | "<=" | "==" | "!=" | ">" | ">=") expr)+   chains allowed
    NAME       := [A-Za-z_][A-Za-z0-9_]*          INT := [0-9]+ (at most 9 digits)

Meaning:

* ``sum(i=0..OH-1, j=0..OW-1) t`` sums the *term* ``t`` that follows (a product, up to the
  next ``+`` or ``-``), as in written mathematics; use parentheses to sum more.  A range
  whose end is below its start is empty.
* ``//`` and ``%`` are floor division and its remainder (as in Python); they apply to
  index arithmetic only, not to tensor entries.
* A tensor entry outside its tensor's shape is 0: that is zero padding, so
  ``x[S*i+D*a-P]`` needs no in-bounds bracket.
* Indices are either full (the spec's layout: ``x[n,h,w,c]``, ``k[a,b,ci,co]`` in
  TensorFlow's layout, ``g[n,i,j,co]``) or spatial only (``x[h,w]``, ``k[a,b]``,
  ``g[i,j]``), which means batch 1 and one channel in and out.

Size names (sizes of the direct convolution behind the op; pads are resolved, "before" side):

===============  ======================  =====================  ============================
meaning          any number of axes      1-D alias              2-D aliases
===============  ======================  =====================  ============================
input size       ``H0``, ``H1``, ...     ``H``                  ``H``, ``W``
kernel size      ``K0``, ``K1``          ``K``                  ``KH``, ``KW``
stride           ``S0``, ``S1``          ``S``                  ``SH``, ``SW``
dilation         ``D0``, ``D1``          ``D``                  ``DH``, ``DW``
pad before       ``P0``, ``P1``          ``P``                  ``PH``, ``PW``
output size      ``OH0``, ``OH1``        ``OH``                 ``OH``, ``OW``
batch, channels  ``N``, ``CI``, ``CO``
===============  ======================  =====================  ============================

For a transposed convolution, "input" is the big side (y) and "output" the small one (x),
as in ``ConvSpec``; ``CI`` counts x's channels and ``CO`` y's.  Every other name is an
index: bound on the left or by a sum, else an error.

>>> claim = parse_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]")
>>> claim.tensor, claim.lhs, claim.rhs
('dk', (a,), Sum(g[i]*x[D0*a - P0 + S0*i], (i, 0, OH0 - 1)))
>>> parse_claim("dk[0] = __import__('os')")
Traceback (most recent call last):
...
symconv.errors.SymconvError: claim: unexpected character "'" at column 20
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy import IndexedBase, Integer, KroneckerDelta, Piecewise, Sum, Symbol

from ..errors import SymconvError
from ..model.quantities import QUANTITY_OF

OUTPUT_TENSORS = QUANTITY_OF   # y, dk, dx -> forward, filter_grad, input_grad
INPUT_TENSORS = ("x", "k", "g")
FUNCTIONS = ("sum", "delta", "min", "max")
RESERVED = set(OUTPUT_TENSORS) | set(INPUT_TENSORS) | set(FUNCTIONS) | {"and"}

MAX_LENGTH = 4000
MAX_DEPTH = 60
MAX_DIGITS = 9

SIZE_KINDS = ("H", "K", "S", "D", "P", "OH")
ALIASES = {
    1: {"H": "H0", "K": "K0", "S": "S0", "D": "D0", "P": "P0", "OH": "OH0"},
    2: {"H": "H0", "W": "H1", "KH": "K0", "KW": "K1", "SH": "S0", "SW": "S1", "DH": "D0", "DW": "D1",
        "PH": "P0", "PW": "P1", "OH": "OH0", "OW": "OH1"},
    3: {},
}


@lru_cache(maxsize=None)
def size_symbol(name: str) -> Symbol:
    """The SymPy symbol of a canonical size name (``H0``, ``P1``, ``N``, ...).

    Sizes are positive integers, pads are any integers.
    """
    if name.startswith("P"):
        return Symbol(name, integer=True)
    return Symbol(name, integer=True, positive=True)


def size_names(ndim: int) -> dict:
    """Every name a claim may use for a size, mapped to its canonical name."""
    names = {"N": "N", "CI": "CI", "CO": "CO"}
    for axis in range(ndim):
        for kind in SIZE_KINDS:
            names[f"{kind}{axis}"] = f"{kind}{axis}"
    names.update(ALIASES.get(ndim, {}))
    return names


@lru_cache(maxsize=None)
def index_symbol(name: str) -> Symbol:
    """The symbol of an index variable named in a claim (an integer)."""
    return Symbol(name, integer=True)


BASES = {name: IndexedBase(name) for name in INPUT_TENSORS + tuple(OUTPUT_TENSORS)}


@dataclass(frozen=True)
class Claim:
    """A parsed claim: ``tensor[lhs] = rhs``.

    ``lhs`` holds free index symbols and integers; ``rhs`` is a SymPy expression in the
    tensors ``x``, ``k``, ``g`` (IndexedBase), size symbols (``size_symbol``) and index
    symbols.  ``full`` says whether indices are full (batch, channels) or spatial only.
    """

    text: str
    tensor: str
    lhs: tuple
    rhs: sympy.Expr
    ndim: int
    full: bool

    @property
    def quantity(self) -> str:
        return OUTPUT_TENSORS[self.tensor]

    @property
    def free(self) -> tuple:
        return tuple(i for i in self.lhs if isinstance(i, Symbol))

    @property
    def sizes(self) -> frozenset:
        """The size symbols the claim uses."""
        names = set(size_names(self.ndim).values())
        return frozenset(s for s in self.rhs.free_symbols if s.name in names and s == size_symbol(s.name))

    @property
    def lhs_entry(self) -> sympy.Indexed:
        return BASES[self.tensor][self.lhs]

    def equation(self) -> sympy.Eq:
        return sympy.Eq(self.lhs_entry, self.rhs, evaluate=False)

    def __str__(self):
        return self.text


# ---- tokenizer ------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<int>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>\.\.|//|<=|>=|==|!=|[-+*%()\[\],=<>]))")


@dataclass(frozen=True)
class Token:
    kind: str  # "int", "name", "op" or "end"
    text: str
    column: int  # 1-based


def tokenize(text: str) -> list[Token]:
    """Split claim text into tokens; any other character is an error naming its column."""
    if not isinstance(text, str):
        raise SymconvError(f"claim must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise SymconvError(f"claim is longer than {MAX_LENGTH} characters ({len(text)})")
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SymconvError(f"claim: unexpected character {text[pos]!r} at column {pos + 1}")
        kind = m.lastgroup
        tokens.append(Token(kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ---- parser ---------------------------------------------------------------------------------

def _rank_layout(tensor_rank: int, ndim: int | None):
    """(ndim, full) from the rank of the left-hand entry."""
    if ndim is not None:
        if tensor_rank == ndim:
            return ndim, False
        if tensor_rank == ndim + 2:
            return ndim, True
        return None
    return {1: (1, False), 2: (2, False), 3: (1, True), 4: (2, True)}.get(tensor_rank)


class _Parser:
    def __init__(self, text: str, ndim: int | None):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.ndim = ndim
        self.full = None
        self.sizes = {}
        self.free = {}
        self.bound = []  # stack of names bound by enclosing sums

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, expected: str, token: Token | None = None):
        token = token or self.tok
        got = "the end of the claim" if token.kind == "end" else f"'{token.text}'"
        raise SymconvError(f"claim: expected {expected} at column {token.column}, got {got}")

    def accept(self, text: str) -> Token | None:
        if self.tok.kind in ("op", "name") and self.tok.text == text:
            token = self.tok
            self.pos += 1
            return token
        return None

    def expect(self, text: str, what: str | None = None) -> Token:
        token = self.accept(text)
        if token is None:
            self.fail(what or f"'{text}'")
        return token

    def nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SymconvError(f"claim: nesting deeper than {MAX_DEPTH} at column {self.tok.column}")

    # -- grammar
    def claim(self) -> Claim:
        head = self.tok
        if head.kind != "name" or head.text not in OUTPUT_TENSORS:
            self.fail("y, dk or dx (the entry the claim is about)")
        self.pos += 1
        self.expect("[")
        lhs, seen = [], set()
        while True:
            token = self.tok
            if token.kind == "int":
                lhs.append(self.integer(token))
                self.pos += 1
            elif token.kind == "name" and token.text not in RESERVED:
                if token.text in seen:
                    raise SymconvError(f"claim: index '{token.text}' appears twice on the left at column {token.column}")
                seen.add(token.text)
                lhs.append(token)
                self.pos += 1
            else:
                self.fail("an index name or an integer")
            if not self.accept(","):
                break
        self.expect("]", "',' or ']'")
        layout = _rank_layout(len(lhs), self.ndim)
        if layout is None:
            want = "1 to 4" if self.ndim is None else f"{self.ndim} (spatial) or {self.ndim + 2} (full)"
            raise SymconvError(f"claim: {head.text} must have {want} indices, got {len(lhs)} at column {head.column}")
        self.ndim, self.full = layout
        self.sizes = size_names(self.ndim)
        for i, item in enumerate(lhs):
            if isinstance(item, Token):
                if item.text in self.sizes:
                    raise SymconvError(
                        f"claim: '{item.text}' is a size name and cannot be an index on the left (column {item.column})")
                self.free[item.text] = index_symbol(item.text)
                lhs[i] = self.free[item.text]
        self.expect("=", "'='")
        rhs = self.expr()
        if self.tok.kind != "end":
            self.fail("an operator or the end of the claim")
        if not _has_tensor(rhs) and rhs != 0:
            raise SymconvError("claim: the right side uses no entry of x, k or g")
        return Claim(self.text, head.text, tuple(lhs), rhs, self.ndim, self.full)

    def integer(self, token: Token) -> Integer:
        if len(token.text.lstrip("0")) > MAX_DIGITS:
            raise SymconvError(f"claim: integer {token.text[:12]}... is too large at column {token.column}")
        return Integer(int(token.text))

    def expr(self):
        self.nest()
        negate = self.accept("-") is not None
        if not negate:
            self.accept("+")
        result = self.term()
        if negate:
            result = -result
        while True:
            if self.accept("+"):
                result = result + self.term()
            elif self.accept("-"):
                result = result - self.term()
            else:
                break
        self.depth -= 1
        return result

    def term(self):
        result = self.factor()
        while True:
            token = self.tok
            if self.accept("*"):
                result = result * self.factor()
            elif self.accept("//") or self.accept("%"):
                right = self.factor()
                self.index_only(result, token)
                self.index_only(right, token)
                if right == 0:
                    raise SymconvError(f"claim: division by zero at column {token.column}")
                result = sympy.floor(result / right) if token.text == "//" else sympy.Mod(result, right)
            else:
                return result

    def factor(self):
        if self.accept("-"):
            self.nest()
            value = -self.factor()
            self.depth -= 1
            return value
        return self.atom()

    def index_only(self, value, token: Token):
        if _has_tensor(value):
            raise SymconvError(f"claim: '{token.text}' applies to index arithmetic, not to tensor entries "
                               f"(column {token.column})")

    def index_expr(self):
        start = self.tok
        value = self.expr()
        self.index_only(value, start if start.kind != "end" else self.tok)
        return value

    def atom(self):
        token = self.tok
        if token.kind == "int":
            self.pos += 1
            return self.integer(token)
        if token.kind == "op" and token.text == "(":
            self.pos += 1
            value = self.expr()
            self.expect(")", "')'")
            return value
        if token.kind == "op" and token.text == "[":
            self.pos += 1
            cond = self.condition()
            self.expect("]", "']'")
            return Piecewise((Integer(1), cond), (Integer(0), True))
        if token.kind != "name":
            self.fail("a number, a name, a tensor entry or '('")
        name = token.text
        self.pos += 1
        if name in INPUT_TENSORS:
            return self.tensor_entry(token)
        if name in OUTPUT_TENSORS:
            raise SymconvError(f"claim: {name} may only appear on the left (column {token.column})")
        if name == "sum":
            return self.sum(token)
        if name in ("delta", "min", "max"):
            self.expect("(", "'('")
            first = self.index_expr()
            self.expect(",", "','")
            second = self.index_expr()
            self.expect(")", "')'")
            return {"delta": KroneckerDelta, "min": sympy.Min, "max": sympy.Max}[name](first, second)
        if name == "and":
            self.fail("a number, a name or '('", token)
        return self.name(token)

    def name(self, token: Token):
        name = token.text
        if name in self.sizes:
            return size_symbol(self.sizes[name])
        if name in self.free or name in self.bound:
            return index_symbol(name)
        raise SymconvError(
            f"claim: unknown name '{name}' at column {token.column}: not a size of a {self.ndim}-D claim "
            f"({', '.join(sorted(self.sizes))}) nor an index bound on the left or by a sum")

    def tensor_entry(self, token: Token):
        self.expect("[", "'['")
        indices = [self.index_expr()]
        while self.accept(","):
            indices.append(self.index_expr())
        self.expect("]", "',' or ']'")
        want = self.ndim + 2 if self.full else self.ndim
        if len(indices) != want:
            kind = "full" if self.full else "spatial-only"
            raise SymconvError(f"claim: {token.text} needs {want} indices ({kind}, like the left side), "
                               f"got {len(indices)} at column {token.column}")
        return BASES[token.text][tuple(indices)]

    def sum(self, token: Token):
        self.expect("(", "'(' after sum")
        ranges = []
        while True:
            var = self.tok
            if var.kind != "name" or var.text in RESERVED:
                self.fail("a summation index name")
            if var.text in self.sizes or var.text in self.free or var.text in self.bound:
                role = "a size" if var.text in self.sizes else "an index on the left" if var.text in self.free \
                    else "bound by an enclosing sum"
                raise SymconvError(f"claim: summation index '{var.text}' at column {var.column} is already {role}")
            self.pos += 1
            self.expect("=", "'='")
            lo = self.index_expr()
            self.expect("..", "'..'")
            hi = self.index_expr()
            ranges.append((index_symbol(var.text), lo, hi))
            self.bound.append(var.text)
            if not self.accept(","):
                break
        self.expect(")", "',' or ')'")
        self.nest()
        body = self.term()
        self.depth -= 1
        del self.bound[-len(ranges):]
        if body == 0:
            return Integer(0)
        return Sum(body, *ranges)

    def condition(self):
        parts = [self.comparison()]
        while self.accept("and"):
            parts.append(self.comparison())
        return sympy.And(*parts)

    def comparison(self):
        left = self.index_expr()
        ops = {"<": sympy.Lt, "<=": sympy.Le, "==": sympy.Eq, "!=": sympy.Ne, ">": sympy.Gt, ">=": sympy.Ge}
        parts = []
        while self.tok.kind == "op" and self.tok.text in ops:
            op = ops[self.tok.text]
            self.pos += 1
            right = self.index_expr()
            parts.append(op(left, right))
            left = right
        if not parts:
            self.fail("a comparison (<, <=, ==, !=, >, >=)")
        return sympy.And(*parts)


def _has_tensor(expr) -> bool:
    return any(isinstance(a, sympy.Indexed) for a in sympy.preorder_traversal(expr)) if isinstance(expr, sympy.Basic) else False


def parse_claim(text: str, ndim: int | None = None) -> Claim:
    """Parse a claim; ``ndim`` fixes the number of spatial axes (else it follows from the
    left side's rank: 1 or 2 spatial-only, 3 or 4 full).  Errors are one-line SymconvErrors.

    >>> parse_claim("dx[h] = sum(a=0..K-1) [h+P-D*a >= 0] * k[a]").rhs
    Sum(Piecewise((k[a], -D0*a + P0 + h >= 0), (0, True)), (a, 0, K0 - 1))
    """
    return _Parser(text, ndim).claim()
