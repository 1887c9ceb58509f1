"""The derivation document of one convolution: padding, definition, chain rule, closed forms,
requested entries, and another SAME convention's reading side by side.

Groups are derived like any other convolution: a channel becomes (group q, channel within the
group), and differentiating splits each channel delta in two.
"""

from __future__ import annotations

from dataclasses import replace

import sympy

from .. import proof
from ..errors import SymconvError
from ..model import conventions
from ..model.spec import TENSOR_OF, ConvSpec, format_padding, parse_entry
from ..proof import Term
from .document import Document, require
from .entries import LIST_TERMS, EntryReading, entry_tex_block, read_entry, tensor_values
from .padding import padding_display
from .printing import display, entry_tex, lhs_tex, symbol_tex, term_pieces, terms_pieces, tex_escape


def _spec_symbols_tex(geometry) -> str:
    """Which sizes the symbols stand for, with the spec's numbers (for the general form)."""
    general = _general_geometry(geometry)
    pairs = []
    for field in ("input_size", "kernel", "stride", "dilation", "pad", "output_size"):
        for sym, value in zip(getattr(general, field), getattr(geometry, field)):
            pairs.append(f"{symbol_tex(sym)} = {value}")
    for field in ("batch", "c_in", "c_out") + (("groups",) if geometry.grouped else ()):
        pairs.append(f"{symbol_tex(getattr(general, field))} = {getattr(geometry, field)}")
    return ", ".join(f"${p}$" for p in pairs)


def _tensor_table(spec: ConvSpec, result) -> str:
    rows = []
    geometry = result.geometry
    general = _general_geometry(geometry)
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


def _general_geometry(geometry):
    """The same kind of convolution with every size a symbol."""
    return proof.symbolic_geometry(geometry.kind, geometry.ndim, geometry.channels_last, True,
                                   grouped=geometry.grouped, kernel_layout=geometry.kernel_layout)


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
        compare = conventions.DEFAULT
    if compare is None or compare == spec.convention:
        return None
    conventions.get(compare)
    return replace(spec, convention=compare)


def build_spec_document(spec: ConvSpec, entries=(), values=None, compare=None, title=None) -> Document:
    """The checked Document of one spec (``spec_document`` renders it)."""
    if spec.is_empty:
        raise SymconvError(f"the output of this {spec.op} is empty (shape {spec.y_shape}): nothing to derive")
    values = values or {}
    unknown = set(values) - {"x", "k", "g"}
    if unknown:
        raise SymconvError(f"values can be given for x, k and g, got {sorted(unknown)}")
    tensors = {t: tensor_values(spec, t, values.get(t)) for t in ("x", "k", "g")}
    tensors = tensors if any(v is not None for v in tensors.values()) else None
    other = _compare_spec(spec, compare)
    result, readings = _reading_set(spec, entries, tensors)
    doc = Document(tex_escape(title) if title else f"Derivation: {tex_escape(spec.op)}")
    geometry = result.geometry
    general = proof.derive(_general_geometry(geometry))

    doc.section("The convolution")
    doc.text(f"{_settings_text(spec)}.")
    doc.text(_tensor_table(spec, result))
    if spec.transposed:
        doc.text("A transposed convolution is the input gradient of the direct convolution that maps "
                 "$y$'s shape to $x$'s shape with the same kernel; sizes, padding and the formulas below "
                 "are those of that direct convolution, whose input side is $y$.")
    if geometry.grouped:
        doc.text(f"With {geometry.groups} groups, channels are counted per group: a channel index is written "
                 "$q C + c$ with $q$ the group and $c$ the channel within it ($C$ channels per group). Each "
                 "output channel of group $q$ reads only the input channels of group $q$.")
    doc.text(f"Sizes (symbols of the general form and this convolution's numbers): {_spec_symbols_tex(geometry)}.")

    doc.section("Padding")
    for name, s in [(spec.convention, spec)] + ([(other.convention, other)] if other else []):
        if spec.padding == "SAME":
            conv = conventions.get(name)
            doc.text(f"SAME under the convention \\texttt{{{tex_escape(name)}}}: {tex_escape(conv.formula)}. "
                     f"Source: {tex_escape(conv.citation)}. Each line below is a quantity of the convention's "
                     f"rule: its formula, the formula with this axis's numbers, and its value.")
        for axis in range(spec.ndim):
            tex, checked = padding_display(s, axis)
            axis_name = proof.axis_names(spec.ndim)[axis]
            doc.text(f"Axis {axis_name} (input size {s.direct_input_spatial[axis]}, kernel {s.kernel_spatial[axis]}, "
                     f"stride {s.strides[axis]}, dilation {s.dilations[axis]}):")
            doc.math(tex, checked)

    doc.section("The forward sum (definition)")
    y_entry, definition = general.geometry.definition()
    doc.text("In general, with $x$ zero outside its shape (the bracket $[\\cdot]$ is 1 when its condition "
             "holds and 0 otherwise):")
    doc.math(display(entry_tex(y_entry), [term_pieces(definition)]), None)
    y_num, definition_num = geometry.definition()
    sizes = _size_map(general.geometry, geometry)
    require("forward with numbers", _same_term(definition.xreplace(sizes), definition_num),
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
    for field in ("input_size", "kernel", "stride", "dilation", "pad", "output_size"):
        mapping.update(dict(zip(getattr(general_geometry, field), getattr(geometry, field))))
    for field in ("batch", "c_in", "c_out", "groups"):
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
            if conventions.DEFAULT in (spec.convention, other.convention):
                notes = [conventions.get(c).note for c in (spec.convention, other.convention)]
                text += "".join(f" {tex_escape(n)}" for n in notes if n)
            doc.text(text)

