"""Shrinking a failing case to the smallest one that fails the same way, and the command line that
reproduces it: the sweep's name for ``symconv.checks.shrinking``, where ``check`` shrinks an
unexplained mismatch with the same reducer.

>>> from symconv import ConvSpec
>>> spec = ConvSpec("conv2d", "2x6x5x3", "3x3x3x4", strides=(3, 1), padding="SAME", convention="legacy_eigen")
>>> small, steps = shrink(spec, lambda s: s.pads[0][0] < 0)
>>> small.input_shape
(1, 3, 1, 1)
"""

from ..checks.shrinking import MAX_EVALUATIONS, MAX_SECONDS, command_line, neighbours, shrink

__all__ = ["MAX_EVALUATIONS", "MAX_SECONDS", "command_line", "neighbours", "shrink"]
