"""The bash integration, driven in a real interactive bash inside tmux.

Every shell loads shellper the way a user does (`eval "$(shellper init bash)"`
in its rc file) and talks to a real daemon, which talks to a fake Ollama.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time

import pytest
from fake_ollama import FakeOllama
from shellharness import ShellEnv, Tmux, have, last_user_text, one_reply_server, translate, wait_until

pytestmark = pytest.mark.skipif(not (have("bash") and have("tmux")), reason="needs bash and tmux")

MESSAGE = re.compile(r"shellper: (?!translating)\S.*")
FZF = "/usr/share/doc/fzf/examples/key-bindings.bash"


@pytest.fixture(scope="module")
def fake():
    with FakeOllama() as server:
        yield server


@pytest.fixture(scope="module")
def tmux():
    with Tmux() as t:
        yield t


@pytest.fixture(scope="module")
def env(fake):
    e = ShellEnv(fake.base_url)
    yield e
    e.close()


@pytest.fixture(autouse=True)
def _fake_defaults(fake):
    fake.mode, fake.delay = "ok", 0.0
    yield
    fake.mode, fake.delay = "ok", 0.0


@pytest.fixture
def work(env, request):
    return env.workdir("b-" + request.node.name.replace("[", "-").replace("]", "")[:60])


# -- the two triggers ------------------------------------------------------------


def test_ctrl_g_puts_the_command_on_the_line_and_cd_moves_this_shell(env, tmux, fake, work):
    os.mkdir(os.path.join(work, "reports"))
    fake.answer("enter the reports folder", "cd", {"folder": "reports"})
    pane = env.bash(tmux, cwd=work)
    translate(pane, "enter the reports folder")
    pane.wait_line("cd reports", timeout=20)
    wait_until(lambda: "translating" not in pane.since_mark(), timeout=2)  # the note is gone
    _, _, x = pane._cursor()
    assert x == len("SP$ cd reports")  # cursor at the end, ready to run
    assert last_user_text(fake) == "enter the reports folder"
    pane.run("")
    pane.run("pwd", wait=os.path.join(work, "reports"))


def test_hash_request_and_enter_inserts_without_running_then_enter_runs(env, tmux, fake, work):
    fake.answer("make a folder called made", "mkdir", {"dir_name": "made"})
    pane = env.bash(tmux, cwd=work)
    translate(pane, "#? make a folder called made", key="Enter")
    pane.wait_line("mkdir made", timeout=20)
    assert not os.path.exists(os.path.join(work, "made"))
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))
    hist = env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["edited"], e["status"]) for e in hist["exchanges"]] == [
        ("make a folder called made", "mkdir made", False, 0)
    ]


def test_ordinary_lines_multiline_input_and_comments_run_as_before(env, tmux, fake, work):
    pane = env.bash(tmux, cwd=work)
    before = len(fake.requests)
    pane.run("echo plain-$((6*7))", wait="plain-42")
    pane.mark()
    pane.type("for w in aa bb; do")
    pane.send("Enter")
    pane.type("echo loop-$w; done")
    pane.send("Enter")
    pane.wait_for("loop-aa\nloop-bb")
    pane.mark()
    pane.type("echo cont\\")
    pane.send("Enter")
    pane.type("inued")
    pane.send("Enter")
    pane.wait_for("continued")
    # "#?" inside a here-document is text, not a request.
    pane.mark()
    pane.type("cat <<'EOF'")
    pane.send("Enter")
    pane.type("#? not a request")
    pane.send("Enter")
    pane.type("EOF")
    pane.send("Enter")
    pane.wait_for(re.compile(r"^#\? not a request$", re.M))
    pane.run("echo hist-one", wait="hist-one")
    pane.run("!!", wait="echo hist-one\nhist-one")
    pane.run("echo searched-$((40+2))", wait="searched-42")
    pane.mark()
    pane.send("C-r")  # incremental search, then Enter runs the match
    pane.type("searched-")
    pane.send("Enter")
    pane.wait_for("searched-42")
    pane.run("# just a comment")
    pane.run("shopt interactive_comments", wait=re.compile(r"interactive_comments\s+on"))
    pane.run("false")
    pane.run("echo status-$?", wait="status-1")  # $? survives our prompt hook
    assert len(fake.requests) == before


# -- waiting, cancelling and failing ---------------------------------------------


def test_ctrl_c_while_translating_cancels_and_puts_the_request_back(env, tmux, fake, work):
    fake.delay = 5.0
    pane = env.bash(tmux, cwd=work)
    gone, asked = fake.disconnects, len(fake.requests)
    translate(pane, "take your time please")
    pane.wait_for("translating...")
    wait_until(lambda: len(fake.requests) > asked)  # the model is working on it
    pane.send("C-c")
    pane.wait_for("shellper: cancelled", timeout=3)
    pane.wait_line("take your time please", timeout=3)
    wait_until(lambda: fake.disconnects > gone)  # the daemon dropped the model call

    pane.send("C-u")
    translate(pane, "#? slow again", key="Enter")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("#? slow again", timeout=3)
    # Ctrl-C works as usual again afterwards.
    pane.send("C-u")
    pane.mark()
    pane.type("sleep 30")
    pane.send("Enter")
    time.sleep(0.3)
    pane.send("C-c")
    pane.wait_prompt(timeout=3)


@pytest.mark.parametrize("mode", ["500", "garbage", "empty"])
def test_a_failing_model_server_leaves_the_request_and_says_why(env, tmux, fake, work, mode):
    fake.mode = mode
    pane = env.bash(tmux, cwd=work)
    translate(pane, "list everything here")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("list everything here")


def test_no_model_server_at_all_leaves_the_request_and_says_why(tmux, work):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = ShellEnv(f"http://127.0.0.1:{port}/v1")
    try:
        pane = down.bash(tmux, cwd=work)
        translate(pane, "#? show me the files", key="Enter")
        pane.wait_for(MESSAGE, timeout=20)
        pane.wait_line("#? show me the files")
    finally:
        down.close()


def test_a_warning_is_shown_beside_the_inserted_command(env, tmux, fake, work):
    fake.answer("show the notes", "cat", {"file_name": "notes.txt"})
    pane = env.bash(tmux, cwd=work)
    translate(pane, "show the notes")
    pane.wait_line("cat notes.txt", timeout=20)
    pane.wait_for(re.compile(r"shellper: .*notes\.txt'? does not exist"))
    pane.run("")  # it fails: the status is recorded with it
    assert [(e["command"], e["status"]) for e in env.history(pane.pid, settled=True)["exchanges"]] == [("cat notes.txt", 1)]


def test_the_effect_line_says_what_the_command_will_do(env, tmux, fake, work):
    with open(os.path.join(work, "old.log"), "w") as fh:
        fh.write("x" * 2048)
    fake.answer("delete the old log", "rm", {"file_name": "old.log"})
    pane = env.bash(tmux, cwd=work)
    translate(pane, "delete the old log")
    pane.wait_line("rm old.log", timeout=20)
    pane.wait_for(re.compile(r"shellper: deletes: old\.log \(2\.0 KB, changed just now\)"))
    assert os.path.exists(os.path.join(work, "old.log"))  # nothing ran: the user decides


@pytest.mark.parametrize(
    "reply",
    [b"this is not a reply", b"", b"ok\0\0\0", b"error\0", b"error\0x\0sets the \x1b]2;pwned\x07 title\0"],
    ids=["junk", "hangup", "empty-command", "truncated", "terminal-escape"],
)
def test_a_broken_daemon_reply_leaves_the_request(env, tmux, work, reply):
    path = os.path.join(env.root, "bad.sock")
    server, _ = one_reply_server(path, reply)
    try:
        pane = env.bash(tmux, cwd=work, before=f"export SHELLPER_SOCKET='{path}'")
        translate(pane, "anything at all")
        pane.wait_for(MESSAGE, timeout=10)
        pane.wait_line("anything at all")
        assert pane.title() != "pwned"
    finally:
        server.close()


def test_only_the_line_run_after_a_suggestion_is_reported(env, tmux, work):
    path = os.path.join(env.root, "rec-bash.sock")
    server, received = one_reply_server(path, b"ok\0ls\0\0")
    try:
        pane = env.bash(tmux, cwd=work, before=f"export SHELLPER_SOCKET='{path}'")
        pane.run("echo a-$((1+1))", wait="a-2")
        pane.run("false")
        pane.mark()
        pane.type("for w in 1 2; do")
        pane.send("Enter")
        pane.type("true; done")
        pane.send("Enter")
        pane.wait_prompt()
        assert received == []  # ordinary lines cost nothing
        translate(pane, "list it")
        pane.wait_line("ls", timeout=10)
        pane.run("")
        pane.run("echo b-$((2+2))", wait="b-4")
        wait_until(lambda: len(received) >= 2)
        time.sleep(0.3)
        sent = [json.loads(line) for line in received]
        assert [r["op"] for r in sent] == ["translate", "executed"]
        assert sent[0]["session"] == pane.pid and sent[0]["cwd"] == work and sent[0]["text"] == "list it"
        assert (sent[1]["session"], sent[1]["command"], sent[1]["status"]) == (pane.pid, "ls", 0)
    finally:
        server.close()


def test_a_stopped_daemon_comes_back_on_the_next_request(env, tmux, fake, work):
    fake.answer("after the stop", "ls", {"a": True})
    pane = env.bash(tmux, cwd=work)
    assert env.shellper("stop").returncode == 0
    translate(pane, "after the stop")
    pane.wait_line("ls -a", timeout=20)


def test_a_request_that_is_not_utf8_stays_with_a_message(env, tmux, fake, work):
    pane = env.bash(tmux, cwd=work)
    asked = len(fake.requests)
    pane.run("bind '\"\\C-t\": \"bad \\377 bytes\"'")  # a key that types the byte
    pane.send("C-t")
    pane.wait_line(lambda line: line.startswith("bad") and line.endswith("bytes"))
    typed = pane.line()
    pane.mark()
    pane.send("C-g")
    pane.wait_for(MESSAGE, timeout=20)
    assert pane.line() == typed
    assert len(fake.requests) == asked


# -- recovering and following up -------------------------------------------------


def test_undo_brings_the_request_back_and_empty_ctrl_g_reshows_the_suggestion(env, tmux, fake, work):
    fake.answer("where am i now", "pwd", {})
    pane = env.bash(tmux, cwd=work)
    pane.mark()
    pane.send("C-g")  # nothing suggested yet: a hint, no request
    pane.wait_for("type a request first")
    translate(pane, "#?  ", key="Enter")
    pane.wait_for("type a request after #?")
    pane.wait_line("#?")
    pane.send("C-u")
    before = len(fake.requests)
    translate(pane, "where am i now")
    pane.wait_line("pwd", timeout=20)
    assert len(fake.requests) == before + 1
    pane.send("C-_")
    pane.wait_line("where am i now")
    pane.send("C-u")
    pane.send("C-g")
    pane.wait_line("pwd")
    assert len(fake.requests) == before + 1  # shown again, not asked again


def test_an_edited_suggestion_is_learned_and_a_skipped_one_forgotten(env, tmux, fake, work):
    fake.answer("list the files", "ls", {})
    fake.answer("make directory skipme", "mkdir", {"dir_name": "skipme"})
    fake.answer("count the lines", "wc", {"file_name": "a.txt"})
    pane = env.bash(tmux, cwd=work)
    translate(pane, "list the files")
    pane.wait_line("ls", timeout=20)
    pane.type(" -a")
    pane.run("")
    translate(pane, "make directory skipme")
    pane.wait_line("mkdir skipme", timeout=20)
    pane.send("C-u")
    pane.run("printf 'something-%s\\n' else", wait="something-else")

    hist = env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [
        ("list the files", "ls -a", True)
    ]
    assert hist["exchanges"][0]["call"] == {"name": "ls", "arguments": {"a": True}}
    assert hist["pending"] is None

    translate(pane, "count the lines")
    pane.wait_line("wc -l a.txt", timeout=20)
    messages = fake.requests[-1]["messages"]
    calls = [c["function"] for m in messages for c in m.get("tool_calls") or []]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("ls", {"a": True})]
    assert "skipme" not in json.dumps(messages)


def test_a_request_typed_right_after_running_a_suggestion_follows_it(env, tmux, fake, work):
    # A python that is slow to report runs: the next request must still
    # reach the daemon after the report, or the run would be misfiled.
    slow = os.path.join(work, "slowpy")
    with open(slow, "w") as fh:
        fh.write(f'#!/bin/sh\n[ "$3" = executed ] && sleep 0.7\nexec {sys.executable} "$@"\n')
    os.chmod(slow, 0o755)
    fake.answer("first of two", "ls", {})
    fake.answer("second of two", "pwd", {})
    pane = env.bash(tmux, cwd=work, after=f"__shellper_python={slow}")
    translate(pane, "first of two")
    pane.wait_line("ls", timeout=20)
    pane.send("Enter")  # run it, and type the next request at once
    translate(pane, "second of two")
    pane.wait_line("pwd", timeout=20)
    hist = env.history(pane.pid)
    assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [("first of two", "ls", False)]
    assert hist["pending"]["request"] == "second of two"
    assert "first of two" in json.dumps(fake.requests[-1]["messages"])


def test_two_terminals_keep_separate_conversations(env, tmux, fake, work):
    fake.answer("alpha show files", "ls", {})
    fake.answer("beta where am i", "pwd", {})
    one = env.bash(tmux, cwd=work)
    two = env.bash(tmux, cwd=work)
    translate(one, "alpha show files")
    one.wait_line("ls", timeout=20)
    one.run("")
    translate(two, "beta where am i")
    two.wait_line("pwd", timeout=20)
    two.run("")
    translate(one, "alpha once more")
    one.wait_line("pwd", timeout=20)
    text = json.dumps(fake.requests[-1]["messages"])
    assert "alpha show files" in text and "beta" not in text
    translate(two, "beta once more")
    two.wait_line("pwd", timeout=20)
    text = json.dumps(fake.requests[-1]["messages"])
    assert "beta where am i" in text and "alpha" not in text


def test_request_text_reaches_the_model_verbatim_and_nothing_in_it_runs(env, tmux, fake, work):
    text = "it's \"quoted\" \\back $(touch pwned) `touch pwned2` ; é ✓ %s %% {a,b} * !!"
    pane = env.bash(tmux, cwd=work)
    translate(pane, text)
    pane.wait_line("pwd", timeout=20)
    assert last_user_text(fake) == text
    assert not os.path.exists(os.path.join(work, "pwned"))
    assert not os.path.exists(os.path.join(work, "pwned2"))


# -- keymaps, options, prompt hooks and other plugins ----------------------------


def test_vi_mode_both_keymaps_and_vi_undo(env, tmux, fake, work):
    fake.answer("vi list things", "ls", {"a": True})
    pane = env.bash(tmux, cwd=work, after="set -o vi")
    translate(pane, "vi list things")  # vi-insert
    pane.wait_line("ls -a", timeout=20)
    pane.send("C-_")  # undo, still in vi-insert
    pane.wait_line("vi list things")
    pane.send("Escape")
    time.sleep(0.6)  # past readline's keyseq-timeout, so Escape is not a prefix
    pane.send("C-g")  # vi-command
    pane.wait_line("ls -a", timeout=20)
    pane.send("u")
    pane.wait_line("vi list things")
    pane.send("S")  # back to insert on an empty line
    pane.wait_line("")
    translate(pane, "#? vi list things", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    pane.send("Escape")
    time.sleep(0.6)
    pane.run("")  # Enter in vi-command runs it
    hist = env.history(pane.pid, settled=True)
    assert [e["command"] for e in hist["exchanges"]] == ["ls -a"]


def test_nounset_and_a_custom_key(env, tmux, fake, work):
    fake.answer("nounset request", "pwd", {})
    pane = env.bash(tmux, cwd=work, before="set -u; SHELLPER_KEY='\\C-x\\C-t'")
    translate(pane, "nounset request", key="C-x")
    pane.send("C-t")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    translate(pane, "#? nounset request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.run("printf 'still-%s\\n' fine", wait="still-fine")
    pane.run("[[ $- == *u* ]] && echo nounset-still-on", wait="nounset-still-on")
    assert "unbound variable" not in pane.screen()
    assert [e["command"] for e in env.history(pane.pid, settled=True)["exchanges"]] == ["pwd"]


@pytest.mark.parametrize(
    "setup",
    ["PROMPT_COMMAND='__user_st=$?'", "PROMPT_COMMAND=('__user_st=$?')"],
    ids=["string", "array"],
)
def test_an_existing_prompt_command_keeps_running_with_the_right_status(env, tmux, fake, work, setup):
    fake.answer("fail to show", "cat", {"file_name": "missing.txt"})
    pane = env.bash(tmux, cwd=work, before=setup)
    _user_hook_and_report_see_the_failed_status(env, pane, "fail to show")


@pytest.mark.skipif(not os.path.exists(FZF), reason="needs fzf's key bindings")
def test_with_fzf_key_bindings(env, tmux, fake, work):
    fake.answer("fuzzy request", "ls", {"a": True})
    pane = env.bash(tmux, cwd=work, before=f"source {FZF}")
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
    assert [e["command"] for e in env.history(pane.pid, settled=True)["exchanges"]] == ["ls -a"]


def test_loading_twice_binds_enter_once(env, tmux, fake, work):
    fake.answer("twice request", "pwd", {})
    pane = env.bash(tmux, cwd=work, after='eval "$(shellper init bash)"')
    pane.run("echo once-$((1+1))", wait="once-2")
    time.sleep(0.2)
    assert pane.since_mark().count("once-2") == 1
    pane.run("echo \"$PROMPT_COMMAND\"", wait="__shellper_precmd")
    assert pane.since_mark().count("__shellper_precmd") == 1
    translate(pane, "#? twice request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    assert [e["command"] for e in env.history(pane.pid, settled=True)["exchanges"]] == ["pwd"]


# -- manners: nothing of the user's shell changes, ordinary lines cost nothing ---

BASH_STATE = (
    "__spt_state() {\n"
    "  { shopt -p; set +o; echo \"HISTCONTROL=${HISTCONTROL-(unset)}\"; echo @keys\n"
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


def _logging_python(work: str) -> tuple:
    """A python that notes each start in a log, and the log's path."""
    log = os.path.join(work, "starts.log")
    logpy = os.path.join(work, "logpy")
    with open(logpy, "w") as fh:
        # The client's operation: the first of its words (the options before it vary).
        fh.write(f'#!/bin/sh\nfor a; do case $a in translate|executed|closed|start|check) echo "$a" >> {log}; break;; esac; done\n'
                 f'exec {sys.executable} "$@"\n')
    os.chmod(logpy, 0o755)
    return log, logpy


