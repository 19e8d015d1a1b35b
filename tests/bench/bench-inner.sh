#!/usr/bin/env bash
# bench-inner.sh: runs each VMM on the same kernel and initramfs, several
# times, interleaved, and prints medians and ratios.  Runs where KVM is fast
# (directly, or inside the nested harness); see run.sh.
# usage: bench-inner.sh --kernel K --initrd I --workdir DIR --runs N VMM...
#   VMM: qemu-microvm, qemu-q35 or a hangarctl path (the first is the subject)
set -uo pipefail
guest_dir=$(cd "$(dirname "$0")/../guest" && pwd)
. "$guest_dir/vmm.sh"

kernel="" initrd="" work="" runs=5
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) kernel=$2;; --initrd) initrd=$2;; --workdir) work=$2;; --runs) runs=$2;;
        *) break;;
    esac
    shift 2
done
vmms=("$@")
mem_mib=512 disk_mib=256
mkdir -p "$work" && cd "$work" || exit 2
head -c "${disk_mib}M" /dev/urandom > disk.img

now_ms() { date +%s%3N; }
# Anonymous memory of PID outside guest RAM, in KiB: every anonymous page not
# in a mapping of 100 MiB or more (guest RAM is one $mem_mib MiB mapping).
vmm_anon_kib() {
    awk '/^Size:/ { size = $2 } /^Anonymous:/ { if (size < 102400) sum += $2 } END { print sum + 0 }' "/proc/$1/smaps"
}
serial_value() { tr -d '\r' < "$1" | sed -n "s/^HANGAR $2 //p" | tail -1; }

setup_vm() {   # TEST BOOTEXIT
    vm_kernel=$kernel vm_initrd=$initrd vm_mem=$mem_mib vm_cpus=2 vm_console="" vm_hostfwd=()
    vm_disks=("$work/disk.img") vm_serial=$work/serial.log vm_bootexit=$2
    vm_append="console=ttyS0 quiet panic=-1 hangar.test=$1 hangar.diskmb=$disk_mib hangar.idle=8"
    rm -f serial.log
}

# Boot to init in ms: QEMU exits at the boot-timer port (isa-debug-exit,
# status 1), so time the process; hangarctl reports boot-time-ms itself.
measure_boot() {   # VMM
    local t0 rc ms
    setup_vm boot 1
    hgr_vmm_argv "$1"
    t0=$(now_ms)
    timeout 300 "${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err; rc=$?
    ms=$(( $(now_ms) - t0 ))
    case "$1" in
        qemu-*) [ $rc = 1 ] && echo "$ms" || echo "boot: $1 exited $rc" >&2;;
        *) sed -n 's/^boot-time-ms: \([0-9]*\).*/\1/p' vmm.err | head -1;;
    esac
}

# Disk MB/s and VMM memory (KiB) from one run of the bench scenario.
measure_run() {   # VMM -> "MBPS KIB"
    local pid kib="" line bytes secs i
    setup_vm bench 0
    hgr_vmm_argv "$1"
    "${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err &
    pid=$!
    for i in $(seq 1500); do
        grep -q '^HANGAR idle' serial.log 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.2
    done
    sleep 2
    kill -0 $pid 2>/dev/null && kib=$(vmm_anon_kib $pid)
    timeout 60 tail --pid=$pid -f /dev/null || kill $pid
    wait $pid
    line=$(serial_value serial.log disk-read)   # "N bytes from T0 to T1"
    bytes=$(echo "$line" | sed -n 's/^\([0-9]*\) bytes.*/\1/p')
    secs=$(echo "$line" | awk '{ if ($6 > $4) print $6 - $4 }')
    [ -n "$bytes" ] && [ -n "$secs" ] || echo "disk: $1: no result ($line)" >&2
    awk -v b="${bytes:-0}" -v s="${secs:-0}" -v k="${kib:-}" \
        'BEGIN { printf "%s %s\n", (b > 0 && s > 0) ? sprintf("%.0f", b / s / 1e6) : "-", k == "" ? "-" : k }'
}

median() { tr ' ' '\n' | grep -v '^-\?$' | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A boot mbps mem
for r in $(seq "$runs"); do
    for v in "${vmms[@]}"; do
        b=$(measure_boot "$v"); res=$(measure_run "$v"); d=${res% *} k=${res#* }
        boot[$v]+="${b:--} "; mbps[$v]+="$d "; mem[$v]+="$k "
        echo "run $r $v: boot ${b:--} ms, disk $d MB/s, memory $k KiB" >&2
    done
done

name() { case "$1" in qemu-*) echo "$1";; *) echo hangar;; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo "bench: $runs runs each, medians; guest ${mem_mib} MiB, 2 vCPUs, Linux $(basename "$kernel")"
printf '%-14s %12s %14s %16s\n' VMM "boot ms" "memory MiB" "disk MB/s"
declare -A mb md mm
for v in "${vmms[@]}"; do
    mb[$v]=$(echo "${boot[$v]}" | median); md[$v]=$(echo "${mbps[$v]}" | median)
    mm[$v]=$(echo "${mem[$v]}" | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f", $1 / 1024 }')
    printf '%-14s %12s %14s %16s\n' "$(name "$v")" "${mb[$v]}" "${mm[$v]}" "${md[$v]}"
    echo "  raw $(name "$v"): boot [${boot[$v]% }] memory KiB [${mem[$v]% }] disk [${mbps[$v]% }]"
done
subject=${vmms[0]}
for v in "${vmms[@]:1}"; do
    echo "ratio $(name "$subject")/$(name "$v"): boot $(ratio "${mb[$subject]}" "${mb[$v]}")," \
         "memory $(ratio "${mm[$subject]}" "${mm[$v]}"), disk $(ratio "${md[$subject]}" "${md[$v]}")"
done
