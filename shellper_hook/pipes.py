"""Per-terminal pipes: bash's way to the daemon without starting a process.

bash cannot open a Unix socket, so each of its requests would start a Python
client, and that start is most of a bash Ctrl-G. Instead a bash terminal's
first request (through the client) asks for a pair of FIFOs, DIR/PID.in and
DIR/PID.out, in a private folder beside the socket; its later requests go
through them. The daemon holds both ends open read-write, so a shell's open
never blocks and no end-of-file ever comes; the shell opens them only while
it waits, so no command it runs inherits them.

  PID.in   requests (protocol.py), each with an id=ID field: a translate or check
           for the PID's own terminal; or one whose op is "cancel" (drop the one in flight)
  PID.out  ID NUL, then the reply's NUL fields (protocol.nul_reply)
  pid      the daemon's PID: a shell whose daemon died stops waiting

ID is the shell's (at most 64 letters, digits, '.', '-' and '_'), so it can
skip the late reply to a request it cancelled. A reply bigger than the FIFO
is written as the shell reads it. The shell uses only a folder, FIFOs and
pid file it owns, and takes back a request nobody read within 0.5 s (a dead
daemon whose PID lives on) to send it through the client. A terminal's
pipes go with it (its exit hook, or the periodic sweep); all of them go with
the daemon, and a daemon starting clears what a crashed one left.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat

from . import paths, protocol

log = logging.getLogger("shellper.pipes")

MAX_TERMINALS = 500  # two file descriptors each
MAX_UNSENT = 1 << 20  # replies a shell has not read, at most (it reads each as it comes)


class _Pair:
    """One terminal's two FIFOs, and its request in flight."""

    def __init__(self, pid: int, fd_in: int, fd_out: int):
        self.pid, self.fd_in, self.fd_out = pid, fd_in, fd_out
        self.buf = b""
        self.task: asyncio.Task | None = None
        # Replies PID.out could not take yet (one over the FIFO's 64 KB, say); the first may be partly out.
        self.unsent: list = []
        self.started = False  # (it is)