def _starts(log: str) -> list:
    try:
        with open(log) as fh:
            return fh.read().split()
    except FileNotFoundError:
        return []


def test_options_and_keys_unchanged_under_set_u_and_only_our_lines_start_the_client(env, tmux, fake, work):
    log, logpy = _logging_python(work)
    fake.answer("set u flow request", "pwd", {})
    pane = env.bash(
        tmux, cwd=work,
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
    fake.mode = "500"  # an error: a request, nothing pending
    translate(pane, "set u flow request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("set u flow request")
    pane.send("C-u")
    fake.mode, fake.delay = "ok", 5.0  # Ctrl-C: a request, nothing pending
    translate(pane, "set u slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_for("shellper: cancelled", timeout=3)
    pane.wait_line("set u slow request", timeout=3)
    pane.send("C-u")
    fake.delay = 0.0
    translate(pane, "#? set u flow request", key="Enter")  # "#?", then another line is run
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.run("false")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    pane.run("__spt_state used")
    pane.run("[[ $- == *u* ]] && echo set-u-$((1+1))", wait="set-u-2")

    assert "unbound variable" not in pane.screen()
    wait_until(lambda: len(_starts(log)) >= 6)
    time.sleep(0.2)
    assert _starts(log) == ["translate", "executed", "translate", "translate", "translate", "executed"]
    hist = env.history(pane.pid, settled=True)
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


@pytest.mark.parametrize("order", ["starship-after", "starship-before"])
def test_a_prompt_that_takes_prompt_command_over_still_gets_the_right_status(env, tmux, fake, work, order):
    fake.answer("show the missing one", "cat", {"file_name": "missing.txt"})
    user = "PROMPT_COMMAND='__user_st=$?'\n"
    if order == "starship-after":
        pane = env.bash(tmux, cwd=work, before=user, after=STARSHIP)
    else:
        pane = env.bash(tmux, cwd=work, before=user + STARSHIP)
    _user_hook_and_report_see_the_failed_status(env, pane, "show the missing one")


def _user_hook_and_report_see_the_failed_status(env, pane, request):
    """The user's PROMPT_COMMAND hook sees $? of a failing command before and after a
    suggestion (answered `cat missing.txt`) is run, and the report carries that status too."""
    pane.run("false")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    translate(pane, request)
    pane.wait_line("cat missing.txt", timeout=20)
    pane.run("")
    pane.run("echo user-saw-$__user_st", wait="user-saw-1")
    assert [(e["command"], e["status"]) for e in env.history(pane.pid, settled=True)["exchanges"]] == [("cat missing.txt", 1)]


# -- issue 10 / 11: aliases, a client that cannot start, waiting ---------------------


def test_hostile_aliases_of_the_builtins_used_change_nothing_and_stay(env, tmux, fake, work):
    """Aliases loaded before shellper for every builtin and command it calls: Ctrl-G, "#?"
    Enter, the report of the run line and Ctrl-C work, and the aliases are still there."""
    from shellharness import hostile_aliases

    fake.answer("make a folder called safe", "mkdir", {"dir_name": "safe"})
    fake.answer("where am i now", "pwd", {})
    pane = env.bash(tmux, cwd=work, before=hostile_aliases("bash"))
    translate(pane, "make a folder called safe")
    pane.wait_line("mkdir safe", timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "safe"))
    hist = env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["status"]) for e in hist["exchanges"]] == [
        ("make a folder called safe", "mkdir safe", 0)
    ]
    translate(pane, "#? where am i now", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    fake.delay = 5.0
    translate(pane, "a slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_for("shellper: cancelled", timeout=3)
    pane.wait_line("a slow request", timeout=3)
    pane.send("C-u")
    assert "HOSTILE" not in pane.screen()
    pane.run(r"\builtin alias read stty; \builtin shopt expand_aliases", wait="expand_aliases")
    out = pane.since_mark()
    assert "alias read='echo HOSTILE-read'" in out and "alias stty='echo HOSTILE-stty'" in out
    assert re.search(r"expand_aliases\s+on", out)


@pytest.mark.parametrize("case", ["python-gone", "package-gone"])
def test_a_client_that_cannot_start_says_what_is_missing_and_keeps_the_terminal(env, tmux, work, case):
    if case == "python-gone":
        python = os.path.join(env.root, "gone-venv", "bin", "python")
        missing = f"cannot start {python}: not found"
    else:  # a Python without the package (-S: no site-packages), and the package's folder emptied
        python = os.path.join(env.root, "bare-python")
        with open(python, "w") as fh:
            fh.write(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
        os.chmod(python, 0o755)
        os.makedirs(os.path.join(env.root, "uninstalled"))
        missing = "the shellper package is gone"
    log = os.path.join(work, f"stty-{case}")
    pkg = os.path.join(env.root, "uninstalled")
    pane = env.bash(tmux, cwd=work, after=f"__shellper_python='{python}' __shellper_pkg='{pkg}'\n"
                    f"bind -x '\"\\C-t\": stty -g >> {log}'")
    pane.send("C-t")  # the terminal modes inside a key binding, before
    translate(pane, "list the files")
    pane.wait_for(missing, timeout=10)
    assert "reinstall with ./install.sh" in pane.since_mark()
    pane.wait_line("list the files")
    pane.send("C-t")  # and after
    wait_until(lambda: os.path.exists(log) and len(open(log).read().split()) == 2)
    first, second = open(log).read().split()
    assert first == second
    # Ctrl-A / Ctrl-K still edit the line.
    pane.send("C-a", "C-k")
    pane.wait_line("")
    assert "^A" not in pane.screen()


def test_the_request_stays_in_sight_while_translating(env, tmux, fake, work):
    fake.delay = 2.0
    pane = env.bash(tmux, cwd=work)
    translate(pane, "keep me in sight please")
    pane.wait_for("translating...")
    assert "keep me in sight please" in pane.since_mark()


def test_typing_while_translating_keeps_the_keys_and_drops_the_answer(env, tmux, fake, work):
    fake.delay = 2.0
    fake.answer("patience request", "ls", {})
    pane = env.bash(tmux, cwd=work)
    translate(pane, "patience request")
    pane.wait_for("translating...")
    pane.send("Enter")  # not run as a command: still waiting
    time.sleep(0.2)
    pane.type(" and mor")
    pane.send("BSpace")
    pane.type("re")
    pane.wait_for("suggestion dropped", timeout=10)
    pane.wait_line("patience request and more")
    time.sleep(2.5)  # the answer would have arrived by now
    assert pane.line() == "patience request and more"
    assert "command not found" not in pane.screen()


# -- the request in the shell's own history ---------------------------------------------


def _history(pane, work: str, count: int) -> list:
    """The last `count` history entries before the command that lists them."""
    out = os.path.join(work, "hist.out")
    pane.run(f"history {count + 1} >| {out}")
    with open(out) as fh:
        entries = [re.sub(r"^\s*\d+\*?\s+", "", line) for line in fh.read().splitlines()]
    return entries[:-1]


def test_a_run_suggestion_puts_its_request_in_the_history_and_up_enter_asks_again(env, tmux, fake, work):
    fake.answer("list the files here", "ls", {})
    pane = env.bash(tmux, cwd=work)
    pane.run("echo first")
    translate(pane, "list the files here")
    pane.wait_line("ls", timeout=20)
    pane.run("")
    assert _history(pane, work, 3) == ["echo first", "#? list the files here", "ls"]
    hist = env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [
        ("list the files here", "ls", False)
    ]
    # Up (past the listing) recalls the request; Enter translates it, nothing runs.
    before = len(fake.requests)
    pane.mark()
    pane.send("Up", "Up", "Up")
    pane.wait_line("#? list the files here")
    pane.send("Enter")
    pane.wait_line("ls", timeout=20)
    assert len(fake.requests) == before + 1 and last_user_text(fake) == "list the files here"
    assert "command not found" not in pane.since_mark()
    # The "#?" line given by hand is not stored; the entry comes once, with the command.
    pane.run("")
    assert _history(pane, work, 3) == [f"history 4 >| {os.path.join(work, 'hist.out')}", "#? list the files here", "ls"]


def test_ordinary_lines_and_a_setting_of_0_put_nothing_in_the_history(env, tmux, fake, work):
    fake.answer("show where i am", "pwd", {})
    pane = env.bash(tmux, cwd=work)
    pane.run("echo plain")
    assert _history(pane, work, 1) == ["echo plain"]
    pane.run("SHELLPER_HISTORY=off")  # read as the line runs, not at load
    translate(pane, "show where i am")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    assert _history(pane, work, 2) == ["SHELLPER_HISTORY=off", "pwd"]
    pane.run("SHELLPER_HISTORY=1")
    translate(pane, "show where i am")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    assert _history(pane, work, 3) == ["SHELLPER_HISTORY=1", "#? show where i am", "pwd"]


@pytest.mark.parametrize("control", ["ignorespace", "ignoreboth"])
@pytest.mark.parametrize("space", ["request", "command"])
def test_ignore_space_keeps_the_request_out_of_the_history(env, tmux, fake, work, space, control):
    fake.answer("show where i am", "pwd", {})
    pane = env.bash(tmux, cwd=work, before=f"HISTCONTROL={control}")
    pane.run("echo first")
    translate(pane, " show where i am" if space == "request" else "show where i am")
    pane.wait_line("pwd", timeout=20)
    if space == "command":
        pane.send("Home")
        pane.type(" ")
    pane.run("")
    pane.run("echo last")
    entries = _history(pane, work, 3)
    assert not any(e.startswith("#?") for e in entries), entries
    assert entries[-1] == "echo last"
    if space == "request":
        assert entries[-2] == "pwd"  # the command itself stays
    # Without the space, the same request does go in.
    translate(pane, "show where i am")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    assert _history(pane, work, 2) == ["#? show where i am", "pwd"]


@pytest.mark.parametrize("prefix", ["#ai", "??"])
def test_the_history_entry_uses_the_prefix_only_when_it_makes_a_comment(env, tmux, fake, work, prefix):
    # "?? request" recalled where shellper is not loaded (a shared history file) would run.
    fake.answer("show where i am", "pwd", {})
    pane = env.bash(tmux, cwd=work, before=f"SHELLPER_PREFIX='{prefix}'")
    translate(pane, f"{prefix} show where i am", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    entries = _history(pane, work, 2)
    if prefix == "#ai":
        assert entries == ["#ai show where i am", "pwd"]
    else:
        assert entries[-1] == "pwd" and not any(e.startswith("??") for e in entries), entries
