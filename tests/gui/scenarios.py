"""scenarios.py — what a user does with Hangar, step by step, and what each
step must show. Names follow the accessible names the app gives its
controls ("New", "Choose ISO", "Name", "Create", "Start", "Shut down",
"Force Off", "Serial console", "Display").
"""
import os
import re

import a11y
import harness
from harness import Missing, log, wait_for

VM = "GUI Test VM"
GUEST_HELLO = "HANGAR-GUI-GUEST: hello on COM1"
# What the test ISO's boot program paints at 800x600: four quadrants.
QUADRANTS = {"orange": (0xff, 0x80, 0x00), "azure": (0x00, 0x80, 0xff),
             "green": (0x20, 0xc0, 0x20), "magenta": (0xc0, 0x20, 0xc0)}


class Scenario:
    def __init__(self, name, steps):
        self.name = name
        self.steps = steps


class Context:
    """One scenario's world: its own library folder and its own app."""

    def __init__(self, session, args, name):
        self.s = session
        self.args = args
        self.name = re.sub(r"[^a-z0-9]+", "-", name.lower())
        self.lib = os.path.join(session.tmp, "libraries", self.name)
        os.makedirs(self.lib)
        self.proc = None
        self.app = None
        self.vars = {}

    # --- the app ----------------------------------------------------------
    def launch(self):
        self.proc = self.s.spawn([self.args.app], f"{self.name}-app.log",
                                 {"HANGAR_LIBRARY_DIR": self.lib})
        try:
            self.app = a11y.app_node(self.proc.pid, timeout=90)
        except Missing:
            if self.proc.poll() is not None:
                raise Missing(f"hangar exited with status {self.proc.returncode} before "
                              f"its window appeared; see {self.name}-app.log") from None
            raise
        return self.app

    def manager(self):
        return a11y.window(self.app, "Hangar", timeout=60)

    def close(self):
        for p in self.vars.get("helpers", []):      # e.g. a headless hangarctl start
            self.s.terminate(p)
        if self.proc:
            status = self.s.terminate(self.proc)
            log(f"{self.name}: the app ended with status {status}")
        self.proc = None

    def on_failure(self, label):
        """Leaves a screenshot and the accessible tree for the failed step,
        and says whether the app is still alive and what it printed last."""
        if self.proc:
            if self.proc.poll() is not None:
                log(f"hangar is gone: exit status {self.proc.returncode}")
            path = os.path.join(self.s.artifacts, f"{self.name}-app.log")
            try:
                with open(path, errors="replace") as f:
                    tail = [l for l in f.read().splitlines() if l.strip()][-12:]
                log(f"the app's last output ({path}):\n" + "\n".join(tail))
            except OSError:
                pass
        try:
            shot = self.s.screenshot(f"{self.name}-{label}-failed")
            log(f"screenshot of the failure: {shot}")
            if self.app is not None:
                path = os.path.join(self.s.artifacts, f"{self.name}-{label}-a11y.txt")
                a11y.dump(self.app, path)
                log(f"accessible tree: {path}")
        except Exception as e:
            log(f"(no failure artifacts: {e})")

    # --- the CLI on the same library ---------------------------------------
    def hangarctl(self, *argv, timeout=120):
        r = self.s.run([self.args.hangarctl, *argv],
                       extra_env={"HANGAR_LIBRARY_DIR": self.lib}, timeout=timeout)
        return r.returncode, r.stdout, r.stderr


# --- shared steps ----------------------------------------------------------
def button(parent, name, timeout=20):
    return a11y.find(parent, ["push button", "toggle button", "menu item", "button", "page tab",
                              "radio button"],
                     name, timeout=timeout)


def open_wizard(ctx):
    a11y.click(button(ctx.manager(), re.compile(r"^New( VM| Virtual Machine)?$|new vm", re.I)))
    wiz = a11y.window(ctx.app, re.compile(r"New (Virtual )?Machine|New VM", re.I))
    ctx.vars["wizard"] = wiz
    return wiz


def iso_entry(wiz):
    return a11y.find(wiz, ["text", "entry"], re.compile(r"ISO|installation media|path", re.I),
                     what="an editable entry for the ISO's path")


def give_iso(ctx, path):
    wiz = ctx.vars["wizard"]
    a11y.set_text(iso_entry(wiz), path, activate=True)


def quadrant_layout(png):
    """Finds the four quadrant colours in png; returns (ok, message)."""
    img = harness.read_ppm(None, png)
    boxes = {}
    for cname, rgb in QUADRANTS.items():
        found = harness.color_box(img, rgb, tol=20, step=3)
        if not found:
            return False, f"no {cname} area in {png}"
        boxes[cname] = found
    (o, on), (a, an) = boxes["orange"], boxes["azure"]
    (g, gn), (m, mn) = boxes["green"], boxes["magenta"]
    sizes = [on, an, gn, mn]
    msg = f"areas {boxes}"
    if min(sizes) < 20000:
        return False, f"the quadrants are too small to be the guest's screen: {msg}"
    if max(sizes) > 1.3 * min(sizes):
        return False, f"the quadrants differ in size: {msg}"
    ok = (o[2] < a[0] + 8 and g[2] < m[0] + 8 and o[3] < g[1] + 8 and a[3] < m[1] + 8
          and abs(o[0] - g[0]) <= 8 and abs(a[2] - m[2]) <= 8)
    return ok, ("orange|azure over green|magenta " if ok else "wrong layout: ") + msg


