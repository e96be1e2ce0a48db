"""Conventions every shell plugin user expects, written once and run in zsh, bash and fish.

SHELLPER_KEY='' binds no key (the user binds the widget), SHELLPER_PREFIX
changes or ('') turns off the Enter trigger. Each test drives a real shell
in tmux; the shell-specific parts are the small tables below.
"""

from __future__ import annotations

import time

import pytest
from shellharness import have, last_user_text, translate

SHELLS = [pytest.param(s, marks=pytest.mark.skipif(not have(s), reason=f"needs {s}")) for s in ("zsh", "bash", "fish")]
pytestmark = pytest.mark.skipif(not have("tmux"), reason="needs tmux")

# Alt-t bound by the user to shellper's widget, in each shell's own words.
OWN_BINDING = {
    "zsh": "bindkey '^[t' shellper-translate",
    "bash": "bind -x '\"\\et\": __shellper_translate'",
    "fish": "bind \\et __shellper_translate",
}


def setting(shell: str, name: str, value: str) -> str:
    """rc text setting a shell variable before shellper loads."""
    if shell == "fish":
        return f"set -g {name} '{value}'"
    return f"{name}='{value}'"


def start(shell_env, tmux, shell, work, before="", after=""):
    if shell == "fish":  # autosuggestions off: their grey text would be on the line
        before = "set -g fish_autosuggestion_enabled 0\n" + before
    return getattr(shell_env, shell)(tmux, before=before, after=after, cwd=work)


def assert_no_request(ollama, before: int) -> None:
    time.sleep(0.8)
    assert len(ollama.requests) == before


@pytest.mark.parametrize("shell", SHELLS)
def test_an_empty_key_binds_nothing_and_your_own_binding_works(shell_env, tmux, ollama, work, shell):
    ollama.answer("own binding request", "pwd", {})
    pane = start(shell_env, tmux, shell, work, before=setting(shell, "SHELLPER_KEY", ""), after=OWN_BINDING[shell])
    before = len(ollama.requests)
    pane.type("ctrl g is not ours")
    pane.send("C-g")
    assert_no_request(ollama, before)
    pane.send("C-u")
    pane.run("echo line-still-works", wait="line-still-works")
    translate(pane, "own binding request", key="M-t")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    # The Enter trigger does not depend on the key.
    translate(pane, "#? own binding request", key="Enter")
    pane.wait_line("pwd", timeout=20)


@pytest.mark.parametrize("shell", SHELLS)
def test_another_prefix_translates_on_enter_and_the_old_one_runs(shell_env, tmux, ollama, work, shell):
    ollama.answer("prefixed request", "ls", {"a": True})
    pane = start(shell_env, tmux, shell, work, before=setting(shell, "SHELLPER_PREFIX", "??"))
    translate(pane, "?? prefixed request", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    assert last_user_text(ollama) == "prefixed request"
    pane.send("C-u")
    before = len(ollama.requests)
    pane.run("#? prefixed request; echo not-a-request")  # a comment (or a glob in zsh): it runs
    assert_no_request(ollama, before)
    # Ctrl-G on a prefixed line sends the request without the prefix.
    translate(pane, "?? prefixed request")
    pane.wait_line("ls -a", timeout=20)
    assert last_user_text(ollama) == "prefixed request"


@pytest.mark.parametrize("shell", SHELLS)
def test_an_empty_prefix_leaves_enter_alone_and_the_key_still_works(shell_env, tmux, ollama, work, shell):
    ollama.answer("key only request", "pwd", {})
    pane = start(shell_env, tmux, shell, work, before=setting(shell, "SHELLPER_PREFIX", ""))
    before = len(ollama.requests)
    pane.run("#? key only request")
    assert_no_request(ollama, before)
    translate(pane, "key only request")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    # The line run after the suggestion is still reported (bash: from its history).
    hist = shell_env.history(pane.pid, settled=True)
    assert [e["command"] for e in hist["exchanges"]] == ["pwd"]
