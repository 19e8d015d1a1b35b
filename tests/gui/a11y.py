"""a11y.py — finding and using the app's widgets through AT-SPI (dogtail).

Widgets are found by role and accessible name, as a screen reader sees
them; a widget that is not there is a Missing failure that says what was
looked for and what was there instead.
"""
import re
import subprocess
import time

from harness import Missing, wait_for

_tree = None


def tree():
    """dogtail.tree, imported only once the private session's bus is set."""
    global _tree
    if _tree is None:
        from dogtail.config import config
        config.checkForA11y = False       # the session is ours: a11y is on by GTK_A11Y
        config.logDebugToFile = False
        config.logDebugToStdOut = False
        config.actionDelay = 0.2
        config.defaultDelay = 0.2
        config.searchBackoffDuration = 0.2
        config.searchCutoffCount = 5
        from dogtail import tree as t
        _tree = t
    return _tree


def _matches(pattern, text):
    if pattern is None:
        return True
    text = text or ""
    if isinstance(pattern, str):
        return text == pattern
    return bool(pattern.search(text))


def extents(node):
    """(x, y, width, height) in its window's coordinates: GTK 4 knows no
    screen coordinates (and warns when asked)."""
    import pyatspi
    box = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
    return box.x, box.y, box.width, box.height


def showing(node):
    """Is node on screen? GTK 4.8 sets no SHOWING state, and says VISIBLE of
    the pages a stack hides, but gives a widget that is not mapped an empty
    box: a size is what tells."""
    try:
        ext = extents(node)
        return ext[2] > 0 and ext[3] > 0
    except Exception:
        return False


def app_node(pid, timeout=60):
    """The AT-SPI root of the application running as process pid, once it is
    on the bus (by pid: an app from an earlier scenario may linger there)."""
    def look():
        for a in tree().root.applications():
            try:
                if a.get_process_id() == pid:
                    return a
            except Exception:
                continue
        return None
    return wait_for(f"the application (pid {pid}) on the AT-SPI bus", look, timeout)


def find_all(parent, roles=None, name=None, only_showing=True):
    roles = [roles] if isinstance(roles, str) else roles

    def pred(n):
        try:
            return ((roles is None or n.roleName in roles) and _matches(name, n.name)
                    and (not only_showing or showing(n)))
        except Exception:
            return False
    return parent.findChildren(pred)


CONTROL_ROLES = ["push button", "toggle button", "check box", "radio button", "spin button",
                 "text", "password text", "entry", "combo box", "slider", "switch",
                 "menu item", "check menu item", "radio menu item", "link", "list item"]


def unnamed_controls(parent):
    """The showing controls under parent that a screen reader could not name:
    no accessible name, or only GTK's class name (what AT-SPI falls back to)."""
    bad = []
    for n in find_all(parent, CONTROL_ROLES, None):
        try:
            name = (n.name or "").strip()
            if not name or re.match(r"^(Gtk|Adw|Vte)[A-Z]\w*$", name):
                bad.append(f"{n.roleName}:{name!r} under {n.parent.roleName}:{n.parent.name!r}")
        except Exception:
            continue
    return bad


def find(parent, roles=None, name=None, what=None, timeout=40, only_showing=True):
    """The first matching descendant of parent; waits for it to appear."""
    desc = what or f"{'/'.join(roles) if isinstance(roles, list) else roles or 'widget'} " \
                   f"named {name.pattern if hasattr(name, 'pattern') else name!r}"

    def look():
        found = find_all(parent, roles, name, only_showing)
        return found[0] if found else None
    try:
        return wait_for(desc, look, timeout)
    except Missing as e:
        raise Missing(f"{e}; showing there: {summary(parent)}") from None


def gone(parent, roles=None, name=None, what="widget", timeout=30):
    wait_for(f"{what} to go away", lambda: not find_all(parent, roles, name), timeout)


