"""What every backend shares: calls and outcomes, and padding a framework cannot express.

A *call* is one execution of one quantity (forward, filter_grad or input_grad) along one
*path* (the ops used, e.g. ``raw`` backprop ops or ``tape``).  Frameworks accept SAME, VALID
and, for some ops, non-negative explicit pads; any other padding (a convention other than
TensorFlow's, negative pads, pads an op cannot take) is run as a VALID convolution on the
direct input zero-padded (negative: cropped) by symconv, and the path says so.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SymconvError, shorten
from ..model import conventions, layout, reference
from ..model.quantities import INPUTS, LAYOUT_OF, SHAPED_LIKE, TENSOR_OF  # noqa: F401  INPUTS: from here too, for third parties
from ..model.spec import ConvSpec, format_padding

# The error type of an output that is not a finite real array.
INVALID_OUTPUT = "InvalidOutput"
# Errors that are never a backend's refusal of a case (an exception is; these are not answers).
NOT_A_REFUSAL = frozenset({INVALID_OUTPUT, "SystemExit", "KeyboardInterrupt"})
# An output of the wrong shape is kept (or sent back from a child) only up to this size, or
# twice the right output's float64 size if that is more; beyond it, its shape says enough.
WRONG_SHAPE_BYTES = 64 * 2**20
# Messages from a backend's exceptions are cut to this many characters.
MESSAGE_CHARS = 300


class Unavailable(Exception):
    """Raised by a backend when a call cannot run here at all (no GPU, function not defined):
    reported as skipped, with the message."""


class ImplementationRaised(Exception):
    """The user's own function raised ``error`` (``UserCode.call_user``): a failure of the code
    under test, never a bug in symconv and never a framework's right to refuse a case."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class UserCode:
    """For backends that run a user's own functions (an ``--impl`` file, functions given to
    ``check_functions``): an exception from them is a failure (status ``error``), except
    ``NotImplementedError``, with which the code says it does not do this case
    (``unsupported``).  ``user_files``: the files that are the user's, for saying where."""

    user_code = True
    user_files: set = frozenset()

    def call_user(self, function, *args):
        try:
            return function(*args)
        except Exception as err:
            raise ImplementationRaised(err) from None


@dataclass(frozen=True)
class DocumentedLimit:
    """A case a framework documents it does not support: ``applies(backend, spec, quantity)``
    says where; ``text`` cites the documentation (or the warning the framework prints)."""

    name: str
    text: str
    test: object   # (backend, spec, quantity) -> bool

    def applies(self, backend, spec, quantity) -> bool:
        return bool(self.test(backend, spec, quantity))


@dataclass
class Call:
    spec: ConvSpec
    quantity: str
    path: str
    tensors: dict


