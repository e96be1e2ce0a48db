"""Issue 11 (a new user's first hour), the daemon's side, through the real CLI
and socket: closed terminals are forgotten at once (11.6) and a terminal
whose settings differ from the running daemon's is told so (11.8)."""

from __future__ import annotations

import json
import os

from daemon_helpers import fake_shell, run_client, shellper, wait_until, wire

from shellper_hook import client


def ask(session: int, *words: str, env=None, cwd=None):
    return shellper("ask", "--session", str(session), *words, env=env, cwd=cwd)


def test_a_terminal_whose_settings_differ_from_the_daemons_is_told_so(daemon_env, fake, tmp_path):
    with fake_shell() as shell:
        first = ask(shell, "list", "the", "files", cwd=str(tmp_path))
        assert first.returncode == 0, first.stderr
        assert "other settings" not in first.stderr
        other = dict(os.environ, SHELLPER_MODEL="foo")
        r = ask(shell, "list", "the", "files", env=other, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        notes = [line for line in r.stderr.splitlines() if "other settings" in line]
        assert len(notes) == 1, r.stderr
        assert "SHELLPER_MODEL" in notes[0] and "model 'distil_model'" in notes[0]
        assert "shellper stop" in notes[0]
        # The fix it names works: a daemon started from this terminal runs its settings.
        assert shellper("stop").returncode == 0
        ask(shell, "list", "the", "files", env=other, cwd=str(tmp_path))
        status = json.loads(shellper("status", "--json", env=other).stdout)
        assert status["model"] == "foo"
        r = ask(shell, "list", "the", "files", env=other, cwd=str(tmp_path))
        assert "other settings" not in r.stderr
        # And the first terminal is now the one told.
        r = ask(shell, "list", "the", "files", cwd=str(tmp_path))
        assert "other settings" in r.stderr and "model 'foo'" in r.stderr


def test_the_widgets_client_passes_the_terminals_settings_on(daemon_env, fake, tmp_path):
    """The widget's path (the client) carries them too: the shell puts its environment in
    the request, and the client forwards it as is, adding none of its own."""
    terminal = {k: v for k, v in os.environ.items() if k.startswith("SHELLPER_") or k in ("HOME", "XDG_CONFIG_HOME")}
    with fake_shell() as shell:
        assert ask(shell, "list", "the", "files", cwd=str(tmp_path)).returncode == 0
        req = {"op": "translate", "session": shell, "cwd": str(tmp_path), "text": "list the files"}
        done = run_client(wire({**req, "env": {**terminal, "SHELLPER_BASE_URL": fake.base_url + "/"}}))
        fields = done.stdout.split(b"\0")
        assert fields[0] == b"ok", done.stdout
        assert b"SHELLPER_BASE_URL" in fields[2] and b"shellper stop" in fields[2]
        # The client's own environment is not the terminal's: it says nothing of it.
        same = run_client(wire({**req, "env": terminal}), env=dict(os.environ, SHELLPER_MODEL="foo"))
        assert same.stdout.startswith(b"ok\0") and b"other settings" not in same.stdout, same.stdout


def test_closed_forgets_a_live_terminal_and_a_gone_one(daemon_env, fake, tmp_path):
    with fake_shell() as live, fake_shell() as other:
        for pid in (live, other):
            assert client.request({"op": "translate", "session": pid, "cwd": str(tmp_path), "text": "list", "commit": True})["ok"]
        assert client.request({"op": "status"})["sessions"] == 2
        reply = client.request({"op": "closed", "session": live})
        assert reply["ok"] and reply["removed"] >= 1
        assert client.request({"op": "history", "session": live})["exchanges"] == []
        assert client.request({"op": "history", "session": other})["exchanges"]
        # A shell that has already exited (bash's hook runs the client in the background).
        assert client.request({"op": "translate", "session": other, "cwd": str(tmp_path), "text": "list", "commit": True})["ok"]
        gone = other
    assert client.request({"op": "status"})["sessions"] == 1
    done = run_client(wire({"op": "closed", "session": gone}), timeout=10)
    assert (done.returncode, done.stdout) == (0, b""), done
    wait_until(lambda: client.request({"op": "status"})["sessions"] == 0, 5, what="the daemon to forget the terminal that had exited")


def test_closed_without_a_daemon_starts_none(shellper_env):
    done = run_client(wire({"op": "closed", "session": os.getpid()}), timeout=10)
    assert done.returncode == 1
    assert not os.path.exists(client.paths.socket_path())
