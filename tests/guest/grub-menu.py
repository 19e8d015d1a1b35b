#!/usr/bin/env python3
"""grub-menu.py PNG...: which screenshots show the GRUB menu of build-iso.sh,
judged by pixels.  That menu draws its box white on blue and its highlighted
entry yellow on red, one text row tall, with two more entries below it.

For each PNG prints one line: `PNG menu row=R entries=N` when it shows the
menu (R: the highlighted entry's text row, N: entries counted), else
`PNG no-menu (why)`.  Exit status 0 when at least one shows the menu.
The decoder is independent of Hangar's encoder (chunk CRCs checked; 8-bit
RGB/RGBA, filter 0, as Hangar writes)."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] != zlib.crc32(kind + body):
            raise ValueError("bad chunk CRC")
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = hdr[:4]
    if depth != 8 or ctype not in (2, 6):
        raise ValueError("not 8-bit RGB")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    rows = []
    for y in range(h):
        row = raw[y * (1 + bpp * w):(y + 1) * (1 + bpp * w)]
        if row[0] != 0:
            raise ValueError("PNG filter other than 0")
        rows.append(Row(row[1:], bpp))
    return w, h, rows


def table(test):
    return bytes(1 if test(v) else 0 for v in range(256))


HI80, LO40, HIC0, LO80 = (table(lambda v: v >= 0x80), table(lambda v: v < 0x40),
                          table(lambda v: v >= 0xc0), table(lambda v: v < 0x80))


class Row:
    """One pixel row as colour classes, each a bit mask (one byte per
    pixel, 0 or 1) so counting stays fast in plain Python."""

    def __init__(self, data, bpp):
        self.r, self.g, self.b = data[0::bpp], data[1::bpp], data[2::bpp]

    def count(self, colour, x0=0, x1=None):
        r, g, b = self.r[x0:x1], self.g[x0:x1], self.b[x0:x1]

        def m(chan, t):
            return int.from_bytes(chan.translate(t), "little")
        if colour == "red":
            mask = m(r, HI80) & m(g, LO40) & m(b, LO40)
        elif colour == "blue":
            mask = m(b, HI80) & m(r, LO40) & m(g, LO40)
        elif colour == "yellow":
            mask = m(r, HIC0) & m(g, HIC0) & m(b, LO80)
        else:   # white
            mask = m(r, HIC0) & m(g, HIC0) & m(b, HIC0)
        return mask.bit_count()


def is_blue(row, x):
    return row.b[x] >= 0x80 and row.r[x] < 0x40 and row.g[x] < 0x40


def box_extent(rows, w):
    """The menu box's left and right edge: where its blue begins and ends on
    the box's middle row.  The box spans the screen in VGA text mode, and is
    centred with black around it when a UEFI text console is drawn on a
    larger GOP mode (OVMF at 1280x800)."""
    box = [y for y, r in enumerate(rows) if r.count("blue") >= 0.25 * w]
    if not box:
        return None
    row = rows[box[len(box) // 2]]
    xs = [x for x in range(w) if is_blue(row, x)]
    return xs[0], xs[-1] + 1


def judge(path):
    w, h, rows = decode(path)
    extent = box_extent(rows, w)
    if not extent:
        return "no-menu (no blue menu box)"
    x0, x1 = extent
    bw = x1 - x0
    # A text row is 14 to 19 pixels tall: the VGA 80x25 text mode as Hangar
    # renders it has 16 (640x400), OVMF's text console on GOP 19, GRUB's
    # gfxterm 16.  The highlighted bar must be one such row, across the box.
    red_rows = [y for y in range(h) if rows[y].count("red", x0, x1) >= 0.6 * bw]
    if not red_rows:
        return "no-menu (no highlighted red bar)"
    bands, start = [], red_rows[0]
    for a, b in zip(red_rows, red_rows[1:] + [None]):
        if b != a + 1:
            bands.append((start, a))
            start = b
    if len(bands) != 1:
        return f"no-menu ({len(bands)} red bars, expected one)"
    top, bottom = bands[0]
    height = bottom - top + 1
    if not 14 <= height <= 19:
        return f"no-menu (red bar {height} px tall, not one text row)"
    cell = height
    yellow = sum(rows[y].count("yellow", x0, x1) for y in range(top, bottom + 1))
    if yellow < 50:
        return f"no-menu (no yellow text on the red bar: {yellow} px)"
    # Entries below: text rows in the blue box with white text on them,
    # counted inside the box's border (its lines are white too).
    margin = bw // 40 + 4
    entries, y = 1, bottom + 1
    while y + cell <= h:
        cells = rows[y:y + cell]
        blue = sum(r.count("blue", x0, x1) for r in cells)
        white = sum(r.count("white", x0 + margin, x1 - margin) for r in cells)
        if blue < 0.5 * bw * cell:
            break                   # left the box
        if white < 20:
            break                   # an empty row of the box: no more entries
        entries += 1
        y += cell
    box_rows = sum(1 for r in rows if r.count("blue", x0, x1) >= 0.6 * bw)
    if box_rows < 8 * cell:
        return f"no-menu (blue menu box only {box_rows} px tall)"
    return f"menu row={top // cell + 1} entries={entries} box={x0}..{x1}"


def main():
    found = False
    for path in sys.argv[1:]:
        try:
            verdict = judge(path)
        except (OSError, ValueError, zlib.error, struct.error) as e:
            verdict = f"no-menu (unreadable: {e})"
        found = found or verdict.startswith("menu")
        print(path, verdict)
    return 0 if found else 1


# fb-pattern.py imports decode() from here.
if __name__ == "__main__":
    sys.exit(main())
