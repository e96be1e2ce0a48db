"""What `shellper` prints holds no raw terminal control characters, whatever
the daemon, the history or the model server says.

A stand-in daemon on the socket answers with hostile text (ESC sequences, OSC 52
clipboard writes, C1 CSI, bidi overrides, an undecodable file name), and the
real `shellper` command's bytes are checked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from daemon_helpers import wait_until

from shellper_hook import paths, protocol

# Clear screen, OSC 52 (write the clipboard), C1 CSI, BEL, DEL, CR, RLO, a line
# separator, an isolate, and a lone surrogate (a file name that is not UTF-8).
HOSTILE = "a\x1b[2Jb\x1b]52;c;aGVsbG8=\x07c\u009b31md\x07e\x7ff\u202eg\u2028h\rk\u2066l\udcffm"
# What must never reach the terminal raw (newline and tab are layout).
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def assert_clean(raw: bytes, where: str) -> str:
    text = raw.decode("utf-8")  # strict: what we print is valid UTF-8 too
    found = RAW.findall(text)
    assert not found, f"{where} printed raw control characters {found!r}: {text!r}"
    return text


def run(*args) -> tuple:
    done = subprocess.run(["shellper", *args], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out = assert_clean(done.stdout, f"`shellper {' '.join(args)}` stdout")
    err = assert_clean(done.stderr, f"`shellper {' '.join(args)}` stderr")
    return done.returncode, out, err


class FakeDaemon:
    """Listens on the daemon's socket and answers each op from `replies`."""

    def __init__(self, replies: dict):
        self.replies = replies
        path = paths.socket_path()
        paths.ensure_private_dir(os.path.dirname(path))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while protocol.request_end(data) is None:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if not data:  # a probe that only connects
                    continue
                req = protocol.decode_request(data)  # the CLI's requests are well formed
                assert req["reply"] == "json", req
                reply = {"v": 1, "ok": True, **self.replies.get(req["op"], {})}
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def close(self):
        self.sock.close()


@pytest.fixture
def daemon(shellper_env):
    made = []

    def start(**replies):
        made.append(FakeDaemon(replies))
        return made[-1]

    yield start
    for d in made:
        d.close()


def test_ask_escapes_the_command_and_warnings(daemon):
    command = "printf '%s\\n' 'one' 'two\tthree' " + HOSTILE
    daemon(
        translate={
            "command": command,
            "call": {"name": "echo", "arguments": {"content": HOSTILE}},
            "warnings": ["about " + HOSTILE, "second"],
        }
    )
    code, out, err = run("ask", "list", "files")
    assert code == 0
    assert "\\x1b[2J" in out and "\\x9b31m" in out and "\\u202e" in out and "\\udcff" in out
    assert "'two\tthree'" in out  # a tab inside the command stays a tab
    assert err.count("shellper: ") == 2 and "\\x07" in err
    code, out, err = run("ask", "--json", "list", "files")
    assert code == 0
    sent = json.loads(out)
    assert sent["command"] == command and sent["call"]["arguments"]["content"] == HOSTILE  # the same data


def test_ask_keeps_a_newline_in_a_command():
    from shellper_hook.show import safe

    assert safe("printf '%s\\n' 'a\nb'\x1b", keep="\n\t") == "printf '%s\\n' 'a\nb'\\x1b"


@pytest.mark.parametrize("kind", ["refused", "answer"])
def test_ask_escapes_a_daemon_error(daemon, kind):
    daemon(translate={"ok": False, "kind": kind, "error": "cannot: " + HOSTILE})
    code, _, err = run("ask", "delete", "it")
    assert code == (3 if kind == "refused" else 1)
    assert err.startswith("shellper: cannot: a\\x1b[2Jb")


def test_history_escapes_old_rows(daemon):
    row = {"request": "req " + HOSTILE, "command": "echo " + HOSTILE, "call": {"name": "echo", "arguments": {}}, "edited": True}
    daemon(history={"exchanges": [row, dict(row, edited=False)], "pending": dict(row)})
    code, out, _ = run("history")
    assert code == 0
    assert out.count("req a\\x1b[2Jb") == 3 and "(edited)" in out and "pending:" in out
    code, out, _ = run("history", "--json")
    assert code == 0
    assert json.loads(out)["exchanges"][0]["command"] == "echo " + HOSTILE


def test_status_escapes_the_servers_words(daemon):
    server = {"reachable": True, "model_present": None, "model_loaded": None, "message": "server says " + HOSTILE}
    daemon(
        status={
            "pid": 1,
            "version": HOSTILE,
            "uptime": 1.0,
            "socket": HOSTILE,
            "sessions": 0,
            "base_url": HOSTILE,
            "model": HOSTILE,
            "server": server,
            "overhead_ms": {"count": 0},
        }
    )
    code, out, _ = run("status")
    assert code == 0 and "server says a\\x1b[2Jb" in out
    code, out, _ = run("status", "--json")
    assert code == 0 and json.loads(out)["server"]["message"] == "server says " + HOSTILE


