"""The textual chain of the command line: a network in one line.

    conv2d 7x7 s2 SAME c64 > maxpool 3x3 s2 SAME > add( conv2d 3x3 SAME > conv2d 3x3 SAME | ) > gap

Grammar (one error names the column):

    chain  := step ('>' step)*
    step   := layer | ('add' | 'concat') '(' [chain] ('|' [chain])+ ')'     an empty branch is the identity
    layer  := KIND argument*

Kinds and their arguments (sizes as 3 or 3x3; ``s`` stride, ``d`` dilation, ``c`` output
channels (default 64 for convolutions), ``g`` groups, ``m`` depth multiplier; padding SAME, VALID, CAUSAL or ``p1`` /
``p1:2,0:1`` per axis, default VALID; SAME follows the chain's convention, default ``tf``):

    conv1d / conv2d / conv3d SIZE [s] [d] [c] [g] [padding]
    depthwise SIZE [s] [d] [m] [padding]          separable SIZE [s] [d] [m] [c] [padding]
    transpose SIZE [s] [d] [c] [SAME | VALID | p]
    maxpool / avgpool SIZE [s] [padding]          (stride defaults to the size)
    gap / gmp [keepdims]                          global average / max pooling
    pad P  crop P  (P as 3 or 1:2,0:1)            upsample F [nearest | bilinear]
    slice start:stop:step,...                     dense c10   flatten
    relu, bn, identity, sigmoid, tanh, dropout    elementwise, passed through
    softmax, layernorm                            mix the channels at each position

Layers are named l1, l2, ... in order of appearance (a separable layer also makes
``lN.depthwise``); the input is ``x`` and the last layer also ``out``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SymconvError
from ..model import conventions
from ..model.spec import int_text, parse_shape
from . import layers as L
from .graph import Network
from .limits import MAX_NESTING, check_layers

DEFAULT_CHANNELS = 64
PASS = {"relu", "bn", "batchnorm", "identity", "sigmoid", "tanh", "dropout", "act", "gelu", "swish", "elu"}
CONVS = {"conv1d": 1, "conv2d": 2, "conv3d": 3}
KINDS = sorted(set(CONVS) | PASS | {"depthwise", "separable", "transpose", "maxpool", "avgpool", "gap", "gmp",
                                   "pad", "crop", "upsample", "slice", "dense", "flatten", "softmax",
                                   "layernorm", "add", "concat"})


@dataclass
class Token:
    text: str
    column: int


def tokenize(text: str) -> list:
    tokens = []
    for m in re.finditer(r"\s*(?:([>()|])|([^\s>()|]+))", text):
        if m.group(1) or m.group(2):
            start = m.start(1) if m.group(1) else m.start(2)
            tokens.append(Token(m.group(1) or m.group(2), start + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, input_shape, convention: str, field: str = "layers"):
        self.text, self.field = text, field
        self.tokens = tokenize(text)
        self.i = 0
        self.convention = conventions.get(convention) and convention   # a bad name before any layer
        dims = parse_shape(input_shape, "input shape")
        if len(dims) < 3:
            raise SymconvError(f"input shape must be N x spatial... x C (channels last), got {dims}")
        self.batch = dims[0]
        self.nodes = {}
        self.count = 0
        self.depth = 0    # add( and concat( blocks open
        x = L.input_node("x", dims[1:-1], dims[-1])
        self.nodes["x"] = x

    # ---- tokens -----------------------------------------------------------------------------
    def error(self, message: str, token: Token | None = None):
        column = token.column if token else len(self.text) + 1
        raise SymconvError(f"{self.field}: {message} at column {column}")

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str):
        tok = self.peek()
        if tok is None or tok.text != text:
            self.error(f"expected {text!r}" + (f", got {tok.text!r}" if tok else " before the end"), tok)
        return self.take()

    def new_name(self) -> str:
        self.count += 1
        check_layers(self.count)
        return f"l{self.count}"

    def add(self, node):
        self.nodes[node.name] = node
        return node

    # ---- grammar ----------------------------------------------------------------------------
    def parse(self) -> Network:
        if not self.tokens:
            self.error("the chain is empty", None)
        last = self.chain(self.nodes["x"], top=True)
        if self.peek() is not None:
            tok = self.peek()
            self.error(f"unexpected {tok.text!r} (layers are separated by '>')", tok)
        aliases = {"out": last.name, "input": "x"}
        return Network(self.nodes, ("x",), True, "chain", self.text.strip(), self.batch, aliases)

    def chain(self, src, top=False):
        node = self.step(src)
        while self.peek() is not None and self.peek().text == ">":
            self.take()
            node = self.step(node)
        return node

    def step(self, src):
        tok = self.peek()
        if tok is None:
            self.error("expected a layer", None)
        word = tok.text.lower()
        if word in ("add", "concat"):
            return self.block(src, word)
        if tok.text in ">()|":
            self.error(f"expected a layer, got {tok.text!r}", tok)
        return self.layer(src)

    def block(self, src, kind):
        head = self.take()
        self.expect("(")
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error(f"add( and concat( blocks may nest at most {MAX_NESTING} deep", head)
        ends = []
        while True:
            tok = self.peek()
            if tok is None:
                self.error("expected ')'", None)
            if tok.text in ("|", ")"):
                ends.append(src)  # an empty branch: the identity
            else:
                ends.append(self.chain(src))
            tok = self.peek()
            if tok is not None and tok.text == "|":
                self.take()
                continue
            self.expect(")")
            break
        self.depth -= 1
        if len(ends) < 2:
            self.error(f"{kind} needs at least two branches separated by '|'", head)
        try:
            return self.add(L.merge(self.new_name(), ends, kind, axis=-1 if kind == "concat" else None, label=kind))
        except SymconvError as err:
            self.error(str(err).replace("layer ", "", 1), head)

    def args(self):
        out = []
        while self.peek() is not None and self.peek().text not in ">()|":
            out.append(self.take())
        return out

    def layer(self, src):
        head = self.take()
        kind = head.text.lower()
        if kind not in KINDS:
            self.error(f"unknown layer {head.text!r} (one of {', '.join(KINDS)})", head)
        args = self.args()
        try:
            return self.build(kind, head, args, src)
        except SymconvError as err:
            if "at column" in str(err):
                raise
            self.error(str(err), head)

    # ---- arguments --------------------------------------------------------------------------
    def options(self, head, args, allowed: str, size: bool = True):
        """SIZE first (when ``size``), then letter-prefixed options and a padding word."""
        opts = {"padding": "VALID"}
        rest = list(args)
        if size:
            if not rest or not re.fullmatch(r"\d+(x\d+)*", rest[0].text):
                self.error(f"{head.text} needs a size like 3x3", rest[0] if rest else None)
            opts["size"] = tuple(int_text(v, f"{head.text} size") for v in rest.pop(0).text.split("x"))
        for tok in rest:
            t = tok.text
            m = re.fullmatch(r"([a-z])(\d+(?:[x,]\d+)*)", t)
            if t.upper() in ("SAME", "VALID", "CAUSAL") and "p" in allowed:
                opts["padding"] = t.upper()
            elif re.fullmatch(r"p-?\d+(:-?\d+)?(,-?\d+(:-?\d+)?)*", t) and "p" in allowed:
                opts["padding"] = t[1:]
            elif m and m.group(1) in allowed and m.group(1) != "p":
                values = tuple(int_text(v, f"{head.text} {m.group(1)}") for v in re.split("[x,]", m.group(2)))
                opts[m.group(1)] = values if m.group(1) in "sd" else values[0]
            elif t in ("keepdims", "nearest", "bilinear") and t in allowed.split():
                opts[t] = True
            else:
                self.error(f"unexpected {t!r} for {head.text}", tok)
        return opts

    def bare(self, head, args, what):
        if len(args) != 1:
            self.error(f"{head.text} needs one argument: {what}", args[1] if len(args) > 1 else None)
        return args[0]

    def build(self, kind, head, args, src):
        nd = src.shape.ndim
        conv = self.convention
        if kind in CONVS:
            if CONVS[kind] != nd:
                self.error(f"{kind} on an input with {nd} spatial axes", head)
            o = self.options(head, args, "sdcgp")
            return self.add(L.conv(self.new_name(), src, o["size"], o.get("s", 1), o.get("d", 1), o["padding"],
                                   conv, o.get("c", DEFAULT_CHANNELS), o.get("g", 1), label=kind))
        if kind == "depthwise":
            o = self.options(head, args, "sdmp")
            return self.add(L.conv(self.new_name(), src, o["size"], o.get("s", 1), o.get("d", 1), o["padding"],
                                   conv, multiplier=o.get("m", 1), label=kind))
        if kind == "separable":
            o = self.options(head, args, "sdmcp")
            name = self.new_name()
            dw = self.add(L.conv(f"{name}.depthwise", src, o["size"], o.get("s", 1), o.get("d", 1), o["padding"],
                                 conv, multiplier=o.get("m", 1), label="separable (depthwise)"))
            return self.add(L.conv(name, dw, 1, filters=o.get("c", DEFAULT_CHANNELS), label="separable (pointwise)"))
        if kind == "transpose":
            o = self.options(head, args, "sdcp")
            return self.add(L.transpose(self.new_name(), src, o["size"], o.get("s", 1), o.get("d", 1),
                                        o["padding"], conv, o.get("c", DEFAULT_CHANNELS), label=kind))
        if kind in ("maxpool", "avgpool"):
            o = self.options(head, args, "sdp")
            return self.add(L.pool(self.new_name(), src, kind[:3], o["size"], o.get("s"), o["padding"], conv,
                                   o.get("d", 1), label=kind))
        if kind in ("gap", "gmp"):
            o = self.options(head, args, "keepdims", size=False)
            return self.add(L.global_pool(self.new_name(), src, "avg" if kind == "gap" else "max",
                                          o.get("keepdims", False), label=kind))
        if kind in ("pad", "crop"):
            tok = self.bare(head, args, "before:after per axis, e.g. 1:2,0:1")
            build = L.zero_pad if kind == "pad" else L.crop
            return self.add(build(self.new_name(), src, tok.text, label=kind))
        if kind == "upsample":
            o = self.options(head, args, "nearest bilinear")
            mode = "bilinear" if o.get("bilinear") else "nearest"
            return self.add(L.upsample(self.new_name(), src, o["size"], mode, label=kind))
        if kind == "slice":
            tok = self.bare(head, args, "start:stop:step per axis, e.g. 0:8:2,1::1")
            parts = tok.text.split(",")
            if len(parts) == 1:
                parts *= nd
            if len(parts) != nd or not all(re.fullmatch(r"-?\d*(:-?\d*){0,2}", p) for p in parts):
                self.error(f"slice needs start:stop:step for each of {nd} spatial axes", tok)
            slices = [slice(*[int_text(v, "slice") if v else None for v in (p.split(":") + ["", ""])[:3]])
                      for p in parts]
            return self.add(L.strided_slice(self.new_name(), src, slices, label=kind))
        if kind == "dense":
            o = self.options(head, args, "c", size=False)
            if "c" not in o:
                self.error("dense needs its output channels, e.g. dense c10", head)
            return self.add(L.channel_mix(self.new_name(), src, o.get("c"), label=kind))
        if kind == "flatten":
            self.options(head, args, "", size=False)
            return self.add(L.flatten(self.new_name(), src, True, label=kind))
        if kind in ("softmax", "layernorm"):
            self.options(head, args, "", size=False)
            return self.add(L.channel_mix(self.new_name(), src, None, label=kind, kind=kind, structural=True))
        self.options(head, args, "", size=False)
        return self.add(L.passthrough(self.new_name(), src, kind))


def parse_chain(text: str, input_shape, convention: str = "tf", field: str = "layers") -> Network:
    """A Network from a one-line chain (see the module's grammar).

    >>> net = parse_chain("conv2d 3x3 s2 SAME c8 > maxpool 2x2", "1x9x9x3")
    >>> [(name, node.shape.text()) for name, node in net.nodes.items()]
    [('x', '9x9x3'), ('l1', '5x5x8'), ('l2', '2x2x8')]
    """
    if not isinstance(text, str):
        raise SymconvError(f"{field} must be a string like 'conv2d 3x3 SAME > maxpool 2x2', got {text!r}")
    return _Parser(text, input_shape, convention, field).parse()
