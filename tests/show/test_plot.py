"""Pictures, tested by what they mark: the cell codes are the images' data, read back from the
figures (and, for the committed founding picture, from the PNG's pixels at each cell's centre)."""

import subprocess
import sys

import numpy as np
import pytest

import symconv
from symconv import ConvSpec, check
from symconv.cli import main
from symconv.model.window import BACKEND_ONLY, INSIDE, MODEL_ONLY, PADDING, PADDING_TAP, READ
from symconv.show import plot

from ..paths import DOCS, EXAMPLES, IMPLS

pytest.importorskip("matplotlib")

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")


def cells(ax) -> dict:
    """code -> sorted (row, column) positions, read from the axes' image and its extent."""
    image = ax.images[0]
    data = np.asarray(image.get_array())
    left, _, _, top = image.get_extent()
    out = {}
    for (r, c), code in np.ndenumerate(data):
        out.setdefault(int(code), []).append((int(r + top + 0.5), int(c + left + 0.5)))
    return {code: sorted(v) for code, v in out.items()}


def test_the_founding_picture_marks_the_centre_for_the_forward_and_the_corner_for_the_gradient():
    picture = plot.founding_picture()
    forward, gradient = picture.figure.axes[:2]
    assert cells(forward)[READ] == [(1, 1)] and cells(gradient)[READ] == [(0, 0)]
    assert "legacy_eigen" in forward.get_title() and "(tf)" in gradient.get_title()
    assert [t.get_text() for t in forward.texts] == ["1", "2", "3", "4", "5", "6", "7", "8", "0"]


