"""Secrets: what a user types never shows in another process's argv or
environment, and a line run after a suggestion is stored only when it is a
tool call the user's own shell history would keep.

Driven in real bash and zsh (tmux), talking to a real daemon and a fake
model server, as in test_shell_bash.py / test_shell_zsh.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from daemon_helpers import fake_shell, fields, wait_until, wire
from shellharness import ShellEnv, have, last_user_text, translate

from shellper_hook import client

needs_shells = pytest.mark.skipif(not (have("bash") and have("zsh") and have("tmux")), reason="needs bash, zsh and tmux")


# The real-shell tests use the shell fixture plugin (tests/shell_fixtures.py):
# `ollama` (reset for each test), `tmux` and `shell_env` (one daemon per module).


def _secret() -> str:
    return "s3cr3t" + uuid.uuid4().hex


def _exposed(needles: dict) -> set:
    """(pid, file, name, argv) for each process whose argv (readable by every
    local user) or environment holds one of `needles` ({name: (text, files)})."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        for name, (text, files) in needles.items():
            for what in files:
                try:
                    with open(f"/proc/{entry}/{what}", "rb") as fh:
                        data = fh.read()
                except OSError:  # gone, or another user's environment
                    continue
                if text.encode() in data:
                    try:
                        cmd = open(f"/proc/{entry}/cmdline", "rb").read()[:200]
                    except OSError:
                        cmd = b"?"
                    found.add((int(entry), what, name, cmd))
    return found


def _watch(needles: dict, seconds: float) -> set:
    """Scan every process again and again for `seconds`."""
    found: set = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found |= _exposed(needles)
        time.sleep(0.02)
    return found


def _slow_python(work: str) -> str:
    """A python that waits 2 s before running a report, so it can be watched."""
    path = os.path.join(work, "slowpy")
    with open(path, "w") as fh:
        fh.write(
            '#!/bin/sh\nf=$(mktemp); cat > "$f"\n'  # the request on stdin: its op comes first
            'case $(head -c 8 "$f") in executed) sleep 2;; esac\n'
            f'exec 3< "$f"; rm -f "$f"; exec {sys.executable} "$@" <&3 3<&-\n'
        )
    os.chmod(path, 0o755)
    return path


def _stored_bytes(env: ShellEnv) -> bytes:
    """Everything in the daemon's state directory (the store, its WAL, the log)."""
    root = os.path.join(env.env["XDG_STATE_HOME"], "shellper")
    data = b""
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                data += fh.read()
    return data


def _start(env, tmux, shell, work, before="", after=""):
    if shell == "bash":
        return env.bash(tmux, cwd=work, before=before, after=after)
    return env.zsh(tmux, cwd=work, before=before, after=after)


# -- (b) no user text in argv or the environment ---------------------------------


@needs_shells
@pytest.mark.parametrize("shell", ["bash", "zsh-no-daemon-socket"])
def test_the_request_and_cwd_never_show_in_any_process(shell_env, tmux, ollama, shell):
    """bash always, and zsh when it cannot reach the daemon itself, start the
    client: the request and the cwd must not be in its argv or environment."""
    request, cwd_secret = _secret(), _secret()
    work = shell_env.workdir(f"x-{cwd_secret}")
    ollama.answer(request, "ls", {})
    # zsh with no socket path is zsh with the daemon out of reach: only the client.
    pane = _start(shell_env, tmux, shell.split("-")[0], work, after="__shellper_socket=" if shell != "bash" else "")
    ollama.delay = 2.5  # the client waits for the answer meanwhile
    asked = len(ollama.requests)
    translate(pane, f"list files {request}")
    wait_until(lambda: len(ollama.requests) > asked, timeout=15)
    seen = _watch(
        {
            "request": (request, ("cmdline", "environ")),
            # Every shell exports PWD to what it starts; argv is what all users can read.
            "cwd": (cwd_secret, ("cmdline",)),
        },
        1.5,
    )
    pane.wait_line("ls", timeout=20)
    assert request in last_user_text(ollama)  # it did reach the model
    assert seen == set()


