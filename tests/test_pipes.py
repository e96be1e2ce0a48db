"""A bash terminal's pipes to the daemon (pipes.py), driven as shellper.bash drives them.

The first request of a terminal goes through the client and asks for the
pipes; later ones are lines on PID.in, answered on PID.out. Each test uses a
real daemon, real FIFOs and the stand-in model server.
"""

from __future__ import annotations

import asyncio
import os
import select
import stat
import time

import pytest
from daemon_helpers import alive, client_translate, daemon_pid, fake_shell, fields, stop_daemon, wait_until, wire

from shellper_hook import client, paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pipes_dir() -> str:
    return paths.socket_path() + ".pipes"


def first_request(shell: int, cwd: str, text: str = "show hidden files", pipes: bool = False) -> bytes:
    """What bash's first Ctrl-G runs: the client, asking for the pipes (pipes=1)."""
    return client_translate(shell, cwd, text, pipes=pipes).stdout


def request_line(shell: int, cwd: str, text: str, rid: str = "t.1", **extra) -> bytes:
    """A request as bash writes it on PID.in: the one format, with its id field."""
    return wire({"op": "translate", "session": shell, "shell": "bash", "cwd": cwd, "text": text, "id": rid, **extra})


CANCEL = b"cancel\0\0\0\0\0\0"  # what bash sends on Ctrl-C: a request whose op is cancel


class Pipes:
    """Terminal `shell`'s pipes, opened the way bash opens them (read-write)."""

    def __init__(self, shell: int):
        self.fd_in = os.open(os.path.join(pipes_dir(), f"{shell}.in"), os.O_RDWR)
        self.fd_out = os.open(os.path.join(pipes_dir(), f"{shell}.out"), os.O_RDWR | os.O_NONBLOCK)
        self.buf = b""

    def send(self, data: bytes) -> None:
        os.write(self.fd_in, data)

    def fields(self, count: int, timeout: float = 10.0) -> list:
        """The next `count` NUL-terminated fields on PID.out."""
        deadline = time.monotonic() + timeout
        while self.buf.count(b"\0") < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd_out], [], [], left)[0]:
                raise AssertionError(f"no reply on the pipe; got {self.buf!r}")
            self.buf += os.read(self.fd_out, 65536)
        parts = self.buf.split(b"\0")
        self.buf = b"\0".join(parts[count:])
        return [p.decode("utf-8", "replace") for p in parts[:count]]

    def quiet(self, seconds: float = 0.5) -> bool:
        return not select.select([self.fd_out], [], [], seconds)[0]

    def close(self) -> None:
        os.close(self.fd_in)
        os.close(self.fd_out)


@pytest.fixture
def shell():
    with fake_shell() as pid:
        yield pid


def test_first_request_makes_private_pipes_and_later_ones_use_them(daemon_env, fake, shell, tmp_path):
    fake.answer("hidden", "ls", {"a": True})
    fake.answer("src folder", "cd", {"folder": "src"})
    (tmp_path / "src").mkdir()
    assert not os.path.exists(os.path.join(pipes_dir(), f"{shell}.in"))
    assert first_request(shell, str(tmp_path), "show hidden files", pipes=True).startswith(b"ok\0ls -a\0")
    d = pipes_dir()
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for end in ("in", "out"):
        st = os.lstat(os.path.join(d, f"{shell}.{end}"))
        assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    with open(os.path.join(d, "pid")) as fh:
        assert int(fh.read()) == daemon_pid()

    p = Pipes(shell)
    try:
        p.send(request_line(shell, str(tmp_path), "go into the src folder", rid="abc.2"))
        assert p.fields(4) == ["abc.2", "ok", "cd src", f"moves the shell: goes to {tmp_path}/src"]
    finally:
        p.close()
    # The same conversation as over the socket: the suggestion is this terminal's pending one.
    hist = client.request({"op": "history", "session": shell})
    assert hist["pending"]["command"] == "cd src"
    assert [m["content"] for m in fake.requests[-1]["messages"] if m["role"] == "user"][-1] == "go into the src folder"


