"""The conformance suite: symconv's sweep as parametrised pytest tests, one per case.

Run it against a backend or your own implementation file::

    pytest --pyargs symconv.conformance --symconv-backend torch
    pytest --pyargs symconv.conformance --symconv-impl my_conv.py --symconv-size full -n auto

Each case checks y, dk and dx of one spec exactly.  A case passes when every quantity the
implementation computes agrees with the model; it is skipped, with the implementation's own
message, when the implementation refuses it (an exception of its own) or computes none of it;
it fails on wrong values, a wrong shape, garbage, a crash or an exception from symconv's
adapter, with the check's report (each wrong entry, the terms expected and those observed) and
the smallest ``symconv check ...`` command that fails the same way.  Cases are independent, so
``-n auto`` (pytest-xdist) runs them in parallel, one backend worker per pytest worker.

The suite is collected only when a run names it (``--pyargs symconv.conformance`` or its path),
never as a side effect of collecting the symconv package.
"""
