"""harness.py — a private desktop session for the GUI tier.

Starts Xvfb on a free display, a private D-Bus session bus (the AT-SPI bus
is activated from it the way a desktop does it), gives the app a temporary
HOME and XDG folders, launches the real `hangar` and lets the scenarios find
its widgets through AT-SPI by role and accessible name, click them and type
into them, and take screenshots of the real X screen.

Nothing here knows the app's internals: what a scenario can reach is what a
screen reader (and so a person) can reach.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SCREEN = (1600, 1000)


class HarnessError(Exception):
    """The session itself could not be set up (no X server, no bus)."""


class Missing(AssertionError):
    """A widget the scenario needs is not there: a FAIL naming what is missing."""


def wait_for(what, pred, timeout=30.0, step=0.2):
    """Polls pred until it returns something true; raises Missing(what) on time-out.
    The time-out only bounds a wait: nothing is judged by how long it took."""
    end = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:          # a widget that vanished while we looked
            last_exc = e
        if time.monotonic() > end:
            extra = f" (last error: {last_exc})" if last_exc else ""
            raise Missing(f"{what}: not seen within {timeout:.0f} s{extra}")
        time.sleep(step)


class Session:
    def __init__(self, artifacts, schemas=None):
        self.artifacts = artifacts
        self.schemas = schemas
        os.makedirs(artifacts, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="hangar-gui-")
        self.procs = []
        self.env = None
        self.display = None
        self.shots = 0

    # --- the desktop -----------------------------------------------------
    def start(self):
        if not shutil.which("Xvfb"):
            raise HarnessError("Xvfb is not installed (apt install xvfb)")
        if not shutil.which("dbus-daemon"):
            raise HarnessError("dbus-daemon is not installed (apt install dbus)")
        home = os.path.join(self.tmp, "home")
        runtime = os.path.join(self.tmp, "runtime")
        for d in (home, runtime):
            os.makedirs(d, mode=0o700)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DBUS_", "XDG_", "WAYLAND", "GTK_", "GDK_", "AT_SPI"))}
        env.update({
            "HOME": home,
            "XDG_RUNTIME_DIR": runtime,
            "XDG_DATA_HOME": os.path.join(home, ".local/share"),
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_SESSION_TYPE": "x11",
            "GDK_BACKEND": "x11",
            "GTK_A11Y": "atspi",
            "NO_AT_BRIDGE": "0",
            "GSETTINGS_BACKEND": "memory",
            "LIBGL_ALWAYS_SOFTWARE": "1",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        })
        if self.schemas:
            env["GSETTINGS_SCHEMA_DIR"] = self.schemas
        self.env = env
        self._start_x()
        self._start_bus()

    def _start_x(self):
        r, w = os.pipe()
        log = open(os.path.join(self.artifacts, "xvfb.log"), "w")
        p = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0",
                              f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp",
                              "-noreset", "+extension", "GLX"],
                             pass_fds=(w,), stdout=log, stderr=log, env=self.env,
                             start_new_session=True)
        os.close(w)
        self.procs.append(p)
        num = b""
        with os.fdopen(r, "rb") as f:
            num = f.readline().strip()
        if not num:
            p.wait(timeout=5)
            raise HarnessError("Xvfb did not start: " +
                               open(os.path.join(self.artifacts, "xvfb.log")).read()[-400:])
        self.display = ":" + num.decode()
        self.env["DISPLAY"] = self.display

    def _start_bus(self):
        p = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                              "--print-address=1"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=self.env, start_new_session=True)
        self.procs.append(p)
        addr = p.stdout.readline().decode().strip()
        if not addr:
            raise HarnessError("the private D-Bus session bus did not start")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = addr
        # This process talks AT-SPI too: point it at the same session.
        for k in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "HOME",
                  "GTK_A11Y", "NO_AT_BRIDGE", "GSETTINGS_BACKEND"):
            os.environ[k] = self.env[k]

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- processes in the session ----------------------------------------
    def spawn(self, argv, log_name, extra_env=None):
        env = dict(self.env)
        env.update(extra_env or {})
        log = open(os.path.join(self.artifacts, log_name), "w")
        p = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def run(self, argv, timeout=120, extra_env=None):
        env = dict(self.env)
        env.update(extra_env or {})
        return subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def terminate(self, p, timeout=20):
        """Asks a process to end (SIGTERM), then kills it; returns its status."""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    # --- screenshots -----------------------------------------------------
    def screenshot(self, label, window=None):
        """A PNG of the real X screen (or of one X window by id), kept as an
        artifact; returns its path."""
        self.shots += 1
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)
        path = os.path.join(self.artifacts, f"{self.shots:02d}-{safe}.png")
        target = window if window else "root"
        r = self.run(["import", "-display", self.display, "-window", target, path],
                     timeout=60)
        if r.returncode != 0:
            raise HarnessError(f"screenshot failed: {r.stderr.strip()}")
        return path

    def find_x_window(self, title):
        """The id of the mapped X window whose title is exactly title, or
        None (a window the app hid keeps existing, unmapped)."""
        r = self.run(["xwininfo", "-display", self.display, "-root", "-tree"], timeout=30)
        for line in r.stdout.splitlines():
            line = line.strip()
            if line.startswith("0x") and f'"{title}"' in line:
                wid = line.split()[0]
                info = self.run(["xwininfo", "-display", self.display, "-id", wid], timeout=30)
                if "Map State: IsViewable" in info.stdout:
                    return wid
        return None


def read_ppm(session, png):
    """Decodes a PNG through ImageMagick into (width, height, rgb bytes)."""
    r = subprocess.run(["convert", png, "-depth", "8", "ppm:-"], capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        raise HarnessError(f"convert failed on {png}: {r.stderr.decode()[:200]}")
    data = r.stdout
    # P6\n<w> <h>\n<max>\n<rgb>
    parts = data.split(maxsplit=4)
    if parts[0] != b"P6":
        raise HarnessError("convert did not give a P6 PPM")
    w, h = int(parts[1]), int(parts[2])
    rgb = parts[4][-(w * h * 3):]
    return w, h, rgb


def color_box(img, rgb, tol=24, step=2):
    """Bounding box (x0, y0, x1, y1) and pixel count of the pixels within tol
    of colour rgb, sampling every step pixels; None when there are none."""
    w, h, px = img
    x0 = y0 = 1 << 30
    x1 = y1 = -1
    n = 0
    tr, tg, tb = rgb
    for y in range(0, h, step):
        row = px[y * w * 3:(y + 1) * w * 3]
        for x in range(0, w, step):
            i = x * 3
            if (abs(row[i] - tr) <= tol and abs(row[i + 1] - tg) <= tol
                    and abs(row[i + 2] - tb) <= tol):
                n += 1
                x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
    if n == 0:
        return None
    return (x0, y0, x1, y1), n * step * step


def log(msg):
    print("# " + msg.replace("\n", "\n# "), flush=True)
    sys.stdout.flush()