def vm_window_xid(ctx):
    return wait_for(f"the X window titled {VM!r}", lambda: ctx.s.find_x_window(VM), 60)


NAME_ENTRY = re.compile(r"^Name( Name)?$", re.I)


def name_entry(wiz):
    return a11y.find(wiz, ["text", "entry"], NAME_ENTRY, what="the wizard's Name entry")


def walk_wizard_to_create(ctx, name):
    """Gives the name, goes forward page by page and returns the Create
    button once it can be clicked."""
    wiz = ctx.vars["wizard"]
    a11y.set_text(name_entry(wiz), name)
    forward = re.compile(r"^(Next|Forward|Continue)$", re.I)
    create_rx = re.compile(r"^Create$", re.I)

    def step():
        create = [b for b in a11y.find_all(wiz, ["push button", "button"], create_rx)
                  if a11y.sensitive(b)]
        if create:
            return create[0]
        nxt = [b for b in a11y.find_all(wiz, ["push button", "button"], forward)
               if a11y.sensitive(b)]
        if nxt:
            a11y.click(nxt[0])
        return None
    try:
        return wait_for("the wizard's Create button, sensitive", step, 60, step=0.5)
    except Missing as e:
        raise Missing(f"{e}; the wizard shows: {a11y.summary(wiz)}") from None


def row_of(ctx, name):
    """The manager list's row of the VM called name (a row reads "Name, State")."""
    rx = re.compile("^" + re.escape(name) + "(,|$)")
    return a11y.find(ctx.manager(), ["list item", "table row", "row"], rx,
                     what=f"the VM {name!r} in the manager's list", timeout=60)


def select_vm(ctx, name):
    target = row_of(ctx, name)
    acts = target.actions
    if "activate" in acts or "click" in acts or "select" in acts:
        a11y.click(target)
    else:
        try:
            target.select()
        except Exception:
            a11y.click_at(ctx.s, ctx.s.find_x_window("Hangar") or "root", target)


def state_of(ctx, name, pattern):
    """Waits for the manager to show the VM's state as pattern."""
    rx = re.compile(pattern, re.I)
    win = ctx.manager()

    def look():
        for row in a11y.find_all(win, ["list item", "table row", "row"]):
            texts = [row.name] + [c.name for c in row.findChildren(lambda n: bool(n.name))]
            if any(t == name or name in t for t in texts) and any(rx.search(t) for t in texts):
                return True
        return False
    wait_for(f"the manager's list showing {name!r} as /{pattern}/", look, 120)


# --- 1. end to end ---------------------------------------------------------
def e2e_empty(ctx):
    ctx.launch()
    win = ctx.manager()
    a11y.label_text(win, r"no (virtual )?machines|create (your|a|the) (first )?(virtual )?machine"
                    r"|first (virtual )?machine", what="the empty state inviting to create a VM")
    ctx.s.screenshot("e2e-empty-state")


def e2e_wizard_iso(ctx):
    wiz = open_wizard(ctx)
    give_iso(ctx, ctx.args.iso)
    a11y.label_text(wiz, r"not recogni[sz]ed|unknown operating system|no known (os|operating)",
                    what="the wizard saying it does not recognise the test ISO's OS")
    ctx.s.screenshot("e2e-wizard-iso-not-recognised")


def e2e_create(ctx):
    create = walk_wizard_to_create(ctx, VM)
    ctx.s.screenshot("e2e-wizard-before-create")
    a11y.click(create)
    row_of(ctx, VM)
    wait_for(f"the VM's folder {VM!r} in the library", lambda: os.path.isdir(
        os.path.join(ctx.lib, VM)), 40)
    ctx.s.screenshot("e2e-vm-listed")


def e2e_cli_sees(ctx):
    rc, out, err = ctx.hangarctl("list")
    if rc != 0 or VM not in out:
        raise Missing(f"hangarctl list on the same library does not show {VM!r}: "
                      f"status {rc}, {out.strip()!r} {err.strip()!r}")


def e2e_start(ctx):
    select_vm(ctx, VM)
    start = button(ctx.manager(), re.compile(r"^Start$", re.I))
    wait_for("Start to become sensitive for the selected VM", lambda: a11y.sensitive(start), 40)
    a11y.click(start)
    ctx.vars["vmwin"] = a11y.window(ctx.app, re.compile(re.escape(VM)), timeout=60)


