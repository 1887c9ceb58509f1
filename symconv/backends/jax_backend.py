"""The ``jax`` backend: jax.lax.conv_general_dilated and lax.conv_transpose, gradients by jax.vjp.

Arrays reach JAX in the spec's own layouts: the dimension numbers are the spec's layouts as
letters (``layout.letters``: 'NHWC', 'HWIO', ...), so every layout runs as JAX is told it,
never through a transpose of symconv's.  A depthwise kernel (K..., C, M) is its (K..., 1, C*M)
view with ``feature_group_count`` = C.

Padding, as JAX can say it (the README's table): 'SAME' is the ``tf`` convention, 'SAME_LOWER'
``same_lower``, 'VALID' no padding, and any other padding, negative included, explicit
(before, after) pairs.  Transposed convolutions run ``lax.conv_transpose(...,
transpose_kernel=True)``, with 'SAME' or 'VALID' where JAX's output size is the spec's and
otherwise the pads of the dilated input that give the spec (before = (k-1)*d - pad before);
with groups, which lax.conv_transpose cannot take, they run as the vjp of the direct
convolution.  Every op runs at Precision.HIGHEST inside jax.default_matmul_precision("highest"),
so no reduced-precision path is taken; each (spec, quantity) is jit-compiled once and reused
across probes.  JAX is imported by ``load``, never at import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import conventions, layout
from ..model.conventions import effective_kernel
from ..model.quantities import INPUTS, SHAPED_LIKE
from .base import Backend, Unavailable
from .execution import ALL_QUANTITIES, ExecutionPath, Requirement
from .variants import VariantOption

FUNCTIONS_KEPT = 256
JIT = VariantOption("jit", "jax.jit", "compile JAX's calls with jax.jit (default on; off: op by op)",
                    quiet_default=True)
_JAX = Requirement("jax", "jax", "0.4", "jax")
EXECUTION_PATHS = (
    ExecutionPath("jax-jit", "jax", "compiled", "JAX", "jax.jit of lax.conv_general_dilated / lax.conv_transpose, "
                  "compiled once per spec", ALL_QUANTITIES, "jax.vjp inside the compiled function", requires=(_JAX,)),
    ExecutionPath("jax-eager", "jax", "eager op", "JAX", "the same lax calls op by op, without jax.jit",
                  ALL_QUANTITIES, "jax.vjp, op by op", (("jit", False),), (_JAX,)),
)


@dataclass(frozen=True)
class Plan:
    """``op`` is conv_general_dilated, conv_transpose or vjp (a transposed convolution as the
    vjp of the direct one); ``padding`` what the op is given."""

    op: str
    padding: object
    text: str


def _padding_arg(padding) -> str:
    return f"'{padding}'" if isinstance(padding, str) else str(tuple(tuple(p) for p in padding))


# JAX's own SAME modes and the convention each one is (jax/_src/lax/lax.py padtype_to_pads).
NATIVE_SAME = (("SAME", "tf"), ("SAME_LOWER", "same_lower"))


def native_same(spec):
    """The JAX padding string that computes the spec's SAME natively, or None."""
    if spec.padding != "SAME":
        return None
    return next((mode for mode, rule in NATIVE_SAME if conventions.runs_as(spec.convention, rule)), None)


def plan_for(spec, quantity) -> Plan:
    dims = tuple(layout.letters(spec, t) for t in ("x", "k", "y"))
    if not spec.transposed:
        op = "conv_general_dilated"
        native = native_same(spec)
        if native is not None:
            padding = native
        elif spec.padding == "VALID":
            padding = "VALID"
        else:
            padding = tuple(spec.pads)
        args = f"padding={_padding_arg(padding)}"
        if spec.conv_groups != 1:
            args += f", feature_group_count={spec.conv_groups}"
    elif spec.groups != 1:
        op, padding = "vjp", tuple(spec.pads)
        args = f"padding={_padding_arg(padding)}, feature_group_count={spec.groups}"
    else:
        op, padding = "conv_transpose", transposed_padding(spec)
        args = f"padding={_padding_arg(padding)}, transpose_kernel=True"
    call = f"jax.lax.{op if op != 'vjp' else 'conv_general_dilated'}({args}, dimension_numbers={dims})"
    if op == "vjp":
        call = f"jax.vjp of {call} for its input (lax.conv_transpose has no feature_group_count)"
    if quantity != "forward":
        call = f"jax.vjp over {call}"
    return Plan(op, padding, f"jax.jit: {call}")


