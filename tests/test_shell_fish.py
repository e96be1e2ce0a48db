"""What only fish has: its Enter bindings, functions, abbreviations, history and start-up.

A real interactive fish (3.6, Debian's) in tmux loads shellper the way a user
does (`shellper init fish | source` from its config) and talks to a real
daemon, which talks to a stand-in Ollama. Autosuggestions are off except
where their coexistence is tested (their grey text is on the line). What
every shell does is tested once for all in test_shell_behaviour.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from shell_adapters import ADAPTERS
from shellharness import (
    HOSTILE_FISH,
    ShellEnv,
    asked_only_for_the_suggestion,
    cd_through_the_shells_cdpath,
    enter_while_checking_runs_nothing,
    fail_then_cancel,
    have,
    judged_again_at_enter,
    translate,
    wait_until,
)

pytestmark = pytest.mark.skipif(not (have("fish") and have("tmux")), reason="needs fish and tmux")

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", "shellper.fish")
FISH = ADAPTERS["fish"]
FZF = "/usr/share/doc/fzf/examples/key-bindings.fish"


def fish(shell_env, tmux, work, before="", after=""):
    """A fish in `work` with shellper loaded, autosuggestions off."""
    return FISH.start(shell_env, tmux, work, before=before, after=after)


def version() -> tuple:
    out = subprocess.run(["fish", "--version"], capture_output=True, text=True).stdout
    return tuple(int(x) for x in re.search(r"(\d+)\.(\d+)", out).groups())


def test_the_fish_tested_is_3_6_or_newer():
    assert version() >= (3, 6)


# -- keys and other plugins ------------------------------------------------------


# fish binds Enter itself per mode, and leaves a mode where the user bound it.
def test_your_own_enter_binding_stays(shell_env, tmux, ollama, work):
    pane = fish(shell_env, tmux, work, before="bind \\r 'echo; echo own-enter; commandline -f execute'")
    pane.run("echo x", wait="own-enter")
    pane.run("bind \\r", wait="own-enter")


# fish's own autosuggestions, and fzf's fish key bindings.
def test_with_autosuggestions_and_fzf(shell_env, tmux, ollama, work):
    ollama.answer("suggest along", "ls", {"a": True})
    pane = shell_env.fish(tmux, cwd=work, before=f"source {FZF}; fzf_key_bindings", after="")
    pane.run("echo ls -a-and-more-history", wait="ls -a-and-more-history")
    pane.run("ls -a")
    translate(pane, "suggest along")
    pane.wait_line(lambda line: line.startswith("ls -a"), timeout=20)
    pane.send("C-u")
    pane.run("echo ran-it", wait="ran-it")
    # fzf's own keys are still fzf's.
    pane.run("bind \\ct", wait="fzf")
    hist = shell_env.history(pane.pid, settled=True)
    assert hist["pending"] is None


# -- the user's shell stays as it was --------------------------------------------

FISH_STATE = r"""
function __spt_state
    begin
        echo @functions
        for f in (functions -a -n)
            string match -q -r '^(__shellper_|__spt_)' -- $f; and continue
            echo; echo "== $f"
            functions $f
        end
        echo @vars
        set -g | string match -rv '^(__shellper_|__spt_|_ |status|pipestatus|CMD_DURATION|history|PWD|OLDPWD|dirprev|dirnext|COLUMNS|LINES|fish_bind_mode|fish_killring|status_generation|__fish_|fish_pid|last_pid|SHLVL|umask|fish_cursor_|SHELLPER_TEST)'
        echo @binds
        bind -a | string match -v -e __shellper_
    end > %s/state.$argv[1]
