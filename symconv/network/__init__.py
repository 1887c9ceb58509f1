"""Through a whole network: exact provenance of any activation back to the input.

Stage: above ``show`` and ``latex``; imports the foundation and any stage below it (its pictures,
its derivations and its checks), and is imported only by ``commands`` and the top-level API.

``trace(model, layer, entry)`` says which input entries one entry of a layer reads and by how
many paths each (for a linear stack with unit weights, its gradient), exactly, with the
affine receptive-field summary beside it; ``readers(model, layer, pixel)`` answers the
reverse question; ``check(model, layer, entry)`` compares the answer with the model's own
gradient.  ``model`` is a Keras model (or a ``.keras`` file), a PyTorch ``nn.Module`` (traced
with ``torch.fx``; give ``input_shape``), a one-line chain (see ``symconv.network.chain``;
give ``input_shape``) or a ``Network``.

>>> from symconv.network import trace
>>> t = trace("conv2d 3x3 s2 SAME c1 > conv2d 3x3 SAME c1", "out", (0, 0, 0, 0), input_shape="1x8x8x1")
>>> t.entry_count, t.paths, [a.positions.tolist() for a in t.axes]
(25, 36, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]])
"""

from __future__ import annotations

import os
import re
import weakref

from ..errors import SymconvError
from . import compose
from .answer import Readers, Trace
from .chain import parse_chain
from .graph import Network
from .limits import check_entry

_CACHE = weakref.WeakKeyDictionary()


def network(model, input_shape=None, convention: str = "tf") -> Network:
    """The Network of a model, a saved Keras file, a chain, or a Network as it is."""
    if isinstance(model, Network):
        return model
    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        if re.search(r"\.(keras|h5)$", text.strip()):
            from .keras_import import from_keras_file
            return from_keras_file(text)
        if input_shape is None:
            raise SymconvError("a chain needs input_shape, e.g. input_shape='1x224x224x3'")
        return parse_chain(text, input_shape, convention)
    module = type(model).__module__
    key = (input_shape if not isinstance(input_shape, list) else tuple(input_shape), convention)
    try:
        cached = _CACHE.get(model, {})
    except TypeError:
        cached = {}
    if key in cached:
        return cached[key]
    if module.startswith("keras") or module.startswith("tf_keras") or hasattr(model, "_inbound_nodes"):
        from .keras_import import from_keras
        net = from_keras(model)
    elif _is_torch_module(model):
        from .torch_import import from_torch
        net = from_torch(model, input_shape)
    else:
        raise SymconvError(f"model must be a Keras model, a .keras file, a torch.nn.Module, a chain or a "
                           f"Network, got {type(model).__name__}")
    try:
        _CACHE.setdefault(model, {})[key] = net
    except TypeError:
        pass
    return net


def _is_torch_module(model) -> bool:
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def parse_entry_text(text: str):
    """``'conv5_block3_out[0,0,0,5]'`` -> ('conv5_block3_out', (0, 0, 0, 5))."""
    m = re.fullmatch(r"\s*([^\[\]\s]+)\s*\[([^\]]*)\]\s*", text or "")
    if not m:
        raise SymconvError(f"entry must look like LAYER[n,i,j,c], e.g. out[0,0,0,5], got {text!r}")
    items = [p.strip() for p in m.group(2).split(",")]
    if not all(re.fullmatch(r"\d+", p) for p in items):
        raise SymconvError(f"entry indices must be nonnegative integers, got {text!r}")
    return m.group(1), tuple(int(p) for p in items)


def trace(model, layer: str, entry, *, input_shape=None, convention: str = "tf") -> Trace:
    """The exact provenance of ``entry`` (indices in the framework's layout) of ``layer``."""
    entry = check_entry(entry)
    net = network(model, input_shape, convention)
    node = net.node(layer)
    canon = net.canonical(node, entry)
    found = compose.backward(net, node.name, canon)
    terms = found.get(net.inputs[0], [])
    return Trace(net, node.name, entry, canon, terms)


def readers(model, layer: str, pixel, *, input_shape=None, convention: str = "tf") -> Readers:
    """The entries of ``layer`` that read input entry ``pixel``, with their path counts."""
    pixel = check_entry(pixel, "pixel")
    net = network(model, input_shape, convention)
    node = net.node(layer)
    source = net.input
    canon = net.canonical(source, pixel)
    found = compose.forward(net, source.name, canon, node.name)
    return Readers(net, node.name, pixel, canon, found[node.name])


def check(model, layer: str, entry, *, input_shape=None, convention: str = "tf", seed: int = 0):
    """Compare ``trace(model, layer, entry)`` with the model's own gradient (see
    ``symconv.network.gradcheck``)."""
    from .gradcheck import check_model
    return check_model(model, layer, entry, input_shape=input_shape, convention=convention, seed=seed)


__all__ = ["Network", "Readers", "Trace", "check", "network", "parse_chain", "readers", "trace"]
