#!/bin/sh
# /init of the guest-test initramfs (busybox).  Reports over the serial
# console as lines `HANGAR <key> <value>`; the host side asserts on them.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Boot timer: one byte to port 0x501, the Firecracker-style "init reached"
# mark (hangarctl timestamps it; QEMU's isa-debug-exit exits there).
printf '\0' | dd of=/dev/port bs=1 seek=$((0x501)) count=1 2>/dev/null

say() { echo "HANGAR $*"; }
arg() { sed -n "s/.*[ ]hangar\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# Wait up to $2 seconds for path $1 to exist.
wait_for() {
    n=0
    while [ ! -e "$1" ] && [ $n -lt $(($2 * 10)) ]; do usleep 100000; n=$((n + 1)); done
    [ -e "$1" ]
}

[ "$(arg debug)" = 1 ] && set -x
say init uptime=$(cut -d' ' -f1 /proc/uptime)
while read -r m; do
    insmod "/lib/modules/$m" || say module-failed "$m"
done < /lib/modules/order
mkdir -p /tmp /www/cgi-bin /var/run

test=$(arg test)
if [ -r "/scenarios/$test.sh" ]; then
    . "/scenarios/$test.sh"
else
    say error "no scenario '$test' (hangar.test=...)"
fi
say poweroff requested
poweroff -f
