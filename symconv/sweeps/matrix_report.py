"""The conformance matrix as Markdown (docs/conformance.md): the machine and versions, the runs
(each with its machine and what its framework said about itself there, such as whether oneDNN was
on), the conventions observed per run x op x padding mode, every disagreement between frameworks
with its smallest failing case, how often that case failed again in fresh runs and on which
machines, a runnable command and a standalone reproducer, and every failure mode."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .cases import padding_label
from .matrix import NOT_RUN, ROW_HEAD, refusal_key, row_line
from .refusals import inconsistent_refusals
from .report import refusal_text
from .shrink import command_line


@dataclass(frozen=True)
class Reproducer:
    """A script under docs/reproducers/ that shows a finding with the framework alone; it
    reproduces the findings of ``backend`` on ``quantity`` whose kind contains ``kind``, for
    ``ops``, on cases with no output or with one (``empty``), where the run's variant has
    ``options``."""

    path: str
    backend: str
    quantity: str
    kind: str
    ops: tuple
    empty: bool
    options: tuple = ()     # (option, value) pairs the run's variant must have

    def matches(self, run, spec, verdict) -> bool:
        return (run.backend == self.backend and verdict.quantity == self.quantity and self.kind in verdict.kind
                and spec.op in self.ops and spec.is_empty == self.empty
                and all(run.variant.get(k) == v for k, v in self.options))


_DIRECT = ("conv1d", "conv2d", "conv3d", "depthwise_conv2d")
_TRANSPOSED = ("conv1d_transpose", "conv2d_transpose", "conv3d_transpose")
REPRODUCERS = [
    Reproducer("docs/reproducers/tf_onednn_empty_output.py", "tf", "forward", "wrong output shape", _DIRECT, True,
               (("onednn", True),)),
    Reproducer("docs/reproducers/tf_empty_filter_grad_garbage.py", "tf", "filter_grad", "", _DIRECT, True,
               (("onednn", False),)),
    Reproducer("docs/reproducers/tf_conv3d_legacy_same.py", "tf", "forward", "legacy_eigen", ("conv3d",), False,
               (("onednn", False),)),
    Reproducer("docs/reproducers/tf_conv3d_legacy_same.py", "tf", "input_grad", "legacy_eigen",
               ("conv3d_transpose",), False, (("onednn", False),)),
    Reproducer("docs/reproducers/tf_depthwise_backprop_ignores_dilation.py", "tf", "filter_grad", "dilation",
               ("depthwise_conv2d",), False),
    Reproducer("docs/reproducers/tf_depthwise_backprop_ignores_dilation.py", "tf", "input_grad", "dilation",
               ("depthwise_conv2d",), False),
    Reproducer("docs/reproducers/tf_depthwise_wrong_output_shape.py", "tf", "forward", "wrong output shape",
               ("depthwise_conv2d",), False),
    Reproducer("docs/reproducers/tf_depthwise_wrong_output_shape.py", "tf-xla", "forward", "wrong output shape",
               ("depthwise_conv2d",), False),
    Reproducer("docs/reproducers/onnxruntime_same_negative_total.py", "onnxruntime", "forward", "", _DIRECT, False),
    Reproducer("docs/reproducers/tf2onnx_grouped_conv_transpose_drops_groups.py", "onnxruntime", "forward",
               "wrong output shape", _TRANSPOSED, False, (("onnx_from", "tf"),)),
    Reproducer("docs/reproducers/tf2onnx_conv_transpose_explicit_pads_swapped.py", "onnxruntime", "forward", "",
               _TRANSPOSED, False, (("onnx_from", "tf"),)),
    Reproducer("docs/reproducers/litert_depthwise_dilated_explicit_pads_as_same.py", "litert", "forward", "",
               ("depthwise_conv2d",), False),
    Reproducer("docs/reproducers/openvino_conv_transpose_same_upper_odd_pad_first.py", "openvino", "forward", "",
               _TRANSPOSED, False),
]


# Inconsistent refusals with a reproducer: (script, backend of the refusing run, ops, words of the refusal).
REFUSAL_REPRODUCERS = [
    ("docs/reproducers/tf_convolution_3d_tape_attribute_error.py", "tf", ("conv3d",), "AttributeError"),
    ("docs/reproducers/tf_explicit_pads_dilation_gradients_refused.py", "tf", ("conv1d", "conv2d"),
     "do not yet support dilation rates larger than 1"),
]


def refusal_reproducer(contrast, backend: str) -> str | None:
    return next((path for path, owner, ops, words in REFUSAL_REPRODUCERS
                 if owner == backend and contrast.spec.op in ops and words in contrast.message), None)


def reproducer_for(run, spec, verdict) -> str | None:
    return next((r.path for r in REPRODUCERS if r.matches(run, spec, verdict)), None)


@dataclass
class Group:
    """One finding as several runs and cases show it."""

    backend: str
    op: str
    padding: str
    quantity: str
    kind: str
    runs: list
    cases: list
    first: object          # the first Finding
    first_run: object
    reproducer: str | None
    by_run: dict = None    # run name -> (CaseResult, Finding): that run's first in the group
    documented: str = ""   # where the framework documents (or warned) that it does not support the case


def finding_groups(matrix) -> list:
    groups = {}
    for done in matrix.runs:
        for result in done.results:
            for finding in result.findings:
                v = finding.verdict
                key = (done.run.backend, result.spec.op, padding_label(result.spec), v.quantity,
                       v.hypotheses[0] if v.hypotheses else v.kind)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = Group(done.run.backend, result.spec.op, padding_label(result.spec),
                                                v.quantity, v.kind, [], [], finding, done.run,
                                                reproducer_for(done.run, result.spec, v), {}, v.limit)
                if done.run.name not in group.runs:
                    group.runs.append(done.run.name)
                    group.by_run[done.run.name] = (result, finding)
                if result.case_id not in group.cases:
                    group.cases.append(result.case_id)
    return list(groups.values())


def _agreeing(matrix, group) -> list:
    """Runs whose every verdict on the group's quantity, on each of its cases, is ok."""
    return _sides(matrix, group)["agree"]


