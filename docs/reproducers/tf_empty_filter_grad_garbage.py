"""TensorFlow (seen with 2.21.0, CPU, oneDNN off): the filter gradient of a convolution that has
no output (VALID, kernel larger than the input) is uninitialised memory instead of zeros.
Conv2DBackpropFilter, Conv3DBackpropFilterV2, DepthwiseConv2dNativeBackpropFilter and the
GradientTape over them do the same.

Input 1x2x2x1, kernel 3x3x1x4, VALID: no window fits, so y has shape (1, 0, 0, 4), the upstream
gradient is empty, and every entry of dk = sum over output positions of g * x is an empty sum:
0.  TensorFlow returns whatever the memory held (huge numbers, tiny ones, NaN), different from
run to run, so a training step on such a layer writes garbage into the weights.

Run: python tf_empty_filter_grad_garbage.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"   # must be set before TensorFlow is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

x = tf.constant(np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2, 1))
g = tf.zeros((1, 0, 0, 4))                                  # the gradient of an empty output
for attempt in range(20):                                   # uninitialised: zeros by chance now and then
    dk = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=[3, 3, 1, 4], out_backprop=g, strides=[1, 1, 1, 1],
                                         padding="VALID").numpy()
    if np.any(dk != 0):
        break
print("filter gradient:", dk.ravel()[:8], "... expected 36 zeros")

assert not np.any(dk != 0), \
    f"TensorFlow {tf.__version__} (oneDNN off): the filter gradient of an empty convolution holds " \
    f"{np.count_nonzero(dk)} nonzero values, e.g. {dk.ravel()[np.flatnonzero(dk)[0]]}"
print("TensorFlow", tf.__version__, "agrees")
