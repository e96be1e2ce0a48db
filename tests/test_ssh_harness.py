"""The ssh harness (tests/ssh_harness.py) against the real sshd it starts: logins as the remote
users, the environment sshd accepts, a Unix-socket remote forward end to end with the socket's
owner and mode, what sshd does with a forward's path already taken (StreamLocalBindUnlink no),
the local throwaway user, and that stop() leaves nothing behind. Root only (skips otherwise)."""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shlex
import socketserver
import stat
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import ssh_harness
from ssh_harness import Sshd

# Connects to the socket argv[1] (again while it is not there yet), sends 'ping', prints the answer.
CLIENT = """\
import socket, sys, time
deadline = time.monotonic() + 20
while True:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        break
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
s.sendall(b"ping")
s.shutdown(socket.SHUT_WR)
print(s.makefile("rb").read().decode())
"""


def client_command(path: str) -> str:
    return f"python3 -c {shlex.quote(CLIENT)} {shlex.quote(path)}"


def remote_path() -> str:
    return f"/tmp/sp-fwd-{uuid.uuid4().hex[:10]}.sock"


def why(sshd: Sshd, result=None) -> str:
    said = f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}\n" if result is not None else ""
    return f"{said}sshd's log (end):\n{sshd.log()[-6000:]}"


@pytest.fixture(scope="module")
def sshd():
    ssh_harness.require()
    with Sshd() as server:
        yield server


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data = b""
        while chunk := self.request.recv(4096):
            data += chunk
        self.request.sendall(b"echo:" + data)


