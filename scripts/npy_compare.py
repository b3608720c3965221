#!/usr/bin/python3
"""Compare two .npy arrays element-wise, like numpy.allclose, and report the differences.

    /usr/bin/python3 scripts/npy_compare.py a.npy b.npy --rtol 1e-4 --atol 1e-5

Prints the shapes, max |a-b|, max |a-b|/|b| and how many elements fail
|a - b| <= atol + rtol * |b| (b is the reference). Exit status: 0 within tolerance,
1 out of tolerance (or shapes differ, or NaN/Inf where the other has none), 2 bad usage/file.
Needs only numpy.
"""

import argparse
import sys

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("a", help="array under test (.npy)")
    parser.add_argument("b", help="reference array (.npy)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (of |b|)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance")
    args = parser.parse_args(argv)

    try:
        a = np.load(args.a, allow_pickle=False)
        b = np.load(args.b, allow_pickle=False)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"a: {args.a} {a.dtype} {list(a.shape)}")
    print(f"b: {args.b} {b.dtype} {list(b.shape)}")
    if a.shape != b.shape:
        print("FAIL: shapes differ")
        return 1
    if a.size == 0:
        print("OK: both empty")
        return 0

    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    # NaN matches NaN and an infinity matches the same infinity; anything else non-finite fails.
    same_nonfinite = (np.isnan(a64) & np.isnan(b64)) | (np.isinf(a64) & (a64 == b64))
    finite = np.isfinite(a64) & np.isfinite(b64)
    bad_nonfinite = ~finite & ~same_nonfinite

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.where(finite, np.abs(a64 - b64), 0.0)
        # Relative to |b|; a nonzero difference from an exact 0 counts as infinitely far.
        rel = np.where(diff == 0, 0.0, diff / np.abs(b64))
    out = (finite & (diff > args.atol + args.rtol * np.abs(b64))) | bad_nonfinite

    worst = np.unravel_index(np.argmax(diff), diff.shape)
    print(f"max abs diff: {diff.max():.6g} at {list(map(int, worst))} "
          f"(a={a64[worst]:.9g}, b={b64[worst]:.9g})")
    worst_rel = np.unravel_index(np.argmax(rel), rel.shape)
    print(f"max rel diff: {rel.max():.6g} at {list(map(int, worst_rel))} "
          f"(a={a64[worst_rel]:.9g}, b={b64[worst_rel]:.9g})")
    if a.ndim == 2 and a.shape[1] > 1 and np.issubdtype(a.dtype, np.floating):
        agree = np.mean(np.argmax(a64, axis=1) == np.argmax(b64, axis=1))
        print(f"argmax agreement over {a.shape[0]} rows: {agree:.6f}")
    n_out = int(out.sum())
    if n_out:
        print(f"FAIL: {n_out} of {a.size} elements outside atol={args.atol:g} + "
              f"rtol={args.rtol:g}*|b| ({int(bad_nonfinite.sum())} non-finite mismatches)")
        return 1
    print(f"OK: all {a.size} elements within atol={args.atol:g} + rtol={args.rtol:g}*|b|")
    return 0


if __name__ == "__main__":
    sys.exit(main())
