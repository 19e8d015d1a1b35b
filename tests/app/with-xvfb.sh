#!/bin/sh
# with-xvfb.sh PROGRAM ARGS... — runs PROGRAM on a private Xvfb display,
# or SKIPs (exit 77) saying why when no X server can start.
command -v Xvfb >/dev/null 2>&1 || { echo "SKIP: Xvfb is not installed (apt-get install xvfb)"; exit 77; }
tmp=$(mktemp -d) || exit 1
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" >/dev/null 2>&1 &
xvfb=$!
i=0
while [ ! -s "$tmp/display" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$tmp/display" ]; then
    kill $xvfb 2>/dev/null; rm -rf "$tmp"
    echo "SKIP: Xvfb did not start"; exit 77
fi
export DISPLAY=":$(cat "$tmp/display")"
unset WAYLAND_DISPLAY
# No accessibility bus in a bare test environment; the GUI tier tests that.
export GTK_A11Y=none GSETTINGS_BACKEND=memory
"$@"
status=$?
kill $xvfb 2>/dev/null
wait $xvfb 2>/dev/null
rm -rf "$tmp"
exit $status
