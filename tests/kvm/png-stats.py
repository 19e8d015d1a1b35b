#!/usr/bin/env python3
"""png-stats.py PNG ROWS: an independent PNG decoder (chunk CRCs checked, 8-bit
RGB or RGBA, filter 0 only as Hangar writes it). Prints the width, the height
and how many pixels of the first ROWS rows are not the background colour of
pixel (0, 0)."""
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
assert depth == 8 and ctype in (2, 6)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = 1 + bpp * w
rows = int(sys.argv[2])
bg = raw[1:1 + 3]
lit = 0
for y in range(min(rows, h)):
    row = raw[y * stride:(y + 1) * stride]
    assert row[0] == 0, "unexpected PNG filter"
    for x in range(w):
        if row[1 + x * bpp:1 + x * bpp + 3] != bg:
            lit += 1
print(w, h, lit)
