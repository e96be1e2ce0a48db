"""Corrections for retraining, end to end: daemon, store, and the real `shellper export`.

A suggestion the user edits before running it is a training example: the
conversation before it, the request, and the user's own call as the answer,
in the trainer's JSONL format (tools.md, last section).
"""

from __future__ import annotations

import json
import os
import stat
from datetime import date, timedelta

import pytest
from daemon_helpers import fake_shell, shellper, stop_daemon
from fake_ollama import FakeOllama

from shellper_hook import client, tools


@pytest.fixture
def fake():
    with FakeOllama() as server:
        server.answer("list", "ls", {"a": True})
        server.answer("last lines", "tail", {"file_name": "app.log", "lines": 20})
        server.answer("show notes", "cat", {"file_name": "notes.txt"})
        server.answer("write", "echo", {"content": "done", "file_name": "notes.txt"})
        yield server


def run(session, request, ran, cwd):
    """The shell's two steps: ask (the suggestion lands on the prompt), then run `ran`."""
    reply = client.request({"op": "translate", "session": session, "cwd": cwd, "text": request})
    assert reply["ok"], reply
    settled = client.request({"op": "executed", "session": session, "command": ran, "status": 0})
    assert settled["ok"], settled
    return reply["command"], settled["recorded"]


def export(*args):
    r = shellper("export", *args)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def call_of(message) -> tuple:
    """(name, arguments) of an assistant turn, checked against the trainer's format."""
    assert message["role"] == "assistant" and message["content"] == ""
    (tc,) = message["tool_calls"]
    assert tc["type"] == "function"
    name, args = tc["function"]["name"], tc["function"]["arguments"]
    assert isinstance(args, dict), "arguments must be a JSON object, not a string"
    assert tools.validate(name, args).arguments == args  # valid as is, no coercion needed
    return name, args


def dialogue(row) -> list:
    """[(request, (name, args)), ...] of one training row, checking its shape."""
    assert set(row) == {"messages"}
    msgs = row["messages"]
    assert len(msgs) >= 2 and len(msgs) % 2 == 0
    pairs = []
    for user, assistant in zip(msgs[::2], msgs[1::2]):
        assert user["role"] == "user" and isinstance(user["content"], str) and user["content"]
        assert set(user) == {"role", "content"}
        pairs.append((user["content"], call_of(assistant)))
    return pairs


def test_an_edited_suggestion_becomes_a_training_row(daemon_env, tmp_path):
    cwd = str(tmp_path)
    with fake_shell() as shell, fake_shell() as other:
        assert run(shell, "list all files", "ls -a", cwd) == ("ls -a", "committed")
        # The other terminal's conversation must never leak into this one's rows.
        assert run(other, "show notes", "cat notes.txt", cwd)[1] == "committed"
        # Suggested tail -n 20, the user changed it to 5 lines before running.
        assert run(shell, "last lines of app.log", "tail -n 5 app.log", cwd) == ("tail -n 20 app.log", "edited")
        # Suggested cat, the user ran a different tool on it.
        assert run(shell, "show notes", "  tail -n 3 notes.txt", cwd) == ("cat notes.txt", "edited")
        rows = export()
    assert [dialogue(r) for r in rows] == [
        [
            ("list all files", ("ls", {"a": True})),
            ("last lines of app.log", ("tail", {"file_name": "app.log", "lines": 5})),
        ],
        [
            ("list all files", ("ls", {"a": True})),
            # The earlier correction appears as the user ran it, as the model saw it.
            ("last lines of app.log", ("tail", {"file_name": "app.log", "lines": 5})),
            ("show notes", ("tail", {"file_name": "notes.txt", "lines": 3})),
        ],
    ]


def test_since_and_output_file(daemon_env, tmp_path):
    cwd = str(tmp_path)
    with fake_shell() as shell:
        run(shell, "last lines of app.log", "tail -n 5 app.log", cwd)
        today = date.today().isoformat()
        future = (date.today() + timedelta(days=400)).isoformat()
        assert export("--since", future) == []
        (row,) = export("--since", today)
        assert dialogue(row) == [("last lines of app.log", ("tail", {"file_name": "app.log", "lines": 5}))]
        assert export("--since", "2000-01-01") == [row]
        out = tmp_path / "corrections.jsonl"
        r = shellper("export", "--since", today, "-o", str(out))
        assert r.returncode == 0 and r.stdout == "", r.stderr
        assert "1 conversation" in r.stderr and str(out) in r.stderr
        assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [row]
        r = shellper("export", "--since", future, "-o", str(out))
        assert r.returncode == 0 and out.read_text() == ""
        bad = shellper("export", "--since", "last tuesday")
        assert bad.returncode == 1 and bad.stdout == ""
        assert len(bad.stderr.strip().splitlines()) == 1 and "--since" in bad.stderr and "last tuesday" in bad.stderr


