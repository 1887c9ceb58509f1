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
_LAZY = {"CONVENTIONS": (".model.conventions", "REGISTRY"), "SymconvError": (".errors", "SymconvError"),
         "evaluate": (".model.indexmap", "evaluate"), "maps_for": (".model.indexmap", "maps_for"),
         "terms": (".model.indexmap", "terms"), "ConvSpec": (".model.spec", "ConvSpec"),
         "which": (".symbolic.query", "which"), "closed_form": (".symbolic.expressions", "closed_form"),
         "expression": (".symbolic.expressions", "expression"),
         "general_formulas": (".symbolic.expressions", "general_formulas"),
         "literal_derivation": (".symbolic.expressions", "literal_derivation"), "trace": (".network", "trace"),
         "sweep": (".sweeps.run", "sweep"), "check": (".checks.verdicts", "check"),
         "infer": (".checks.inference", "infer"), "explain": (".checks.explanation", "explain"),
         "port": (".porting", "port")}

# Modules users import by their short names (``from symconv import reference``), in their stages.
MODULES = {"reference": ".model.reference", "spec": ".model.spec", "conventions": ".model.conventions",
           "layout": ".model.layout", "indexmap": ".model.indexmap", "quantities": ".model.quantities"}

__all__ = ["CONVENTIONS", "ConvSpec", "SymconvError", "check", "closed_form", "evaluate", "explain", "expression",
           "general_formulas", "infer", "literal_derivation", "maps_for", "port", "sweep", "terms", "trace",
           "which"]


def __getattr__(name):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module, __name__), attribute)
        globals()[name] = value
        return value
    if name in MODULES:
        return importlib.import_module(MODULES[name], __name__)
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")   # a stage package, e.g. symconv.model
    raise AttributeError(f"module 'symconv' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(MODULES))
