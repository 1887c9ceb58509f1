"""LiteRT (ai-edge-litert 2.3.0, model from TensorFlow 2.21's TFLiteConverter; with XNNPACK and
with the built-in kernels alike): a dilated tf.nn.depthwise_conv2d with explicit pads is converted
as if its padding were 'SAME': the pads are replaced by SAME's, so the model reads other pixels
(where the totals agree but the split differs) or returns another output shape, with no error.

Along W, input [1, 2, 3], kernel taps [10, 20] dilated by 5 or by 2:
- dilation 5 (effective size 6), pads 3 before and 2 after: output w reads x[w - 3]*10 + x[w + 2]*20,
  so y = [60, 0, 0] (only y[0] reaches a pixel, x[2] = 3).  SAME's pads are 2:3: y = [0, 0, 10].
- dilation 2 (effective size 3), one pixel of padding after: the padded row is [1, 2, 3, 0], two
  outputs, y = [10*1 + 20*3, 10*2 + 20*0] = [70, 20].  SAME's pads are 1:1: three outputs.
TensorFlow returns the first of each pair; the converted model the second.

Run: python litert_depthwise_dilated_explicit_pads_as_same.py  (needs tensorflow and ai-edge-litert)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

x = np.array([1, 2, 3], dtype=np.float32).reshape(1, 1, 3, 1)              # NHWC, W = 3
k = tf.constant(np.array([10, 20], dtype=np.float32).reshape(1, 2, 1, 1))   # H, W, channels, multiplier


def both(dilation, pads):
    """(TensorFlow's output, the converted model's) of the layer with explicit pads on W."""
    def layer(inputs):
        return tf.nn.depthwise_conv2d(inputs, k, strides=[1, 1, 1, 1], padding=[[0, 0], [0, 0], pads, [0, 0]],
                                      dilations=[1, dilation])
    function = tf.function(layer)
    concrete = function.get_concrete_function(tf.TensorSpec(x.shape, tf.float32))
    interpreter = Interpreter(model_content=tf.lite.TFLiteConverter.from_concrete_functions(
        [concrete], function).convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return layer(tf.constant(x)).numpy().ravel(), interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


wrong = []
for dilation, pads, expected in ((5, [3, 2], [60.0, 0.0, 0.0]), (2, [0, 1], [70.0, 20.0])):
    eager, converted = both(dilation, pads)
    print(f"dilation {dilation}, pads {pads[0]}:{pads[1]}: TensorFlow {eager}, LiteRT {converted.ravel()}, "
          f"expected {expected}")
    assert eager.tolist() == expected, f"TensorFlow {tf.__version__} gives {eager}"
    if converted.ravel().tolist() != expected:
        wrong.append(f"dilation {dilation}, pads {pads[0]}:{pads[1]}: {converted.ravel()} (shape {converted.shape}), "
                     f"expected {expected}")
assert not wrong, f"LiteRT of TFLiteConverter ({tf.__version__}) pads a dilated depthwise convolution as SAME: " \
                  + "; ".join(wrong)
print("LiteRT agrees")
