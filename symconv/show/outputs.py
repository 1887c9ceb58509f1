"""Where symconv writes: one rule for every output option (``-o/--output``, ``--png``,
``--latex``, a ``--json FILE``) and for ``Picture.save``.

- ``-`` is standard output, for every option.  Text is written there as text; a picture's bytes
  (PNG) only when standard output is not a terminal (redirect it, or give a file name).  A
  command that writes a file to standard output prints its usual report on standard error, and
  only one option may be ``-``.
- Any other value is a file name, checked before any work is done: an existing folder is
  refused (name a file inside it), as are a missing folder, a name ending in a separator, an
  empty name and a NUL character.  Writing it may still fail (a full device, no permission):
  that too is one line naming the option and the path.
- Pictures are written in the format their suffix names: ``.png``, ``.svg`` or ``.pdf``; any
  other suffix (or none) is refused, naming it.  ``-`` writes a PNG.

>>> picture_format("stem.SVG", "--png")
'svg'
>>> picture_format("stem.jpg", "--png")
Traceback (most recent call last):
  ...
symconv.errors.SymconvError: --png 'stem.jpg': a picture is written as .png, .svg or .pdf, chosen by the file's suffix; got '.jpg'
"""

from __future__ import annotations

import os
import sys

from ..errors import SymconvError
from ..errors import shown as _shown

STDOUT = "-"
PICTURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
# Characters of a path quoted in a message (a longer one is abbreviated in its middle).
PATH_CHARS = 300


def shown(path) -> str:
    return _shown(path, PATH_CHARS)


def is_stdout(path) -> bool:
    return isinstance(path, str) and path == STDOUT


def check_path(path, field: str, example: str = "output.txt") -> str:
    """``path`` as a file name that can be written (``-``: standard output), else one
    SymconvError naming ``field`` (a folder is answered with ``example``, a file name in it);
    nothing is created."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise SymconvError(f"{field} must be a file name, got {type(path).__name__} {_shown(path)}")
    if path == STDOUT:
        return path
    if not path:
        raise SymconvError(f"{field} must be a file name, got ''")
    if "\0" in path:
        raise SymconvError(f"{field} {shown(path)} cannot be written: a file name has no NUL character")
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise SymconvError(f"{field} {shown(path)} is a folder: give a file name, e.g. "
                           f"{shown(os.path.join(path, example))}")
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        why = "not a folder" if os.path.exists(folder) else "no such folder"
        raise SymconvError(f"{field} {shown(path)} cannot be written: {why} {shown(folder)}")
    if os.path.exists(path):
        writable = os.access(path, os.W_OK)
    else:
        writable = os.access(folder or ".", os.W_OK | os.X_OK)
    if not writable:
        raise SymconvError(f"{field} {shown(path)} cannot be written: Permission denied")
    return path


def picture_format(path, field: str) -> str:
    """The picture format a path's suffix names (``-``: PNG)."""
    if is_stdout(path):
        return "png"
    suffix = os.path.splitext(os.fspath(path))[1]
    if suffix.lower() not in PICTURE_FORMATS:
        got = repr(suffix) if suffix else "no suffix"
        raise SymconvError(f"{field} {shown(os.fspath(path))}: a picture is written as .png, .svg or .pdf, chosen "
                           f"by the file's suffix; got {got}")
    return PICTURE_FORMATS[suffix.lower()]


def check_picture_path(path, field: str) -> str:
    """A picture target, checked before any work: a writable file name with a known suffix,
    or ``-`` when standard output is not a terminal."""
    path = check_path(path, field, "picture.png")
    picture_format(path, field)
    if is_stdout(path):
        _binary_stdout(field)
    return path


def _binary_stdout(field: str):
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise SymconvError(f"{field} '-' writes a PNG to standard output, which takes no bytes here: give a file name")
    try:
        terminal = sys.stdout.isatty()
    except (ValueError, OSError):
        terminal = False
    if terminal:
        raise SymconvError(f"{field} '-' would write a PNG to the terminal: redirect standard output "
                           f"(e.g. {field} - > picture.png) or give a file name")
    return stream


def _failed(path, field: str, err: Exception) -> SymconvError:
    reason = getattr(err, "strerror", None) or str(err)
    return SymconvError(f"{field} {shown(path)} cannot be written: {reason}")


def write_text(path, text: str, field: str = "output", example: str = "output.txt") -> str:
    """Write ``text`` to the file ``path`` (``-``: standard output)."""
    path = check_path(path, field, example)
    if is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return path
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except (OSError, ValueError) as err:  # a full device, a race with a folder appearing
        raise _failed(path, field, err) from None
    return path


def write_bytes(path, data: bytes, field: str = "output") -> str:
    """Write ``data`` to the file ``path`` (``-``: standard output, never a terminal)."""
    path = check_path(path, field, "picture.png")
    if is_stdout(path):
        stream = _binary_stdout(field)
        sys.stdout.flush()
        stream.write(data)
        stream.flush()
        return path
    try:
        with open(path, "wb") as out:
            out.write(data)
    except (OSError, ValueError) as err:
        raise _failed(path, field, err) from None
    return path


def described(path) -> str:
    """How a report names where it wrote: the path, or standard output."""
    return "to standard output" if is_stdout(path) else str(path)


def report_stream(*paths):
    """Where a command prints its report: standard error when one of its outputs is standard
    output, else standard output.  Two outputs that are both ``-`` are refused."""
    given = [(field, path) for field, path in paths if is_stdout(path)]
    if len(given) > 1:
        raise SymconvError(f"{' and '.join(field for field, _ in given)} are both '-': only one output can be "
                           f"standard output")
    return sys.stderr if given else sys.stdout
