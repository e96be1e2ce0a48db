"""What only bash has: PROMPT_COMMAND, readline's bindings and terminal modes, its plugins.

Every shell loads shellper the way a user does (`eval "$(shellper init bash)"`
in its rc file) and talks to a real daemon, which talks to a stand-in Ollama.
What every shell does is tested once for all in test_shell_behaviour.py.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pytest
from shellharness import (
    asked_only_for_the_suggestion,
    cd_through_the_shells_cdpath,
    fail_then_cancel,
    have,
    translate,
    wait_until,
)

pytestmark = pytest.mark.skipif(not (have("bash") and have("tmux")), reason="needs bash and tmux")

FZF = "/usr/share/doc/fzf/examples/key-bindings.bash"


# -- prompt hooks and other plugins ------------------------------------------------


# bash runs shellper's prompt hook from PROMPT_COMMAND, a string or an array the user has too.
@pytest.mark.parametrize(
    "setup",
    ["PROMPT_COMMAND='__user_st=$?'", "PROMPT_COMMAND=('__user_st=$?')"],
    ids=["string", "array"],
)
def test_an_existing_prompt_command_keeps_running_with_the_right_status(shell_env, tmux, ollama, work, setup):
    ollama.answer("fail to show", "cat", {"file_name": "missing.txt"})
    pane = shell_env.bash(tmux, cwd=work, before=setup)
    _user_hook_and_report_see_the_failed_status(shell_env, pane, "fail to show")


# fzf's bash key bindings, made with the same `bind -x` as shellper's.
@pytest.mark.skipif(not os.path.exists(FZF), reason="needs fzf's key bindings")
def test_with_fzf_key_bindings(shell_env, tmux, ollama, work):
    ollama.answer("fuzzy request", "ls", {"a": True})
    pane = shell_env.bash(tmux, cwd=work, before=f"source {FZF}")
    pane.run("bind -X | grep -c -e __fzf -e fzf-", wait=re.compile(r"^[1-9]\d*$", re.M))
    translate(pane, "fuzzy request")
    pane.wait_line("ls -a", timeout=20)
    pane.run("")
    pane.mark()
    pane.type("for w in x1 x2; do")
    pane.send("Enter")
    pane.type("echo got-$w; done")
    pane.send("Enter")
    pane.wait_for("got-x1\ngot-x2")
    translate(pane, "#? fuzzy request", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    pane.send("C-u")
    pane.run("echo ok-$((2+3))", wait="ok-5")
    assert [e["command"] for e in shell_env.history(pane.pid, settled=True)["exchanges"]] == ["ls -a"]


# -- aliases -----------------------------------------------------------------------


def test_aliases_after_a_quoted_word_never_rewrite_the_suggestion(shell_env, tmux, ollama, work):
    """After an alias ending in a blank, bash alias-expands the next word, and
    past a quoted word the one after it too: with these common aliases,
    `mv 'My Notes.txt' ...` ran as `mv -i 'My Notes.txt' cd ../..`. It must move
    the file into the folder `...`, and count as the suggestion run unedited."""
    os.mkdir(os.path.join(work, "..."))
    with open(os.path.join(work, "My Notes.txt"), "w") as fh:
        fh.write("notes\n")
    ollama.answer("file my notes", "mv", {"source": "My Notes.txt", "destination": "..."})
    pane = shell_env.bash(tmux, cwd=work, before="alias mv='mv -i '\nalias sudo='sudo '\nalias ...='cd ../..'")
    translate(pane, "file my notes")
    pane.wait_line(lambda line: line.startswith("mv "), timeout=20)
    pane.run("")
    pane.run("echo PWD=$PWD", wait="PWD=")
    assert f"PWD={work}" in pane.since_mark()
    assert os.path.exists(os.path.join(work, "...", "My Notes.txt"))
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["edited"], e["status"]) for e in hist["exchanges"]] == [(False, 0)]


# -- manners: nothing of the user's shell changes, ordinary lines cost nothing ---

BASH_STATE = (
    "__spt_state() {\n"
    '  { shopt -p; set +o; echo "HISTCONTROL=${HISTCONTROL-(unset)}"; echo @keys\n'
    "    local m; for m in emacs-standard vi-insert vi-command; do bind -m $m -p; bind -m $m -s; bind -m $m -X; done\n"
    "  } >| %s/state.$1 2>&1\n"
    "}\n"
)
# The keys shellper binds: the key, Enter (C-m, C-j) and its private sequences.
OURS = re.compile(r'^"(\\C-[gmj]|\\C-x\\C-_S)')


def _state(folder: str, name: str) -> tuple:
    """(options, key bindings but ours) captured by __spt_state.

    Lines listing unbound functions are left out (Ctrl-G was readline's
    abort). Our private sequences make C-x a prefix in vi-insert too; readline
    then shows its own binding as "C-x NUL", the key's binding when no other
    key follows, which is the same binding.
    """
    with open(os.path.join(folder, "state." + name)) as fh:
        opts, keys = fh.read().split("@keys\n")
    keys = [k.replace('"\\C-x\\000"', '"\\C-x"') for k in keys.splitlines() if not OURS.match(k) and not k.startswith("#")]
    return opts.splitlines(), keys


def _logging_python(folder: str) -> tuple:
    """A python that notes each start in a log, and the log's path."""
    log, logpy = os.path.join(folder, "starts.log"), os.path.join(folder, "logpy")
    with open(logpy, "w") as fh:
        # The client's operation: the request's first field, on its stdin (it takes no arguments).
        fh.write(
            '#!/bin/sh\nreq=$(mktemp) && cat >"$req"\n'
            "op=$(head -c 12 \"$req\" | tr '\\000' '\\n' | head -n 1)\n"
            f'case $op in translate|executed|closed|start|check) echo "$op" >> {log};; esac\n'
            f'exec <"$req"; rm -f "$req"; exec {sys.executable} "$@"\n'
        )
    os.chmod(logpy, 0o755)
    return log, logpy


