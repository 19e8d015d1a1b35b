"""scenarios_more.py — errors shown in the UI, the host check, the CLI and
the app seeing (and driving) the same VMs, the VM window's controls on a
running VM, the wizard on a known OS's media, and a VM's settings."""
import os
import re

import a11y
from harness import Missing, log, wait_for
from scenarios import (E2E, Scenario, button, give_iso, name_entry, norm, open_wizard, row_of,
                       select_vm, serial_text, state_of,
                       walk_wizard_to_create)

GOOD = "Good VM"
BROKEN = "Broken VM"
NONSENSE = "[machine\nname = ???\nmemory = lots\x00\x01\n"


def cli_create(ctx, name):
    rc, out, err = ctx.hangarctl("create", name, "--firmware", "bios", "--memory", "64",
                                 "--cdrom", ctx.args.iso)
    if rc != 0:
        raise Missing(f"hangarctl create {name!r} failed: status {rc}: {err.strip()}")


def toast_text(ctx, rx, what):
    """Waits for a showing text matching rx; toasts come one at a time, so
    as a person would, dismisses the toast in front (its close button) when
    the text is not there yet."""
    win = ctx.manager()
    dismissed = []

    def look():
        if a11y.find_all(win, None, rx):
            return True
        for toast in a11y.find_all(win, ["filler"], "AdwToastWidget"):
            buttons = a11y.find_all(toast, ["push button"])
            if buttons:
                texts = [n.name for n in a11y.find_all(toast, ["label"])]
                dismissed.append(" ".join(texts))
                a11y.click(buttons[-1])
                return False
        return False
    try:
        wait_for(what, look, 60, step=1)
    except Missing as e:
        raise Missing(f"{e}; toasts seen and dismissed first: {dismissed}") from None
    if dismissed:
        log(f"the message was queued behind other toasts: {dismissed}")


# --- 2. errors in the UI, not the terminal ---------------------------------
def err_broken_folder(ctx):
    cli_create(ctx, GOOD)
    broken = os.path.join(ctx.lib, BROKEN)
    os.makedirs(broken)
    path = os.path.join(broken, BROKEN + ".hangar")
    with open(path, "w") as f:
        f.write(NONSENSE)
    ctx.launch()
    row_of(ctx, GOOD)
    toast_text(ctx, re.compile(re.escape(BROKEN)),
               f"a message (toast or banner) naming the folder {BROKEN!r}")
    ctx.s.screenshot("errors-broken-folder-named")
    with open(path) as f:
        if f.read() != NONSENSE:
            raise AssertionError("the app changed the broken VM's file")


def err_not_an_iso(ctx):
    bogus = os.path.join(ctx.lib, "..", "not-an-iso.iso")
    with open(bogus, "w") as f:
        f.write("this is a text file, not an ISO 9660 image\n" * 100)
    wiz = open_wizard(ctx)
    give_iso(ctx, os.path.abspath(bogus))
    a11y.label_text(wiz, r"not an? (ISO|ISO 9660|installation|disc)|not-an-iso\.iso.*(ISO|image)",
                    what="a message in the wizard that the file is not an ISO")
    ctx.s.screenshot("errors-not-an-iso")


def refused_name(ctx, name, pattern):
    """Types name on the wizard's name page; Create (and Next) must be
    disabled or a message matching pattern must show."""
    wiz = ctx.vars["wizard"]
    entry = name_entry(wiz)
    a11y.set_text(entry, name)
    rx = re.compile(pattern, re.I)

    def refused():
        if a11y.find_all(wiz, None, rx):
            return "a message"
        go = a11y.find_all(wiz, ["push button", "button"],
                           re.compile(r"^(Create|Next|Forward|Continue)$", re.I))
        if go and not any(a11y.sensitive(b) for b in go):
            return "Create/Next disabled"
        return None
    how = wait_for(f"the wizard refusing the name {name!r} (Create disabled or a message "
                   f"matching /{pattern}/)", refused, 15)
    ctx.s.screenshot("errors-name-" + re.sub(r"\W+", "-", name))
    return how


def err_slash_name(ctx):
    give_iso(ctx, ctx.args.iso)
    walk_wizard_to_create(ctx, "Valid name")
    refused_name(ctx, "bad/name", r"/|slash")


def err_existing_name(ctx):
    refused_name(ctx, GOOD, r"exists|already|taken|in use")


