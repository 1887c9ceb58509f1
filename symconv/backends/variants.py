"""Variants: the settings a framework backend runs under, declared by the backends themselves.

A ``Variant`` is a device (``cpu`` or ``gpu``; ``cuda`` means ``gpu``) and named options.
Options are declared by backend classes (``variant_options``, a tuple of ``VariantOption``):
TensorFlow declares ``onednn``, PyTorch ``mkldnn``, ``deterministic`` and ``cudnn_benchmark``,
and every backend that honours a thread count declares the shared ``THREADS``.  Nothing here
knows any framework: an option says how it is parsed, how reports name it, which environment
variables it sets in the child process, and whether the framework reads it when it starts
(then backends of different values cannot share one process).

>>> Variant(threads=1).describe()
'cpu, 1 intra-op thread'
>>> Variant("cuda").device
'gpu'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import SymconvError

DEVICES = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}


def parse_switch(value, name: str) -> bool | None:
    """``'on'``/``'off'``/``'default'`` (also True/False/None, 1/0) -> True/False/None."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "1", "true"):
        return True
    if text in ("off", "0", "false"):
        return False
    if text in ("default", ""):
        return None
    raise SymconvError(f"{name} must be on or off, got {value!r}")


def parse_count(value, name: str) -> int | None:
    """A positive integer (or None / ``'default'``)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("default", "")):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SymconvError(f"{name} must be a positive integer, got {value!r}")
    return value


def parse_choice(value, name: str, choices: tuple) -> str | None:
    """One of ``choices`` (case and surrounding spaces aside), or None for ``'default'``."""
    if value is None:
        return None
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text in ("default", ""):
        return None
    if text not in choices:
        raise SymconvError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return text


@dataclass(frozen=True)
class VariantOption:
    """One setting a backend honours.

    ``kind`` is ``switch`` (on/off), ``count`` (a positive integer) or ``choice`` (one of
    ``choices``, e.g. PyTorch's ``--compile inductor``); ``label`` is how reports name it;
    ``environment`` names the environment variable it sets in the backend's child
    process (a switch as 1 or 0); ``at_start`` says the framework reads it when it starts (a
    variant that sets it runs in a child process of its own)."""

    name: str
    label: str
    help: str
    kind: str = "switch"
    at_start: bool = False
    environment: str | None = None
    default_text: str | None = None   # how reports name the framework's default (else "<label> default")
    choices: tuple = ()               # a choice's values
    quiet_default: bool = False       # reports leave it out while it has the framework's default

    def parse(self, value):
        if self.kind == "switch":
            return parse_switch(value, self.name)
        if self.kind == "choice":
            return parse_choice(value, self.name, self.choices)
        return parse_count(value, self.name)

    def describe(self, value) -> str:
        if value is None:
            return self.default_text or f"{self.label} default"
        if self.kind == "switch":
            return f"{self.label} {'on' if value else 'off'}"
        if self.kind == "choice":
            return f"{self.label} {value}"
        return f"{value} {self.label}{'s' if value != 1 else ''}"

    def as_json(self, value):
        if value is None:
            return "default"
        return ("on" if value else "off") if self.kind == "switch" else value

    def as_text(self, value) -> str:
        """The value as its flag takes it (on/off, a count, a choice)."""
        return ("on" if value else "off") if self.kind == "switch" else str(value)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


THREADS = VariantOption("threads", "intra-op thread", "intra-op threads (default: the framework's)",
                        kind="count", at_start=True, default_text="default threads")


_KNOWN: dict = {}


def known_options() -> dict:
    """name -> VariantOption over every registered backend, in registration order (threads
    last).  Imports each backend's module (never its framework); cached until the registry
    changes."""
    if not _KNOWN:
        found = {}
        for cls in _importable_classes():
            for option in getattr(cls, "variant_options", ()):
                if option.name != THREADS.name:
                    found.setdefault(option.name, option)
        found[THREADS.name] = THREADS
        _KNOWN.update(found)
    return _KNOWN


def _importable_classes():
    """Every registered backend class that imports (one that does not is reported when it is
    created, not here)."""
    from . import BACKENDS, backend_class
    for name in list(BACKENDS):
        try:
            yield backend_class(name)
        except SymconvError:
            continue


def forget_options() -> None:
    """Drop the cached options (the backend registry changed)."""
    _KNOWN.clear()


class Variant:
    """A device and option values; ``None`` (or leaving an option out) means the framework's
    own default.  ``Variant(device="cpu", onednn=False, threads=1)``.

    A variant bound to a backend (``backend.variant``) also knows every option that backend
    declares, so that reports name the defaults too.
    """

    __slots__ = ("device", "options", "declared")

    def __init__(self, device: str = "cpu", **options):
        if not isinstance(device, str) or device.strip().lower() not in DEVICES:
            raise SymconvError(f"device must be cpu, gpu or cuda, got {device!r}")
        known = known_options() if options else {}
        values = {}
        for name, value in options.items():
            if name not in known:
                raise SymconvError(f"variant option must be one of {', '.join(sorted(known))}, got {name!r}")
            parsed = known[name].parse(value)
            if parsed is not None:
                values[name] = parsed
        object.__setattr__(self, "device", DEVICES[device.strip().lower()])
        object.__setattr__(self, "options", dict(sorted(values.items())))
        object.__setattr__(self, "declared", None)

    def __setattr__(self, name, value):
        raise AttributeError("Variant is immutable")

    def __reduce__(self):
        return (_rebuild, (self.device, tuple(self.options.items()), self.declared))

    def _key(self):
        return (self.device, tuple(self.options.items()))

    def __eq__(self, other):
        return isinstance(other, Variant) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        items = [f"device={self.device!r}"] + [f"{k}={v!r}" for k, v in self.options.items()]
        return f"Variant({', '.join(items)})"

    def get(self, name: str):
        """An option's value, None when the framework's default applies."""
        return self.options.get(name)

    @property
    def threads(self) -> int | None:
        return self.options.get(THREADS.name)

    @property
    def startup(self) -> tuple:
        """The options read when a framework starts: backends share a child process only when
        these match (the device and the other options are applied per call)."""
        known = {o.name: o for o in self.declared} if self.declared else known_options() if self.options else {}
        return tuple((k, v) for k, v in self.options.items() if k not in known or known[k].at_start)

    @property
    def needs_child(self) -> bool:
        return bool(self.startup)

    def bound(self, backend_name: str, declared: tuple) -> "Variant":
        """This variant for a backend that declares ``declared`` options; refuses an option
        the backend does not honour."""
        names = {o.name for o in declared}
        unknown = sorted(set(self.options) - names)
        if unknown:
            takes = f"its options: {', '.join(sorted(names))}" if names else "it has none"
            raise SymconvError(f"backend {backend_name!r} has no variant option {', '.join(map(repr, unknown))} "
                               f"({takes})")
        return _rebuild(self.device, tuple(self.options.items()), tuple(declared))

    def _shown(self):
        if self.declared is not None:
            return [(o, self.options.get(o.name)) for o in self.declared
                    if o.name in self.options or not o.quiet_default]
        known = known_options() if self.options else {}
        return [(o, self.options[name]) for name, o in known.items() if name in self.options]

    def describe(self) -> str:
        """``'cpu, oneDNN off, 1 intra-op thread'``: the device, then each option."""
        return ", ".join([self.device] + [o.describe(v) for o, v in self._shown()])

    def as_json(self) -> dict:
        out = {"device": self.device}
        out.update({o.name: o.as_json(v) for o, v in self._shown()})
        return out


def _rebuild(device, options, declared):
    variant = object.__new__(Variant)
    object.__setattr__(variant, "device", device)
    object.__setattr__(variant, "options", dict(options))
    object.__setattr__(variant, "declared", declared)
    return variant


def variant_environment(variant: Variant) -> dict:
    """The environment variables a child process for this variant needs: each registered
    backend's constant ones (unless already set) and those of the variant's options."""
    env = {}
    for cls in _importable_classes():
        for key, value in getattr(cls, "child_environment", {}).items():
            if key not in os.environ:
                env[key] = value
    known = known_options() if variant.options else {}
    for name, value in variant.options.items():
        variable = known[name].environment
        if variable is not None:
            env[variable] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return env


# ---- the command line ------------------------------------------------------------------

def add_variant_arguments(group) -> None:
    """--device, --threads, one flag per declared option (--onednn on|off, --mkldnn on|off,
    ...) and --variant KEY=VALUE,... for any option."""
    group.add_argument("--device", default="cpu", choices=tuple(DEVICES),
                       help="device (default cpu; cuda is the same as gpu)")
    for option in known_options().values():
        if option.kind == "switch":
            group.add_argument(option.flag, dest=f"variant_{option.name}", default=None, choices=("on", "off"),
                               metavar="on|off", help=option.help)
        elif option.kind == "choice":
            group.add_argument(option.flag, dest=f"variant_{option.name}", default=None, choices=option.choices,
                               metavar="|".join(option.choices), help=option.help)
        else:
            group.add_argument(option.flag, dest=f"variant_{option.name}", default=None, metavar="N",
                               help=option.help)
    group.add_argument("--variant", metavar="KEY=VALUE,...", default=None,
                       help="variant options by name, e.g. mkldnn=off,deterministic=on (the flags above are "
                            "the same options)")


def variant_from_args(args) -> Variant:
    """The Variant the parsed command line asks for; a flag and --variant may not disagree."""
    options = {name: getattr(args, f"variant_{name}") for name in known_options()
               if getattr(args, f"variant_{name}", None) is not None}
    for item in (args.variant or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise SymconvError(f"variant must look like key=value,key=value, got {args.variant!r}")
        if key in options and str(options[key]) != value.strip():
            raise SymconvError(f"variant option {key} is given twice, as {options[key]!r} and {value.strip()!r}")
        options[key] = value.strip()
    return Variant(args.device, **options)


def variant_flags(variant: Variant | None, grad_path: str = "raw") -> list:
    """The command-line options that select ``variant`` (and the gradient path) on a backend:
    ``['--device', 'gpu', '--onednn', 'off', '--grad-path', 'both']``."""
    variant = variant or Variant()
    out = [] if variant.device == "cpu" else ["--device", variant.device]
    known = known_options() if variant.options else {}
    for name, value in variant.options.items():
        out += [known[name].flag, ("on" if value else "off") if isinstance(value, bool) else str(value)]
    return out + ([] if grad_path == "raw" else ["--grad-path", grad_path])
