"""Loading shellper and using it leaves the user's shell as it was.

A real interactive zsh and bash (tmux) snapshot their own state into a file
before any widget use and after every widget path (success, the report of a
run suggestion, "#?" Enter, the recall of the last suggestion on an empty
line, a server error, a refused call, Ctrl-C, a daemon that cannot start, a
client that does not exist): open file descriptors with their targets,
options, traps, aliases, key bindings, terminal modes and variables. Every
snapshot must equal the first one; a failure prints the diff.
"""

from __future__ import annotations

import difflib
import os
import re
import sys

import pytest
from shellharness import MESSAGE, have, translate

pytestmark = pytest.mark.skipif(
    not (have("zsh") and have("bash") and have("tmux") and os.path.isdir("/proc/self/fd")),
    reason="needs zsh, bash, tmux and /proc",
)

VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor", "ohmyzsh")
OHMYZSH = f"compdef() {{ }}\nsource {VENDOR}/directories.zsh\nsource {VENDOR}/common-aliases.plugin.zsh\n"

# The snapshot, written by the shell itself into DIR/state.NAME. Its open
# file descriptors are read from outside (/proc/PID/fd) while it waits at
# the prompt: from inside, each command's own pipes and files would show.
ZSH_STATE = r"""
__spt_state() {
  {
    print -r -- @options; setopt
    print -r -- @traps; trap
    print -r -- @aliases; alias -L
    print -r -- @keys; bindkey -lL; for __spt_m in ${(f)"$(bindkey -l)"}; do bindkey -LM $__spt_m; done
    print -r -- @stty; command stty -g
    print -r -- @vars; typeset -p
  } >| DIR/state.$1 2>&1
}
"""
BASH_STATE = r"""
__spt_state() {
  {
    echo @options; set +o; shopt -p
    echo @traps; trap -p
    echo @aliases; alias -p
    echo @keys; bind -v; for __spt_m in emacs-standard vi-insert vi-command; do bind -m $__spt_m -p; bind -m $__spt_m -s; bind -m $__spt_m -X; done
    echo @stty; command stty -g
    echo @vars; declare -p
  } >| DIR/state.$1 2>&1
}
"""

# Variables that change by themselves or by running any line at all (the
# snapshot is taken by running one): the snapshot's own argument (argv) and
# caller line, counters and clocks, the history number, and the line zsh
# keeps after any Ctrl-C (ZLE_LINE_ABORTED).
VOLATILE = {
    "zsh": {"argv", "RANDOM", "SECONDS", "HISTCMD", "ZLE_LINE_ABORTED"},
    "bash": {"BASH_LINENO", "RANDOM", "SECONDS", "HISTCMD"},
}
VAR = re.compile(r"^(?:typeset|declare|export|local|readonly|integer|float)(?: -[-\w+]+)* (?:-- )?([^=\s]+)")


def _sections(path: str) -> dict:
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    out, name = {}, None
    for line in text.split("\n"):
        if line.startswith("@") and line[1:] in ("fds", "options", "traps", "aliases", "keys", "stty", "vars"):
            name = line[1:]
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def _vars(lines: list, shell: str) -> list:
    """The variable lines, without shellper's own and the volatile ones.

    A value may span lines; continuation lines stay with their variable.
    """
    kept, keep = [], True
    for line in lines:
        m = VAR.match(line)
        if m:
            name = m.group(1)
            keep = not (name.startswith("__shellper_") or name.startswith("__spt_") or name in VOLATILE[shell])
        if keep:
            kept.append(line)
    return kept


def fds(pid: int) -> list:
    """The open file descriptors of process pid, with their targets."""
    folder = f"/proc/{pid}/fd"
    out = []
    for fd in sorted(os.listdir(folder), key=int):
        try:
            out.append(f"{fd} -> {os.readlink(os.path.join(folder, fd))}")
        except FileNotFoundError:
            pass
    return out


REPORT_PIPE = re.compile(r"^\d{2,} -> pipe:")


