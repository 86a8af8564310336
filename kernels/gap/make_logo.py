#!/usr/bin/env python3
"""Writes the GAP kernelspec's logos (logo-64x64.png, logo-32x32.png) into
the directory given: a white "G" (an open ring with a bar) on a dark red
disc, drawn pixel by pixel so the build needs nothing but the standard
library."""
import math
import os
import struct
import sys
import zlib


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


def png(n):
    rows = b"".join(b"\0" + b"".join(bytes(pixel(x, y, n)) for x in range(n)) for y in range(n))

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for n in (64, 32):
        with open(os.path.join(out, f"logo-{n}x{n}.png"), "wb") as f:
            f.write(png(n))


if __name__ == "__main__":
    main()
