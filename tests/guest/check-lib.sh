# check-lib.sh: the host side's checks, shared by run-scenario.sh and
# run-firmware-iso.sh (sourced, not run; in the scenario's work directory).

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# The sha256 of MiB number $2 of file $1.
sha_at() { dd if="$1" bs=1M skip="$2" count=1 2>/dev/null | sha256sum | cut -d' ' -f1; }
# The value of the last `HANGAR <key> <value>` line on the serial log.
report() { tr -d '\r' < serial.log 2>/dev/null | sed -n "s/^HANGAR $1 //p" | tail -1; }

# TAP: tap OK(0/1) DESCRIPTION [DIAGNOSTIC]; $failed is 1 after a failure.
tap_n=0 failed=0
tap() {
    tap_n=$((tap_n + 1))
    if [ "$1" = 1 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; failed=1; fi
    [ -n "${3:-}" ] && echo "# $3"
    return 0
}
is() { [ "$1" = "$2" ] && echo 1 || echo 0; }