def _starts(log: str) -> list:
    try:
        with open(log) as fh:
            return fh.read().split()
    except FileNotFoundError:
        return []


# bash's own options and readline bindings; python starts for our lines only: the first request (bash
# has no socket; it asks for pipes) and the reports.
def test_options_and_keys_unchanged_under_set_u_and_only_our_lines_start_the_client(shell_env, tmux, ollama, work):
    log, logpy = _logging_python(work)
    ollama.answer("set u flow request", "pwd", {})
    pane = shell_env.bash(
        tmux,
        cwd=work,
        before="set -u; HISTCONTROL=ignoreboth; PROMPT_COMMAND='__user_st=$?'\n" + BASH_STATE % work + "__spt_state rc-before",
        after=f"__spt_state rc-after; __shellper_python={logpy}",
    )
    pane.run("__spt_state fresh")
    pane.run("echo plain-$((6*7))", wait="plain-42")
    pane.run("false")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    pane.mark()
    pane.type("for w in 1 2; do")
    pane.send("Enter")
    pane.type("true; done")
    pane.send("Enter")
    pane.wait_prompt()
    assert _starts(log) == []  # ordinary lines start nothing
    translate(pane, "set u flow request")  # Ctrl-G, then run it: a request and a report
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    pane.run("echo after-$((1+1))", wait="after-2")  # reported no more
    fail_then_cancel(pane, ollama, "set u")  # a request each, nothing pending
    translate(pane, "#? set u flow request", key="Enter")  # "#?", then another line is run
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.run("false")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    pane.run("__spt_state used")
    pane.run("[[ $- == *u* ]] && echo set-u-$((1+1))", wait="set-u-2")

    assert "unbound variable" not in pane.screen()
    wait_until(lambda: len(_starts(log)) >= 3)
    time.sleep(0.2)
    # The first request starts the client; the later ones go through the terminal's pipes.
    assert _starts(log) == ["translate", "executed", "executed"]
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["command"], e["status"]) for e in hist["exchanges"]] == [("pwd", 0)]
    assert _state(work, "fresh") == _state(work, "used")
    opts0, keys0 = _state(work, "rc-before")
    opts1, keys1 = _state(work, "rc-after")
    assert opts0 == opts1
    assert "HISTCONTROL=ignoreboth" in opts1 and "set -o nounset" in opts1
    assert keys0 == keys1 and len(keys1) > 100


# A stand-in for starship's bash init without bash-preexec: it takes
# PROMPT_COMMAND over, keeps the old value in STARSHIP_PROMPT_COMMAND and
# evals it after setting $? back (other work in its precmd changes $?).
STARSHIP = r"""
__ss_ret() { return "${1:-0}"; }
__ss_precmd() {
  STARSHIP_CMD_STATUS=$?
  local jobs_n=0 j; for j in $(jobs -p); do jobs_n=$((jobs_n+1)); done
  if [[ -n ${STARSHIP_PROMPT_COMMAND-} ]]; then __ss_ret "$STARSHIP_CMD_STATUS"; eval "$STARSHIP_PROMPT_COMMAND"; fi
  PS1="$(printf 'SP$ ')"
}
if [[ -z ${PROMPT_COMMAND-} ]]; then PROMPT_COMMAND=__ss_precmd
elif [[ $PROMPT_COMMAND != *__ss_precmd* ]]; then STARSHIP_PROMPT_COMMAND=$PROMPT_COMMAND; PROMPT_COMMAND=__ss_precmd; fi
"""


