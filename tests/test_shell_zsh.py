"""The zsh integration, driven in a real interactive zsh inside tmux.

Every shell loads shellper the way a user does (`eval "$(shellper init zsh)"`
in .zshrc) and talks to a real daemon, which talks to a fake Ollama.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from fake_ollama import FakeOllama
from hypothesis import given, settings
from hypothesis import strategies as st
from shellharness import ShellEnv, Tmux, have, last_user_text, one_reply_server, translate, wait_until

pytestmark = pytest.mark.skipif(not (have("zsh") and have("tmux")), reason="needs zsh and tmux")

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", "shellper.zsh")
MESSAGE = re.compile(r"shellper: (?!translating)\S.*")
AUTOSUGGEST = "/usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh"
HIGHLIGHT = "/usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh"
FZF = "/usr/share/doc/fzf/examples/key-bindings.zsh"


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
    return env.workdir(request.node.name.replace("[", "-").replace("]", "")[:60])


# -- the two triggers ------------------------------------------------------------


def test_ctrl_g_puts_the_command_on_the_line_and_cd_moves_this_shell(env, tmux, fake, work):
    os.mkdir(os.path.join(work, "reports"))
    fake.answer("enter the reports folder", "cd", {"folder": "reports"})
    pane = env.zsh(tmux, cwd=work)
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
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "#? make a folder called made", key="Enter")
    pane.wait_line("mkdir made", timeout=20)
    assert not os.path.exists(os.path.join(work, "made"))
    assert "command not found" not in pane.screen()
    pane.run("")
    assert os.path.isdir(os.path.join(work, "made"))
    # The run is reported: the exchange is now history, as suggested.
    hist = env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["edited"], e["status"]) for e in hist["exchanges"]] == [
        ("make a folder called made", "mkdir made", False, 0)
    ]


def test_ordinary_lines_multiline_input_and_comments_run_as_before(env, tmux, fake, work):
    pane = env.zsh(tmux, cwd=work)
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
    # Comments behave as zsh decides; shellper turned no option on.
    pane.run("[[ -o interactivecomments ]] && echo comments-on || echo comments-off", wait="comments-off")
    pane.run("# just a comment")
    assert len(fake.requests) == before


# -- waiting, cancelling and failing ---------------------------------------------


def test_ctrl_c_while_translating_cancels_and_puts_the_request_back(env, tmux, fake, work):
    fake.delay = 5.0
    pane = env.zsh(tmux, cwd=work)
    gone, asked = fake.disconnects, len(fake.requests)
    translate(pane, "take your time please")
    pane.wait_for("translating...")
    wait_until(lambda: len(fake.requests) > asked)  # the model is working on it
    pane.send("C-c")
    pane.wait_line("take your time please", timeout=3)
    pane.wait_for("shellper: cancelled")
    wait_until(lambda: fake.disconnects > gone)  # the daemon dropped the model call

    # The same through "#?": the line typed comes back as it was.
    pane.send("C-u")
    translate(pane, "#? slow again", key="Enter")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("#? slow again", timeout=3)
    # Nothing arrives later to overwrite it.
    fake.delay = 0.0
    time.sleep(0.3)
    assert pane.line() == "#? slow again"


@pytest.mark.parametrize("mode", ["500", "garbage", "empty"])
def test_a_failing_model_server_leaves_the_request_and_says_why(env, tmux, fake, work, mode):
    fake.mode = mode
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "list everything here")
    pane.wait_for(MESSAGE, timeout=20)
    assert pane.line() == "list everything here"


def test_no_model_server_at_all_leaves_the_request_and_says_why(tmux, work):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = ShellEnv(f"http://127.0.0.1:{port}/v1")
    try:
        pane = down.zsh(tmux, cwd=work)
        translate(pane, "#? show me the files", key="Enter")
        pane.wait_for(MESSAGE, timeout=20)
        assert pane.line() == "#? show me the files"
    finally:
        down.close()


def test_without_the_socket_path_the_client_does_everything(env, tmux, fake, work):
    # What a user gets by sourcing the script directly: no zsocket, only the client.
    fake.answer("client only request", "ls", {"a": True})
    pane = env.zsh(tmux, cwd=work, after="__shellper_socket=")
    translate(pane, "client only request")
    pane.wait_line("ls -a", timeout=20)
    pane.run("")
    hist = env.history(pane.pid, settled=True)
    assert [(e["command"], e["edited"], e["status"]) for e in hist["exchanges"]] == [("ls -a", False, 0)]


def test_a_warning_is_shown_beside_the_inserted_command(env, tmux, fake, work):
    fake.answer("show the notes", "cat", {"file_name": "notes.txt"})
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "show the notes")
    pane.wait_line("cat notes.txt", timeout=20)
    pane.wait_for(re.compile(r"shellper: .*notes\.txt'? does not exist"))


def test_the_effect_line_says_what_the_command_will_do(env, tmux, fake, work):
    with open(os.path.join(work, "old.log"), "w") as fh:
        fh.write("x" * 2048)
    fake.answer("delete the old log", "rm", {"file_name": "old.log"})
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "delete the old log")
    pane.wait_line("rm old.log", timeout=20)
    pane.wait_for(re.compile(r"shellper: deletes: old\.log \(2\.0 KB, changed just now\)"))
    assert os.path.exists(os.path.join(work, "old.log"))  # nothing ran: the user decides


@pytest.mark.parametrize(
    "reply",
    [b"this is not a reply", b"", b"ok\0\0\0", b"error\0", b"error\0x\0sets the \x1b]2;pwned\x07 title\0",
     b"ok\0rm -r -- -x y"],
    ids=["junk", "hangup", "empty-command", "truncated", "terminal-escape", "command-cut-short"],
)
def test_a_broken_daemon_reply_leaves_the_request(env, tmux, work, reply):
    path = os.path.join(env.root, "bad.sock")
    server, _ = one_reply_server(path, reply)
    try:
        pane = env.zsh(tmux, cwd=work, after=f"__shellper_socket='{path}'")
        translate(pane, "anything at all")
        pane.wait_for(MESSAGE, timeout=10)
        assert pane.line() == "anything at all"
        assert pane.title() != "pwned"
    finally:
        server.close()


def test_only_the_line_run_after_a_suggestion_is_reported(env, tmux, work):
    path = os.path.join(env.root, "rec-zsh.sock")
    server, received = one_reply_server(path, b"ok\0ls\0\0")
    try:
        pane = env.zsh(tmux, cwd=work, after=f"__shellper_socket='{path}'")
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
    pane = env.zsh(tmux, cwd=work)
    assert env.shellper("stop").returncode == 0
    translate(pane, "after the stop")
    pane.wait_line("ls -a", timeout=20)


def test_enter_while_translating_waits_and_typing_over_it_keeps_the_users_text(env, tmux, fake, work):
    fake.delay = 1.5
    fake.answer("patience request", "ls", {})
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "patience request")
    pane.wait_for("translating...")
    pane.send("Enter")  # not run as a command: still waiting
    pane.wait_line("ls", timeout=10)
    assert "command not found" not in pane.screen()
    pane.send("C-u")
    translate(pane, "patience request")
    pane.wait_for("translating...")
    pane.type(" and more")  # the user changes the line: their text wins
    pane.wait_for("suggestion dropped", timeout=10)
    assert pane.line() == "patience request and more"


def test_an_existing_accept_line_wrapper_keeps_working(env, tmux, fake, work):
    fake.answer("wrapped request", "pwd", {})
    # The wrapper runs with the user's options, not shellper's own.
    wrapper = (
        "setopt shwordsplit\n"
        "typeset -gi enters=0\n"
        "my-accept-line() { (( enters++ )); seen=$options[shwordsplit]-$options[extendedglob]; zle .accept-line }\n"
        "zle -N accept-line my-accept-line"
    )
    pane = env.zsh(tmux, cwd=work, before=wrapper)
    pane.run("echo one")
    pane.run("echo two")
    pane.run("echo enters=$enters", wait="enters=3")  # this line counts too
    pane.run("echo seen=$seen", wait="seen=on-off")
    pane.run("echo enters=$enters", wait="enters=5")
    translate(pane, "#? wrapped request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    pane.run("echo enters=$enters", wait="enters=7")  # "#?" never reached it


def test_a_request_that_is_not_utf8_stays_with_a_message(env, tmux, fake, work):
    pane = env.zsh(tmux, cwd=work)
    asked = len(fake.requests)
    for setup in ("", "__shellper_socket=; "):  # through the socket, then the client
        pane.mark()
        pane.type(setup + "print -z $'bad \\xff bytes'")  # the next line starts with these bytes
        pane.send("Enter")
        pane.wait_line(lambda line: line.startswith("bad") and line.endswith("bytes"))
        typed = pane.line()
        pane.mark()
        pane.send("C-g")
        pane.wait_for(MESSAGE, timeout=20)
        assert pane.line() == typed
        pane.send("C-u")
    assert len(fake.requests) == asked


# -- recovering and following up -------------------------------------------------


def test_undo_brings_the_request_back_and_empty_ctrl_g_reshows_the_suggestion(env, tmux, fake, work):
    fake.answer("where am i now", "pwd", {})
    pane = env.zsh(tmux, cwd=work)
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
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "list the files")
    pane.wait_line("ls", timeout=20)
    pane.type(" -a")
    pane.run("")
    translate(pane, "make directory skipme")
    pane.wait_line("mkdir skipme", timeout=20)
    pane.send("C-u")
    pane.run("print something-else", wait="something-else")

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
        fh.write(f'#!/bin/sh\ncase " $* " in *" executed "*) sleep 0.7;; esac\nexec {sys.executable} "$@"\n')
    os.chmod(slow, 0o755)
    fake.answer("first of two", "ls", {})
    fake.answer("second of two", "pwd", {})
    pane = env.zsh(tmux, cwd=work, after=f"__shellper_socket=; __shellper_python={slow}")
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
    one = env.zsh(tmux, cwd=work)
    two = env.zsh(tmux, cwd=work)
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
    text = "it's \"quoted\" \\back $(touch pwned) `touch pwned2` ; é ✓ %s %% {a,b} *"
    pane = env.zsh(tmux, cwd=work)
    translate(pane, text)
    pane.wait_line("pwd", timeout=20)
    assert last_user_text(fake) == text
    assert not os.path.exists(os.path.join(work, "pwned"))
    assert not os.path.exists(os.path.join(work, "pwned2"))


# -- keymaps, options and other plugins -----------------------------------------


def test_vi_mode_both_keymaps_and_vi_undo(env, tmux, fake, work):
    fake.answer("vi list things", "ls", {"a": True})
    pane = env.zsh(tmux, cwd=work, before="bindkey -v")
    translate(pane, "vi list things")  # viins
    pane.wait_line("ls -a", timeout=20)
    pane.send("Escape")
    pane.send("u")
    pane.wait_line("vi list things")
    pane.send("C-g")  # vicmd
    pane.wait_line("ls -a", timeout=20)
    pane.send("S")  # back to insert on an empty line
    pane.wait_line("")
    translate(pane, "#? vi list things", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    pane.send("Escape")
    pane.run("")  # Enter in vicmd runs it
    hist = env.history(pane.pid, settled=True)
    assert [e["command"] for e in hist["exchanges"]] == ["ls -a"]


def test_nounset_and_a_custom_key(env, tmux, fake, work):
    fake.answer("nounset request", "pwd", {})
    pane = env.zsh(tmux, cwd=work, before="setopt nounset; SHELLPER_KEY='^X^T'")
    pane.send("C-g")  # no longer ours
    translate(pane, "nounset request", key="C-x")
    pane.send("C-t")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    translate(pane, "#? nounset request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.run("print still-fine", wait="still-fine")
    pane.run("[[ -o nounset ]] && echo nounset-still-on", wait="nounset-still-on")
    assert "parameter not set" not in pane.screen()
    assert [e["command"] for e in env.history(pane.pid, settled=True)["exchanges"]] == ["pwd"]


@pytest.mark.skipif(
    not all(os.path.exists(p) for p in (AUTOSUGGEST, HIGHLIGHT, FZF)),
    reason="needs zsh-autosuggestions, zsh-syntax-highlighting and fzf",
)
@pytest.mark.parametrize("order", ["plugins-first", "shellper-first"])
def test_with_autosuggestions_syntax_highlighting_and_fzf(env, tmux, fake, work, order):
    fake.answer("listy", "ls", {"a": True})
    if order == "plugins-first":
        before, after = f"source {FZF}; source {AUTOSUGGEST}", f"source {HIGHLIGHT}"
    else:
        before, after = "", f"source {FZF}; source {AUTOSUGGEST}; source {HIGHLIGHT}"
    pane = env.zsh(tmux, cwd=work, before=before, after=after)
    pane.run("bindkey '^R'; bindkey '^G'", wait="shellper-translate")
    assert "fzf-history-widget" in pane.since_mark()
    # zsh-autosuggestions kept its own settings.
    pane.run("print clears-accept-line=$ZSH_AUTOSUGGEST_CLEAR_WIDGETS[(Ie)accept-line]",
             wait=re.compile(r"clears-accept-line=[1-9]"))
    pane.run("listy-not-a-command 2>/dev/null")
    # The grey suggestion from history must not stick to the command.
    pane.type("listy")
    pane.wait_line("listy-not-a-command 2>/dev/null")
    pane.mark()
    pane.send("C-g")
    pane.wait_line("ls -a", timeout=20)
    pane.run("")
    pane.mark()
    pane.type("for w in x1 x2; do")
    pane.send("Enter")
    pane.type("echo got-$w; done")
    pane.send("Enter")
    pane.wait_for("got-x1\ngot-x2")
    translate(pane, "#? listy request", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    pane.send("C-u")
    pane.run("echo ok-$((2+3))", wait="ok-5")
    assert [e["command"] for e in env.history(pane.pid, settled=True)["exchanges"]] == ["ls -a"]


def test_loading_twice_wraps_enter_once(env, tmux, fake, work):
    fake.answer("twice request", "pwd", {})
    pane = env.zsh(tmux, cwd=work, after='eval "$(shellper init zsh)"')
    pane.run("echo once-$((1+1))", wait="once-2")
    time.sleep(0.2)
    assert pane.since_mark().count("once-2") == 1
    translate(pane, "#? twice request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    assert [e["command"] for e in env.history(pane.pid, settled=True)["exchanges"]] == ["pwd"]


# -- the JSON encoder (zsh writes the request itself) ----------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")), min_size=1, max_size=8))
def test_the_zsh_json_encoder_round_trips_any_text(texts):
    # One zsh run encodes them all (NUL separates them on stdin).
    payload = "\0".join(texts).encode("utf-8")
    script = (
        f"source {SCRIPT} 2>/dev/null; local -a items; items=(\"${{(@0)$(cat)}}\"); items[-1]=(); "
        "for t in \"${items[@]}\"; do __shellper_json \"$t\"; print -r -- $REPLY; done"
    )
    proc = subprocess.run(
        ["zsh", "-f", "-c", f"() {{ {script} }}"],
        input=payload + b"\0", capture_output=True, env={"LANG": "C.UTF-8", "PATH": os.environ["PATH"]},
    )
    lines = proc.stdout.decode("utf-8").split("\n")[:-1]
    assert [json.loads(line) for line in lines] == texts


# -- manners: nothing of the user's shell changes, ordinary lines cost nothing ---

ZSH_STATE = (
    "__spt_state() {\n"
    "  { setopt; print -r -- @keys\n"
    "    local m k; for m in emacs viins vicmd; do bindkey -LM $m; done\n"
    "    print -r -- @widgets; for k in ${(ko)widgets}; do print -r -- \"$k=$widgets[$k]\"; done\n"
    "  } >| %s/state.$1\n"
    "}\n"
)


# A zle-line-init of the user's own, which must keep running.
LINE_INIT = "typeset -gi inits=0\nzle-line-init() { (( ++inits )) }\nzle -N zle-line-init\n"


def _state(folder: str, name: str) -> tuple:
    """(options, key bindings but the key's, widgets) captured by __spt_state."""
    with open(os.path.join(folder, "state." + name)) as fh:
        text = fh.read()
    opts, rest = text.split("@keys\n")
    keys, widgets = rest.split("@widgets\n")
    keys = [k for k in keys.splitlines() if '"^G" ' not in k]
    return opts.splitlines(), keys, dict(w.split("=", 1) for w in widgets.splitlines())


def test_options_keys_and_widgets_unchanged_under_nounset_through_every_flow(env, tmux, fake, work):
    # python must never start: the daemon is up, so zsh talks to it directly,
    # for requests and for the report of the line run after a suggestion.
    log = os.path.join(work, "starts.log")
    logpy = os.path.join(work, "logpy")
    with open(logpy, "w") as fh:
        fh.write(f'#!/bin/sh\necho "$*" >> {log}\nexec {sys.executable} "$@"\n')
    os.chmod(logpy, 0o755)
    env.history(os.getpid())  # starts the daemon
    fake.answer("nounset flow request", "pwd", {})
    pane = env.zsh(
        tmux, cwd=work,
        before="setopt nounset\n" + ZSH_STATE % work + LINE_INIT + "__spt_state rc-before",
        after=f"__spt_state rc-after; __shellper_python={logpy}",
    )
    pane.run("__spt_state fresh")
    pane.run("echo plain-$((6*7))", wait="plain-42")
    pane.run("false")
    translate(pane, "nounset flow request")  # Ctrl-G, then run it
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    translate(pane, "#? nounset flow request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    fake.mode = "500"  # an error
    translate(pane, "nounset flow request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("nounset flow request")
    pane.send("C-u")
    fake.mode, fake.delay = "ok", 5.0  # Ctrl-C
    translate(pane, "nounset slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("nounset slow request", timeout=3)
    pane.send("C-u")
    pane.run("__spt_state used")
    pane.run("[[ -o nounset ]] && echo nounset-$((1+1))", wait="nounset-2")

    assert "parameter not set" not in pane.screen()
    assert not os.path.exists(log), open(log).read()
    assert [(e["command"], e["status"]) for e in env.history(pane.pid, settled=True)["exchanges"]] == [("pwd", 0)]
    assert _state(work, "fresh") == _state(work, "used")
    opts0, keys0, widgets0 = _state(work, "rc-before")
    opts1, keys1, widgets1 = _state(work, "rc-after")
    assert opts0 == opts1 and "nounset" in opts1
    assert keys0 == keys1
    # Every widget that was there is untouched, except accept-line, which is
    # wrapped, and zle-line-init, which becomes zsh's hook dispatcher (it keeps
    # the user's under another name and still calls it); the new ones are ours.
    assert widgets1.pop("accept-line") == "user:shellper-accept-line"
    assert widgets1.pop("zle-line-init") == "user:azhw:zle-line-init"
    assert widgets1.pop("user:zle-line-init") == "user:zle-line-init"
    # zle-line-pre-redraw: zsh's hook dispatcher too (ours drops stale messages).
    assert widgets1.pop("zle-line-pre-redraw") == "user:azhw:zle-line-pre-redraw"
    kept = {k: v for k, v in widgets0.items() if k not in ("accept-line", "zle-line-init")}
    assert {k: v for k, v in widgets1.items() if k in widgets0} == kept
    added = set(widgets1) - set(widgets0)
    assert added and all("shellper" in k for k in added), added
    pane.run("echo inits-$inits", wait=re.compile(r"inits-(\d+)"))
    assert int(re.search(r"inits-(\d+)", pane.since_mark()).group(1)) >= 8  # one per prompt


def test_a_zle_line_init_set_after_shellper_keeps_ctrl_c_recovery(env, tmux, fake, work):
    """A .zshrc that does `zle -N zle-line-init` after loading shellper keeps both hooks."""
    fake.delay = 5.0
    after = "my-line-init() { typeset -gi MY_INITS; (( MY_INITS++ )) }\nzle -N zle-line-init my-line-init"
    pane = env.zsh(tmux, cwd=work, after=after)
    pane.run("print inits=$MY_INITS", wait=re.compile(r"inits=[1-9]"))
    translate(pane, "take your time please")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("take your time please", timeout=3)
    pane.wait_for("shellper: cancelled")
    fake.delay = 0.0
    pane.send("C-u")
    pane.run("print inits-again=$MY_INITS", wait=re.compile(r"inits-again=[1-9]"))


# -- aliases: the inserted command means the argv it shows -----------------------

VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor", "ohmyzsh")
# oh-my-zsh's own alias set (README there): global ones like `...`, G, L, NUL.
OHMYZSH = f"compdef() {{ }}\nsource {VENDOR}/directories.zsh\nsource {VENDOR}/common-aliases.plugin.zsh\n"

# Renderer-shaped lines and the argv each must run with oh-my-zsh's aliases
# loaded: global aliases never apply, the first word's regular alias does
# (cp='cp -i', grep='grep --color'); that is the user's own command.
UNALIAS_CASES = [
    ("cp -r .ssh ...", ["cp", "-i", "-r", ".ssh", "..."]),
    ("grep G notes.txt", ["grep", "--color", "G", "notes.txt"]),
    ("echo NUL", ["echo", "NUL"]),
    ("cat L", ["cat", "L"]),
    ("ls -a", ["ls", "-a"]),
    ("mv ... x", ["mv", "-i", "...", "x"]),
    ("mv x ....", ["mv", "-i", "x", "...."]),
    ("rm -r H", ["rm", "-i", "-r", "H"]),
    ("diff T M", ["diff", "T", "M"]),
    ("mkdir md", ["mkdir", "md"]),  # md='mkdir -p' is a regular alias: not as an argument
    ("tail -n 5 LL", ["tail", "-n", "5", "LL"]),
    ("echo 'two\nlines' >> NUL", ["echo", "two\nlines"]),
    ("echo 'it'\\''s G' G", ["echo", "it's G", "G"]),
    ("find ... -name '*G*'", ["find", "...", "-name", "*G*"]),
]


def test_unalias_keeps_the_argv_with_oh_my_zsh_aliases_in_a_non_interactive_zsh(tmp_path):
    # The way the lead's execution harness uses it: `zsh -f -c`, source, unalias, eval.
    # Each command is a stub that writes its argv (NUL after each word, RS after each run).
    names = sorted({line.split()[0] for line, _ in UNALIAS_CASES})
    stubs = "".join(f"function {n} {{ printf '%s\\0' {n} \"$@\" >> argv.out; printf '\\36' >> argv.out }}\n" for n in names)
    script = (
        f"source {SCRIPT} || exit 9\n{OHMYZSH}{stubs}"
        "for line in \"${(@0)$(<lines)}\"; do __shellper_unalias \"$line\" && eval \"$REPLY\"; done\n"
    )
    (tmp_path / "lines").write_bytes("\0".join(line for line, _ in UNALIAS_CASES).encode())
    proc = subprocess.run(["zsh", "-f", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"LANG": "C.UTF-8", "PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    got = [run.split("\0")[:-1] for run in (tmp_path / "argv.out").read_text().split("\36")[:-1]]
    assert got == [argv for _, argv in UNALIAS_CASES]
    # The redirection target is the file NUL, not /dev/null.
    assert (tmp_path / "NUL").exists()


def test_unalias_has_the_effect_shown_with_real_commands(tmp_path):
    deep = tmp_path / "a" / "b"
    (deep / ".ssh").mkdir(parents=True)
    (deep / ".ssh" / "key").write_text("new")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "key").write_text("old")
    (deep / "notes.txt").write_text("Good one\nbad one\nGreat\n")
    script = (
        f"source {SCRIPT} || exit 9\n{OHMYZSH}unalias cp grep\n"
        "for line in 'cp -r .ssh ...' 'grep G notes.txt' 'echo NUL'; do __shellper_unalias \"$line\" && eval \"$REPLY\"; done\n"
    )
    proc = subprocess.run(["zsh", "-f", "-c", script], cwd=deep, capture_output=True, text=True,
                          env={"LANG": "C.UTF-8", "PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert proc.stdout == "Good one\nGreat\nNUL\n", proc.stderr
    assert (deep / "..." / "key").read_text() == "new"  # a folder named "...", here
    assert (tmp_path / ".ssh" / "key").read_text() == "old"  # not ../../.ssh


def test_global_aliases_never_change_the_inserted_command(env, tmux, fake, work):
    with open(os.path.join(work, "notes.txt"), "w") as fh:
        fh.write("Good one\nbad one\nGreat\n")
    fake.answer("lines with a capital g", "grep", {"pattern": "G", "file_name": "notes.txt"})
    fake.answer("make a folder called nul", "mkdir", {"dir_name": "NUL"})
    pane = env.zsh(tmux, cwd=work, before=OHMYZSH)
    translate(pane, "lines with a capital g")
    pane.wait_line(lambda line: line.startswith("grep ") and "notes.txt" in line, timeout=20)
    pane.run("")
    pane.wait_for("Great")
    assert "Good one\nGreat\n" in pane.since_mark() + "\n"
    assert "bad one" not in pane.since_mark()
    translate(pane, "#? make a folder called nul", key="Enter")
    pane.wait_line(lambda line: line.startswith("mkdir "), timeout=20)
    pane.run("")
    assert os.path.isdir(os.path.join(work, "NUL"))
    # Recalled on an empty line, it is quoted the same way.
    pane.send("C-g")
    pane.wait_line("mkdir 'NUL'")
    pane.send("C-u")
    # The run is recorded as the suggestion itself, not as an edit.
    hist = env.history(pane.pid, settled=True)
    assert [(e["call"]["name"], e["edited"]) for e in hist["exchanges"]] == [("grep", False), ("mkdir", False)]


# -- issue 10 / 11: aliases, highlighting, messages ----------------------------------


def test_hostile_aliases_of_the_builtins_used_change_nothing_and_stay(env, tmux, fake, work):
    """Aliases (and global aliases) loaded before shellper for every builtin it calls: Ctrl-G,
    "#?" Enter, the report of the run line and Ctrl-C work, and the aliases are still there."""
    from shellharness import HOSTILE_ZSH, hostile_aliases

    fake.answer("make a folder called safe", "mkdir", {"dir_name": "safe"})
    fake.answer("where am i now", "pwd", {})
    pane = env.zsh(tmux, cwd=work, before=hostile_aliases("zsh"))
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
    pane.wait_line("a slow request", timeout=3)
    pane.wait_for("shellper: cancelled")
    pane.send("C-u")
    assert "HOSTILE" not in pane.screen()
    pane.run(r"\builtin \print -r -- n=${#aliases} ${aliases[read]} / ${galiases[REPLY]}",
             wait=re.compile(r"n=(\d+) echo HOSTILE-read / HOSTILE-g-REPLY"))
    assert int(re.search(r"n=(\d+) echo", pane.since_mark()).group(1)) >= len(HOSTILE_ZSH)


@pytest.mark.skipif(not os.path.exists(HIGHLIGHT), reason="needs zsh-syntax-highlighting")
@pytest.mark.parametrize("order", ["highlighter-first", "shellper-first"])
def test_syntax_highlighting_colours_the_inserted_command_as_its_own(env, tmux, fake, work, order):
    fake.answer("xqzvw-nope show all the files", "ls", {"a": True})
    src = f"source {HIGHLIGHT}"
    pane = env.zsh(tmux, cwd=work, **({"before": src} if order == "highlighter-first" else {"after": src}))
    translate(pane, "xqzvw-nope show all the files")  # drawn red: an unknown command
    pane.wait_line("ls -a", timeout=20)
    time.sleep(0.3)
    inserted = pane.colored_line()
    assert "\x1b[" in inserted
    # The plugin colours the same line itself after a key that changes nothing in the end.
    pane.type(" ")
    pane.send("BSpace")
    pane.wait_line("ls -a")
    time.sleep(0.3)
    assert pane.colored_line() == inserted


def test_a_note_goes_once_the_line_is_edited_and_stays_while_the_cursor_moves(env, tmux, fake, work):
    fake.answer("show the notes", "cat", {"file_name": "notes.txt"})
    pane = env.zsh(tmux, cwd=work)
    translate(pane, "show the notes")
    pane.wait_line("cat notes.txt", timeout=20)
    note = re.compile(r"shellper: .*notes\.txt'? does not exist")
    pane.wait_for(note)
    pane.send("Left")
    time.sleep(0.3)
    assert note.search(pane.since_mark())
    pane.send("End")
    pane.type(" extra.txt")
    pane.wait_line("cat notes.txt extra.txt")
    wait_until(lambda: not note.search(pane.since_mark()), timeout=3)


# -- the request in the shell's own history ---------------------------------------------


def _history(pane, work: str, count: int) -> list:
    """The last `count` history entries before the command that lists them."""
    out = os.path.join(work, "hist.out")
    pane.run(f"fc -ln -{count} >| {out}")
    with open(out) as fh:
        return fh.read().splitlines()


def test_a_run_suggestion_puts_its_request_in_the_history_and_up_enter_asks_again(env, tmux, fake, work):
    fake.answer("list the files here", "ls", {})
    pane = env.zsh(tmux, cwd=work, before="alias ls='ls -F'")
    translate(pane, "list the files here")
    pane.wait_line("ls", timeout=20)
    pane.run("")
    assert _history(pane, work, 2) == ["#? list the files here", "ls"]
    # The run is still reported as typed (zsh's preexec loses it after the
    # extra entry, and its alias-expanded text would read as an edit).
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
    # A "#?" line given by hand gets the same entry, once.
    pane.run("")
    assert _history(pane, work, 3) == [f"fc -ln -2 >| {os.path.join(work, 'hist.out')}", "#? list the files here", "ls"]


def test_ordinary_lines_and_a_setting_of_0_put_nothing_in_the_history(env, tmux, fake, work):
    fake.answer("show where i am", "pwd", {})
    pane = env.zsh(tmux, cwd=work)
    pane.run("print -r plain")
    assert _history(pane, work, 1) == ["print -r plain"]
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


@pytest.mark.parametrize("space", ["request", "command"])
def test_ignore_space_keeps_the_request_out_of_the_history(env, tmux, fake, work, space):
    fake.answer("show where i am", "pwd", {})
    pane = env.zsh(tmux, cwd=work, before="setopt histignorespace")
    pane.run("print -r first")
    translate(pane, " show where i am" if space == "request" else "show where i am")
    pane.wait_line("pwd", timeout=20)
    if space == "command":
        pane.send("Home")
        pane.type(" ")
    pane.run("")
    pane.run("print -r last")
    entries = _history(pane, work, 3)
    assert not any(e.startswith("#?") for e in entries), entries
    assert entries[-1] == "print -r last"
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
    pane = env.zsh(tmux, cwd=work, before=f"SHELLPER_PREFIX='{prefix}'")
    translate(pane, f"{prefix} show where i am", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    entries = _history(pane, work, 2)
    if prefix == "#ai":
        assert entries == ["#ai show where i am", "pwd"]
    else:
        assert entries[-1] == "pwd" and not any(e.startswith("??") for e in entries), entries
