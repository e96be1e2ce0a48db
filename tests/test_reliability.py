"""Reliability of the whole daemon path: load, crashes, model-server faults,
hostile clients and hostile model answers.

Everything runs against real daemon processes that the client starts by
itself, in private XDG dirs, with FakeOllama as the model server.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from daemon_helpers import alive, client_translate, daemon_pid, fake_shells, fields, raw_exchange, stop_daemon, wait_until
from fake_ollama import SHAPES, FakeOllama
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shellper_hook import client, paths, protocol
from shellper_hook.store import SessionStore, session_key

# Error kinds a user may legitimately see; "internal" means a bug escaped.
USER_KINDS = {"bad_request", "session", "answer", "refused", "out_of_reach", "backend", "denied", "error", "store", "settings"}


def translate(session, text, cwd, **extra):
    return client.request({"op": "translate", "session": session, "cwd": cwd, "text": text, **extra})


def executed(session, command, status=0):
    return client.request({"op": "executed", "session": session, "command": command, "status": status})


def history(session):
    reply = client.request({"op": "history", "session": session})
    assert reply["ok"], reply
    return reply


def user_texts(body) -> list:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def one_line(message) -> bool:
    return isinstance(message, str) and message.strip() != "" and not any(c in message for c in "\n\r\0")


# ---------------------------------------------------------------- load

TERMINALS, PER_TERMINAL = 50, 20


def test_fifty_busy_terminals_get_their_own_replies_and_histories(daemon_env, fake, tmp_path):
    fake.delay = lambda: random.uniform(0, 0.05)
    token = lambda t, r: f"t{t}_r{r}.txt"  # noqa: E731
    # Spaces around the token: " t1_r1.txt " never matches inside " t11_r1.txt ".
    for t in range(TERMINALS):
        for r in range(PER_TERMINAL):
            fake.answer(f" {token(t, r)} ", "cat", {"file_name": token(t, r)})
    text = lambda t, r: f"show file {token(t, r)} please"  # noqa: E731
    cwd = str(tmp_path)

    with fake_shells(TERMINALS) as shells:

        def terminal(t):
            replies = []
            for r in range(PER_TERMINAL):  # one terminal is sequential, like a user
                reply = translate(shells[t], text(t, r), cwd)
                settled = executed(shells[t], reply.get("command", "")) if reply.get("ok") else None
                replies.append((reply, settled))
            return replies

        started = time.monotonic()
        with ThreadPoolExecutor(TERMINALS) as pool:
            results = list(pool.map(terminal, range(TERMINALS)))
        elapsed = time.monotonic() - started
        histories = [history(s) for s in shells]

    for t, replies in enumerate(results):
        for r, (reply, settled) in enumerate(replies):
            assert reply["ok"], (t, r, reply)
            assert reply["command"] == f"cat {token(t, r)}", (t, r, reply)  # the right terminal's answer
            assert settled == {"v": 1, "ok": True, "recorded": "committed"}, (t, r, settled)
    for t, h in enumerate(histories):
        assert h["pending"] is None
        assert [e["request"] for e in h["exchanges"]] == [text(t, r) for r in range(PER_TERMINAL)]
        assert [e["command"] for e in h["exchanges"]] == [f"cat {token(t, r)}" for r in range(PER_TERMINAL)]
    # The model got each request exactly once, with only that terminal's own
    # latest five exchanges before it, oldest first.
    asked = {}
    for body in fake.requests:
        texts = user_texts(body)
        assert texts[-1] not in asked, f"asked twice: {texts[-1]}"
        asked[texts[-1]] = texts[:-1]
    assert len(asked) == TERMINALS * PER_TERMINAL
    for t in range(TERMINALS):
        for r in range(PER_TERMINAL):
            assert asked[text(t, r)] == [text(t, k) for k in range(max(0, r - 5), r)]
    assert elapsed < 40, f"{TERMINALS * PER_TERMINAL} requests took {elapsed:.1f} s"


# ---------------------------------------------------------------- kill -9


def _live_daemon(exclude=(), timeout=15):
    """The pid of a running daemon that is not one of `exclude` (it may be starting)."""
    found = []

    def check():
        pid = daemon_pid()
        if pid and pid not in exclude and alive(pid):
            found.append(pid)
            return True
        return False

    wait_until(check, timeout, what="a daemon to come back")
    return found[-1]


def test_kill_9_mid_traffic_loses_no_committed_exchange(daemon_env, fake, tmp_path):
    fake.delay = lambda: random.uniform(0, 0.03)
    fake.default("cat", {"file_name": "x"})
    cwd = str(tmp_path)
    n_terms, rounds = 6, 4
    stop = threading.Event()
    sent = {t: [] for t in range(n_terms)}
    committed = {t: [] for t in range(n_terms)}  # (text, monotonic time of the reply)
    tolerated, unexpected = [], []

    def attempt(fn):
        """One client call; a connection broken by the kill is tolerated, nothing else."""
        try:
            reply = fn()
        except (client.DaemonUnavailable, OSError) as exc:
            tolerated.append(repr(exc))
            return None
        if not reply.get("ok"):
            if reply.get("kind") == "daemon":  # "closed the connection without an answer"
                tolerated.append(reply["error"])
            else:
                unexpected.append(reply)
            return None
        return reply

    def terminal(t, shell):
        i = 0
        while not stop.is_set():
            text = f"show k{t}_{i}.txt"
            sent[t].append(text)
            reply = None
            for _ in range(200):
                reply = attempt(lambda: translate(shell, text, cwd))
                if reply or stop.is_set():
                    break
                time.sleep(0.01)
            if reply is None:
                break
            settled = attempt(lambda: executed(shell, reply["command"]))
            if settled and settled["recorded"] == "committed":
                committed[t].append((text, time.monotonic()))
            i += 1

    with fake_shells(n_terms) as shells:
        first = client.request({"op": "ping"})["pid"]
        threads = [threading.Thread(target=terminal, args=(t, s)) for t, s in enumerate(shells)]
        for th in threads:
            th.start()
        killed = []
        pid = first
        try:
            for _ in range(rounds):
                time.sleep(random.uniform(0.15, 0.45))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                wait_until(lambda: not alive(killed[-1]), 5)
                last_kill = time.monotonic()
                # Nobody restarts it but the clients' own next requests.
                pid = _live_daemon(exclude=killed)
            # Every terminal gets going again by itself after the last kill.
            recovered = lambda: all(any(w > last_kill for _, w in committed[t]) for t in range(n_terms))  # noqa: E731
            wait_until(recovered, 20, what="every terminal to recover after the last kill")
        finally:
            stop.set()
            for th in threads:
                th.join(30)
        assert not unexpected, unexpected[:3]
        assert tolerated, "no kill hit a request in flight"
        assert len(set(killed)) == rounds
        histories = {t: [e["request"] for e in history(s)["exchanges"]] for t, s in enumerate(shells)}
        for t in range(n_terms):
            texts = [text for text, _ in committed[t]]
            h = histories[t]
            assert len(h) == len(set(h)), "an exchange was recorded twice"
            assert set(texts) <= set(h), f"terminal {t} lost {sorted(set(texts) - set(h))[:3]}"
            # Nothing foreign, nothing out of order.
            order = {text: i for i, text in enumerate(sent[t])}
            assert all(x in order for x in h)
            assert [order[x] for x in h] == sorted(order[x] for x in h)
        stop_daemon()
        # The file itself is sound: it opens without being moved aside, same content.
        store = SessionStore(paths.store_file())
        try:
            assert store.recovered_from is None
            for t, s in enumerate(shells):
                assert [e.request for e in store.history(session_key(s))] == histories[t]
        finally:
            store.close()


# ---------------------------------------------------------------- model server faults


def _nul_client(session, cwd, text):
    return client_translate(session, cwd, text)


FAULTS = {
    # fault: (what the test does to the server, words the message must hold)
    "down": ("stop", ["cannot reach Ollama", "ollama serve"]),
    "hang": ("hang", ["did not answer within 1 s", "SHELLPER_TIMEOUT"]),
    "500": ("500", ["HTTP 500", "try again"]),
    "garbage": ("garbage", ["did not send a chat completion", "SHELLPER_BASE_URL"]),
    "503": ("503", ["busy", "OLLAMA_MAX_QUEUE"]),
    # No fix to name here (see the report): the model just said nothing.
    "empty": ("empty", ["empty answer"]),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_server_faults_give_every_terminal_one_clear_line(daemon_env, fake, tmp_path, monkeypatch, fault):
    monkeypatch.setenv("SHELLPER_TIMEOUT", "1")
    fake.answer("notes", "cat", {"file_name": "notes.txt"})
    action, words = FAULTS[fault]
    cwd = str(tmp_path)
    with fake_shells(3) as shells:
        assert translate(shells[0], "show notes", cwd, commit=True)["ok"]  # healthy first
        port = int(fake.base_url.rsplit(":", 1)[1].split("/")[0])
        if action == "stop":
            fake.stop()
        else:
            fake.mode = action
        with ThreadPoolExecutor(3) as pool:
            replies = list(pool.map(lambda s: translate(s, "show notes again", cwd), shells))
        nul = _nul_client(shells[1], cwd, "show notes once more")
        for reply in replies:
            assert reply["ok"] is False and reply["kind"] in ("backend", "answer"), reply
            assert one_line(reply["error"]), reply
            for word in words:
                assert word in reply["error"], reply["error"]
            if fault == "down":
                assert fake.base_url in reply["error"]
        # The shell widget's form: error NUL kind NUL message NUL, and a failing exit,
        # so the widget leaves the user's text on the prompt.
        assert nul.returncode == 1
        fields = nul.stdout.split(b"\0")
        assert len(fields) == 4 and fields[0] == b"error" and fields[3] == b"", nul.stdout
        assert fields[1].decode() == replies[0]["kind"]
        assert all(w in fields[2].decode() for w in words) and b"\n" not in fields[2]
        # Nothing half-done was recorded for any terminal.
        for s in shells:
            assert history(s)["pending"] is None
        # The server comes back: the same daemon serves again, history intact.
        if action == "stop":
            fake.start(port=port)
        fake.mode = "ok"
        reply = translate(shells[0], "show notes", cwd)
        assert reply["ok"] and reply["command"] == "cat notes.txt", reply
        assert [e["request"] for e in history(shells[0])["exchanges"]] == ["show notes"]
    with open(paths.log_file(), encoding="utf-8", errors="replace") as fh:
        assert "Traceback" not in fh.read()


def test_daemon_gone_for_good_gives_the_shell_an_error_not_a_command(daemon_env, tmp_path, monkeypatch):
    # A daemon that cannot start (its state dir is a file): the NUL client still answers in form.
    state = os.environ["XDG_STATE_HOME"]
    shutil.rmtree(state)
    with open(state, "w") as fh:
        fh.write("not a directory")
    with fake_shells(1) as (shell,):
        nul = _nul_client(shell, str(tmp_path), "list files")
    assert nul.returncode == 1
    fields = nul.stdout.split(b"\0")
    assert len(fields) == 4 and fields[0] == b"error" and fields[1] == b"daemon", nul.stdout
    assert fields[2] and b"\n" not in fields[2]


# ---------------------------------------------------------------- hostile model answers

# rm targets that name /, home, the current directory or its parents, or a wildcard.
MUST_REFUSE_RM = [
    "/",
    "//",
    "///",
    "/./",
    "/.",
    "/..",
    "/../..",
    "/./../.",
    "../../../../../../..",
    "../../../../../../../../../../../../../../..",
    "..",
    "../..",
    ".",
    "./",
    "./.",
    "~",
    "~/",
    "~/.",
    "$HOME",
    "${HOME}",
    "$HOME/",
    "$HOME/..",
    "$PWD",
    "${PWD}/..",
    "*",
    ".*",
    "/*",
    "./*",
    "./.*",
    "~/*",
    "?",
    "[a-z]*",
    "\uff0f",
    "\uff0f\uff0f",
    "/\u200b",
    "\u200b/",
    " /",
    "/ ",
    "\u2215",
    "\u2044",
    "\uff0e\uff0e",
    "\uff5e",
    "\u223c",
    "/etc",
    "/usr",
    "//usr/",
    "/home",
    "/tmp",
    "~root",
    "/\t",
    "/\x00",
    "\x00/",
]

# Values that must come out refused or as one inert word each.
INJECTIONS = [
    "$(reboot)",
    "`reboot`",
    "x;reboot",
    "x && reboot",
    "x|reboot",
    "x\nreboot",
    "x\rreboot",
    "x\x00y",
    "$IFS",
    "${IFS}reboot",
    "!!",
    "!-1",
    "{a,b}",
    "a b",
    "'",
    '"',
    "\\",
    "it's",
    "-rf",
    "--no-preserve-root",
    "-",
    "--",
    "=reboot",
    "#comment",
    "a>b",
    "<x",
    "x&",
    "\u202erm",
    "\u2028",
    "\u00a0x",
    "\x1b[2Jx",
    "r\u0435boot",
    "\uff52\uff4d",
    "..x",
    "x/../..",
    "%s%n",
    "$'\\x41'",
    "\\$(reboot)",
    "'$(reboot)'",
]


def _cases():
    cases = [("rm", {"file_name": v}, True) for v in MUST_REFUSE_RM]
    for v in INJECTIONS:
        cases += [
            ("rm", {"file_name": v}, False),
            ("cat", {"file_name": v}, False),
            ("cd", {"folder": v}, False),
            ("echo", {"content": v}, False),
            *([("echo", {"content": "hi", "file_name": v}, False)] if "/" not in v else []),
            ("mv", {"source": "notes.txt", "destination": v}, False),
            ("grep", {"pattern": v, "file_name": "notes.txt"}, False),
        ]
    cases += [
        ("mv", {"source": "~", "destination": "x"}, True),
        ("mv", {"source": "..", "destination": "x"}, True),
        ("mv", {"source": "/", "destination": "x"}, True),
        ("echo", {"content": "x", "file_name": "/dev/tcp/127.0.0.1/9"}, True),
        ("rm -rf /", {}, True),
        ("rm; reboot", {"file_name": "x"}, True),
        ("\uff52\uff4d", {"file_name": "x"}, True),
        ("rm\u200b", {"file_name": "x"}, True),
        ("bash", {"command": "reboot"}, True),
        ("rm", {"file_name": ["/"]}, True),
        ("rm", {"file_name": "x", "recursive": True}, True),
        ("rm", {}, True),
        ("tail", {"file_name": "x", "lines": "5; reboot"}, True),
        ("tail", {"file_name": "x", "lines": -1}, True),
        ("wc", {"file_name": "x", "mode": "l -c /etc/shadow"}, True),
        ("ls", {"a": "yes; reboot"}, True),
    ]
    return cases


def _expected(tool, args):
    """argv and redirect target the tools.md table promises for a call (allow_recursive off)."""
    if tool == "echo":
        target = args.get("file_name", "None")
        content = args["content"]
        # Content echo would read as options or escapes is written by printf.
        literal = ["printf", "%s\\n"] if content.startswith("-") or "\\" in content else ["echo"]
        return literal + [content], None if target == "None" else target
    operands = {
        "rm": ["file_name"],
        "cat": ["file_name"],
        "cd": ["folder"],
        "mv": ["source", "destination"],
        "grep": ["pattern", "file_name"],
    }[tool]
    ops = [args[k] for k in operands]
    # An operand that looks like an option has to stay an operand.
    options = ["-F"] if tool == "grep" else []  # grep matches the pattern literally
    return [tool] + options + (["--"] if any(o.startswith("-") for o in ops) else []) + ops, None


BASH = shutil.which("bash") or "/bin/bash"


class Bash:
    """Runs a command line with its command word replaced by printf, to see the argv bash builds."""

    def __init__(self, root):
        self.root = root
        self.bin = os.path.join(root, "bin")
        self.canary = os.path.join(root, "canary")
        os.makedirs(self.bin)
        for name in ("reboot", "rm", "cat", "mv", "grep", "echo", "printf", "cd", "x", "b", "a"):
            path = os.path.join(self.bin, name)
            with open(path, "w") as fh:
                fh.write(f'#!/bin/sh\necho {name} "$@" >> {self.canary}\n')
            os.chmod(path, 0o755)
        self.n = 0

    def argv(self, command, tool):
        assert command == tool or command.startswith(tool + " "), command
        self.n += 1
        work = os.path.join(self.root, f"w{self.n}")
        os.makedirs(work)
        for bait in ("a", "b", ".hidden", "reboot"):  # a glob that expanded would pick these up
            open(os.path.join(work, bait), "w").close()
        script = "printf '%s\\0' " + command[len(tool) :]
        if os.path.exists(self.canary):
            os.remove(self.canary)
        syntax = subprocess.run([BASH, "-n", "-c", script], capture_output=True)
        assert syntax.returncode == 0, (command, syntax.stderr)
        run = subprocess.run(
            [BASH, "--norc", "--noprofile", "-c", script],
            capture_output=True,
            cwd=work,
            env={"PATH": self.bin, "HOME": os.path.join(self.root, "home"), "IFS": " \t\n"},
            timeout=10,
        )
        assert run.returncode == 0, (command, run.stderr)
        assert not os.path.exists(self.canary), (command, open(self.canary).read())
        made = sorted(set(os.listdir(work)) - {"a", "b", ".hidden", "reboot"})
        out = run.stdout
        if made:  # the line redirected printf's output into a file
            assert len(made) == 1 and not out, (command, made)
            with open(os.path.join(work, made[0]), "rb") as fh:
                out = fh.read()
        words = [w.decode("utf-8", "surrogateescape") for w in out.split(b"\0")[:-1]]
        return [tool] + words, (made[0] if made else None)


def test_hostile_model_answers_never_reach_the_prompt_unsafe(daemon_env, fake, tmp_path):
    cwd = tmp_path / "home" / "me" / "project"
    cwd.mkdir(parents=True)
    (cwd / "notes.txt").write_text("hello\n")
    bash = Bash(tempfile.mkdtemp(prefix="spb-", dir=str(tmp_path)))
    seen = {}
    refused_kinds = set()
    with fake_shells(1) as (shell,):
        for shape in SHAPES:
            fake.shape = shape
            for tool, args, must_refuse in _cases():
                fake.default(tool, args)
                reply = translate(shell, "do something", str(cwd))
                what = (shape, tool, args)
                if not reply["ok"]:
                    assert reply["kind"] in ("refused", "answer"), (what, reply)
                    assert one_line(reply["error"]), (what, reply)
                    refused_kinds.add(reply["kind"])
                    continue
                assert not must_refuse, (what, reply["command"])
                assert reply["call"]["name"] == tool, (what, reply)
                for w in reply["warnings"]:
                    assert one_line(w), (what, w)
                if reply["command"] not in seen:
                    word = reply["command"].split(" ", 1)[0]
                    assert word == tool or (tool == "echo" and word == "printf"), reply["command"]
                    seen[reply["command"]] = bash.argv(reply["command"], word)
                assert seen[reply["command"]] == _expected(tool, args), (what, reply["command"])
        assert history(shell)["exchanges"] == []  # suggestions only; nothing ran
    assert refused_kinds == {"refused", "answer"}
    assert len(seen) > 100  # most injections were passed on, as inert words


# ---------------------------------------------------------------- hostile clients (one daemon)


@pytest.fixture(scope="module")
def hostile():
    """ONE daemon for every fuzz test of this module, in its own private dirs."""
    root = tempfile.mkdtemp(prefix="spf-")
    with pytest.MonkeyPatch.context() as mp, FakeOllama() as fake:
        for key in [k for k in os.environ if k.startswith("SHELLPER_")]:
            mp.delenv(key)
        for name in ("home", "run", "state", "config", "data"):
            os.makedirs(os.path.join(root, name), mode=0o700)
        mp.setenv("HOME", os.path.join(root, "home"))
        mp.setenv("XDG_RUNTIME_DIR", os.path.join(root, "run"))
        mp.setenv("XDG_STATE_HOME", os.path.join(root, "state"))
        mp.setenv("XDG_CONFIG_HOME", os.path.join(root, "config"))
        mp.setenv("XDG_DATA_HOME", os.path.join(root, "data"))
        mp.setenv("SHELLPER_BASE_URL", fake.base_url)
        mp.setenv("SHELLPER_TIMEOUT", "5")
        fake.default("cat", {"file_name": "notes.txt"})
        with fake_shells(1) as (shell,):
            pid = client.request({"op": "ping"})["pid"]
            yield {"pid": pid, "shell": shell, "dead": _dead_pid()}
            stop_daemon()
    shutil.rmtree(root, ignore_errors=True)


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def exchange(payload: bytes, timeout=15.0) -> bytes:
    """Send raw bytes and return all the daemon answers.

    A payload that holds no whole request is ended by closing our sending
    side; one that does is not, since the daemon reads the end of a translate
    request's connection as the user pressing Ctrl-C.
    """
    return raw_exchange(payload, timeout, close_write=protocol.request_end(payload) is None)


NUL_KINDS = (b"ok", b"error", b"same", b"changed")


def check_reply(raw: bytes, nul_ok: bool = False):
    """One answer, well formed; returns it decoded (a dict, or the NUL fields).
    nul_ok: the request did not ask for JSON (reply=json), so its answer may be NUL
    fields (a translate's or check's, or any error)."""
    assert raw, "no reply at all"
    if nul_ok and raw.split(b"\0", 1)[0] in NUL_KINDS and b"\0" in raw:
        fields = raw.split(b"\0")
        assert len(fields) == 4 and fields[3] == b"", raw[:200]
        if fields[0] == b"error":
            assert fields[1].decode() in USER_KINDS, raw[:200]
            assert one_line(fields[2].decode()), raw[:200]
        elif fields[0] in (b"same", b"changed"):
            assert fields[1] == b"", raw[:200]
        return fields
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw[:200]
    reply = json.loads(raw)
    assert isinstance(reply, dict) and reply.get("v") == 1 and isinstance(reply.get("ok"), bool), reply
    if not reply["ok"]:
        assert reply["kind"] in USER_KINDS, reply
        assert one_line(reply["error"]), reply
    return reply


def refusal(reply) -> tuple | None:
    """(kind, message) of an error reply in either form; None for an answer."""
    if isinstance(reply, dict):
        return None if reply["ok"] else (reply["kind"], reply["error"])
    return (reply[1].decode(), reply[2].decode()) if reply[0] == b"error" else None


def answer(payload: bytes):
    """The daemon's checked answer to payload, in the form the request asked for
    (in its named fields, before its end: what follows is never read)."""
    named = payload[: protocol.request_end(payload)].split(b"\0")[5:-1]  # whole fields only
    return check_reply(exchange(payload), nul_ok=b"reply=json" not in named)


def assert_unharmed(h):
    reply = client.request({"op": "ping"}, autostart=False, timeout=10)
    assert reply["ok"] and reply["pid"] == h["pid"], "the daemon died or was replaced"
    with open(paths.log_file(), encoding="utf-8", errors="replace") as fh:
        log = fh.read()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
SAFE_OPS = [op for op in protocol.OPS if op != "stop"]  # "stop" is a legitimate way to end it
SESSION_OPS = ("translate", "check", "executed", "commit", "history", "reset", "closed")
# What a refusal of a request the daemon cannot read names: the part that is off.
BAD_REQUEST_WORDS = ("NUL-separated", "operation", "shell", "PID", "folder", "field", "UTF-8", "empty", "larger")

terminal_env = st.dictionaries(
    st.sampled_from(["SHELLPER_MODEL", "SHELLPER_TIMEOUT", "SHELLPER_API_KEY", "HOME", "XDG_CONFIG_HOME", "CDPATH", "LANG", "_X"]),
    st.text(max_size=30),
    max_size=4,
)


@st.composite
def requests(draw, h):
    """Requests the way a shell or the CLI builds them (dicts for protocol.encode_request), valid or nearly so."""
    # Mostly the operations that reach the store and the model, for a live shell.
    op = draw(st.sampled_from(["translate"] * 6 + ["executed"] * 3 + ["check"] * 2 + SAFE_OPS))
    req = {"op": op}
    session = st.sampled_from([h["shell"]] * 6 + [h["dead"], 1, 2**31 - 1])
    if op in SESSION_OPS:
        req["session"] = draw(session)
    if op in ("translate", "check"):
        req["cwd"] = draw(st.sampled_from(["/", "/tmp", "relative", "/no/such/dir", ""]))
        req["shell"] = draw(st.sampled_from(["", "bash", "zsh", "fish"]))
    if op == "translate":
        req["text"] = draw(st.text(min_size=1, max_size=80))
        if draw(st.booleans()):
            req["commit"] = True
    if op in ("check", "executed"):
        req["command"] = draw(st.text(max_size=80))
    if op == "executed":
        req["status"] = draw(st.integers(min_value=-(2**64), max_value=2**64))
    if op == "reset" and draw(st.booleans()):
        req["all"] = True
    if op == "export" and draw(st.booleans()):
        req["since"] = draw(st.sampled_from(["2026-01-01", "1970-01-01", "0001-01-01", "tomorrow", "", "9999-12-31"]))
    if draw(st.booleans()):
        req["reply"] = "json"
    if draw(st.booleans()):
        req["env"] = draw(terminal_env)
    return req


def test_fuzz_random_bytes(hostile):
    @FUZZ
    @given(st.binary(min_size=1, max_size=3000), st.sampled_from([b"", b"\0", b"\0\0", b"\0" * 6]))
    def run(payload, end):
        answer(payload + end)

    run()
    assert_unharmed(hostile)


def test_fuzz_truncated_and_spliced_requests(hostile):
    @FUZZ
    @given(requests(hostile), st.data())
    def run(req, data):
        whole = protocol.encode_request(req)
        cut = data.draw(st.integers(min_value=1, max_value=len(whole) - 1))
        junk = data.draw(st.sampled_from([b"", b"\0", b"\0\0", b"=", b"\xff", b"\xc3", b"reply=json\0\0", b"ping\0\0\0\0\0\0", b"\n"]))
        answer(whole[:cut] + junk)

    run()
    assert_unharmed(hostile)


FIELD_VALUES = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"",
            b"=",
            b"==",
            b"x=",
            b"=x",
            b"status=",
            b"status=x",
            b"status=-",
            b"status=--1",
            b"status=" + b"9" * 1000,
            b"status=1e9999",
            b"status= 1",
            b"all=yes",
            b"commit=2",
            b"pipes=1",
            b"reply=nul",
            b"reply=",
            b"id=",
            b"id=a b",
            b"id=" + b"x" * 65,
            b"since=tomorrow",
            b"since=\xff",
            b"\xff",
            b"\xc3",
            b"\xed\xa0\x80",  # a lone surrogate, as CESU-8
            b"-1",
            b"0",
            b"2147483649",
            b"4294967297",
            b"1e9",
            b" 1",
            b"\xef\xbb\xbfping",
            b"PING",
            b"ping ",
            b"SHELLPER_MODEL=\xff",
            b"SHELLPER_TIMEOUT=-1",
            b"HOME=",
            b"HOME=relative",
            b"XDG_CONFIG_HOME=/\xff",
            b"CDPATH=\xff:/tmp",
            b"a-b=1",
            b"_=1",
            b"\t",
            b"\n",
        ]
    ),
)


def test_fuzz_every_field_with_every_wrong_value(hostile):
    """Each field of a request (or one more) replaced by a value no shell sends."""

    @FUZZ
    @given(requests(hostile), st.data(), FIELD_VALUES)
    def run(req, data, value):
        parts = protocol.encode_request(req)[:-2].split(b"\0")
        where = data.draw(st.integers(min_value=0, max_value=len(parts)))  # len(parts): one added
        value = value.replace(b"\0", b"")
        if where == len(parts):
            parts.append(value)
        else:
            parts[where] = value
        if parts[0] == b"stop":
            return
        payload = b"".join(p + b"\0" for p in parts) + b"\0"
        got = refusal(answer(payload))
        if got and got[0] == "bad_request":
            assert any(word in got[1] for word in BAD_REQUEST_WORDS), (payload[:120], got)

    run()
    assert_unharmed(hostile)


def _with(req: dict, field: str, text: str) -> bytes:
    """req in the wire form with one field's value as text's UTF-8 bytes, lone surrogates
    and all (as a shell with another encoding sends them; NULs go, as the shells drop them)."""
    mark = "\x01MARK\x01"
    return protocol.encode_request({**req, field: mark}).replace(mark.encode(), text.replace("\0", "").encode("utf-8", "surrogatepass"))


def test_fuzz_valid_requests_with_hostile_text(hostile):
    @FUZZ
    @given(requests(hostile), st.text(alphabet=st.characters(codec=None), min_size=1, max_size=300), st.data())
    def run(req, text, data):
        keys = [k for k in ("text", "command", "cwd") if k in req]
        if req["op"] == "executed" and req.get("session") == hostile["shell"]:
            # A suggestion on the prompt first, so the hostile line is settled against it.
            before = {"op": "translate", "session": hostile["shell"], "cwd": "/tmp", "text": "show notes"}
            assert answer(protocol.encode_request(before))[0] == b"ok"
        payload = _with(req, data.draw(st.sampled_from(keys)), text) if keys else protocol.encode_request(req)
        answer(payload)

    run()
    assert_unharmed(hostile)


def test_huge_requests_and_odd_framing(hostile):
    shell = hostile["shell"]
    limit = protocol.MAX_REQUEST

    def translate_req(text: str, *named) -> bytes:
        return fields("translate", str(shell), "", "/tmp", text, *named)

    ping = fields("ping", "", "", "", "", "reply=json")
    cases = [
        # (payload, what must come back: "ok", "bad" request, "larger" than allowed)
        (translate_req("x" * (limit - 100)), "ok"),  # just fits
        (translate_req("x" * (limit + 10)), "larger"),  # just does not
        (translate_req("\u00e9" * (limit // 2 + 100)), "larger"),
        (b"x" * (4 * limit), "larger"),  # not a single NUL
        (b"\0" * (4 * limit), "bad"),  # nothing but NULs: an empty operation
        (fields("ping", "", "", "", "", *["A=1"] * 100_000), "larger"),  # 100k fields
        (fields("ping", "", "", "", "", *[f"A{i}=1" for i in range(6000)], "reply=json"), "ok"),  # many that fit
        (fields("ping", "", "", "", "", "A" * (limit - 100) + "=1", "reply=json"), "ok"),  # one long name
        (translate_req("show notes").replace(b"show notes", b"show\xc0notes"), "bad"),  # not UTF-8
        (ping[:-1], "bad"),  # no end: the client hangs up after its last field
        (ping[:-2], "bad"),
        (b"ping", "bad"),
        (ping + fields("stop", "", "", "", "", "reply=json"), "ok"),  # a second request is never read
        (ping + b"\xff" * 1000, "ok"),  # nor bytes after the end
        (ping + b"\0" * 1000, "ok"),
        (b"\xef\xbb\xbf" + ping, "bad"),  # a byte-order mark
        (b"PING" + ping[4:], "bad"),
        (fields("ping", "", "", "", "", "reply=json", "noequals"), "bad"),  # a field without '='
        (fields("ping", "", "", "", "", "reply=json", "=1"), "bad"),
        (fields("ping", "", "", "", "", "reply=json", "v=1"), "bad"),  # an unknown lower-case field
        (fields("ping", "", "", "", "", "reply=json", "SHELLPER_MODEL=\udcff"), "ok"),  # the environment as bytes
        (fields("history", "1e3", "", "", "", "reply=json"), "bad"),
        (fields("history", "9" * 4000, "", "", "", "reply=json"), "bad"),
        (fields("executed", str(shell), "", "-", "x", "status=1e9999", "reply=json"), "bad"),
        (fields("executed", str(shell), "", "-", "x", "status=-", "reply=json"), "bad"),
        (b"\n", "bad"),
        (b"\0\n", "bad"),
    ]
    for payload, want in cases:
        reply = answer(payload)
        got = refusal(reply)
        if want == "ok":
            assert got is None, (payload[:60], got)
        else:
            assert got and got[0] == "bad_request", (payload[:60], reply)
            assert ("larger" in got[1]) == (want == "larger"), (payload[:60], got)
    # A NUL in a shell's text cannot split its fields: the shells and encode_request drop it.
    req = {"op": "translate", "session": shell, "cwd": "/tmp", "text": "show\0 notes"}
    assert answer(protocol.encode_request(req))[:2] == [b"ok", b"cat notes.txt"]
    assert_unharmed(hostile)


@pytest.mark.parametrize(
    "named, pid",
    [
        ("status=" + "9" * 5000, None),  # more digits than int() reads (sys.get_int_max_str_digits)
        ("status=\u00b2", None),  # a digit to str.isdigit, not to int()
        ("status=-\u0662\u00b9", None),
        ("reply=json", "9" * 5000),  # a PID of more digits than int() reads
    ],
    ids=["status-5000-digits", "status-superscript", "status-mixed-digits", "pid-5000-digits"],
)
def test_numbers_python_cannot_read_are_refused_not_dropped(daemon_env, named, pid):
    """Each gets a bad_request reply, like any field that is off, and nothing in the log.
    (Its own daemon: a failure here must not spoil the log the hostile tests read.)"""
    with fake_shells(1) as (shell,):
        h = {"pid": client.request({"op": "ping"})["pid"]}
        payload = fields("executed", pid or str(shell), "", "-", "x", named)
        raw = exchange(payload)
        got = refusal(check_reply(raw, nul_ok=True))
        assert got and got[0] == "bad_request" and ("PID" in got[1] or "status" in got[1]), raw
        assert_unharmed(h)


@pytest.mark.parametrize("field", ["text", "cwd"])
def test_a_request_whose_text_reads_reply_json_still_gets_nul_fields(hostile, field):
    """Only a named field asks for JSON: a shell's text (or folder) "reply=json" does not,
    and a shell reading NUL fields must get them, an error included."""
    req = {"op": "translate", "session": hostile["shell"], "shell": "csh", "cwd": "/tmp", "text": "show notes", field: "reply=json"}
    raw = exchange(protocol.encode_request(req))
    assert raw.startswith(b"error\0bad_request\0"), raw


def test_lone_surrogates_in_the_request_are_not_blamed_on_the_server(hostile):
    # What a shell sends for a lone surrogate: its CESU-8 bytes, not UTF-8.
    req = {"op": "translate", "session": hostile["shell"], "cwd": "/tmp", "text": "x", "reply": "json"}
    payload = _with(req, "text", "show \ud800 notes")
    assert b"\xed\xa0\x80" in payload
    reply = check_reply(exchange(payload))
    assert reply["ok"] is False and reply["kind"] == "bad_request" and "UTF-8" in reply["error"], reply
    assert "Ollama" not in reply["error"]
    # In the terminal's environment (a home folder in another encoding) they are bytes, as the shell has them.
    env = {"op": "translate", "session": hostile["shell"], "cwd": "/tmp", "text": "show notes", "reply": "json"}
    reply = check_reply(exchange(fields(*protocol.encode_request(env)[:-2].split(b"\0"), b"HOME=/home/\xed\xa0\x80")))
    assert reply["ok"] and reply["command"] == "cat notes.txt", reply


def test_many_concurrent_hostile_connections(hostile):
    """Half-open, silent and garbage connections at once do not stall honest clients."""
    silent = []
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(paths.socket_path())
        s.sendall(b"ping\0\0\0")  # never finishes its request
        silent.append(s)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda i: exchange(os.urandom(200) + b"\0\0"), range(40)))
        for raw in replies:
            check_reply(raw, nul_ok=True)
        reply = client.request({"op": "ping"}, autostart=False, timeout=10)
        assert reply["ok"] and time.monotonic() - started < 5
    finally:
        for s in silent:
            s.close()
    assert_unharmed(hostile)
