#!/usr/bin/env python3
"""Writes the PARI kernelspec's logos (logo-64x64.png, logo-32x32.png) into
the directory given: a white "gp" monogram-like mark (a circle and a bar) on
PARI's dark blue, drawn pixel by pixel so the build needs nothing but the
standard library."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kside"))
from logo_png import write_logos  # noqa: E402


def pixel(x, y, n):
    # coordinates in [-1, 1]
    u = (2 * x + 1) / n - 1
    v = (2 * y + 1) / n - 1
    r = math.hypot(u, v)
    if r > 0.98:
        return (0, 0, 0, 0)
    white = (255, 255, 255, 255)
    # a ring (the "g") and a vertical bar through its right side (the "p")
    cu, cv = -0.15, -0.05
    ring = math.hypot(u - cu, v - cv)
    if 0.30 < ring < 0.48:
        return white
    if 0.28 < u < 0.44 and -0.5 < v < 0.75:
        return white
    return (31, 58, 120, 255)



if __name__ == "__main__":
    write_logos(sys.argv[1], pixel)