ERRORS = Scenario("errors", [
    ("a VM folder edited into nonsense: the app opens, lists the others and names it",
     err_broken_folder),
    ("a file that is not an ISO gives a message in the wizard", err_not_an_iso),
    ("a name with '/' is refused in the wizard", err_slash_name),
    ("an existing VM's name is refused in the wizard", err_existing_name),
])


# --- 3. the host check -------------------------------------------------------
def host_check(ctx):
    ctx.launch()
    win = ctx.manager()
    a11y.click(button(win, re.compile(r"main menu|primary menu|^menu$", re.I)))
    a11y.click(button(ctx.app, re.compile(r"host check|check (the )?host|check this computer", re.I)))
    dlg = a11y.window(ctx.app, re.compile(r"host|virtuali[sz]ation", re.I))
    a11y.label_text(dlg, r"emulated", what="the host check saying KVM is emulated", timeout=90)
    ctx.s.screenshot("host-check-emulated")


HOST = Scenario("host check", [
    ("the host check dialog says KVM is emulated on this machine", host_check),
])


# --- 4. the CLI and the app see the same VMs --------------------------------
def cli_to_gui(ctx):
    cli_create(ctx, "CLI VM")
    ctx.launch()
    row_of(ctx, "CLI VM")
    ctx.s.screenshot("cli-vm-listed")


def cli_start_seen(ctx):
    ctx.vars["headless"] = ctx.s.spawn([ctx.args.hangarctl, "start", "CLI VM"],
                                       "cli-hangarctl-start.log",
                                       {"HANGAR_LIBRARY_DIR": ctx.lib})
    ctx.vars.setdefault("helpers", []).append(ctx.vars["headless"])
    wait_for("hangarctl start's control socket", lambda: os.listdir(
        os.path.join(ctx.s.env["XDG_RUNTIME_DIR"], "hangar")), 60)
    select_vm(ctx, "CLI VM")
    state_of(ctx, "CLI VM", r"running")
    ctx.s.screenshot("cli-vm-running-headless")


def cli_stop_from_gui(ctx):
    headless = ctx.vars["headless"]
    select_vm(ctx, "CLI VM")
    shut = button(ctx.manager(), re.compile(r"^Shut ?down$", re.I))
    wait_for("Shut Down to become sensitive for the VM hangarctl runs",
             lambda: a11y.sensitive(shut), 40)
    a11y.click(shut)
    wait_for("hangarctl start to end after the guest powered off",
             lambda: headless.poll() is not None, 120)
    if headless.returncode != 0:
        raise AssertionError(f"hangarctl start ended with status {headless.returncode}")
    log_path = os.path.join(ctx.lib, "CLI VM", "logs", "serial.log")
    with open(log_path, errors="replace") as f:
        if "power button pressed" not in f.read():
            raise AssertionError("the guest did not see the power button (serial log)")
    state_of(ctx, "CLI VM", r"stopped|powered off|^off$")
    ctx.s.screenshot("cli-vm-stopped-from-gui")


CLI = Scenario("cli", [
    ("a VM made by hangarctl create is listed by the app", cli_to_gui),
    ("the VM started headless by hangarctl start shows as running in the app",
     cli_start_seen),
    ("Shut Down in the app reaches the VM hangarctl runs: the guest powers off, "
     "hangarctl ends with 0, the list shows it stopped", cli_stop_from_gui),
])

ALL = [E2E, ERRORS, HOST, CLI]


# --- 5. the VM window's controls on a running VM ----------------------------
RUN = "Run VM"


def run_started(ctx):
    cli_create(ctx, RUN)
    ctx.launch()
    select_vm(ctx, RUN)
    a11y.click(button(ctx.manager(), re.compile(r"^Start$", re.I)))
    ctx.vars["vmwin"] = a11y.window(ctx.app, re.compile(re.escape(RUN)), timeout=60)
    state_of(ctx, RUN, r"running")


def run_names(ctx):
    """Every control a person can reach in the VM window and the manager
    window has a name a screen reader can say."""
    bad = []
    for what, win in (("VM window", ctx.vars["vmwin"]), ("manager window", ctx.manager())):
        bad += [f"{what}: {b}" for b in a11y.unnamed_controls(win)]
    if bad:
        raise AssertionError("controls without an accessible name: " + "; ".join(bad))