@needs_shells
def test_bash_starts_nothing_with_the_request_in_its_environment(shell_env, tmux, ollama):
    """bind -x exports READLINE_LINE (the request) to whatever the key's function
    starts: stty, to take and give back the terminal's modes, must not get it,
    on the first request (the client) nor on later ones (the pipes)."""
    import shutil

    work = shell_env.workdir("stty-env")
    log = os.path.join(work, "stty.env")
    shim = os.path.join(work, "bin")
    os.makedirs(shim)
    with open(os.path.join(shim, "stty"), "w") as fh:
        fh.write(f'#!/bin/sh\nenv >> {log}\necho --- >> {log}\nexec {shutil.which("stty")} "$@"\n')
    os.chmod(os.path.join(shim, "stty"), 0o755)
    request = _secret()
    ollama.answer(request, "ls", {})
    pane = shell_env.bash(tmux, cwd=work, after=f"PATH={shim}:$PATH")
    for _ in range(2):
        translate(pane, f"list files {request}")
        pane.wait_line("ls", timeout=20)
        pane.send("C-u")
        pane.wait_line("")
    with open(log) as fh:
        seen = fh.read()
    assert seen.count("---") >= 6  # two each time: save and set, then give back
    assert request not in seen and "READLINE_LINE" not in seen


@needs_shells
@pytest.mark.parametrize("shell", ["bash", "zsh-no-daemon-socket"])
def test_the_line_run_after_a_suggestion_never_shows_in_any_process(shell_env, tmux, ollama, shell):
    request, line_secret = f"list it {uuid.uuid4().hex}", _secret()
    work = shell_env.workdir("r-" + shell)
    ollama.answer(request, "ls", {})
    after = f"__shellper_python={_slow_python(work)}" + ("; __shellper_socket=" if shell != "bash" else "")
    pane = _start(shell_env, tmux, shell.split("-")[0], work, after=after)
    translate(pane, request)
    pane.wait_line("ls", timeout=20)
    pane.send("C-u")
    pane.mark()
    # Not exported: an exported secret is in everything the shell starts, by the user's choice.
    pane.type(f"VAULT_TOKEN={line_secret}")
    pane.send("Enter")
    seen = _watch({"line": (line_secret, ("cmdline", "environ"))}, 1.5)  # the report is on its way
    pane.wait_prompt()
    assert seen == set()
    hist = shell_env.history(pane.pid, settled=True, timeout=10)
    assert hist["pending"] is None and hist["exchanges"] == []  # the report arrived, nothing kept
    assert line_secret.encode() not in _stored_bytes(shell_env)