end
"""


# (Not `source` or `functions`: fish's own start-up breaks without them.)
def _state(folder: str, name: str) -> dict:
    with open(os.path.join(folder, "state." + name), encoding="utf-8") as fh:
        text = fh.read()
    functions, rest = text.split("@vars\n")
    variables, binds = rest.split("@binds\n")
    bodies = dict(chunk.split("\n", 1) for chunk in functions.split("\n== ")[1:])
    # Where fish says it loaded a function from varies (config.fish or its own file): not the function.
    bodies = {k: re.sub(r"^# Defined in \S+ @ line \d+\n", "# Defined\n", v) for k, v in bodies.items()}
    return {"functions": bodies, "vars": variables.splitlines(), "binds": binds.splitlines()}


def _same_functions(before: dict, after: dict) -> None:
    """Every function defined before is unchanged; new ones are fish's own, autoloaded."""
    assert {k: v for k, v in after.items() if k in before} == before
    for name, body in after.items():
        if name not in before:
            assert body.startswith("# Defined\n") and name.startswith(("__fish", "fish_", "_")), name


# fish's own functions, variables and bindings; python starts for our lines only (fish has no socket).
def test_functions_variables_and_bindings_unchanged_through_every_flow(shell_env, tmux, ollama, work):
    # python starts only for requests, Enter on a suggestion, and the report of a suggested line.
    log = os.path.join(work, "starts.log")
    logpy = os.path.join(work, "logpy")
    with open(logpy, "w") as fh:
        fh.write(
            "#!/bin/sh\n"
            f"note() {{ [ -n \"$done\" ] || tr '\\0' '\\n' < \"$f\" | head -n 1 >> {log}; done=1; }}\n"
            "f=$(mktemp); done=; trap 'note; rm -f \"$f\"; exit 130' INT\n"
            'cat > "$f"; note; trap - INT\n'
            f'exec 3< "$f"; rm -f "$f"; exec {sys.executable} "$@" <&3 3<&-\n'
        )  # the client's operation (the request's first field), noted even when a Ctrl-C comes at once
    os.chmod(logpy, 0o755)
    ollama.answer("state flow request", "pwd", {})
    pane = fish(
        shell_env,
        tmux,
        work,
        before=FISH_STATE % work + "\n__spt_state rc-before",
        after=f"__spt_state rc-after; set -g __shellper_python {logpy}",
    )
    pane.run("__spt_state fresh")
    pane.run("echo plain-(math 6 \\* 7)", wait="plain-42")
    pane.run("false")
    translate(pane, "state flow request")  # Ctrl-G, then run it
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    translate(pane, "#? state flow request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-z")  # undo
    pane.wait_line("#? state flow request")
    pane.send("C-u")
    pane.send("C-g")  # recall
    pane.wait_line("pwd")
    pane.send("C-u")
    fail_then_cancel(pane, ollama, "state")
    pane.run("__spt_state used")

    with open(log) as fh:
        ops = fh.read().split()
    # No client for the plain lines; one check (Enter on the suggestion), two reports (it ran; the
    # unrun "#?" one skipped). How many translates the cancelled one logs depends on when the
    # Ctrl-C lands (before fish starts the client, or while the logger runs).
    assert ops[:3] == ["translate", "check", "executed"] and ops[-1] == "executed", ops
    assert set(ops) == {"translate", "check", "executed"} and ops.count("check") == 1 and ops.count("executed") == 2, ops
    assert [(e["command"], e["status"]) for e in shell_env.history(pane.pid, settled=True)["exchanges"]] == [("pwd", 0)]
    fresh, used = _state(work, "fresh"), _state(work, "used")
    assert (fresh["vars"], fresh["binds"]) == (used["vars"], used["binds"])
    _same_functions(fresh["functions"], used["functions"])
    before, after = _state(work, "rc-before"), _state(work, "rc-after")
    assert before["binds"] == after["binds"]
    assert before["vars"] == after["vars"]
    _same_functions(before["functions"], after["functions"])


# -- the request fish sends ------------------------------------------------------------