@dataclass
class Outcome:
    """``status`` is ok; unsupported (the implementation under test raised: its type and
    first line); error (an exception raised by symconv's own code, or a backend that failed
    to load); skipped; or crash (the process running the backend died or hung).
    ``raised_at`` names the frame that decided it ("file.py:line in function"); ``meta`` keeps
    the exception's class ("error_class") and the module of its innermost frame ("raised_in")."""

    status: str
    value: np.ndarray | None = None
    error_type: str | None = None
    message: str = ""
    meta: dict = field(default_factory=dict)
    raised_at: str | None = None

    @classmethod
    def from_exception(cls, err: BaseException, backend: "Backend | None" = None) -> "Outcome":
        """An exception as an outcome.  Who raised it decides the status: walking the
        traceback from the innermost frame outwards, the first frame that belongs to the
        implementation under test (``backend.owns_frame``: the framework's modules, the
        user's file) makes it ``unsupported``; the first that belongs to symconv itself makes
        it an ``error`` (a bug in symconv's adapter code, never a finding about the
        framework).  Frames of other libraries (NumPy, the standard library) are passed over.
        An exception of a type the framework defines is the framework's wherever it surfaced
        (frameworks may filter their own frames out of tracebacks).
        """
        if isinstance(err, Unavailable):
            return cls("skipped", message=str(err))
        if isinstance(err, ImplementationRaised):
            return cls._from_user_code(err.error, backend)
        lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
        owner, where = raised_by(err, backend)
        frame, tb = None, err.__traceback__
        while tb is not None:
            frame, tb = tb.tb_frame, tb.tb_next
        meta = {"error_class": f"{type(err).__module__}.{type(err).__qualname__}",
                "raised_in": frame.f_globals.get("__name__", "") if frame is not None else "", "owner": owner}
        # Running out of stack or memory is the implementation failing, not refusing a case.
        exhausted = isinstance(err, (RecursionError, MemoryError)) and owner != "symconv"
        status = "unsupported" if owner == "implementation" and not exhausted else "error"
        return cls(status, error_type=type(err).__name__, message=lines[0].strip() if lines else "", meta=meta,
                   raised_at=None if exhausted else where)

    @classmethod
    def _from_user_code(cls, err: Exception, backend) -> "Outcome":
        """The user's function raised: a failure where it was raised (the innermost frame in the
        user's files, else the user's function itself), unless NotImplementedError."""
        frames = []
        tb = err.__traceback__
        while tb is not None:
            frames.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
        frames = frames[1:] or frames   # the first is call_user's own
        files = getattr(backend, "user_files", ())
        frame, line = next((f for f in reversed(frames) if os.path.abspath(f[0].f_code.co_filename) in files),
                           frames[0] if frames else (None, None))
        where = None if frame is None else \
            f"{os.path.basename(frame.f_code.co_filename)}:{line} in {frame.f_code.co_name}"
        lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
        inner = frames[-1][0] if frames else None
        meta = {"error_class": f"{type(err).__module__}.{type(err).__qualname__}",
                "raised_in": inner.f_globals.get("__name__", "") if inner is not None else "",
                "owner": "implementation", "user_code": True}
        status = "unsupported" if isinstance(err, NotImplementedError) else "error"
        return cls(status, error_type=type(err).__name__, message=lines[0].strip() if lines else "", meta=meta,
                   raised_at=where)


def raised_by(err: BaseException, backend=None) -> tuple:
    """("implementation" or "symconv" or "unknown", "file.py:line in function" of that frame)."""
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    if backend is not None and (type(err).__module__ or "").split(".", 1)[0] in backend.framework_modules:
        frame, line = frames[-1] if frames else (None, None)  # the framework's own exception type
        return "implementation", None if frame is None else \
            f"{os.path.basename(frame.f_code.co_filename)}:{line} in {frame.f_code.co_name}"
    for frame, line in reversed(frames):
        module = frame.f_globals.get("__name__", "") or ""
        filename = frame.f_code.co_filename
        where = f"{os.path.basename(filename)}:{line} in {frame.f_code.co_name}"
        if module == "symconv" or module.startswith("symconv."):
            return "symconv", where
        if backend is not None and backend.owns_frame(module, filename):
            return "implementation", where
    if frames:
        frame, line = frames[-1]
        return "unknown", f"{os.path.basename(frame.f_code.co_filename)}:{line} in {frame.f_code.co_name}"
    return "unknown", None


