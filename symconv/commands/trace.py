"""symconv trace: which input entries one activation of a network reads, and by how many paths."""

import json

from ..show.outputs import write_text
from .arguments import add_report_arguments, report_stream

HELP = "exact provenance of one activation of a whole network, back to the input"
EPILOG = """examples:
  symconv trace --input 1x224x224x3 --layers "conv2d 7x7 s2 SAME > maxpool 3x3 s2 SAME > conv2d 3x3 s1 SAME" \
      --entry 'out[0,0,0,5]' --png trace.png
  symconv trace --input 1x64x64x3 --layers "conv2d 3x3 s2 SAME > conv2d 3x3 s2 SAME" --pixel 'x[0,10,10,0]'"""


def configure(parser):
    source = parser.add_argument_group("network (one of)")
    source.add_argument("--layers", metavar="CHAIN",
                        help="a chain, e.g. \"conv2d 7x7 s2 SAME > maxpool 3x3 s2 SAME > conv2d 3x3 SAME\" "
                             "(needs --input; layers are l1, l2, ..., the last also out)")
    source.add_argument("--model", metavar="FILE", help="a saved Keras model (.keras)")
    source.add_argument("--torch", metavar="FILE.py:NAME",
                        help="a Python file and a function or class in it that returns a torch.nn.Module "
                             "(needs --input, NCHW); it runs in a child process of its own")
    parser.add_argument("--input", metavar="SHAPE", help="input shape, e.g. 1x224x224x3 (chains: channels last)")
    parser.add_argument("--convention", metavar="C", default="tf",
                        help="how a chain's SAME is resolved: tf, same_lower, legacy_eigen, torch (default tf)")
    ask = parser.add_argument_group("question (one of)")
    ask.add_argument("--entry", metavar="LAYER[...]", help="an entry of a layer, e.g. out[0,0,0,5]")
    ask.add_argument("--pixel", metavar="x[...]",
                     help="an input entry: which entries of --layer read it (the reverse question)")
    ask.add_argument("--summary", action="store_true",
                     help="the affine summary (receptive-field size, stride, offset) of every layer")
    parser.add_argument("--layer", metavar="NAME", help="the layer whose entries read --pixel (default the last)")
    out = parser.add_argument_group("answers")
    add_report_arguments(out, "the input entries read")
    out.add_argument("--latex", metavar="FILE", help="write a LaTeX derivation of the composed index map "
                                                     "(short chains of window layers)")
    out.add_argument("--check", action="store_true",
                     help="compare with the model's own gradient (Keras or PyTorch models)")
    parser.add_argument("--timeout", metavar="SECONDS", default=None,
                        help="seconds the --torch model may take to build, trace and check in its process "
                             "(default 300)")
    parser.epilog = EPILOG


def _network(args, check=None):
    """(Network, model or None, check report or None): a --torch model is built (and, with
    ``check`` = (layer, entry), checked) in a guarded child, so the model itself stays there."""
    from ..errors import SymconvError
    given = [name for name in ("layers", "model", "torch") if getattr(args, name)]
    if len(given) != 1:
        raise SymconvError("give one network: --layers CHAIN (with --input), --model FILE.keras or "
                           "--torch FILE.py:NAME (with --input)")
    if args.layers is not None:
        if not args.input:
            raise SymconvError("--layers needs --input, e.g. --input 1x224x224x3")
        from ..network.chain import parse_chain
        return parse_chain(args.layers, args.input, args.convention, field="--layers"), None, None
    if args.model is not None:
        from ..network.keras_import import from_keras_file
        net = from_keras_file(args.model)
        return net, net.model, None
    if not args.input:
        raise SymconvError("--torch needs --input, e.g. --input 1x3x224x224")
    from ..network.factory import run_factory
    net, report = run_factory(args.torch, args.input, check, timeout=args.timeout)
    return net, None, report


def run(args) -> int:
    from ..errors import SymconvError
    from ..model.values import timeout_seconds
    from ..network import parse_entry_text, readers, trace
    from ..network.answer import dumps
    from ..network.summary import summary_json, summary_text
    from ..show.outputs import check_path, described
    timeout_seconds(args.timeout)   # a bad timeout or output file before anything runs
    if args.latex is not None:
        check_path(args.latex, "--latex", "derivation.tex")
    out = report_stream(args, ("--latex", args.latex))
    asked = [bool(args.entry), bool(args.pixel), bool(args.summary)]
    if sum(asked) != 1:
        raise SymconvError("ask one question: --entry LAYER[...], --pixel x[...] (with --layer) or --summary")
    if args.check and not args.entry:
        raise SymconvError("--check is for --entry")
    if args.check and args.layers is not None:
        raise SymconvError("--check compares with a model's gradient: give --model or --torch")
    question = parse_entry_text(args.entry) if args.entry else None
    net, model, report = _network(args, question if args.check else None)
    if args.summary:
        print(json.dumps(summary_json(net)) if args.json else summary_text(net), file=out)
        return 0
    if args.pixel:
        name, index = parse_entry_text(args.pixel)
        net.node(name)
        if net.node(name).name != net.inputs[0]:
            raise SymconvError(f"--pixel must be an entry of the input {net.inputs[0]!r}, got {name!r}")
        answer = readers(net, args.layer or list(net.nodes)[-1], index)
    else:
        name, index = question
        answer = trace(net, name, index)
    status = 0
    if args.check:
        if report is None:
            from ..network.gradcheck import check_model
            report = check_model(model, answer.layer, answer.index, net=net)
        status = 0 if report.ok else 1
    if args.png is not None:
        answer.plot(args.png)
    if args.latex is not None:
        from ..network.derivation import document
        write_text(args.latex, document(answer), "--latex")
    if args.json:
        obj = answer.to_json()
        if report is not None:
            obj["check"] = report.to_json()
        print(dumps(obj), file=out)
    else:
        print(answer.text(), file=out)
        if report is not None:
            print(report.text(), file=out)
        for path, what in ((args.png, "picture"), (args.latex, "LaTeX derivation")):
            if path is not None:
                print(f"wrote {what} {described(path)}", file=out)
    return status
