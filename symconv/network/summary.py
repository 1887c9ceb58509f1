"""The affine summary of every layer, as a table (text or JSON)."""

from __future__ import annotations

from .affine import summaries
from .graph import Network


def summary_rows(network: Network) -> list:
    """(name, detail, shape, [Affine or None per input axis]) for every layer that reads the input."""
    table = summaries(network)
    return [(name, network.nodes[name].detail or network.nodes[name].kind, network.nodes[name].shape.text(), table[name])
            for name in network.nodes if name in table and name != network.inputs[0]]


def summary_text(network: Network) -> str:
    from .answer import axis_word
    rows = summary_rows(network)
    nd = network.nodes[network.inputs[0]].shape.ndim
    lines = [f"affine summary of {network.describe()}: per spatial axis of {network.inputs[0]}, "
             f"receptive-field size/effective stride/offset (position o reads about "
             f"stride*o + offset .. stride*o + offset + size - 1)"]
    cells = [[("-" if a is None else f"{_n(a.size)}/{_n(a.stride)}/{_n(a.offset)}") for a in axes]
             for _, _, _, axes in rows]
    width = max([6] + [len(r[0]) for r in rows])
    shape_w = max([5] + [len(r[2]) for r in rows])
    cell_w = max([len(axis_word(nd, i)) for i in range(nd)] + [len(c) for row in cells for c in row])
    head = "  ".join(f"{axis_word(nd, i):<{cell_w}}" for i in range(nd))
    lines.append(f"  {'tensor':<{width}}  {'shape':<{shape_w}}  {head}  layer")
    for (name, detail, shape, _), row in zip(rows, cells):
        lines.append(f"  {name:<{width}}  {shape:<{shape_w}}  {'  '.join(f'{c:<{cell_w}}' for c in row)}  {detail}")
    if any(a is None for _, _, _, axes in rows for a in axes):
        lines.append("  (-: branches that meet have different strides, so there is no affine summary)")
    return "\n".join(lines)


def _n(value):
    return str(value.numerator) if value.denominator == 1 else str(value)


def summary_json(network: Network) -> dict:
    return {"network": network.describe(), "input": network.inputs[0],
            "layers": [{"layer": name, "detail": detail, "shape": shape,
                        "axes": [None if a is None else a.as_json() for a in axes]}
                       for name, detail, shape, axes in summary_rows(network)]}
