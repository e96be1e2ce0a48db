"""Helpers for tests that run real daemons in private XDG dirs."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from shellper_hook import client, paths, protocol


def daemon_pid() -> int | None:
    try:
        with open(os.path.join(paths.state_dir(), "daemon.pid")) as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie child still "exists"; reap it if it is ours.
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _described(pred) -> str:
    """What a predicate waits for, in its own words: its source line, or its name."""
    with contextlib.suppress(OSError, TypeError):
        source = inspect.getsource(pred).strip()
        return " ".join(source.split())
    return getattr(pred, "__qualname__", repr(pred))


def eventually(pred, timeout=10.0, step=0.02):
    """Whether pred() holds within `timeout` seconds (its last value). Only where a False
    is expected and acted on; a test that needs pred to hold uses wait_until."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def wait_until(pred, timeout=10.0, what: str | None = None, step=0.02):
    """Poll pred until it holds and return its value; raise AssertionError after
    `timeout` seconds, naming what was awaited (`what`, else pred's source) and for how long."""
    value = eventually(pred, timeout, step)
    if not value:
        raise AssertionError(f"waited {timeout} s in vain for {what or _described(pred)}")
    return value


def stop_daemon() -> None:
    """Stop the daemon of the current XDG dirs, politely then firmly."""
    pid = daemon_pid()
    with contextlib.suppress(Exception):
        client.request({"op": "stop"}, autostart=False, timeout=5)
    if pid and not eventually(lambda: not alive(pid), 5):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), 5, what=f"daemon {pid} to die of SIGKILL")


def raw_exchange(payload: bytes, timeout=10.0, close_write=False) -> bytes:
    """Send raw bytes on the daemon socket and return everything it answers.
    close_write: say the request ends there (a request with no end of its own)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(paths.socket_path())
    try:
        try:
            sock.sendall(payload)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon stopped reading (too large): its answer is still there to read
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:  # it closed with our extra bytes unread
                break
            if not data:
                return b"".join(chunks)
            chunks.append(data)
        return b"".join(chunks)
    finally:
        sock.close()


def fields(*parts) -> bytes:
    """A request written field by field (str or bytes, each NUL-terminated), with the
    empty field that ends it: fields("ping", "", "", "", "") is a ping."""
    raw = b"".join((p if isinstance(p, bytes) else p.encode("utf-8", "surrogateescape")) + b"\0" for p in parts)
    return raw + b"\0"


def wire(req: dict) -> bytes:
    """A request given as a dict, in the one wire format (protocol.encode_request)."""
    return protocol.encode_request(req)


def reply_of(raw: bytes) -> dict:
    """A daemon's reply as a dict: a JSON line as is; NUL fields (translate, check, or an
    error to a request that did not ask for JSON) as {"ok", "command", "lines"} or an
    error dict {"ok": False, "kind", "error"}."""
    if raw.startswith(b"{"):
        assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw[:200]
        return json.loads(raw)
    got = raw.split(b"\0")
    assert len(got) == 4 and got[3] == b"", raw[:200]
    kind, second, third = (f.decode("utf-8") for f in got[:3])
    if kind == "error":
        return {"ok": False, "kind": second, "error": third}
    if kind == "ok":
        return {"ok": True, "command": second, "lines": third.split("\n") if third else []}
    assert kind in ("same", "changed") and second == "", raw[:200]
    return {"ok": True, "changed": kind == "changed", "lines": third.split("\n") if third else []}


def exchange(req: dict, **kw) -> dict:
    """One request (a dict, with reply=json) on a socket of our own; the JSON reply."""
    return json.loads(raw_exchange(wire({**req, "reply": "json"}), **kw))


def run_client(data: bytes, env=None, timeout=30, cwd="/") -> subprocess.CompletedProcess:
    """The shells' client, as they run it: the request's bytes on stdin, no arguments."""
    return subprocess.run(
        [sys.executable, "-m", "shellper_hook.client"], input=data, capture_output=True, timeout=timeout, env=env, cwd=cwd
    )


def client_translate(session, cwd, text, env=None, shell="bash", timeout=30, **named) -> subprocess.CompletedProcess:
    """A shell's translate request through the client: the NUL reply on stdout."""
    req = {"op": "translate", "session": session, "shell": shell, "cwd": cwd, "text": text, **named}
    return run_client(wire(req), env=env, timeout=timeout)


@contextlib.contextmanager
def fake_shell():
    """A live process standing in for a terminal's shell (its PID is the session)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def fake_shells(n):
    """n live processes standing in for n terminals' shells (their PIDs are the sessions)."""
    procs = [subprocess.Popen(["sleep", "600"]) for _ in range(n)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def shellper(*args, env=None, cwd=None, timeout=60, input=None):
    """Run the real `shellper` console script."""
    return subprocess.run(
        ["shellper", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        input=input,
    )


def in_process_daemon(monkeypatch, fake, **kw):
    """A Daemon on a loop in a thread; returns (daemon, stop)."""
    monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
    from shellper_hook.backend import Backend
    from shellper_hook.daemon import Daemon
    from shellper_hook.settings import load
    from shellper_hook.store import SessionStore

    settings = load()
    loop = asyncio.new_event_loop()
    daemon = Daemon(settings, SessionStore(), Backend(settings), **kw)
    ready = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(daemon.start())
        ready.set()
        loop.run_until_complete(daemon.stopping.wait())
        loop.run_until_complete(daemon.close())
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10)

    def stop():
        loop.call_soon_threadsafe(daemon.stopping.set)
        t.join(10)

    return daemon, stop
