"""What an implementation covers: the ops, layouts, paddings, conventions, groups and dtypes it
implements, declared by an ``--impl`` file or asked for by a sweep's filters.

An ``--impl`` file declares it in a module-level table; every key is optional (a key left out
covers everything) and takes a list of values::

    SYMCONV_SUPPORTS = {
        "ops": ["conv2d"],                    # symconv's op names
        "layouts": ["NHWC"],                  # data formats (or channels_last, channels_first)
        "kernel_layouts": ["HWIO"],           # letters, or a framework's name: tf, torch
        "paddings": ["SAME", "VALID", "explicit"],
        "conventions": ["tf"],                # how SAME is resolved (for SAME cases only)
        "groups": [1],
        "dtypes": ["float32"],                # the arrays it is called with (float64 by default)
    }

A case outside the table is skipped (nothing is run), and a gate that checked nothing else
exits 3.  The same keys filter a sweep's or the conformance suite's cases.

>>> from symconv import ConvSpec
>>> cover = Coverage.from_table({"ops": ["conv2d"], "layouts": ["channels_last"], "groups": [1]}, "mine.py")
>>> cover.excludes(ConvSpec("conv2d", "2x5x4x2", "3x3x2x3", padding="SAME"))
''
>>> cover.excludes(ConvSpec("conv2d", "2x2x5x4", "3x3x2x3", padding="SAME", data_format="NCHW"))
'layout NCHW is not among layouts channels_last'
>>> Coverage.from_table({"op": ["conv2d"]}, "mine.py")
Traceback (most recent call last):
...
symconv.errors.SymconvError: mine.py: SYMCONV_SUPPORTS has an unknown key 'op' (known: ops, layouts, kernel_layouts, paddings, conventions, groups, dtypes)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import SymconvError, shown

PADDINGS = ("SAME", "VALID", "explicit")
DTYPES = ("float64", "float32")
LAYOUT_ALIASES = ("channels_last", "channels_first")


@dataclass(frozen=True)
class Coverage:
    """Each field: a tuple of the values covered, or None for everything."""

    ops: tuple | None = None
    layouts: tuple | None = None
    kernel_layouts: tuple | None = None
    paddings: tuple | None = None
    conventions: tuple | None = None
    groups: tuple | None = None
    dtypes: tuple = ("float64",)

    @classmethod
    def keys(cls) -> tuple:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_table(cls, table, where: str) -> "Coverage":
        """The coverage a ``SYMCONV_SUPPORTS`` table declares (None: everything); a usage error
        naming ``where`` and the key for anything it cannot mean."""
        if table is None:
            return cls()
        if not isinstance(table, dict):
            raise SymconvError(f"{where}: SYMCONV_SUPPORTS must be a dict such as {{'ops': ['conv2d']}}, "
                               f"got {shown(table)}")
        unknown = [k for k in table if k not in cls.keys()]
        if unknown:
            raise SymconvError(f"{where}: SYMCONV_SUPPORTS has an unknown key {shown(unknown[0])} "
                               f"(known: {', '.join(cls.keys())})")
        return cls(**{key: _values(key, value, where) for key, value in table.items()})

    @classmethod
    def from_filters(cls, where: str = "filters", **filters) -> "Coverage":
        """The coverage of a sweep's filters (each None, a list, or comma-separated text)."""
        table = {}
        for key, value in filters.items():
            if value is None:
                continue
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
                if key == "groups":   # typed on a command line
                    value = [int(v) if v.isdigit() and len(v) < 7 else v for v in value]
            table[key] = value
        return cls.from_table(table, where)

    def narrowed(self, other: "Coverage") -> "Coverage":
        """What both cover."""
        out = {}
        for key in self.keys():
            mine, theirs = getattr(self, key), getattr(other, key)
            if key == "dtypes":
                out[key] = mine
            elif mine is None or theirs is None:
                out[key] = theirs if mine is None else mine
            else:
                out[key] = tuple(v for v in mine if v in theirs)
        return Coverage(**out)

    def excludes(self, spec) -> str:
        """Why ``spec`` is outside this coverage, in a few words; '' when it is covered."""
        from ..model.spec import parse_kernel_layout
        padding = spec.padding if spec.padding in ("SAME", "VALID") else "explicit"
        checks = [("op", spec.op, "ops", self.ops, lambda v: v == spec.op),
                  ("layout", spec.data_format, "layouts", self.layouts, lambda v: _layout_matches(v, spec)),
                  ("kernel layout", spec.kernel_layout, "kernel_layouts", self.kernel_layouts,
                   lambda v: _kernel_layout_matches(v, spec, parse_kernel_layout)),
                  ("padding", padding, "paddings", self.paddings, lambda v: v == padding),
                  ("groups", spec.groups, "groups", self.groups, lambda v: v == spec.groups)]
        if spec.padding == "SAME":
            checks.append(("convention", spec.convention, "conventions", self.conventions,
                           lambda v: v == spec.convention))
        for what, value, key, allowed, matches in checks:
            if allowed is not None and not any(matches(v) for v in allowed):
                listed = ", ".join(map(str, allowed)) or "none"
                return f"{what} {value} is not among {key} {listed}"
        return ""

    def describe(self) -> str:
        parts = [f"{key} {', '.join(map(str, getattr(self, key)))}" for key in self.keys()
                 if key != "dtypes" and getattr(self, key) is not None]
        return "; ".join(parts) or "everything"


def _layout_matches(value: str, spec) -> bool:
    if value == "channels_last":
        return spec.data_format.endswith("C")
    if value == "channels_first":
        return spec.data_format[1] == "C"
    return value == spec.data_format


def _kernel_layout_matches(value: str, spec, parse) -> bool:
    return _parses(parse, value, spec.op) and parse(value, spec.op) == spec.kernel_layout


def _parses(parse, value: str, op: str) -> bool:
    try:
        parse(value, op)
    except SymconvError:
        return False
    return True


def _values(key: str, value, where: str) -> tuple:
    """One key's values, validated."""
    from ..model.conventions import REGISTRY
    from ..model.spec import DATA_FORMATS, OPS
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise SymconvError(f"{where}: SYMCONV_SUPPORTS[{key!r}] must be a list, got {shown(value)}")
    values = list(value)
    if key == "groups":
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
        if bad:
            raise SymconvError(f"{where}: {key} must be positive integers, got {shown(bad[0])}")
        return tuple(values)
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise SymconvError(f"{where}: {key} must be names (strings), got {shown(bad[0])}")
    allowed = {"ops": tuple(OPS), "paddings": PADDINGS, "dtypes": DTYPES, "conventions": tuple(REGISTRY),
               "layouts": tuple(f for pair in DATA_FORMATS.values() for f in pair) + LAYOUT_ALIASES}.get(key)
    if key == "layouts":
        values = [v if v in LAYOUT_ALIASES else v.upper() for v in values]
    if key == "kernel_layouts":
        from ..model.spec import parse_kernel_layout
        values = [v.lower() if v.lower() in ("tf", "torch", "keras", "onnx") else v.upper() for v in values]
        for v in values:
            if not any(_parses(parse_kernel_layout, v, op) for op in OPS):
                raise SymconvError(f"{where}: kernel_layouts must be letters such as HWIO or OIHW, or tf or torch, "
                                   f"got {shown(v)}")
        allowed = None
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise SymconvError(f"{where}: {key} must be among {', '.join(allowed)}, got {shown(unknown[0])}")
    if key == "dtypes" and not values:
        raise SymconvError(f"{where}: dtypes must name at least one of {', '.join(DTYPES)}")
    return tuple(dict.fromkeys(values))
