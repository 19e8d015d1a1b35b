# harness-lib.sh: shared by harness.sh and tests/bench/run.sh (sourced).
# Decides whether /dev/kvm is fast enough to boot Linux directly or the run
# must go through the nested harness, and runs a command accordingly.

# Prints hardware|emulated, and the measurement on stderr.  HANGAR_KVM_MODE
# overrides; otherwise `hangarctl host-check` (or a TOOL printing the same lines).
hgr_kvm_mode() {   # HANGARCTL-OR-EMPTY KVM-SPEED-TOOL
    local hangarctl=$1 tool=$2 report
    if [ -n "${HANGAR_KVM_MODE:-}" ]; then
        echo "kvm mode from HANGAR_KVM_MODE" >&2
        echo "$HANGAR_KVM_MODE"; return 0
    fi
    if [ -n "$hangarctl" ]; then
        report=$("$hangarctl" host-check 2>&1) || report=""
    fi
    if [ -z "${report:-}" ]; then
        [ -n "$tool" ] || { echo "no hangarctl to measure KVM with" >&2; return 1; }
        report=$("$tool" 2>&1) || { echo "$report" >&2; return 1; }
    fi
    echo "$report" >&2
    echo "$report" | sed -n 's/^kvm: \(hardware\|emulated\)$/\1/p' | grep . || return 1
}

# Why /dev/kvm cannot be used at all, or nothing.
hgr_kvm_unusable() {
    if [ ! -e /dev/kvm ]; then echo "no /dev/kvm (enable virtualization, load kvm-intel/kvm-amd)"
    elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo "no permission on /dev/kvm (add $(id -un) to the kvm group)"
    fi
}

# Run CMD in WORKDIR, inside the nested harness when MODE is emulated.
# The command's stdout lands in WORKDIR/stdout, its stderr in WORKDIR/stderr;
# returns its exit status (125: the nested harness did not report one).
hgr_run() {   # MODE WORKDIR CACHEDIR CMD...
    local mode=$1 work=$2 cache=$3 here
    shift 3
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    mkdir -p "$work"
    if [ "$mode" = hardware ]; then
        (cd "$work" && "$@" > "$work/stdout" 2> "$work/stderr")
    else
        "$here/nested.sh" -m "${HANGAR_NESTED_MEM:-4096}" -c "${HANGAR_NESTED_CPUS:-2}" \
            -C "$cache" -o "$work" -l "$work/nested-console.log" -- \
            bash -c '"$@" > stdout 2> stderr' hgr-run "$@"
    fi
}
