#!/usr/bin/env python3
"""Writes the GAP kernelspec's logos (logo-64x64.png, logo-32x32.png) into
the directory given: a white "gp" monogram-like mark (a circle and a bar) on
PARI's dark blue, drawn pixel by pixel so the build needs nothing but the
standard library."""
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
    # a ring (the "g") and a vertical bar through its right side (the "p")
    cu, cv = -0.15, -0.05
    ring = math.hypot(u - cu, v - cv)
    if 0.30 < ring < 0.48:
        return white
    if 0.28 < u < 0.44 and -0.5 < v < 0.75:
        return white
    return (31, 58, 120, 255)


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
