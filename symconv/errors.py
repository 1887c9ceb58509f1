"""The one error type symconv raises for bad input."""


class SymconvError(ValueError):
    """A request symconv cannot answer, with the field and the offending value.

    A subclass of ValueError, so callers may catch either.  The message is one
    line, fit to print as it is on a command line.
    """
