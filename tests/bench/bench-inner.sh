#!/usr/bin/env bash
# bench-inner.sh: runs each VMM on the same kernel and initramfs, several
# times, interleaved, and prints medians and ratios.  Runs where KVM is fast
# (directly, or inside the nested harness); see run.sh.
# usage: bench-inner.sh --kernel K --initrd I --workdir DIR --runs N
#                       [--handover-mbr BIN] [--handover-iso ISO] VMM...
#   VMM: qemu-microvm, qemu-q35 or a hangarctl path (the first is the subject)
# Measures: boot to init, VMM memory, guest disk reads on virtio-blk, SATA
# (AHCI) and NVMe (q35 and Hangar; microvm has virtio only), and with BIN the
# firmware's hand-over to a boot sector (SeaBIOS; Hangar and q35), with ISO
# OVMF's hand-over to a UEFI boot loader (GRUB, from the CD; Hangar and q35).
set -uo pipefail
guest_dir=$(cd "$(dirname "$0")/../guest" && pwd)
. "$guest_dir/vmm.sh"

kernel="" initrd="" work="" runs=5 mbr_bin="" handover_iso=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) kernel=$2;; --initrd) initrd=$2;; --workdir) work=$2;; --runs) runs=$2;;
        --handover-mbr) mbr_bin=$2;;
        --handover-iso) handover_iso=$2;;
        *) break;;
    esac
    shift 2
done
vmms=("$@")
mem_mib=512 disk_mib=256
# Each guest's serial log is kept here (the caller's directory, which the
# nested harness shares with the host), named for the VMM and measurement.
logdir=$PWD/bench-logs
mkdir -p "$logdir" "$work" && cd "$work" || exit 2
keep_log() { cp serial.log "$logdir/$(basename "$1")-$2-$3.log" 2>/dev/null; }   # VMM WHAT RUN
say() { echo "$(date +%T) $*" >&2; }
head -c "${disk_mib}M" /dev/urandom > disk.img
# The same bytes on each bus, one image each (an image is locked to one user).
cp disk.img sata.img && cp disk.img nvme.img || exit 2
if [ -n "$mbr_bin" ]; then
    { cat "$mbr_bin"; head -c $((1024 * 1024 - 512)) /dev/zero; } > mbr.img
fi

now_ms() { date +%s%3N; }
# Anonymous memory of PID outside guest RAM, in KiB: every anonymous page not
# in a mapping of 100 MiB or more (guest RAM is one $mem_mib MiB mapping).
vmm_anon_kib() {
    awk '/^Size:/ { size = $2 } /^Anonymous:/ { if (size < 102400) sum += $2 } END { print sum + 0 }' "/proc/$1/smaps"
}
serial_value() { tr -d '\r' < "$1" | sed -n "s/^HANGAR $2 //p" | tail -1; }

setup_vm() {   # TEST BOOTEXIT VMM
    local buses=all
    vm_kernel=$kernel vm_initrd=$initrd vm_mem=$mem_mib vm_cpus=2 vm_console="" vm_hostfwd=()
    vm_disks=("$work/disk.img") vm_serial=$work/serial.log vm_bootexit=$2
    vm_sata=$work/sata.img vm_nvme=$work/nvme.img vm_cdrom=""
    if [ "$3" = qemu-microvm ]; then buses=virtio vm_sata="" vm_nvme=""; fi
    vm_append="console=ttyS0 quiet panic=-1 hangar.test=$1 hangar.diskmb=$disk_mib hangar.idle=8 hangar.buses=$buses"
    rm -f serial.log
}

# Boot to init in ms: QEMU exits at the boot-timer port (isa-debug-exit,
# status 1), so time the process; hangarctl reports boot-time-ms itself.
measure_boot() {   # VMM
    local t0 rc ms
    setup_vm boot 1 "$1"
    hgr_vmm_argv "$1"
    t0=$(now_ms)
    timeout -k 30 300 "${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err; rc=$?
    ms=$(( $(now_ms) - t0 ))
    case "$1" in
        qemu-*) [ $rc = 1 ] && echo "$ms" || echo "boot: $1 exited $rc" >&2;;
        *) sed -n 's/^boot-time-ms: \([0-9]*\).*/\1/p' vmm.err | head -1;;
    esac
}

