"""Helpers for tests that run real daemons in private XDG dirs."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from shellper_hook import client, paths


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
    """Send raw bytes on the daemon socket and return everything it answers."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(paths.socket_path())
    try:
        sock.sendall(payload)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        return client._recv_all(sock)
    finally:
        sock.close()


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