# A stand-in for the client (run as __shellper_python): it keeps its argv, folder,
# environment and the bytes on its stdin, and answers as the client does for fish.
STANDIN_CLIENT = """#!{python}
import json, os, sys
data = sys.stdin.buffer.read()
with open({log!r}, "a") as fh:
    kept = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "environ": dict(os.environ), "data": data.decode("utf-8", "surrogateescape")}}
    fh.write(json.dumps(kept) + "\\n")
op = data.split(b"\\0", 1)[0]
sys.stdout.buffer.write({{b"translate": b"ok\\0echo fished-it; false\\0\\0\\0", b"check": b"same\\0\\0\\0\\0"}}.get(op, b""))
"""


# Every request is protocol.py's one format on the client's stdin (the client takes no
# arguments): op, pid, "fish", cwd, text, the request's own fields, then the terminal's
# environment: exported SHELLPER_* variables, HOME and XDG_CONFIG_HOME, and CDPATH (a list)
# joined with ':'. Python alone reads what they mean.
def test_every_request_goes_to_the_client_in_the_one_request_format(shell_env, tmux, work):
    from shellper_hook.protocol import decode_request

    log = os.path.join(work, "requests.log")
    client = os.path.join(work, "client")
    with open(client, "w") as fh:
        fh.write(STANDIN_CLIENT.format(python=sys.executable, log=log))
    os.chmod(client, 0o755)
    after = (
        f"set -g __shellper_python {client}; set -g __shellper_pkg ''; set -g __shellper_socket ''\n"
        "set -gx SHELLPER_MODEL 'm =1'; set -gx SHELLPER_NOT_A_SETTING x; set -gx OTHER o\n"
        "set -gu SHELLPER_TIMEOUT 9\n"  # not exported: not the terminal's environment
        f"set -g CDPATH /a '{work}/b c'"
    )
    pane = fish(shell_env, tmux, work, after=after)

    def kept() -> list:
        if not os.path.exists(log):
            return []
        with open(log) as fh:
            return [json.loads(line) for line in fh]

    translate(pane, "list the fish files")
    pane.wait_line("echo fished-it; false", timeout=10)
    pane.mark()
    pane.send("Enter")  # checked ("same"), run, reported with its status
    pane.wait_for(re.compile(r"^fished-it$", re.M))
    wait_until(lambda: len(kept()) == 3)
    pane.type("exit")
    pane.send("Enter")
    wait_until(lambda: len(kept()) == 4)

    got = kept()
    environ = got[0]["environ"]  # fish's exported variables, as the client got them
    env = {k: v for k, v in environ.items() if k.startswith("SHELLPER_") or k in ("HOME", "XDG_CONFIG_HOME")}
    assert env["SHELLPER_MODEL"] == "m =1" and env["HOME"] == shell_env.home and "SHELLPER_TIMEOUT" not in env
    env["CDPATH"] = f"/a:{work}/b c"
    sent = []
    for call in got:
        assert call["argv"] == ["-m", "shellper_hook.client"] and call["cwd"] == "/", call
        data = call["data"].encode("utf-8", "surrogateescape")
        assert data.endswith(b"\0\0"), data
        fields = data[:-2].decode().split("\0")
        sent.append((*fields[:5], dict(f.split("=", 1) for f in fields[5:])))
        decode_request(data)  # Python reads it
    pid, cwd = str(pane.pid), os.path.realpath(work)
    assert [(op, p, sh, os.path.realpath(c)) for op, p, sh, c, *_ in sent] == [
        (op, pid, "fish", cwd) for op in ("translate", "check", "executed", "closed")
    ]
    assert [(text, named) for *_, text, named in sent] == [
        ("list the fish files", env),
        ("echo fished-it; false", env),
        ("echo fished-it; false", {"status": "1", **env}),
        ("", env),
    ]