class _Hostile(BaseHTTPRequestHandler):
    """A model server whose every answer is an error in hostile words."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        status = 404 if self.path.startswith("/api/") else 500
        body = json.dumps({"error": {"message": "broken " + HOSTILE.replace("\udcff", "")}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_doctor_escapes_daemon_and_server_replies(daemon, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SHELLPER_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        daemon(
            status={"pid": 1, "version": HOSTILE, "socket": HOSTILE, "base_url": "x", "model": "y"},
            translate={"command": "pwd " + HOSTILE, "call": {"name": "pwd", "arguments": {}}, "warnings": []},
        )
        _, out, _ = run("doctor")
    finally:
        server.shutdown()
        server.server_close()
    assert "version a\\x1b[2Jb" in out  # the daemon's words
    assert "broken a [2Jb ]52;c;" in out  # the model server's words, control characters blanked (errors.one_line)
    assert "-> pwd a\\x1b[2Jb" in out  # the round trip's command


# ---------------------------------------------------------------- the shells' messages

SHELL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell")
# The daemon's text as the widgets get it: UTF-8 bytes (it never holds a lone surrogate).
MESSAGE = HOSTILE.replace("\udcff", "").encode("utf-8")
# Sequences that must not reach the terminal from a message (ours, like ESC[K, may).
_BAD_BYTES = [b"\x1b[2J", b"\x1b]52", b"\xc2\x9b", b"\x07", b"\x7f", b"\xe2\x80\xae", b"\xe2\x80\xa8", b"\xe2\x81\xa6"]


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_bash_messages_print_no_raw_controls(locale, tmp_path):
    msg = tmp_path / "msg"
    msg.write_bytes(MESSAGE)
    done = subprocess.run(
        [
            "bash",
            "--norc",
            "--noprofile",
            "-c",
            f'source {SHELL_DIR}/shellper.bash; IFS= read -r -d "" m <"$1"; __shellper_say "$m"',
            "bash",
            str(msg),
        ],
        capture_output=True,
        env={"PATH": os.environ["PATH"], "LC_ALL": locale, "HOME": str(tmp_path)},
        timeout=20,
    )
    prefix = b"\r\x1b[Kshellper: "
    assert done.stderr.startswith(prefix), done.stderr
    said = done.stderr[len(prefix) :]
    assert said.startswith(b"a?[2Jb") and said.endswith(b"m\n"), said
    assert not [b for b in _BAD_BYTES if b in said], said


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
@pytest.mark.parametrize("reply", ["error", "warning"])
def test_zsh_messages_print_no_raw_controls(locale, reply, tmp_path):
    from shellharness import Tmux, have

    if not have("tmux") or not have("zsh"):
        pytest.skip("needs tmux and zsh")
    # Warnings come one a line; each gets its own "shellper: ".
    (tmp_path / "msg").write_bytes(MESSAGE + (b"\nsecond warning" if reply == "warning" else b""))
    fields = '"error"$\'\\0\'"answer"' if reply == "error" else '"ok"$\'\\0\'"pwd"'
    (tmp_path / ".zshrc").write_text(
        "PS1='SP$ '\n"
        f"source {SHELL_DIR}/shellper.zsh\n"
        # Hand __shellper_apply a daemon reply, as the reply reader does.
        f"__t() {{ __shellper_line=$BUFFER; __shellper_apply {fields}$'\\0'\"$(<{tmp_path}/msg)\"$'\\0'; }}\n"
        "zle -N __t; bindkey '^T' __t\n"
    )
    raw = tmp_path / "raw"
    env = {"PATH": os.environ["PATH"], "TERM": "tmux-256color", "LC_ALL": locale, "HOME": str(tmp_path), "ZDOTDIR": str(tmp_path)}
    with Tmux() as tmux:
        pane = tmux.spawn(["zsh", "-i"], env)
        pane.wait_for("SP$")
        tmux._run("pipe-pane", "-t", pane.id, "-o", f"cat >> {raw}")
        pane.send("C-t")
        pane.wait_for("shellper: a")
        wait_until(lambda: raw.exists() and b"m" in raw.read_bytes().partition(b"shellper: a")[2], 5)
        out = raw.read_bytes()
        if reply == "warning":
            pane.wait_for("shellper: second warning")
    assert not [b for b in _BAD_BYTES if b in out], out
