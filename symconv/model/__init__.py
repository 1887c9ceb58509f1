"""The exact convolution: the stage every other one stands on.

A ``ConvSpec`` (validated, its layouts as permutations), the padding conventions (a registry of
small pure rules), the quantity table (y, dk, dx and their factors), the integer index maps that
say which entries each output multiplies, the loop reference written without them, the windows
that pictures and grids crop to, exact values and how a spec and its entries are written.

Imports: the foundation (``symconv.errors``), NumPy and SymPy (``exact``: exact values) only;
never another stage, never an ML framework.
"""