def transposed_padding(spec):
    """What lax.conv_transpose takes for the spec: 'SAME' or 'VALID' where JAX's own output
    size is the spec's, else the explicit pads of the dilated input."""
    sizes = list(zip(spec.direct_input_spatial, spec.direct_output_spatial, spec.kernel_spatial, spec.strides,
                     spec.dilations))
    if native_same(spec) == "SAME" and all(n_in == n_out * s for n_in, n_out, _, s, _ in sizes):
        return "SAME"
    if spec.padding == "VALID" and all(n_in == n_out * s + max(effective_kernel(k, d) - s, 0)
                                       for n_in, n_out, k, s, d in sizes):
        return "VALID"
    pads = []
    for (n_in, n_out, k, s, d), (before, _) in zip(sizes, spec.pads):
        ke = effective_kernel(k, d)
        pads.append((ke - 1 - before, n_in - 1 - (n_out - 1) * s + before))
    return tuple(pads)


class JaxBackend(Backend):
    name = "jax"
    has_variant = True
    framework_modules = ("jax", "jaxlib")
    child_environment = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    variant_options = (JIT,)
    execution_paths = EXECUTION_PATHS

    def __init__(self, variant=None, grad_path="raw"):
        super().__init__(variant, grad_path)
        self.jax = None
        self._device = None
        self._functions = {}

    def paths(self, spec, quantity):
        return ["op" if quantity == "forward" else "vjp"]

    def describe(self, spec, quantity, path):
        text = plan_for(spec, quantity).text
        return text if self.variant.get("jit") is not False else "op by op (no jax.jit): " + text.split(": ", 1)[1]

    def load(self):
        import jax
        import jax.numpy  # noqa: F401
        self.jax = jax
        kind = "gpu" if self.variant.device == "gpu" else "cpu"
        try:
            self._device = jax.devices(kind)[0]
        except RuntimeError:
            self._device = None

    def run(self, spec, quantity, path, tensors):
        if self.jax is None:
            self.load()
        if self._device is None:
            raise Unavailable("no GPU visible to JAX")
        jax = self.jax
        key = (spec, quantity)
        function = self._functions.get(key)
        if function is None:
            if len(self._functions) >= FUNCTIONS_KEPT:  # compiled code is large: keep the recent ones
                self._functions.pop(next(iter(self._functions)))
            function = self._build(spec, quantity)
            if self.variant.get("jit") is not False:
                function = jax.jit(function)
            self._functions[key] = function
        args = [jax.device_put(np.asarray(layout.stored_view(spec, name, np.asarray(tensors[name])), dtype=np.float32),
                               self._device) for name in INPUTS[quantity]]
        with jax.default_matmul_precision("highest"):
            out = np.asarray(function(*args))
        return layout.from_stored_view(spec, SHAPED_LIKE[quantity], out)

    def _forward(self, spec):
        """f(x, k) -> y in the spec's layouts (k as its stored view)."""
        lax = self.jax.lax
        plan = plan_for(spec, "forward")
        highest = lax.Precision.HIGHEST
        dims = tuple(layout.letters(spec, t) for t in ("x", "k", "y"))
        if plan.op == "conv_general_dilated":
            return lambda x, k: lax.conv_general_dilated(
                x, k, spec.strides, plan.padding, rhs_dilation=spec.dilations, dimension_numbers=dims,
                feature_group_count=spec.conv_groups, precision=highest)
        if plan.op == "conv_transpose":
            return lambda x, k: lax.conv_transpose(
                x, k, spec.strides, plan.padding, rhs_dilation=spec.dilations, dimension_numbers=dims,
                transpose_kernel=True, precision=highest)
        jax, jnp = self.jax, self.jax.numpy
        direct_dims = (dims[2], dims[1], dims[0])  # the direct convolution: its input y -> its output x

        def transposed(x, k):
            def direct(direct_input):
                return lax.conv_general_dilated(direct_input, k, spec.strides, plan.padding, rhs_dilation=spec.dilations,
                                                dimension_numbers=direct_dims, feature_group_count=spec.groups,
                                                precision=highest)
            return jax.vjp(direct, jnp.zeros(spec.y_shape, x.dtype))[1](x)[0]
        return transposed

    def _build(self, spec, quantity):
        jax, jnp = self.jax, self.jax.numpy
        forward = self._forward(spec)
        if quantity == "forward":
            return forward
        k_stored = layout.stored_view(spec, "k", np.zeros(spec.k_shape, np.float32)).shape
        if quantity == "filter_grad":
            return lambda x, g: jax.vjp(lambda k: forward(x, k), jnp.zeros(k_stored, g.dtype))[1](g)[0]
        return lambda k, g: jax.vjp(lambda x: forward(x, k), jnp.zeros(spec.x_shape, g.dtype))[1](g)[0]
