"""A minimal client for Chromium's DevTools protocol, on a pipe (--remote-debugging-pipe).

Standard library only, so no websocket: with --remote-debugging-pipe the browser reads commands
on fd 3 and writes replies and events on fd 4, each a JSON message ended by a NUL byte. One
reader thread hands replies to the caller waiting on that id, and events to their session's
queue (flat sessions: one per tab)."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading

BROWSER_NAMES = ("chromium", "chromium-browser")


def find_chromium(explicit):
    if explicit:
        return shutil.which(explicit) or (explicit if os.access(explicit, os.X_OK) else None)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def install_hint():
    if shutil.which("apt-get"):
        sudo = "" if os.geteuid() == 0 else "sudo "
        return f"install it: {sudo}apt-get update && {sudo}apt-get install -y chromium"
    return "install Chromium and put `chromium` on PATH, or pass --chromium PATH"


class CdpError(Exception):
    pass


class Chromium:
    """One headless Chromium; commands and events as NUL-terminated JSON on fds 3 and 4."""

    def __init__(self, executable, timeout):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="check-book-chromium-")
        self.stderr = open(os.path.join(self.profile, "stderr.log"), "w+b")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        flags = [
            "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--disable-default-apps", "--mute-audio",
            "--window-size=1280,900", f"--user-data-dir={self.profile}",
            # Offline: nothing resolves except this machine, so a CDN load fails (and is reported).
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            "about:blank",
        ]
        # The protocol wants the pipe on fds 3 (in) and 4 (out): let a shell put them there.
        shell = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", shell, "sh", executable, *flags],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr,
            pass_fds=(to_browser_r, from_browser_w), start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._lock = threading.Lock()
        self._next_id = 0
        self._waiting = {}
        self._sessions = {}
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.version = self.call("Browser.getVersion", timeout=60)["product"]
        except CdpError as err:
            tail = self.stderr_tail()
            self.close()
            raise CdpError(f"{executable} did not start ({err})"
                           + "".join(f"\n    {line}" for line in tail)) from None

    def _read(self):
        buf = b""
        try:
            while True:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    break
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    self._dispatch(json.loads(raw))
        finally:
            self._closed.set()
            with self._lock:
                for q in self._waiting.values():
                    q.put({"error": {"message": "browser closed the pipe"}})
                for q in self._sessions.values():
                    q.put(None)

    def _dispatch(self, msg):
        with self._lock:
            if "id" in msg:
                q = self._waiting.pop(msg["id"], None)
                if q:
                    q.put(msg)
            elif "sessionId" in msg:
                self._sessions.setdefault(msg["sessionId"], queue.Queue()).put(msg)

    def events(self, session):
        with self._lock:
            return self._sessions.setdefault(session, queue.Queue())

    def drop_session(self, session):
        with self._lock:
            self._sessions.pop(session, None)

    def call(self, method, params=None, session=None, timeout=None):
        with self._lock:
            if self._closed.is_set():
                raise CdpError("the browser is gone")
            self._next_id += 1
            ident = self._next_id
            q = self._waiting[ident] = queue.Queue()
            msg = {"id": ident, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            data = json.dumps(msg).encode() + b"\0"
            while data:
                data = data[os.write(self._to_browser, data):]
        try:
            reply = q.get(timeout=timeout or self.timeout)
        except queue.Empty:
            with self._lock:
                self._waiting.pop(ident, None)
            raise CdpError(f"{method}: no answer within {timeout or self.timeout} s") from None
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def close(self):
        try:
            if not self._closed.is_set():
                self.call("Browser.close", timeout=5)
        except CdpError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)  # our own process group (start_new_session)
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def stderr_tail(self, lines=15):
        self.stderr.flush()
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").splitlines()
        noise = ("dbus", "unexpected operator", "Floss", "vaapi", "InitializeSandbox", "ScreenSaver")
        return [line for line in text if not any(n in line for n in noise)][-lines:]
