"""Undo in real shells: each change a suggestion made, taken back by "undo" + Ctrl-G and Enter,
one step at a time, byte for byte with mode and modification time, in zsh, bash and fish."""

from __future__ import annotations

import os
import re
import stat

import pytest
from shell_adapters import EVERY
from shellharness import translate, wait_until

# (request, tool, arguments, files made before the change): run in this order, undone in reverse.
CHANGES = (
    ("grow the log", "echo", {"content": "more", "file_name": "log.txt"}),
    ("grow the unended note", "echo", {"content": "tail", "file_name": "nonl.txt"}),
    ("make a fresh file", "touch", {"file_name": "fresh.txt"}),
    ("make the new folder", "mkdir", {"dir_name": "newdir"}),
    ("drop the empty folder", "rmdir", {"dir_name": "empty"}),
    ("dup x over y", "cp", {"source": "x.txt", "destination": "y.txt"}),
    ("shift bravo over notes", "mv", {"source": "b.txt", "destination": "notes.txt"}),
    ("zap alpha", "rm", {"file_name": "a.txt"}),
    ("zap the old folder", "rm", {"file_name": "old"}),
    ("poke x", "touch", {"file_name": "x.txt"}),
)


def _tree(work: str) -> None:
    def put(rel: str, data: bytes, mode: int = 0o644, mtime: int = 1_700_000_000) -> None:
        path = os.path.join(work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)
        os.utime(path, ns=(mtime * 10**9 + 123, mtime * 10**9 + 456_789))

    put("log.txt", b"one\ntwo\n")
    put("nonl.txt", b"no newline at the end")
    put("x.txt", b"x content\n", 0o600, 1_690_000_000)
    put("y.txt", b"y old content, longer than x's\n", 0o640)
    put("a.txt", "alpha \u00e9\n".encode(), 0o400)
    put("b.txt", b"bravo\n")
    put("notes.txt", b"notes I wanted\n", 0o664, 1_650_000_000)
    put("old/one.txt", b"1\n")
    put("old/deep/two.bin", bytes(range(256)) * 40, 0o755)
    os.symlink("one.txt", os.path.join(work, "old", "link"))
    os.mkdir(os.path.join(work, "empty"), 0o750)
    os.utime(os.path.join(work, "empty"), ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9))


def snapshot(work: str) -> dict:
    """Every entry: kind, mode, content or link target, and modification time (a folder's
    own time only for folders a change removes or makes: adding or removing entries moves it)."""
    out = {}
    for top, dirs, files in os.walk(work):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, work)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("folder", stat.S_IMODE(st.st_mode), st.st_mtime_ns if rel in ("empty", "old/deep") else None)
            else:
                with open(path, "rb") as fh:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), fh.read(), st.st_mtime_ns)
    return out


@pytest.mark.parametrize("sh", EVERY)
def test_every_change_is_undone_one_step_at_a_time(sh, shell_env, tmux, work, ollama):
    _tree(work)
    for text, name, args in CHANGES:
        ollama.answer(text, name, args)
    pane = sh.start(shell_env, tmux, work, env={"SHELLPER_ALLOW_RECURSIVE": "1"})
    before = []
    for text, name, _ in CHANGES:
        before.append(snapshot(work))
        translate(pane, text)
        pane.wait_for(re.compile(r"; undo: yes"), timeout=20)
        line = pane.line()
        assert line.split()[0] in (name, "cp", "rm", "echo"), line
        pane.mark()
        pane.send("Enter")
        wait_until(lambda was=before[-1]: snapshot(work) != was, timeout=5, what=f"{text!r} to change the files")
        pane.wait_prompt()

    for (text, _, _), was in zip(reversed(CHANGES), reversed(before)):
        translate(pane, "undo")
        pane.wait_for(re.compile(r"shellper: restores: "), timeout=20)
        pane.send("Enter")
        wait_until(lambda was=was: snapshot(work) == was, timeout=5, what=f"the undo of {text!r} to restore the files")
        pane.wait_prompt()

    translate(pane, "undo")
    pane.wait_for("nothing to undo in this terminal", timeout=20)
    assert not [r for r in ollama.requests if "undo" in str(r["messages"][-1].get("content", ""))], "undo went to the model"


@pytest.mark.parametrize("sh", EVERY)
def test_a_file_that_changed_since_is_never_overwritten(sh, shell_env, tmux, work, ollama):
    """rm notes.txt, then a new notes.txt: undo puts the old one back beside it, and says so."""
    notes = os.path.join(work, "notes.txt")
    with open(notes, "w") as fh:
        fh.write("old notes\n")
    ollama.answer("bin the notes", "rm", {"file_name": "notes.txt"})
    pane = sh.start(shell_env, tmux, work)
    translate(pane, "bin the notes")
    pane.wait_for(re.compile(r"; undo: yes"), timeout=20)
    pane.send("Enter")
    wait_until(lambda: not os.path.exists(notes), timeout=5, what="rm to run")
    pane.wait_prompt()
    with open(notes, "w") as fh:
        fh.write("new notes\n")
    translate(pane, "take that back")
    pane.wait_for(re.compile(r"beside it, as notes\.txt\.restored \(notes\.txt changed since; it is never overwritten\)"), timeout=20)
    pane.send("Enter")
    wait_until(lambda: os.path.exists(notes + ".restored"), timeout=5, what="the restore to run")
    with open(notes) as now, open(notes + ".restored") as back:
        assert (now.read(), back.read()) == ("new notes\n", "old notes\n")
