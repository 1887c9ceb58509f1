"""Pieces of the code ``port`` writes: the functions that move arrays between the source's
layouts and the target's, and the words of its comments."""

from __future__ import annotations

from ..model import conventions
from ..model.spec import ConvSpec
from . import layout_words, moves, pads_words


def tuple_text(values) -> str:
    values = tuple(int(v) for v in values)
    return str(values[0]) if len(set(values)) == 1 else str(values)


def mover(name: str, argument: str, start: str, steps: list, render, doc: str) -> list:
    """A function ``name(argument)`` that applies ``steps`` (reshape, permute) to ``start``."""
    expr = start
    for kind, value in steps:
        expr = render(expr, kind, tuple(value))
    return [f"def {name}({argument}):", f'    """{doc}"""', f"    return {expr}", "", ""]


def movers(spec: ConvSpec, target: ConvSpec, source_words: str, target_words: str, source_name: str,
           start, render) -> list:
    """kernel_from_<source> and input_from_<source>."""
    lines = mover(f"kernel_from_{source_name}", "k", start("k"), moves(spec, target, "k"), render,
                  f"{source_words}'s kernel, {layout_words(spec, 'k')}, as {target_words}'s, "
                  f"{layout_words(target, 'k')}.")
    lines += mover(f"input_from_{source_name}", "x", start("x"), moves(spec, target, "x"), render,
                   f"{source_words}'s input, {layout_words(spec, 'x')}, as {target_words}'s, "
                   f"{layout_words(target, 'x')}.")
    return lines


def output_mover(spec: ConvSpec, target: ConvSpec, source_words: str, target_words: str, source_name: str,
                 render) -> list:
    """output_to_<source>: the layer's output back in the source's layout."""
    return ["", ""] + mover(f"output_to_{source_name}", "y", "y", moves(target, spec, "y"), render,
                            f"{target_words}'s output, {layout_words(target, 'y')}, as {source_words}'s, "
                            f"{layout_words(spec, 'y')}.")[:-2]


def padding_comment(spec: ConvSpec, source_words: str) -> str:
    """Where the pads come from, in one line."""
    pads = pads_words(spec)
    if spec.padding == "SAME":
        odd = {(b < a) for b, a in spec.pads if b != a}
        side = ", the odd pixel after" if odd == {True} else ", the odd pixel before" if odd == {False} else ""
        rule = "" if spec.convention == conventions.DEFAULT else f" ({spec.convention})"
        if source_words == "Keras" and spec.convention == conventions.DEFAULT:
            rule = " (Keras's 'same' is TensorFlow's rule)"
        return f"SAME as {source_words} resolves it{rule}: pads {pads} (before:after){side}"
    if spec.padding == "VALID":
        return "VALID: no padding"
    crop = "; negative pads crop" if any(b < 0 or a < 0 for b, a in spec.pads) else ""
    return f"explicit pads {pads} (before:after){crop}"


def header(spec: ConvSpec, source_words: str, target_words: str, usual: str = "") -> list:
    """The code's first lines: the layer, where it comes from, and what the target's usual
    padding argument would do wrong (``usual``, from ``porting.usual``)."""
    lines = [f"# {spec.describe()}", f"# as {source_words} computes it, written for {target_words}."]
    if usual:
        import textwrap
        lines += ["#", *textwrap.wrap(f"note: {usual}.", 100, initial_indent="# ", subsequent_indent="#   ")]
    return lines + [""]


def module_doc(target: ConvSpec, what: str, source_name: str) -> str:
    """The docstring of module_from_<source>."""
    return (f'    """{what}, its weights the {source_name} kernel k:\n    x {"x".join(map(str, target.x_shape))} '
            f'({target.data_format}) -> y {"x".join(map(str, target.y_shape))} ({target.data_format})."""')