def _client(stdin: bytes, args: tuple = (), timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shellper_hook.client", *args], input=stdin, capture_output=True, timeout=timeout)


def test_the_client_reads_the_request_from_stdin_and_takes_no_arguments(daemon_env, fake, tmp_path):
    fake.answer("show hidden", "ls", {"a": True})
    fake.answer("print notes", "cat", {"file_name": "notes.txt"})
    cwd = str(tmp_path / "with\nnewline and 'quote'")
    os.mkdir(cwd)
    open(os.path.join(cwd, "notes.txt"), "w").close()
    with fake_shell() as shell:
        r = _client(wire({"op": "translate", "session": shell, "cwd": cwd, "text": "show hidden\nfiles"}))
        assert (r.returncode, r.stdout) == (0, b"ok\0ls -a\0reads: lists this folder, hidden names too\0")
        assert fake.requests[-1]["messages"][-1]["content"] == "show hidden\nfiles"
        r = _client(wire({"op": "executed", "session": shell, "command": "ls -a", "status": 3}))
        assert (r.returncode, r.stdout) == (0, b"")
        h = client.request({"op": "history", "session": shell})
        assert [(e["command"], e["status"]) for e in h["exchanges"]] == [("ls -a", 3)]
        # The old argv forms (text or cwd as arguments, where any user can read them) are gone.
        asked = len(fake.requests)
        for args in (("translate", str(shell), cwd, "print notes"), ("translate", str(shell)), ("executed", str(shell), "0", "ls")):
            r = _client(wire({"op": "translate", "session": shell, "cwd": cwd, "text": "print notes"}), args)
            assert r.returncode == 2 and r.stdout == b"" and b"stdin" in r.stderr, (args, r)
        assert len(fake.requests) == asked
        assert _client(b"").returncode == 0  # a shell asking whether the client runs at all
        h = client.request({"op": "history", "session": shell})
        assert [e["command"] for e in h["exchanges"]] == ["ls -a"]


@pytest.mark.parametrize("cut", [b"translate", b"translate\0{pid}\0\0/tmp\0show hidden", b"translate\0{pid}\0\0/tmp\0show hidden\0"])
def test_a_message_cut_short_asks_nothing(daemon_env, fake, cut):
    with fake_shell() as shell:
        asked = len(fake.requests)
        r = _client(cut.replace(b"{pid}", str(shell).encode()))
        assert r.returncode == 1 and r.stdout.startswith(b"error\0") and r.stdout.endswith(b"\0"), r
        assert len(fake.requests) == asked
        # Bytes after a whole request: not what a shell sends either.
        r = _client(wire({"op": "translate", "session": shell, "cwd": "/tmp", "text": "show hidden"}) + b"x\0\0")
        assert r.returncode == 1 and r.stdout.startswith(b"error\0"), r
        assert len(fake.requests) == asked
        client.request({"op": "translate", "session": shell, "cwd": "/tmp", "text": "show hidden"})
        executed = wire({"op": "executed", "session": shell, "command": "ls -a", "status": 0})
        assert _client(executed[:-1]).returncode == 1  # no empty field to end it
        assert client.request({"op": "history", "session": shell})["pending"] is not None  # not settled


def test_request_text_that_is_not_utf8_is_refused_before_the_model(daemon_env, fake):
    with fake_shell() as shell:
        asked = len(fake.requests)
        r = _client(fields("translate", str(shell), "", "/tmp", b"bad \xff bytes"))
        assert r.returncode == 1 and r.stdout.startswith(b"error\0bad_request\0") and b"UTF-8" in r.stdout, r
        r = _client(fields("translate", str(shell), "", b"/tmp/\xff", b"show hidden"))
        assert r.returncode == 1 and r.stdout.startswith(b"error\0bad_request\0") and b"UTF-8" in r.stdout, r
        assert len(fake.requests) == asked


# -- (a) lines the user's history drops are never stored ----------------------------

# (shell, rc lines before shellper, rc lines after it, the line run, stored?)
HIST_CASES = {
    "bash-ignorespace": ("bash", "HISTCONTROL=ignorespace", "", " ls -a", False),
    "bash-ignoreboth": ("bash", "HISTCONTROL=erasedups:ignoreboth", "", " ls -a", False),
    "bash-histignore": ("bash", "HISTIGNORE='pwd:ls *'", "", "ls -a", False),
    "bash-plain": ("bash", "", "", " ls -a", True),
    "zsh-histignorespace": ("zsh", "setopt histignorespace", "", " ls -a", False),
    "zsh-histignorespace-client": ("zsh", "setopt histignorespace", "__shellper_socket=", " ls -a", False),
    "zsh-history-ignore": ("zsh", "HISTORY_IGNORE='(pwd|ls *)'", "", "ls -a", False),
    "zsh-plain": ("zsh", "", "", " ls -a", True),
}


@needs_shells
@pytest.mark.parametrize("case", list(HIST_CASES))
def test_a_line_the_shell_history_drops_is_never_stored(shell_env, tmux, ollama, case):
    shell, before, after, line, stored = HIST_CASES[case]
    request = f"list the files {uuid.uuid4().hex}"
    ollama.answer(request, "ls", {})
    work = shell_env.workdir("h-" + case)
    pane = _start(shell_env, tmux, shell, work, before=before, after=after)
    translate(pane, request)
    pane.wait_line("ls", timeout=20)
    pane.send("C-u")
    pane.run(line)  # an edit of the suggestion (ls -> ls -a): learned, unless hidden
    hist = shell_env.history(pane.pid, settled=True, timeout=10)
    assert hist["pending"] is None  # the suggestion was settled either way
    exported = shell_env.shellper("export")
    assert exported.returncode == 0, exported.stderr
    rows = [r for r in map(json.loads, exported.stdout.splitlines()) if request in json.dumps(r)]
    if stored:
        assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [(request, "ls -a", True)]
        assert len(rows) == 1
    else:
        assert hist["exchanges"] == [] and rows == []
