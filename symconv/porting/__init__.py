"""``port``: the exact equivalent of one convolution layer in another framework, as code, verified.

Stage: beside ``sweeps``; imports the foundation and the stages below (``model``, ``backends``,
``probing``).  Nothing below imports it.

A layer is a ConvSpec in the source framework's terms (its data format, kernel layout, padding
and SAME convention).  ``port`` writes runnable code for the target framework: the kernel moved
to the target's layout, the padding said as the target can say it (an explicit asymmetric pad
where the target pads symmetrically, a crop for negative pads, a transposed convolution's
output padding), and functions that move the source's arrays in and the output back.  The
layer is a function (``form='function'``: ``layer(x, weight)``) or a module
(``form='module'``: ``module_from_<source>(k)``, a ``torch.nn.Module``, a Keras layer with an
explicit ``ZeroPadding`` layer, a Flax module and its variables).  Where the target's usual
padding argument (PyTorch's ``padding=k//2``, everyone else's ``'same'``) would give other pads,
the code says what it would do wrong.  Where both frameworks are installed it runs both on
exact integer probes (float32 integers whose every sum stays within 2**24, as ``check`` draws
them) and compares every output entry exactly: the source through symconv's backend for it,
the target through the code printed.

>>> import symconv
>>> stem = symconv.ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
>>> ported = symconv.port(stem, to="torch", verify=False)
>>> print(next(line for line in ported.code.splitlines() if "F." in line and "import" not in line))
    x = F.pad(x, (2, 3, 2, 3))
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..errors import SymconvError, shown
from ..model.spec import DATA_FORMATS, ConvSpec, require_spec

TARGET_MODULES = {"torch": ".to_torch", "jax": ".to_jax", "onnx": ".to_onnx", "tf": ".to_tf", "keras": ".to_keras"}
# The forms a layer is written in, and the targets that have each.
FORMS = {"function": ("tf", "torch", "jax", "onnx"), "module": ("tf", "keras", "torch", "jax")}


class Framework(NamedTuple):
    name: str             # as --from/--to name it
    words: str            # as sentences name it
    kernel_layout: str    # its kernel layouts (a name in spec.KERNEL_LAYOUTS), or None: any
    channels_first: bool | None   # its data format (None: any, as the source has it)
    backend: str          # the symconv backend that runs its own op
    modules: tuple        # what must be importable to run it


FRAMEWORKS = {f.name: f for f in (
    Framework("tf", "TensorFlow", "tf", False, "tf", ("tensorflow",)),
    Framework("torch", "PyTorch", "torch", True, "torch", ("torch",)),
    Framework("jax", "JAX", None, None, "jax", ("jax",)),
    Framework("onnx", "ONNX Runtime", "onnx", True, "onnxruntime", ("onnx", "onnxruntime")),
    Framework("keras", "Keras", "tf", False, "keras", ("keras", "tensorflow")),
)}
# What a module form needs beyond the target framework itself.
MODULE_MODULES = {"jax": ("flax",), "tf": ("keras",)}


def framework(name, field_name: str) -> Framework:
    if not isinstance(name, str) or name.strip().lower() not in FRAMEWORKS:
        raise SymconvError(f"{field_name} must be one of {', '.join(FRAMEWORKS)}, got {shown(name)}")
    return FRAMEWORKS[name.strip().lower()]


def installed(fw: Framework, form: str = "function") -> bool:
    needed = fw.modules + (MODULE_MODULES.get(fw.name, ()) if form == "module" else ())
    return all(importlib.util.find_spec(m) is not None for m in needed)


def default_form(target: str) -> str:
    """A target's form when none is asked: a function, but Keras, whose form is its layers."""
    return "module" if target == "keras" else "function"


def check_form(form, target: Framework) -> str:
    if not isinstance(form, str) or form.strip().lower() not in FORMS:
        raise SymconvError(f"as must be one of {', '.join(FORMS)}, got {shown(form)}")
    form = form.strip().lower()
    if target.name not in FORMS[form]:
        other = "module" if form == "function" else "function"
        hint = {"keras": "Keras writes layers: leave out --as, or --to tf for tf.nn functions",
                "onnx": "ONNX Runtime runs a graph: leave out --as"}[target.name]
        raise SymconvError(f"as {form!r} is not written for {target.words} (its form is a {other}): {hint}")
    return form


def target_spec(spec: ConvSpec, target: Framework, form: str = "function") -> ConvSpec:
    """The same convolution in the target framework's layouts (a Flax module: channels last,
    HWIO, as flax.linen takes them)."""
    channels_first, kernel_layout = target.channels_first, target.kernel_layout
    if target.name == "jax" and form == "module":
        channels_first, kernel_layout = False, "tf"
    data_format = None if channels_first is None else DATA_FORMATS[spec.ndim][int(channels_first)]
    return spec.with_layouts(data_format=data_format, kernel_layout=kernel_layout)


# ---- moving arrays between layouts, as code ------------------------------------------------------

def moves(spec: ConvSpec, other: ConvSpec, tensor: str) -> list:
    """The steps that turn spec's array of ``tensor`` into other's: ("reshape", shape) and
    ("permute", axes), identities left out (a depthwise kernel's C, M are merged to I = 1,
    O = C*M before a permutation and split after it)."""
    from ..model import layout
    mine, theirs = layout.of(spec, tensor), layout.of(other, tensor)
    steps = []
    if mine.stored_shape != tuple(spec.shape_of(tensor)):
        steps.append(("reshape", mine.stored_shape))
    axes = tuple(mine.stored.index(letter) for letter in theirs.stored)
    if axes != tuple(range(len(axes))):
        steps.append(("permute", axes))
    if theirs.stored_shape != tuple(other.shape_of(tensor)):
        steps.append(("reshape", tuple(other.shape_of(tensor))))
    return steps


