#!/usr/bin/env bash
# build-outer-qemu.sh: builds the nested harness's outer QEMU for the UEFI
# guest test: Debian's own QEMU source (the version installed here, with
# Debian's patches) plus one fix, outer-qemu-cr8-bql.patch.
#
# Why: under TCG, QEMU's helper_write_crN() (target/i386/tcg/sysemu/
# misc_helper.c, case 8) calls cpu_interrupt() without the big QEMU lock when
# a nested (L2) guest writes CR8 while a virtual interrupt is pending, and
# tcg_handle_interrupt() aborts: "assertion failed (qemu_mutex_iothread_locked())".
# OVMF does exactly that; SeaBIOS and Linux do not.  The code is the same in
# QEMU 10.0 (bookworm-backports), so no packaged QEMU avoids it.
#
# Only the outer machine of the test harness is patched, never anything the
# VM under test or the user meets.  Only qemu-system-x86_64 is built (TCG,
# virtfs; no display, no network), in about 15 minutes on two cores.
#
# usage: build-outer-qemu.sh DIR    prints the path of the built binary
# Adds deb-src entries for apt when the source is not found (Debian only),
# needs the build dependencies listed in .ci/install-deps.  A build whose
# source version and patch match is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: build-outer-qemu.sh DIR}
patch=$here/outer-qemu-cr8-bql.patch
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)

version=$(dpkg-query -W -f '${source:Version}' qemu-system-x86 2>/dev/null) ||
    { echo "build-outer-qemu: qemu-system-x86 is not installed" >&2; exit 2; }
stamp="$version $(sha256sum < "$patch" | cut -d' ' -f1)"
bin=$dir/build/qemu-system-x86_64
if [ -x "$bin" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$bin"; exit 0
fi

# The source of the QEMU installed here: apt needs deb-src entries for it.
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! apt-cache showsrc qemu 2>/dev/null | grep -qx "Version: $version"; then
    . /etc/os-release
    echo "build-outer-qemu: adding deb-src entries for Debian $VERSION_CODENAME (/etc/apt/sources.list.d/hangar-deb-src.sources)" >&2
    printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" \
        "Suites: $VERSION_CODENAME $VERSION_CODENAME-updates" "Components: main" \
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
        "Types: deb-src" "URIs: http://deb.debian.org/debian-security" \
        "Suites: $VERSION_CODENAME-security" "Components: main" \
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
        $SUDO tee /etc/apt/sources.list.d/hangar-deb-src.sources >/dev/null
    $SUDO apt-get update -qq >&2
fi

echo "build-outer-qemu: building QEMU $version with $(basename "$patch") in $dir (about 15 minutes)" >&2
rm -rf "$dir/src" "$dir/build" "$dir/stamp"
mkdir -p "$dir/src"
# apt-get source unpacks with dpkg-source, which applies Debian's patches.
(cd "$dir/src" && apt-get source -qq "qemu=$version" >&2) ||
    { echo "build-outer-qemu: apt-get source qemu=$version failed" >&2; exit 1; }
src=$(find "$dir/src" -maxdepth 1 -mindepth 1 -type d -name 'qemu-*' | head -1)
patch -d "$src" -p1 --forward < "$patch" >&2
mkdir -p "$dir/build"
(cd "$dir/build" && "$src/configure" --meson=meson --target-list=x86_64-softmmu \
    --without-default-features --enable-tcg --enable-virtfs --enable-attr --enable-cap-ng \
    --enable-fdt=system --disable-docs --disable-werror --disable-tools >"$dir/configure.log" 2>&1) ||
    { echo "build-outer-qemu: configure failed; see $dir/configure.log" >&2; exit 1; }
ninja -C "$dir/build" qemu-system-x86_64 >"$dir/build.log" 2>&1 ||
    { echo "build-outer-qemu: build failed; see $dir/build.log" >&2; exit 1; }
echo "$stamp" > "$dir/stamp"
echo "$bin"
