"""What a user sees shellper do at the prompt, written once and run in zsh, bash and fish.

Every test drives a real interactive shell in tmux that loads shellper as
install.sh's rc block does (the saved `shellper init SHELL --static` file;
`shellper init` itself where a test changes the environment) and talks to a
real daemon, which talks to a stand-in Ollama.
What differs between the shells (keys, syntax, how to read the history) is
in shell_adapters.py; what only one shell has is tested in its own file
(test_shell_zsh.py, test_shell_bash.py, test_shell_fish.py).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import sys
import time

import pytest
from shell_adapters import CUSTOM_KEYS, EVERY, each
from shellharness import MESSAGE, ShellEnv, have, last_user_text, one_reply_server, translate, wait_until

from shellper_hook.protocol import decode_request

pytestmark = pytest.mark.skipif(not have("tmux"), reason="needs tmux")

# The behaviours a request's way to the daemon could change: bash once more on its pipes.
PIPED = each(pipes=True)


@pytest.fixture
def start(sh, shell_env, tmux, work):
    """start(before="", after="", env=None): a new `sh` in this test's folder, shellper loaded."""
    return functools.partial(sh.start, shell_env, tmux, work)


def type_lines(pane, *lines: str) -> None:
    """Type lines one after the other, Enter after each (one command over several lines)."""
    pane.mark()
    for line in lines:
        pane.type(line)
        pane.send("Enter")


def clear(pane) -> None:
    """Empty the line, and wait until a message about it has gone (zsh shows it below the line)."""
    pane.send("C-u")
    pane.wait_line("")
    pane.mark()
    wait_until(lambda: not MESSAGE.search(pane.since_mark()), timeout=3)


def exchanges(shell_env, pane, *fields: str) -> list:
    """The daemon's record of this shell once no report is on its way: `fields` of each exchange."""
    return [tuple(e[f] for f in fields) for e in shell_env.history(pane.pid, settled=True)["exchanges"]]


# -- the two triggers ------------------------------------------------------------


@pytest.mark.parametrize("sh", PIPED)
def test_ctrl_g_puts_the_command_on_the_line_and_cd_moves_this_shell(sh, start, ollama, work):
    os.mkdir(os.path.join(work, "reports"))
    ollama.answer("enter the reports folder", "cd", {"folder": "reports"})
    pane = start()
    translate(pane, "enter the reports folder")
    pane.wait_line("cd reports", timeout=20)
    wait_until(lambda: "translating" not in pane.since_mark(), timeout=2)  # the note is gone
    _, _, x = pane._cursor()
    assert x == len("SP$ cd reports")  # cursor at the end, ready to run
    assert last_user_text(ollama) == "enter the reports folder"
    pane.run("")
    pane.run("pwd", wait=os.path.join(work, "reports"))


@pytest.mark.parametrize("sh", PIPED)
def test_hash_request_and_enter_inserts_without_running_then_enter_runs(sh, start, ollama, shell_env, work):
    ollama.answer("make a folder called made", "mkdir", {"dir_name": "made"})
    pane = start()
    translate(pane, "#? make a folder called made", key="Enter")
    pane.wait_line("mkdir made", timeout=20)
    assert not os.path.exists(os.path.join(work, "made"))
    assert "command not found" not in pane.screen()
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))
    # The run is reported: the exchange is now history, as suggested.
    assert exchanges(shell_env, pane, "request", "command", "edited", "status") == [("make a folder called made", "mkdir made", False, 0)]


@pytest.mark.parametrize("sh", EVERY)
def test_ordinary_lines_multiline_input_and_comments_run_as_before(sh, start, ollama):
    pane = start()
    before = len(ollama.requests)
    pane.run(sh.sum("plain", 40, 2), wait="plain-42")
    type_lines(pane, *sh.loop("aa bb", "echo loop-$w"))
    pane.wait_for("loop-aa\nloop-bb")
    type_lines(pane, "echo cont\\", "inued")
    pane.wait_for("continued")
    # "#?" inside a command (a here-document, a quoted string) is text, not a request.
    type_lines(pane, *sh.hash_in_text)
    pane.wait_for(re.compile(r"^#\? not a request$", re.M))
    pane.run("echo hist-one", wait="hist-one")
    pane.mark()
    pane.send("Up")  # history recall, then Enter runs it
    pane.send("Enter")
    pane.wait_for("echo hist-one\nhist-one")
    if sh.history_recall:
        pane.run(sh.history_recall, wait="echo hist-one\nhist-one")
    if sh.search_key:
        pane.run(sh.sum("searched", 40, 2), wait="searched-42")
        pane.mark()
        pane.send(sh.search_key)  # incremental search, then Enter runs the match
        pane.type("searched-")
        pane.send("Enter")
        pane.wait_for("searched-42")
    # Comments behave as the shell decides; shellper turned no option on.
    if sh.comment_option:
        pane.run(*sh.comment_option)
    pane.run("# just a comment")
    pane.run("false")
    pane.run(sh.last_status("status"), wait="status-1")  # the status survives our prompt hooks
    assert len(ollama.requests) == before