# Firmware hand-over in ms: from starting the VMM process to the boot
# sector's first instruction (its boot timer write), through SeaBIOS, on the
# same q35-class machine with a standard VGA and the boot sector on a
# virtio disk.  QEMU exits at the write (status 67); Hangar reports the time
# from its VM start and powers off right after: both are timed as processes.
measure_handover() {   # VMM -> "PROCESS_MS [HANGAR_REPORTED_MS]"
    local t0 rc ms
    [ -n "$mbr_bin" ] || { echo "-"; return; }
    case "$1" in
        qemu-microvm) echo "-"; return;;
        qemu-q35) vm_argv=(qemu-system-x86_64 -M q35 -enable-kvm -cpu "${QEMU_CPU:-host}" -m "$mem_mib"
                           -nodefaults -no-user-config -display none -device VGA
                           -drive "file=$work/mbr.img,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0
                           -device isa-debug-exit,iobase=0x501,iosize=1);;
        *) vm_argv=("$1" run --firmware bios --memory "$mem_mib" --serial none
                    --disk "$work/mbr.img,format=raw");;
    esac
    t0=$(now_ms)
    timeout -k 30 120 "${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err; rc=$?
    ms=$(( $(now_ms) - t0 ))
    case "$1" in
        qemu-*) [ $rc = 67 ] && echo "$ms" || { echo "handover: $1 exited $rc" >&2; echo "-"; };;
        *) [ $rc = 0 ] && echo "$ms $(sed -n 's/^boot-time-ms: \([0-9]*\).*/\1/p' vmm.err | head -1)" ||
               { echo "handover: hangarctl exited $rc: $(tail -1 vmm.err)" >&2; echo "-"; };;
    esac
}

# The same through OVMF: from starting the VMM process to GRUB's first
# command, which writes the boot timer port, on a CD (El Torito, UEFI) made
# by grub-mkrescue.  GRUB then shuts down through UEFI (OVMF's ACPI S5).
measure_handover_uefi() {   # VMM -> "PROCESS_MS [HANGAR_REPORTED_MS]"
    local t0 rc ms code=/usr/share/OVMF/OVMF_CODE_4M.fd
    [ -n "$handover_iso" ] && [ -r "$code" ] || { echo "-"; return; }
    cp /usr/share/OVMF/OVMF_VARS_4M.fd vars.fd
    case "$1" in
        qemu-microvm) echo "-"; return;;
        qemu-q35) vm_argv=(qemu-system-x86_64 -M q35 -enable-kvm -cpu "${QEMU_CPU:-host}" -m "$mem_mib"
                           -nodefaults -no-user-config -display none -device VGA
                           -drive "if=pflash,format=raw,readonly=on,file=$code"
                           -drive "if=pflash,format=raw,file=$work/vars.fd"
                           -drive "file=$handover_iso,format=raw,if=none,media=cdrom,id=cd0"
                           -device ide-cd,drive=cd0,bus=ide.0
                           -device isa-debug-exit,iobase=0x501,iosize=1);;
        *) vm_argv=("$1" run --firmware uefi --nvram "$work/vars.fd" --memory "$mem_mib"
                    --serial none --cdrom "$handover_iso" --boot cdrom);;
    esac
    t0=$(now_ms)
    timeout -k 30 600 "${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err; rc=$?
    ms=$(( $(now_ms) - t0 ))
    case "$1" in
        qemu-*) [ $rc = 67 ] && echo "$ms" || { echo "uefi handover: $1 exited $rc" >&2; echo "-"; };;
        *) [ $rc = 0 ] && echo "$ms $(sed -n 's/^boot-time-ms: \([0-9]*\).*/\1/p' vmm.err | head -1)" ||
               { echo "uefi handover: hangarctl exited $rc: $(tail -1 vmm.err)" >&2; echo "-"; };;
    esac
}

# Disk MB/s per bus and VMM memory (KiB) from one run of the bench scenario.
measure_run() {   # VMM -> "VIRTIO SATA NVME KIB" (MB/s, "-" where none)
    local pid kib="" line bytes secs i bus out=""
    setup_vm bench 0 "$1"
    hgr_vmm_argv "$1"
    "${vm_argv[@]}" </dev/null >vmm.out 2>vmm.err &
    pid=$!
    local until=$((SECONDS + 600))
    while [ $SECONDS -lt $until ]; do
        grep -q '^HANGAR idle' serial.log 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.2
    done
    sleep 2
    kill -0 $pid 2>/dev/null && kib=$(vmm_anon_kib $pid)
    # A VMM that outlives its guest is stopped, and killed if it ignores
    # that (a bench must end: one inner QEMU once hung for good here).
    if ! timeout 60 tail --pid=$pid -f /dev/null; then
        kill $pid
        timeout 30 tail --pid=$pid -f /dev/null || kill -9 $pid
    fi
    timeout 30 tail --pid=$pid -f /dev/null && wait $pid
    for bus in virtio sata nvme; do
        line=$(serial_value serial.log disk-read-$bus)   # "N bytes from T0 to T1"
        bytes=$(echo "$line" | sed -n 's/^\([0-9]*\) bytes.*/\1/p')
        secs=$(echo "$line" | awk '{ if ($6 > $4) print $6 - $4 }')
        if [ -z "$bytes" ] || [ -z "$secs" ]; then
            [ "$1" = qemu-microvm ] && [ $bus != virtio ] || echo "disk: $1 $bus: no result ($line)" >&2
        fi
        out+=$(awk -v b="${bytes:-0}" -v s="${secs:-0}" \
            'BEGIN { printf "%s ", (b > 0 && s > 0) ? sprintf("%.0f", b / s / 1e6) : "-" }')
    done
    echo "$out${kib:--}"
}

