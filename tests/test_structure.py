"""The package's shape: no import cycle, no branch on a convention's name outside the
registry, and modules of a readable size.  Read from the source (AST), not by importing."""

import ast
from pathlib import Path

from symconv.model import conventions

from .paths import PACKAGE, ROOT

MAX_LINES = 600
# A module over MAX_LINES states why in its docstring with these words.
REASON = "longer than 600 lines because"
# Known exceptions outside the proofs' modules, each to be fixed where it lives.
LONG_MODULES: dict = {}
NAME_BRANCHES: dict = {}


def modules() -> dict:
    """Module name -> path, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path, known: dict) -> set:
    """The package modules ``name`` imports anywhere in its file (inside functions too), not
    counting its own parent packages, which Python initialises first in any case."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            children = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known]
            found.update(children)
            if len(children) < len(node.names):
                found.add(module)
    return {m for m in found if m in known and m != name and not name.startswith(m + ".")}


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_itself_back():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_proofs_never_import_rendering():
    known = modules()
    for name, path in known.items():
        if name.startswith("symconv.proof.") or name == "symconv.proof":
            rendering = {m for m in imports_of(name, path, known)
                         if m.startswith(("symconv.latex", "symconv.show"))}
            assert not rendering, (name, rendering)


FRAMEWORK_NAMES = {"tf", "torch"}


def _named_conventions(node) -> list:
    """Registered convention names written as literals in a comparison's operands."""
    values = []
    for operand in [node.left, *node.comparators]:
        elements = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
        values += [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    named = [v for v in values if v in conventions.REGISTRY]
    # "tf" and "torch" also name frameworks (a model's source, a backend): a comparison with
    # them is a convention branch when the other side speaks of a convention.
    about_convention = any("convention" in ast.unparse(o) for o in [node.left, *node.comparators]
                           if not isinstance(o, ast.Constant))
    return [v for v in named if about_convention or v not in FRAMEWORK_NAMES]


def test_no_branch_on_a_convention_name_outside_the_registry():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel == "symconv/model/conventions.py" or rel in NAME_BRANCHES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and _named_conventions(node):
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_the_name_check_sees_a_branch():
    node = ast.parse("spec.convention in ('legacy_eigen', 'other')").body[0].value
    assert _named_conventions(node) == ["legacy_eigen"]
    assert _named_conventions(ast.parse("spec.convention == 'tf'").body[0].value) == ["tf"]
    assert _named_conventions(ast.parse("name == 'same_lower'").body[0].value) == ["same_lower"]
    assert _named_conventions(ast.parse("net.source == 'torch'").body[0].value) == []


def test_modules_stay_readable_or_say_why_not():
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel, text = str(path.relative_to(ROOT)), path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_LINES and rel not in LONG_MODULES and REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            too_long.append(f"{rel}: {lines} lines")
    assert too_long == []


def test_check_infer_and_explain_are_the_functions_at_the_top():
    import inspect

    import symconv
    for name, module in (("check", "symconv.checks.verdicts"), ("infer", "symconv.checks.inference"),
                         ("explain", "symconv.checks.explanation"), ("sweep", "symconv.sweeps.run")):
        function = getattr(symconv, name)
        assert inspect.isfunction(function) and function.__name__ == name and function.__module__ == module
        # no module or package of the same name: importing it would replace the function
        assert not (PACKAGE / f"{name}.py").exists() and not (PACKAGE / name).exists()


# ---- the stages ----------------------------------------------------------------------------------------
# Each stage package may import its own modules, the foundation and the stages below it, never one
# above: the data flows one way (spec -> maps -> probes -> verdicts -> diagnoses -> reports ->
# renderings -> commands).  Stages on one floor do not import each other either.
FOUNDATION = {"symconv", "symconv.errors", "symconv.display", "symconv.progress"}
FLOORS = [["model"], ["symbolic"], ["proof", "backends"], ["probing"], ["diagnose"], ["checks"],
          ["sweeps", "porting"], ["show"], ["latex"], ["network"], ["testing", "commands"], ["cli"], ["__main__"]]
FLOOR = {stage: floor for floor, stages in enumerate(FLOORS) for stage in stages}
TOP_MODULES = FOUNDATION | {"symconv.cli", "symconv.__main__"}


def stage_of(module: str) -> str:
    return "foundation" if module in FOUNDATION else module.split(".")[1]


def test_the_top_level_holds_only_the_foundation_and_the_command_line():
    top = {f"symconv.{p.stem}" if p.stem != "__init__" else "symconv" for p in PACKAGE.glob("*.py")}
    assert top == TOP_MODULES
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(FLOOR) - \
        {"cli", "__main__"}


def test_every_stage_imports_only_the_foundation_and_the_stages_below_it():
    known = modules()
    wrong = []
    for name, path in known.items():
        here = stage_of(name)
        for imported in imports_of(name, path, known):
            there = stage_of(imported)
            if there == here or there == "foundation":
                continue
            if here == "foundation" or FLOOR[there] >= FLOOR[here]:
                wrong.append(f"{name} ({here}) imports {imported} ({there})")
    assert wrong == []


def test_no_import_cycle_between_stages():
    known = modules()
    graph = {}
    for name, path in known.items():
        graph.setdefault(stage_of(name), set()).update(
            stage_of(m) for m in imports_of(name, path, known) if stage_of(m) != stage_of(name))
    assert cycles(graph) == []


def test_each_stage_says_what_it_is_and_what_it_may_import():
    for stage in set(FLOOR) - {"cli", "__main__"}:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text())) or ""
        assert len(doc.split()) >= 20 and "import" in doc.lower(), stage