def state(folder: str, name: str, shell: str) -> dict:
    s = _sections(os.path.join(folder, "state." + name))
    s["vars"] = _vars(s.get("vars", []), shell)
    if os.path.exists(os.path.join(folder, "fds." + name)):
        with open(os.path.join(folder, "fds." + name)) as fh:
            lines = fh.read().splitlines()
        # The report of a line run after a suggestion goes out in the
        # background and holds one pipe (fd 10 or above) until the next command
        # line or request: the only fd shellper keeps between prompts.
        pipes = [line for line in lines if REPORT_PIPE.match(line)]
        s["fds"] = [line for line in lines if line not in pipes[:1]]
    return s


def assert_same(folder: str, shell: str, before: str, after: str, skip=()) -> None:
    a, b = state(folder, before, shell), state(folder, after, shell)
    problems = []
    for key in sorted(set(a) | set(b)):
        if key in skip:
            continue
        if a.get(key) != b.get(key):
            diff = difflib.unified_diff(a.get(key, []), b.get(key, []), before, after, lineterm="", n=1)
            problems.append(f"-- {key} --\n" + "\n".join(diff))
    assert not problems, f"{shell}: the shell changed between {before!r} and {after!r}:\n" + "\n".join(problems)


def _clear(pane, vi: bool) -> None:
    """Empty the command line (vi: S in command mode, which also enters insert mode)."""
    if vi:
        pane.send("Escape")
        pane.send("S")
    else:
        pane.send("C-u")
    pane.wait_line("")


def _broken_pythons(work: str) -> tuple:
    """A python whose daemon cannot start (its socket path is under a file), and one that is missing."""
    blocker = os.path.join(work, "not-a-dir")
    open(blocker, "w").close()
    down = os.path.join(work, "downpy")
    with open(down, "w") as fh:
        fh.write(f'#!/bin/sh\nSHELLPER_SOCKET={blocker}/s.sock exec {sys.executable} "$@"\n')
    os.chmod(down, 0o755)
    return down, os.path.join(work, "no-such-dir", "python3")