# A user's function shadows a fish builtin wherever it is called bare (zsh and bash
# read their scripts with aliases off): shellper.fish calls none of them bare.
# (The effect, with the functions defined: test_shell_behaviour.py.)
def test_the_script_calls_no_shadowable_name_bare():
    with open(SCRIPT, encoding="utf-8") as fh:
        code = [line.split("#")[0] for line in fh if not line.lstrip().startswith("#")]
    for name in HOSTILE_FISH:
        assert not any(re.search(rf"(^|[;(|]|and |or |not )\s*{name}\b", line) for line in code), name


# fish's abbreviations (its counterpart of zsh's global aliases).
def test_an_abbreviation_never_rewrites_the_inserted_command(shell_env, tmux, ollama, work):
    # fish expands the abbreviation under the cursor on Enter: like zsh's global aliases.
    with open(os.path.join(work, "L"), "w") as fh:
        fh.write("content-of-L\n")
    ollama.answer("show the ell file", "cat", {"file_name": "L"})
    pane = fish(shell_env, tmux, work, before="abbr -a --position anywhere L '| wc -c'")
    translate(pane, "show the ell file")
    pane.wait_line("cat 'L'", timeout=20)
    pane.run("", wait="content-of-L")
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["command"], e["edited"]) for e in hist["exchanges"]] == [("cat 'L'", False)]
    pane.run("abbr -q L; and echo still-there", wait="still-there")


# The fish manual's regex abbreviation, expanding anywhere: Enter expands the word at the
# cursor, and `cp -r pkg/. ...` (a folder named ...) ran as `cp -r pkg/. ../../` (issue 19, item 20).
MULTICD = (
    "function multicd; echo cd (string repeat -n (math (string length -- $argv[1]) - 1) ../); end\n"
    "abbr --add dotdot --regex '^\\.\\.+$' --function multicd --position anywhere"
)


def test_a_regex_abbreviation_never_rewrites_the_inserted_command(shell_env, tmux, ollama, work):
    top = os.path.join(work, "a", "b")  # ../../ from here stays inside the test's folder
    for rel, content in (("pkg/README", "package\n"), ("notes.txt", "notes\n")):
        os.makedirs(os.path.dirname(os.path.join(top, rel)), exist_ok=True)
        with open(os.path.join(top, rel), "w") as fh:
            fh.write(content)
    os.mkdir(os.path.join(top, "..."))
    ollama.answer("copy the package into dots", "cp", {"source": "pkg/.", "destination": "..."})
    ollama.answer("move the notes into dots", "mv", {"source": "notes.txt", "destination": "..."})
    pane = fish(shell_env, tmux, top, before=MULTICD)
    # Ctrl-G, then Enter with the cursor where the suggestion put it.
    translate(pane, "copy the package into dots")
    pane.wait_line("cp -r pkg/. ...", timeout=20)
    pane.send("Enter")
    wait_until(lambda: os.path.exists(os.path.join(top, "...", "README")), timeout=5)
    pane.wait_prompt()
    # "#?" and Enter, then Enter in vi normal mode: the cursor is on the last word's last character.
    pane.run(FISH.vi)
    translate(pane, "#? move the notes into dots", key="Enter")
    pane.wait_line("mv notes.txt ...", timeout=20)
    pane.send("Escape")
    time.sleep(FISH.escape_wait)
    pane.send("Enter")
    wait_until(lambda: os.path.exists(os.path.join(top, "...", "notes.txt")), timeout=5)
    pane.wait_prompt()
    assert sorted(os.listdir(work)) == ["a"] and sorted(os.listdir(os.path.join(work, "a"))) == ["b"]
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["command"], e["edited"]) for e in hist["exchanges"]] == [("cp -r pkg/. ...", False), ("mv notes.txt ...", False)]
    pane.run("echo ...", wait="cd ../../")  # the user's own line: the abbreviation is theirs


# -- start, exit and history ----------------------------------------------------


