#!/usr/bin/python3
"""Writes the small .npz fixtures in tests/data/ (and the fuzz seeds in fuzz/corpus/npz/).

Run with Debian's /usr/bin/python3 (python3-numpy): make_npz_fixtures.py [OUT_DIR]
The timestamps are pinned, so the same numpy and zlib write the same bytes.

  calib_x_stored.npz      np.savez: x float32 [3, 1, 4] (3 samples for tiny_mlp's x [1, 4])
  calib_x_compressed.npz  np.savez_compressed: the same values as x float32 [3, 4]
  calib_two_inputs.npz    np.savez_compressed: in0 float32 [2, 1, 3], in1 float32 [2, 3]
  calib_counts_differ.npz np.savez: in0 float32 [2, 1, 3], in1 float32 [3, 3] (refused: 2 vs 3 samples)
  calib_empty.npz         np.savez: samples float32 [0, 4] (refused: no samples)
  dtypes_streamed.npz     np.savez to a stream that cannot seek, so zipfile writes data
                          descriptors after each member: every dtype edgeloop reads
Sample i of x is 0.5 * (4i + j) - 2, j = 0..3; in0[i] = i + [0.25, 0.5, 0.75]; in1[i] = -in0[i].
"""
import io
import os
import sys
import time

import numpy as np

os.environ["TZ"] = "UTC"
time.tzset()
time.time = lambda: 946684800.0  # zipfile stamps members with time.localtime(time.time())

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
os.makedirs(out, exist_ok=True)

x = (np.arange(12, dtype=np.float32) * 0.5 - 2).reshape(3, 1, 4)
np.savez(f"{out}/calib_x_stored.npz", x=x)
np.savez_compressed(f"{out}/calib_x_compressed.npz", x=x.reshape(3, 4))

in0 = (np.arange(2, dtype=np.float32)[:, None] + np.array([0.25, 0.5, 0.75], np.float32)).reshape(2, 1, 3)
np.savez_compressed(f"{out}/calib_two_inputs.npz", in0=in0, in1=-in0.reshape(2, 3))
np.savez(f"{out}/calib_counts_differ.npz", in0=in0, in1=np.ones((3, 3), np.float32))
np.savez(f"{out}/calib_empty.npz", samples=np.zeros((0, 4), np.float32))


class Unseekable:
    """A write-only stream: zipfile cannot go back to fill in sizes, so it appends descriptors."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def write(self, data):
        return self.buffer.write(data)

    def read(self, *args):  # np.savez treats objects with read() as files, not paths
        raise io.UnsupportedOperation("read")

    def flush(self):
        pass


stream = Unseekable()
np.savez(stream,
         f16=np.array([[1.5, -2.0], [0.25, 65504.0]], np.float16),
         i8=np.array([-128, 0, 127], np.int8),
         u8=np.array(200, np.uint8),
         i32=np.zeros((2, 0, 3), np.int32),
         i64=np.array([-(2**40), 1, 2, 3], np.int64),
         b=np.array([True, False], np.bool_))
with open(f"{out}/dtypes_streamed.npz", "wb") as f:
    f.write(stream.buffer.getvalue())
