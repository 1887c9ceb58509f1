"""The command line without sharp edges: a real example in every help, progress only on a
terminal, latex values without --entry, and a hint that names a command that runs."""

import re
import shlex

import pytest

from symconv import progress, proof
from symconv.cli import COMMANDS, build_parser, join_negative_values, main


def examples(parser) -> list:
    """The example command lines of a help epilog (a trailing backslash continues a line)."""
    text = re.sub(r"\\\n\s*", "", parser.epilog or "")
    return [line.strip() for line in text.splitlines() if line.startswith("  symconv ")]


def test_every_subcommand_shows_real_examples_that_parse(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == set(COMMANDS)
    for name, sub in commands.items():
        found = examples(sub)
        assert found, f"symconv {name} --help shows no example"
        for line in found:
            argv = shlex.split(line)[1:]
            assert argv[0] == name
            args = parser.parse_args(join_negative_values(parser, argv))
            assert args.run is not None, line
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert found[0].replace("'", "") in capsys.readouterr().out.replace("\\\n      ", "").replace("'", "")


def test_latex_values_without_entries_show_every_entry_of_a_small_case(capsys, tmp_path):
    args = ["latex", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME",
            "--convention", "legacy_eigen", "--x", "1,2,3,4,5,6,7,8,0", "--k", "10", "--g", "100"]
    assert main([*args, "-o", str(tmp_path / "f.tex")]) == 0
    tex = (tmp_path / "f.tex").read_text()
    shown = set(re.findall(r"^\$(\\mathit\{d[kx]\}|y)_\{([\d,]+)\}\$:", tex, flags=re.M))
    assert len(shown) == 1 + 1 + 9 and ("y", "0,0,0,0") in shown and ("\\mathit{dx}", "0,2,2,0") in shown
    assert capsys.readouterr().err == ""  # no progress line off a terminal
    assert main(["latex", "conv2d", "--input", "1x5x5x1", "--kernel", "3x3x1x1", "--x", "1"]) == 2
    err = capsys.readouterr().err
    assert "this conv2d has 43 entries of y, dk and dx, more than the 32 shown without asking; add the ones you " \
           "want, e.g. --entry 'y[0,0,0,0]'" in err and err.count("\n") == 1


def test_the_proof_hint_names_a_command_that_runs(capsys, monkeypatch):
    assert main(["prove", "--claim", "dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]", "--bound", "1"]) == 0
    hint = re.search(r"\((symconv prove [^,)]*), without --claim, shows them\)", capsys.readouterr().out).group(1)

    class Report:
        ok = True

        def text(self, steps=False):
            return f"the facts, steps={steps}"
    monkeypatch.setattr(proof, "facts", lambda bound=None: Report())
    assert main(shlex.split(hint)[1:]) == 0
    assert capsys.readouterr().out == "the facts, steps=True\n"


def test_a_ticker_shows_the_stage_only_when_asked_and_after_a_while(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    with progress.Ticker("deriving") as ticker:  # stderr is no terminal here
        ticker.stage("checking")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    import threading
    shown = threading.Event()
    with progress.Ticker("deriving", enabled=True) as ticker:
        ticker.stage("checking the entries")
        original = ticker._bar.refresh
        ticker._bar.refresh = lambda *a, **k: (original(*a, **k), shown.set())
        assert shown.wait(10)
    assert "checking the entries" in capsys.readouterr().err


def test_which_stays_light():
    """`symconv which` (pictures and notebook renderings included in the package) imports no
    plotting or progress library and no framework."""
    import subprocess
    import sys
    probe = ("import sys, runpy; sys.argv = ['symconv', 'which', 'conv2d', '--input', '1x3x3x1', '--kernel', "
             "'1x1x1x1', '--reads', 'x[0,0,0,0]']\n"
             "try:\n    runpy.run_module('symconv', run_name='__main__')\n"
             "except SystemExit:\n"
             "    print(sorted(m for m in ('matplotlib', 'tqdm', 'rich', 'tensorflow', 'torch', 'jax') if m in sys.modules),"
             " file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stderr.strip() == "[]" and "x[0,0,0,0] feeds 1 entry of y" in done.stdout