# -- waiting, cancelling and failing ---------------------------------------------


@pytest.mark.parametrize("sh", PIPED)
def test_ctrl_c_while_translating_cancels_and_puts_the_request_back(sh, start, ollama):
    ollama.delay = 5.0
    pane = start()
    gone, asked = ollama.disconnects, len(ollama.requests)
    translate(pane, "take your time please")
    pane.wait_for("translating...")
    wait_until(lambda: len(ollama.requests) > asked)  # the model is working on it
    pane.send("C-c")
    pane.wait_for("shellper: cancelled", timeout=3)
    pane.wait_line("take your time please", timeout=3)
    wait_until(lambda: ollama.disconnects > gone)  # the daemon dropped the model call

    # The same through "#?": the line typed comes back as it was.
    pane.send("C-u")
    translate(pane, "#? slow again", key="Enter")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("#? slow again", timeout=3)
    # Nothing arrives later to overwrite it.
    ollama.delay = 0.0
    time.sleep(0.3)
    assert pane.line() == "#? slow again"
    # Ctrl-C stops a command as usual again afterwards.
    pane.send("C-u")
    pane.mark()
    pane.type("sleep 30")
    pane.send("Enter")
    time.sleep(0.3)
    pane.send("C-c")
    pane.wait_prompt(timeout=3)


@pytest.mark.parametrize("sh", EVERY)
def test_ctrl_g_again_while_translating_cancels_as_ctrl_c_does(sh, start, ollama):
    # "Ctrl-G again" reads as "never mind" (fish takes the key in when the answer comes).
    ollama.answer("second thoughts please", "ls", {})
    ollama.delay = 1.2
    pane = start()
    gone, asked = ollama.disconnects, len(ollama.requests)
    translate(pane, "#? second thoughts please", key="Enter")
    pane.wait_for("translating...")
    wait_until(lambda: len(ollama.requests) > asked)
    pane.send("C-g")
    pane.wait_for("shellper: cancelled", timeout=5)
    pane.wait_line("#? second thoughts please", timeout=3)
    if sh.name != "fish":
        wait_until(lambda: ollama.disconnects > gone)  # the daemon dropped the model call
    time.sleep(1.5)  # the answer would have come by now: it never lands
    assert pane.line() == "#? second thoughts please"
    assert "suggestion dropped" not in pane.since_mark()


@pytest.mark.parametrize("sh", PIPED)
def test_a_failing_model_server_leaves_the_request_and_says_why(sh, start, ollama):
    pane = start()
    for mode in ("500", "garbage", "empty"):
        ollama.mode = mode
        translate(pane, "list everything here")
        pane.wait_for(MESSAGE, timeout=20)
        pane.wait_line("list everything here")
        clear(pane)


@pytest.mark.parametrize("sh", EVERY)
def test_no_model_server_at_all_leaves_the_request_and_says_why(sh, tmux, work):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = ShellEnv(f"http://127.0.0.1:{port}/v1")
    try:
        pane = sh.start(down, tmux, work)
        translate(pane, "#? show me the files", key="Enter")
        pane.wait_for(MESSAGE, timeout=20)
        pane.wait_line("#? show me the files")
    finally:
        down.close()


@pytest.mark.parametrize("sh", PIPED)
def test_a_warning_is_shown_beside_the_inserted_command(sh, start, ollama):
    ollama.answer("show the notes", "cat", {"file_name": "notes.txt"})
    pane = start()
    translate(pane, "show the notes")
    pane.wait_line("cat notes.txt", timeout=20)
    pane.wait_for(re.compile(r"shellper: fails: notes\.txt is not there"))


@pytest.mark.parametrize("sh", EVERY)
def test_the_status_of_the_suggested_command_is_kept(sh, start, ollama, shell_env):
    ollama.answer("show a missing file", "cat", {"file_name": "missing"})
    pane = start()
    translate(pane, "show a missing file")
    pane.wait_line("cat missing", timeout=20)
    pane.run("")
    pane.run(sh.last_status("st"), wait="st-1")
    assert exchanges(shell_env, pane, "command", "status") == [("cat missing", 1)]


