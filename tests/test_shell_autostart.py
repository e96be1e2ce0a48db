"""A new interactive shell starts the daemon in the background (issue 12).

The first Ctrl-G then finds it ready; the prompt never waits for the start,
no job notice is printed, and SHELLPER_AUTOSTART=0 turns it off.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time

import pytest
from shellharness import ShellEnv, have, translate, wait_until

pytestmark = pytest.mark.skipif(not (have("zsh") and have("bash") and have("tmux")), reason="needs zsh, bash, tmux")


def _env(ollama, value):
    return ShellEnv(ollama.base_url, {"SHELLPER_AUTOSTART": value})


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, TypeError):
        return False
    return True


@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_a_new_shell_starts_the_daemon_without_waiting_for_it(ollama, tmux, shell):
    env = _env(ollama, "1")
    try:
        state = os.path.join(env.env["XDG_STATE_HOME"], "shellper")
        os.makedirs(state, mode=0o700)
        # While we hold the start lock no daemon can start: a shell that waited
        # for the start would never show its prompt.
        with open(os.path.join(state, "start.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            began = time.monotonic()
            pane = getattr(env, shell)(tmux)  # waits for the prompt
            assert time.monotonic() - began < 5
            time.sleep(0.5)
            assert env.daemon_pid() is None
        wait_until(lambda: _alive(env.daemon_pid()), timeout=10)
        for _ in range(2):
            pane.run("true")
        pane.run('echo "bang=[${!}]"')  # the user's $! is not the starter's
        assert re.search(r"^bang=\[0?\]$", pane.screen(), re.M)  # as in a fresh shell: zsh 0, bash empty
        ollama.answer("hidden", "ls", {"a": True})
        translate(pane, "show hidden files")
        pane.wait_line("ls -a")
        screen = pane.screen()
        assert not re.search(r"^\[\d+\]|Done|shellper_hook", screen, re.M), screen
    finally:
        env.close()


@pytest.mark.parametrize("shell", ["zsh", "bash"])
@pytest.mark.parametrize("value", ["0", "off"])
def test_shellper_autostart_0_starts_no_daemon(ollama, tmux, shell, value):
    env = _env(ollama, value)
    try:
        getattr(env, shell)(tmux)
        time.sleep(1.5)  # a background start would have a daemon listening by now
        assert env.daemon_pid() is None
    finally:
        env.close()


@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_a_running_daemon_is_left_alone(ollama, tmux, shell):
    env = _env(ollama, "1")
    try:
        getattr(env, shell)(tmux)
        wait_until(lambda: _alive(env.daemon_pid()), timeout=10)
        first = env.daemon_pid()
        log = os.path.join(env.env["XDG_STATE_HOME"], "shellper", "daemon.log")
        wait_until(lambda: os.path.exists(log), timeout=5)
        size = os.path.getsize(log)
        getattr(env, shell)(tmux)
        time.sleep(1.5)
        assert env.daemon_pid() == first
        with open(log) as fh:  # no second daemon tried to start (it would log its refusal)
            fh.seek(size)
            assert "already" not in fh.read()
    finally:
        env.close()


@pytest.mark.parametrize("shell", [s for s in ("zsh", "bash", "fish") if have(s)])
def test_a_daemon_that_exited_comes_back_at_the_next_prompt(ollama, tmux, shell):
    """Idle exit or `shellper stop`: the terminal's next prompt starts it again in the
    background (issue 21), so the next Ctrl-G does not wait for its start."""
    env = _env(ollama, "1")
    try:
        pane = getattr(env, shell)(tmux)
        wait_until(lambda: _alive(env.daemon_pid()), timeout=10)
        first = env.daemon_pid()
        subprocess.run([sys.executable, "-m", "shellper_hook.cli", "stop"], env={**os.environ, **env.env}, cwd="/", timeout=30, check=True)
        wait_until(lambda: not _alive(first), timeout=10)
        time.sleep(1.0)
        assert not _alive(env.daemon_pid()), "started again with no prompt"
        preloads = len(ollama.preloads)
        pane.run("true")
        wait_until(lambda: _alive(env.daemon_pid()) and env.daemon_pid() != first, timeout=10)
        # Brought back by a prompt, it leaves the model alone until asked: an idle exit stays one.
        time.sleep(1.0)
        assert len(ollama.preloads) == preloads
    finally:
        env.close()


@pytest.mark.parametrize("shell", [s for s in ("zsh", "bash") if have(s)])
def test_a_socket_exported_after_the_init_line_changes_nothing(ollama, tmux, shell):
    """The shell tests one socket at its prompts and its client must use the same one: with a
    SHELLPER_SOCKET exported after the init line, no client starts at each prompt and Ctrl-G
    still reaches the terminal's daemon (the review found a client started at every prompt)."""
    env = _env(ollama, "1")
    try:
        elsewhere = os.path.join(env.root, "elsewhere", "d.sock")
        pane = getattr(env, shell)(tmux, after=f"export SHELLPER_SOCKET={elsewhere}")
        wait_until(lambda: _alive(env.daemon_pid()), timeout=10)
        for _ in range(3):
            pane.run("true")
        time.sleep(1.0)
        assert not os.path.exists(os.path.dirname(elsewhere)), "a client went to the exported socket"
        ollama.answer("hidden", "ls", {"a": True})
        translate(pane, "show hidden files")
        pane.wait_line(lambda line: line.startswith("ls -a"), timeout=20)
    finally:
        env.close()