def layout_words(spec: ConvSpec, tensor: str) -> str:
    from ..model import layout
    return f"{'x'.join(map(str, spec.shape_of(tensor)))} ({layout.of(spec, tensor).letters})"


def pads_words(spec: ConvSpec) -> str:
    return ", ".join(f"{b}:{a}" for b, a in spec.pads)


# ---- the result ---------------------------------------------------------------------------------

@dataclass
class Port:
    """One layer ported: the code, and what running both frameworks showed (``verified`` True:
    every output entry agreed exactly on every probe; False: some differed; None: not run)."""

    spec: ConvSpec
    source: str
    target: str
    code: str
    verified: bool | None = None
    verification: str = ""
    details: dict = field(default_factory=dict)
    deployed: list = field(default_factory=list)   # deployment.Deployed: the target's export/convert paths
    form: str = "function"
    usual_padding: str = ""        # what the target's usual padding argument would do wrong ('' if right)

    def text(self) -> str:
        lines = [self.code.rstrip()]
        if self.verification:
            lines += ["", *(f"# {line}" for line in self.verification.splitlines())]
        if self.deployed:
            from .deployment import deployment_lines
            lines += ["", *(f"# {line}" for line in deployment_lines(self.deployed))]
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def to_json(self) -> dict:
        return {"spec": self.spec.describe(), "from": self.source, "to": self.target, "as": self.form,
                "code": self.code, "usual_padding": self.usual_padding or None,
                "verified": self.verified, "verification": self.verification or None, **self.details,
                **({"deployments": [d.as_json() for d in self.deployed]} if self.deployed else {})}

    @property
    def exit_status(self) -> int:
        """0 verified (or not asked to verify), 1 the frameworks differ, 3 asked but could not verify."""
        if self.verified is None and self.verification.startswith("not verified:") and "failed" in self.verification:
            return 3
        if any(d.status in ("mismatch", "error") for d in self.deployed):
            return 1
        return 1 if self.verified is False else 0


def port(spec: ConvSpec, to: str, source: str = "tf", *, verify: bool | None = None, seed: int = 0,
         form: str | None = None, deploy: bool = False) -> Port:
    """The layer ``spec`` (in the ``source`` framework's terms: tf, keras, torch, jax or onnx) as
    code for framework ``to``, as a ``function`` or a ``module`` (``form``; by default a function,
    Keras layers for keras); verified by running both on exact integer probes when ``verify`` is
    True, or by default when both frameworks are installed.  ``deploy``: also run the layer
    through the target's export and conversion paths (``deployment.DEPLOYMENTS``: LiteRT and
    tf2onnx for tf and keras; torch.compile, PyTorch's ONNX exporter and OpenVINO for torch; ...)
    and check each exactly against the model."""
    import importlib
    require_spec(spec)
    src, dst = framework(source, "from"), framework(to, "to")
    if src is dst:
        raise SymconvError(f"from and to must be two frameworks, got {src.name} twice")
    form = check_form(form if form is not None else default_form(dst.name), dst)
    if verify is not None and not isinstance(verify, bool):
        raise SymconvError(f"verify must be True, False or None, got {shown(verify)}")
    if spec.is_empty:
        raise SymconvError(f"the output of this {spec.op} is empty (shape {spec.y_shape}): nothing to port")
    if not isinstance(deploy, bool):
        raise SymconvError(f"deploy must be True or False, got {shown(deploy)}")
    writer = importlib.import_module(TARGET_MODULES[dst.name], __name__)
    from .usual import usual_padding
    usual = usual_padding(spec, dst)
    code = writer.write(spec, target_spec(spec, dst, form), src, form, usual)
    result = Port(spec, src.name, dst.name, code, form=form, usual_padding=usual)
    if deploy:
        from .deployment import verify_deployments
        result.deployed = verify_deployments(target_spec(spec, dst), dst.name, seed)
    missing = [fw.words for fw in (src,) if not installed(fw)] + \
        ([] if installed(dst, form) else [dst.words + (" (Flax)" if dst.name == "jax" and form == "module" else "")])
    asked = verify
    if verify is None:
        verify = not missing
    if verify:
        if missing:
            raise SymconvError(f"verifying needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                               f"not installed: leave out --verify to print the code alone")
        why = too_large_to_verify(spec)
        if why and asked:
            raise SymconvError(f"{why}: leave out --verify to print the code alone")
        if why:
            result.verification = f"not verified: {why}"
            return result
        from .running import run_both
        run_both(result, src, dst, seed)
    else:
        result.verification = (f"not verified: {' and '.join(missing)} not installed" if missing else
                               "not verified (verify=False)")
    return result


def too_large_to_verify(spec: ConvSpec) -> str:
    """Why exact float32 probes cannot verify this layer ('' when they can): every sum must stay
    below 2**24, which leaves no room for nonzero values once a tensor feeds too many sums."""
    from ..probing.probe import ProbePlan, magnitudes
    sizes = magnitudes(spec)
    if min(sizes["x"], sizes["k"]) < 1:   # the forward probes read x and k
        return (f"this {spec.op} is too large to verify exactly: its sums have too many products for nonzero "
                f"float32 probes (every sum within 2**24)")
    try:
        ProbePlan.for_quantity(spec, "forward")
    except SymconvError as err:
        return str(err)
    return ""


def entries_count(spec: ConvSpec) -> int:
    return math.prod(spec.y_shape)


def as_float32(array) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.float32))