def test_no_pipes_unless_asked(daemon_env, fake, shell, tmp_path):
    """zsh, fish, `shellper ask` and an older bash never ask: nothing is made for them."""
    assert first_request(shell, str(tmp_path)).startswith(b"ok\0")
    assert not os.path.exists(os.path.join(pipes_dir(), f"{shell}.in"))


def test_a_pipe_takes_only_its_own_terminals_translate_requests(daemon_env, fake, shell, tmp_path):
    first_request(shell, str(tmp_path), "show hidden files", pipes=True)
    asked = len(fake.requests)
    p = Pipes(shell)
    try:
        with fake_shell() as other:
            p.send(request_line(other, str(tmp_path), "show hidden files", rid="x.1"))
            rid, kind, what, message = p.fields(4)
            assert (rid, kind, what) == ("x.1", "error", "bad_request") and "only its own" in message
        p.send(wire({"op": "reset", "all": True, "id": "x.2"}))
        assert p.fields(4)[:3] == ["x.2", "error", "bad_request"]
        p.send(wire({"op": "history", "session": shell, "id": "x.2b"}))
        assert p.fields(4)[:3] == ["x.2b", "error", "bad_request"]
        # Not a request, a field without '=', not UTF-8, no ID, the old JSON line, and a blob far
        # over the limit with no NUL: refused or dropped, and the pipe still serves.
        p.send(fields("nonsense", str(shell), "bash", str(tmp_path), "show", "id=x.3"))
        assert p.fields(4)[:3] == ["x.3", "error", "bad_request"]
        p.send(fields("translate", str(shell), "bash", str(tmp_path), "show", "id=x.3b", "noequals"))
        assert p.fields(4)[:3] == ["x.3b", "error", "bad_request"]
        p.send(request_line(shell, str(tmp_path), "show", rid="x.4").replace(b"\0show\0", b"\0sh\xffow\0"))
        rid, kind, what, message = p.fields(4)
        assert (rid, kind) == ("x.4", "error") and "UTF-8" in message
        p.send(wire({"op": "translate", "session": shell, "cwd": str(tmp_path), "text": "show hidden files"}))  # no ID
        p.send(fields("translate", str(shell), "bash", str(tmp_path), "show", "id=" + "x" * 65))  # an ID too long
        p.send(fields("translate", str(shell), "bash", str(tmp_path), "show", "id=x y"))
        p.send(b'x.9 {"v": 1, "op": "ping"}\n' + b"\0" * 6)
        assert p.quiet()
        p.send(b"x" * (2 * 65536 + 500))
        # What was left of the blob glues to the next request: answered (an error), never lost.
        p.send(request_line(shell, str(tmp_path), "show hidden files", rid="x.5"))
        rid, kind = p.fields(4)[:2]
        assert rid == "x.5" and kind in ("ok", "error"), (rid, kind)
        # A request written a byte at a time (a pipe has no deadline: bash writes it whole).
        for byte in request_line(shell, str(tmp_path), "show hidden files", rid="x.6"):
            p.send(bytes([byte]))
        assert p.fields(4)[:2] == ["x.6", "ok"]
        # Enter's check of the line comes the same way.
        p.send(wire({"op": "check", "session": shell, "shell": "bash", "cwd": str(tmp_path), "command": "ls", "id": "x.7"}))
        assert p.fields(4) == ["x.7", "same", "", ""]
    finally:
        p.close()
    assert len(fake.requests) <= asked + 2  # only the last ones reached the model