def run_eject(ctx):
    """The CD/DVD menu's Eject takes the test ISO out of the running VM: its
    settings say the drive is empty, and the guest runs on."""
    win = ctx.vars["vmwin"]
    a11y.click(button(win, re.compile(r"^CD/DVD$", re.I)))
    a11y.click(button(ctx.app, re.compile(r"^Eject$", re.I)))

    def empty():
        rc, out, err = ctx.hangarctl("info", RUN)
        ctx.vars["info"] = out + err
        return rc == 0 and re.search(r"^CD-ROM: +empty$", out, re.M)
    try:
        wait_for("hangarctl info saying the CD/DVD drive is empty", empty, 40, step=1)
    except Missing as e:
        raise Missing(f"{e}; it said: {ctx.vars.get('info', '')!r}") from None
    state_of(ctx, RUN, r"running")


def typed_line_answered(ctx, xid, text):
    term = ctx.vars["terminal"]
    a11y.click_at(ctx.s, xid, term)
    a11y.type_keys(ctx.s, xid, text)
    a11y.key(ctx.s, xid, "Return")
    want = norm(f"the host typed: {text}")
    try:
        wait_for(f"the guest saying back {text!r}", lambda: want in norm(serial_text(ctx, xid)),
                 90, step=2)
    except Missing as e:
        raise Missing(f"{e}; it read: {ctx.vars.get('ocr', '')!r}") from None


def run_pause_resume(ctx):
    win = ctx.vars["vmwin"]
    xid = ctx.s.find_x_window(RUN)
    a11y.click(button(win, re.compile(r"^Pause$", re.I)))
    state_of(ctx, RUN, r"paused")
    a11y.label_text(win, r"^Paused$", what="the VM window's status saying Paused")
    ctx.s.screenshot("run-paused", xid)
    a11y.click(button(win, re.compile(r"^(Resume|Pause)$", re.I)))
    state_of(ctx, RUN, r"running")
    # Running again means the guest answers.
    a11y.click(button(win, re.compile(r"^Serial console$", re.I)))
    ctx.vars["terminal"] = a11y.find(win, ["terminal", "filler", "panel"],
                                     re.compile(r"^Serial console$", re.I),
                                     what="the serial console's terminal")
    typed_line_answered(ctx, xid, "after resume")


def run_display_keys(ctx):
    win = ctx.vars["vmwin"]
    xid = ctx.s.find_x_window(RUN)
    a11y.click(button(win, re.compile(r"^Display$", re.I)))
    display = a11y.find(win, ["image", "drawing area", "canvas", "filler", "panel"],
                        re.compile(r"^Guest display$", re.I), what="the guest's display")
    a11y.click_at(ctx.s, xid, display)          # a click gives the guest the keyboard
    a11y.type_keys(ctx.s, xid, "a")
    log_path = os.path.join(ctx.lib, RUN, "logs", "serial.log")

    def said():
        with open(log_path, errors="replace") as f:
            return "HANGAR-GUI-GUEST: key 1e" in f.read()
    # 0x1e: A's make code in scan code set 1, as the i8042 hands it to the guest.
    wait_for("the guest saying it got the A key's scan code (1e) typed into the display",
             said, 60, step=1)
    with open(log_path, errors="replace") as f:
        log("the guest said: " + "; ".join(l.strip() for l in f if "key " in l))
    a11y.key(ctx.s, xid, "Control_R")           # the host key gives the keyboard back


def run_close_keep(ctx):
    win = ctx.vars["vmwin"]
    a11y.click(button(win, re.compile(r"^Close$", re.I)))
    keep = button(ctx.app, re.compile(r"Keep Running", re.I))
    a11y.label_text(ctx.app, re.escape(RUN) + r".*running|running.*" + re.escape(RUN),
                    what="the question naming the running VM")
    ctx.s.screenshot("run-close-asks")
    a11y.click(keep)
    wait_for("the VM window to close", lambda: not ctx.s.find_x_window(RUN), 40)
    state_of(ctx, RUN, r"running")