def _sides(matrix, group) -> dict:
    """Every run that ran the group's cases, by what it did on the group's quantity there:
    agree (every verdict ok), fail (a finding), refuse (the framework's exception), skip."""
    out = {"agree": [], "fail": [], "refuse": [], "skip": []}
    for done in matrix.runs:
        by_case = {r.case_id: r for r in done.results}
        verdicts = [v for case in group.cases if case in by_case for v in by_case[case].verdicts
                    if v.quantity == group.quantity]
        if not verdicts:
            continue
        kinds = {v.verdict for v in verdicts}
        side = "fail" if "finding" in kinds else "refuse" if "refused" in kinds else \
            "agree" if kinds == {"ok"} else "skip" if kinds == {"skipped"} else "agree"
        out[side].append(done.run.name)
    return out


def _named(matrix, names) -> str:
    """Run names with their execution paths' kinds: 'litert-xnnpack-1-thread (converted)'."""
    kinds = {d.run.name: d.run.path.kind for d in matrix.runs}
    return ", ".join(f"{n} ({kinds[n]})" for n in names) if names else "none"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def recheck_lines(matrix, group) -> list:
    """How often the group's smallest case failed again in fresh runs, per run, and the machines
    (CPU and extensions, or GPU) where it did."""
    done = {d.run.name: d for d in matrix.runs}
    counts, machines = [], []
    for name in group.runs:
        result, finding = group.by_run[name]
        recheck = done[name].recheck_of(result, finding)
        if recheck is None or not recheck.runs:
            continue
        counts.append(f"{name} {recheck.text()}")
        if recheck.reproduced and done[name].card not in machines:
            machines.append(done[name].card)
    if not counts:
        return []
    return [f"- failed again in fresh runs of its smallest case (each a new process): {'; '.join(counts)}",
            f"- reproduced on: {'; '.join(machines) if machines else 'no machine in these runs'}"]


def _facts(done) -> str:
    return ", ".join(f"{name} {value}" for name, value in done.facts.items()) or "-"


