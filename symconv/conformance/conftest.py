"""Collect the conformance suite only when the run names it: a project that collects the whole
symconv package (doctests, say) does not run the sweep by accident."""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _named(config) -> bool:
    """Whether the command line names this package (``--pyargs symconv.conformance``) or a path
    inside it."""
    start = str(config.invocation_params.dir)
    for arg in config.invocation_params.args:
        arg = str(arg).split("::", 1)[0]
        if arg == __package__ or arg.startswith(__package__ + "."):
            return True
        if arg and not arg.startswith("-"):
            path = os.path.abspath(os.path.join(start, arg))
            if path == HERE or path.startswith(HERE + os.sep):
                return True
    return False


def pytest_ignore_collect(collection_path, config):
    if os.path.basename(str(collection_path)).startswith("test_") and not _named(config):
        return True
    return None
