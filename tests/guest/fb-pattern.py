#!/usr/bin/env python3
"""fb-pattern.py WIDTHxHEIGHT PNG...: which screenshots show the pattern the
firmware-iso guest writes to /dev/fb0 through Linux's bochs DRM driver: four
quadrants, top left (d0,20,40), top right (20,c0,60), bottom left (30,50,e0),
bottom right (f0,c0,20), filling a screen of exactly WIDTHxHEIGHT.

A quadrant counts when at least 99% of its pixels have its colour exactly
(fbcon may leave a cursor in a corner).  For each PNG prints one line:
`PNG pattern WxH (worst quadrant N%)` or `PNG no-pattern (why)`.  Exit
status 0 when at least one shows it.  PNGs are decoded by grub-menu.py's
decoder, which is independent of Hangar's encoder."""
import importlib.util
import os
import struct
import sys
import zlib

spec = importlib.util.spec_from_file_location(
    "grub_menu", os.path.join(os.path.dirname(os.path.abspath(__file__)), "grub-menu.py"))
grub_menu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grub_menu)

QUADRANTS = (("top-left", (0xd0, 0x20, 0x40)), ("top-right", (0x20, 0xc0, 0x60)),
             ("bottom-left", (0x30, 0x50, 0xe0)), ("bottom-right", (0xf0, 0xc0, 0x20)))


def matching(row, x0, x1, rgb):
    """How many pixels of row[x0:x1] are exactly rgb."""
    n = x1 - x0
    chans = (row.r[x0:x1], row.g[x0:x1], row.b[x0:x1])
    if all(c == bytes([v]) * n for c, v in zip(chans, rgb)):
        return n
    return sum(1 for i in range(n) if (chans[0][i], chans[1][i], chans[2][i]) == rgb)


def judge(path, want_w, want_h):
    w, h, rows = grub_menu.decode(path)
    if (w, h) != (want_w, want_h):
        return False, f"no-pattern (screen is {w}x{h}, the guest set {want_w}x{want_h})"
    worst = 1.0
    for i, (name, rgb) in enumerate(QUADRANTS):
        x0, x1 = (0, w // 2) if i % 2 == 0 else (w // 2, w)
        y0, y1 = (0, h // 2) if i < 2 else (h // 2, h)
        hits = sum(matching(rows[y], x0, x1, rgb) for y in range(y0, y1))
        share = hits / ((x1 - x0) * (y1 - y0))
        worst = min(worst, share)
        if share < 0.99:
            got = rows[(y0 + y1) // 2]
            mid = (x0 + x1) // 2
            want = "%02x%02x%02x" % rgb
            return False, (f"no-pattern ({name}: {share:.1%} of pixels are #{want}; its centre is "
                           f"#{got.r[mid]:02x}{got.g[mid]:02x}{got.b[mid]:02x})")
    return True, f"pattern {w}x{h} (worst quadrant {worst:.2%})"


def main():
    if len(sys.argv) < 3 or "x" not in sys.argv[1]:
        print("usage: fb-pattern.py WIDTHxHEIGHT PNG...", file=sys.stderr)
        return 2
    want_w, want_h = (int(v) for v in sys.argv[1].split("x")[:2])
    found = False
    for path in sys.argv[2:]:
        try:
            ok, what = judge(path, want_w, want_h)
        except (OSError, ValueError, zlib.error, struct.error) as e:
            ok, what = False, f"no-pattern (cannot read: {e})"
        found |= ok
        print(f"{path} {what}")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