def e2e_display(ctx):
    xid = vm_window_xid(ctx)
    last = ["no screenshot taken"]

    def painted():
        shot = ctx.s.screenshot("e2e-vm-window", xid)
        ok, msg = quadrant_layout(shot)
        last[0] = f"{msg} (screenshot {shot})"
        if not ok:
            os.unlink(shot)
            ctx.s.shots -= 1
        return ok
    try:
        wait_for("the guest's four quadrants in the VM window", painted, 240, step=3)
    except Missing as e:
        raise Missing(f"{e}; last look: {last[0]}") from None
    log(last[0])


def serial_text(ctx, xid=None):
    term = ctx.vars["terminal"]
    shot = ctx.s.screenshot(f"{ctx.name}-serial-console", xid or vm_window_xid(ctx))
    text = a11y.ocr(shot, a11y.extents(term))
    ctx.vars["ocr"] = text
    for old in ctx.vars.get("ocr_shots", ()):       # keep the last look only
        for f in (old, old[:-4] + "-ocr.png"):
            if os.path.exists(f):
                os.unlink(f)
    ctx.vars["ocr_shots"] = [shot]
    return text


def norm(s):
    return re.sub(r"\s+", " ", s.replace("0", "O").replace("|", "I")).upper()


def e2e_serial(ctx):
    win = ctx.vars["vmwin"]
    a11y.click(button(win, re.compile(r"^Serial console$", re.I)))
    ctx.vars["terminal"] = a11y.find(win, ["terminal", "filler", "panel"],
                                     re.compile(r"^Serial console$", re.I),
                                     what="the serial console's terminal")
    try:
        wait_for("the guest's COM1 line in the serial console (read from the screen)",
                 lambda: norm(GUEST_HELLO) in norm(serial_text(ctx)), 120, step=2)
    except Missing as e:
        raise Missing(f"{e}; it read: {ctx.vars.get('ocr', '')!r}") from None


def e2e_serial_typing(ctx):
    term = ctx.vars["terminal"]
    xid = vm_window_xid(ctx)
    a11y.click_at(ctx.s, xid, term)
    a11y.type_keys(ctx.s, xid, "ping from the host")
    a11y.key(ctx.s, xid, "Return")
    # The guest says the line back after Enter: a whole line reads reliably.
    try:
        wait_for("the guest saying back the line typed into the serial console",
                 lambda: norm("the host typed: ping from the host") in norm(serial_text(ctx)),
                 90, step=2)
    except Missing as e:
        raise Missing(f"{e}; it read: {ctx.vars.get('ocr', '')!r}") from None


def vm_action(ctx, name):
    """Clicks the VM window's control called name, opening its menu when the
    control is in one."""
    win = ctx.vars["vmwin"]
    rx = re.compile(name, re.I)
    found = a11y.find_all(win, ["push button", "menu item", "button"], rx)
    if not found:
        a11y.click(button(win, re.compile(r"menu|power|more|force off or reset|options", re.I)))
        found = [button(ctx.app, rx)]
    a11y.click(found[0])


def serial_log(ctx):
    path = os.path.join(ctx.lib, VM, "logs", "serial.log")
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def e2e_shutdown(ctx):
    state_of(ctx, VM, r"running")
    vm_action(ctx, r"^Shut ?down$")
    # The test guest powers off when it sees the power button (PM1 PWRBTN_STS).
    state_of(ctx, VM, r"stopped|powered off|^off$")
    if "power button pressed" not in serial_log(ctx):
        raise AssertionError("the VM stopped, but the guest never said it saw the power "
                             f"button (its serial log: {serial_log(ctx)[-300:]!r})")
    ctx.s.screenshot("e2e-stopped")


def e2e_force_off(ctx):
    e2e_start(ctx)
    vm_window_xid(ctx)
    state_of(ctx, VM, r"running")
    vm_action(ctx, r"^Force Off$")
    state_of(ctx, VM, r"stopped|powered off|^off$")
    ctx.s.screenshot("e2e-forced-off")


E2E = Scenario("e2e", [
    ("the app opens on an empty library and shows the empty state", e2e_empty),
    ("New opens the wizard; the test ISO's path is typed and it says the OS is not recognised",
     e2e_wizard_iso),
    ("a name is given, Create makes the VM and the list shows it", e2e_create),
    ("Start opens the VM window", e2e_start),
    ("the VM window's display shows what the guest painted (pixels of a screenshot)",
     e2e_display),
    ("the serial console shows the guest's COM1 line", e2e_serial),
    ("typing into the serial console reaches the guest (it echoes)", e2e_serial_typing),
    ("Shut down presses the power button, the guest powers off, the list shows it stopped",
     e2e_shutdown),
    ("started again, Force Off pulls the plug and the list shows it stopped", e2e_force_off),
    ("hangarctl list on the same library shows the VM made in the app", e2e_cli_sees),
])

