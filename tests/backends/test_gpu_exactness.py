"""On a GPU, probe values stay exact: PyTorch runs with TF32 off, JAX at Precision.HIGHEST.
Checked where it is decided (the backend's own settings), so that it holds without a GPU too;
a GPU that is asked for and absent is a skip with a reason, never a wrong answer."""

import subprocess
import sys

from ..conftest import need_backend

TORCH = """
from symconv.backends import Variant
from symconv.backends.torch_backend import TorchBackend
import torch
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
backend = TorchBackend(Variant("gpu"))
backend.load()
print(torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
"""

JAX = """
import jax
from symconv import ConvSpec
from symconv.backends import Variant
from symconv.backends.jax_backend import JaxBackend
import numpy as np
backend = JaxBackend(Variant())
backend.load()
spec = ConvSpec("conv2d_transpose", "1x3x3x2", "2x2x1x2", strides=2, padding="SAME", groups=2)
for quantity, inputs in (("forward", ("x", "k")), ("filter_grad", ("x", "g")), ("input_grad", ("k", "g"))):
    from symconv import layout
    shapes = [layout.stored_view(spec, n, np.zeros(spec.shape_of(n), np.float32)).shape for n in inputs]
    text = str(jax.make_jaxpr(backend._build(spec, quantity))(*[np.zeros(s, np.float32) for s in shapes]))
    convs = [block.split("]")[0] for block in text.split("conv_general_dilated[")[1:]]
    print(quantity, len(convs), all("precision=(Precision.HIGHEST, Precision.HIGHEST)" in c for c in convs))
"""


def _run(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_torch_turns_tf32_off_for_matmul_and_cudnn(request):
    need_backend(request.config, "torch")
    assert _run(TORCH) == ["False", "False"]


def test_every_jax_convolution_runs_at_highest_precision(request):
    """Forward, filter and input gradients (the vjp's own convolutions included) of a grouped
    transposed convolution, JAX's most indirect route."""
    need_backend(request.config, "jax")
    out = _run(JAX)
    for quantity in ("forward", "filter_grad", "input_grad"):
        count, highest = out[out.index(quantity) + 1:out.index(quantity) + 3]
        assert int(count) >= 1 and highest == "True", out
