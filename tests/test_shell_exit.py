"""A terminal that exits is forgotten within seconds (issue 11.6).

The shell's exit hook (zsh: zshexit; bash: an EXIT trap chained before the
user's own) tells the daemon, which forgets that terminal's conversation;
the periodic sweep (every 10 minutes) stays as the safety net only.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from shellharness import ShellEnv, have, translate, wait_until

pytestmark = pytest.mark.skipif(not (have("zsh") and have("bash") and have("tmux")), reason="needs zsh, bash, tmux")


@pytest.fixture
def shell_env(ollama):
    """Fresh dirs and daemon for each test, in place of the module's: the tests count its sessions."""
    e = ShellEnv(ollama.base_url)
    yield e
    e.close()


def status(shell_env) -> dict:
    proc = shell_env.shellper("status", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sessions_of(shell_env, pid: int) -> int:
    """How many stored sessions belong to `pid` (read from the store, which outlives the shell)."""
    import sqlite3

    db = sqlite3.connect(os.path.join(shell_env.env["XDG_STATE_HOME"], "shellper", "sessions.sqlite3"))
    try:
        return db.execute(
            "SELECT COUNT(*) FROM (SELECT pid FROM exchanges WHERE pid=? UNION ALL SELECT pid FROM pending WHERE pid=?)",
            (pid, pid),
        ).fetchone()[0]
    finally:
        db.close()


def start(shell_env, tmux, shell: str, before: str = ""):
    work = shell_env.workdir(f"exit-{shell}-{time.monotonic_ns()}")
    pane = shell_env.zsh(tmux, cwd=work, before=before) if shell == "zsh" else shell_env.bash(tmux, cwd=work, before=before)
    return pane, work


def use(pane, ollama, work: str) -> None:
    """One suggestion, run: the terminal has a conversation in the daemon."""
    ollama.answer("make the exit dir", "mkdir", {"dir_name": "made"})
    translate(pane, "make the exit dir")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by tmux counts)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("shell", ["zsh", "bash"])
@pytest.mark.parametrize("how", ["exit", "hangup"])
def test_an_exited_terminal_is_forgotten_within_seconds(shell_env, tmux, ollama, shell, how):
    pane, work = start(shell_env, tmux, shell)
    other, other_work = start(shell_env, tmux, shell)
    use(pane, ollama, work)
    use(other, ollama, other_work)
    wait_until(lambda: shell_env.history(pane.pid, settled=True)["exchanges"], timeout=5)
    assert status(shell_env)["sessions"] == 2
    assert sessions_of(shell_env, pane.pid) == 1
    if how == "exit":
        pane.type("exit")
        pane.send("Enter")
    else:  # the terminal window is closed: the shell gets SIGHUP
        tmux._run("kill-pane", "-t", pane.id)
    wait_until(lambda: gone(pane.pid), timeout=5)
    wait_until(lambda: sessions_of(shell_env, pane.pid) == 0, timeout=5)
    # The other terminal keeps its conversation.
    assert status(shell_env)["sessions"] == 1
    assert len(shell_env.history(other.pid)["exchanges"]) == 1


def test_bash_keeps_the_users_exit_trap_and_its_status(shell_env, tmux, ollama):
    pane, work = start(shell_env, tmux, "bash", before="trap 'echo \"user-trap $?\" > user-trap.out' EXIT")
    use(pane, ollama, work)
    pane.type("(exit 7); exit 7")
    pane.send("Enter")
    out = os.path.join(work, "user-trap.out")
    wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, timeout=5)
    with open(out) as fh:
        assert fh.read() == "user-trap 7\n"
    wait_until(lambda: sessions_of(shell_env, pane.pid) == 0, timeout=5)


@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_exit_without_a_daemon_is_quick_and_starts_none(shell_env, tmux, ollama, shell):
    pane, _ = start(shell_env, tmux, shell)
    assert shell_env.daemon_pid() is None
    began = time.monotonic()
    pane.type("exit")
    pane.send("Enter")
    wait_until(lambda: gone(pane.pid), timeout=5)
    assert time.monotonic() - began < 3.0
    time.sleep(1.0)  # a client started by the hook would have started a daemon by now
    assert shell_env.daemon_pid() is None


def test_zsh_without_its_socket_module_sends_it_through_the_client(shell_env, tmux, ollama):
    work = shell_env.workdir("exit-zsh-client")
    pane = shell_env.zsh(tmux, cwd=work, after="zmodload -u zsh/net/socket")
    use(pane, ollama, work)
    pane.type("exit")
    pane.send("Enter")
    wait_until(lambda: gone(pane.pid), timeout=5)
    wait_until(lambda: sessions_of(shell_env, pane.pid) == 0, timeout=5)


@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_a_terminal_that_never_asked_starts_no_process_at_exit(shell_env, tmux, ollama, shell):
    """Nothing to forget: the exit hook starts no client (every terminal closed pays nothing)."""
    log = os.path.join(shell_env.workdir(f"exit-log-{shell}"), "calls.log")
    fake_python = os.path.join(os.path.dirname(log), "python")
    with open(fake_python, "w") as fh:
        fh.write(f'#!/bin/sh\necho "$*" >> {log}\n')
    os.chmod(fake_python, 0o755)
    # No socket to reach either, so the hook would have to start the client.
    pane, _ = start(shell_env, tmux, shell, before="")
    pane.run(f"__shellper_python={fake_python} __shellper_socket=")
    pane.type("exit")
    pane.send("Enter")
    wait_until(lambda: gone(pane.pid), timeout=5)
    time.sleep(0.5)
    assert not os.path.exists(log), open(log).read()
