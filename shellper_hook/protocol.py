"""The daemon's wire protocol (standard library only).

One request per connection, in one format on every carrier (zsh's socket,
bash's pipes, the client's stdin): NUL-terminated fields,

  OP NUL PID NUL SHELL NUL CWD NUL TEXT NUL {NAME=VALUE NUL} NUL

the operation, the shell's PID, its name (bash, zsh or fish; empty: bash),
its current folder, the text (a request, or the command line for check and
executed), then named fields, and an empty field to end. Upper-case names
are the terminal's environment as the shell sends it (its exported SHELLPER_*
variables, HOME, XDG_CONFIG_HOME, its CDPATH): the daemon alone decides what
they mean (which config file, which settings differ from its own, where cd
goes). Lower-case names are the request's own: status (executed), pipes=1 (a
bash asking for its pipes, see pipes.py), all=1 (reset), commit=1 (translate: no
suggestion pending, `shellper ask`), since (export),
reply=json (a JSON reply where the widgets get NUL fields), id (on bash's
pipes, echoed before the reply). A request is at most MAX_REQUEST bytes.

Operations:
  ping                          -> {"pid", "version"}
  translate  PID SHELL CWD TEXT -> ok NUL command NUL effect-and-note-lines NUL
             (JSON with reply=json: {"command", "call", "warnings", "effect"})
  check      PID SHELL CWD LINE -> same|changed NUL NUL lines NUL (Enter is about to run
             LINE: when it is the suggestion, the files are judged again; changed: show
             the lines and run nothing until a second Enter; a refusal is an error of
             kind "refused")
  executed   PID SHELL - LINE status=N -> {"recorded": committed|extended|edited|dropped|none}
  commit     PID                -> {"recorded"}  (commit the pending suggestion now)
  history    PID                -> {"exchanges": [...], "pending": {...}|null}
  reset      PID | all=1        -> {"removed": n}
  closed     PID                -> {"removed": n}  (the shell is exiting: forget its
             conversation now; sent from its exit hook, possibly after it is gone)
  status                        -> {"pid", "uptime", "socket", "sessions", "server"}
  export     since=DATE         -> {"conversations": [...]}
  stop                          -> {} and the daemon exits
  forward    owner=PID          -> {"socket", "token", "id"}: a listener of its own for one
             ssh connection (`shellper ssh`, forward.py), open while PID lives
  unforward  id=ID              -> {"closed": bool}

On a forward's socket (a server's shell, through ssh -R) every request carries token=...,
and only two operations are served, each judged on the server's facts (remote.py):
  translate  PID SHELL CWD TEXT HOME=... -> facts NUL ID NUL PATH<US>DEEP NUL ... NUL
             (the paths whose facts the call needs; DEEP 1: count what is in it)
  facts      PID SHELL CWD ID fact=RECORD ... -> ok NUL command NUL lines NUL (as translate)

Errors: error NUL kind NUL message NUL, or {"ok": false, "error", "kind"}.
Other replies are one JSON line: {"v": 1, "ok": true, ...}.

A translate request is cancelled when its client closes the connection (that
is how Ctrl-C reaches the model call), so a client must keep its socket open,
not half-close it, until the reply has arrived. PID is the shell's; the
daemon pairs it with the process start time, so a reused PID never inherits
another shell's history.
"""

from __future__ import annotations

import _socket  # socket's C half: `import socket` costs the client (run per request in bash) its enum import
import os
import struct

VERSION = 1
MAX_REQUEST = 64 * 1024
OPS = (
    "ping",
    "translate",
    "check",
    "executed",
    "commit",
    "history",
    "reset",
    "closed",
    "status",
    "export",
    "stop",
    "facts",
    "forward",
    "unforward",
)
SHELLS = ("bash", "zsh", "fish")  # what a translate request may name as its shell (default bash)


def settings_names() -> tuple:
    """The settings variables (settings.KEYS'), in its order. Only the daemon reads them: the
    client, which must not import settings, sends a terminal's environment as it is."""
    from .settings import KEYS

    return tuple(key.env for key in KEYS)


