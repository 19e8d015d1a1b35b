#!/usr/bin/env python3
"""hangarctl's bad-input contract, as a user meets it: a clear one-line
error naming the cause, a non-zero status, and nothing written.
Usage: test-hangarctl.py HANGARCTL [BOOT-SECTOR.BIN PNG-STATS.PY]   (prints TAP)"""
import glob
import os
import socket
import subprocess
import sys
import tempfile
import time

HANGARCTL = sys.argv[1]
BOOT_SECTOR = sys.argv[2] if len(sys.argv) > 2 else None   # tests/kvm's boot-sector.bin
PNG_STATS = sys.argv[3] if len(sys.argv) > 3 else None     # tests/kvm's png-stats.py
results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))


def skip(name, why):
    results.append((name, None, why))


def run(*args, timeout=60):
    p = subprocess.run([HANGARCTL, *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def error_case(name, args, status, *needles, tmp=None):
    rc, out, err = run(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    ok = rc == status and all(n.lower() in err.lower() for n in needles)
    if status == 1:
        ok = ok and len(lines) == 1          # one line, not a wall of text
    if tmp is not None:
        ok = ok and not os.path.exists(os.path.join(tmp, "serial.log"))
    check(name, ok, f"status {rc}, stderr: {err.strip()!r}")


kernels = sorted(glob.glob("/boot/vmlinuz-*"))
kernel = kernels[-1] if kernels else None
kvm_ok = os.access("/dev/kvm", os.R_OK | os.W_OK)

with tempfile.TemporaryDirectory() as tmp:
    serial = os.path.join(tmp, "serial.log")
    notkernel = os.path.join(tmp, "notkernel")
    with open(notkernel, "wb") as f:
        f.write(b"\x7fELF" + os.urandom(4096))
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.write(b"\xa5" * (1 << 20))
    before = open(disk, "rb").read()

    rc, out, err = run("run", "--help")
    check("run --help explains every option and the exit status",
          rc == 0 and all(w in out for w in ("--kernel", "--disk", "--net", "--serial",
                                             "hostfwd", "Exit status")), out[:200])
    rc, out, err = run()
    check("no command: usage on stderr, status 2", rc == 2 and "Usage" in err)
    rc, out, err = run("frobnicate")
    check("unknown command names it, status 2", rc == 2 and "frobnicate" in err)
    error_case("run without --kernel: status 2", ["run"], 2, "--kernel")
    error_case("bad hostfwd spelled out with an example", ["run", "--kernel", notkernel,
               "--net", "user,hostfwd=tcp:99999-:22"], 2, "hostfwd", "tcp:")
    error_case("unknown disk option", ["run", "--kernel", notkernel, "--disk",
               disk + ",cache=none"], 2, "cache")
    error_case("unsupported disk format is refused, not probed",
               ["run", "--kernel", notkernel, "--disk", disk + ",format=vmdk"], 2, "vmdk")

    if not kvm_ok:
        for n in ("missing kernel", "not a bzImage", "missing initrd", "missing disk",
                  "disk is a directory", "disk in use", "too much memory"):
            skip(n, "/dev/kvm is not usable here")
    else:
        base = ["run", "--serial", serial]
        error_case("missing kernel names the file", base + ["--kernel", tmp + "/nope"], 1,
                   tmp + "/nope", tmp=tmp)
        error_case("a kernel that is not a bzImage is refused", base + ["--kernel", notkernel],
                   1, notkernel, "bzimage", tmp=tmp)
        if kernel:
            error_case("missing initrd names the file",
                       base + ["--kernel", kernel, "--initrd", tmp + "/no-initrd"], 1,
                       tmp + "/no-initrd", tmp=tmp)
            error_case("missing disk names the file",
                       base + ["--kernel", kernel, "--disk", tmp + "/no-disk.img"], 1,
                       tmp + "/no-disk.img", tmp=tmp)
            error_case("a directory is not a disk", base + ["--kernel", kernel, "--disk", tmp],
                       1, tmp, "directory", tmp=tmp)
            error_case("more memory than the host has",
                       base + ["--kernel", kernel, "--memory", str(1 << 20)], 1, "memory",
                       tmp=tmp)
            # A VM holding the disk: the second one is told it is in use.
            holder = subprocess.Popen([HANGARCTL, "run", "--kernel", kernel, "--serial", "none",
                                       "--disk", disk, "--memory", "256"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
            time.sleep(2)
            if holder.poll() is None:
                error_case("a disk in use by another VM is refused",
                           base + ["--kernel", kernel, "--disk", disk], 1, disk, "in use",
                           tmp=tmp)
                holder.terminate()
                holder.wait(timeout=30)
            else:
                check("a disk in use by another VM is refused", False,
                      "the holder VM exited: " + holder.stderr.read().decode())
            check("the disk image was not written by any failed start",
                  open(disk, "rb").read() == before)
        else:
            skip("kernel-based cases", "no /boot/vmlinuz-* (apt-get install linux-image-amd64)")

    # Disk creation, judged by qemu-img.
    import json as _json
    import shutil as _shutil
    q = os.path.join(tmp, "new.qcow2")
    rc, out, err = run("disk", "create", q, "3G", "--format", "qcow2")
    if _shutil.which("qemu-img"):
        info = subprocess.run(["qemu-img", "info", "--output=json", q], capture_output=True,
                              text=True)
        meta = _json.loads(info.stdout or "{}")
        chk = subprocess.run(["qemu-img", "check", q], capture_output=True, text=True)
        check("disk create makes a qcow2 that qemu-img reads as 3 GiB and checks clean",
              rc == 0 and meta.get("format") == "qcow2"
              and meta.get("virtual-size") == 3 << 30 and chk.returncode == 0,
              f"status {rc} {err.strip()!r} info {info.stdout.strip()[:200]!r}")
    else:
        skip("disk create judged by qemu-img", "qemu-img is not installed (qemu-utils)")
    rc, out, err = run("disk", "create", q, "1G", "--format", "qcow2")
    check("disk create never overwrites an existing file", rc != 0 and q in err,
          f"status {rc} {err.strip()!r}")

    # A firmware boot from a disk, with the screen saved at the end.
    if kvm_ok and BOOT_SECTOR and os.path.exists("/usr/share/seabios/bios-256k.bin"):
        mbr = os.path.join(tmp, "mbr.img")
        with open(mbr, "wb") as f:
            f.write(open(BOOT_SECTOR, "rb").read().ljust(1 << 20, b"\0"))
        shot = os.path.join(tmp, "screen.png")
        rc, out, err = run("run", "--firmware", "bios", "--disk", mbr, "--memory", "128",
                           "--serial", "stdio", "--screenshot", shot, timeout=120)
        png = open(shot, "rb").read(8) if os.path.exists(shot) else b""
        check("--firmware bios boots the disk, powers off with 0 and saves the screen",
              rc == 0 and "MBR: hello from the boot sector" in out
              and png == b"\x89PNG\r\n\x1a\n", f"status {rc} {err.strip()!r}")
    else:
        skip("firmware boot with --screenshot", "needs /dev/kvm, seabios and the boot sector")

    # Screens saved at set times while the VM runs (--screenshot-at).
    error_case("--screenshot-at without a time is refused with an example",
               ["run", "--kernel", notkernel, "--screenshot-at", "boot.png"], 2,
               "SECONDS:PNG", tmp=tmp)
    error_case("--screenshot-at with a time that is not a number names it",
               ["run", "--kernel", notkernel, "--screenshot-at", "soon:boot.png"], 2,
               "'soon'", "seconds", tmp=tmp)
    error_case("--screenshot-at into a missing directory names the directory",
               ["run", "--kernel", notkernel, "--screenshot-at", f"1:{tmp}/nodir/a.png"], 2,
               f"{tmp}/nodir", tmp=tmp)
    if kvm_ok and PNG_STATS and os.path.exists("/usr/share/seabios/bios-256k.bin"):
        # SeaBIOS with an empty disk stays on "No bootable device" (it
        # retries after 60 s). Shots at a series of times: the first one
        # due after the host saw that line on the serial port must show
        # SeaBIOS's text; the VM is then stopped, and the shots still due
        # are reported as not taken.
        empty = os.path.join(tmp, "empty.img")
        with open(empty, "wb") as f:
            f.truncate(1 << 20)
        times = [1, 2, 3, 5, 8, 13, 21, 34, 55]
        shots = {t: os.path.join(tmp, f"at-{t}.png") for t in times}
        serial2 = os.path.join(tmp, "serial-nb.log")
        args = [HANGARCTL, "run", "--firmware", "bios", "--disk", empty, "--memory", "128",
                "--serial", serial2]
        for t in times:
            args += ["--screenshot-at", f"{t}:{shots[t]}"]
        t0 = time.monotonic()
        vm = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        seen = None
        while vm.poll() is None and time.monotonic() - t0 < 50:
            if os.path.exists(serial2) and b"No bootable device" in open(serial2, "rb").read():
                seen = time.monotonic() - t0
                break
            time.sleep(0.1)
        due = next((t for t in times if seen is not None and t >= seen), None)
        while due and vm.poll() is None and not os.path.exists(shots[due]) \
                and time.monotonic() - t0 < due + 60:
            time.sleep(0.1)
        time.sleep(0.5)              # the PNG is complete once the next poll sees it
        vm.terminate()
        err = vm.communicate(timeout=30)[1]
        lit = 0
        if due and os.path.exists(shots[due]):
            stats = subprocess.run([sys.executable, PNG_STATS, shots[due], "400"],
                                   capture_output=True, text=True)
            lit = int(stats.stdout.split()[2]) if stats.returncode == 0 else 0
        check("--screenshot-at saves the screen while the VM runs: SeaBIOS's text is on it",
              due is not None and lit > 200,
              f"serial line seen at {seen}s, shot at {due}s, {lit} lit pixels; {err.strip()!r}")
        late = [t for t in times if not os.path.exists(shots[t])]
        check("shots still due when the VM is stopped are named as not taken",
              vm.returncode == 128 + 15 and late and
              all(f"no screenshot at {t}s ({shots[t]}): the VM ended" in err for t in late),
              f"status {vm.returncode}, not taken {late}, stderr {err.strip()!r}")
    else:
        skip("--screenshot-at during a firmware boot", "needs /dev/kvm, seabios and the boot sector")

    # KVM device problems, named with their fix.
    error_case("no KVM device: says so and how to fix it",
               ["run", "--kvm", tmp + "/no-kvm", "--kernel", notkernel], 1, "kvm", tmp=tmp)
    ro = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
    if os.path.exists(ro):
        # A file even root cannot open read-write: stands in for a /dev/kvm
        # without permission (tests run as root, so modes do not stop them).
        error_case("KVM device without permission: names the kvm group",
                   ["run", "--kvm", ro, "--kernel", notkernel], 1, "kvm group", tmp=tmp)
    else:
        skip("KVM device without permission", f"{ro} is missing on this kernel")

print(f"1..{len(results)}")
for i, (name, ok, detail) in enumerate(results, 1):
    if ok is None:
        print(f"ok {i} - {name} # SKIP {detail}")
    elif ok:
        print(f"ok {i} - {name}")
    else:
        print(f"not ok {i} - {name}")
        print(f"# {detail}")
