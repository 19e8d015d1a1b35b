#!/usr/bin/env python3
"""hangarctl's VM commands as a user meets them: create, list, info, set,
a VM started headless in one process and seen, paused, photographed and
stopped from others, and the bad inputs (taken names, '/', a hand-edited
nonsense file, a vanished disk, a crashed VM process) each with one clear
line and nothing lost.
Usage: test-hangarctl-vms.py HANGARCTL [BOOT_SECTOR_BIN]   (prints TAP)"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HANGARCTL = os.path.abspath(sys.argv[1])
BOOT_SECTOR = sys.argv[2] if len(sys.argv) > 2 else None
SEABIOS = "/usr/share/seabios/bios-256k.bin"
results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))


def skip(name, why):
    results.append((name, None, why))


def run(*args, timeout=120):
    p = subprocess.run([HANGARCTL, *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def one_line_error(rc, err, status, *needles):
    lines = [l for l in err.splitlines() if l.strip()]
    return (rc == status and len(lines) == 1
            and all(n.lower() in err.lower() for n in needles))


def state_of(name):
    rc, out, err = run("list", "--json")
    if rc != 0:
        return None
    for m in json.loads(out)["machines"]:
        if m["name"] == name:
            return m["state"]
    return None


def wait_for(predicate, limit=180):
    """Polls until predicate() is true; the limit only ends a hung test."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.5)
    return False


tmp = tempfile.mkdtemp(prefix="hgr-vms-")
lib = os.path.join(tmp, "library")
os.environ["HANGAR_LIBRARY_DIR"] = lib
os.environ["XDG_RUNTIME_DIR"] = os.path.join(tmp, "run")   # control sockets of this test
os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700)
kvm_ok = os.access("/dev/kvm", os.R_OK | os.W_OK) and os.path.exists(SEABIOS)
name = "Test VM"
folder = os.path.join(lib, name)
procs = []

