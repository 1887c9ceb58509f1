"""The README's timing figures are the recorded benchmark results: benchmarks/readme_figures.py
writes them from benchmarks/results/*.json, and here it checks that the README still says what
the files hold, and that the Speed section states no timing outside the generated figures."""

import importlib.util
import re

from .paths import README, ROOT

TIMING = re.compile(r"\b\d[\d,.]*\s*(ms|s|seconds|minutes)\b")


def figures():
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "benchmarks" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_figures_are_the_recorded_results(capsys):
    assert figures().main([]) == 0, capsys.readouterr().out


def test_a_changed_result_is_seen_as_a_stale_figure(monkeypatch):
    module = figures()
    text = README.read_text()
    real = module.result

    def doubled(name):
        data = real(name)
        if name == "check":
            data = {**data, "check_seconds": data["check_seconds"] * 2}
        return data
    monkeypatch.setattr(module, "result", doubled)
    fresh, changed = module.rendered(text)
    assert changed == ["speed"] and fresh != text


def test_every_timing_of_the_speed_section_is_a_generated_figure():
    text = README.read_text()
    speed = text[text.index("## Speed"):]
    outside = re.sub(r"<!-- figures [\w-]+ -->.*?<!-- /figures -->", "", speed, flags=re.S)
    assert not TIMING.search(outside), TIMING.search(outside).group(0)
    inside = "".join(re.findall(r"<!-- figures [\w-]+ -->.*?<!-- /figures -->", speed, flags=re.S))
    for line in inside.splitlines()[1:-1]:
        assert "`results/" in line and "shared cores" in line, line   # the file and the CPU, on every figure
