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
    rows = summary_rows(network)
    lines = [f"affine summary of {network.describe()}, per spatial axis of {network.inputs[0]}: "
             f"receptive-field size, effective stride, offset (position o reads about "
             f"stride*o + offset .. + size - 1)"]
    width = max((len(r[0]) for r in rows), default=5)
    for name, detail, shape, axes in rows:
        cells = []
        for a in axes:
            cells.append("(no summary: branches disagree)" if a is None else
                         f"{_n(a.size)}/{_n(a.stride)}/{_n(a.offset)}")
        lines.append(f"  {name:<{width}}  {shape:<14} {'  '.join(cells):<24} {detail}")
    return "\n".join(lines)


def _n(value):
    return str(value.numerator) if value.denominator == 1 else str(value)


def summary_json(network: Network) -> dict:
    return {"network": network.describe(), "input": network.inputs[0],
            "layers": [{"layer": name, "detail": detail, "shape": shape,
                        "axes": [None if a is None else a.as_json() for a in axes]}
                       for name, detail, shape, axes in summary_rows(network)]}
