"""Checked against the real model: the model's own gradient of one activation, compared
exactly with symconv's answer at the input and at every tensor on the way.

The model is cloned as a linear network: every convolution and dense kernel set to ones and
every bias to zero, batch normalisation and elementwise activations replaced by the identity,
float64 throughout.  Max pooling, softmax, layer normalisation and products of two tensors
stay as they are.  The clone's gradient of the chosen entry (``tf.GradientTape`` or
``torch.autograd``) is then, at every tensor:

* where only linear layers lie between the tensor and the entry: equal to symconv's exact
  weighted count (values compared exactly when they are exactly representable in float64:
  dyadic, and every partial sum below 2**53; the support otherwise), so the support is equal;
* below a max pooling (the data picks one candidate per window), or below a nonlinearity
  kept in the clone: contained in symconv's support (and, with nonnegative weights, at most
  symconv's count).

Tensors are compared from the entry down; the first one where the two part is the finding,
with the layer(s) whose step back leads there.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import SymconvError
from . import compose
from .graph import DATA, LINEAR, STRUCTURAL, Merge, Network

EXACT_FLOAT64 = 2**53
EXACT_FLOAT32 = 2**24
# TensorFlow has no float64 kernel for these: they stay float32 in the clone, and values are
# then exact only up to 2**24.
KERAS_FLOAT32_ONLY = {"MaxPooling3D", "MaxPool3D", "AveragePooling3D", "AvgPool3D"}
ORDER = {LINEAR: 0, DATA: 1, STRUCTURAL: 2}


@dataclass
class Comparison:
    """One tensor: what was required, what was compared, and whether it held."""

    name: str
    relation: str          # "equal" or "contained"
    compared: str          # "values" or "support"
    ok: bool
    read: int              # entries symconv says are read
    reached: int           # entries the model's gradient reaches
    detail: str = ""

    def as_json(self) -> dict:
        return {"tensor": self.name, "relation": self.relation, "compared": self.compared, "ok": self.ok,
                "symconv_entries": self.read, "model_entries": self.reached, "detail": self.detail}


@dataclass
class CheckReport:
    framework: str
    layer: str
    entry: tuple
    comparisons: list
    finding: str | None
    notes: list = field(default_factory=list)
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.finding is None and bool(self.comparisons)

    @property
    def input_comparison(self) -> Comparison | None:
        return self.comparisons[-1] if self.comparisons else None

    def text(self) -> str:
        verdict = "agrees" if self.ok else "DIFFERS"
        lines = [f"check against the model's own gradient ({self.framework}, linear clone in float64): {verdict}"]
        values = sum(c.compared == "values" for c in self.comparisons)
        lines.append(f"  {len(self.comparisons)} tensors compared from {self.layer} down to the input: values "
                     f"exactly at {values}, support only at {len(self.comparisons) - values}")
        inp = self.input_comparison
        if inp is not None:
            lines.append(f"  input: {inp.relation} {inp.compared} ({inp.reached:,} entries reached by the "
                         f"gradient, {inp.read:,} read by symconv's answer){': ' + inp.detail if inp.detail else ''}")
        if self.finding:
            lines.append(f"  FINDING: {self.finding}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def to_json(self) -> dict:
        return {"framework": self.framework, "layer": self.layer, "entry": list(self.entry), "ok": self.ok,
                "finding": self.finding, "notes": self.notes,
                "comparisons": [c.as_json() for c in self.comparisons]}


# ---- what lies between a tensor and the entry ---------------------------------------------

def relations(net: Network, target: str) -> dict:
    """Per ancestor of ``target``: the worst layer kind between it and the target."""
    kind = {target: LINEAR}
    for name in reversed(net.ancestors(target)):
        node = net.nodes[name]
        below = max(kind.get(name, LINEAR), node.check, key=ORDER.get)
        for src in node.inputs:
            kind[src] = max(kind.get(src, LINEAR), below, key=ORDER.get)
    return kind


def _has_subtract(net: Network, names) -> bool:
    return any(isinstance(net.nodes[n], Merge) and net.nodes[n].kind == "subtract" for n in names)


def _float_factors(term):
    """The term's factors as float64 arrays, or None when one of them is not exact in float64."""
    out = []
    for v in term.factors():
        values = v.values
        if values.dtype == object:
            items = values.tolist()
            floats = np.array([float(x) for x in items], dtype=np.float64)
            if any(Fraction(f) != Fraction(x) for f, x in zip(floats.tolist(), items)):
                return None
            values = floats
        out.append(values)
    return out