class Backend:
    """Base class.  Subclasses set ``name`` and implement ``paths``, ``describe``, ``load``
    and ``run``; only ``load`` and ``run`` may import a framework.

    ``framework_modules``: the top-level modules whose frames count as the framework when a
    call raises (the framework refusing a case, not a bug in the backend's own code).
    ``variant_options``: the VariantOptions it honours (with ``has_variant``, reports name
    them).  ``child_environment``: constant environment variables for its child process.
    ``execution_paths``: the roads a layer takes through the framework (``execution.ExecutionPath``),
    each selected by variant options; ``execution`` is the one this backend's variant selects.
    ``documented_limits``: cases the framework documents it does not support
    (``DocumentedLimit``): a wrong answer there is reported apart from silent wrong answers."""

    name = "?"
    user_code = False    # whether it runs a user's own functions (see UserCode)
    has_variant = False  # whether the device and variant options mean anything to it
    framework_modules: tuple = ()
    variant_options: tuple = ()
    child_environment: dict = {}
    execution_paths: tuple = ()
    documented_limits: tuple = ()

    def __init__(self, variant=None, grad_path: str = "raw"):
        from . import Variant
        self.variant = (variant or Variant()).bound(self.name, self.variant_options)
        if not self.has_variant and self.variant.device != "cpu":
            raise SymconvError(f"backend {self.name!r} has no device to choose (it runs where it runs), got device "
                               f"{self.variant.device!r}: leave out --device")
        self.grad_path = grad_path

    @property
    def execution(self):
        """The execution path this backend's variant selects (``execution.ExecutionPath``)."""
        from .execution import path_for
        return path_for(type(self), self.name, self.variant)

    def documented_limit(self, spec: ConvSpec, quantity: str) -> str | None:
        """Where the framework documents that it does not support this case (or warns that it
        does not): the citation, else None."""
        return next((limit.text for limit in self.documented_limits if limit.applies(self, spec, quantity)), None)

    @property
    def label(self) -> str:
        """How reports name this backend."""
        return self.name

    def paths(self, spec: ConvSpec, quantity: str) -> list[str]:
        return ["op"]

    def describe(self, spec: ConvSpec, quantity: str, path: str) -> str:
        raise NotImplementedError

    def skip_reason(self, spec: ConvSpec, quantity: str, path: str) -> str | None:
        return None

    def load(self) -> None:
        """Import the framework and apply the variant; called once before the first run.  A
        SymconvError raised here is a usage error (the run stops with it)."""

    def manifest(self) -> dict | None:
        """What loading learned that the caller's copy needs (a child process loads the backend:
        the parent's copy ``adopt``s this); None when nothing."""
        return None

    def adopt(self, manifest: dict) -> None:
        """Take what ``manifest`` of a copy loaded elsewhere returned."""

    def facts(self) -> dict:
        """What the framework said about how it runs where it was loaded (name -> text, e.g.
        {'oneDNN': 'on'}; a child's answer reaches the caller's copy through ``manifest`` and
        ``adopt``); empty when there is nothing to say."""
        return {}

    def run(self, spec: ConvSpec, quantity: str, path: str, tensors: dict) -> np.ndarray:
        raise NotImplementedError

    def owns_frame(self, module: str, filename: str) -> bool:
        """Whether a traceback frame (its module's ``__name__`` and file) belongs to the
        implementation under test."""
        return module.split(".", 1)[0] in self.framework_modules

    def execute(self, call: Call) -> Outcome:
        """Run one call: its output when it is a finite real array, otherwise an error outcome
        that says what came back (never a coerced value).  An exception, ``sys.exit`` or
        KeyboardInterrupt raised by the backend becomes an error outcome too."""
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as warned:
                # the backend's own float warnings are not ours to print; what the framework warns
                # about the case (a limit it documents) is kept with the outcome
                warnings.simplefilter("always")
                value = self.run(call.spec, call.quantity, call.path, call.tensors)
        except Exception as err:  # a backend's failure is a finding, reported per call
            outcome = Outcome.from_exception(err, self)
            outcome.message = shorten(outcome.message, MESSAGE_CHARS)
            return outcome
        except SystemExit as err:
            return Outcome("error", error_type="SystemExit",
                           message=f"the backend called sys.exit({shorten(repr(err.code), 60)})")
        except KeyboardInterrupt:
            return Outcome("error", error_type="KeyboardInterrupt", message="the backend raised KeyboardInterrupt")
        outcome = checked_output(call, value)
        said = framework_warnings(warned, self.framework_modules)
        if said:
            outcome.meta["warnings"] = said
        return outcome


# Warnings about the API's future, not about the case.
_NOT_ABOUT_THE_CASE = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


def framework_warnings(warned, modules) -> list:
    """The first few distinct warnings given during a call (their first lines), leaving out
    deprecations (a framework's warning names the caller's line, so where it was given does not
    say whose it is)."""
    out = []
    for item in warned:
        if issubclass(item.category, _NOT_ABOUT_THE_CASE):
            continue
        text = shorten((str(item.message).strip().splitlines() or [""])[0], MESSAGE_CHARS)
        if text and text not in out:
            out.append(text)
    return out[:3]


