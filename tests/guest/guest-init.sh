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

# A disk's round trip: report the sha of what the host wrote at 1 MiB, write
# 1 MiB of the guest's own at 2 MiB (synced) and report its sha; the host
# compares both with its copies.  `NAME-dev none` when DEV never appears.
disk_roundtrip() {   # NAME DEV
    if wait_for /sys/block/$2 60; then
        say $1-dev "/dev/$2"
        say $1-host-sha "$(dd if=/dev/$2 bs=1M skip=1 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
        dd if=/dev/urandom of=/tmp/$1-data bs=1M count=1 2>/dev/null
        dd if=/tmp/$1-data of=/dev/$2 bs=1M seek=2 count=1 oflag=direct conv=fsync 2>/dev/null
        say $1-guest-sha "$(sha256sum < /tmp/$1-data | cut -d' ' -f1)"
    else
        say $1-dev none
    fi
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
