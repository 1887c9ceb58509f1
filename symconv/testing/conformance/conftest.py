"""Collect the conformance suite only when the run names it: a project that collects the whole
symconv package (doctests, say) does not run the sweep by accident."""

from __future__ import annotations

import os

from symconv.testing.plugin import names_the_suite


def pytest_ignore_collect(collection_path, config):
    if os.path.basename(str(collection_path)).startswith("test_") and not names_the_suite(config):
        return True
    return None
