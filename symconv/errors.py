"""The one error type symconv raises for bad input, and the helper that keeps its values short."""

# An error message is one line a person reads: values longer than this are abbreviated.
SHOWN_CHARS = 80
MESSAGE_CHARS = 600


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` on one line, its middle elided when it is longer than ``limit``.

    >>> shorten("1x" * 50000 + "1", 30)
    '1x1x1... (100001 characters) ...1x1'
    """
    text = " ".join(str(text).split("\n"))
    if len(text) <= limit:
        return text
    marker = f"... ({len(text)} characters) ..."
    keep = max(limit - len(marker), 8)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    return f"{text[:head]}{marker}{text[len(text) - tail:]}"


def shown(value, limit: int = SHOWN_CHARS) -> str:
    """The repr of an offending value for a message, abbreviated when long.

    >>> shown("SAME")
    "'SAME'"
    >>> shown(list(range(10000)), 40)
    '[0, 1, 2,... (58890 characters) ...9999]'
    """
    try:
        text = repr(value)
    except Exception:  # a hostile object's repr: name its type instead
        text = f"<{type(value).__name__} object>"
    return shorten(text, limit)


class SymconvError(ValueError):
    """A request symconv cannot answer, with the field and the offending value.

    A subclass of ValueError, so callers may catch either.  The message is one
    line, fit to print as it is on a command line; a message that would be
    longer than a screenful is abbreviated in the middle.

    >>> str(SymconvError("strides must be positive integers, got (0, 2)"))
    'strides must be positive integers, got (0, 2)'
    """

    def __init__(self, message="", *args):
        super().__init__(shorten(message, MESSAGE_CHARS), *args)
