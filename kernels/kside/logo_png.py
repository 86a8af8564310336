"""Writes a kernelspec's logos (logo-64x64.png, logo-32x32.png) from a
function that colours each pixel, so a kernel's build needs nothing but
Python's standard library. Each kernel's make_logo.py supplies the drawing."""
import os
import struct
import zlib


def png(pixel, n):
    """An n x n RGBA PNG; pixel(x, y, n) returns (r, g, b, a)."""
    rows = b"".join(b"\0" + b"".join(bytes(pixel(x, y, n)) for x in range(n)) for y in range(n))

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def write_logos(out, pixel):
    os.makedirs(out, exist_ok=True)
    for n in (64, 32):
        with open(os.path.join(out, f"logo-{n}x{n}.png"), "wb") as f:
            f.write(png(pixel, n))