@pytest.mark.parametrize("shell", ["zsh", "bash"])
@pytest.mark.parametrize("mode", ["emacs", "vi"])
def test_every_widget_path_leaves_the_shell_as_it_was(shell_env, tmux, ollama, shell, mode):
    work = shell_env.workdir(f"inv-{shell}-{mode}")
    vi = mode == "vi"
    ollama.answer("invariant ok request", "mkdir", {"dir_name": "made"})
    ollama.answer("invariant refused request", "rm", {"file_name": "/"})
    down, missing = _broken_pythons(work)
    if shell == "zsh":
        before = OHMYZSH + "setopt nounset\n" + ("bindkey -v\n" if vi else "") + ZSH_STATE.replace("DIR", work)
        # The modules shellper loads (its header says so; zsh/parameter loads
        # itself on first use) add their own special variables.
        before += "zmodload zsh/parameter zsh/zleparameter zsh/system zsh/net/socket\n"
        pane = shell_env.zsh(tmux, cwd=work, before=before + "__spt_state rc-before", after="__spt_state rc-after")
    else:
        before = "set -u\n" + ("set -o vi\n" if vi else "") + BASH_STATE.replace("DIR", work)
        pane = shell_env.bash(tmux, cwd=work, before=before + "__spt_state rc-before", after="__spt_state rc-after")
    paths = []

    def snap(name: str) -> None:
        # The fds first: the snapshot's line may itself be reported.
        with open(os.path.join(work, "fds." + name), "w") as fh:
            fh.write("\n".join(fds(pane.pid)) + "\n")
        pane.mark()
        pane.type(f"__spt_state {name}")
        pane.wait_line(f"__spt_state {name}", timeout=5)
        pane.send("Enter")
        pane.wait_prompt()
        paths.append(name)

    snap("fresh")
    # Success: the command is inserted.
    translate(pane, "invariant ok request")
    pane.wait_line("mkdir made", timeout=20)
    _clear(pane, vi)
    snap("success")
    # The empty line brings the last suggestion back.
    pane.send("C-g")
    pane.wait_line("mkdir made", timeout=5)
    _clear(pane, vi)
    snap("recall")
    # Run it: the report goes to the daemon.
    translate(pane, "invariant ok request")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))
    shell_env.history(pane.pid, settled=True)
    snap("report")
    # "#?" and Enter.
    translate(pane, "#? invariant ok request", key="Enter")
    pane.wait_line("mkdir made", timeout=20)
    _clear(pane, vi)
    snap("hash-enter")
    # The model server fails.
    ollama.mode = "500"
    translate(pane, "invariant error request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("invariant error request")
    ollama.mode = "ok"
    _clear(pane, vi)
    snap("error")
    # The policy refuses the call.
    translate(pane, "invariant refused request")
    pane.wait_for(re.compile(r"shellper: refused"), timeout=20)
    pane.wait_line("invariant refused request")
    _clear(pane, vi)
    snap("refused")
    # Ctrl-C while translating.
    ollama.delay = 5.0
    translate(pane, "invariant slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("invariant slow request", timeout=5)
    ollama.delay = 0.0
    _clear(pane, vi)
    snap("cancel")
    # No daemon, and none can start.
    pane.run(f"__shellper_socket= __shellper_python={down}")
    translate(pane, "invariant down request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("invariant down request")
    _clear(pane, vi)
    snap("daemon-down")
    # The client does not exist.
    pane.run(f"__shellper_python={missing}")
    translate(pane, "invariant missing request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("invariant missing request")
    _clear(pane, vi)
    snap("client-missing")

    for name in paths[1:]:
        assert_same(work, shell, "fresh", name)
    # The match of a user's regex survives Enter on the next line.
    pane.run("[[ abc =~ a(b)c ]]")
    matched = "${BASH_REMATCH[1]-}" if shell == "bash" else "${match[1]-}"
    pane.run(f'echo "rematch=[{matched}]"', wait="rematch=[b]")
    # Error messages of later commands still reach the terminal.
    pane.run("ls /no-such-path-for-invariants", wait="No such file or directory")
    # Loading shellper adds its key, its hooks and its own variables, nothing else.
    # (zshexit_functions and bash's EXIT trap: the exit hook that tells the daemon the terminal closed;
    # zshaddhistory_functions: the hook that puts a run suggestion's request in the history.)
    hooks = {"zsh": {"precmd_functions", "preexec_functions", "zshexit_functions", "zshaddhistory_functions"}, "bash": {"PROMPT_COMMAND"}}[
        shell
    ]
    a, b = state(work, "rc-before", shell), state(work, "rc-after", shell)
    exit_trap = ["trap -- '__shellper_exit' EXIT"] if shell == "bash" else []
    assert a["options"] == b["options"] and exit_trap + a["traps"] == b["traps"]
    assert a["aliases"] == b["aliases"] and a["stty"] == b["stty"]
    strip = lambda lines: [line for line in lines if not (VAR.match(line) and VAR.match(line).group(1) in hooks)]  # noqa: E731
    assert strip(a["vars"]) == strip(b["vars"]), "\n".join(difflib.unified_diff(strip(a["vars"]), strip(b["vars"]), lineterm="", n=1))


@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_the_report_pipe_is_closed_before_the_next_command_runs(shell_env, tmux, ollama, shell):
    """A report's pipe held past the next Enter could be an fd number the user's
    command opens itself (`exec 10>log`), and shellper would later close theirs."""
    work = shell_env.workdir(f"reportfd-{shell}")
    ollama.answer("report pipe request", "mkdir", {"dir_name": "made"})
    pane = shell_env.zsh(tmux, cwd=work) if shell == "zsh" else shell_env.bash(tmux, cwd=work)
    translate(pane, "report pipe request")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    shell_env.history(pane.pid, settled=True)
    pane.run("echo next-command", wait="next-command")
    assert not [fd for fd in fds(pane.pid) if REPORT_PIPE.match(fd)], fds(pane.pid)
    # The user's own fd 10 and up stay theirs through the next request.
    # (zsh reads only one digit in `N>`; its users name fds with {var}.)
    if shell == "bash":
        open_line, close_line = "exec 10>mine.log; echo one >&10", "echo two >&10; exec 10>&-"
    else:
        open_line, close_line = "exec {myfd}>mine.log; echo one >&$myfd", "echo two >&$myfd; exec {myfd}>&-"
    pane.run(open_line)
    translate(pane, "report pipe request")
    pane.wait_line("mkdir made", timeout=20)
    pane.send("C-u")
    pane.run(close_line)
    with open(os.path.join(work, "mine.log")) as fh:
        assert fh.read() == "one\ntwo\n"
