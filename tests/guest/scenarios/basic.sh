# Guest side of the basic scenario (sourced by /init).  The first boot runs
# every check and reboots; the second boot, told apart by a marker the first
# one wrote to the disk, powers off.
# Disk layout (raw offsets, MiB): 1 = host data, 2 = guest data, 3 = marker.
token=$(arg token)
wait_for /sys/block/vda 20 || say error "no virtio-blk disk"
marker=$(dd if=/dev/vda bs=512 skip=6144 count=1 iflag=direct 2>/dev/null | head -c 12)
if [ "$marker" = "HANGAR-BOOT1" ]; then
    say boot 2
    return 0
fi
say boot 1

say cpus-online "$(cat /sys/devices/system/cpu/online)"

say blk-host-sha "$(dd if=/dev/vda bs=1M skip=1 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
dd if=/dev/urandom of=/tmp/guest-data bs=1M count=1 2>/dev/null
dd if=/tmp/guest-data of=/dev/vda bs=1M seek=2 count=1 oflag=direct conv=fsync 2>/dev/null
sync
say blk-guest-sha "$(sha256sum < /tmp/guest-data | cut -d' ' -f1)"

cat > /tmp/udhcpc.sh <<'DHCP'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr add "$ip/${mask:-24}" dev "$interface"
ip link set "$interface" up
for r in $router; do ip route add default via "$r"; done
for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf
DHCP
chmod +x /tmp/udhcpc.sh
mkdir -p /etc
netif=""
for n in /sys/class/net/*; do [ "${n##*/}" = lo ] || { netif=${n##*/}; break; }; done
ip link set lo up
# udhcpc leaves bringing the link up to its script; do it first.
[ -n "$netif" ] && ip link set "$netif" up
if [ -n "$netif" ] && timeout 60 udhcpc -i "$netif" -n -q -t 10 -T 2 -s /tmp/udhcpc.sh >/dev/null 2>&1; then
    say dhcp-ip "$(ip -4 addr show dev "$netif" | sed -n 's/.*inet \([0-9.]*\).*/\1/p')"
    say dns "$(sed -n 's/nameserver //p' /etc/resolv.conf | head -1)"
    # Not wget: static busybox's wget looks up the "http" service through
    # glibc NSS, which crashes without the shared NSS modules.
    printf 'GET /fixture HTTP/1.0\r\n\r\n' | timeout 30 nc 10.0.2.2 "$(arg httpport)" > /tmp/fixture.http
    say http-sha "$(tr -d '\r' < /tmp/fixture.http | sed '1,/^$/d' | sha256sum | cut -d' ' -f1)"
    printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "%s"\ntouch /tmp/hostfwd-hit\n' \
        "$token" > /www/cgi-bin/token
    chmod +x /www/cgi-bin/token
    httpd -p 80 -h /www
    say hostfwd-ready
    if wait_for /tmp/hostfwd-hit 120; then say hostfwd-hit yes; else say hostfwd-hit timeout; fi
else
    say dhcp-ip none
fi

if wait_for /dev/hwrng 10; then
    say hwrng-current "$(cat /sys/class/misc/hw_random/rng_current)"
    say hwrng-bytes "$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)"
else
    say hwrng-current none
fi

if wait_for /dev/hvc0 10; then
    echo "HANGAR-CONSOLE $token" > /dev/hvc0
    say console-written
else
    say console none
fi

# SATA (AHCI) and NVMe disks: what the host wrote at 1 MiB, a guest write at 2 MiB.
disk_roundtrip sata sda
disk_roundtrip nvme nvme0n1
if wait_for /sys/block/sr0 60; then
    say cdrom-sha "$(dd if=/dev/sr0 bs=2048 count=64 2>/dev/null | sha256sum | cut -d' ' -f1)"
else
    say cdrom-sha none
fi
sync

printf 'HANGAR-BOOT1' | dd of=/dev/vda bs=512 seek=6144 count=1 conv=sync,fsync oflag=direct 2>/dev/null
sync
say reboot requested
reboot -f