@pytest.mark.parametrize("sh", PIPED)
def test_the_effect_line_says_what_the_command_will_do(sh, start, ollama, work):
    with open(os.path.join(work, "old.log"), "w") as fh:
        fh.write("x" * 2048)
    ollama.answer("delete the old log", "rm", {"file_name": "old.log"})
    pane = start()
    translate(pane, "delete the old log")
    pane.wait_line("rm old.log", timeout=20)
    pane.wait_for(re.compile(r"shellper: deletes: old\.log \(2\.0 KB, changed just now\)"))
    assert os.path.exists(os.path.join(work, "old.log"))  # nothing ran: the user decides


# What a daemon that went wrong could send: none of it may change the line.
BROKEN_REPLIES = {
    "junk": b"this is not a reply",
    "hangup": b"",
    "empty-command": b"ok\0\0\0",
    "truncated": b"error\0",
    "terminal-escape": b"error\0x\0sets the \x1b]2;pwned\x07 title\0",
    "command-cut-short": b"ok\0rm -r -- -x y",
}


@pytest.mark.parametrize("sh", EVERY)
def test_a_broken_daemon_reply_leaves_the_request(sh, start, shell_env):
    path = os.path.join(shell_env.root, f"bad-{sh}.sock")
    reply = {}
    server, _ = one_reply_server(path, lambda _line: reply["now"])
    try:
        pane = start(env={"SHELLPER_SOCKET": path})
        for name, reply["now"] in BROKEN_REPLIES.items():
            translate(pane, f"anything at all {name}")  # (the name: in a failure's message)
            pane.wait_for(MESSAGE, timeout=10)
            pane.wait_line(f"anything at all {name}")
            clear(pane)
        assert pane.title() != "pwned"
    finally:
        server.close()


@pytest.mark.parametrize("sh", EVERY)
def test_only_the_line_run_after_a_suggestion_is_reported(sh, start, shell_env, work):
    path = os.path.join(shell_env.root, f"rec-{sh}.sock")
    # Enter on the suggestion asks the daemon to judge it again ("check"): the same, here.
    server, received = one_reply_server(path, lambda data: b"same\0\0\0" if data.startswith(b"check\0") else b"ok\0ls\0\0")
    try:
        pane = start(env={"SHELLPER_SOCKET": path})
        pane.run(sh.sum("a", 1, 1), wait="a-2")
        pane.run("false")
        type_lines(pane, *sh.loop("1 2", "true"))
        pane.wait_prompt()
        assert received == []  # ordinary lines cost nothing
        translate(pane, "list it")
        pane.wait_line("ls", timeout=10)
        pane.run("")
        pane.run(sh.sum("b", 2, 2), wait="b-4")
        wait_until(lambda: any(data.startswith(b"executed\0") for data in received))
        time.sleep(0.3)
        sent = [decode_request(data) for data in received]  # the one request format
        checks = [r for r in sent if r["op"] == "check"]
        assert [r["op"] for r in sent if r["op"] != "check"] == ["translate", "executed"]
        assert sent[0]["session"] == pane.pid and sent[0]["cwd"] == work and sent[0]["text"] == "list it"
        assert sent[0]["shell"] == sh.name
        assert (sent[-1]["session"], sent[-1]["command"], sent[-1]["status"]) == (pane.pid, "ls", 0)
        # The one Enter on the suggestion was checked once.
        assert len(checks) == 1
        assert all((r["session"], r["cwd"], r["command"], r["shell"]) == (pane.pid, work, "ls", sh.name) for r in checks)
    finally:
        server.close()


@pytest.mark.parametrize("sh", PIPED)
def test_a_stopped_daemon_comes_back_on_the_next_request(sh, start, ollama, shell_env):
    ollama.answer("after the stop", "ls", {"a": True})
    pane = start()
    assert shell_env.shellper("stop").returncode == 0
    translate(pane, "after the stop")
    pane.wait_line("ls -a", timeout=20)


@pytest.mark.parametrize("sh", PIPED)
def test_a_request_that_is_not_utf8_stays_with_a_message(sh, start, ollama):
    pane = start(after=sh.bad_bytes())
    asked = len(ollama.requests)
    for route in ("", sh.client_only) if sh.client_only else ("",):  # zsh: the socket, then the client
        if route:
            pane.run(route)
        sh.type_bad_bytes(pane)
        pane.wait_line(lambda line: line.startswith("bad") and line.endswith("bytes"))
        typed = pane.line()
        pane.mark()
        pane.send("C-g")
        pane.wait_for(MESSAGE, timeout=20)
        assert pane.line() == typed
        pane.send("C-u")
    assert len(ollama.requests) == asked


