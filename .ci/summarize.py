#!/usr/bin/env python3
"""Counts results in meson's testlog.json: TAP tests by their subtests
(ok / not ok / # SKIP), other tests by their own result. Prints one line:
N passed, N failed[, N skipped]. Exits 1 when anything failed or nothing ran."""
import json
import re
import sys

passed = failed = skipped = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError as e:
    print(f"summarize: {e}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

tap = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b.*)?", re.IGNORECASE)
for line in lines:
    t = json.loads(line)
    result = t.get("result")
    subs = [tap.match(l) for l in (t.get("stdout") or "").splitlines()]
    subs = [m for m in subs if m]
    if subs:
        for m in subs:
            if m.group(3) and m.group(3).upper() == "SKIP":
                skipped += 1
            elif m.group(1).lower() == "ok":
                passed += 1
            else:
                failed += 1
        # a TAP test that crashed or timed out after its last line
        if result not in ("OK", "SKIP", "EXPECTEDFAIL") and not any(
                m.group(1).lower() == "not ok" for m in subs):
            failed += 1
    elif result == "OK":
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1

line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