@pytest.mark.parametrize(
    "request_fields",
    [
        ("translate", "9" * 5000, "bash", "{cwd}", "show"),  # a PID of more digits than int() reads
        ("executed", "{shell}", "bash", "{cwd}", "ls", "status=\u00b2"),  # a status int() does not read (not the pipe's op either)
        ("translate", "{shell}", "csh", "{cwd}", "reply=json"),  # the text reads reply=json
    ],
    ids=["pid-5000-digits", "status-superscript", "text-reply-json"],
)
def test_every_request_with_an_id_gets_nul_fields_under_it(daemon_env, fake, shell, tmp_path, request_fields):
    """bash waits for its ID's NUL fields: a request the daemon cannot read is an error
    under that ID, in that form, never silence (bash would say translating... until Ctrl-C)."""
    first_request(shell, str(tmp_path), "show hidden files", pipes=True)
    p = Pipes(shell)
    try:
        parts = [f.format(shell=shell, cwd=tmp_path) for f in request_fields]
        p.send(fields(*parts, "id=v.1"))
        assert p.fields(4, timeout=5)[:3] == ["v.1", "error", "bad_request"]
        p.send(request_line(shell, str(tmp_path), "show hidden files", rid="v.2"))
        assert p.fields(4)[:2] == ["v.2", "ok"]
    finally:
        p.close()


def test_cancel_drops_the_request_in_flight(daemon_env, fake, shell, tmp_path):
    """What bash sends on Ctrl-C: the model call is cancelled, nothing comes back, nothing is pending."""
    first_request(shell, str(tmp_path), "show hidden files", pipes=True)
    client.request({"op": "reset", "session": shell})
    fake.delay = 3.0
    p = Pipes(shell)
    try:
        p.send(request_line(shell, str(tmp_path), "show hidden files", rid="c.1"))
        assert wait_until(lambda: len(fake.requests) >= 2, 5)
        p.send(CANCEL)
        assert wait_until(lambda: fake.disconnects >= 1, 5), "the model call went on"
        assert p.quiet(0.5)
        assert client.request({"op": "history", "session": shell})["pending"] is None
        # A new request while one runs replaces it: only the new one is answered.
        fake.delay = 2.0
        p.send(request_line(shell, str(tmp_path), "show hidden files", rid="c.2"))
        time.sleep(0.3)
        fake.delay = 0.0
        p.send(request_line(shell, str(tmp_path), "show hidden files", rid="c.3"))
        assert p.fields(4)[:2] == ["c.3", "ok"]
        assert p.quiet(2.5)
        # Two requests in one write: the second replaces the first at once.
        fake.delay = 1.0
        p.send(
            request_line(shell, str(tmp_path), "show hidden files", rid="c.4")
            + request_line(shell, str(tmp_path), "show hidden files", rid="c.5")
        )
        assert p.fields(4)[:2] == ["c.5", "ok"]
        assert p.quiet(1.5)
        # A cancel with bytes after it, and a cancel with nothing in flight: nothing comes back, the pipe serves on.
        fake.delay = 0.0
        p.send(CANCEL + CANCEL)
        p.send(request_line(shell, str(tmp_path), "show hidden files", rid="c.6"))
        assert p.fields(4)[:2] == ["c.6", "ok"]
    finally:
        p.close()


def test_pipes_go_with_their_terminal_and_with_the_daemon(daemon_env, fake, tmp_path):
    with fake_shell() as a, fake_shell() as b:
        first_request(a, str(tmp_path), "show hidden files", pipes=True)
        first_request(b, str(tmp_path), "show hidden files", pipes=True)
        d = pipes_dir()
        # The exit hook's `closed`: that terminal's pipes go, the other's stay.
        assert client.request({"op": "closed", "session": a})["ok"]
        assert not os.path.exists(os.path.join(d, f"{a}.in")) and not os.path.exists(os.path.join(d, f"{a}.out"))
        assert os.path.exists(os.path.join(d, f"{b}.in"))
        pid = daemon_pid()
        stop_daemon()
        assert not alive(pid)
        assert not os.path.exists(d)