# -- recovering and following up -------------------------------------------------


@pytest.mark.parametrize("sh", EVERY)
def test_undo_brings_the_request_back_and_empty_ctrl_g_reshows_the_suggestion(sh, start, ollama):
    ollama.answer("where am i now", "pwd", {})
    pane = start()
    pane.mark()
    pane.send("C-g")  # nothing suggested yet: a hint, no request
    pane.wait_for("type a request first")
    translate(pane, "#?  ", key="Enter")
    pane.wait_for("type a request after #?")
    pane.wait_line("#?")
    pane.send("C-u")
    before = len(ollama.requests)
    translate(pane, "where am i now")
    pane.wait_line("pwd", timeout=20)
    assert len(ollama.requests) == before + 1
    pane.send(sh.undo)
    pane.wait_line("where am i now")
    pane.send("C-u")
    pane.send("C-g")
    pane.wait_line("pwd")
    assert len(ollama.requests) == before + 1  # shown again, not asked again


@pytest.mark.parametrize("sh", EVERY)
def test_an_edited_suggestion_is_learned_and_a_skipped_one_forgotten(sh, start, ollama, shell_env, work):
    ollama.answer("list the files", "ls", {})
    ollama.answer("make directory skipme", "mkdir", {"dir_name": "skipme"})
    ollama.answer("count the lines", "wc", {"file_name": "a b.txt"})
    pane = start()
    translate(pane, "list the files")
    pane.wait_line("ls", timeout=20)
    pane.type(" -a")
    pane.run("")
    translate(pane, "make directory skipme")
    pane.wait_line("mkdir skipme", timeout=20)
    pane.send("C-u")
    pane.run("echo something-else", wait="something-else")

    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [("list the files", "ls -a", True)]
    assert hist["exchanges"][0]["call"] == {"name": "ls", "arguments": {"a": True}}
    assert hist["pending"] is None

    translate(pane, "count the lines")
    pane.wait_line("wc -l 'a b.txt'", timeout=20)
    messages = ollama.requests[-1]["messages"]
    calls = [c["function"] for m in messages for c in m.get("tool_calls") or []]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("ls", {"a": True})]
    assert "skipme" not in json.dumps(messages)

    # An edit quoted the shell's own way is read back the same way.
    pane.send("C-u")
    ollama.answer("show it", "cat", {"file_name": "x"})
    translate(pane, "show it")
    pane.wait_line("cat x", timeout=20)
    pane.send("C-u")
    name = "it's \\ here"
    with open(os.path.join(work, name), "w") as fh:
        fh.write("edited-content\n")
    pane.run(f"cat {sh.quote(name)}", wait="edited-content")
    hist = shell_env.history(pane.pid, settled=True)
    assert hist["exchanges"][-1]["call"] == {"name": "cat", "arguments": {"file_name": name}}


@pytest.mark.parametrize("sh", EVERY)
def test_a_request_typed_right_after_running_a_suggestion_follows_it(sh, start, ollama, shell_env, work):
    # A python that is slow to report runs: the next request must still
    # reach the daemon after the report, or the run would be misfiled.
    slow = os.path.join(work, "slowpy")
    with open(slow, "w") as fh:
        fh.write(f'#!/bin/sh\ncase " $* " in *" executed "*) sleep 0.7;; esac\nexec {sys.executable} "$@"\n')
    os.chmod(slow, 0o755)
    ollama.answer("first of two", "ls", {})
    ollama.answer("second of two", "pwd", {})
    pane = start(after=f"{sh.client_only}\n{sh.set('__shellper_python', slow)}")
    translate(pane, "first of two")
    pane.wait_line("ls", timeout=20)
    pane.send("Enter")  # run it, and type the next request at once
    translate(pane, "second of two")
    pane.wait_line("pwd", timeout=20)
    hist = shell_env.history(pane.pid)
    assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [("first of two", "ls", False)]
    assert hist["pending"]["request"] == "second of two"
    assert "first of two" in json.dumps(ollama.requests[-1]["messages"])


@pytest.mark.parametrize("sh", EVERY)
def test_two_terminals_keep_separate_conversations(sh, start, ollama):
    ollama.answer("alpha show files", "ls", {})
    ollama.answer("beta where am i", "pwd", {})
    one, two = start(), start()
    translate(one, "alpha show files")
    one.wait_line("ls", timeout=20)
    one.run("")
    translate(two, "beta where am i")
    two.wait_line("pwd", timeout=20)
    two.run("")
    translate(one, "alpha once more")
    one.wait_line("pwd", timeout=20)
    text = json.dumps(ollama.requests[-1]["messages"])
    assert "alpha show files" in text and "beta" not in text
    translate(two, "beta once more")
    two.wait_line("pwd", timeout=20)
    text = json.dumps(ollama.requests[-1]["messages"])
    assert "beta where am i" in text and "alpha" not in text