@pytest.fixture
def echo():
    """A local Unix-socket echo server (the laptop's daemon stands here): its socket's path."""
    root = tempfile.mkdtemp(prefix="sp-echo-", dir="/tmp")
    path = os.path.join(root, "echo.sock")
    server = socketserver.ThreadingUnixStreamServer(path, _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()
    with contextlib.suppress(OSError):
        os.unlink(path)
    os.rmdir(root)


@pytest.fixture
def fwd_path():
    path = remote_path()
    yield path
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def read_until(proc: subprocess.Popen, marker: bytes, timeout: float = 30) -> bytes:
    """proc's stdout (binary) up to and with `marker`; fails on time out or end of output."""
    out = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while marker not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {marker!r} in {timeout} s: {out!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"output ended before {marker!r}: {out!r}, stderr {proc.stderr.read()!r}")
            out += chunk
    return out


def forward(sshd: Sshd, remote: str, local: str, command: str = "true", user=None):
    return sshd.run(user, command, "-o", "ExitOnForwardFailure=yes", "-R", f"{remote}:{local}")


def test_login_as_the_remote_users(sshd):
    # Literally as a test would: ssh -F CONFIG sp-loop ..., nothing interactive.
    plain = subprocess.run(
        ["ssh", "-F", sshd.client_config, "sp-loop", "true"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert plain.returncode == 0, why(sshd, plain)
    for user in sshd.users:
        result = sshd.run(user, "id -un; id -u; echo $HOME")
        assert result.returncode == 0, why(sshd, result)
        assert result.stdout.split() == [user, str(sshd.uid(user)), sshd.home(user)]
        assert stat.S_IMODE(os.stat(sshd.home(user)).st_mode) & 0o022 == 0
    assert sshd.run(None, "echo $0").stdout.strip().endswith("zsh" if os.access("/bin/zsh", os.X_OK) else "bash")


def test_root_and_unknown_users_are_refused(sshd):
    for user in ("root", "nobody"):
        result = sshd.run(user, "true")
        assert result.returncode == 255 and "Permission denied" in result.stderr, why(sshd, result)


def test_sshd_accepts_lc_variables_only(sshd):
    result = sshd.run(None, 'echo "[$LC_SHELLPER_SOCK]"', "-o", "SetEnv=LC_SHELLPER_SOCK=/tmp/x")
    assert result.returncode == 0, why(sshd, result)
    assert result.stdout == "[/tmp/x]\n"
    result = sshd.run(None, 'echo "[$FOO]"', "-o", "SetEnv=FOO=1")
    assert result.returncode == 0, why(sshd, result)
    assert result.stdout == "[]\n"


def test_unix_socket_remote_forward_end_to_end(sshd, echo, fwd_path):
    result = forward(sshd, fwd_path, echo, client_command(fwd_path))
    assert result.returncode == 0, why(sshd, result)
    assert result.stdout == "echo:ping\n"


def test_forward_socket_is_the_users_alone_and_its_path_is_not_taken_twice(sshd, echo, fwd_path):
    held = sshd.popen(
        None,
        "echo ready; exec cat",
        "-o",
        "ExitOnForwardFailure=yes",
        "-R",
        f"{fwd_path}:{echo}",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        read_until(held, b"ready\n")
        # StreamLocalBindMask 0177 (the default): a socket of the remote user's, 0600.
        info = os.stat(fwd_path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == sshd.uid()
        # The other remote user cannot connect to it.
        other = sshd.run(sshd.other, client_command(fwd_path))
        assert other.returncode != 0 and "PermissionError" in other.stderr, why(sshd, other)
        # The remote user can, through the held forward.
        mine = sshd.run(None, client_command(fwd_path))
        assert mine.stdout == "echo:ping\n", why(sshd, mine)
        # A second forward to the same path fails while the first is open.
        second = forward(sshd, fwd_path, echo)
        assert second.returncode == 255, why(sshd, second)
        assert f"remote port forwarding failed for listen path {fwd_path}" in second.stderr
        # Without ExitOnForwardFailure ssh only warns and runs the command anyway.
        lax = sshd.run(None, "echo ran", "-R", f"{fwd_path}:{echo}")
        assert lax.returncode == 0 and lax.stdout == "ran\n" and "Warning: remote port forwarding failed" in lax.stderr
    finally:
        held.stdin.close()
        held.wait(30)
    assert held.returncode == 0, held.stderr.read()
    # sshd leaves the socket file when the session ends...
    time.sleep(0.5)
    assert stat.S_ISSOCK(os.stat(fwd_path).st_mode)
    # ... and with StreamLocalBindUnlink no, the left file blocks a new forward.
    third = forward(sshd, fwd_path, echo)
    assert third.returncode == 255, why(sshd, third)
    assert "cannot bind to path" in sshd.log()
    # Once it is removed, the path forwards again.
    os.unlink(fwd_path)
    again = forward(sshd, fwd_path, echo, client_command(fwd_path))
    assert again.returncode == 0 and again.stdout == "echo:ping\n", why(sshd, again)


def test_local_user_runs_unprivileged(sshd, echo):
    user = sshd.local_user()
    result = user.run(["id", "-u"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(user.uid)
    groups = user.run(["id", "-G"])
    assert groups.stdout.split() == [str(user.gid)]
    assert user.uid != 0 and pwd.getpwuid(user.uid).pw_name == user.name
    # The echo socket sits in a root 0700 dir: the local user cannot reach it.
    reach = user.run(["python3", "-c", CLIENT.replace("time.monotonic() + 20", "time.monotonic()"), echo])
    assert reach.returncode != 0 and "PermissionError" in reach.stderr


def test_stop_leaves_nothing_behind(echo):
    ssh_harness.require()
    sshd = Sshd()
    left, held_path = remote_path(), remote_path()
    try:
        result = forward(sshd, left, echo, client_command(left))
        assert result.returncode == 0, why(sshd, result)
        held = sshd.popen(
            None,
            "echo ready; exec sleep 600",
            "-R",
            f"{held_path}:{echo}",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        read_until(held, b"ready\n")
        local = sshd.local_user()
        sleeper = local.popen(["sleep", "600"])
        names = [*sshd.users, local.name]
        uids = {pwd.getpwnam(name).pw_uid for name in names}
        homes = [sshd.home(user) for user in sshd.users]
        sshd_pid = sshd.proc.pid
        assert os.path.exists(left) and os.path.exists(held_path)
        assert ssh_harness._owned_by(uids)
    finally:
        sshd.stop()
    sleeper.wait(10)
    held.wait(10)
    for name in names:
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
    for path in [*homes, left, held_path, sshd.base, sshd.dir]:
        assert not os.path.exists(path), path
    assert not ssh_harness._alive(sshd_pid)
    assert ssh_harness._owned_by(uids) == []
    sshd.stop()  # again: nothing to do


def test_unavailable_says_why(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "root" in ssh_harness.unavailable()
    with pytest.raises(ssh_harness.Unavailable, match="root"):
        Sshd()
