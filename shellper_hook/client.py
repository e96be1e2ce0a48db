"""The thin client: one request to the daemon, starting it when needed.

Standard library only: this runs on every key press in bash and fish, so it
must not pay for openai, psutil or platformdirs, and its request path
imports no module that brings `re` or `enum` (json, socket, subprocess,
tempfile): those are imported where they are needed, off that path.
The shells run it isolated, as `python -I -S` with the package's folder
added to sys.path (see CLIENT below), which also skips the site scan.

Used by the shells as
    CLIENT   stdin: one request (protocol.py: OP NUL PID NUL SHELL NUL CWD NUL TEXT NUL
             {NAME=VALUE NUL} NUL), written to the daemon as is; the reply on stdout.
  translate: starts a daemon when none listens; the NUL reply (exit 0 if "ok").
  check:     Enter is about to run a suggestion; never starts a daemon (none: "same"),
             waits at most ENTER_WAIT s.
  executed, closed: never start a daemon; nothing printed.
  start:     a shell is starting: start the daemon unless one listens (nothing sent); with
             lazy=1 (a prompt, after the daemon exited) it leaves the model server alone
             until its first translate, so a terminal in use never keeps the model loaded.
  fish gets one more field after a translate or check reply: the keys typed while it
  waited (see _keys_meanwhile); after "same", none: the line runs.
  Nothing on stdin: exit 0 (a shell asking whether the client can run at all).
where CLIENT is, with PKG the folder holding shellper_hook (`shellper init` prints it),
    python -I -S -c 'import sys; sys.path.append(sys.argv.pop(1)); from shellper_hook.client import main; main()' PKG
isolated from the user's folder and environment, and without the site-packages scan;
or, PKG unknown, python -m shellper_hook.client run from "/". Never from the user's
folder as is: a json.py there would run in place of the module.
User text comes on stdin, never in argv: any local user can read another's
/proc/PID/cmdline.
"""

from __future__ import annotations

import _socket  # socket's C half: `import socket` would cost every request its enum import
import errno
import os
import sys
import time

from . import paths, protocol

START_WAIT = 10.0  # seconds to wait for a daemon we started to listen
ENTER_WAIT = 3.0  # seconds Enter waits for the check of a suggestion (the daemon's look has 2)


class DaemonUnavailable(Exception):
    """No daemon answers and none could be started; the message says what to do."""


def _connect(path: str) -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        uid = protocol.peer_uid(sock)
    except OSError:
        sock.close()
        raise
    if uid is not None and uid != os.getuid():
        # Someone else listens at our path: it must never get our requests or
        # put a command on our prompt.
        sock.close()
        raise DaemonUnavailable(f"{path} is served by another user (uid {uid}), not your shellper daemon; remove it or set XDG_RUNTIME_DIR")
    return sock


def _dead(exc: OSError) -> bool:
    return exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR)