def run_manager_shutdown(ctx):
    select_vm(ctx, RUN)
    shut = button(ctx.manager(), re.compile(r"^Shut ?down$", re.I))
    wait_for("Shut Down to become sensitive", lambda: a11y.sensitive(shut), 40)
    a11y.click(shut)
    state_of(ctx, RUN, r"stopped|powered off|^off$")
    with open(os.path.join(ctx.lib, RUN, "logs", "serial.log"), errors="replace") as f:
        if "power button pressed" not in f.read():
            raise AssertionError("the guest did not see the power button (serial log)")


RUNNING = Scenario("vm window", [
    ("a VM made by hangarctl is started from the manager; its window opens", run_started),
    ("every control of the VM window and the manager has an accessible name", run_names),
    ("Eject in the CD/DVD menu empties the running VM's drive (hangarctl info)", run_eject),
    ("Pause: the list and the window say Paused; Resume: the guest answers again",
     run_pause_resume),
    ("a key typed into the display reaches the guest as its scan code", run_display_keys),
    ("closing the window of a running VM asks what to do; Keep Running keeps it running",
     run_close_keep),
    ("Shut Down in the manager stops the VM whose window was closed", run_manager_shutdown),
])
ALL.append(RUNNING)


# --- 6. the wizard knows an OS from its installation media -------------------
WIN = "Win 11"


def make_win11_iso(ctx):
    """An ISO with Windows 11's volume ID and publisher, as the database
    knows them (the content does not matter to the identification)."""
    root = os.path.join(ctx.s.tmp, "win11-content")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "README.TXT"), "w") as f:
        f.write("Hangar test media\n")
    iso = os.path.join(ctx.s.tmp, "win11.iso")
    r = ctx.s.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "CCCOMA_X64FRE_EN-US_DV9",
                   "-publisher", "MICROSOFT CORPORATION", "-o", iso, root])
    if r.returncode != 0:
        raise Missing(f"xorriso could not make the Windows 11 style ISO: {r.stderr.strip()}")
    return iso


def wiz_identifies(ctx):
    iso = make_win11_iso(ctx)
    ctx.launch()
    wiz = open_wizard(ctx)
    give_iso(ctx, iso)
    a11y.label_text(wiz, r"Microsoft Windows 11", what="the wizard naming the OS it found")
    if a11y.find_all(wiz, None, re.compile(r"not recogni[sz]ed", re.I)):
        raise AssertionError("the wizard names Windows 11 but still says 'not recognised'")
    ctx.s.screenshot("wizard-found-windows-11")
    bad = a11y.unnamed_controls(wiz)
    if bad:
        raise AssertionError("wizard controls without an accessible name: " + "; ".join(bad))


def summary_texts(wiz):
    return [n.name for n in a11y.find_all(wiz, ["label"], re.compile(r"\S"))]


def wiz_summary(ctx):
    wiz = ctx.vars["wizard"]
    a11y.set_text(name_entry(wiz), WIN)
    nxt = re.compile(r"^Next$", re.I)

    def at_summary():
        if a11y.find_all(wiz, ["label"], re.compile(r"(?m)^Firmware: ", re.I)):
            return True
        for b in a11y.find_all(wiz, ["push button"], nxt):
            if a11y.sensitive(b):
                a11y.click(b)
        return False
    wait_for("the wizard's summary page", at_summary, 60, step=1)
    texts = summary_texts(wiz)
    joined = " | ".join(texts)

    def number(pattern):
        m = re.search(pattern, joined, re.I)
        if not m:
            raise AssertionError(f"the summary has no /{pattern}/: {joined}")
        return int(m.group(1))
    problems = []
    if not re.search(r"Firmware: UEFI", joined):
        problems.append("firmware is not UEFI")
    if number(r"Memory: (\d+) MiB") < 4096:
        problems.append("less than 4 GiB of memory")
    if number(r"CPUs: (\d+)") < 2:
        problems.append("fewer than 2 CPUs")
    if number(r"Disk: (\d+) GiB") < 64:
        problems.append("a disk under 64 GiB")
    if not re.search(r"TPM", joined):
        problems.append("no word on the missing TPM 2.0")
    ctx.s.screenshot("wizard-windows-11-summary")
    if problems:
        raise AssertionError(f"the Windows 11 summary: {', '.join(problems)}; it says: {joined}")


