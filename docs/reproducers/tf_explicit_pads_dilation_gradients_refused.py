"""TensorFlow (seen with 2.21.0, CPU, oneDNN on): with explicit pads and a dilation above 1,
tf.nn.conv2d computes the forward but its gradients raise InvalidArgumentError ("Current CPU
implementations do not yet support dilation rates larger than 1"), while the very same arithmetic
spelled padding='SAME' (the same pads) differentiates fine: the refusal is not a limit of the
arithmetic but of one spelling of it.  An inconsistent refusal.  (With oneDNN off both spellings
are refused: consistent, the framework's right.)

Input x = [1, 2, 3, 4, 5] (height 5, width 1), a 2-tap kernel k = [1, 10] dilated by 2 along the
height (taps 2 apart: an effective size of 3), stride 1.  SAME pads 1 before and 1 after (total
(5 - 1) + 3 - 5 = 2); explicit pads 1:1 are the same.  With upstream gradient g = ones:
  dk[0] = x[-1] + x[0] + x[1] + x[2] + x[3] = 0 + 1 + 2 + 3 + 4 = 10,
  dk[1] = x[1] + x[2] + x[3] + x[4] + x[5] = 2 + 3 + 4 + 5 + 0 = 14.

Run: python tf_explicit_pads_dilation_gradients_refused.py  (needs tensorflow or tensorflow-cpu)
"""

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"   # must be set before TensorFlow is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

x = tf.constant(np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1, 1))   # NHWC
k = tf.constant(np.array([1, 10], dtype=np.float32).reshape(2, 1, 1, 1))  # HWIO
explicit = [[0, 0], [1, 1], [0, 0], [0, 0]]


def filter_gradient(padding):
    with tf.GradientTape() as tape:
        tape.watch(k)
        y = tf.nn.conv2d(x, k, strides=1, padding=padding, dilations=[2, 1])
    return tape.gradient(y, k).numpy().ravel()


print("padding='SAME': dk", filter_gradient("SAME"), "expected [10. 14.]")
try:
    dk = filter_gradient(explicit)
except tf.errors.InvalidArgumentError as err:
    first = str(err).split("}}")[-1].strip().splitlines()[0]
    raise AssertionError(f"TensorFlow {tf.__version__}: the same pads given explicitly: the gradient raised "
                         f"InvalidArgumentError ({first}); padding='SAME' gave the expected dk [10. 14.]") from None
print("explicit pads 1:1: dk", dk, "expected [10. 14.]")
assert dk.tolist() == [10.0, 14.0]
print("TensorFlow", tf.__version__, "agrees")
