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
          rc == 0 and all(w in out for w in ("--kernel", "--disk", "--net", "--serial", "--uuid",
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
    # Refused before any VM is built: the value named and the form shown.
    error_case("a malformed --uuid is refused with the expected form",
               ["run", "--kernel", notkernel, "--serial", serial, "--uuid", "4a1f09c2-8b3e-4d5a"],
               2, "--uuid 4a1f09c2-8b3e-4d5a", "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55", tmp=tmp)

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

    # UEFI (OVMF): the variable store as a user meets it.
    ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    error_case("--nvram without --firmware uefi: status 2",
               ["run", "--kernel", notkernel, "--nvram", tmp + "/v.fd"], 2, "--firmware uefi")
    error_case("firmware reset-vars without a path: status 2", ["firmware", "reset-vars"], 2,
               "PATH")
    if os.path.exists(ovmf_vars):
        template = open(ovmf_vars, "rb").read()
        store = os.path.join(tmp, "nvram.fd")
        rc, out, err = run("firmware", "reset-vars", store)
        check("firmware reset-vars makes a store equal to the ovmf package's template",
              rc == 0 and open(store, "rb").read() == template, f"status {rc} {err.strip()!r}")
        bad = bytearray(template)
        bad[41] ^= 0xff                                   # the "_FVH" signature
        with open(store, "wb") as f:
            f.write(bad)
        if kvm_ok:
            error_case("a corrupt variable store is refused with the reset offered",
                       ["run", "--firmware", "uefi", "--nvram", store, "--serial", serial], 1,
                       store, "corrupt", "hangarctl firmware reset-vars " + store, tmp=tmp)
            check("the corrupt store was not rewritten", open(store, "rb").read() == bad)
            with open(store, "wb") as f:
                f.write(open("/usr/share/OVMF/OVMF_VARS.fd", "rb").read())
            error_case("a store made for the 2 MiB OVMF is refused, sizes named",
                       ["run", "--firmware", "uefi", "--nvram", store, "--serial", serial], 1,
                       "131072", "540672", "reset-vars", tmp=tmp)
            error_case("--firmware uefi --kernel checks the kernel before anything runs",
                       ["run", "--firmware", "uefi", "--kernel", notkernel, "--serial", serial],
                       1, notkernel, "bzimage", tmp=tmp)
            error_case("a missing OVMF names the ovmf package",
                       ["run", "--firmware", "uefi", "--firmware-file", tmp + "/OVMF_CODE.fd",
                        "--serial", serial], 1, "ovmf package", tmp=tmp)
            # A new --nvram FILE is made from the template; OVMF runs on it (it
            # no longer stops at its first FPU instruction on a software KVM),
            # and the store cannot be reset under the running VM.
            fresh = os.path.join(tmp, "fresh-nvram.fd")
            scratch = os.path.join(tmp, "scratch")
            os.mkdir(scratch)
            vm = subprocess.Popen([HANGARCTL, "run", "--firmware", "uefi", "--nvram", fresh,
                                   "--serial", "none", "--memory", "256"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "TMPDIR": scratch})
            time.sleep(3)
            rc2, out2, err2 = run("firmware", "reset-vars", fresh)
            vm.terminate()
            verr = vm.communicate(timeout=60)[1]
            check("run --firmware uefi --nvram NEW makes the store and runs OVMF until stopped",
                  vm.returncode == 128 + 15 and "made the UEFI variable store" in verr
                  and os.path.exists(fresh) and len(open(fresh, "rb").read()) == len(template),
                  f"status {vm.returncode}, stderr: {verr.strip()!r}")
            check("reset-vars is refused while a VM uses the store",
                  rc2 == 1 and "in use" in err2, f"status {rc2} {err2.strip()!r}")
            vm = subprocess.Popen([HANGARCTL, "run", "--firmware", "uefi", "--serial", "none",
                                   "--memory", "256"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "TMPDIR": scratch})
            time.sleep(2)
            left_running = os.listdir(scratch)
            vm.terminate()
            verr = vm.communicate(timeout=60)[1]
            check("without --nvram the VM gets a throw-away store, gone when it ends",
                  vm.returncode == 128 + 15 and len(left_running) == 1
                  and os.listdir(scratch) == [],
                  f"status {vm.returncode}, while running {left_running}, after "
                  f"{os.listdir(scratch)}, stderr: {verr.strip()!r}")
        else:
            skip("UEFI runs with bad stores", "/dev/kvm is not usable here")
    else:
        skip("UEFI variable store cases", ovmf_vars + " is missing (apt install ovmf)")

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

    # The host checklist: every check printed, problems with their fix.
    rc, out, err = run("host-check", "--kvm", tmp + "/no-kvm", "--quick")
    check("host-check without a KVM device: the modprobe fix, kvm: unavailable, status 1",
          rc == 1 and "kvm-device" in out and "sudo modprobe kvm_" in out
          and "kvm: unavailable" in out, f"status {rc} {out.strip()[-300:]!r}")
    if os.path.exists(ro):
        rc, out, err = run("host-check", "--kvm", ro, "--quick")
        check("host-check on a KVM device it may not open: the kvm group and logging out",
              rc == 1 and "kvm-access" in out and "sudo usermod -aG kvm $USER" in out
              and "log out" in out, f"status {rc} {out.strip()[-300:]!r}")
    if kvm_ok:
        rc, out, err = run("host-check", timeout=120)
        ids = ("cpu-flag", "firmware-disabled", "kvm-device", "kvm-access",
               "other-hypervisor", "kvm-speed")
        mode = [l for l in out.splitlines() if l in ("kvm: hardware", "kvm: emulated")]
        check("host-check lists every check and ends with the kvm: and kvm-speed: lines",
              rc == 0 and all(f"] {i}:" in out for i in ids) and len(mode) == 1
              and "kvm-speed: " in out, f"status {rc} {out.strip()[-300:]!r}")
        if mode == ["kvm: emulated"]:
            check("host-check on emulated KVM warns that guests will be very slow",
                  "[warning] kvm-speed: KVM is emulated" in out, out[-300:])
    else:
        skip("host-check on this host's KVM", "/dev/kvm cannot be opened here")

print(f"1..{len(results)}")
for i, (name, ok, detail) in enumerate(results, 1):
    if ok is None:
        print(f"ok {i} - {name} # SKIP {detail}")
    elif ok:
        print(f"ok {i} - {name}")
    else:
        print(f"not ok {i} - {name}")
        print(f"# {detail}")