try:
    # Create, list, info.
    rc, out, err = run("create", name, "--memory", "64", "--cpus", "1", "--disk-size", "16M")
    disk = os.path.join(folder, "disk.qcow2")
    head = open(disk, "rb").read(4) if os.path.exists(disk) else b""
    check("create makes the folder, its settings file and a qcow2 disk",
          rc == 0 and os.path.isfile(os.path.join(folder, name + ".hangar"))
          and head == b"QFI\xfb", f"status {rc} {err.strip()!r}")
    rc, out, err = run("list")
    check("list shows the new machine stopped with its memory and CPUs",
          rc == 0 and any(name in l and "Stopped" in l and "64M" in l for l in out.splitlines()),
          out)
    rc, out, err = run("list", "--json", "--library", lib)
    try:
        ms = json.loads(out)["machines"]
    except ValueError:
        ms = []
    check("list --json (and --library) gives name, state, memory, CPUs",
          rc == 0 and len(ms) == 1 and ms[0]["name"] == name and ms[0]["state"] == "Stopped"
          and ms[0]["memory-mib"] == 64 and ms[0]["cpus"] == 1, out[:300])
    rc, out, err = run("info", name)
    check("info shows the settings", rc == 0 and "64 MiB" in out and "disk.qcow2" in out
          and "bios" in out, out)
    rc, out, err = run("info", "--raw", name)
    check("info --raw prints the settings file", rc == 0 and out.startswith("[Hangar]")
          and "memory-mib=64" in out, out[:200])

    # From an OS template (libosinfo): Windows 11 gets UEFI, NVMe and its own nvram.fd.
    rc, out, err = run("create", "Win", "--os", "win11", "--disk-size", "1M")
    rc2, out2, err2 = run("info", "Win")
    if rc == 0:
        check("create --os win11: UEFI, NVMe disk, the OS named, a copy of OVMF's variables",
              "uefi" in out2 and "nvme" in out2 and "Windows 11" in out2
              and os.path.getsize(os.path.join(lib, "Win", "nvram.fd")) > 0, out2)
        shutil.rmtree(os.path.join(lib, "Win"))
    elif "ovmf" in err.lower():
        skip("create --os win11", "the ovmf package is missing: " + err.strip())
    else:
        check("create --os win11", False, f"status {rc} {err.strip()!r}")
    rc, out, err = run("create", "X", "--os", "no-such-os")
    check("an unknown --os is a usage error naming it", one_line_error(rc, err, 2, "no-such-os")
          and not os.path.exists(os.path.join(lib, "X")), err)

    # Installation media: an ISO libosinfo knows sets the OS; a file that is
    # not an ISO is refused before anything is made.
    if shutil.which("xorriso"):
        src = os.path.join(tmp, "iso-src")
        os.makedirs(src)
        open(os.path.join(src, "README"), "w").write("hello\n")
        iso = os.path.join(tmp, "debian.iso")
        subprocess.run(["xorriso", "-as", "mkisofs", "-V", "Debian 11.5.0 amd64 n", "-o", iso,
                        src], capture_output=True, check=True)
        rc, out, err = run("create", "Installer", "--cdrom", iso, "--disk-size", "1M")
        rc2, out2, err2 = run("info", "Installer")
        check("create --cdrom with a Debian ISO: the OS is recognised, it boots from the CD",
              rc == 0 and "Debian" in out and "Debian 11" in out2 and iso in out2
              and "Boot:       cdrom" in out2, f"{rc} {err!r} {out2}")
        shutil.rmtree(os.path.join(lib, "Installer"), ignore_errors=True)
    else:
        skip("create --cdrom recognises the OS", "xorriso is not installed")
    notiso = os.path.join(tmp, "notes.iso")
    open(notiso, "w").write("not an ISO\n")
    before = sorted(os.listdir(lib))
    rc, out, err = run("create", "Bad media", "--cdrom", notiso)
    check("create --cdrom with a file that is not an ISO: one line naming it, nothing made",
          one_line_error(rc, err, 1, notiso) and sorted(os.listdir(lib)) == before, err)
    rc, out, err = run("set", name, "cdrom=" + notiso)
    check("set cdrom= with a file that is not an ISO is refused naming it",
          one_line_error(rc, err, 1, notiso), err)

    # Set.
    rc, out, err = run("set", name, "memory=96", "cpus=2", "boot=disk")
    rc2, out2, err2 = run("info", name)
    check("set changes memory, CPUs and boot, and info shows them",
          rc == 0 and "96 MiB" in out2 and "CPUs:       2" in out2 and "Boot:       disk" in out2,
          f"status {rc} {err.strip()!r} {out2}")
    rc, out, err = run("set", name, "colour=blue")
    check("set with an unknown key: usage error naming it", one_line_error(rc, err, 2, "colour"),
          err)
    rc, out, err = run("set", name, "cpus=0")
    check("set cpus=0: usage error with the range", one_line_error(rc, err, 2, "cpus", "64"), err)
    rc, out, err = run("set", name, "name=Renamed")
    moved = os.path.isfile(os.path.join(lib, "Renamed", "Renamed.hangar"))
    rc2, out2, err2 = run("set", "Renamed", "name=" + name)
    check("set name= renames the machine and moves its folder (and back)",
          rc == 0 and moved and rc2 == 0 and os.path.isfile(os.path.join(folder, name + ".hangar")),
          f"{err.strip()!r} {err2.strip()!r}")

    # Bad names.
    before = sorted(os.listdir(lib))
    rc, out, err = run("create", name)
    check("a taken name is refused with one line", one_line_error(rc, err, 1, "already exists"),
          err)
    rc, out, err = run("create", "a/b")
    check("a name with '/' is refused with one line", one_line_error(rc, err, 1, "'/'"), err)
    rc, out, err = run("create", ".hidden")
    check("a name with a leading '.' is refused", one_line_error(rc, err, 1, "'.'"), err)
    check("refused creates leave nothing behind", sorted(os.listdir(lib)) == before,
          f"{before} -> {sorted(os.listdir(lib))}")
    rc, out, err = run("info", "Nobody")
    check("an unknown machine is named", one_line_error(rc, err, 1, "Nobody"), err)

    # A hand-edited nonsense file: list still works and says which file.
    rc, out, err = run("create", "Broken", "--memory", "64", "--disk-size", "1M")
    bad_file = os.path.join(lib, "Broken", "Broken.hangar")
    text = open(bad_file).read().replace("cpus=2", "cpus=many")
    open(bad_file, "w").write(text)
    rc, out, err = run("list")
    check("a nonsense settings file: list still lists the rest, and names the file and key",
          rc == 0 and name in out and "Broken" not in out and bad_file in err and "cpus" in err,
          f"{out!r} {err!r}")
    check("the nonsense file is left as it was", open(bad_file).read() == text)
    rc, out, err = run("start", "Broken")
    check("starting the broken machine says why", one_line_error(rc, err, 1, "cpus"), err)
    shutil.rmtree(os.path.join(lib, "Broken"))

    if not kvm_ok:
        for n in ("boot sector run in the foreground", "start in the background",
                  "state from another process", "screenshot over the socket", "pause/resume",
                  "stop --force", "stale socket", "vanished disk", "cd"):
            skip(n, "needs /dev/kvm and the seabios package")
    else:
        # A VM started headless in another process. Its disk is empty, so
        # SeaBIOS runs and waits ("No bootable device"): it stays up.
        bg = subprocess.Popen([HANGARCTL, "start", name], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(bg)
        up = wait_for(lambda: state_of(name) == "Running" or bg.poll() is not None)
        check("start runs the VM; list in another process shows it Running",
              up and bg.poll() is None and state_of(name) == "Running",
              f"exit {bg.poll()} {bg.stderr.read() if bg.poll() is not None else ''}")
        rc, out, err = run("info", name)
        check("info says it runs in another process", "Running (in another process)" in out,
              out)
        shot = os.path.join(tmp, "screen.png")
        # The screen exists once SeaBIOS has set a video mode.
        wait_for(lambda: run("screenshot", name, shot)[0] == 0, limit=120)
        png = open(shot, "rb").read(8) if os.path.exists(shot) else b""
        check("screenshot over the control socket writes a PNG", png == b"\x89PNG\r\n\x1a\n",
              run("screenshot", name, shot)[2])
        rc, out, err = run("pause", name)
        paused = state_of(name)
        rc3, out3, err3 = run("pause", name)
        rc2, out2, err2 = run("resume", name)
        check("pause and resume over the socket", rc == 0 and paused == "Paused" and rc2 == 0
              and state_of(name) == "Running", f"{err!r} {paused} {err2!r}")
        check("pausing a paused VM says so in one line, and the VM lives on",
              one_line_error(rc3, err3, 1, "paused") and rc2 == 0, err3)
        bad_png = os.path.join(tmp, "no-such-dir", "x.png")
        rc, out, err = run("screenshot", name, bad_png)
        check("a screenshot into a missing folder names it", one_line_error(rc, err, 1, bad_png),
              err)
        p = subprocess.run([HANGARCTL, "screenshot", name, "relative.png"], cwd=tmp,
                           capture_output=True, text=True, timeout=60)
        check("a relative screenshot path is relative to the caller, not the VM's process",
              p.returncode == 0 and os.path.exists(os.path.join(tmp, "relative.png")), p.stderr)
        # Ctrl-Z on the process running it: nothing may wait for its answer.
        bg.send_signal(signal.SIGSTOP)
        st = state_of(name)
        rc, out, err = run("resume", name, timeout=60)
        bg.send_signal(signal.SIGCONT)
        check("a stopped VM process: list says Paused at once, commands say how to continue it",
              st == "Paused" and one_line_error(rc, err, 1, "stopped", str(bg.pid))
              and state_of(name) == "Running", f"{st} {err!r}")
        rc, out, err = run("start", name)
        check("a second start is refused: it already runs",
              one_line_error(rc, err, 1, "already running"), err)
        rc, out, err = run("set", name, "memory=128")
        check("settings cannot change while it runs", one_line_error(rc, err, 1, "running"), err)
        rc, out, err = run("delete", name)
        check("delete is refused while it runs", one_line_error(rc, err, 1, "running")
              and os.path.isdir(folder), err)
        # The disc, changed in the running VM from this process: a real ISO
        # (xorriso), or what the library checks of one, the volume
        # descriptor at 32 KiB.
        iso = os.path.join(tmp, "driver.iso")
        content = os.path.join(tmp, "driver")
        os.makedirs(content)
        open(os.path.join(content, "README.TXT"), "w").write("drivers\n")
        if not shutil.which("xorriso") or subprocess.run(
                ["xorriso", "-as", "mkisofs", "-quiet", "-V", "DRIVERS", "-o", iso, content],
                capture_output=True).returncode != 0:
            with open(iso, "wb") as f:
                f.write(bytes(32768) + b"\x01CD001\x01" + bytes(32761))
        notes = os.path.join(tmp, "notes.iso")
        open(notes, "w").write("not a disc\n")
        p = subprocess.run([HANGARCTL, "cd", name, "driver.iso"], cwd=tmp, capture_output=True,
                           text=True, timeout=60)
        info = run("info", name)[1]
        check("cd puts an ISO (relative to the caller) in the running VM; info shows it",
              p.returncode == 0 and f"CD-ROM:     {iso}\n" in info, f"{p.stderr!r} {info!r}")
        rc, out, err = run("cd", name, notes)
        rc2, out2, err2 = run("cd", name, os.path.join(tmp, "missing.iso"))
        info = run("info", name)[1]
        check("cd with a file that is not a disc, or missing: one line naming it, the disc "
              "stays", one_line_error(rc, err, 1, notes, "not a CD/DVD image")
              and one_line_error(rc2, err2, 1, "missing.iso") and f"CD-ROM:     {iso}\n" in info,
              f"{err!r} {err2!r} {info!r}")
        rc, out, err = run("cd", name)
        rc2, out2, err2 = run("cd", name, iso, "--eject")
        check("cd without an ISO or --eject, or with both, is a usage error",
              one_line_error(rc, err, 2, "--eject") and one_line_error(rc2, err2, 2, "--eject"),
              f"{err!r} {err2!r}")
        rc, out, err = run("cd", name, "--eject")
        info = run("info", name)[1]
        check("cd --eject empties the drive; info shows it empty",
              rc == 0 and "CD-ROM:     empty" in info and state_of(name) == "Running",
              f"{err!r} {info!r}")
        if shutil.which("xorriso"):
            rc, out, err = run("set", name, f"cdrom={iso}")
            check("set cdrom= while it runs is refused, pointing at hangarctl cd",
                  one_line_error(rc, err, 1, "running", "hangarctl cd"), err)
        else:
            skip("set cdrom= while it runs", "xorriso is not installed")
        run("cd", name, iso)                  # the next start has it again
        rc, out, err = run("stop", "--force", name)
        try:
            code = bg.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        check("stop --force stops it: the starting process ends with 0, list says Stopped",
              rc == 0 and code == 0 and state_of(name) == "Stopped", f"{err!r} exit {code}")
        rc, out, err = run("pause", name)
        check("pause of a stopped machine says it is not running",
              one_line_error(rc, err, 1, "not running"), err)
        rc, out, err = run("cd", name, "--eject")
        check("cd on a stopped machine says it is not running; the disc stays for its start",
              one_line_error(rc, err, 1, "not running") and iso in run("info", name)[1], err)

        # A VM process that crashes leaves its socket file: it is recognised.
        bg = subprocess.Popen([HANGARCTL, "start", name], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bg)
        wait_for(lambda: state_of(name) == "Running" or bg.poll() is not None)
        run_dir = os.path.join(os.environ["XDG_RUNTIME_DIR"], "hangar")
        socks = os.listdir(run_dir) if os.path.isdir(run_dir) else []
        bg.send_signal(signal.SIGKILL)
        bg.wait(timeout=30)
        left = os.listdir(run_dir) if os.path.isdir(run_dir) else []
        st = state_of(name)
        # A socket younger than a moment may be a server about to listen, so
        # removal can wait for a later look.
        gone = wait_for(lambda: state_of(name) == "Stopped" and not os.listdir(run_dir))
        check("a crashed VM process: its stale socket is seen as Stopped and removed",
              len(socks) == 1 and left == socks and st == "Stopped" and gone,
              f"{socks} {left} {st} {os.listdir(run_dir)}")

        # --detach: back once it runs, the VM carrying on in the background.
        rc, out, err = run("start", "--detach", name)
        st = state_of(name)
        rc2, out2, err2 = run("stop", "--force", name)
        check("start --detach returns once the VM runs; it runs on until stopped",
              rc == 0 and "background" in out and st == "Running" and rc2 == 0
              and state_of(name) == "Stopped", f"{rc} {err!r} {st} {err2!r}")

        # The boot sector as the machine's disk (a hand-edited file naming a
        # raw image): start runs in the foreground until the guest powers
        # off, with the serial port in logs/serial.log.
        if BOOT_SECTOR and os.path.exists(BOOT_SECTOR):
            mbr = os.path.join(tmp, "mbr.img")
            with open(mbr, "wb") as f:
                f.write(open(BOOT_SECTOR, "rb").read().ljust(1 << 20, b"\0"))
            run("create", "Boot", "--memory", "64", "--cpus", "1", "--disk-size", "1M")
            cfg = os.path.join(lib, "Boot", "Boot.hangar")
            text = open(cfg).read().replace("path=disk.qcow2", "path=" + mbr)
            open(cfg, "w").write(text.replace("format=qcow2", "format=raw"))
            rc, out, err = run("start", "Boot", timeout=240)
            log = os.path.join(lib, "Boot", "logs", "serial.log")
            logged = open(log, errors="replace").read() if os.path.exists(log) else ""
            check("start in the foreground boots the disk and returns 0 when the guest "
                  "powers off; the serial port is in logs/serial.log",
                  rc == 0 and "MBR: hello from the boot sector" in logged,
                  f"status {rc} {err.strip()!r} log {logged[-200:]!r}")
        else:
            skip("boot sector run in the foreground", "tests/kvm's boot-sector.bin not given")

        # A disk that vanished: the error names the file.
        os.rename(disk, disk + ".moved")
        rc, out, err = run("start", name)
        check("a vanished disk at start: one line naming the file",
              one_line_error(rc, err, 1, disk), err)
        rc, out, err = run("start", "--detach", name)
        check("start --detach reports the same error and status",
              one_line_error(rc, err, 1, disk), err)
        os.rename(disk + ".moved", disk)

    # Delete.
    rc, out, err = run("delete", "--keep-files", name)
    check("delete --keep-files forgets the machine and keeps its disk",
          rc == 0 and os.path.isfile(os.path.join(lib, name + ".removed", "disk.qcow2"))
          and state_of(name) is None, err)
finally:
    if kvm_ok and os.path.isdir(folder):
        run("stop", "--force", name)          # a detached VM a failed check left behind
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)

print(f"1..{len(results)}")
for i, (n, ok, detail) in enumerate(results, 1):
    if ok is None:
        print(f"ok {i} - {n} # SKIP {detail}")
    elif ok:
        print(f"ok {i} - {n}")
    else:
        print(f"not ok {i} - {n}")
        for line in str(detail).splitlines() or [""]:
            print(f"# {line}")
