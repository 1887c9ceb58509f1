"""A LaTeX derivation of the composed index map of a short chain, every step checked.

For a chain of window layers (convolutions, pooling, padding, cropping, slicing, with
elementwise layers in between), the document derives, per spatial axis: each layer's index
rule ``p_{l-1} = s_l p_l + d_l a_l - b_l``; their composition
``p_0 = J p_L + sum_l c_l a_l - B``; the affine summary it implies; the path counts inside
the input as the coefficients of a generating function; and the exact counts at the
requested entry, borders included.  Nothing is written unless every displayed equality was
verified first: each rule against the layer's table, the composition by SymPy (with symbolic
strides, dilations and pads), the summary against ``symconv.network.affine``, the generating
function by expansion, and the exact counts by enumerating every tuple of kernel offsets
and comparing with the trace.  A failed check raises ``StepFailed`` naming the step.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from ..errors import SymconvError
from ..latex.document import require
from ..proof import StepFailed  # noqa: F401  a failed step raises it
from . import affine as affine_mod
from . import compose
from .axes import Groups
from .graph import AxisLayer

MAX_LAYERS = 8
MAX_TUPLES = 200_000
AXIS_NAMES = {1: ["w"], 2: ["h", "w"], 3: ["z", "h", "w"]}


def tex_text(text: str) -> str:
    out = []
    for ch in str(text):
        out.append({"_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}",
                    "^": r"\^{}", "~": r"\~{}", "\\": r"\textbackslash{}"}.get(ch, ch))
    return "".join(out)


def _chain(answer) -> list:
    """The layers from the input to the traced layer, in order; refused unless a short chain
    of window layers."""
    net = answer.network
    names = net.ancestors(answer.layer)
    layers = []
    for name in names[1:]:
        node = net.nodes[name]
        if not isinstance(node, AxisLayer) or len(node.inputs) != 1 or \
                any(t.window is None for t in node.tables):
            raise SymconvError(f"LaTeX derivations are for chains of window layers (convolutions, pooling, "
                               f"padding, cropping, slicing); {name!r} is a {node.kind}")
        if names.index(node.inputs[0]) != names.index(name) - 1:
            raise SymconvError("LaTeX derivations are for single chains; this network branches")
        if any(t.window != (1, 1, 1, 0) for t in node.tables) or isinstance(node.channels, Groups):
            layers.append(node)
    if len(layers) > MAX_LAYERS:
        raise SymconvError(f"LaTeX derivations are for short chains (at most {MAX_LAYERS} window layers), "
                           f"this one has {len(layers)}")
    if not layers:
        raise SymconvError("the chain has no window layer to derive")
    return layers


def _sizes_below(answer, layers) -> list:
    net = answer.network
    return [net.nodes[node.inputs[0]].shape.spatial for node in layers]


def _enumerate(windows, sizes, o) -> dict:
    """Exact paths per input position on one axis, by visiting every tuple of offsets."""
    counts = {}
    ranges = [range(k) for k, _, _, _ in windows]
    for offsets in itertools.product(*ranges):
        p, ok = o, True
        for (k, s, d, b), a, n in zip(reversed(windows), reversed(offsets), reversed(sizes)):
            p = s * p + d * a - b
            if not 0 <= p < n:
                ok = False
                break
        if ok:
            counts[p] = counts.get(p, 0) + 1
    return counts


def _channel_counts(layers, c_entry, c_in) -> np.ndarray:
    """Paths per input channel, walking the group rule of each layer down from the entry."""
    vec = {c_entry: 1}
    for node in reversed(layers):
        if not isinstance(node.channels, Groups):
            continue
        g, ci, co = node.channels.groups, node.channels.c_in, node.channels.c_out
        new = {}
        for c, v in vec.items():
            grp = c // (co // g)
            for x in range(grp * (ci // g), (grp + 1) * (ci // g)):
                new[x] = new.get(x, 0) + v
        vec = new
    out = np.zeros(c_in, dtype=object)
    for c, v in vec.items():
        out[c] = v
    return out


def document(answer) -> str:
    """The derivation of ``answer`` (a Trace of a short chain) as a standalone LaTeX file."""
    layers = _chain(answer)
    net = answer.network
    inp = net.input
    nd = inp.shape.ndim
    below = _sizes_below(answer, layers)
    canon = answer.canon
    names = AXIS_NAMES.get(nd, [f"x_{i}" for i in range(nd)])
    L = len(layers)
    body = []
    body.append(r"\section*{The chain}")
    body.append(tex_text(f"Entry {answer.entry} of layer {answer.layer} in {net.describe()}; "
                         f"input {inp.name} of shape {'x'.join(map(str, net.user_shape(inp)))}.") +
                r" On each spatial axis, position $p_l$ of layer $l$ reads position"
                r" $p_{l-1} = s_l p_l + d_l a_l - b_l$ of the layer below for each kernel offset"
                r" $0 \le a_l \le k_l - 1$, where that position lies inside the layer below"
                r" ($0 \le p_{l-1} \le n_{l-1} - 1$; elsewhere it is padding).")
    body.append(r"\begin{center}\begin{tabular}{rll}")
    body.append(r"$l$ & layer & per-axis $(k, s, d, b)$ \\ \hline")
    for l, node in enumerate(layers, start=1):
        params = ", ".join(f"({k}, {s}, {d}, {b})" for k, s, d, b in (t.window for t in node.tables))
        body.append(f"{l} & \\texttt{{{tex_text(node.name)}}}: {tex_text(node.detail)} & {params} \\\\")
    body.append(r"\end{tabular}\end{center}")

    # Step 1: each rule against the layer's table.
    for node in layers:
        for t in node.tables:
            k, s, d, b = t.window
            o = np.arange(t.out_size)[:, None]
            a = np.arange(k)[None, :]
            p = s * o + d * a - b
            expected = np.where((p >= 0) & (p < t.in_size), p, -1)
            require(f"index rule of {node.name}", np.array_equal(expected, t.taps), "the table differs")

    # Step 2: the composition, symbolically.
    p = sympy.symbols(f"p0:{L + 1}", integer=True)
    a = sympy.symbols(f"a1:{L + 1}", integer=True)
    s_sym = sympy.symbols(f"s1:{L + 1}", positive=True, integer=True)
    d_sym = sympy.symbols(f"d1:{L + 1}", positive=True, integer=True)
    b_sym = sympy.symbols(f"b1:{L + 1}", integer=True)
    expr = p[L]
    for l in range(L, 0, -1):
        expr = s_sym[l - 1] * expr + d_sym[l - 1] * a[l - 1] - b_sym[l - 1]
    J = [sympy.Integer(1)]
    for l in range(L):
        J.append(J[-1] * s_sym[l])
    closed = J[L] * p[L] + sum(J[l] * (d_sym[l] * a[l] - b_sym[l]) for l in range(L))
    require("composition", sympy.expand(expr - closed) == 0, "substitution does not give the closed form")
    body.append(r"\section*{Composition}")
    body.append("Substituting each rule into the one below it, for any strides, dilations and pads "
                "(checked by SymPy):")
    body.append(r"\[ p_0 = " + sympy.latex(J[L] * p[L]) + " + " +
                r" + ".join(sympy.latex(J[l] * (d_sym[l] * a[l] - b_sym[l])) for l in range(L)) + r" \]")

    summary = affine_mod.summaries(net)[answer.layer]
    blocks = []
    for i in range(nd):
        windows = [node.tables[i].window for node in layers]
        sizes = [sz[i] for sz in below]
        subs = {}
        for l, (k, s, d, b) in enumerate(windows):
            subs.update({s_sym[l]: s, d_sym[l]: d, b_sym[l]: b})
        numeric = sympy.expand(closed.subs(subs))
        stride = int(J[L].subs(subs))
        coeffs = [int((J[l] * d_sym[l]).subs(subs)) for l in range(L)]
        offset = -sum(int((J[l] * b_sym[l]).subs(subs)) for l in range(L))
        size = 1 + sum(c * (k - 1) for c, (k, _, _, _) in zip(coeffs, windows))
        rebuilt = stride * p[L] + sum(c * a[l] for l, c in enumerate(coeffs)) + offset
        require(f"composition with numbers ({names[i]})", sympy.expand(numeric - rebuilt) == 0)
        summ = summary[i]
        require(f"affine summary ({names[i]})", summ is not None and (summ.stride, summ.offset, summ.size) ==
               (stride, offset, size), f"{summ} != {(stride, offset, size)}")
        o = canon[1 + i] if answer.node.shape.spatial else 0
        z = sympy.Symbol("z")
        product = sympy.Integer(1)
        for c, (k, _, _, _) in zip(coeffs, windows):
            product *= sum(z ** (c * j) for j in range(k))
        poly = sympy.Poly(sympy.expand(product), z)
        interior = {int(m[0]): int(cf) for m, cf in zip(poly.monoms(), poly.coeffs())}
        by_hand = {}
        for offsets in itertools.product(*[range(k) for k, _, _, _ in windows]):
            j = sum(c * x for c, x in zip(coeffs, offsets))
            by_hand[j] = by_hand.get(j, 0) + 1
        require(f"generating function ({names[i]})", interior == by_hand)
        tuples = int(np.prod([k for k, _, _, _ in windows]))
        if tuples > MAX_TUPLES:
            raise SymconvError(f"axis {names[i]} has {tuples} tuples of kernel offsets, more than the "
                               f"{MAX_TUPLES} a derivation enumerates")
        exact = _enumerate(windows, sizes, o)
        base = stride * o + offset
        blocks.append((i, windows, sizes, coeffs, stride, offset, size, o, product, interior, exact, base))

    # Step 5: the enumerated counts times the channel counts are the trace, entry by entry.
    channels = _channel_counts(layers, canon[-1], inp.shape.channels)
    shape = tuple(inp.shape.spatial) + (inp.shape.channels,)
    expected = np.ones((), dtype=object)
    for i, *_rest in blocks:
        vec = np.zeros(shape[i], dtype=object)
        for pos, c in _rest[-2].items():
            vec[pos] = c
        expected = np.multiply.outer(expected, vec)
    expected = np.multiply.outer(expected, channels)
    got = compose.dense(answer.terms, inp.shape.spatial, inp.shape.channels)
    require("exact counts against the trace", np.array_equal(got, expected))
    total = int(expected.sum())
    require("total paths", total == answer.paths)

    for i, windows, sizes, coeffs, stride, offset, size, o, product, interior, exact, base in blocks:
        name = names[i]
        body.append(f"\\section*{{Axis {tex_text(name)}}}")
        rules = []
        for l, (k, s, d, b) in enumerate(windows, start=1):
            rhs = sympy.latex(s * sympy.Symbol(f"p_{l}") + d * sympy.Symbol(f"a_{l}") - b)
            rules.append(f"p_{{{l - 1}}} &= {rhs}, & 0 &\\le a_{{{l}}} \\le {k - 1}, & "
                         f"0 &\\le p_{{{l - 1}}} \\le {sizes[l - 1] - 1}")
        body.append(r"\begin{align*}" + r" \\ ".join(rules) + r"\end{align*}")
        body.append("Composed (checked by SymPy, and the summary against symconv's affine summary):")
        composed = sympy.latex(stride * sympy.Symbol(f"p_{L}") + sum(
            c * sympy.Symbol(f"a_{l + 1}") for l, c in enumerate(coeffs)) + offset)
        body.append(f"\\[ p_0 = {composed} \\]")
        body.append(f"so position $p_{{{L}}} = {o}$ reads about $p_0 \\in [{stride} \\cdot {o} {offset:+d},\\ "
                    f"{stride} \\cdot {o} {offset:+d} + {size - 1}] = [{base}, {base + size - 1}]$ "
                    f"(receptive-field size {size}, effective stride {stride}, offset {offset}).")
        body.append("Away from the borders, the number of paths to $p_0 = " + f"{base}" + " + j$ is the "
                    "coefficient of $z^j$ in (checked by expansion)")
        shown = sympy.latex(sympy.expand(product), order="old") if len(interior) <= 16 else r"\cdots"
        body.append(r"\[ " + r" \cdot ".join(
            "(" + " + ".join(sympy.latex(sympy.Symbol('z') ** (c * j)) for j in range(k)) + ")"
            for c, (k, _, _, _) in zip(coeffs, windows)) + f" = {shown} \\]")
        body.append("The exact counts at this entry (every tuple of offsets enumerated, each intermediate "
                    "position kept only inside its layer):")
        body.append(r"\begin{center}\begin{tabular}{rrrl}")
        body.append(r"$p_0$ & interior & exact & \\ \hline")
        positions = sorted(set(exact) | {base + j for j in interior if 0 <= base + j < inp.shape.spatial[i]})
        for pos in positions[:64]:
            inner = interior.get(pos - base, 0)
            got_here = exact.get(pos, 0)
            mark = "border" if inner != got_here else ""
            body.append(f"{pos} & {inner} & {got_here} & {mark} \\\\")
        if len(positions) > 64:
            body.append(r"\multicolumn{4}{l}{\dots} \\")
        body.append(r"\end{tabular}\end{center}")
        clipped = sum(interior.values()) - sum(exact.values())
        if clipped:
            body.append(f"The borders remove {clipped} of the {sum(interior.values())} offset tuples on this axis.")
    body.append(r"\section*{Channels and the whole answer}")
    nz = [c for c in range(len(channels)) if channels[c]]
    body.append(tex_text(f"Channel by channel (each layer's group rule walked down from channel {canon[-1]}): "
                         f"{len(nz)} input channels, "
                         f"{', '.join(f'{c}: {channels[c]}' for c in nz[:8])}{' ...' if len(nz) > 8 else ''} paths each. "
                         f"The count of input entry (position per axis, channel) is the product of the per-axis "
                         f"counts and the channel's count; this product was compared with symconv's trace at every "
                         f"entry of the input (equal), and its sum, {total} paths, is the trace's total."))
    return _wrap(f"Provenance of {answer.entry}", "\n".join(body))


def _wrap(title: str, body: str) -> str:
    return "\n".join([r"\documentclass[11pt]{article}", r"\usepackage[margin=2cm]{geometry}",
                      r"\usepackage{amsmath}", r"\begin{document}", f"\\section*{{{tex_text(title)}}}",
                      body, r"\end{document}", ""])