class TerminalPipes:
    def __init__(self, directory: str, answer):
        self.dir = directory
        self.answer = answer  # async (pid, request line) -> reply bytes, or None when cancelled
        self._pairs: dict = {}
        self.ready = False

    def start(self) -> None:
        """A clean, private folder with our PID in it; on any trouble, no pipes (bash uses its client)."""
        try:
            paths.ensure_private_dir(self.dir)
            for name in os.listdir(self.dir):
                os.unlink(os.path.join(self.dir, name))
            tmp = os.path.join(self.dir, "pid.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            os.rename(tmp, os.path.join(self.dir, "pid"))
        except OSError as exc:
            log.warning("no pipes for bash (its requests start a client instead): %s", exc)
            return
        self.ready = True

    def path(self, pid: int, end: str) -> str:
        return os.path.join(self.dir, f"{pid}.{end}")

    def add(self, pid: int) -> None:
        """Make and serve terminal pid's pipes, unless they are there already."""
        if not self.ready or pid in self._pairs:
            return
        if len(self._pairs) >= MAX_TERMINALS:
            log.warning("pipes for %d terminals already; terminal %d uses its client", MAX_TERMINALS, pid)
            return
        fds = []
        try:
            for end in ("in", "out"):
                fds.append(self._fifo(self.path(pid, end)))
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self._unlink(pid)
            log.warning("no pipes for terminal %d: %s", pid, exc)
            return
        pair = _Pair(pid, *fds)
        self._pairs[pid] = pair
        asyncio.get_running_loop().add_reader(pair.fd_in, self._readable, pair)

    def _fifo(self, path: str) -> int:
        try:
            os.mkfifo(path, 0o600)
        except FileExistsError:
            pass
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        st = os.fstat(fd)
        if not stat.S_ISFIFO(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            os.close(fd)
            raise OSError(errno.EPERM, f"{path} is not a private FIFO of ours")
        return fd

    def drop(self, pid: int) -> None:
        """Terminal pid is gone: its pipes go, and its request in flight."""
        pair = self._pairs.pop(pid, None)
        if pair is not None:
            if pair.task is not None:
                pair.task.cancel()
            try:
                loop = asyncio.get_running_loop()
                loop.remove_reader(pair.fd_in)
                loop.remove_writer(pair.fd_out)
            except RuntimeError:  # the loop is closing
                pass
            os.close(pair.fd_in)
            os.close(pair.fd_out)
        self._unlink(pid)

    def _unlink(self, pid: int) -> None:
        for end in ("in", "out"):
            try:
                os.unlink(self.path(pid, end))
            except OSError:
                pass

    def sweep(self, alive) -> None:
        for pid in [p for p in self._pairs if not alive(p)]:
            self.drop(pid)

    def close(self) -> None:
        for pid in list(self._pairs):
            self.drop(pid)
        if self.ready:
            try:
                os.unlink(os.path.join(self.dir, "pid"))
                os.rmdir(self.dir)
            except OSError:
                pass
        self.ready = False

    # ---- one terminal's traffic --------------------------------------------

    def _readable(self, pair: _Pair) -> None:
        try:
            data = os.read(pair.fd_in, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("terminal %d's pipe failed: %s", pair.pid, exc)
            self.drop(pair.pid)
            return
        pair.buf += data
        while (end := protocol.request_end(pair.buf)) is not None:
            request, pair.buf = pair.buf[:end], pair.buf[end:]
            self._request(pair, request)
        if len(pair.buf) > protocol.MAX_REQUEST:  # no end coming: not our shell code's
            log.warning("terminal %d sent a request over %d bytes; dropped", pair.pid, protocol.MAX_REQUEST)
            pair.buf = b""

    def _request(self, pair: _Pair, request: bytes) -> None:
        # One request at a time per terminal: a new one (or "cancel") ends the one before.
        if pair.task is not None and not pair.task.done():
            pair.task.cancel()
            log.info("terminal %d cancelled its request", pair.pid)
        if request.startswith(b"cancel\0"):
            return
        rid = next((f[3:] for f in request.split(b"\0")[5:] if f.startswith(b"id=")), b"")
        if not (0 < len(rid) <= 64 and set(rid.decode("latin-1")) <= protocol.ID_CHARS):
            log.warning("terminal %d sent a request without an ID; dropped", pair.pid)
            return
        pair.task = asyncio.ensure_future(self._serve(pair, rid, request))

    async def _serve(self, pair: _Pair, rid: bytes, body: bytes) -> None:
        try:
            reply = await self.answer(pair.pid, body)
        except asyncio.CancelledError:
            return
        if reply is None or self._pairs.get(pair.pid) is not pair:
            return
        if sum(map(len, pair.unsent)) > MAX_UNSENT:  # the shell stopped reading long ago
            log.warning("terminal %d has not read its replies; dropped them", pair.pid)
            # Whole ones only: half a reply would glue the next one's ID to its end.
            del pair.unsent[1 if pair.started else 0 :]
        pair.unsent.append(rid + b"\0" + reply)
        self._flush(pair)

    def _flush(self, pair: _Pair) -> None:
        """Write what PID.out takes now; the rest when the shell has read some."""
        loop = asyncio.get_running_loop()
        waiting = bool(pair.unsent)
        while pair.unsent:
            head = pair.unsent[0]
            try:
                written = os.write(pair.fd_out, head)
            except BlockingIOError:
                break
            except OSError as exc:
                log.warning("terminal %d's reply not sent: %s", pair.pid, exc)
                pair.unsent, pair.started = [], False
                break
            if written < len(head):
                pair.unsent[0], pair.started = head[written:], True
                break
            del pair.unsent[0]
            pair.started = False
        if pair.unsent:
            loop.add_writer(pair.fd_out, self._flush, pair)
        elif waiting:
            loop.remove_writer(pair.fd_out)
