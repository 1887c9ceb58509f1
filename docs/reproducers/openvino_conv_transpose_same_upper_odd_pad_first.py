"""OpenVINO (seen with 2026.4.1, CPU plugin, f32): an ONNX ConvTranspose with auto_pad SAME_UPPER
and an output_shape puts the odd pixel of padding at the beginning, as SAME_LOWER does; ONNX
Runtime (1.32.0) follows the operator's definition and puts it at the end.

ONNX's ConvTranspose: with output_shape given, the padding total is
stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - out, and SAME_UPPER puts
total // 2 at the beginning and the rest at the end (SAME_LOWER the other way round).  One input
pixel (1), a kernel [10, 20], output_shape [1]: the full output is [10, 20], the total is
0 + 0 + 2 - 1 = 1, so SAME_UPPER crops 0 at the beginning and 1 at the end: y = [10].  OpenVINO
returns [20], the full output with its first pixel cropped.

Run: python openvino_conv_transpose_same_upper_odd_pad_first.py  (needs onnx, onnxruntime, openvino)
"""

import numpy as np
import onnxruntime as ort
import openvino as ov
from onnx import TensorProto, helper

node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], auto_pad="SAME_UPPER", output_shape=[1])
graph = helper.make_graph([node], "conv_transpose",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1]),
                           helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()

x = np.ones((1, 1, 1), dtype=np.float32)                          # N, C, W: one pixel, 1
w = np.array([10, 20], dtype=np.float32).reshape(1, 1, 2)        # C_in, C_out, kernel W

runtime = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x, "w": w})[0].ravel()
core = ov.Core()
compiled = core.compile_model(core.read_model(model, b""), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
vino = np.asarray(compiled([x, w])[compiled.output(0)]).ravel()

print("ONNX Runtime:", runtime, "OpenVINO:", vino, "expected [10.]")
assert runtime.tolist() == [10.0], f"ONNX Runtime {ort.__version__} gives {runtime}"
assert vino.tolist() == [10.0], f"OpenVINO {ov.__version__} puts SAME_UPPER's odd pixel of padding first: {vino}, " \
                                "expected [10.]"
print("OpenVINO agrees")