def wiz_create(ctx):
    wiz = ctx.vars["wizard"]
    create = button(wiz, re.compile(r"^Create$", re.I))
    wait_for("Create to become sensitive", lambda: a11y.sensitive(create), 40)
    a11y.click(create)
    row_of(ctx, WIN)
    rc, out, err = ctx.hangarctl("info", WIN)
    if rc != 0 or not re.search(r"firmware\W+uefi", out, re.I):
        raise AssertionError(f"hangarctl info {WIN!r} does not say UEFI: status {rc}: "
                             f"{out.strip()!r} {err.strip()!r}")
    if not os.path.exists(os.path.join(ctx.lib, WIN, "nvram.fd")):
        raise AssertionError("the UEFI VM has no nvram.fd in its folder")


WIZARD = Scenario("wizard", [
    ("a Windows 11 ISO: the wizard names the OS it found (and every control has a name)", wiz_identifies),
    ("its summary gives UEFI, >= 4 GiB, >= 2 CPUs, >= 64 GiB and says there is no TPM",
     wiz_summary),
    ("Create: listed, and hangarctl info says UEFI; the folder has its nvram.fd", wiz_create),
])
ALL.append(WIZARD)


# --- 7. settings of an existing VM, seen by the CLI -------------------------
SET = "Set VM"


def hangarctl_info(ctx, name):
    rc, out, err = ctx.hangarctl("info", name)
    return out if rc == 0 else f"status {rc}: {err.strip()}"


def settings_window(ctx, name):
    select_vm(ctx, name)
    a11y.click(button(ctx.manager(), re.compile(r"^Settings$", re.I)))
    dlg = a11y.window(ctx.app, re.compile(r"Settings.*" + re.escape(name)))
    ctx.vars["settings"] = dlg
    ctx.vars["settings_x"] = wait_for("the settings window on screen", lambda: ctx.s.find_x_window(
        dlg.name), 60)
    return dlg


def type_into(ctx, field, text):
    """Clicks into field, selects what is there and types text, then Enter:
    real key presses, as a person edits a value."""
    xid = ctx.vars["settings_x"]
    a11y.click_at(ctx.s, xid, field)
    a11y.key(ctx.s, xid, "ctrl+a")
    a11y.type_keys(ctx.s, xid, text)
    a11y.key(ctx.s, xid, "Return")


def set_memory(ctx):
    cli_create(ctx, SET)
    cli_create(ctx, "Other VM")
    ctx.launch()
    dlg = settings_window(ctx, SET)
    spin = a11y.find(dlg, ["spin button"], re.compile(r"^Memory in MiB"),
                     what="the Memory field")
    type_into(ctx, spin, "512")
    wait_for("hangarctl info to show 512 MiB", lambda: re.search(
        r"Memory:\s+512 MiB", hangarctl_info(ctx, SET)), 40)
    ctx.s.screenshot("settings-memory-512", ctx.vars["settings_x"])


def name_row(dlg):
    return a11y.find(dlg, ["text", "entry"], re.compile(r"^Name( Name)?$"),
                     what="the Name field")


def rename_taken(ctx):
    dlg = ctx.vars["settings"]
    type_into(ctx, name_row(dlg), "Other VM")
    a11y.label_text(dlg, r"exists|already|taken", what="the settings saying the name is taken")
    ctx.s.screenshot("settings-name-taken", ctx.vars["settings_x"])
    if not os.path.isdir(os.path.join(ctx.lib, SET)):
        raise AssertionError(f"the refused rename moved {SET!r}'s folder")
    if not re.search(r"Name:\s+" + re.escape(SET), hangarctl_info(ctx, SET)):
        raise AssertionError(f"hangarctl no longer finds {SET!r} as it was")


def rename(ctx):
    dlg = ctx.vars["settings"]
    type_into(ctx, name_row(dlg), "Renamed VM")
    wait_for("hangarctl info to find 'Renamed VM'", lambda: re.search(
        r"Name:\s+Renamed VM", hangarctl_info(ctx, "Renamed VM")), 40)
    if os.path.isdir(os.path.join(ctx.lib, SET)):
        raise AssertionError(f"the old folder {SET!r} is still there after the rename")
    row_of(ctx, "Renamed VM")


SETTINGS = Scenario("settings", [
    ("memory typed into Settings is saved: hangarctl info shows it", set_memory),
    ("renaming to a taken name is refused in the window; nothing moves", rename_taken),
    ("renaming: hangarctl and the list know the new name; the folder moved", rename),
])
ALL.append(SETTINGS)
