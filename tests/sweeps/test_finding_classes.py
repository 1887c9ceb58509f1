"""The matrix's finding classes: silent wrong answers apart from documented unsupported ones,
inconsistent refusals (another path of the same framework, or the same path on the case said
another way, computes what a path refuses), and every finding listing the runs that agree, fail
and refuse.  Built from verdicts (no framework runs here)."""

from __future__ import annotations

from symconv import ConvSpec
from symconv.backends import Variant
from symconv.sweeps.matrix import Matrix, MatrixRun, RunResult
from symconv.sweeps.matrix_report import markdown
from symconv.sweeps.refusals import Contrast, equivalent_specs, inconsistent_refusals
from symconv.sweeps.report import CaseResult, Finding, Verdict

SPEC = ConvSpec("conv2d", "1x5x5x1", "2x2x1x1", dilations=2, padding="1:1,1:1")
RAW = MatrixRun("tf-raw", "tf", Variant(onednn=True), "both")
XLA = MatrixRun("tf-xla", "tf-xla", Variant(onednn=True), "both")
LITE = MatrixRun("litert-xnnpack-1-thread", "litert", Variant(threads=1))
REFUSAL = "InvalidArgumentError: Current libxsmm and customized CPU implementations do not yet support dilation rates"


def _ok(quantity, route):
    return Verdict(quantity, route, route, "ok", "ok", compared=True)


def _matrix(lite_limit=""):
    refused = [_ok("forward", "op"), Verdict("input_grad", "raw", "raw op", "error", "refused", message=REFUSAL),
               _ok("input_grad", "tape")]
    wrong = Verdict("forward", "interpreter", "LiteRT", "mismatch", "finding", "diagnosis: pads 0:0 instead of 1:1",
                    ("shifted_pads",), "2 of 16 entries differ", limit=lite_limit)
    lite = CaseResult("conv2d-case", SPEC, [wrong], [Finding(wrong, SPEC, "symconv check conv2d ...", 0, True,
                                                             "confirmed by symconv.reference")])
    runs = [RunResult(RAW, "a CPU", [CaseResult("conv2d-case", SPEC, refused)]),
            RunResult(XLA, "a CPU", [CaseResult("conv2d-case", SPEC, [_ok("forward", "op"),
                                                                     _ok("input_grad", "raw")])]),
            RunResult(LITE, "a CPU", [lite])]
    return Matrix("quick", runs, "2000-01-01", {"numpy": "2"})


def test_a_refusal_that_another_path_of_the_framework_computes_is_inconsistent():
    found = inconsistent_refusals(_matrix())
    assert [(c.run, c.route, c.other_run, c.other_route) for c in found] == [("tf-raw", "raw", "tf-raw", "tape")]
    text = markdown(_matrix())
    section = text.split("## Inconsistent refusals", 1)[1].split("## Failure modes", 1)[0]
    assert "TensorFlow conv2d: tf-raw refuses what tf-raw (tape) computes" in section
    assert "--backend tf --onednn on --grad-path raw" in section and "--grad-path tape" in section


def test_a_path_that_computes_only_what_symconv_relaid_is_no_evidence_of_an_inconsistent_refusal():
    relaid = Verdict("input_grad", "raw", "x moved from NCHW to NHWC by symconv: raw op", "ok", "ok", compared=True)
    refused = [Verdict("input_grad", "raw", "raw op", "error", "refused", message=REFUSAL)]
    runs = [RunResult(RAW, "a CPU", [CaseResult("conv2d-case", SPEC, refused)]),
            RunResult(XLA, "a CPU", [CaseResult("conv2d-case", SPEC, [relaid])])]
    assert inconsistent_refusals(Matrix("quick", runs, "2000-01-01", {"numpy": "2"})) == []
    runs[1] = RunResult(XLA, "a CPU", [CaseResult("conv2d-case", SPEC, [_ok("input_grad", "raw")])])
    assert len(inconsistent_refusals(Matrix("quick", runs, "2000-01-01", {"numpy": "2"}))) == 1


def test_a_finding_lists_the_runs_that_agree_and_those_that_fail_with_their_kinds():
    text = markdown(_matrix())
    silent = text.split("## Disagreements", 1)[1].split("## Documented unsupported", 1)[0]
    assert "- wrong: litert-xnnpack-1-thread (converted); right: tf-raw (eager op), tf-xla (compiled)" in silent


def test_a_wrong_answer_where_the_framework_documents_the_limit_is_kept_apart():
    text = markdown(_matrix(lite_limit="the converter documents it"))
    silent = text.split("## Disagreements", 1)[1].split("## Documented unsupported", 1)[0]
    documented = text.split("## Documented unsupported", 1)[1].split("## Inconsistent refusals", 1)[0]
    assert "litert conv2d forward" not in silent and "None: every run agrees" in silent
    assert "litert conv2d forward" in documented
    assert "- documented unsupported: the converter documents it" in documented


def test_the_runs_table_names_each_runs_path_and_kind():
    text = markdown(_matrix())
    assert "| litert-xnnpack-1-thread | litert | litert-xnnpack | converted |" in text
    assert "| tf-xla | tf-xla | tf-xla | compiled |" in text


def test_explicit_pads_are_also_said_through_same_and_same_pads_explicitly():
    spelled = dict(equivalent_specs(ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", padding="1:1,1:1")))
    assert [s.padding for s in spelled.values()] == ["SAME"]
    same = ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", padding="SAME")
    (how, explicit), = equivalent_specs(same)
    assert how == "the same pads given explicitly" and explicit.pads == same.pads and explicit.padding != "SAME"
    assert equivalent_specs(ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", padding="-1:1,1:1")) == []


def test_a_run_that_computes_the_case_said_another_way_is_reported_with_both_specs():
    other = ConvSpec("conv2d", "1x5x5x1", "2x2x1x1", dilations=2, padding="SAME")
    matrix = _matrix()
    matrix.runs[0].contrasts = [Contrast("TensorFlow", "tf-raw", "conv2d-case", SPEC, "input_grad", "raw", REFUSAL,
                                         "tf-raw", "raw", other, "the same pads as SAME (convention tf)")]
    section = markdown(matrix).split("## Inconsistent refusals", 1)[1]
    assert "the same pads as SAME (convention tf)" in section
    assert "--padding 1:1,1:1" in section and "--padding SAME" in section