def test_a_crashed_daemons_pipes_are_cleared_by_the_next(daemon_env, fake, shell, tmp_path):
    first_request(shell, str(tmp_path), "show hidden files", pipes=True)
    pid = daemon_pid()
    os.kill(pid, 9)
    assert wait_until(lambda: not alive(pid))
    d = pipes_dir()
    assert os.path.exists(os.path.join(d, f"{shell}.in"))  # what a shell finds: its pid file names a dead daemon
    with open(os.path.join(d, "pid")) as fh:
        assert not alive(int(fh.read()))
    assert first_request(shell, str(tmp_path)).startswith(b"ok\0")  # starts a new daemon, no pipes asked
    assert not os.path.exists(os.path.join(d, f"{shell}.in"))
    with open(os.path.join(d, "pid")) as fh:
        assert int(fh.read()) == daemon_pid() != pid


def test_dead_terminals_pipes_are_swept(shellper_env, fake, tmp_path, monkeypatch):
    """A terminal killed without its exit hook: its pipes go at the periodic sweep."""
    from daemon_helpers import in_process_daemon

    from shellper_hook import daemon

    monkeypatch.setattr(daemon, "CLEANUP_PERIOD", 0.2)
    _, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shell() as live:
            with fake_shell() as gone:
                first_request(gone, str(tmp_path), "show hidden files", pipes=True)
                first_request(live, str(tmp_path), "show hidden files", pipes=True)
                assert os.path.exists(os.path.join(pipes_dir(), f"{gone}.in"))
            assert wait_until(lambda: not os.path.exists(os.path.join(pipes_dir(), f"{gone}.in")), 5)
            assert not os.path.exists(os.path.join(pipes_dir(), f"{gone}.out"))
            assert os.path.exists(os.path.join(pipes_dir(), f"{live}.in"))
    finally:
        stop()


def test_a_pipes_folder_others_can_enter_is_not_used(daemon_env, fake, shell, tmp_path):
    d = pipes_dir()
    os.makedirs(os.path.dirname(d), mode=0o700, exist_ok=True)
    os.mkdir(d)
    os.chmod(d, 0o755)
    assert first_request(shell, str(tmp_path), "show hidden files", pipes=True).startswith(b"ok\0")
    assert os.listdir(d) == []
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o755  # not ours to change


def test_a_planted_symlink_is_not_followed(daemon_env, fake, shell, tmp_path):
    first_request(shell, str(tmp_path))  # the daemon is up, its folder made
    target = tmp_path / "target"
    target.write_text("keep")
    os.symlink(target, os.path.join(pipes_dir(), f"{shell}.in"))
    assert first_request(shell, str(tmp_path), "show hidden files", pipes=True).startswith(b"ok\0")
    assert target.read_text() == "keep"
    assert not os.path.exists(os.path.join(pipes_dir(), f"{shell}.out"))


def test_replies_dropped_for_a_shell_that_stopped_reading_never_cut_a_reply_in_two(tmp_path):
    """Replies a shell has not read past MAX_UNSENT are dropped whole: the one
    already half in the FIFO is finished, or its missing end would glue the
    next reply's ID to it, and bash, which looks for its ID as a whole field,
    would wait for it forever ("translating..." until Ctrl-C)."""
    from shellper_hook.pipes import TerminalPipes

    async def run():
        async def answer(pid, body):
            return b"ok\0" + b"y" * 700_000 + b"\0\0"

        tp = TerminalPipes(str(tmp_path / "p"), answer)
        tp.start()
        me = os.getpid()
        tp.add(me)
        fin = os.open(tp.path(me, "in"), os.O_RDWR)
        fout = os.open(tp.path(me, "out"), os.O_RDWR | os.O_NONBLOCK)
        try:
            for i in range(3):  # three late replies nobody reads; the third's ID is what bash waits for
                os.write(fin, fields("translate", str(me), "bash", "/", "x", f"id=r{i}"))
                await asyncio.sleep(0.1)
            data = b""
            idle = 0
            while idle < 20:
                try:
                    data += os.read(fout, 1 << 16)
                    idle = 0
                except BlockingIOError:
                    idle += 1
                    await asyncio.sleep(0.01)
        finally:
            os.close(fin)
            os.close(fout)
            tp.close()
        return data.split(b"\0")

    got = asyncio.run(run())
    assert b"r2" in got, [f[:8] + b"..." + f[-8:] for f in got]