@pytest.mark.parametrize("sh", PIPED)
def test_request_text_reaches_the_model_verbatim_and_nothing_in_it_runs(sh, start, ollama, work):
    # Every shell's expansions: $(...), (...), `...`, %self, history's !!.
    text = 'it\'s "quoted" \\back $(touch pwned) (touch pwned2) `touch pwned3` ; é ✓ %s %% %self {a,b} * !!'
    pane = start()
    translate(pane, text)
    pane.wait_line("pwd", timeout=20)
    assert last_user_text(ollama) == text
    for name in ("pwned", "pwned2", "pwned3"):
        assert not os.path.exists(os.path.join(work, name))


# Contents that mean something to one shell or another, unquoted.
ARGV_VALUES = [
    "it's",
    "a\\b",
    "\\'",
    "%self",
    "$fish_pid",
    "$HOME",
    "(touch PWNED)",
    "$(touch PWNED)",
    "`touch PWNED`",
    "{a,b}",
    "*",
    "~",
    "a?b",
    "-n",
    "x; touch PWNED",
    "a  b",
    "\\x41\\n",
    "é 中",
    "#c",
    "x&",
    "^y",
    "!!",
]


@pytest.mark.parametrize("sh", PIPED)
def test_inserted_commands_mean_the_intended_argv(sh, start, ollama, shell_env, work):
    """echo CONTENT >> FILE for hostile contents: run, the file holds exactly the content."""
    pane = start()
    for i, value in enumerate(ARGV_VALUES):
        request = f"proof number {i}"
        ollama.answer(request, "echo", {"content": value, "file_name": f"out {i}"})
        translate(pane, request)
        pane.wait_line(lambda line: line.startswith(("echo ", "printf ")), timeout=20)
        pane.run("")
        path = os.path.join(work, f"out {i}")
        wait_until(lambda: os.path.exists(path))
        with open(path, encoding="utf-8") as fh:
            assert fh.read() == value + "\n", value
    assert not os.path.exists(os.path.join(work, "PWNED"))
    # Read back as the same call.
    assert [e[0] for e in exchanges(shell_env, pane, "edited")] == [False] * len(ARGV_VALUES)


# -- keymaps, options and loading ------------------------------------------------


