#!/usr/bin/env python3
"""Writes the GAP kernelspec's logos (logo-64x64.png, logo-32x32.png) into
the directory given: a white "G" (an open ring with a bar) on a dark red
disc, drawn pixel by pixel so the build needs nothing but the standard
library."""
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
    # the ring of the "G", open at the upper right, and its inward bar
    ring = math.hypot(u, v)
    if 0.42 < ring < 0.62 and not (u > 0.1 and v < 0.05):
        return white
    if 0.0 < u < 0.62 and -0.02 < v < 0.14:
        return white
    return (128, 24, 32, 255)



if __name__ == "__main__":
    write_logos(sys.argv[1], pixel)
