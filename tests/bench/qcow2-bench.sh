#!/usr/bin/env bash
# qcow2-bench.sh: vmm-core's disk engine (qcow2-bench, built from the same
# sources) against `qemu-img bench` on the same qcow2 image, the same
# requests in the same order, runs interleaved; prints medians and ratios
# (Hangar/QEMU, above 1 is Hangar faster).  Not pass/fail.
# usage: qcow2-bench.sh --bench PATH --workdir DIR
# env: HANGAR_BENCH_RUNS (default 3), HANGAR_QCOW2_BENCH_MIB (image, default 512)
#
# Both through the page cache (qemu-img bench's default cache=writeback;
# Hangar opens images buffered), 64 requests in flight (qemu-img bench's
# default depth), a fully allocated image made by qemu-img.  "Random" is
# qemu-img bench's own pattern with a stride: each 4 KiB request STEP bytes
# after the last, wrapping at the end of the image, STEP an odd number of
# blocks near 0.618 of the image, which visits every block once in a
# scattered order.  Writes go to a fresh copy of the image for each run.
set -uo pipefail
bench="" work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bench) bench=$2;; --workdir) work=$2;;
        *) echo "qcow2-bench: unknown option $1" >&2; exit 2;;
    esac
    shift 2
done
runs=${HANGAR_BENCH_RUNS:-3} mib=${HANGAR_QCOW2_BENCH_MIB:-512}
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img not installed (apt-get install qemu-utils)"; exit 77; }
bench=$(realpath "$bench") && mkdir -p "$work" && cd "$work" || exit 2
blocks=$((mib * 256))
stride=$(( (blocks * 618 / 1000) | 1 ))
step=$((stride * 4096))

echo "qcow2 bench: ${mib} MiB image, $runs runs, $(qemu-img --version | head -1)"
rm -f base.qcow2
head -c "${mib}M" /dev/urandom > seed.raw
qemu-img convert -f raw -O qcow2 seed.raw base.qcow2 && rm -f seed.raw || exit 1

# name  qemu-img/qcow2-bench arguments
cases=("4k-rand-read|-c 100000 -s 4096 -S $step"
       "4k-rand-write|-w -c 100000 -s 4096 -S $step"
       "64k-seq-read|-c 16384 -s 65536"
       "64k-seq-write|-w -c 16384 -s 65536")

seconds_qemu() {   # ARGS...: qemu-img bench's "Run completed in N seconds."
    qemu-img bench -f qcow2 -d 64 "$@" 2>&1 | sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p'
}
seconds_hangar() {
    "$bench" -f qcow2 -d 64 "$@" 2>&1 | sed -n 's/.* bytes in \([0-9.]*\) s:.*/\1/p'
}
# The same engine with its thread pool instead of io_uring (HANGAR_AIO=thread);
# qemu-img bench uses a thread pool by default (aio=threads).
seconds_hangar_threads() { HANGAR_AIO=thread seconds_hangar "$@"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A secs
for r in $(seq "$runs"); do
    for c in "${cases[@]}"; do
        name=${c%%|*}; read -ra args <<< "${c#*|}"
        for who in qemu hangar hangar_threads; do
            img=base.qcow2
            if [ "${args[0]}" = -w ]; then cp base.qcow2 w-$who.qcow2; img=w-$who.qcow2; fi
            s=$(seconds_$who "${args[@]}" "$img")
            [ -n "$s" ] || echo "  $who $name: no result" >&2
            secs[$who,$name]+="${s:-} "
            echo "  run $r $name $who: ${s:--} s" >&2
        done
    done
done
qemu-img check -q w-hangar.qcow2 && echo "(the image Hangar wrote passes qemu-img check)" ||
    echo "WARNING: the image Hangar wrote fails qemu-img check"
rm -f w-qemu.qcow2 w-hangar.qcow2 w-hangar_threads.qcow2

printf '%-14s %10s %10s %10s %6s %10s %10s %6s\n' case "qemu-img s" "hangar s" "hangar MB/s" ratio \
    "threads s" "MB/s" ratio
for c in "${cases[@]}"; do
    name=${c%%|*}
    bytes=$(echo "${c#*|}" | awk '{ for (i = 1; i <= NF; i++) { if ($i == "-c") n = $(i+1); if ($i == "-s") s = $(i+1) } print n * s }')
    q=$(echo "${secs[qemu,$name]}" | median); h=$(echo "${secs[hangar,$name]}" | median)
    t=$(echo "${secs[hangar_threads,$name]}" | median)
    awk -v n="$name" -v q="$q" -v h="$h" -v t="$t" -v b="$bytes" 'BEGIN {
        if (q == "-" || h == "-" || t == "-" || q == 0 || h == 0 || t == 0) { printf "%-14s %10s %10s %10s\n", n, q, h, t; exit }
        printf "%-14s %10.3f %10.3f %10.0f %6.2f %10.3f %10.0f %6.2f\n", n, q, h, b / h / 1e6, q / h, t, b / t / 1e6, q / t }'
    echo "  raw $name: qemu-img [${secs[qemu,$name]% }] hangar [${secs[hangar,$name]% }] threads [${secs[hangar_threads,$name]% }]"
done
echo "ratio = qemu-img time / Hangar time (above 1: Hangar faster); depth 64, page cache."
echo "hangar: io_uring (the default); threads: HANGAR_AIO=thread, Hangar's own thread pool."