# A prompt that takes PROMPT_COMMAND over (starship's bash init).
@pytest.mark.parametrize("order", ["starship-after", "starship-before"])
def test_a_prompt_that_takes_prompt_command_over_still_gets_the_right_status(shell_env, tmux, ollama, work, order):
    ollama.answer("show the missing one", "cat", {"file_name": "missing.txt"})
    user = "PROMPT_COMMAND='__user_st=$?'\n"
    if order == "starship-after":
        pane = shell_env.bash(tmux, cwd=work, before=user, after=STARSHIP)
    else:
        pane = shell_env.bash(tmux, cwd=work, before=user + STARSHIP)
    _user_hook_and_report_see_the_failed_status(shell_env, pane, "show the missing one")


def _user_hook_and_report_see_the_failed_status(shell_env, pane, request):
    """The user's PROMPT_COMMAND hook sees $? of a failing command before and after a
    suggestion (answered `cat missing.txt`) is run, and the report carries that status too."""
    pane.run("false")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    translate(pane, request)
    pane.wait_line("cat missing.txt", timeout=20)
    pane.run("")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    assert [(e["command"], e["status"]) for e in shell_env.history(pane.pid, settled=True)["exchanges"]] == [("cat missing.txt", 1)]


# -- a client that cannot start ------------------------------------------------------


# bash alone checks the client before it starts it, and changes the terminal modes while waiting.
@pytest.mark.parametrize("case", ["python-gone", "package-gone"])
def test_a_client_that_cannot_start_says_what_is_missing_and_keeps_the_terminal(shell_env, tmux, work, case):
    if case == "python-gone":
        python = os.path.join(shell_env.root, "gone-venv", "bin", "python")
    else:  # a Python without the package (-S: no site-packages), and the package's folder emptied
        python = os.path.join(shell_env.root, "bare-python")
        with open(python, "w") as fh:
            fh.write(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
        os.chmod(python, 0o755)
        os.makedirs(os.path.join(shell_env.root, "uninstalled"))
    log = os.path.join(work, f"stty-{case}")
    pkg = os.path.join(shell_env.root, "uninstalled")
    pane = shell_env.bash(
        tmux, cwd=work, after=f"__shellper_python='{python}' __shellper_pkg='{pkg}'\nbind -x '\"\\C-t\": stty -g >> {log}'"
    )
    pane.send("C-t")  # the terminal modes inside a key binding, before
    translate(pane, "list the files")
    # What ./install.sh --uninstall leaves: the Python it was given, or the package's folder, gone.
    pane.wait_for("shellper: shellper was uninstalled (its files are gone): `exec bash` unloads it from this terminal", timeout=10)
    pane.wait_line("list the files")
    pane.send("C-t")  # and after
    wait_until(lambda: os.path.exists(log) and len(open(log).read().split()) == 2)
    first, second = open(log).read().split()
    assert first == second
    # Ctrl-A / Ctrl-K still edit the line.
    pane.send("C-a", "C-k")
    pane.wait_line("")
    assert "^A" not in pane.screen()


def test_a_bash_without_pipes_asks_for_none_and_uses_its_client_each_time(shell_env, tmux, ollama, work):
    """bash before 5.0 (__shellper_pipes=0): no pipes are made for it, and every request still works."""
    log, logpy = _logging_python(work)
    ollama.answer("nopipe request", "ls", {"a": True})
    pane = shell_env.bash(tmux, cwd=work, after=f"__shellper_pipes=0 __shellper_python={logpy}")
    for _ in range(2):
        translate(pane, "nopipe request")
        pane.wait_line("ls -a", timeout=20)
        pane.send("C-u")
        pane.wait_line("")
    assert _starts(log) == ["translate", "translate"]
    assert not os.path.exists(f"{shell_env.pipes_dir()}/{pane.pid}.in")


# Through the client too, the translate and Enter's check carry bash's CDPATH (on the pipes: test_bash_pipes.py).
def test_cd_through_the_shells_cdpath_through_the_client(shell_env, tmux, ollama, work):
    os.mkdir(os.path.join(work, "here"))
    pane = shell_env.bash(tmux, cwd=os.path.join(work, "here"), after=f"__shellper_pipes=0 CDPATH='{work}/elsewhere'")
    cd_through_the_shells_cdpath(pane, ollama, work)


# -- Enter on a suggestion: judged again (test_bash_pipes.py: on the pipes and through the client) --


# Through the client (the stand-in's socket has no pipes): only the suggestion as inserted is asked
# about; an error says how to run it anyway; Ctrl-C while Enter waits keeps the line and runs nothing.
def test_enter_asks_about_the_inserted_suggestion_only(shell_env, tmux, work):
    asked_only_for_the_suggestion(shell_env, lambda after: shell_env.bash(tmux, cwd=work, after=after), "__shellper_socket=%s")