@pytest.mark.parametrize("sh", EVERY)
def test_vi_mode_both_keymaps_and_vi_undo(sh, start, ollama, shell_env):
    ollama.answer("vi list things", "ls", {"a": True})
    pane = start(before=sh.vi)
    if sh.vi_insert_undo:
        translate(pane, "vi list things")  # insert mode
        pane.wait_line("ls -a", timeout=20)
        pane.send(sh.vi_insert_undo)  # undo, still in insert mode
        pane.wait_line("vi list things")
        pane.send("C-u")
        pane.wait_line("")
    if sh.vi_undoes_insert:
        translate(pane, "vi list things")  # insert mode
        pane.wait_line("ls -a", timeout=20)
        pane.send("Escape")
        time.sleep(sh.escape_wait)
        pane.send("u")  # undo in command mode
    else:
        pane.type("vi list things")
        pane.send("Escape")
        time.sleep(sh.escape_wait)
    pane.wait_line("vi list things")
    pane.send("C-g")  # command mode
    pane.wait_line("ls -a", timeout=20)
    pane.send("u")
    pane.wait_line("vi list things")
    pane.send(*sh.vi_empty)  # back to insert mode on an empty line
    pane.wait_line("")
    translate(pane, "#? vi list things", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    pane.send("Escape")
    time.sleep(sh.escape_wait)
    pane.run("")  # Enter in command mode runs it
    assert exchanges(shell_env, pane, "command") == [("ls -a",)]


@pytest.mark.parametrize("sh", EVERY)
def test_vi_mode_chosen_after_loading_keeps_both_keymaps(sh, start, ollama):
    ollama.answer("later vi request", "pwd", {})
    pane = start(after=sh.vi)
    translate(pane, "later vi request")  # insert mode
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.type("later vi request")
    pane.send("Escape")
    time.sleep(sh.escape_wait)
    pane.send("C-g")  # command mode
    pane.wait_line("pwd", timeout=20)
    pane.send("u")
    pane.wait_line("later vi request")


@pytest.mark.parametrize("sh", PIPED)
def test_a_custom_key_replaces_ctrl_g_even_under_nounset(sh, start, ollama, shell_env, work):
    ollama.answer("custom key request", "pwd", {})
    pane = start(before=f"{sh.nounset}\n{sh.custom_key}")
    before = len(ollama.requests)
    pane.type("ctrl g is free")
    pane.send("C-g")  # no longer ours
    pane.send("C-u")
    translate(pane, "custom key request", key=CUSTOM_KEYS[0])
    pane.send(CUSTOM_KEYS[1])
    pane.wait_line("pwd", timeout=20)
    # Keys act in order: had Ctrl-G asked, its request would have come first.
    assert len(ollama.requests) == before + 1 and last_user_text(ollama) == "custom key request"
    pane.run("", wait=work)
    translate(pane, "#? custom key request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.run(sh.sum("still", 1, 1), wait="still-2")
    if sh.nounset_check:
        pane.run(sh.nounset_check, wait="nounset-still-on")
        assert sh.unset_error not in pane.screen()
    assert exchanges(shell_env, pane, "command") == [("pwd",)]


@pytest.mark.parametrize("sh", EVERY)
def test_loading_twice_hooks_once_and_keeps_the_last_suggestion(sh, start, ollama, shell_env, work):
    ollama.answer("twice request", "pwd", {})
    pane = start(after=sh.load)
    pane.run(sh.sum("once", 1, 1), wait="once-2")
    time.sleep(0.2)
    assert pane.since_mark().count("once-2") == 1  # Enter runs the line once
    probe, once = sh.hooks_once()
    pane.run(probe, wait=once)
    translate(pane, "#? twice request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    assert exchanges(shell_env, pane, "command") == [("pwd",)]
    # Loaded again in the running shell: still once, and the last suggestion stays.
    pane.run(sh.load)
    pane.send("C-g")
    pane.wait_line("pwd")
    pane.send("C-u")
    pane.run(probe, wait=once)


@pytest.mark.parametrize("sh", PIPED)
def test_shadowed_builtins_change_nothing_and_stay_the_users(sh, start, ollama, shell_env, work):
    """Aliases (zsh: global ones too) or functions (fish) for every builtin and command shellper
    calls: Ctrl-G, "#?" Enter, the report of the run line and Ctrl-C work, and they are still there."""
    ollama.answer("make a folder called safe", "mkdir", {"dir_name": "safe"})
    ollama.answer("where am i now", "pwd", {})
    ollama.answer("hostile functions request", "echo", {"content": "it's ok", "file_name": "None"})
    before, after = sh.hostile()
    pane = start(before=before, after=after)
    translate(pane, "make a folder called safe")
    pane.wait_line("mkdir safe", timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "safe"))
    assert exchanges(shell_env, pane, "request", "command", "status") == [("make a folder called safe", "mkdir safe", 0)]
    translate(pane, "#? where am i now", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    ollama.delay = 5.0
    translate(pane, "a slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_for("shellper: cancelled", timeout=3)
    pane.wait_line("a slow request", timeout=3)
    pane.send("C-u")
    ollama.delay = 0.0
    translate(pane, "hostile functions request")  # a quoted word, read back unedited
    pane.wait_line(lambda line: line.startswith("echo ") and line.endswith("s ok'"), timeout=20)
    pane.run("", wait="it's ok")
    assert exchanges(shell_env, pane, "edited")[-1] == (False,)
    seen = set(re.findall(r"HOSTILE-(\S+)", pane.screen()))
    assert seen <= sh.hostile_seen, seen
    sh.hostile_still_there(pane)


# An alias whose value ends in a blank has the shell alias-expand the next word too.
@pytest.mark.parametrize("sh", each(skip={"fish": "fish has no aliases (abbreviations: test_shell_fish.py)"}, pipes=True))
def test_an_alias_ending_in_a_blank_never_rewrites_the_next_word(sh, start, ollama, work, shell_env):
    with open(os.path.join(work, "notes"), "w") as fh:
        fh.write("the real notes\n")
    ollama.answer("show the notes file", "cat", {"file_name": "notes"})
    pane = start(before="alias cat='cat '\nalias notes='echo ALIAS-RAN'")
    translate(pane, "show the notes file")
    pane.wait_line(lambda line: line.startswith("cat ") and "notes" in line, timeout=20)
    pane.run("", wait="the real notes")
    assert "ALIAS-RAN" not in pane.since_mark()
    # Recalled on an empty line, it is quoted the same way; the run counts as the suggestion itself.
    pane.send("C-g")
    pane.wait_line(lambda line: line.startswith("cat ") and "notes" in line)
    pane.mark()
    pane.send("Enter")
    pane.wait_for("the real notes")
    assert "ALIAS-RAN" not in pane.since_mark()
    assert exchanges(shell_env, pane, "command", "edited") == [("cat 'notes'", False)]


# -- while translating -------------------------------------------------------------


@pytest.mark.parametrize("sh", PIPED)
def test_the_request_stays_in_sight_while_translating(sh, start, ollama):
    ollama.delay = 2.0
    pane = start()
    translate(pane, "keep me in sight please")
    pane.wait_for("translating...")
    assert "keep me in sight please" in pane.since_mark()


# (fish runs a key's function to its end: the client takes the keys typed meanwhile off the terminal.)
@pytest.mark.parametrize("sh", PIPED)
def test_keys_while_translating_never_run_the_line_and_typing_drops_the_answer(sh, start, ollama):
    ollama.answer("patience request", "ls", {})
    ollama.delay = 1.2  # (the Enter must land while it waits, on a loaded machine too)
    pane = start()
    translate(pane, "patience request")
    pane.wait_for("translating...")
    pane.send("Enter")  # not run as a command: still waiting
    # (An empty line: it ran.)
    assert pane.wait_line(lambda line: line in ("ls", ""), timeout=10) == "ls"
    assert "command not found" not in pane.screen()
    pane.send("C-u")
    asked = len(ollama.requests)
    translate(pane, "patience request")
    pane.wait_for("translating...")
    # The model has the request (typing before that could cancel it before it is sent: no answer to drop).
    wait_until(lambda: len(ollama.requests) > asked)
    pane.type(" and mor")  # the user changes the line: their text wins
    pane.send("BSpace")
    pane.type("re")
    pane.wait_for("suggestion dropped", timeout=10)
    pane.wait_line("patience request and more")
    time.sleep(ollama.delay + 0.3)  # the answer has come by now
    assert pane.line() == "patience request and more"
    assert "command not found" not in pane.screen()


# -- the request in the shell's own history ---------------------------------------------

NO_HISTORY = each(skip={"fish": "fish 3.x cannot add a history entry without running it (see test_shell_fish.py)"})
NO_HISTORY_PIPED = each(skip={"fish": "fish 3.x cannot add a history entry without running it (see test_shell_fish.py)"}, pipes=True)


@pytest.mark.parametrize("sh", NO_HISTORY_PIPED)
def test_a_run_suggestion_puts_its_request_in_the_history_and_up_enter_asks_again(sh, start, ollama, shell_env, work):
    ollama.answer("list the files here", "ls", {})
    # zsh's preexec loses the line after the extra entry, and its alias-expanded text would read as an edit.
    pane = start(before="alias ls='ls -F'")
    pane.run("echo first")
    translate(pane, "list the files here")
    pane.wait_line("ls", timeout=20)
    pane.run("")
    assert sh.history(pane, work, 3) == ["echo first", "#? list the files here", "ls"]
    # The run is still reported as typed.
    assert exchanges(shell_env, pane, "request", "command", "edited") == [("list the files here", "ls", False)]
    # Up (past the listing) recalls the request; Enter translates it, nothing runs.
    before = len(ollama.requests)
    pane.mark()
    pane.send("Up", "Up", "Up")
    pane.wait_line("#? list the files here")
    pane.send("Enter")
    pane.wait_line("ls", timeout=20)
    assert len(ollama.requests) == before + 1 and last_user_text(ollama) == "list the files here"
    assert "command not found" not in pane.since_mark()
    # The "#?" line given by hand is not stored twice: the entry comes once, with the command.
    pane.run("")
    listing = sh.listing(3, os.path.join(work, "hist.out"))
    assert sh.history(pane, work, 3) == [listing, "#? list the files here", "ls"]


@pytest.mark.parametrize("sh", NO_HISTORY)
def test_ordinary_lines_and_a_setting_of_0_put_nothing_in_the_history(sh, start, ollama, work):
    ollama.answer("show where i am", "pwd", {})
    pane = start()
    pane.run("echo plain")
    assert sh.history(pane, work, 1) == ["echo plain"]
    pane.run("SHELLPER_HISTORY=off")  # read as the line runs, not at load
    translate(pane, "show where i am")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    assert sh.history(pane, work, 2) == ["SHELLPER_HISTORY=off", "pwd"]
    pane.run("SHELLPER_HISTORY=1")
    translate(pane, "show where i am")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    assert sh.history(pane, work, 3) == ["SHELLPER_HISTORY=1", "#? show where i am", "pwd"]


# Each shell's ways of keeping lines that start with a space out of the history.
IGNORE_SPACE = [
    pytest.param(p.values[0], setting, marks=p.marks, id=f"{p.id}-{setting.replace('=', ' ').split()[-1] if setting else 'none'}")
    for p in NO_HISTORY
    for setting in (p.values[0].ignore_space or ("",))
]


@pytest.mark.parametrize("space", ["request", "command"])
@pytest.mark.parametrize(("sh", "setting"), IGNORE_SPACE)
def test_ignore_space_keeps_the_request_out_of_the_history(sh, setting, start, ollama, work, space):
    ollama.answer("show where i am", "pwd", {})
    pane = start(before=setting)
    pane.run("echo first")
    translate(pane, " show where i am" if space == "request" else "show where i am")
    pane.wait_line("pwd", timeout=20)
    if space == "command":
        pane.send("Home")
        pane.type(" ")
    pane.run("")
    pane.run("echo last")
    entries = sh.history(pane, work, 3)
    assert not any(e.startswith("#?") for e in entries), entries
    assert entries[-1] == "echo last"
    if space == "request":
        assert entries[-2] == "pwd"  # the command itself stays
    # Without the space, the same request does go in.
    translate(pane, "show where i am")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    assert sh.history(pane, work, 2) == ["#? show where i am", "pwd"]


@pytest.mark.parametrize("prefix", ["#ai", "??"])
@pytest.mark.parametrize("sh", NO_HISTORY)
def test_the_history_entry_uses_the_prefix_only_when_it_makes_a_comment(sh, start, ollama, work, prefix):
    # "?? request" recalled where shellper is not loaded (a shared history file) would run.
    ollama.answer("show where i am", "pwd", {})
    pane = start(before=sh.set("SHELLPER_PREFIX", prefix))
    translate(pane, f"{prefix} show where i am", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    entries = sh.history(pane, work, 2)
    if prefix == "#ai":
        assert entries == ["#ai show where i am", "pwd"]
    else:
        assert entries[-1] == "pwd" and not any(e.startswith("??") for e in entries), entries


@pytest.mark.parametrize("sh", NO_HISTORY)
def test_a_discarded_suggestion_leaves_its_request_out_of_the_history(sh, start, ollama, work):
    # Only requests whose suggestion ran belong in the history.
    ollama.answer("make directory skipme", "mkdir", {"dir_name": "skipme"})
    ollama.answer("show where i am", "pwd", {})
    pane = start()
    pane.run("echo first")
    translate(pane, "#? make directory skipme", key="Enter")
    pane.wait_line("mkdir skipme", timeout=20)
    pane.send("C-u")  # discarded
    pane.wait_line("")
    pane.run("echo other")
    assert sh.history(pane, work, 2) == ["echo first", "echo other"]
    # One that runs, edited, does go in.
    translate(pane, "#? show where i am", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.type(" -P")
    pane.run("")
    assert sh.history(pane, work, 2) == ["#? show where i am", "pwd -P"]


# -- after uninstalling ------------------------------------------------------------


@pytest.mark.parametrize("sh", EVERY)
def test_a_terminal_left_open_after_uninstalling_says_so(sh, start, work):
    # An install of the test's own (never the real one): a Python and the package's folder.
    inst = os.path.join(work, "inst")
    os.makedirs(os.path.join(inst, "bin"))
    os.symlink(sys.executable, os.path.join(inst, "bin", "python"))
    import shellper_hook

    shutil.copytree(
        os.path.dirname(shellper_hook.__file__), os.path.join(inst, "pkg", "shellper_hook"), ignore=shutil.ignore_patterns("__pycache__")
    )
    after = "\n".join(
        (
            sh.set("__shellper_python", os.path.join(inst, "bin", "python")),
            sh.set("__shellper_pkg", os.path.join(inst, "pkg")),
            sh.set("__shellper_socket", os.path.join(inst, "gone.sock")),
        )
    )  # its daemon stopped
    pane = start(after=after)
    shutil.rmtree(inst)  # ./install.sh --uninstall
    translate(pane, "list the files")
    unload = {"fish": "`__shellper_unload` (or `exec fish`)"}.get(sh.name, f"`exec {sh.name}`")
    pane.wait_for(f"shellper: shellper was uninstalled (its files are gone): {unload} unloads it from this terminal", timeout=10)
    pane.wait_line("list the files")
    assert "no answer from the daemon" not in pane.since_mark()
