#!/usr/bin/python3
"""The GUI tier: the real `hangar` under Xvfb, driven through AT-SPI the way
a person clicks, judged by what the screen shows. Prints TAP.

Usage: test-gui.py --app HANGAR --hangarctl HANGARCTL --iso TEST.ISO --artifacts DIR

Every scenario runs the app on a library of its own. A step that fails
fails the steps after it in the same scenario ("not reached"), which are
reported as failures too: nothing unrun counts as passed. Screenshots,
accessible-tree dumps and the app's output are kept in --artifacts.
"""
import argparse
import os
import signal
import sys
import traceback

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HarnessError, log  # noqa: E402
import scenarios  # noqa: E402
import scenarios_more  # noqa: E402


def on_term(signum, frame):
    # meson's timeout: unwind so the session (X server, bus, app) is torn down.
    raise SystemExit(f"stopped by signal {signum}")


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--hangarctl", required=True)
    ap.add_argument("--iso", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--schemas", help="folder of the app's compiled GSettings schemas")
    ap.add_argument("--only", help="run only scenarios whose name contains this")
    args = ap.parse_args()
    for a in ("app", "hangarctl", "iso", "artifacts"):
        setattr(args, a, os.path.abspath(getattr(args, a)))

    if not os.access(args.app, os.X_OK):
        print(f"1..0 # SKIP the app is not in this build ({args.app} is missing): "
              "src/meson.build has subdir('app') disabled until src/library links")
        return 0
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("1..0 # SKIP /dev/kvm is missing or not accessible: the app cannot run a VM")
        return 0
    try:
        import pyatspi
        import dogtail
        del pyatspi, dogtail
    except ImportError as e:
        print(f"1..0 # SKIP AT-SPI bindings missing ({e}): apt install python3-dogtail "
              "python3-pyatspi")
        return 0

    # Last run's artifacts go (only the kinds this test writes).
    if os.path.isdir(args.artifacts):
        for f in os.listdir(args.artifacts):
            if f.endswith((".png", ".log", ".txt")):
                os.unlink(os.path.join(args.artifacts, f))
    chosen = [s for s in scenarios_more.ALL if not args.only or args.only in s.name]
    steps = sum(len(s.steps) for s in chosen)
    session = harness.Session(args.artifacts, args.schemas)
    try:
        session.start()
    except HarnessError as e:
        session.stop()
        print(f"1..0 # SKIP no X server or session bus could start: {e}")
        return 0
    log(f"display {session.display}; artifacts in {os.path.abspath(args.artifacts)}")
    print(f"1..{steps}", flush=True)
    n = 0
    failed = 0
    try:
        for sc in chosen:
            ctx = scenarios.Context(session, args, sc.name)
            broken = None
            try:
                for name, fn, *todo in sc.steps:
                    n += 1
                    title = f"{sc.name}: {name}"
                    # A known gap in the app: TAP TODO, an expected failure
                    # (never a pass; passing it is an error meson reports).
                    mark = f" # TODO {todo[0]}" if todo else ""
                    if broken:
                        print(f"not ok {n} - {title}{mark or ' #'} not reached: {broken}",
                              flush=True)
                        failed += not todo
                        continue
                    try:
                        fn(ctx)
                        print(f"ok {n} - {title}{mark}", flush=True)
                    except Exception as e:
                        failed += not todo
                        detail = str(e) or type(e).__name__
                        if not isinstance(e, AssertionError):
                            detail = traceback.format_exc()
                        print(f"not ok {n} - {title}{mark}", flush=True)
                        log(detail)
                        broken = f"step {n} failed"
                        ctx.on_failure(f"step{n:02d}")
            finally:
                ctx.close()
    finally:
        session.stop()
    log(f"screenshots and logs: {os.path.abspath(args.artifacts)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
