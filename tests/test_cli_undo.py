"""`shellper undo` on the command line, without the daemon: the list of a terminal's changes,
the command that takes one back (run here in a real shell, byte for byte), what it says when the
files changed since, --forget and --help. The changes are kept for real (UndoStore.keep, the
command run in bash, UndoStore.finish), as Enter on a suggestion keeps them."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess

import pytest
from daemon_helpers import fake_shell, shellper

from shellper_hook import paths, store, turns, undo
from shellper_hook.tools import ToolCall
from shellper_hook.undo_store import UndoStore

ENTRY = re.compile(r"^ +(\d+)  just now +(.+?)(?:   \((.*)\))?$")


class Terminal:
    """One shell (a live PID) whose suggestions run in `work`, with what they destroy kept."""

    def __init__(self, pid: int, work: str):
        self.pid, self.work = pid, work
        self.key = store.session_key(pid)
        self.store = UndoStore(paths.undo_dir())

    def run(self, tool: str, args: dict) -> tuple:
        """Enter on the suggestion for this call: (change number, its command)."""
        limits = undo.Limits(7, 1 << 30, self.store.root)
        verdict = turns.vet(ToolCall(tool, args), self.work, True, None, "bash", "", limits)
        assert verdict.effect.endswith("; undo: yes"), verdict.effect
        number = self.store.keep(self.key, verdict.command, "bash", self.work, verdict.undo, limits)
        subprocess.run(["bash", "-c", verdict.command], cwd=self.work, check=True)
        assert self.store.finish(number, True) == "done"
        return number, verdict.command

    def undo(self, *args, env=None):
        return shellper("undo", *args, "--session", str(self.pid), cwd=self.work, env=env)


def put(work: str, name: str, data: bytes, mode: int = 0o644, mtime: int = 1_700_000_000) -> str:
    path = os.path.join(work, name)
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)
    os.utime(path, ns=(mtime * 10**9 + 123, mtime * 10**9 + 456_789))
    return path


def state(path: str) -> tuple:
    """What a user would call the file being back: its bytes, mode and modification time."""
    st = os.lstat(path)
    with open(path, "rb") as fh:
        return fh.read(), stat.S_IMODE(st.st_mode), st.st_mtime_ns


def entries(out: str) -> list:
    """(number, command, note in brackets) of each change `undo --list` shows, in its order."""
    return [(int(m.group(1)), m.group(2), m.group(3)) for m in map(ENTRY.match, out.splitlines()) if m]


@pytest.fixture
def work(shellper_env):
    folder = os.path.join(os.path.dirname(shellper_env["HOME"]), "work")
    os.mkdir(folder)
    return folder


@pytest.fixture
def term(work):
    with fake_shell() as pid:
        yield Terminal(pid, work)


@pytest.fixture
def other(work):
    with fake_shell() as pid:
        yield Terminal(pid, work)


def test_the_list_shows_this_terminals_changes_newest_first_with_their_commands(term, other, work):
    put(work, "a.txt", b"alpha\n")
    put(work, "b.txt", b"bravo\n")
    put(work, "log.txt", b"one\n")
    made = [term.run("rm", {"file_name": "a.txt"}), term.run("echo", {"content": "two", "file_name": "log.txt"})]
    made.append(term.run("mkdir", {"dir_name": "newdir"}))
    theirs = other.run("rm", {"file_name": "b.txt"})

    r = term.undo("--list")
    assert r.returncode == 0, r.stderr
    assert entries(r.stdout) == [(n, c, None) for n, c in reversed(made)], r.stdout
    said = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("restores: ")]
    assert said == [
        "restores: removes newdir, which it made",
        "restores: cuts log.txt back to its old 4 bytes",
        "restores: puts back a.txt (6 bytes)",
    ]
    assert theirs[1] not in r.stdout

    r = term.undo("--list", "--all")
    assert entries(r.stdout)[0] == (theirs[0], theirs[1], "another terminal"), r.stdout
    assert [n for n, _, _ in entries(r.stdout)] == [theirs[0], *(n for n, _ in reversed(made))]


def test_without_session_the_terminal_is_the_shell_that_runs_it(work):
    me = Terminal(os.getpid(), work)  # `shellper` run by this process: its parent is the terminal
    put(work, "mine.txt", b"mine\n")
    number, command = me.run("rm", {"file_name": "mine.txt"})
    r = shellper("undo", "--list", cwd=work)
    assert entries(r.stdout) == [(number, command, None)], r.stdout
    r = shellper("undo", "--list", cwd="/")  # elsewhere: the list says where it ran
    assert entries(r.stdout) == [(number, command, f"in {work}")], r.stdout


def test_undo_n_prints_a_command_that_restores_the_file_byte_for_byte(term, work):
    path = put(work, "data.bin", bytes(range(256)) * 33 + b"\r\n\x00end", 0o640, 1_650_000_000)
    log = put(work, "log.txt", b"one\nno newline at the end")
    was, log_was = state(path), state(log)
    first, _ = term.run("rm", {"file_name": "data.bin"})
    term.run("echo", {"content": "more", "file_name": "log.txt"})
    assert not os.path.exists(path) and state(log) != log_was

    r = term.undo(str(first))
    assert r.returncode == 0, r.stderr
    assert "shellper: restores: puts back data.bin" in r.stderr and f"#? undo {first}" in r.stderr, r.stderr
    subprocess.run(["bash", "-c", r.stdout], cwd=work, check=True)
    assert state(path) == was

    r = term.undo()  # no number: this terminal's latest, the append
    assert r.returncode == 0 and "cuts log.txt back" in r.stderr, r.stderr
    subprocess.run(["bash", "-c", r.stdout], cwd=work, check=True)
    assert state(log) == log_was


def test_a_file_that_changed_since_is_never_overwritten(term, work):
    log = put(work, "log.txt", b"one\n")
    put(work, "x.txt", b"new x\n")
    y = put(work, "y.txt", b"the y I wanted\n", 0o600, 1_600_000_000)
    y_was = state(y)
    appended, _ = term.run("echo", {"content": "two", "file_name": "log.txt"})
    copied, _ = term.run("cp", {"source": "x.txt", "destination": "y.txt"})
    with open(log, "ab") as fh:
        fh.write(b"written by hand since\n")
    with open(y, "ab") as fh:
        fh.write(b"and edited since\n")
    log_now, y_now = state(log), state(y)

    listed = term.undo("--list").stdout
    assert "cannot be undone now: log.txt changed since `echo two >> log.txt`" in listed, listed
    assert "beside it, as y.txt.restored" in listed, listed

    r = term.undo(str(appended))
    assert r.returncode == 3 and r.stdout == "", (r.returncode, r.stdout)
    assert "cannot undo: log.txt changed since" in r.stderr, r.stderr
    assert state(log) == log_now

    r = term.undo(str(copied))
    assert r.returncode == 0 and "y.txt changed since; it is never overwritten" in r.stderr, r.stderr
    subprocess.run(["bash", "-c", r.stdout], cwd=work, check=True)
    assert state(y) == y_now  # what was written since stays
    assert state(os.path.join(work, "y.txt.restored")) == y_was


@pytest.mark.parametrize("login", ["fish", "zsh", "sh"])
def test_the_command_is_written_for_the_users_shell(term, work, login):
    """$SHELL decides the quoting (fish's differs); any other shell gets bash's."""
    runs = login if login != "sh" else "bash"
    if not shutil.which(runs):
        pytest.skip(f"needs {runs}")
    name = "it's a \\ name.txt"  # a quote and a backslash: fish reads them otherwise than bash
    path = put(work, name, b"odd\n")
    was = state(path)
    term.run("rm", {"file_name": name})
    r = term.undo(env=dict(os.environ, SHELL=f"/usr/bin/{login}"))
    bash = term.undo(env=dict(os.environ, SHELL="/usr/bin/bash")).stdout
    assert r.returncode == 0, r.stderr
    assert (r.stdout != bash) == (login == "fish"), (r.stdout, bash)
    subprocess.run([runs, "-c", r.stdout], cwd=work, check=True)
    assert state(path) == was


def test_forget_removes_the_kept_folders(term, other, work):
    for name in ("a.txt", "b.txt", "c.txt"):
        put(work, name, name.encode())
    mine = [term.run("rm", {"file_name": "a.txt"})[0], term.run("rm", {"file_name": "b.txt"})[0]]
    theirs, _ = other.run("rm", {"file_name": "c.txt"})

    r = term.undo("--forget")
    assert r.returncode == 0 and "forgot 2 changes of this terminal" in r.stdout, r.stdout
    assert not any(os.path.exists(term.store.folder(n)) for n in mine)
    assert os.path.isdir(term.store.folder(theirs))
    assert "nothing can be undone in this terminal" in term.undo("--list").stdout

    r = term.undo("--forget", "--all")
    assert "forgot 1 change:" in r.stdout, r.stdout
    assert os.listdir(paths.undo_dir()) == []


def test_nothing_to_undo_says_why(term, monkeypatch):
    r = term.undo("--list")
    assert r.returncode == 0
    assert "nothing can be undone in this terminal" in r.stdout and "Enter" in r.stdout and "for 7 days" in r.stdout, r.stdout
    r = term.undo()
    assert r.returncode == 1 and "nothing to undo in this terminal" in r.stderr and r.stdout == "", r.stderr
    r = term.undo("7")
    assert r.returncode == 1 and "there is no change 7" in r.stderr, r.stderr
    monkeypatch.setenv("SHELLPER_UNDO_DAYS", "0")
    assert "undo is off (setting undo_days is 0)" in term.undo("--list").stdout


def test_help_says_where_the_copies_are_and_how_they_go(shellper_env):
    r = shellper("undo", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert paths.undo_dir() in text and paths.undo_dir().startswith(shellper_env["XDG_STATE_HOME"])
    for words in ("private (0700)", "undo_days", "undo_max_mb", "shellper undo --forget", "./install.sh --uninstall --purge", "#? undo"):
        assert words in text, words