def summary(parent, limit=60):
    """Role and name of the showing, named widgets under parent, for messages."""
    out = []
    try:
        for n in parent.findChildren(lambda n: bool(n.name) and showing(n)):
            out.append(f"{n.roleName}:{n.name!r}")
            if len(out) >= limit:
                out.append("...")
                break
    except Exception as e:
        out.append(f"(tree unreadable: {e})")
    return ", ".join(out) or "(nothing)"


def dump(parent, path):
    """Writes the accessible tree under parent to path (an artifact)."""
    lines = []

    def walk(n, depth):
        try:
            states = "showing" if showing(n) else "hidden"
            sens = "" if n.sensitive else " insensitive"
            lines.append(f"{'  ' * depth}{n.roleName} {n.name!r} [{states}{sens}] "
                         f"actions={list(n.actions.keys())}")
            for c in n.children:
                walk(c, depth + 1)
        except Exception as e:
            lines.append(f"{'  ' * depth}(unreadable: {e})")
    walk(parent, 0)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def click(node):
    """Activates a button, toggle, menu item or row the way AT-SPI offers.
    A GtkMenuButton is two nodes: the outer one has no action, its inner
    button has."""
    acts = node.actions
    for a in ("click", "activate", "press", "toggle", "select"):
        if a in acts:
            node.doActionNamed(a)
            return
    if not acts and node.childCount == 1 and node.children[0].roleName == node.roleName:
        return click(node.children[0])
    raise Missing(f"{node.roleName} {node.name!r} offers no click action (it has "
                  f"{list(acts.keys())})")


def set_text(node, text, activate=False):
    """Types text into an entry (AT-SPI EditableText: what an on-screen
    keyboard does), then optionally presses Enter in it."""
    node.text = text
    if activate and "activate" in node.actions:
        node.doActionNamed("activate")


def sensitive(node):
    try:
        return node.sensitive
    except Exception:
        return False


def window(app, name, timeout=60):
    """A top-level frame or dialog of the app whose title matches name."""
    return find(app, ["frame", "dialog", "window", "alert"], name,
                what=f"a window titled {name.pattern if hasattr(name, 'pattern') else name!r}",
                timeout=timeout)


def label_text(parent, pattern, timeout=40, what=None):
    """A showing label (or other text) whose name matches the regex pattern."""
    rx = re.compile(pattern, re.I) if isinstance(pattern, str) else pattern
    return find(parent, None, rx, what=what or f"text matching /{rx.pattern}/", timeout=timeout)


def type_keys(session, xwin, text):
    """Types on the real keyboard (XTest through xdotool) into X window xwin."""
    r = session.run(["xdotool", "windowfocus", "--sync", xwin, "type", "--delay", "60",
                     "--window", xwin, text], timeout=60)
    if r.returncode != 0:
        raise Missing(f"xdotool type failed: {r.stderr.strip()}")


def key(session, xwin, keysym):
    r = session.run(["xdotool", "windowfocus", "--sync", xwin, "key", "--window", xwin,
                     keysym], timeout=30)
    if r.returncode != 0:
        raise Missing(f"xdotool key failed: {r.stderr.strip()}")


def click_at(session, xwin, node):
    """A real pointer click (XTest) in the middle of node, which GTK 4 reports
    in window coordinates."""
    x, y, w, h = extents(node)
    r = session.run(["xdotool", "mousemove", "--window", xwin, str(x + w // 2),
                     str(y + h // 2), "click", "1"], timeout=30)
    if r.returncode != 0:
        raise Missing(f"xdotool click failed: {r.stderr.strip()}")
    time.sleep(0.3)


def ocr(png, crop=None):
    """The text tesseract reads in png (optionally cropped to x, y, w, h),
    upscaled 3x so a terminal font reads reliably."""
    args = ["convert", png]
    if crop:
        x, y, w, h = crop
        args += ["-crop", f"{w}x{h}+{x}+{y}", "+repage"]
    out = png[:-4] + "-ocr.png"
    subprocess.run(args + ["-scale", "300%", out], check=True, timeout=60)
    r = subprocess.run(["tesseract", out, "-", "--psm", "6"], capture_output=True,
                       text=True, timeout=120)
    return r.stdout