def _magnitude(vec) -> tuple:
    """(largest |value|, least common denominator) of one factor, exactly."""
    values = vec.values
    if values.dtype != object:
        return int(np.abs(values).max()), 1
    top, den = 0, 1
    for x in values.tolist():
        if type(x) is not int:
            den = den * x.denominator // math.gcd(den, x.denominator)
        x = abs(x)
        if x > top:
            top = x
    return top, den


def exact_in_float64(terms: list, magnitude_terms: list, limit: int = EXACT_FLOAT64) -> tuple:
    """(True, '') when the weighted values and every partial sum are exact in float64, else
    (False, why).  Partial sums of nonnegative terms stay below the final values; with
    subtraction, below the values of the same clone with |weights| (``magnitude_terms``)."""
    den, bound = 1, 0
    for t in magnitude_terms:
        coef = Fraction(t.coef)
        top, d = abs(coef), coef.denominator
        for v in t.factors():
            m, dv = _magnitude(v)
            top *= m
            d = d * dv // math.gcd(d, dv)
        den = den * d // math.gcd(den, d)
        bound += top
        if den & (den - 1) == 0 and bound * den >= limit:
            break
    if den & (den - 1):
        return False, f"weights with denominator {den} are not exact in float64"
    if bound * den >= limit:
        name = "float64's exact integers (2**53)" if limit == EXACT_FLOAT64 else f"the exact range 2**{limit.bit_length() - 1}"
        return False, f"values reach {_short(bound)} or more, beyond {name}"
    return True, ""


def _short(value) -> str:
    value = Fraction(value)
    if value.denominator == 1 and abs(value) < 10**12:
        return f"{int(value):,}"
    return f"{float(value):.3g}"


def compare(net: Network, name: str, relation_kind: str, terms: list, magnitude_terms: list,
            grad: np.ndarray, signed: bool, limit: int = EXACT_FLOAT64) -> Comparison:
    """Compare the model's gradient at one tensor (spatial..., c) with symconv's terms."""
    node = net.nodes[name]
    spatial, channels = node.shape.spatial, node.shape.channels
    ours = compose.support(terms, spatial, channels)
    theirs = grad != 0
    relation = "equal" if relation_kind == LINEAR else "contained"
    read, reached = int(ours.sum()), int(theirs.sum())
    if not np.isfinite(grad).all():
        return Comparison(name, relation, "support", False, read, reached,
                          "the model's gradient is not finite")
    extra = theirs & ~ours
    missing = ours & ~theirs
    details = []
    ok = True
    if extra.any():
        ok = False
        details.append(f"the model's gradient reaches {int(extra.sum())} entries symconv does not, e.g. "
                       f"{_where(net, node, extra)}")
    if relation == "equal" and missing.any():
        ok = False
        details.append(f"symconv reads {int(missing.sum())} entries the model's gradient does not reach, e.g. "
                       f"{_where(net, node, missing)}")
    exact, why = exact_in_float64(terms, magnitude_terms, limit)
    compared = "support"
    if exact and ok:
        ours_values = compose.dense(terms, spatial, channels, dtype=np.float64)
        if relation == "equal":
            compared = "values"
            differ = grad != ours_values
            if differ.any():
                ok = False
                where = tuple(np.argwhere(differ)[0])
                details.append(f"values differ at {len(np.argwhere(differ))} entries, e.g. "
                               f"{_where(net, node, differ)}: model {grad[where]!r}, symconv {ours_values[where]!r}")
        elif not signed:
            compared = "values"
            above = grad > ours_values
            if above.any() or (grad < 0).any():
                ok = False
                details.append(f"the model's gradient exceeds symconv's path counts at {_where(net, node, above)}")
    elif not exact and ok:
        details.append(f"support only: {why}")
    return Comparison(name, relation, compared, ok, read, reached, "; ".join(d for d in details if d))


def _where(net: Network, node, mask: np.ndarray) -> str:
    pos = tuple(int(i) for i in np.argwhere(mask)[0])
    user = net.user_index(node, (0, *pos))[1:]
    return f"{node.name}[n,{','.join(map(str, user))}]"


