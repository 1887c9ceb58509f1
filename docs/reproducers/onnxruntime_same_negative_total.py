"""ONNX Runtime (seen with 1.32.0, CPU provider): Conv with auto_pad SAME_UPPER or SAME_LOWER does
not clamp a negative padding total, so when the stride is larger than the kernel the window
starts inside the input.

ONNX's Conv: with auto_pad SAME_*, the output size is ceil(in / stride) and the padding total is
(out - 1) * stride + (kernel - 1) * dilation + 1 - in, split between the ends (the odd pixel at
the end for SAME_UPPER, at the beginning for SAME_LOWER).  A negative total means there is
nothing to pad: TensorFlow ('SAME') and JAX ('SAME', 'SAME_LOWER') start the first window at
pixel 0.  ONNX Runtime starts it at pixel 1 once the total is -3 or less (SAME_UPPER) or -4 or
less (SAME_LOWER), so a model exported with SAME reads other pixels than it was trained on.

Run: python onnxruntime_same_negative_total.py  (needs onnx and onnxruntime)
"""

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper


def conv1d(x, w, stride, auto_pad):
    """One ONNX Conv node, NCW input, OIW kernel."""
    node = helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=auto_pad, strides=[stride])
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
                                               helper.make_tensor_value_info("w", TensorProto.FLOAT, w.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x, "w": w})[0]


w = np.array([[[10]]], dtype=np.float32)                    # one tap of weight 10

# SAME_UPPER, input [1, 2, 3, 4], stride 4: out = ceil(4/4) = 1; total = 0*4 + 1 - 4 = -3 < 0,
# nothing to pad, the only window reads x[0] = 1: y = [10].
x4 = np.array([[[1, 2, 3, 4]]], dtype=np.float32)
upper = conv1d(x4, w, 4, "SAME_UPPER").ravel()
print("SAME_UPPER, input [1 2 3 4], stride 4:", upper, "expected [10.]")

# SAME_LOWER, input [1, 2, 3, 4, 5], stride 5: out = 1; total = 1 - 5 = -4 < 0: y = [10].
x5 = np.array([[[1, 2, 3, 4, 5]]], dtype=np.float32)
lower = conv1d(x5, w, 5, "SAME_LOWER").ravel()
print("SAME_LOWER, input [1 2 3 4 5], stride 5:", lower, "expected [10.]")

assert upper.tolist() == [10.0] and lower.tolist() == [10.0], \
    f"ONNX Runtime {ort.__version__} starts the SAME window inside the input: {upper} and {lower}, expected [10.]"
print("ONNX Runtime", ort.__version__, "agrees")
