"""A user's PyTorch model factory (``trace --torch FILE.py:NAME``), run in a guarded child.

The factory is the user's code: it may call ``sys.exit``, ``os._exit``, crash the interpreter or
never return.  So it runs in the child process the backends use (``symconv.backends.runner.
Worker``: its own process group, length-prefixed pickles, a timeout, death with its parent), where
the module is built, traced with torch.fx into a ``Network`` (plain data), and, for ``--check``,
compared with its own gradient.  What comes back is the Network and the check's report; however
the child ends otherwise, it is one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SymconvError, shorten, shown

# Seconds the child may take to build, trace and check the model (trace --timeout changes it).
FACTORY_TIMEOUT = 300.0


@dataclass
class FactoryCall:
    """What the child is asked: the factory, the input shape and, for a check, the entry."""

    source: str
    input_shape: object
    check: tuple | None = None      # (layer, entry) to compare with the model's gradient
    seed: int = 0
    quantity: str = "building the model"   # how a death is placed ("... during building the model")


class TorchFactory:
    """A job the backend worker hosts like a backend: ``load`` imports PyTorch, ``execute``
    builds the model and answers with ("ok", network, report) or (kind, message), where kind is
    "usage" (symconv refused the request) or "failed" (the user's code raised or exited)."""

    name = "torch-factory"
    framework_modules = ("torch",)

    def __init__(self):
        from ..backends import Variant
        self.variant = Variant()

    def load(self) -> None:
        import torch  # noqa: F401 - what every call needs, imported once

    def execute(self, call: FactoryCall):
        from .gradcheck import check_model
        from .torch_import import from_torch, load_module
        try:
            model = load_module(call.source)
            net = from_torch(model, call.input_shape)
            report = None
            if call.check is not None:
                layer, entry = call.check
                report = check_model(model, layer, entry, net=net, seed=call.seed)
            return "ok", net, report
        except SymconvError as err:
            return "usage", str(err)
        except SystemExit as err:
            return "failed", f"the model's code called sys.exit({err.code!r})"
        except KeyboardInterrupt:
            return "failed", "the model's code raised KeyboardInterrupt"
        except BaseException as err:  # noqa: BLE001 - the user's code failed: one line
            first = (str(err).strip().splitlines() or [""])[0]
            return "failed", f"the model's code raised {type(err).__name__}: {shorten(first, 300)}"


def run_factory(source: str, input_shape, check: tuple | None = None, seed: int = 0,
                timeout: float | None = None) -> tuple:
    """(Network, check report or None) of ``FILE.py:NAME`` built in a guarded child; a
    SymconvError of one line naming ``--torch`` however the child fails."""
    from ..backends.runner import Worker
    from ..model.values import timeout_seconds
    from .torch_import import check_source
    check_source(source)
    seconds = timeout_seconds(timeout) or FACTORY_TIMEOUT
    job = TorchFactory()
    worker = Worker(job.variant, seconds)
    try:
        reply = worker.call("factory", job, FactoryCall(source, input_shape, check, seed))
    finally:
        worker.close()
    where = f"--torch {shown(source)}"
    if isinstance(reply, tuple) and reply and reply[0] == "ok":
        return reply[1], reply[2]
    if isinstance(reply, tuple) and len(reply) == 2 and reply[0] in ("usage", "failed"):
        text = reply[1]
        raise SymconvError(text if text.startswith("--torch") else f"{where}: {text}")
    message = getattr(reply, "message", "") or "no answer"   # an Outcome: a crash, a hang, a failed load
    message = message.replace("backend process", "the model's process", 1).replace(
        "a slower backend needs a longer --timeout", "trace --timeout gives it longer")
    raise SymconvError(f"{where}: {message}")
