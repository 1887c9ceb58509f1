"""How a network's answers show themselves in a notebook: an HTML table (``_repr_html_``).

Registered (``symconv.display.renders``) as the HTML rendering of ``Trace`` and ``Readers``, in
the style of every other answer's table (``symconv.show.notebook``): what is read, the window,
the path counts, each axis beside the affine summary, the layers whose gradient the data
decides, and the grid of positions read while it is small.
"""

from __future__ import annotations

from ..display import renders
from ..show.notebook import _escape, _pre, _table
from .affine import _num
from .answer import Readers, Trace, big, ranges_text
from .picture import data_dependent_line


def _common_rows(answer) -> list:
    rows = []
    for note in answer.notes:
        rows.append(("note", _escape(note)))
    grid = answer.grid_lines()
    if grid:
        rows.append(("positions read (#)", _pre(line[4:] for line in grid[1:])))
    return rows


def trace_html(trace) -> str:
    net, inp = trace.network, trace.at
    shape = "x".join(map(str, net.user_shape(inp)))
    caption = f"{_escape(trace.entry)} ({_escape(trace.node.detail or trace.node.kind)}) in {_escape(net.describe())}"
    if not trace.terms:
        return _table([("reads", f"nothing of {_escape(inp.name)} (every path ends in padding)")], caption)
    top, where = trace.max_entry()
    rows = [("reads", f"{trace.entry_count:,} of the {inp.shape.size:,} entries of {_escape(inp.name)}"
                      f"[{trace.batch}] ({_escape(inp.name)}: {shape})"),
            ("window", _escape(trace.box_text())),
            ("paths", f"{big(trace.paths)} in all, at most {big(top)} to one entry "
                      f"({_escape(trace.index_text(inp.name, where))})")]
    for ax in trace.axes:
        cell = f"{_escape(ranges_text(ax.positions))} ({len(ax.positions)} of {ax.size})"
        if ax.summary is not None:
            lo, hi = ax.window
            cell += f"<br>affine summary: {_escape(ax.summary.text())} &rarr; window {_num(lo)}..{_num(hi)}"
        cell += "".join(f"<br>differs: {_escape(d)}" for d in ax.differences)
        rows.append((_escape(ax.word), cell))
    return _table(rows + _closing_rows(trace, trace.channel_positions, inp.shape.channels), caption)


def readers_html(readers) -> str:
    node = readers.at
    shape = "x".join(map(str, readers.network.user_shape(node)))
    caption = (f"{_escape(readers.entry)} is read by {readers.entry_count:,} of the {node.shape.size:,} entries of "
               f"{_escape(node.name)} ({_escape(node.detail or node.kind)}, {shape})")
    if not readers.terms:
        return _table([("read by", "none")], caption)
    rows = [("window", _escape(readers.box_text())), ("paths", f"{big(readers.paths)} in all")]
    from .answer import axis_word
    for i, pos in enumerate(readers.axis_positions):
        rows.append((axis_word(node.shape.ndim, i), f"{_escape(ranges_text(pos))} ({len(pos)} of "
                                                   f"{node.shape.spatial[i]})"))
    return _table(rows + _closing_rows(readers, readers.channel_positions, node.shape.channels), caption)


def _closing_rows(answer, channels, count: int) -> list:
    """The channels row, the data-dependent row where pooling makes the answer depend on the data,
    then the rows every answer shares."""
    rows = [("channels", f"{_escape(ranges_text(channels))} ({len(channels)} of {count})")]
    dependent = data_dependent_line(answer)
    if dependent:
        rows.append(("data-dependent", f"<b>{_escape(dependent.split(': ', 1)[1])}</b>"))
    return rows + _common_rows(answer)


renders("html", Trace)(trace_html)
renders("html", Readers)(readers_html)