def _invalid(message: str) -> Outcome:
    return Outcome("error", error_type=INVALID_OUTPUT, message=message)


_KINDS = {"c": "complex numbers", "b": "booleans", "O": "Python objects", "U": "strings", "S": "bytes",
          "V": "structured records", "M": "dates", "m": "time spans"}


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.3g} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.3g} MiB"


def checked_output(call: Call, value) -> Outcome:
    """An ok outcome holding ``value`` as an array when it is an array of real numbers; an error
    outcome (type INVALID_OUTPUT) naming what it is otherwise.  A wrong shape is left to the
    checker to report, unless the array is too large to keep."""
    tensor = TENSOR_OF[call.quantity]
    want = tuple(call.spec.shape_of(tensor))
    returned = f"{call.quantity} returned"
    if value is None:
        return _invalid(f"{returned} None, not an array of {tensor}'s shape {want}")
    try:
        array = np.asarray(value)
    except Exception as err:
        first = (str(err).strip().splitlines() or [""])[0]
        return _invalid(f"{returned} a {type(value).__name__} that is not an array of numbers "
                        f"({type(err).__name__}: {shorten(first, 120)})")
    if array.dtype.kind not in "fiu":
        what = _KINDS.get(array.dtype.kind, "values that are not real numbers")
        return _invalid(f"{returned} {what} (dtype {array.dtype}), not real numbers")
    if array.shape != want:
        if array.nbytes > max(WRONG_SHAPE_BYTES, 16 * math.prod(want)):
            return _invalid(f"{returned} an array of shape {shorten(str(array.shape), 80)} ({_size(array.nbytes)}) "
                            f"where {tensor} has shape {want}")
        return Outcome("ok", value=array)
    # Non-finite and fractional values are the checker's to report (which entries, of what
    # kind), from the probes themselves: they come back as they are.
    return Outcome("ok", value=array)


# ---- padding a framework cannot take ------------------------------------------------------

def valid_equivalent(spec: ConvSpec) -> ConvSpec | None:
    """The same convolution as VALID on the direct input padded by the spec's pads (None when
    the pads crop the direct input away entirely)."""
    sizes = [s + b + a for s, (b, a) in zip(spec.direct_input_spatial, spec.pads)]
    if min(sizes) < 1:
        return None
    shape = spec.activation_shape(spec.batch, spec.direct_input_channels, sizes)
    # The direct input is x, or the transposed convolution's y, whose size is asked for.
    given = {"x": "input_shape", "y": "output_shape_request"}[spec.tensor_with_role("direct_input")]
    return replace(spec, padding="VALID", convention=conventions.DEFAULT, **{given: shape})


def _padded_tensor(spec: ConvSpec) -> str:
    return spec.tensor_with_role("direct_input")


def pad_direct_input(spec: ConvSpec, array: np.ndarray) -> np.ndarray:
    """Zero-pad (negative: crop) the direct input (x, or a transposed convolution's y) by the
    spec's pads."""
    return reference.pad_or_crop(array, spec.pads, layout.spatial_axes(spec, _padded_tensor(spec)))


def unpad_direct_input(spec: ConvSpec, array: np.ndarray) -> np.ndarray:
    """The adjoint of ``pad_direct_input``: the interior back in the direct input's shape (cropped
    pixels get zero)."""
    tensor = _padded_tensor(spec)
    return reference.unpad(array, spec.shape_of(tensor), spec.pads, layout.spatial_axes(spec, tensor))