def markdown(matrix) -> str:
    lines = ["# Conformance matrix", "",
             f"Generated by `{matrix.command or 'symconv matrix --size ' + matrix.size}` on {matrix.date} "
             f"({matrix.seconds / 60:.1f} minutes). Each run is one backend with one variant; each case of the "
             f"{matrix.size} sweep is checked exactly (y, dk and dx, every entry), findings are shrunk to the "
             f"smallest case that fails the same way and confirmed against `symconv.reference` (plain loops, "
             f"written without the index maps); each finding's smallest case is then checked {matrix.recheck} "
             f"time{'s' if matrix.recheck != 1 else ''} more, each time in a fresh process, and the report says "
             f"how often it failed again.", "",
             "Versions: " + ", ".join(f"{name} {version}" for name, version in matrix.versions.items()) + ".", ""]
    if matrix.machine:
        lines += [f"Machine: {matrix.machine}.", ""]
    if matrix.tensorflow_default:
        lines += [f"TensorFlow's own oneDNN default on this machine: {matrix.tensorflow_default} (TensorFlow turns "
                  f"oneDNN on by default only on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX; the TensorFlow "
                  f"runs below set it explicitly, and \"in effect\" is what TensorFlow said where each ran).", ""]
    lines += ["## Runs", "",
              "| run | backend | path | kind | variant | in effect | gradients | device | card | cases | ok | refused "
              "| findings | seconds |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for done in matrix.runs:
        run = done.run
        variant = run.variant.describe()
        if done.not_run:
            lines.append(f"| {run.name} | {run.backend} | {run.path.name} | {run.path.kind} | {variant} | - | "
                         f"{run.grad_path} | {run.device} | - | {NOT_RUN}: {done.not_run} | | | | |")
            continue
        counts = Counter(r.verdict for r in done.results)
        lines.append(f"| {run.name} | {run.backend} | {run.path.name} | {run.path.kind} | {variant} | {_facts(done)} | "
                     f"{run.grad_path} | {run.device} | "
                     f"{done.card} | {len(done.results)} | {counts['ok']} | {counts['refused']} | "
                     f"{counts['finding']} | {done.seconds:.0f} |")
    lines += ["", "## Conventions observed", "",
              "Per run x op x padding mode: the convention (or pads) each quantity was seen to use, read from the "
              "cases of that cell (where `check` found a quantity exactly right its pads are the model's; where it "
              "found a difference, `infer` read them from one-hot probes); whether y, dk and dx read the same "
              "padding; and the cases' verdicts (refused: the framework raised its own exception; a finding: "
              "wrong values, a wrong shape, garbage or a crash). \"as given\": explicit or VALID pads used as "
              "given.", "",
              "| " + " | ".join(ROW_HEAD) + " |", "|" + "---|" * len(ROW_HEAD)]
    for key, cells in matrix.rows().items():
        lines.append(row_line(key, cells))
    groups = finding_groups(matrix)
    silent = [g for g in groups if not g.documented]
    documented = [g for g in groups if g.documented]
    lines += ["", "## Disagreements", "",
              "Silent wrong answers: a run computed something the model says is wrong (wrong pixels, a wrong shape, "
              "garbage) or crashed, on a case its framework neither documents as unsupported nor warns about. Each "
              "lists every run that agrees with the model on its cases and every run that fails or refuses them, "
              "with its execution path's kind.", ""]
    if not silent:
        lines.append("None: every run agrees with the model wherever it computes.")
    lines += _group_lines(matrix, silent, 1)
    lines += ["## Documented unsupported", "",
              "Wrong answers on cases the framework documents it does not support, or warned about when it computed "
              "them: kept apart from the silent ones above (the framework said so; it computed anyway).", ""]
    if not documented:
        lines += ["None.", ""]
    lines += _group_lines(matrix, documented, len(silent) + 1)
    lines += inconsistent_lines(matrix)
    lines += failure_modes(matrix)
    return "\n".join(lines).rstrip() + "\n"


def _group_lines(matrix, groups, start: int) -> list:
    lines = []
    for number, group in enumerate(groups, start):
        first = group.first
        lines += [f"### {number}. {group.backend} {group.op} {group.quantity} ({group.padding}): {first.verdict.kind}",
                  "",
                  f"- found by: {', '.join(group.runs)}, on {len(group.cases)} case"
                  f"{'s' if len(group.cases) != 1 else ''}: {', '.join(group.cases)}",
                  f"- what: {first.verdict.text()}"]
        if group.documented:
            lines.append(f"- documented unsupported: {group.documented}")
        sides = _sides(matrix, group)
        agree = ", ".join(sides["agree"]) if sides["agree"] else "none"
        lines.append(f"- agree with the model on these cases: {agree}")
        lines.append(f"- wrong: {_named(matrix, sides['fail'])}; right: {_named(matrix, sides['agree'])}"
                     + (f"; refuse: {_named(matrix, sides['refuse'])}" if sides["refuse"] else ""))
        if first.confirmation:
            lines.append(f"- {first.confirmation}")
        lines += recheck_lines(matrix, group)
        if first.command:
            lines += ["- smallest case that fails the same way:", "", "  ```sh", f"  {first.command}", "  ```"]
        lines.append(f"- standalone reproducer: [{group.reproducer}]({group.reproducer.replace('docs/', '')})"
                     if group.reproducer else "- standalone reproducer: none yet")
        lines.append("")
    return lines


def _command(matrix, run_name, spec, route) -> str:
    run = next(d.run for d in matrix.runs if d.run.name == run_name)
    options = run.target.options
    if route in ("raw", "tape") and run.grad_path == "both":
        options = options[:options.index("--grad-path")] + ["--grad-path", route] if "--grad-path" in options \
            else options + ["--grad-path", route]
    return command_line(spec, options)


def inconsistent_lines(matrix) -> list:
    """The inconsistent refusals, grouped by framework, op, quantity and the refusal's words."""
    lines = ["## Inconsistent refusals", "",
             "A path refuses a case (raises its framework's exception) that another path of the same framework "
             "computes exactly, or that the same path computes said another way (the same pads through SAME): "
             "the refusal is not the framework's limit but a defect of the refusing path. Both commands are given.",
             ""]
    groups = {}
    for contrast in inconsistent_refusals(matrix):
        key = (contrast.framework, contrast.spec.op, refusal_key(contrast.message))
        groups.setdefault(key, []).append(contrast)
    if not groups:
        return lines + ["None: every refusal is a case no other path of its framework computes.", ""]
    for number, ((framework, op, _), items) in enumerate(groups.items(), 1):
        first = items[0]
        size = lambda c: (sum(c.spec.x_shape) + sum(c.spec.k_shape), c.case_id)  # noqa: E731
        smallest = min(items, key=size)
        refusing = list(dict.fromkeys(f"{c.run} {c.quantity} ({c.route})" for c in items))
        computed_by = list(dict.fromkeys(f"{c.other_run} ({c.other_route})" + (f", {c.how}" if c.how else "")
                                         for c in items))
        # The smallest case of each way it is computed (another path; the same path said otherwise).
        ways = {}
        for c in sorted(items, key=size):
            ways.setdefault((c.other_run, c.other_route, c.how), c)
        lines += [f"### {number}. {framework} {op}: {first.run} refuses what {computed_by[0]} computes", "",
                  f"- refused: {_cell(refusal_text(first.message))}",
                  f"- refused by: {', '.join(refusing)}",
                  f"- computed exactly by: {'; '.join(computed_by)}",
                  f"- cases: {', '.join(dict.fromkeys(c.case_id for c in items))}",
                  "- the refusal, then the same convolution computed:", "", "  ```sh",
                  f"  {_command(matrix, smallest.run, smallest.spec, smallest.route)}"]
        lines += [f"  {_command(matrix, c.other_run, c.other_spec or c.spec, c.other_route)}"
                  for c in list(ways.values())[:3]]
        backend = next(d.run.backend for d in matrix.runs if d.run.name == first.run)
        script = next(filter(None, (refusal_reproducer(c, backend) for c in items)), None)
        lines += ["  ```"] + ([f"- standalone reproducer: [{script}]({script.replace('docs/', '')})"] if script else [])
        lines.append("")
    return lines


def failure_modes(matrix) -> list:
    lines = ["## Failure modes", "",
             "How each run fails where it does not compute the model: findings that are not wrong values "
             "(wrong shapes, garbage, crashes, exceptions from symconv's adapter), then the framework's own "
             "refusals (an exception it raised: its right), grouped by message.", "",
             "| run | op | quantity | failure | cases | example |", "|---|---|---|---|---|---|"]
    rows = {}
    for done in matrix.runs:
        for result in done.results:
            for finding in result.findings:
                v = finding.verdict
                if v.status == "mismatch":
                    continue
                key = (done.run.name, result.spec.op, v.quantity, v.kind)
                rows.setdefault(key, []).append(result.case_id)
    for (run, op, quantity, kind), cases in rows.items():
        lines.append(f"| {run} | {op} | {quantity} | {_cell(kind)} | {len(cases)} | {cases[0]} |")
    if not rows:
        lines.append("| - | - | - | none | 0 | - |")
    lines += ["", "| refusal (the framework's message) | runs | quantities | example |", "|---|---|---|---|"]
    refusals = {}
    for done in matrix.runs:
        for result in done.results:
            for v in result.verdicts:
                if v.verdict == "refused":
                    entry = refusals.setdefault(refusal_key(v.message),
                                                [refusal_text(v.message), [], 0, result.case_id])
                    if done.run.name not in entry[1]:
                        entry[1].append(done.run.name)
                    entry[2] += 1
    for text, runs, count, example in refusals.values():
        lines.append(f"| {_cell(text)} | {', '.join(runs)} | {count} | {example} |")
    if not refusals:
        lines.append("| none | - | 0 | - |")
    return lines
