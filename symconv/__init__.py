"""symconv: which input pixel does this number come from?

Exact provenance for convolutions: every entry of the output y, the filter gradient dk and
the input gradient dx as exact SymPy expressions over named entries of x, k and g = dL/dy,
built from integer index maps, and checked against real frameworks.

>>> import symconv
>>> spec = symconv.ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
>>> symconv.which(spec, "dk[0,0,0,0]").expression
g[0, 0, 0, 0]*x[0, 0, 0, 0]

No ML framework is imported by ``import symconv``, nor NumPy or SymPy until a name that needs
them is first used (a backend's worker process never imports SymPy).
"""

import importlib
import importlib.util

__version__ = "0.1.0"

# Every public name is loaded on first use: ``import symconv`` imports neither NumPy nor SymPy
# (so that the pytest plugin costs nothing until a fixture is used), and SymPy only when a name
# that needs it is first used (a backend's worker process never does).  Whole-network
# provenance (symconv.network) is loaded the same way.
_LAZY = {"CONVENTIONS": (".conventions", "REGISTRY"), "SymconvError": (".errors", "SymconvError"),
         "evaluate": (".indexmap", "evaluate"), "maps_for": (".indexmap", "maps_for"),
         "terms": (".indexmap", "terms"), "ConvSpec": (".spec", "ConvSpec"), "which": (".query", "which"),
         "closed_form": (".symbolic", "closed_form"), "expression": (".symbolic", "expression"),
         "general_formulas": (".symbolic", "general_formulas"),
         "literal_derivation": (".symbolic", "literal_derivation"), "trace": (".network", "trace"),
         "sweep": (".sweep_run", "sweep"), "check": (".verdicts", "check"), "infer": (".inference", "infer"),
         "explain": (".explanation", "explain"), "port": (".porting", "port")}

__all__ = ["CONVENTIONS", "ConvSpec", "SymconvError", "check", "closed_form", "evaluate", "explain", "expression",
           "general_formulas", "infer", "literal_derivation", "maps_for", "port", "sweep", "terms", "trace",
           "which"]


def __getattr__(name):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module, __name__), attribute)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")   # a submodule, e.g. symconv.reference
    raise AttributeError(f"module 'symconv' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
