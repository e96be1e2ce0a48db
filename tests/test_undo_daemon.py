"""Undo through a real daemon: answered without the model, kept at Enter's check, settled by the
shell's report, said before Enter when it cannot be, and pruned by age."""

from __future__ import annotations

import json
import os
import subprocess
import time

from daemon_helpers import fake_shell, wait_until

from shellper_hook import client, paths


def _ask(session, text, cwd):
    return client.request({"op": "translate", "session": session, "cwd": cwd, "shell": "bash", "text": text})


def _enter(session, cwd, line) -> dict:
    return client.request({"op": "check", "session": session, "cwd": cwd, "shell": "bash", "text": line})


def _run(session, cwd, line, run: bool = True) -> int:
    """Enter on line after its check: run it in bash (or not), and report it as the shell does."""
    status = subprocess.run(["bash", "-c", line], cwd=cwd).returncode if run else 1
    client.request({"op": "executed", "session": session, "cwd": cwd, "shell": "bash", "text": line, "status": status})
    return status


def _changes() -> list:
    try:
        return sorted(n for n in os.listdir(paths.undo_dir()) if n.isdigit())
    except FileNotFoundError:
        return []


def _put(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def test_undo_goes_back_one_step_at_a_time_and_never_undoes_the_undo(daemon_env, fake, tmp_path):
    work = str(tmp_path)
    _put(os.path.join(work, "a.txt"), b"alpha\n")
    _put(os.path.join(work, "b.txt"), b"bravo\n")
    fake.answer("remove a", "rm", {"file_name": "a.txt"})
    fake.answer("remove b", "rm", {"file_name": "b.txt"})
    with fake_shell() as shell:
        for text in ("remove a", "remove b"):
            reply = _ask(shell, text, work)
            assert reply["effect"].endswith("; undo: yes"), reply
            assert _enter(shell, work, reply["command"])["changed"] is False
            assert _run(shell, work, reply["command"]) == 0
        asked = len(fake.requests)
        assert not os.path.exists(os.path.join(work, "a.txt")) and not os.path.exists(os.path.join(work, "b.txt"))

        for name in ("b.txt", "a.txt"):  # the last change first
            reply = _ask(shell, "undo that", work)
            assert reply["ok"] and reply["effect"].startswith("restores: puts back " + name), reply
            assert _enter(shell, work, reply["command"])["changed"] is False
            assert _run(shell, work, reply["command"]) == 0
            assert os.path.exists(os.path.join(work, name))
        reply = _ask(shell, "undo", work)
        assert not reply["ok"] and "nothing to undo" in reply["error"], reply
        assert len(fake.requests) == asked, "an undo request went to the model"
        assert _read(os.path.join(work, "a.txt")) == b"alpha\n" and _read(os.path.join(work, "b.txt")) == b"bravo\n"
        assert _changes() == []


def test_a_command_that_did_nothing_or_was_edited_leaves_nothing_to_undo(daemon_env, fake, tmp_path):
    work = str(tmp_path)
    _put(os.path.join(work, "a.txt"), b"alpha\n")
    fake.answer("remove a", "rm", {"file_name": "a.txt"})
    with fake_shell() as shell:
        reply = _ask(shell, "remove a", work)
        assert _enter(shell, work, reply["command"])["changed"] is False
        assert _changes() != []  # kept before it runs
        _run(shell, work, reply["command"], run=False)  # it failed: nothing changed
        wait_until(lambda: _changes() == [], timeout=5, what="the unused change to go")
        reply = _ask(shell, "remove a", work)
        _enter(shell, work, reply["command"])
        _run(shell, work, "rm -f a.txt")  # edited before it ran: not the suggestion
        wait_until(lambda: _changes() == [], timeout=5, what="the change of an edited line to go")
        assert not _ask(shell, "undo", work)["ok"]


def test_undo_says_no_before_enter_when_the_change_is_over_the_size_limit(daemon_env, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SHELLPER_UNDO_MAX_MB", "1")  # the daemon starts with it
    work = str(tmp_path)
    _put(os.path.join(work, "big.bin"), os.urandom(2 << 20))
    fake.answer("remove big", "rm", {"file_name": "big.bin"})
    with fake_shell() as shell:
        reply = _ask(shell, "remove big", work)
        assert reply["effect"].endswith("; undo: no, 2.0 MB is over the 1 MiB limit (setting undo_max_mb)"), reply
        assert _enter(shell, work, reply["command"])["changed"] is False
        assert _changes() == []


def test_a_keep_that_fails_at_enter_is_said_and_runs_only_at_a_second_enter(daemon_env, fake, tmp_path):
    work = str(tmp_path)
    _put(os.path.join(work, "a.txt"), b"alpha\n")
    os.makedirs(paths.state_dir(), exist_ok=True)
    _put(paths.undo_dir(), b"not a folder")  # what keeping needs is broken
    fake.answer("remove a", "rm", {"file_name": "a.txt"})
    with fake_shell() as shell:
        reply = _ask(shell, "remove a", work)
        assert reply["effect"].endswith("; undo: yes"), reply
        got = _enter(shell, work, reply["command"])
        assert got["changed"] is True, got
        assert "undo could not keep" in got["lines"][0] and "; undo: no, " in got["lines"][1], got
        # The shells run it at the next Enter (asking nothing more); then there is nothing to undo.
        _run(shell, work, reply["command"])
        assert not os.path.exists(os.path.join(work, "a.txt"))
        assert "nothing to undo" in _ask(shell, "undo", work)["error"]


def test_a_terminal_can_take_back_another_terminals_change_by_its_number(daemon_env, fake, tmp_path):
    work = str(tmp_path)
    _put(os.path.join(work, "a.txt"), b"alpha\n")
    fake.answer("remove a", "rm", {"file_name": "a.txt"})
    with fake_shell() as one, fake_shell() as two:
        reply = _ask(one, "remove a", work)
        _enter(one, work, reply["command"])
        _run(one, work, reply["command"])
        number = int(_changes()[-1])
        assert not _ask(two, "undo", work)["ok"]  # not this terminal's
        reply = _ask(two, f"undo {number}", work)
        assert reply["ok"], reply
        _enter(two, work, reply["command"])
        _run(two, work, reply["command"])
        assert _read(os.path.join(work, "a.txt")) == b"alpha\n"


def test_changes_past_undo_days_go_when_the_daemon_starts(daemon_env, fake, tmp_path):
    old = os.path.join(paths.undo_dir(), "7")
    os.makedirs(old, mode=0o700)
    record = {"id": 7, "pid": 1, "start": 0.0, "cwd": "/", "command": "rm x", "shell": "bash"}
    with open(os.path.join(old, "manifest.json"), "w") as fh:
        json.dump({**record, "made": time.time() - 8 * 86400, "state": "done", "size": 0, "steps": []}, fh)
    client.request({"op": "ping"})
    wait_until(lambda: not os.path.exists(old), timeout=10, what="the 8-day-old change to go")
