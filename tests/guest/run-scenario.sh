#!/usr/bin/env bash
# run-scenario.sh: the host side of the guest tests.  Boots the guest once
# with the VMM under test (it reboots once by itself), plays the host's part
# (HTTP server, hostfwd client), then checks what the guest reported on its
# serial console and what it left on the disk, and prints TAP.
# usage: run-scenario.sh --vmm VMM --kernel K --initrd I --workdir DIR [--timeout S]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/check-lib.sh"
. "$here/vmm.sh"

vmm="" kernel="" initrd="" work="" timeout=420
while [ $# -gt 0 ]; do
    case "$1" in
        --vmm) vmm=$2;; --kernel) kernel=$2;; --initrd) initrd=$2;;
        --workdir) work=$2;; --timeout) timeout=$2;;
        *) echo "run-scenario: unknown option $1" >&2; exit 2;;
    esac
    shift 2
done
mkdir -p "$work/www" && cd "$work" || exit 2
bb=$(command -v busybox)

# A port nobody listens on (ss lists the listening ones).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        ss -ltn 2>/dev/null | grep -q ":$p " || { echo "$p"; return; }
    done
}

token=tok$RANDOM$RANDOM
http_port=$(free_port)
fwd_port=$(free_port)
while [ "$fwd_port" = "$http_port" ]; do fwd_port=$(free_port); done
head -c 200000 /dev/urandom | base64 > www/fixture
truncate -s 64M disk.img
head -c 1M /dev/urandom > host-data
dd if=host-data of=disk.img bs=1M seek=1 conv=notrunc 2>/dev/null
# The same layout on a SATA and an NVMe disk, and an ISO for the CD-ROM.
for d in sata nvme; do
    truncate -s 16M $d.img
    head -c 1M /dev/urandom > $d-host-data
    dd if=$d-host-data of=$d.img bs=1M seek=1 conv=notrunc 2>/dev/null
done
mkdir -p iso && head -c 300000 /dev/urandom > iso/payload.bin
cdrom=""
if command -v xorriso >/dev/null; then
    xorriso -as mkisofs -quiet -V HANGARTEST -o cd.iso iso 2>/dev/null && cdrom=$work/cd.iso
fi
rm -f serial.log console.log fwd-reply

# HTTP GET with bash's /dev/tcp (static busybox's wget crashes in glibc NSS).
http_get() {   # HOST PORT PATH: the body on stdout
    exec 3<>"/dev/tcp/$1/$2" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" >&3
    timeout 10 cat <&3 | tr -d '\r' | sed '1,/^$/d'
    exec 3<&-
}

ip link set lo up 2>/dev/null
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory www "$http_port" >httpd.log 2>&1 &
else
    "$bb" httpd -f -p "127.0.0.1:$http_port" -h www &
fi
httpd_pid=$!
trap 'kill $httpd_pid 2>/dev/null' EXIT
for i in $(seq 50); do http_get 127.0.0.1 "$http_port" /fixture >/dev/null 2>&1 && break; sleep 0.1; done

vm_kernel=$kernel vm_initrd=$initrd vm_mem=512 vm_cpus=2
vm_append="console=ttyS0 quiet panic=-1 hangar.test=basic hangar.token=$token hangar.httpport=$http_port ${HANGAR_GUEST_APPEND:-}"
vm_serial=$work/serial.log vm_console=$work/console.log vm_bootexit=0
vm_disks=("$work/disk.img") vm_hostfwd=("$fwd_port-:80")
vm_sata=$work/sata.img vm_nvme=$work/nvme.img vm_cdrom=$cdrom
hgr_vmm_argv "$vmm"
echo "# ${vm_argv[*]}" >&2
start=$(date +%s.%N)
"${vm_argv[@]}" </dev/null >vmm.out 2>&1 &
vmm_pid=$!

# Watch the serial log while the guest runs: note when each boot reaches
# init, and fetch from the guest's server once it says it is listening.
boots_seen=0 fetched=0 timed_out=0
declare -a boot_wall=()
while kill -0 $vmm_pid 2>/dev/null; do
    now=$(date +%s.%N)
    if awk -v a="$start" -v b="$now" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
        timed_out=1; kill $vmm_pid; break
    fi
    n=$(grep -c '^HANGAR init' serial.log 2>/dev/null)
    while [ "${n:-0}" -gt "$boots_seen" ]; do
        boot_wall+=("$(elapsed "$start" "$now")"); boots_seen=$((boots_seen + 1))
    done
    if [ $fetched = 0 ] && grep -q '^HANGAR hostfwd-ready' serial.log 2>/dev/null; then
        http_get 127.0.0.1 "$fwd_port" /cgi-bin/token > fwd-reply 2>/dev/null
        [ "$(cat fwd-reply)" = "$token" ] && fetched=1
    fi
    sleep 0.2