# fish's start-up and exit hooks (zsh's and bash's: test_shell_autostart.py, test_shell_exit.py).
def test_a_new_fish_starts_the_daemon_in_the_background_unless_told_not_to(ollama, tmux, work):
    for value, starts in (("1", True), ("off", False)):
        fresh = ShellEnv(ollama.base_url, {"SHELLPER_AUTOSTART": value})
        try:
            pane = FISH.start(fresh, tmux, work)
            if starts:
                wait_until(lambda: fresh.daemon_pid() is not None, timeout=10)
                # $last_pid is not shellper's starter (fish itself may start a job on a first run).
                pane.run("echo last=[$last_pid]", wait=re.compile(r"last=\[(\d*)\]"))
                last = re.search(r"last=\[(\d*)\]", pane.since_mark()).group(1)
                if last and os.path.exists(f"/proc/{last}/cmdline"):
                    with open(f"/proc/{last}/cmdline", "rb") as fh:
                        assert b"shellper" not in fh.read()
                assert "Job" not in pane.screen() and "shellper_hook" not in pane.screen()
            else:
                time.sleep(1.5)  # a background start would have a daemon listening by now
                assert fresh.daemon_pid() is None
        finally:
            fresh.close()


def test_an_exited_fish_is_forgotten_within_seconds(shell_env, tmux, ollama, work):
    import sqlite3

    ollama.answer("make the exit dir", "mkdir", {"dir_name": "made"})
    pane = fish(shell_env, tmux, work)
    translate(pane, "make the exit dir")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    wait_until(lambda: shell_env.history(pane.pid, settled=True)["exchanges"], timeout=5)
    pane.type("exit")
    pane.send("Enter")
    db = os.path.join(shell_env.env["XDG_STATE_HOME"], "shellper", "sessions.sqlite3")

    def stored() -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM exchanges WHERE pid=?", (pane.pid,)).fetchone()[0]

    wait_until(lambda: stored() == 0, timeout=5)


def test_fish_history_keeps_the_command_run_and_no_request_line(shell_env, tmux, ollama, work):
    # fish 3.x cannot add a history entry without running it (no `history
    # append`): as documented, the request is not in fish's history, and the
    # "#?" line, translated instead of run, is not either.
    ollama.answer("show where i am", "pwd", {})
    pane = fish(shell_env, tmux, work)
    pane.run("echo first")
    translate(pane, "#? show where i am", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    out = os.path.join(work, "hist.out")
    pane.run(f"history search --max 2 > {out}")
    with open(out) as fh:
        assert fh.read().splitlines() == ["pwd", "echo first"]


# -- Enter on a suggestion: judged again on the files as they are ------------------


# fish asks through the client, as its translate request goes.
def test_enter_judges_the_suggestion_again_and_runs_nothing_that_changed(shell_env, tmux, ollama, work):
    judged_again_at_enter(
        shell_env,
        ollama,
        lambda cwd: fish(shell_env, tmux, cwd),
        to_vi="set -g fish_key_bindings fish_vi_key_bindings",
        escape_wait=FISH.escape_wait,
    )


def test_enter_asks_about_the_inserted_suggestion_only(shell_env, tmux, work):
    asked_only_for_the_suggestion(shell_env, lambda after: fish(shell_env, tmux, work, after=after), "set -g __shellper_socket %s")


# An Enter pressed while the first one waits for the check never runs the line unseen (the
# client takes the keys off the terminal, as while translating).
def test_enter_pressed_while_checking_runs_nothing(shell_env, tmux, work):
    enter_while_checking_runs_nothing(shell_env, lambda after: fish(shell_env, tmux, work, after=after), "set -g __shellper_socket %s")


# The look predicts where `cd d` goes with fish's own CDPATH (a list, sent joined with ':'), not the
# daemon's; Enter's check uses it too (else the first Enter says it changed).
def test_cd_through_the_shells_cdpath(shell_env, tmux, ollama, work):
    os.mkdir(os.path.join(work, "here"))
    pane = fish(shell_env, tmux, os.path.join(work, "here"), after=f"set -g CDPATH /nonexistent {work}/elsewhere")
    cd_through_the_shells_cdpath(pane, ollama, work)