def run_comparisons(net: Network, target: str, canon, grads: dict, framework: str, entry,
                    limit: int = EXACT_FLOAT64, notes=()) -> CheckReport:
    weighted = compose.backward(net, target, canon, weighted=True, keep=True)
    order = [n for n in reversed(net.ancestors(target))]
    signed = _has_subtract(net, order)
    magnitude = compose.backward(net, target, canon, weighted="abs", keep=True) if signed else weighted
    kinds = relations(net, target)
    comparisons, finding, skipped = [], None, 0
    for name in order:
        if name not in grads:
            skipped += 1
            continue
        c = compare(net, name, kinds.get(name, LINEAR), weighted.get(name, []), magnitude.get(name, []),
                    grads[name], signed, limit)
        comparisons.append(c)
        if not c.ok and finding is None:
            consumers = [n for n in net.consumers().get(name, []) if n in set(order)]
            finding = (f"the model's gradient and symconv first part at {name} "
                       f"({net.nodes[name].detail or net.nodes[name].kind}): {c.detail}; every tensor after it "
                       f"agrees, so the step back through {', '.join(consumers) or name} is where they differ")
    notes = list(notes)
    seen = set(order)
    for name in net.nodes:
        node = net.nodes[name]
        if name in seen and node.check == DATA:
            notes.append(f"{name}: the gradient goes to one candidate per window (this input's maximum); "
                         f"below it, the gradient's support is checked to lie inside symconv's candidates")
        elif name in seen and node.check == STRUCTURAL:
            notes.append(f"{name}: kept nonlinear in the clone; below it, support containment is checked")
    if net.nodes[target].check != LINEAR:
        notes.append(f"{target} itself is {net.nodes[target].kind}: its own step is checked by containment")
    report = CheckReport(framework, target, tuple(entry), comparisons, finding, notes, skipped)
    if not comparisons:
        report.finding = "nothing was compared: the model exposed no gradients"
    return report


# ---- frameworks ---------------------------------------------------------------------------

def check_model(model, layer: str, entry, *, input_shape=None, convention: str = "tf", seed: int = 0,
                net: Network | None = None) -> CheckReport:
    """The model's own gradient of ``entry`` of ``layer``, compared with symconv's answer."""
    from . import network as build
    net = net or build(model, input_shape, convention)
    node = net.node(layer)
    canon = net.canonical(node, entry)
    limit, notes = EXACT_FLOAT64, []
    if net.source == "keras":
        grads, float32 = keras_gradients(model, net, node.name, canon, seed)
        framework = "Keras (tf.GradientTape)"
        if float32:
            limit = EXACT_FLOAT32
            notes.append(f"{', '.join(float32)} stay{'s' if len(float32) == 1 else ''} float32 in the clone "
                         f"(TensorFlow has no float64 kernel): values are compared up to 2**24")
    elif net.source == "torch":
        grads = torch_gradients(model, net, node.name, canon, seed)
        framework = "PyTorch (torch.autograd)"
    else:
        raise SymconvError("the check needs a Keras or PyTorch model: a chain has no gradient of its own")
    return run_comparisons(net, node.name, canon, grads, framework, entry, limit, notes)