done
wait $vmm_pid; rc=$?
[ $timed_out = 1 ] && rc=timeout
end=$(date +%s.%N)


echo "1..14"
echo "# VMM: $vmm"
inits=$(tr -d '\r' < serial.log | sed -n 's/^HANGAR init uptime=//p')
i=0
for up in $inits; do
    echo "# boot $((i + 1)): guest init at ${up}s guest uptime, ${boot_wall[$i]:-?}s after the VMM started"
    i=$((i + 1))
done
echo "# VMM ran $(elapsed "$start" "$end")s in all"
sed -n 's/^\(boot-time-ms: .*\)/# VMM reported \1/p' vmm.out
tap "$( [ -n "$inits" ] && [ -z "$(report module-failed)" ] && echo 1 || echo 0)" \
    "the guest reaches init and loads the virtio modules" "$(report module-failed)"
tap "$( [ $rc = 0 ] && [ $timed_out = 0 ] && [ -n "$(report poweroff)" ] && echo 1 || echo 0)" \
    "poweroff -f ends the VMM with status 0" "exit status $rc$( [ $timed_out = 1 ] && echo " (killed after ${timeout}s)")"
tap "$( [ -n "$(report reboot)" ] && [ "$(report boot)" = 2 ] && echo 1 || echo 0)" \
    "reboot -f is handled: the guest boots again" "boots: $(tr -d '\r' < serial.log | sed -n 's/^HANGAR boot //p' | tr '\n' ' ')"
tap "$(is "$(report cpus-online)" 0-1)" "both vCPUs online" "online: $(report cpus-online)"
tap "$(is "$(report blk-host-sha)" "$(sha256sum < host-data | cut -d' ' -f1)")" \
    "data the host put on the image reads back in the guest"
tap "$(is "$(report blk-guest-sha)" "$(sha_at disk.img 2)")" "data the guest wrote and synced is on the host image"
tap "$(is "$(report dhcp-ip)" 10.0.2.15)" "DHCP lease from user networking" \
    "ip $(report dhcp-ip), dns $(report dns)"
tap "$(is "$(report http-sha)" "$(sha256sum < www/fixture | cut -d' ' -f1)")" \
    "guest fetches a file over HTTP from the host (10.0.2.2)"
tap "$( [ $fetched = 1 ] && [ "$(cat fwd-reply 2>/dev/null)" = "$token" ] && [ "$(report hostfwd-hit)" = yes ] && echo 1 || echo 0)" \
    "host reaches a server in the guest through hostfwd" "guest saw the request: $(report hostfwd-hit)"
tap "$( [ "$(report hwrng-bytes)" = 64 ] && case "$(report hwrng-current)" in virtio_rng*) true;; *) false;; esac && echo 1 || echo 0)" \
    "/dev/hwrng (virtio-rng) gives bytes" "rng $(report hwrng-current), $(report hwrng-bytes) bytes"
tap "$(grep -q "^HANGAR-CONSOLE $token" console.log 2>/dev/null && echo 1 || echo 0)" \
    "virtio-console output arrives in the host file"
for d in sata nvme; do
    tap "$( [ "$(report $d-host-sha)" = "$(sha256sum < $d-host-data | cut -d' ' -f1)" ] &&
            [ "$(report $d-guest-sha)" = "$(sha_at $d.img 2)" ] && echo 1 || echo 0)" \
        "a $d disk ($(report $d-dev)) reads what the host put there and keeps what the guest wrote"
done
if [ -n "$cdrom" ]; then
    tap "$(is "$(report cdrom-sha)" "$(dd if=cd.iso bs=2048 count=64 2>/dev/null | sha256sum | cut -d' ' -f1)")" \
        "the CD-ROM (/dev/sr0) reads the ISO" "guest saw: $(report cdrom-sha)"
else
    echo "ok $((tap_n + 1)) - the CD-ROM reads the ISO # SKIP xorriso is not installed"; tap_n=$((tap_n + 1))
fi
if [ $failed = 1 ]; then
    echo "# serial log (tail):"; tr -d '\r' < serial.log | tail -40 | sed 's/^/#   /'
    echo "# VMM output (tail):"; tail -20 vmm.out | sed 's/^/#   /'
fi
exit 0
