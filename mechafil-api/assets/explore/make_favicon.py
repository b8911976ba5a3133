#!/usr/bin/env python3
"""Writes favicon.ico beside this file: a 32x32 icon (a rising line on a blue tile), as an ICO
that holds one PNG. Standard library only, so it runs anywhere; the output is committed and
embedded in the binary, so this only runs when the icon changes:

    python3 mechafil-api/assets/explore/make_favicon.py
"""

import math
import os
import struct
import zlib

SIZE = 32
TILE = (31, 95, 168)  # the page's accent colour, #1f5fa8
LINE = (255, 255, 255)
# The line: history, then a forecast that rises (in tile coordinates, y down).
POINTS = [(5, 22), (11, 19), (16, 21), (21, 13), (27, 8)]
HALF_WIDTH = 1.6


def coverage_tile(x, y):
    """How much of pixel (x, y) lies inside the rounded tile (radius 6), by 4x4 supersampling."""
    inside = 0
    for sy in range(4):
        for sx in range(4):
            px, py = x + (sx + 0.5) / 4, y + (sy + 0.5) / 4
            cx = min(max(px, 6), SIZE - 6)
            cy = min(max(py, 6), SIZE - 6)
            inside += (px - cx) ** 2 + (py - cy) ** 2 <= 36
    return inside / 16


def distance_to_line(px, py):
    best = math.inf
    for (ax, ay), (bx, by) in zip(POINTS, POINTS[1:]):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
    return best


def pixel(x, y):
    tile = coverage_tile(x, y)
    line = 0
    for sy in range(4):
        for sx in range(4):
            line += distance_to_line(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4) <= HALF_WIDTH
    line = line / 16 * tile
    rgb = [round(TILE[i] * (1 - line) + LINE[i] * line) for i in range(3)]
    return bytes(rgb + [round(255 * tile)])


def png(width, height, rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    rows = [b"".join(pixel(x, y) for x in range(SIZE)) for y in range(SIZE)]
    image = png(SIZE, SIZE, rows)
    # ICONDIR (reserved, type 1 = icon, one image) and one ICONDIRENTRY pointing at the PNG.
    ico = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 22) + image
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "favicon.ico")
    with open(path, "wb") as f:
        f.write(ico)
    print(f"wrote {path} ({len(ico)} bytes)")


if __name__ == "__main__":
    main()