def _input_values(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(-8, 9, size=shape).astype(np.float64)


def keras_linear_clone(model):
    """The model with unit kernels, zero biases, identity activations and normalisation, in
    float64."""
    import keras

    from .keras_import import MIXING, PASS

    class Through(keras.layers.Layer):
        def call(self, inputs, *args, **kwargs):
            return inputs

        def compute_output_shape(self, shape):
            return shape

    def clone_layer(layer):
        cls = type(layer).__name__
        cfg = layer.get_config()
        act = cfg.get("activation")
        if cls in PASS and not (cls == "Activation" and act in ("softmax", "log_softmax")):
            return Through(name=layer.name, dtype="float64")
        cfg["dtype"] = "float32" if cls in KERAS_FLOAT32_ONLY else "float64"
        if "activation" in cfg and cls not in MIXING and act not in ("softmax", "log_softmax"):
            cfg["activation"] = "linear"
        for key in cfg:  # built with their final values: no random initialisation to overwrite
            if key.endswith("_initializer"):
                cfg[key] = "zeros" if key.split("_")[0] in ("bias", "beta") or key.startswith("moving_mean") \
                    else "ones"
        return type(layer).from_config(cfg)

    functional = getattr(model, "_functional", None) or model
    shapes = [tuple(t.shape) for t in functional.inputs]
    inputs = [keras.Input(batch_shape=(s[0] or 1,) + s[1:], dtype="float64") for s in shapes]
    clone = keras.models.clone_model(functional, input_tensors=inputs if len(inputs) > 1 else inputs[0],
                                     clone_function=clone_layer)
    for lyr in clone.layers:  # any weight an initializer did not set
        for w in lyr.weights:
            value = 0.0 if w.name in ("bias", "beta", "moving_mean") else 1.0
            if not bool(np.all(w.numpy() == value)):
                w.assign(np.full(w.shape, value))
    return clone


def keras_gradients(model, net: Network, target: str, canon, seed: int) -> dict:
    try:
        import keras
        import tensorflow as tf
    except ImportError:
        raise SymconvError("checking a Keras model needs TensorFlow: pip install 'symconv[tf-cpu]'") from None
    clone = keras_linear_clone(model)
    float32 = sorted({lyr.name for lyr in clone.layers if type(lyr).__name__ in KERAS_FLOAT32_ONLY}
                     & {refs_name for refs_name, _ in getattr(net, "refs", {}).values()})
    refs = getattr(net, "refs", {})
    names = [n for n in net.ancestors(target) if n in refs and n not in net.inputs]
    outputs = []
    for n in names:
        lname, k = refs[n]
        outputs.append(clone.get_layer(lname)._inbound_nodes[k].output_tensors[0])
    multi = keras.Model(clone.inputs, outputs)
    x = _input_values(net.user_shape(net.input), seed)
    with tf.GradientTape() as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        outs = multi(xt, training=False)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        user = net.user_index(net.nodes[target], canon)
        value = outs[names.index(target)][user]
    grads = tape.gradient(value, [xt] + outs)
    result = {}
    for name, g, out in zip([net.inputs[0]] + names, grads, [xt] + outs):
        array = np.zeros(out.shape, dtype=np.float64) if g is None else g.numpy().astype(np.float64)
        result[name] = _batch_slice(net, name, array, canon[0])
    return result, float32


def _batch_slice(net: Network, name: str, array: np.ndarray, n: int) -> np.ndarray:
    """The gradient's batch entry n in (spatial..., c) order; other batch entries must be zero."""
    others = np.delete(array, n, axis=0)
    if others.size and (others != 0).any():
        array = array.copy()
        array[n] = np.where(array[n] == 0, np.inf, array[n])  # reported as a non-finite gradient
    one = array[n]
    node = net.nodes[name]
    if not net.channels_last and node.shape.spatial:
        one = np.moveaxis(one, 0, -1)
    return one


def torch_gradients(model, net: Network, target: str, canon, seed: int) -> dict:
    try:
        import torch
        import torch.fx
    except ImportError:
        raise SymconvError("checking a PyTorch model needs PyTorch: pip install 'symconv[torch]'") from None
    from .graph import AxisLayer
    from .torch_import import ELEMENTWISE_FUNCTIONS, ELEMENTWISE_MODULES, fx_graph

    clone = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for mod in clone.modules():
            for pname, p in mod.named_parameters(recurse=False):
                p.requires_grad_(False)
                p.fill_(0.0 if pname == "bias" else 1.0)
    gm = fx_graph(clone)
    modules = dict(gm.named_modules())
    refs = getattr(net, "refs", {})
    fx_of = {fx: name for name, fx in refs.items()}
    through = {}
    for fx in list(gm.graph.nodes):
        name = fx_of.get(fx.name)
        node = net.nodes.get(name) if name else None
        if fx.op == "call_module":
            drop = type(modules[fx.target]).__name__ in ELEMENTWISE_MODULES
        elif fx.op in ("call_function", "call_method"):
            fname = fx.target if isinstance(fx.target, str) else getattr(fx.target, "__name__", "")
            drop = fname in ELEMENTWISE_FUNCTIONS
        else:
            drop = False
        if drop and isinstance(node, AxisLayer) and node.channel_weight is None:
            through[fx.name] = fx.args[0].name
            fx.replace_all_uses_with(fx.args[0])
            gm.graph.erase_node(fx)
    gm.recompile()

    values = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if isinstance(out, torch.Tensor) and out.requires_grad:
                out.retain_grad()
                values[n.name] = out
            return out

    x = torch.tensor(_input_values(net.user_shape(net.input), seed), dtype=torch.float64, requires_grad=True)
    Recorder(gm).run(x)
    target_fx = refs[target]
    while target_fx in through:
        target_fx = through[target_fx]
    user = net.user_index(net.nodes[target], canon)
    values[target_fx][user].backward()
    result = {}
    for name in net.ancestors(target):
        fx = refs.get(name)
        if fx is None or fx in through:
            continue
        tensor = x if name in net.inputs else values.get(fx)
        if tensor is None:
            continue
        grad = tensor.grad
        array = np.zeros(tuple(tensor.shape)) if grad is None else grad.detach().numpy().astype(np.float64)
        result[name] = _batch_slice(net, name, array, canon[0])
    return result
