"""symconv: which input pixel does this number come from?

Exact provenance for convolutions: every entry of the output y, the filter gradient dk and
the input gradient dx as exact SymPy expressions over named entries of x, k and g = dL/dy,
built from integer index maps, and checked against real frameworks.

>>> import symconv
>>> spec = symconv.ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
>>> symconv.which(spec, "dk[0,0,0,0]").expression
g[0, 0, 0, 0]*x[0, 0, 0, 0]

No ML framework is imported by ``import symconv``, and SymPy only when a name that needs it is
first used (a backend's worker process never does).
"""

import importlib

from .conventions import REGISTRY as CONVENTIONS
from .errors import SymconvError
from .indexmap import evaluate, maps_for, terms
from .spec import ConvSpec

__version__ = "0.1.0"

# Names whose modules import SymPy or the backends' machinery: loaded on first use.
# Whole-network provenance (symconv.network) is loaded the same way.
_LAZY = {"which": ".query", "closed_form": ".symbolic", "expression": ".symbolic",
         "general_formulas": ".symbolic", "literal_derivation": ".symbolic", "trace": ".network",
         "check": ".verdicts", "infer": ".inference", "explain": ".explanation", "port": ".porting"}

__all__ = ["CONVENTIONS", "ConvSpec", "SymconvError", "check", "closed_form", "evaluate", "explain", "expression",
           "general_formulas", "infer", "literal_derivation", "maps_for", "port", "terms", "trace", "which"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symconv' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
