"""The daemon's wire protocol, version 1 (standard library only).

One request per connection: the client writes one JSON object and a newline;
the daemon answers with one line and closes. A request is at most
MAX_REQUEST bytes.

Request: {"v": 1, "op": OP, ...fields}. Operations and their fields:

  ping                                   -> {"pid", "version"}
  translate  session, cwd, text, shell   -> {"command", "call", "warnings", "effect"}
             (shell: "bash" (default), "zsh" or "fish": the command is rendered for it;
             optional settings: the terminal's settings_origin(); a warning says when
             the daemon started with other settings; optional pipes: true, a bash
             asking for its own pipes for its next requests, see pipes.py; optional cdpath:
             the shell's CDPATH, where cd may go instead of the current folder)
  executed   session, command, status, shell -> {"recorded": committed|extended|edited|dropped|none}
  commit     session                     -> {"recorded"}  (commit the pending suggestion now)
  check      session, cwd, command, shell -> {"changed", "lines"} (Enter is about to run command:
             when it is the suggestion, the files are judged again; changed: show lines and
             run nothing until a second Enter; a refusal is an error of kind "refused")
  history    session                     -> {"exchanges": [...], "pending": {...}|null}
  reset      session | all: true         -> {"removed": n}
  closed     session                     -> {"removed": n}  (the shell is exiting: forget
             its conversation now; sent from its exit hook, possibly after it is gone)
  status                                 -> {"pid", "uptime", "socket", "sessions", "server"}
  export     since (optional, ISO date)  -> {"conversations": [...]}
  stop                                   -> {} and the daemon exits

A translate request is cancelled when its client closes the connection (that
is how Ctrl-C reaches the model call), so a client must keep its socket open,
not half-close it, until the reply has arrived.

`session` is the shell's PID (an int); the daemon pairs it with the process
start time, so a reused PID never inherits another shell's history.

Reply (JSON): {"v": 1, "ok": true, ...} or
              {"v": 1, "ok": false, "error": "one line", "kind": KIND}.

Shells that cannot parse JSON add "reply": "nul" to a translate request and
get NUL-separated fields instead:  ok NUL command NUL effect-and-warning-lines NUL
or  error NUL kind NUL message NUL.
"""

from __future__ import annotations

import _socket  # socket's C half: `import socket` costs the client (run per request in bash) its enum import
import struct

try:  # JSON's string quoting in C, so encode() needs no `import json` (re, enum) in the client
    from _json import encode_basestring as _quote
except ImportError:  # not CPython
    from json.encoder import py_encode_basestring as _quote

VERSION = 1
MAX_REQUEST = 64 * 1024
OPS = ("ping", "translate", "check", "executed", "commit", "history", "reset", "closed", "status", "export", "stop")
SHELLS = ("bash", "zsh", "fish")  # what a translate request may name as its shell (default bash)


# Where a daemon's settings come from, besides the contents of config.toml:
# these variables (settings.KEYS; a test keeps the lists equal) and which
# config file. A client sends its terminal's with each translate request.
SETTINGS_ENV = (
    "SHELLPER_BASE_URL",
    "SHELLPER_MODEL",
    "SHELLPER_API_KEY",
    "SHELLPER_TIMEOUT",
    "SHELLPER_MAX_TURNS",
    "SHELLPER_ALLOW_RECURSIVE",
    "SHELLPER_SYSTEM_PROMPT",
    "SHELLPER_IDLE_EXIT",
    "SHELLPER_COLLECT_CORRECTIONS",
    "SHELLPER_CORRECTIONS_DAYS",
    "SHELLPER_KEEP_ALIVE",
    "SHELLPER_MAX_TOKENS",
)


def settings_origin(environ, config_file: str) -> dict:
    """{variable: value} for the settings variables set (an empty one counts as unset), and "config".

    Values are UTF-8 text (see as_utf8), so a setting or home folder named in
    another encoding still goes over the wire, and reads the same on both ends."""
    origin = {name: as_utf8(environ[name]) for name in SETTINGS_ENV if (environ.get(name) or "").strip()}
    origin["config"] = as_utf8(config_file)
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


def _json(value) -> str:
    """Compact JSON, as json.dumps(value, ensure_ascii=False, separators=(",", ":")) writes it."""
    if isinstance(value, str):
        return _quote(value)
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if isinstance(value, dict):
        return "{" + ",".join(_quote(_key(k)) + ":" + _json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} is not JSON")


def _key(key) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return _json(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def encode(obj: dict) -> bytes:
    """One request or reply line."""
    return _json(obj).encode("utf-8") + b"\n"


def ok(**fields) -> dict:
    return {"v": VERSION, "ok": True, **fields}


def error(message: str, kind: str = "error") -> dict:
    return {"v": VERSION, "ok": False, "error": message, "kind": kind}


def _field(req: dict, name: str, typ: type, what: str):
    value = req.get(name)
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise ProtocolError(f"field {name!r} must be {what}")
    return value


def _utf8(value: str) -> bool:
    """False for lone surrogates (valid JSON escapes that no UTF-8 encoder takes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_request(line: bytes) -> dict:
    """Parse and check one request line; raise ProtocolError on anything off."""
    if len(line) > MAX_REQUEST:
        raise ProtocolError(TOO_LARGE)
    # Bytes that are not UTF-8 become lone surrogates: the text fields refuse
    # them below, with their names; settings take them (zsh sends raw bytes).
    text = line.decode("utf-8", "surrogateescape")
    import json  # the daemon's side only

    try:
        req = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("request is not one JSON object") from None
    if not isinstance(req, dict):
        raise ProtocolError("request is not one JSON object")
    if req.get("v", VERSION) != VERSION:
        raise ProtocolError(f"protocol version {req.get('v')!r} not supported (this daemon speaks {VERSION})")
    op = req.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown operation {op!r}")
    if op in ("translate", "check", "executed", "commit", "history", "closed") or (op == "reset" and req.get("all") is not True):
        pid = _field(req, "session", int, "a shell PID (integer)")
        if pid <= 0 or pid > 2**31:
            raise ProtocolError("field 'session' must be a positive PID")
    for name in ("text", "cwd", "command"):
        value = req.get(name)
        if isinstance(value, str) and not _utf8(value):
            raise ProtocolError(f"field {name!r} is not valid UTF-8 text; retype it")
    if op == "translate":
        text = _field(req, "text", str, "a string")
        if not text.strip():
            raise ProtocolError("empty request: type what you want first")
        _field(req, "cwd", str, "a directory path")
    if op == "translate" and "settings" in req:
        origin = req["settings"]
        if not (isinstance(origin, dict) and all(isinstance(v, str) for v in origin.values())):
            raise ProtocolError("field 'settings' must map names to strings")
    if op == "check":
        _field(req, "command", str, "a string")
        _field(req, "cwd", str, "a directory path")
    if op in ("translate", "check", "executed") and req.get("shell", "bash") not in SHELLS:
        raise ProtocolError(f"field 'shell' must be one of {', '.join(SHELLS)}")
    if op == "executed":
        _field(req, "command", str, "a string")
        status = req.get("status", 0)
        if not isinstance(status, int) or isinstance(status, bool):
            raise ProtocolError("field 'status' must be an integer")
    if op == "export" and req.get("since") is not None:
        _field(req, "since", str, "an ISO date")
    return req


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
