"""The server's half (shell/shellper-remote.zsh) in a real zsh, talking to a forward of the daemon
directly (what ssh -R hands it): Ctrl-G and `#?` get the laptop's answer, judged on the facts this
zsh gathered without a process; a socket that is not its user's, or not 0600, is never used."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from shellharness import start_daemon, translate

from shellper_hook import client

pytestmark = pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", "shellper-remote.zsh")


@pytest.fixture
def forward(shell_env):
    start_daemon(shell_env)
    old = dict(os.environ)
    os.environ.update(shell_env.env)
    try:
        made = client.request({"op": "forward", "owner": str(os.getpid())})
        assert made["ok"], made
        yield made
        client.request({"op": "unforward", "id": made["id"]})
    finally:
        os.environ.clear()
        os.environ.update(old)


def _remote_zsh(shell_env, tmux, work, sock: str, token: str):
    env = {"LC_SHELLPER_SOCK": sock, "LC_SHELLPER_TOKEN": token}
    return shell_env.zsh(tmux, cwd=work, load=f"source {SCRIPT}", env=env)


def test_ctrl_g_in_the_servers_zsh_gets_the_laptops_answer_on_the_servers_facts(shell_env, tmux, work, ollama, forward):
    with open(os.path.join(work, "notes.txt"), "w") as fh:
        fh.write("one\ntwo\nthree")  # three lines, the last without a newline
    os.makedirs(os.path.join(work, "build", "obj"))
    for i in range(5):
        with open(os.path.join(work, "build", f"f{i}.o"), "wb") as fh:
            fh.write(b"x" * 1000)
    ollama.answer("add a line to the notes", "echo", {"content": "four", "file_name": "notes.txt"})
    ollama.answer("drop the build folder", "rm", {"file_name": "build"})
    pane = _remote_zsh(shell_env, tmux, work, forward["socket"], forward["token"])

    translate(pane, "add a line to the notes")
    pane.wait_line("echo four >> notes.txt", timeout=20)
    pane.wait_for(re.compile(r"shellper: changes: appends to notes\.txt \(3 lines now, the last without a newline\)"))

    pane.send("C-u")
    translate(pane, "#? drop the build folder", key="Enter")
    pane.wait_line(lambda line: line in ("rm build", "rm -r build"), timeout=20)
    pane.wait_for(re.compile(r"build/ and the 5 files in it \(4\.9 KB\)|rm without -r refuses it"))
    assert os.path.isdir(os.path.join(work, "build"))  # nothing ran


def test_a_socket_that_is_not_private_is_never_used(shell_env, tmux, work, ollama, forward):
    ollama.answer("list them", "ls", {})
    os.chmod(forward["socket"], 0o666)
    try:
        pane = _remote_zsh(shell_env, tmux, work, forward["socket"], forward["token"])
        before = len(ollama.requests)
        translate(pane, "list them")
        pane.wait_for("is not this user's (mode 0600); not used", timeout=10)
        assert len(ollama.requests) == before
    finally:
        os.chmod(forward["socket"], 0o600)


def test_the_token_is_not_handed_to_the_programs_the_shell_runs(shell_env, tmux, work, forward):
    pane = _remote_zsh(shell_env, tmux, work, forward["socket"], forward["token"])
    pane.run("env | grep -c LC_SHELLPER_TOKEN || true")
    assert re.search(r"^0$", pane.screen(), re.M), pane.screen()