def spawn_daemon(lazy: bool = False):
    """Start a detached daemon (own session, output to the log file); its Popen. lazy: it
    leaves the model server alone until its first translate (a prompt brought it back)."""
    import subprocess

    state = paths.ensure_private_dir(paths.state_dir())
    log = open(paths.log_file(), "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "shellper_hook.daemon", *(["--lazy"] if lazy else [])],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=state,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        log.close()


def connect(autostart: bool = True, lazy: bool = False) -> _socket.socket:
    """A connected socket to the daemon, starting one if there is none.

    Concurrent clients serialise on a lock file, so ten racing clients
    start exactly one daemon.
    """
    path = paths.socket_path()
    try:
        return _connect(path)
    except OSError as exc:
        if not autostart or not _dead(exc):
            raise DaemonUnavailable(f"cannot reach the shellper daemon at {path} ({exc.strerror}); run `shellper doctor`") from None
    import fcntl

    paths.ensure_private_dir(paths.state_dir())
    with open(os.path.join(paths.state_dir(), "start.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _connect(path)  # another client started it while we waited
        except OSError:
            pass
        proc = spawn_daemon(lazy)
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            try:
                return _connect(path)
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.01)
    raise DaemonUnavailable(f"the shellper daemon did not start; see {paths.log_file()} or run `shellper daemon` to see why")


def _recv_all(sock: _socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def wire(req: dict) -> bytes:
    """A request of the CLI's in the wire form: with this process's environment (what the
    daemon compares its own settings with), asking for a JSON reply."""
    env = {}
    if req["op"] == "translate":  # (the only request whose reply depends on the terminal's settings)
        env = {k: v for k, v in os.environ.items() if k.startswith("SHELLPER_") or k in ("HOME", "XDG_CONFIG_HOME", "CDPATH")}
    return protocol.encode_request({**req, "reply": "json", "env": {**env, **req.get("env", {})}})


def send(data: bytes, autostart: bool = True, timeout: float | None = None) -> bytes:
    """Send one request (wire form), return the raw reply bytes."""
    sock = connect(autostart)
    try:
        sock.settimeout(timeout)
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon refused it before the end (too large): its reply says why
        return _recv_all(sock)
    finally:
        sock.close()


def request(req: dict, autostart: bool = True, timeout: float | None = None) -> dict:
    """Send one request and decode the JSON reply."""
    import json

    data = wire(req)
    if len(data) > protocol.MAX_REQUEST:  # (said here: the daemon would stop reading it midway)
        return protocol.error(too_large(data), "bad_request")
    raw = send(data, autostart, timeout)
    try:
        reply = json.loads(raw.decode("utf-8"))
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        return protocol.error(
            f"the daemon closed the connection without an answer; try again; if it happens again, see {paths.log_file()}",
            "daemon",
        )
    return reply


def safe_request(req: dict, autostart: bool = True, timeout: float | None = None) -> dict:
    """Like request(), but a daemon that cannot be reached becomes an error reply."""
    try:
        return request(req, autostart=autostart, timeout=timeout)
    except DaemonUnavailable as exc:
        return protocol.error(str(exc), "daemon")
    except OSError as exc:
        return protocol.error(f"talking to the daemon failed ({exc}); try again", "daemon")


def _whole_nul_reply(raw: bytes) -> bytes:
    """raw if it is a complete NUL reply. A reply cut short (the daemon died
    mid-write) must not put half a command on the line; a JSON error (from a
    daemon of an earlier version, still running after an upgrade) is passed on
    as a NUL one."""
    if raw.startswith((b"ok\0", b"error\0", b"same\0", b"changed\0")) and raw.endswith(b"\0") and raw.count(b"\0") == 3:
        return raw
    import json

    try:
        reply = json.loads(raw.decode("utf-8"))
    except ValueError:
        reply = None
    if isinstance(reply, dict) and reply.get("ok") is False and isinstance(reply.get("error"), str):
        return protocol.nul_reply(protocol.error(reply["error"], str(reply.get("kind", "error"))))
    return protocol.nul_reply(protocol.error("the daemon closed the connection without an answer; try again", "daemon"))


def _keys_meanwhile() -> str:
    """The keys typed while fish waited for us, taken off the terminal's input.

    fish runs the client inside its key binding, with the terminal raw, and
    would read those keys once we return: an Enter would run the suggestion
    before the user saw it. So they are read here, as bash reads them while
    it waits: "c" for Ctrl-G (cancel, as Ctrl-C), "t" and the text typed
    (with Backspace and Delete, to apply to the line), or "" for nothing, or
    only keys that do nothing while waiting (Enter, arrows).
    """
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return ""
    try:
        import fcntl
        import termios

        pending = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder, signed=True)
        data = os.read(fd, pending) if pending > 0 else b""
    except OSError:
        return ""
    finally:
        os.close(fd)
    return typed_keys(data)


def typed_keys(data: bytes) -> str:
    """What keys typed while waiting amount to (see _keys_meanwhile)."""
    keys, kept, i = data.decode("utf-8", "replace"), [], 0
    keys = keys.replace("\x9b", "\x1b[").replace("\x9d", "\x1b]")  # the 8-bit CSI and OSC
    while i < len(keys):
        c = keys[i]
        i += 1
        if c == "\x07":
            return "c"
        if c == "\x1b":  # an escape sequence (arrows, a paste's brackets, a terminal's reply): skipped whole
            i = _after_escape(keys, i)
        elif c in "\x7f\x08" or (c >= " " and not "\x80" <= c <= "\x9f"):  # text, Delete, Backspace
            kept.append(c)
    return "t" + "".join(kept) if kept else ""


def _after_escape(keys: str, i: int) -> int:
    """Where the escape sequence whose ESC came just before keys[i] ends (ECMA-48)."""
    kind = keys[i : i + 1]
    i += 1
    if kind == "[":  # CSI: parameter bytes, intermediate bytes, one final byte
        while i < len(keys) and "\x30" <= keys[i] <= "\x3f":
            i += 1
        while i < len(keys) and "\x20" <= keys[i] <= "\x2f":
            i += 1
        return i + 1
    if kind == "]":  # OSC: up to BEL or ESC \
        while i < len(keys) and keys[i] != "\x07" and keys[i : i + 2] != "\x1b\\":
            i += 1
        return i + (2 if keys[i : i + 2] == "\x1b\\" else 1)
    if kind == "O":  # SS3 (arrows in application mode): one more byte
        return i + 1
    return i  # Alt and a key: both skipped


def too_large(data: bytes) -> str:
    """Why a request is over MAX_REQUEST: the text, or an exported variable of the terminal's."""
    fields = data.split(b"\0")
    if sum(map(len, fields[:5])) > protocol.MAX_REQUEST // 2:
        return protocol.TOO_LARGE
    big = max(fields[5:], key=len).split(b"=", 1)[0].decode("utf-8", "replace")
    return (
        f"this terminal's exported {big} makes every request larger than {protocol.MAX_REQUEST} bytes; "
        f"put the setting in config.toml instead (`shellper config` says where), or unset it"
    )


def _reply(op: bytes, data: bytes) -> bytes:
    """The daemon's reply to a shell's request (op translate or check), as NUL fields."""
    if op == b"translate":
        return _whole_nul_reply(send(data))
    try:
        # No daemon, no suggestion to judge again: the line runs as typed.
        raw = send(data, autostart=False, timeout=ENTER_WAIT)
    except DaemonUnavailable:
        return b"same\0\0\0"
    except TimeoutError:  # the shell says so (a second Enter runs it)
        return protocol.nul_reply(protocol.error(f"no answer from the daemon in {ENTER_WAIT:g} s", "daemon"))
    return _whole_nul_reply(raw)


def _main(argv: list) -> int:
    if argv:
        sys.stderr.write(__doc__)
        return 2
    data = sys.stdin.buffer.read()
    if not data:
        return 0
    op, _, rest = data.partition(b"\0")
    shell = rest.split(b"\0", 2)[1:2]
    whole = len(data) <= protocol.MAX_REQUEST and protocol.request_end(data) == len(data)
    if op in (b"translate", b"check"):
        try:
            if len(data) > protocol.MAX_REQUEST:  # (said here: the daemon would stop reading it midway)
                raise protocol.BadInput(too_large(data))
            if not whole:
                raise ValueError("the shell's message to the client was cut short; try again")
            raw = _reply(op, data)
        except protocol.BadInput as exc:
            raw = protocol.nul_reply(protocol.error(str(exc), "bad_request"))
        except (DaemonUnavailable, OSError, ValueError) as exc:
            raw = protocol.nul_reply(protocol.error(str(exc), "daemon"))
        if shell == [b"fish"]:  # one more field: the keys typed meanwhile (none when the line runs)
            keys = "" if raw.startswith(b"same\0") else _keys_meanwhile()
            raw += keys.replace("\0", "").encode("utf-8", "replace") + b"\0"
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return 0 if raw.startswith((b"ok\0", b"same\0", b"changed\0")) else 1
    try:
        if op == b"start":  # a shell starting, or a prompt after the daemon exited: one listening by its next Ctrl-G
            connect(lazy=b"lazy=1" in data.split(b"\0")[5:]).close()
        elif op in (b"executed", b"closed") and whole:
            send(data, autostart=False, timeout=2)  # nobody reads the reply
        elif op in (b"executed", b"closed"):
            return 1  # cut short: nothing a daemon could read
        else:
            sys.stderr.write(__doc__)
            return 2
    except (DaemonUnavailable, OSError):
        return 1
    return 0


def main() -> None:
    try:
        sys.exit(_main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
