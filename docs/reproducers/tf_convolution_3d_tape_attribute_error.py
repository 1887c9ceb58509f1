"""TensorFlow (seen with 2.21.0, CPU): tf.nn.convolution on a 3-D input, called as its docstring
shows it (no data_format), computes the forward, but tf.GradientTape cannot differentiate it: the
gradient raises AttributeError ('NoneType' object has no attribute 'decode'), while the same
convolution through tf.nn.conv3d differentiates fine.  An inconsistent refusal: one path of
TensorFlow refuses what another computes, and the exception is not a refusal TensorFlow meant.

Input 2x1x1 (depth 2, height 1, width 1) holding [1, 2], a 1x1x1 kernel k = [[[3]]], VALID:
y = [3, 6].  With upstream gradient g = [10, 100], dL/dk = 10*1 + 100*2 = 210.

Run: python tf_convolution_3d_tape_attribute_error.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

x = tf.constant(np.array([1, 2], dtype=np.float32).reshape(1, 2, 1, 1, 1))   # NDHWC
k = tf.constant(np.array([3], dtype=np.float32).reshape(1, 1, 1, 1, 1))      # DHWIO
g = tf.constant(np.array([10, 100], dtype=np.float32).reshape(1, 2, 1, 1, 1))

with tf.GradientTape() as tape:
    tape.watch(k)
    y = tf.nn.conv3d(x, k, strides=[1, 1, 1, 1, 1], padding="VALID")
print("tf.nn.conv3d: y", y.numpy().ravel(), "dk", tape.gradient(y, k, output_gradients=g).numpy().ravel(),
      "expected y [3. 6.], dk [210.]")

with tf.GradientTape() as tape:
    tape.watch(k)
    y = tf.nn.convolution(x, k, padding="VALID")
print("tf.nn.convolution: y", y.numpy().ravel(), "expected [3. 6.]")
try:
    dk = tape.gradient(y, k, output_gradients=g)
except AttributeError as err:
    raise AssertionError(f"TensorFlow {tf.__version__}: tf.GradientTape over tf.nn.convolution (3-D) raised "
                         f"AttributeError: {err}; tf.nn.conv3d gave the expected dk [210.]") from None
print("tf.nn.convolution: dk", dk.numpy().ravel(), "expected [210.]")
assert dk.numpy().ravel().tolist() == [210.0]
print("TensorFlow", tf.__version__, "agrees")
