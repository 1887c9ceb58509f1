"""The standalone reproducers under docs/reproducers/: each uses only its framework (and NumPy),
runs, and shows its finding (an AssertionError comparing with values computed by hand).  The day a
framework fixes one, its test fails, so that docs/conformance.md and the reproducers stay true.

Reproducers that need the same framework and the same start-up settings run in one child
process, one after another (``runpy``), to start each framework once."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from ..conftest import need_backend
from ..paths import DOCS

FOLDER = DOCS / "reproducers"
REPRODUCERS = sorted(p.name for p in FOLDER.glob("*.py"))
# Top-level modules a reproducer may import: the framework it reports on (with the framework and
# converter a deployment runtime takes its model from), NumPy, the standard library.
BACKEND_OF = {"tensorflow": "tf", "onnxruntime": "onnxruntime", "onnx": "onnxruntime", "torch": "torch",
              "jax": "jax", "jaxlib": "jax", "keras": "keras", "ai_edge_litert": "litert", "openvino": "openvino"}
ALLOWED = {"os", "sys", "warnings", "numpy", "tf2onnx"}
# A deployment runtime reported on, and the frameworks its model may come from.
SOURCES_OF = {"litert": {"tf"}, "onnxruntime": {"tf", "torch"}, "openvino": {"torch", "onnxruntime"},
              "keras": {"tf", "torch", "jax"}}
SETTING = "TF_ENABLE_ONEDNN_OPTS"

RUNNER = r"""
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            runpy.run_path(path, run_name="__main__")
        out[path] = {"status": "passed", "message": "", "stdout": printed.getvalue()}
    except AssertionError as err:
        out[path] = {"status": "shows the finding", "message": str(err), "stdout": printed.getvalue()}
    except BaseException as err:
        out[path] = {"status": "error", "message": f"{type(err).__name__}: {err}", "stdout": printed.getvalue()}
print("@@" + json.dumps(out))
"""


def _imports(name: str) -> set:
    tree = ast.parse((FOLDER / name).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or "").split(".")[0])
    return found


def _setting(name: str) -> str:
    """The start-up setting a reproducer fixes before importing its framework (oneDNN)."""
    for node in ast.walk(ast.parse((FOLDER / name).read_text())):
        if isinstance(node, ast.Assign) and SETTING in ast.unparse(node.targets[0]):
            return ast.literal_eval(node.value)
    return ""


def _backend(name: str) -> str:
    backends = {BACKEND_OF[m] for m in _imports(name) if m in BACKEND_OF}
    reported = [b for b in backends if backends - {b} <= SOURCES_OF.get(b, set())]
    assert len(reported) == 1, f"{name} must use exactly one framework (and the ones its model comes from), uses " \
                               f"{backends}"
    return reported[0]


def _group(name: str) -> tuple:
    # A reproducer that leaves oneDNN at TensorFlow's default shares the process that sets it on.
    return _backend(name), _setting(name) or "1"


@pytest.fixture(scope="module")
def shown():
    """group -> {path: outcome}, each group run once in its own child process."""
    done = {}

    def outcome(name):
        group = _group(name)
        if group not in done:
            names = sorted((n for n in REPRODUCERS if _group(n) == group), key=lambda n: not _setting(n))
            ran = subprocess.run([sys.executable, "-c", RUNNER, *(str(FOLDER / n) for n in names)],
                                 capture_output=True, text=True, timeout=600, cwd=FOLDER)
            lines = [ln for ln in ran.stdout.splitlines() if ln.startswith("@@")]
            assert lines, ran.stderr[-2000:]
            done[group] = json.loads(lines[-1][2:])
        return done[group][str(FOLDER / name)]
    return outcome


def test_there_are_reproducers():
    assert len(REPRODUCERS) >= 6


@pytest.mark.parametrize("name", REPRODUCERS)
def test_a_reproducer_uses_only_its_framework(name):
    modules = _imports(name)
    assert modules <= ALLOWED | set(BACKEND_OF), f"{name} imports {sorted(modules - ALLOWED - set(BACKEND_OF))}"
    text = (FOLDER / name).read_text()
    assert '"""' in text and "expected" in text and "Run: python " + name in text


@pytest.mark.parametrize("name", REPRODUCERS)
def test_a_reproducer_shows_its_finding(name, request, shown):
    need_backend(request.config, _backend(name))
    outcome = shown(name)
    assert outcome["status"] == "shows the finding", \
        f"{name}: {outcome['status']} {outcome['message']} (if the framework fixed it, update docs/conformance.md, " \
        f"the sweep's findings and this reproducer)"
    assert outcome["message"] and "expected" in outcome["stdout"]