def settings_origin(environ) -> dict:
    """{variable: value} for the settings variables set in environ (a terminal's, or the
    daemon's own; an empty one counts as unset), and "config": the config file that
    environment names (paths.config_file's rule, so both ends agree by construction).

    Values are UTF-8 text (see as_utf8), so a setting or home folder named in
    another encoding reads the same on both ends."""
    from . import paths

    origin = {name: as_utf8(environ[name]) for name in settings_names() if (environ.get(name) or "").strip()}
    origin["config"] = os.path.normpath(as_utf8(paths.config_file(environ)))
    return origin


def as_utf8(value: str) -> str:
    """value with each byte that is not UTF-8 (os.environ keeps them as lone
    surrogates, as JSON escapes and zsh's raw bytes do) as U+FFFD."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


# What to do about a request the daemon cannot read: it came from shell code
# of another shellper version than the daemon's.
MISMATCH = "open a new terminal, so its shellper matches this daemon (`shellper stop` restarts the daemon)"
TOO_LARGE = f"request larger than {MAX_REQUEST} bytes; say it in fewer words"


class ProtocolError(ValueError):
    """A request the daemon cannot accept; the message goes back to the client."""

    mismatch = True  # most likely from shell code of another version than the daemon's


class BadInput(ProtocolError):
    """A request that is well formed but cannot be served as typed: the user can fix it."""

    mismatch = False


def encode(obj: dict) -> bytes:
    """One JSON reply line."""
    import json  # the daemon's side only

    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogateescape") + b"\n"


def ok(**fields) -> dict:
    return {"v": VERSION, "ok": True, **fields}


def error(message: str, kind: str = "error") -> dict:
    return {"v": VERSION, "ok": False, "error": message, "kind": kind}


_FIXED = 5  # OP PID SHELL CWD TEXT
_FLAGS = ("status", "pipes", "all", "commit", "since", "reply", "id", "token", "owner")
_SESSION_OPS = ("translate", "check", "executed", "commit", "history", "closed", "reset")


def encode_request(req: dict) -> bytes:
    """The wire form of a request given as a dict: op, session, shell, cwd, text (or
    command), env ({NAME: VALUE}), and any of the lower-case fields. NULs in values go
    (they cannot be sent; zsh strings may hold them)."""
    text = req.get("text", req.get("command", ""))
    session = req.get("session")
    fields = [req["op"], "" if session is None else str(session), req.get("shell", ""), req.get("cwd", ""), text]
    for name in _FLAGS:
        value = req.get(name)
        if value is not None and value is not False:
            fields.append(f"{name}={1 if value is True else value}")
    fields += [f"{name}={value}" for name, value in req.get("env", {}).items()]
    raw = b"".join(f.replace("\0", "").encode("utf-8", "surrogateescape") + b"\0" for f in fields)
    return raw + b"\0"


def request_end(data: bytes) -> int | None:
    """Where the first whole request in data ends (after its empty field), or None."""
    i = 0
    for _ in range(_FIXED):
        j = data.find(b"\0", i)
        if j < 0:
            return None
        i = j + 1
    while True:
        j = data.find(b"\0", i)
        if j < 0:
            return None
        if j == i:
            return j + 1
        i = j + 1


class TooLarge(ValueError):
    def __init__(self, start: bytes):
        super().__init__("the request is too large")
        self.start = start  # what came, for whether it asked for JSON


async def read_request(reader) -> bytes:
    """One whole request from an asyncio stream (request_end), or what came before the client
    closed; TooLarge past MAX_REQUEST. (Async without importing asyncio: the client stays light.)"""
    data = b""
    while True:
        end = request_end(data)
        if end is not None:
            return data[:end]
        if len(data) > MAX_REQUEST:
            raise TooLarge(data)
        chunk = await reader.read(65536)
        if not chunk:
            return data
        data += chunk


def wants_json(data: bytes) -> bool:
    """Whether a request (even one that does not parse) asked for a JSON reply: a named
    field says so (a text or folder that reads reply=json does not)."""
    return b"reply=json" in data.split(b"\0")[_FIXED:]


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"the {name} is not valid UTF-8 text; retype it") from None


def decode_request(data: bytes) -> dict:
    """One request, checked, as a dict (see encode_request; "command" is the text of
    check and executed; "settings" and "cdpath" are what the environment fields mean).
    Raises ProtocolError on anything off."""
    if len(data) > MAX_REQUEST:
        raise BadInput(TOO_LARGE)
    end = request_end(data)
    if end is None or end != len(data):
        raise ProtocolError("request is not NUL-separated fields ending in an empty one")
    raw = data[: end - 2].split(b"\0")
    op = raw[0].decode("ascii", "replace")
    if op not in OPS:
        raise ProtocolError(f"unknown operation {op!r}")
    req: dict = {"op": op, "shell": raw[2].decode("ascii", "replace") or "bash", "env": {}}
    if req["shell"] not in SHELLS:
        raise ProtocolError(f"unknown shell {req['shell']!r}: one of {', '.join(SHELLS)}")
    if raw[1]:
        if not (raw[1].isascii() and raw[1].isdigit() and len(raw[1]) <= 10 and 0 < int(raw[1]) <= 2**31):
            raise ProtocolError("the PID must be a positive number")
        req["session"] = int(raw[1])
    req["cwd"] = _text(raw[3], "current folder's name")
    req["text"] = req["command"] = _text(raw[4], "request" if op == "translate" else "command")
    for field in raw[_FIXED:]:
        name, eq, value = field.partition(b"=")
        if not eq or not name:
            raise ProtocolError("a named field is not NAME=VALUE")
        key = name.decode("ascii", "replace")
        if not (key[0].isalpha() or key[0] == "_") or not key.replace("_", "a").isalnum():
            continue  # a variable no setting is named like (zsh exports SHELLPER_é): not ours to judge
        if key in _FLAGS:
            req[key] = _text(value, key)
        elif key == "fact":  # a server's shell answering what a path is (remote.py), one field each
            req.setdefault("facts", []).append(_text(value, key))
        elif key.isupper() or not key.islower():
            req["env"][key] = value.decode("utf-8", "surrogateescape")
        else:
            raise ProtocolError(f"unknown field {key!r}")
    _check(req)
    if req["env"]:  # what the terminal's environment means; a request without one says nothing
        req["settings"] = settings_origin(req["env"])
        # A terminal that says its environment and no CDPATH has none (not the daemon's own).
        req["cdpath"] = as_utf8(req["env"].get("CDPATH", ""))
    return req


def _check(req: dict) -> None:
    op = req["op"]
    if op in _SESSION_OPS and "session" not in req and not (op == "reset" and req.get("all") == "1"):
        raise ProtocolError(f"{op} needs the shell's PID")
    if op == "translate" and not req["text"].strip():
        raise BadInput("empty request: type what you want first")
    if op in ("translate", "check") and not req["cwd"]:
        raise ProtocolError(f"{op} needs the current folder")
    for flag in ("pipes", "all", "commit"):
        req[flag] = req.get(flag) == "1"
    if op == "executed":
        status = req.get("status", "0")
        digits = status[1:] if status.startswith("-") else status
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 10):
            raise ProtocolError("field 'status' must be an integer")
        req["status"] = int(status)
    if req.get("id") is not None and not (0 < len(req["id"]) <= 64 and set(req["id"]) <= ID_CHARS):
        raise ProtocolError("field 'id' must be 1-64 letters, digits, '.', '-' or '_'")


ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-")


def peer_uid(sock: _socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, or None if unknown.

    Both ends check it: the daemon serves only its user, and a client talks
    only to its user's daemon, never to one another user set up at our path.
    """
    if hasattr(_socket, "SO_PEERCRED"):
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1]
    if hasattr(_socket, "LOCAL_PEERCRED"):  # macOS: struct xucred, uid at offset 4; SOL_LOCAL is 0
        creds = sock.getsockopt(0, _socket.LOCAL_PEERCRED, struct.calcsize("IIh16I"))
        return struct.unpack_from("I", creds, 4)[0]
    return None


def nul_reply(reply: dict) -> bytes:
    """The NUL-separated form of a translate or check reply, for shell widgets:
    ok NUL command NUL lines, or for a check: same NUL NUL, changed NUL NUL lines."""
    if reply.get("ok") and "changed" in reply:
        fields = ["changed" if reply["changed"] else "same", "", "\n".join(reply.get("lines", []))]
    elif reply.get("ok"):
        # The effect line first, then the policy's notes: the widgets show each line.
        lines = ([reply["effect"]] if reply.get("effect") else []) + list(reply.get("warnings", []))
        fields = ["ok", reply.get("command", ""), "\n".join(lines)]
    else:
        fields = ["error", reply.get("kind", "error"), reply.get("error", "")]
    return "\0".join(f.replace("\0", "") for f in fields).encode("utf-8") + b"\0"