def test_the_committed_founding_picture_is_what_the_script_draws(tmp_path):
    """Regenerate it and read the committed PNG's colour at every cell's centre: the same cells
    are marked (no golden pixels: fonts may move the layout a little, never a cell)."""
    from matplotlib.image import imread
    done = subprocess.run([sys.executable, "-m", "symconv.show.plot", "--founding", str(tmp_path / "f.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"wrote {tmp_path / 'f.png'}"
    picture = plot.founding_picture()
    picture.png()  # lays the figure out as saved
    committed = imread(DOCS / "founding_bug.png")
    fresh = imread(tmp_path / "f.png")
    assert committed.shape == fresh.shape
    read = np.array([int(plot.COLOURS[READ][i:i + 2], 16) / 255 for i in (1, 3, 5)])
    height = committed.shape[0]
    for ax in picture.figure.axes[:2]:
        for code, positions in cells(ax).items():
            for r, c in positions:
                x, y = ax.transData.transform((c + 0.3, r + 0.3))  # off the centre's number
                for png in (committed, fresh):
                    colour = png[int(height - y), int(x), :3]
                    assert np.allclose(colour, read, atol=0.02) == (code == READ), (ax.get_title(), r, c)


def test_a_real_size_is_cropped_to_the_window_and_its_padding():
    stem = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
    picture = symconv.which(stem, "y[0,0,0,0]").plot()
    ax = picture.figure.axes[0]
    found = cells(ax)
    assert found[READ] == [(r, c) for r in range(5) for c in range(5)]
    window = {(r, c) for r in range(-2, 5) for c in range(-2, 5)}
    assert set(found[PADDING_TAP]) == {p for p in window if min(p) < 0}
    assert set(found[PADDING]) == {(r, c) for r in range(-2, 6) for c in range(-2, 6) if min(r, c) < 0} - window
    assert "x[0,:,:,0..2]" in ax.get_title() and "cropped to rows -2..5 and columns -2..5 of 224x224" in ax.get_title()
    assert picture._repr_png_().startswith(b"\x89PNG")


def test_check_marks_what_the_backend_read_beside_what_the_model_reads():
    report = check(FOUNDING, impl=str(EXAMPLES / "founding_bug.py"))
    picture = report.plot()
    forward, kernel, filter_grad, _, input_grad = picture.figure.axes[:5]   # one row per quantity
    assert cells(forward)[MODEL_ONLY] == [(0, 0)] and cells(forward)[BACKEND_ONLY] == [(1, 1)]
    assert READ not in cells(forward) and "MISMATCH" in forward.get_title()
    assert cells(kernel)[READ] == [(0, 0)] and "k: both read k[0,0,0,0]" in kernel.get_title()
    assert cells(filter_grad)[READ] == [(0, 0)] and "filter_grad: ok" in filter_grad.get_title()
    assert cells(input_grad)[READ] == [(0, 0)] and input_grad.get_title().startswith("input_grad: ok")


def test_mismatch_pictures_draw_both_factors_once_per_pattern_with_axis_labels():
    """A flipped kernel: per wrong entry, the x pixel and the kernel tap the model's term and
    the implementation's read; two entries that differ only in their channel are one pair of
    panels; every grid says which axis is the row and which the column."""
    spec = ConvSpec("conv2d", "1x8x8x2", "5x5x2x2", padding="SAME")
    report = check(spec, impl=str(IMPLS / "flipped_kernel_all_axes.py"))
    picture = report.plot()
    titles = [ax.get_title() for ax in picture.figure.axes]
    x_panel, k_panel = picture.figure.axes[:2]
    assert "x: model x[0,4,4,1], backend x[0,0,0,1]" in titles[0] and "with k[4,4,1,0] alone lit" in titles[0]
    assert cells(x_panel)[MODEL_ONLY] == [(4, 4)] and cells(x_panel)[BACKEND_ONLY] == [(0, 0)]
    assert cells(k_panel)[READ] == [(4, 4)] and titles[1].startswith("k: both read k[4,4,1,0]")
    merged = [t for t in titles if t.startswith("filter_grad dk[0,0,0,0] and dk[0,0,1,0]: MISMATCH")]
    assert len(merged) == 1 and "x[0,:,:,0..1]" in merged[0]
    for ax in picture.figure.axes:
        if ax.images:
            assert ax.get_xlabel() == "column" and ax.get_ylabel() == "row"
    legend = [t.get_text() for t in picture.figure.legends[0].get_texts()]
    assert "the model's term only" in legend and "the implementation's only" in legend


def test_a_mismatch_seen_through_a_lit_input_pixel_draws_the_kernel_taps_that_differ():
    """x[0,0,0,0] alone lit: both read that pixel, and the picture shows the kernel tap each
    pairs it with (the model k[2,2], the implementation k[3,3])."""
    from symconv.checks.reports import CheckReport, Mismatch, QuantityResult
    from symconv.model.indexmap import Terms, maps_for
    spec = ConvSpec("conv2d", "1x6x6x1", "5x5x1x1", padding="SAME")
    expected = maps_for(spec).terms("forward", (0, 0, 0, 0))
    observed = Terms("forward", (0, 0, 0, 0), ("x", "k"), np.array([[0, 0, 0, 0]]), np.array([[3, 3, 0, 0]]), None)
    mismatch = Mismatch("forward", (0, 0, 0, 0), expected, observed, only_slot=("x", (0, 0, 0, 0)))
    result = QuantityResult("forward", "impl", "mismatch", "1 of 36 entries differ", spec.y_shape,
                            mismatches=[mismatch], mismatch_count=1)
    picture = CheckReport(spec, "impl", None, [result]).plot()
    x_panel, k_panel = picture.figure.axes[:2]
    assert cells(x_panel)[READ] == [(0, 0)] and "x: both read x[0,0,0,0]" in x_panel.get_title()
    assert cells(k_panel)[MODEL_ONLY] == [(2, 2)] and cells(k_panel)[BACKEND_ONLY] == [(3, 3)]
    assert k_panel.get_title().startswith("k: model k[2,2,0,0], backend k[3,3,0,0]")


def test_reverse_and_explain_pictures():
    spec = ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", strides=2, padding="SAME")
    picture = symconv.which(spec, reads="x[0,1,1,0]").plot()
    entry, y, dk = picture.figure.axes[:3]
    assert cells(entry)[READ] == [(1, 1)]
    assert cells(y)[READ] == [(0, 0), (0, 1), (1, 0), (1, 1)] and "y[0,:,:,0]" in y.get_title()
    assert cells(dk)[READ] == [(0, 0), (0, 2), (2, 0), (2, 2)]
    story_spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    from symconv import explain
    picture = explain(story_spec, x=[1, 2, 3, 4, 5, 6, 7, 8, 0], k=[10], g=[100]).plot()
    marked = [cells(ax)[READ] for ax in picture.figure.axes[:4]]
    assert marked == [[(1, 1)], [(1, 1)], [(0, 0)], [(0, 0)]]  # legacy_eigen: y, dk; tf: y, dk


def test_png_options_write_pictures_and_bad_paths_are_one_line(capsys, tmp_path):
    args = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]
    for command, extra in (("which", ["--entry", "y[0,0,0,0]"]), ("which", ["--reads", "x[0,0,0,0]"]),
                           ("explain", []), ("check", ["--backend", "numpy", "--in-process"])):
        target = tmp_path / f"{command}{len(extra)}.png"
        assert main([command, *args, *extra, "--png", str(target)]) == 0
        assert capsys.readouterr().out.endswith(f"wrote picture {target}\n")
        assert target.read_bytes().startswith(b"\x89PNG")
    assert main(["which", *args, "--entry", "y[0,0,0,0]", "--png", str(tmp_path / "missing" / "x.png")]) == 2
    err = capsys.readouterr().err
    assert f"--png '{tmp_path / 'missing' / 'x.png'}' cannot be written: no such folder" in err and err.count("\n") == 1
    with pytest.raises(symconv.SymconvError, match="picture path must be a file name, got int 1"):
        symconv.which(FOUNDING, "y[0,0,0,0]").plot(1)  # never a file descriptor


def test_text_grids_crop_instead_of_disappearing():
    spec = ConvSpec("conv1d", "1x500x1", "3x1x1", padding="SAME")
    text = symconv.which(spec, "y[0,250,0]").text()
    assert "x[0,:,0] (positions 247..253 of 500)\n    . . # # # . ." in text
    spec = ConvSpec("conv2d", "1x2x40x30", "1x1x2x1", data_format="NCHW")
    text = symconv.which(spec, "y[0,0,39,29]").text()
    assert "x[0,0..1,:,:] (rows 33..39 and columns 23..29 of 40x30)\n" + "    . . . . . . .\n" * 6 + \
        "    . . . . . . #" in text
    assert INSIDE == 0  # the grid's unmarked cells are drawn as '.'


def test_explain_draws_every_quantity_asked_or_says_why_not():
    """dx asked is dx drawn (its g cells, with g's values); an entry the tf reading does not
    read anything for says so; more entries than fit are named in the title."""
    from symconv import explain
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    story = explain(spec, x=[1, 2, 3, 4, 5, 6, 7, 8, 0], k=[10], g=[100],
                    entries=["y[0,0,0,0]", "dk[0,0,0,0]", "dx[0,1,1,0]"])
    picture = story.plot()
    titles = [title for title, _ in picture.panels]
    assert titles[:3] == ["y[0,0,0,0] under legacy_eigen: 50", "dk[0,0,0,0] under legacy_eigen: 500",
                          "dx[0,1,1,0] under legacy_eigen: 1000"]
    assert picture.panels[2][1].label == "g[0,:,:,0]" and cells(picture.figure.axes[2])[READ] == [(0, 0)]
    assert [t.get_text() for t in picture.figure.axes[2].texts] == ["100"]
    assert titles[5] == "dx[0,1,1,0] under tf: 0\nreads no entry of g"
    many = explain(ConvSpec("conv2d", "1x4x4x1", "1x1x1x1"), entries=[f"dx[0,0,{c},0]" for c in range(4)]
                   + [f"y[0,1,{c},0]" for c in range(4)])
    assert "the first 6 of the 8 entries asked are drawn" in many.plot().title


def test_an_infer_report_draws_the_pads_read_against_the_models():
    report = symconv.infer(FOUNDING, impl=str(EXAMPLES / "founding_bug.py"))
    picture = report.plot()
    forward, filter_grad, input_grad = picture.figure.axes[:3]
    assert cells(forward)[MODEL_ONLY] == [(0, 0)] and cells(forward)[BACKEND_ONLY] == [(1, 1)]
    assert forward.get_title().startswith("forward y[0,0,0,0]: pads -1:-1,-1:-1\n(legacy_eigen); the model's 0:0,0:0")
    assert cells(filter_grad)[READ] == [(0, 0)] and MODEL_ONLY not in cells(filter_grad)
    assert picture.title.startswith("infer impl") and "inconsistent" in picture.title
