"""symconv: which input pixel does this number come from?

Exact provenance for convolutions: every entry of the output y, the filter gradient dk and
the input gradient dx as exact SymPy expressions over named entries of x, k and g = dL/dy,
built from integer index maps, and checked against real frameworks.

>>> import symconv
>>> spec = symconv.ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
>>> symconv.which(spec, "dk[0,0,0,0]").expression
g[0, 0, 0, 0]*x[0, 0, 0, 0]

No ML framework is imported by ``import symconv``.
"""

from .conventions import REGISTRY as CONVENTIONS
from .errors import SymconvError
from .indexmap import evaluate, maps_for, terms
from .query import which
from .spec import ConvSpec
from .symbolic import closed_form, expression, general_formulas, literal_derivation

__version__ = "0.1.0"

__all__ = ["CONVENTIONS", "ConvSpec", "SymconvError", "closed_form", "evaluate", "expression",
           "general_formulas", "literal_derivation", "maps_for", "terms", "trace", "which"]


def __getattr__(name):
    # Whole-network provenance lives in symconv.network, imported on first use so that
    # ``import symconv`` stays as light as it is.
    if name == "trace":
        from .network import trace
        return trace
    raise AttributeError(f"module 'symconv' has no attribute {name!r}")