def test_unwritable_output_file_is_one_line(daemon_env, tmp_path):
    with fake_shell() as shell:
        run(shell, "last lines of app.log", "tail -n 5 app.log", str(tmp_path))
        r = shellper("export", "-o", str(tmp_path / "no" / "such" / "dir" / "out.jsonl"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "out.jsonl" in r.stderr


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_output_file_is_private_new_or_existing(daemon_env, tmp_path):
    """It holds what was typed: other users never read it, whatever the umask or the file's mode was."""
    old = os.umask(0o022)
    try:
        with fake_shell() as shell:
            run(shell, "last lines of app.log", "tail -n 5 app.log", str(tmp_path))
        new = tmp_path / "new.jsonl"
        r = shellper("export", "-o", str(new))
        assert r.returncode == 0, r.stderr
        assert _mode(new) == 0o600 and len(new.read_text().splitlines()) == 1
        existing = tmp_path / "existing.jsonl"
        existing.write_text("an older export\n" * 100)
        os.chmod(existing, 0o644)
        r = shellper("export", "-o", str(existing))
        assert r.returncode == 0, r.stderr
        assert _mode(existing) == 0o600 and len(existing.read_text().splitlines()) == 1  # replaced, as with >
    finally:
        os.umask(old)


def test_quotes_and_unicode_survive_the_round_trip(daemon_env, tmp_path):
    with fake_shell() as shell:
        ran = "echo 'it'\"'\"'s caf\u00e9 \u2615 \"ok\"' >> 'my notes.txt'"
        assert run(shell, "write done to notes", ran, str(tmp_path))[1] == "edited"
        r = shellper("export")
    assert "caf\u00e9 \u2615" in r.stdout  # written as text, not \\u escapes
    (row,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert dialogue(row) == [
        ("write done to notes", ("echo", {"content": 'it\'s caf\u00e9 \u2615 "ok"', "file_name": "my notes.txt"})),
    ]


def test_runs_that_teach_nothing_make_no_rows(daemon_env, tmp_path):
    cwd = str(tmp_path)
    with fake_shell() as shell:
        assert run(shell, "list all files", "ls -a", cwd)[1] == "committed"  # as suggested
        assert run(shell, "show notes", "cat  'notes.txt'", cwd)[1] == "committed"  # same call, other spelling
        assert run(shell, "list all files", "ls -la | head", cwd)[1] == "dropped"  # not one of the tools
        # The suggestion ran, then something else: kept as suggested, nothing of the rest.
        assert run(shell, "list all files", "ls -a; rm -rf ~", cwd)[1] == "extended"
        assert run(shell, "show notes", "", cwd)[1] == "dropped"  # nothing ran
        # A suggestion skipped for a new request is no correction either.
        client.request({"op": "translate", "session": shell, "cwd": cwd, "text": "list all files"})
        run(shell, "show notes", "cat notes.txt", cwd)
        assert export() == []
        h = client.request({"op": "history", "session": shell})
    assert [e["command"] for e in h["exchanges"]] == ["ls -a", "cat  'notes.txt'", "ls -a", "cat notes.txt"]


def test_collection_can_be_switched_off(daemon_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SHELLPER_COLLECT_CORRECTIONS", "0")
    with fake_shell() as shell:
        # The edit still becomes history (the model should see what ran) ...
        assert run(shell, "last lines of app.log", "tail -n 5 app.log", str(tmp_path))[1] == "edited"
        h = client.request({"op": "history", "session": shell})
        assert [e["call"]["arguments"] for e in h["exchanges"]] == [{"file_name": "app.log", "lines": 5}]
        # ... but is not kept for training.
        assert export() == []
    stop_daemon()
    # Nothing was kept behind the scenes either: turning collection back on finds nothing old.
    monkeypatch.setenv("SHELLPER_COLLECT_CORRECTIONS", "1")
    assert export() == []


def test_reset_all_deletes_history_and_corrections(daemon_env, tmp_path):
    cwd = str(tmp_path)
    with fake_shell() as a, fake_shell() as b:
        run(a, "last lines of app.log", "tail -n 5 app.log", cwd)
        run(b, "list all files", "ls -a", cwd)
        client.request({"op": "translate", "session": b, "cwd": cwd, "text": "show notes"})  # pending
        assert len(export()) == 1
        r = shellper("reset", "--all")
        assert r.returncode == 0 and "forgot everything" in r.stdout and "(4 records)" in r.stdout, r.stdout
        assert export() == []
        for shell in (a, b):
            h = client.request({"op": "history", "session": shell})
            assert h["exchanges"] == [] and h["pending"] is None
        # Gone from disk, not only from this daemon's view.
        stop_daemon()
        assert export() == []
        assert client.request({"op": "history", "session": a})["exchanges"] == []
    # A new edit after the reset is collected again, with no stale history before it.
    with fake_shell() as c:
        run(c, "last lines of app.log", "tail -n 7 app.log", cwd)
        (row,) = export()
    assert dialogue(row) == [("last lines of app.log", ("tail", {"file_name": "app.log", "lines": 7}))]


def test_exported_rows_stay_within_the_models_five_exchanges():
    from shellper_hook.export import training_conversation
    from shellper_hook.store import Correction, Exchange
    from shellper_hook.tools import ToolCall

    ls = ToolCall("ls", {"a": True})
    history = [Exchange(f"req {i}", ls, "ls -a", False, 0, float(i)) for i in range(12)]
    corr = Correction(
        "show a",
        history,
        ToolCall("cat", {"file_name": "a"}),
        "cat a",
        "tail -n 3 a",
        ToolCall("tail", {"file_name": "a", "lines": 3}),
        0,
        99.0,
    )
    msgs = training_conversation(corr)["messages"]
    users = [m["content"] for m in msgs if m["role"] == "user"]
    assert users == ["req 8", "req 9", "req 10", "req 11", "show a"]
    assert msgs[-1]["tool_calls"][0]["function"] == {"name": "tail", "arguments": {"file_name": "a", "lines": 3}}


def test_an_output_file_that_cannot_be_made_private_is_left_untouched(tmp_path, monkeypatch):
    """Another user's file (fchmod fails): refused before anything is written."""
    from shellper_hook import export as ex

    shared = tmp_path / "shared.jsonl"
    shared.write_text("theirs\n")
    os.chmod(shared, 0o666)

    def not_owner(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", not_owner)
    with pytest.raises(ex.NotPrivate, match="another user"):
        ex.open_output(str(shared))
    assert shared.read_text() == "theirs\n"
