"""`shellper ssh` against a real sshd on loopback (tests/ssh_harness.py): Ctrl-G in the server's zsh
gets this daemon's answer, judged on the server's files; another user cannot reach the forward; a
socket that is not the user's is refused; a reconnect works; closing ssh leaves nothing."""

from __future__ import annotations

import glob
import os
import re
import subprocess

import pytest
import ssh_harness
from shellharness import BIN, PROMPT, start_daemon, translate, wait_until

pytestmark = pytest.mark.skipif(ssh_harness.unavailable() is not None, reason=str(ssh_harness.unavailable()))


@pytest.fixture(scope="module")
def sshd():
    with ssh_harness.Sshd() as server:
        yield server


def _as(sshd, path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as fh:
        fh.write(text)
    os.chown(path, sshd.uid(), sshd.gid())
    os.chmod(path, mode)


def _shellper_ssh(shell_env, sshd, *extra) -> list:
    return [os.path.join(BIN, "shellper"), "ssh", *extra, "-F", sshd.client_config, "-l", sshd.user, sshd.host]


@pytest.fixture(scope="module")
def remote(sshd, shell_env):
    """The server's half installed by `shellper ssh --setup`, a prompt the harness knows, and a daemon here."""
    home = sshd.home()
    _as(sshd, os.path.join(home, ".zshrc"), f"PS1='{PROMPT}'\nunset RPROMPT\n")
    _as(sshd, os.path.join(home, ".bashrc"), f"PS1='{PROMPT}'\nPROMPT_COMMAND=\n")
    env = dict(shell_env.env, SHELLPER_SSH_HOSTS=sshd.host)
    argv = _shellper_ssh(shell_env, sshd, "--setup")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert os.path.exists(os.path.join(home, ".config", "shellper", "remote.zsh"))
    assert os.path.exists(os.path.join(home, ".config", "shellper", "remote.bash"))
    start_daemon(shell_env)
    return env


def _connect(tmux, shell_env, sshd, env, *command):
    pane = tmux.spawn([*_shellper_ssh(shell_env, sshd, "-tt"), *command], env, cwd=shell_env.root)
    pane.wait_for(re.compile(re.escape(PROMPT.rstrip()) + r"\s*$"), timeout=30)
    return pane


def _exit(pane, sshd, timeout: float = 15) -> None:
    """Leave the server's shell (the line emptied first); its forward's socket must go with it."""
    pane.send("C-u")
    pane.type("exit")
    pane.send("Enter")
    wait_until(lambda: not _left(sshd), timeout=timeout, what="the server's socket to go")


def _left(sshd) -> list:
    """The server's sockets of the remote user (one may go between the listing and the look)."""
    left = []
    for path in glob.glob("/tmp/shellper-*.sock"):
        try:
            if os.lstat(path).st_uid == sshd.uid():
                left.append(path)
        except FileNotFoundError:
            pass
    return left


def test_ctrl_g_in_the_servers_zsh_gets_this_laptops_answer_and_nothing_is_left(sshd, shell_env, tmux, ollama, remote):
    proj = os.path.join(sshd.home(), "proj")
    os.makedirs(proj, exist_ok=True)
    os.chown(proj, sshd.uid(), sshd.gid())
    _as(sshd, os.path.join(proj, "notes.txt"), "on the server\n")
    ollama.answer("drop the server notes", "rm", {"file_name": "notes.txt"})
    pane = _connect(tmux, shell_env, sshd, remote)
    assert len(_left(sshd)) == 1  # the forward's socket, on the server
    pane.run("cd proj")
    translate(pane, "drop the server notes")
    pane.wait_line("rm notes.txt", timeout=30)
    pane.wait_for(re.compile(r"shellper: deletes: notes\.txt \(14 bytes"))
    pane.send("Enter")
    wait_until(lambda: not os.path.exists(os.path.join(proj, "notes.txt")), timeout=10, what="rm on the server")

    # Another user on the server cannot reach the forward while it is open.
    (sock,) = _left(sshd)
    other = sshd.run(sshd.other, ["python3", "-c", f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({sock!r})"], timeout=30)
    assert other.returncode != 0 and "Permission denied" in other.stderr, other

    # Nor can another user on this laptop reach the forward's listener here.
    runtime = shell_env.env["XDG_RUNTIME_DIR"]
    (here,) = glob.glob(os.path.join(runtime, "**", "fwd-*.sock"), recursive=True)
    local = sshd.local_user().run(["python3", "-c", f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({here!r})"], timeout=30)
    assert local.returncode != 0 and "Permission denied" in local.stderr, local

    _exit(pane, sshd)
    wait_until(lambda: not glob.glob(os.path.join(runtime, "**", "fwd-*.sock"), recursive=True), timeout=15, what="the forward to close")


def test_ctrl_g_and_the_prefix_in_the_servers_bash_get_this_laptops_answer(sshd, shell_env, tmux, ollama, remote):
    proj = os.path.join(sshd.home(), "bproj")
    os.makedirs(proj, exist_ok=True)
    os.chown(proj, sshd.uid(), sshd.gid())
    _as(sshd, os.path.join(proj, "log.txt"), "one\ntwo")
    ollama.answer("add a line to the server log", "echo", {"content": "three", "file_name": "log.txt"})
    pane = _connect(tmux, shell_env, sshd, remote, "bash", "-i")  # (a bash login shell reads ~/.bashrc the same way)
    pane.run("cd bproj")
    translate(pane, "add a line to the server log")
    pane.wait_line("echo three >> log.txt", timeout=30)
    pane.wait_for(re.compile(r"shellper: changes: appends to log\.txt \(2 lines now, the last without a newline\)"))
    pane.send("Enter")
    wait_until(lambda: open(os.path.join(proj, "log.txt")).read() == "one\ntwothree\n", timeout=10, what="echo on the server")
    pane.wait_prompt()
    ollama.answer("show the server log", "cat", {"file_name": "log.txt"})
    translate(pane, "#? show the server log", key="Enter")  # put on the line, not run
    pane.wait_line("cat log.txt", timeout=30)
    _exit(pane, sshd)


def test_a_tmux_window_on_the_server_uses_the_connections_forward(sshd, shell_env, tmux, ollama, remote):
    ollama.answer("where is this", "pwd", {})
    pane = _connect(tmux, shell_env, sshd, remote)
    # tmux starts its shells without the token: they use the forward the login shell noted.
    pane.run("tmux -L sp-test -f /dev/null new-session zsh -i", wait="0:zsh")
    pane.wait_for(re.compile(r"^SP\$ *$", re.M), timeout=20)
    translate(pane, "where is this")
    pane.wait_line("pwd", timeout=30)
    pane.send("C-u")
    pane.type("exit")
    pane.send("Enter")  # the tmux window's shell: it leaves the forward alone
    pane.wait_for("[exited]", timeout=20)
    assert len(_left(sshd)) == 1
    _exit(pane, sshd, timeout=20)  # the shell ssh started: the forward's socket goes with it


def test_through_a_proxyjump(sshd, shell_env, tmux, ollama, remote):
    ollama.answer("where did i land", "pwd", {})
    jump = f"{sshd.user}@{sshd.host}"
    pane = tmux.spawn(_shellper_ssh(shell_env, sshd, "-tt", "-J", jump), remote, cwd=shell_env.root)
    pane.wait_for(re.compile(re.escape(PROMPT.rstrip()) + r"\s*$"), timeout=30)
    translate(pane, "where did i land")
    pane.wait_line("pwd", timeout=30)
    _exit(pane, sshd)


def test_a_reconnect_gets_a_fresh_forward(sshd, shell_env, tmux, ollama, remote):
    ollama.answer("where am i", "pwd", {})
    for _ in range(2):
        pane = _connect(tmux, shell_env, sshd, remote)
        translate(pane, "where am i")
        pane.wait_line("pwd", timeout=30)
        _exit(pane, sshd)


def test_a_socket_another_user_made_is_refused_by_the_servers_half(sshd, remote):
    squat = f"/tmp/shellper-squat-{sshd.suffix}.sock"
    made = sshd.run(
        sshd.other,
        ["python3", "-c", f"import os, socket; s = socket.socket(socket.AF_UNIX); s.bind({squat!r}); os.chmod({squat!r}, 0o666)"],
        timeout=30,
    )
    assert made.returncode == 0, made.stderr
    try:
        check = sshd.run(
            sshd.user,
            f"LC_SHELLPER_SOCK={squat} LC_SHELLPER_TOKEN=x zsh -ic '__shellper_r_trusted && echo trusted || echo refused'",
            timeout=30,
        )
        assert "refused" in check.stdout and "trusted" not in check.stdout.replace("refused", ""), check
    finally:
        os.unlink(squat)


def test_a_host_not_opted_in_is_refused_before_anything_connects(sshd, shell_env):
    env = dict(shell_env.env, SHELLPER_SSH_HOSTS="someother")
    done = subprocess.run(_shellper_ssh(shell_env, sshd), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "is not opted in" in done.stderr and "ssh_hosts" in done.stderr