median() { tr ' ' '\n' | grep -v '^-\?$' | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A boot mem hand handrep uefi uefirep dv ds dn
for r in $(seq "$runs"); do
    for v in "${vmms[@]}"; do
        say "run $r $v: boot"; b=$(measure_boot "$v"); keep_log "$v" boot "$r"
        say "run $r $v: disks and memory"; res=$(measure_run "$v"); keep_log "$v" disks "$r"
        say "run $r $v: firmware hand-over"; h=$(measure_handover "$v")
        say "run $r $v: UEFI hand-over"; u=$(measure_handover_uefi "$v")
        uefi[$v]+="${u%% *} "; [ "${u#* }" != "$u" ] && uefirep[$v]+="${u#* } "
        read -r d1 d2 d3 k <<< "$res"
        boot[$v]+="${b:--} "; mem[$v]+="$k "; dv[$v]+="$d1 "; ds[$v]+="$d2 "; dn[$v]+="$d3 "
        hand[$v]+="${h%% *} "; [ "${h#* }" != "$h" ] && handrep[$v]+="${h#* } "
        echo "run $r $v: boot ${b:--} ms, disk virtio $d1 sata $d2 nvme $d3 MB/s, memory $k KiB," \
             "firmware hand-over ${h%% *} ms" >&2
    done
done

name() { case "$1" in qemu-*) echo "$1";; *) echo hangar;; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo "bench: $runs runs each, medians; guest ${mem_mib} MiB, 2 vCPUs, Linux $(basename "$kernel")"
printf '%-13s %8s %8s %10s %10s %10s %12s\n' VMM "boot ms" "mem MiB" "virtio MB/s" "sata MB/s" "nvme MB/s" "handover ms"
declare -A mb mm mv ms mn mh
for v in "${vmms[@]}"; do
    mb[$v]=$(echo "${boot[$v]}" | median); mv[$v]=$(echo "${dv[$v]}" | median)
    ms[$v]=$(echo "${ds[$v]}" | median); mn[$v]=$(echo "${dn[$v]}" | median)
    mh[$v]=$(echo "${hand[$v]}" | median)
    mm[$v]=$(echo "${mem[$v]}" | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f", $1 / 1024 }')
    printf '%-13s %8s %8s %10s %10s %10s %12s\n' "$(name "$v")" "${mb[$v]}" "${mm[$v]}" "${mv[$v]}" \
        "${ms[$v]}" "${mn[$v]}" "${mh[$v]}"
    echo "  raw $(name "$v"): boot [${boot[$v]% }] memory KiB [${mem[$v]% }] virtio [${dv[$v]% }]" \
         "sata [${ds[$v]% }] nvme [${dn[$v]% }] handover [${hand[$v]% }]" \
         "${handrep[$v]:+(counted by hangarctl from VM start: [${handrep[$v]% }])}"
done
subject=${vmms[0]}
for v in "${vmms[@]:1}"; do
    echo "ratio $(name "$subject")/$(name "$v"): boot $(ratio "${mb[$subject]}" "${mb[$v]}")," \
         "memory $(ratio "${mm[$subject]}" "${mm[$v]}"), disk virtio $(ratio "${mv[$subject]}" "${mv[$v]}")," \
         "sata $(ratio "${ms[$subject]}" "${ms[$v]}"), nvme $(ratio "${mn[$subject]}" "${mn[$v]}")," \
         "firmware hand-over $(ratio "${mh[$subject]}" "${mh[$v]}")"
done
echo "(boot, memory, hand-over: below 1 is Hangar better; disk: above 1 is Hangar faster)"
# OVMF's hand-over, where it ran (in the nested harness its outer QEMU must
# carry the fix build-outer-qemu.sh applies, or the inner OVMF aborts it).
for v in "${vmms[@]}"; do
    u=$(echo "${uefi[$v]:-}" | median)
    echo "OVMF hand-over $(name "$v"): ${u} ms; raw [${uefi[$v]:-}]${uefirep[$v]:+ (counted by hangarctl from VM start: [${uefirep[$v]% }])}"
done
for v in "${vmms[@]:1}"; do
    [ "$v" = qemu-q35 ] || continue
    echo "ratio $(name "$subject")/$v: OVMF hand-over $(ratio "$(echo "${uefi[$subject]:-}" | median)" "$(echo "${uefi[$v]:-}" | median)")"
done
