# Shared by build-initramfs.sh and nested.sh (sourced, not run).

# The newest kernel that has both an image in /boot and its modules.
hgr_guest_kver() {
    local k
    for k in $(ls /lib/modules 2>/dev/null | sort -rV); do
        [ -r "/boot/vmlinuz-$k" ] && { echo "$k"; return 0; }
    done
    return 1
}

# Print the module files for MODULES and everything they depend on, each
# after its dependencies, so that insmod in this order never fails on a
# missing symbol.  Usage: hgr_module_closure KVER MODULE...
hgr_module_closure() {
    local kver=$1; shift
    local -A seen=()
    local -a order=()
    _hgr_visit() {
        local m=${1//-/_} dep f
        [ -n "${seen[$m]:-}" ] && return 0
        seen[$m]=1
        f=$(modinfo -k "$kver" -F filename "$1" 2>/dev/null) || {
            echo "initramfs: module $1 not found for kernel $kver" >&2; return 1; }
        case "$f" in (builtin*|"") return 0;; esac
        for dep in $(modinfo -k "$kver" -F depends "$1" | tr ',' ' '); do
            _hgr_visit "$dep" || return 1
        done
        order+=("$f")
    }
    local m
    for m in "$@"; do _hgr_visit "$m" || return 1; done
    printf '%s\n' "${order[@]}"
}

# Copy busybox into DIR/bin with one link per applet.
hgr_install_busybox() {
    local dir=$1 bb a
    bb=$(command -v busybox) || { echo "initramfs: busybox not found (apt-get install busybox-static)" >&2; return 1; }
    if ldd "$bb" >/dev/null 2>&1; then
        echo "initramfs: $bb is dynamically linked (apt-get install busybox-static)" >&2; return 1
    fi
    mkdir -p "$dir/bin"
    cp "$bb" "$dir/bin/busybox"
    for a in $("$bb" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
    done
}

# Pack DIR as a gzip'd newc cpio into OUT atomically.
hgr_pack_cpio() {
    local dir=$1 out=$2
    (cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$out.tmp" &&
        mv "$out.tmp" "$out"
}