class PaddedRun:
    """Runs a spec through its VALID equivalent: direct-input tensors padded, direct-input
    outputs unpadded.  ``inner(valid_spec, tensors)`` does the actual call."""

    def __init__(self, spec: ConvSpec):
        self.spec = spec
        self.valid = valid_equivalent(spec)

    def __call__(self, quantity: str, tensors: dict, inner):
        if self.valid is None:
            raise Unavailable(f"pads {format_padding(self.spec.pads)} crop the whole input away")
        padded = {name: pad_direct_input(self.spec, np.asarray(arr)) if self.spec.role(name) == "direct_input" else arr
                  for name, arr in tensors.items()}
        out = np.asarray(inner(self.valid, padded))
        result = SHAPED_LIKE[quantity]
        if self.spec.role(result) == "direct_input" and out.shape == tuple(self.valid.shape_of(result)):
            out = unpad_direct_input(self.spec, out)
        return out

    def note(self) -> str:
        return (f"{_padded_tensor(self.spec)} zero-padded (negative: cropped) by symconv to pads "
                f"{format_padding(self.spec.pads)}, then padding='VALID'")


class Relaid:
    """Runs a spec through the same convolution in the layouts a framework takes (its own
    kernel layout, or the channels-last data format where an op refuses channels-first):
    inputs moved there by the layouts' permutations, the output moved back.
    ``inner(native_spec, tensors)`` does the actual call."""

    def __init__(self, spec: ConvSpec, native: ConvSpec):
        self.spec, self.native = spec, native

    @classmethod
    def to_kernel_layout(cls, spec: ConvSpec, framework: str) -> "Relaid | None":
        """A Relaid to the framework's own kernel layout (a name of spec.KERNEL_LAYOUTS), or
        None when the spec is in it already."""
        return cls.to_layouts(spec, kernel_layout=framework)

    @classmethod
    def to_layouts(cls, spec: ConvSpec, data_format: str | None = None,
                   kernel_layout: str | None = None) -> "Relaid | None":
        """A Relaid to these layouts (None: the spec's own), or None when the spec is in them
        already."""
        native = spec.with_layouts(data_format=data_format, kernel_layout=kernel_layout)
        return None if native == spec else cls(spec, native)

    def __call__(self, quantity: str, tensors: dict, inner):
        moved = {name: layout.convert(self.spec, self.native, name, arr) for name, arr in tensors.items()}
        out = np.asarray(inner(self.native, moved))
        result = SHAPED_LIKE[quantity]
        if out.shape != tuple(self.native.shape_of(result)) and LAYOUT_OF[result] != "k" \
                and out.ndim == len(self.spec.data_format) and self.native.data_format != self.spec.data_format:
            # A wrong shape still has its axes in the order the op wrote them: moved back too, so
            # that the report compares it with the spec's shape axis by axis.
            return np.transpose(out, [self.native.data_format.index(a) for a in self.spec.data_format])
        return layout.convert(self.native, self.spec, result, out)

    def note(self, quantity: str | None = None) -> str:
        """What symconv moved, e.g. 'x moved from NCHW to NHWC and y back, k moved from OIHW to
        HWIO by symconv' (the activations named for the quantity: its inputs, then its result)."""
        moved = []
        if self.native.data_format != self.spec.data_format:
            inputs, result = (INPUTS[quantity], TENSOR_OF[quantity]) if quantity in INPUTS else (("x",), "y")
            activations = [t for t in inputs if LAYOUT_OF[t] != "k"]
            back = f" and {result} back" if LAYOUT_OF[result] != "k" else ""
            moved.append(f"{' and '.join(activations)} moved from {self.spec.data_format} to "
                         f"{self.native.data_format}{back}")
        if self.native.kernel_layout != self.spec.kernel_layout:
            moved.append(f"k moved from {self.spec.kernel_layout} to {self.native.kernel_layout}")
        return ", ".join(moved) + " by symconv"


def native_padding(spec: ConvSpec, explicit_ok: bool, native_same: str = conventions.DEFAULT):
    """'SAME', 'VALID' or explicit (before, after) pairs the op can take as they are; None when
    symconv must pad the input itself.  SAME is passed on only when the spec's convention has
    the same rule as the framework's own SAME (``native_same``); otherwise it runs as its pads."""
    if spec.padding == "SAME" and conventions.runs_as(spec.convention, native_same):
        return "SAME"
    if spec.padding == "VALID":
        return "VALID"
    if explicit_ok and all(b >= 0 and a >= 0 for b, a in spec.pads):
        return tuple(spec.pads)
    return None
