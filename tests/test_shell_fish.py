"""The fish integration, driven in a real interactive fish (3.6, Debian's) inside tmux.

Every shell loads shellper the way a user does (`shellper init fish | source`
from its config) and talks to a real daemon, which talks to a fake Ollama.
The behaviours are those of test_shell_zsh.py; autosuggestions are off
except where their coexistence is tested (their grey text is on the line).
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
from shellharness import ShellEnv, Tmux, have, last_user_text, one_reply_server, translate, wait_until

pytestmark = pytest.mark.skipif(not (have("fish") and have("tmux")), reason="needs fish and tmux")

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", "shellper.fish")
MESSAGE = re.compile(r"shellper: (?!translating)\S.*")
QUIET = "set -g fish_autosuggestion_enabled 0"
FZF = "/usr/share/doc/fzf/examples/key-bindings.fish"


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


def fish(env, tmux, work, before="", after="", extra_env=None):
    pane_env = env
    if extra_env:  # a shell with more environment (SHELLPER_SOCKET...), same daemon dirs
        pane_env = ShellEnv.__new__(ShellEnv)
        pane_env.__dict__.update(env.__dict__)
        pane_env.env = dict(env.env, **extra_env)
    return pane_env.fish(tmux, before=QUIET + "\n" + before, after=after, cwd=work)


def version() -> tuple:
    out = subprocess.run(["fish", "--version"], capture_output=True, text=True).stdout
    return tuple(int(x) for x in re.search(r"(\d+)\.(\d+)", out).groups())


def test_the_fish_tested_is_3_6_or_newer():
    assert version() >= (3, 6)


# -- the two triggers ------------------------------------------------------------


def test_ctrl_g_puts_the_command_on_the_line_and_cd_moves_this_shell(env, tmux, fake, work):
    os.mkdir(os.path.join(work, "reports"))
    fake.answer("enter the reports folder", "cd", {"folder": "reports"})
    pane = fish(env, tmux, work)
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
    pane = fish(env, tmux, work)
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
    pane = fish(env, tmux, work)
    before = len(fake.requests)
    pane.run("echo plain-(math 6 \\* 7)", wait="plain-42")
    pane.mark()
    pane.type("for w in aa bb")
    pane.send("Enter")
    pane.type("echo loop-$w; end")
    pane.send("Enter")
    pane.wait_for("loop-aa\nloop-bb")
    pane.mark()
    pane.type("echo cont\\")
    pane.send("Enter")
    pane.type("inued")
    pane.send("Enter")
    pane.wait_for("continued")
    # "#?" on a second line of a command is text, not a request.
    pane.mark()
    pane.type("echo 'first")
    pane.send("Enter")
    pane.type("#? not a request'")
    pane.send("Enter")
    pane.wait_for(re.compile(r"^#\? not a request$", re.M))
    pane.run("echo hist-one", wait="hist-one")
    pane.mark()
    pane.send("Up")  # history recall, then Enter runs it
    pane.send("Enter")
    pane.wait_for("echo hist-one\nhist-one")
    pane.run("# just a comment")
    pane.run("false; echo st-$status", wait="st-1")
    assert len(fake.requests) == before


# -- waiting, cancelling and failing ---------------------------------------------


def test_ctrl_c_while_translating_cancels_and_puts_the_request_back(env, tmux, fake, work):
    fake.delay = 5.0
    pane = fish(env, tmux, work)
    gone, asked = fake.disconnects, len(fake.requests)
    translate(pane, "take your time please")
    pane.wait_for("translating...")
    wait_until(lambda: len(fake.requests) > asked)
    pane.send("C-c")
    pane.wait_line("take your time please", timeout=3)
    pane.wait_for("shellper: cancelled")
    wait_until(lambda: fake.disconnects > gone)  # the daemon dropped the model call

    pane.send("C-u")
    translate(pane, "#? slow again", key="Enter")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("#? slow again", timeout=3)
    fake.delay = 0.0
    time.sleep(0.3)
    assert pane.line() == "#? slow again"


@pytest.mark.parametrize("mode", ["500", "garbage", "empty"])
def test_a_failing_model_server_leaves_the_request_and_says_why(env, tmux, fake, work, mode):
    fake.mode = mode
    pane = fish(env, tmux, work)
    translate(pane, "list everything here")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("list everything here")


def test_no_model_server_at_all_leaves_the_request_and_says_why(tmux, work):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = ShellEnv(f"http://127.0.0.1:{port}/v1")
    try:
        pane = down.fish(tmux, before=QUIET, cwd=work)
        translate(pane, "#? show me the files", key="Enter")
        pane.wait_for(MESSAGE, timeout=20)
        pane.wait_line("#? show me the files")
    finally:
        down.close()


def test_a_warning_is_shown_beside_the_inserted_command(env, tmux, fake, work):
    fake.answer("show the notes", "cat", {"file_name": "notes.txt"})
    pane = fish(env, tmux, work)
    translate(pane, "show the notes")
    pane.wait_line("cat notes.txt", timeout=20)
    pane.wait_for(re.compile(r"shellper: .*notes\.txt'? does not exist"))


@pytest.mark.parametrize(
    "reply",
    [b"this is not a reply", b"", b"ok\0\0\0", b"error\0", b"error\0x\0sets the \x1b]2;pwned\x07 title\0",
     b"ok\0rm -r -- -x y"],
    ids=["junk", "hangup", "empty-command", "truncated", "terminal-escape", "command-cut-short"],
)
def test_a_broken_daemon_reply_leaves_the_request(env, tmux, work, reply):
    path = os.path.join(env.root, "bad-fish.sock")
    server, _ = one_reply_server(path, reply)
    try:
        pane = fish(env, tmux, work, extra_env={"SHELLPER_SOCKET": path})
        translate(pane, "anything at all")
        pane.wait_for(MESSAGE, timeout=10)
        pane.wait_line("anything at all")
        assert pane.title() != "pwned"
    finally:
        server.close()


def test_only_the_line_run_after_a_suggestion_is_reported(env, tmux, work):
    path = os.path.join(env.root, "rec-fish.sock")
    server, received = one_reply_server(path, b"ok\0ls\0\0")
    try:
        pane = fish(env, tmux, work, extra_env={"SHELLPER_SOCKET": path})
        pane.run("echo a-(math 1 + 1)", wait="a-2")
        pane.run("false")
        pane.mark()
        pane.type("for w in 1 2")
        pane.send("Enter")
        pane.type("true; end")
        pane.send("Enter")
        pane.wait_prompt()
        assert received == []  # ordinary lines cost nothing
        translate(pane, "list it")
        pane.wait_line("ls", timeout=10)
        pane.run("")
        pane.run("echo b-(math 2 + 2)", wait="b-4")
        wait_until(lambda: len(received) >= 2)
        time.sleep(0.3)
        sent = [json.loads(line) for line in received]
        assert [r["op"] for r in sent] == ["translate", "executed"]
        assert sent[0]["session"] == pane.pid and sent[0]["cwd"] == work and sent[0]["text"] == "list it"
        assert sent[0]["shell"] == "fish"
        assert (sent[1]["session"], sent[1]["command"], sent[1]["status"]) == (pane.pid, "ls", 0)
    finally:
        server.close()


def test_a_stopped_daemon_comes_back_on_the_next_request(env, tmux, fake, work):
    fake.answer("after the stop", "ls", {"a": True})
    pane = fish(env, tmux, work)
    assert env.shellper("stop").returncode == 0
    translate(pane, "after the stop")
    pane.wait_line("ls -a", timeout=20)


def test_undo_brings_the_request_back_and_empty_ctrl_g_reshows_the_suggestion(env, tmux, fake, work):
    fake.answer("where am i now", "pwd", {})
    pane = fish(env, tmux, work)
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
    pane.send("C-z")
    pane.wait_line("where am i now")
    pane.send("C-u")
    pane.send("C-g")
    pane.wait_line("pwd")
    assert len(fake.requests) == before + 1  # shown again, not asked again


def test_an_edited_suggestion_is_learned_and_a_skipped_one_forgotten(env, tmux, fake, work):
    fake.answer("list the files", "ls", {})
    fake.answer("make directory skipme", "mkdir", {"dir_name": "skipme"})
    fake.answer("count the lines", "wc", {"file_name": "a b.txt"})
    pane = fish(env, tmux, work)
    translate(pane, "list the files")
    pane.wait_line("ls", timeout=20)
    pane.type(" -a")
    pane.run("")
    translate(pane, "make directory skipme")
    pane.wait_line("mkdir skipme", timeout=20)
    pane.send("C-u")
    pane.run("echo something-else", wait="something-else")

    hist = env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["edited"]) for e in hist["exchanges"]] == [
        ("list the files", "ls -a", True)
    ]
    assert hist["exchanges"][0]["call"] == {"name": "ls", "arguments": {"a": True}}
    assert hist["pending"] is None

    translate(pane, "count the lines")
    pane.wait_line("wc -l 'a b.txt'", timeout=20)
    messages = fake.requests[-1]["messages"]
    calls = [c["function"] for m in messages for c in m.get("tool_calls") or []]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("ls", {"a": True})]
    assert "skipme" not in json.dumps(messages)

    # A fish-quoted edit is read back the fish way.
    pane.send("C-u")
    fake.answer("show it", "cat", {"file_name": "x"})
    translate(pane, "show it")
    pane.wait_line("cat x", timeout=20)
    pane.send("C-u")
    with open(os.path.join(work, "it's \\ here"), "w") as fh:
        fh.write("edited-content\n")
    pane.run("cat 'it\\'s \\\\ here'", wait="edited-content")
    hist = env.history(pane.pid, settled=True)
    assert hist["exchanges"][-1]["call"] == {"name": "cat", "arguments": {"file_name": "it's \\ here"}}


def test_two_terminals_keep_separate_conversations(env, tmux, fake, work):
    fake.answer("alpha show files", "ls", {})
    fake.answer("beta where am i", "pwd", {})
    one = fish(env, tmux, work)
    two = fish(env, tmux, work)
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
    text = "it's \"quoted\" \\back $(touch pwned) (touch pwned2) `touch pwned3` ; é ✓ %s %self {a,b} *"
    pane = fish(env, tmux, work)
    translate(pane, text)
    pane.wait_line("pwd", timeout=20)
    assert last_user_text(fake) == text
    for name in ("pwned", "pwned2", "pwned3"):
        assert not os.path.exists(os.path.join(work, name))


# -- the quoting proof, typed into the real fish ---------------------------------

FISH_VALUES = [
    "it's", "a\\b", "\\'", "%self", "$fish_pid", "(touch PWNED)", "{a,b}", "*", "~", "a?b", "-n", "x; touch PWNED",
    "a  b", "\\x41\\n", "é 中", "#c", "x&", "^y",
]


def test_inserted_commands_mean_the_intended_argv_in_fish(env, tmux, fake, work):
    """echo CONTENT >> FILE for hostile contents: run, the file holds exactly the content."""
    pane = fish(env, tmux, work)
    for i, value in enumerate(FISH_VALUES):
        request = f"proof number {i}"
        fake.answer(request, "echo", {"content": value, "file_name": f"out {i}"})
        translate(pane, request)
        pane.wait_line(lambda line: line.startswith(("echo ", "printf ")), timeout=20)
        pane.run("")
        path = os.path.join(work, f"out {i}")
        wait_until(lambda: os.path.exists(path))
        with open(path, encoding="utf-8") as fh:
            assert fh.read() == value + "\n", value
    assert not os.path.exists(os.path.join(work, "PWNED"))
    hist = env.history(pane.pid, settled=True)
    assert [e["edited"] for e in hist["exchanges"]] == [False] * len(FISH_VALUES)  # read back as the same call


# -- modes, keys and other plugins -----------------------------------------------


def test_vi_mode_both_modes_and_vi_undo(env, tmux, fake, work):
    fake.answer("vi list things", "ls", {"a": True})
    # -g: fish_vi_key_bindings would set the universal variable, shared by every test shell.
    pane = fish(env, tmux, work, before="set -g fish_key_bindings fish_vi_key_bindings")
    translate(pane, "vi list things")  # insert mode
    pane.wait_line("ls -a", timeout=20)
    pane.send("Escape")
    time.sleep(0.3)  # past fish's escape delay: not read as Alt-u
    pane.send("u")
    pane.wait_line("vi list things")
    pane.send("C-g")  # normal mode
    pane.wait_line("ls -a", timeout=20)
    pane.send("c", "c")  # change the whole line: insert mode on an empty line
    pane.wait_line("")
    translate(pane, "#? vi list things", key="Enter")
    pane.wait_line("ls -a", timeout=20)
    pane.send("Escape")
    time.sleep(0.3)
    pane.run("")  # Enter in normal mode runs it
    hist = env.history(pane.pid, settled=True)
    assert [e["command"] for e in hist["exchanges"]] == ["ls -a"]


def test_vi_mode_chosen_after_loading_keeps_the_bindings(env, tmux, fake, work):
    fake.answer("later vi request", "pwd", {})
    pane = fish(env, tmux, work, after="set -g fish_key_bindings fish_vi_key_bindings")
    translate(pane, "later vi request")
    pane.wait_line("pwd", timeout=20)


def test_a_custom_key_and_no_key(env, tmux, fake, work):
    fake.answer("custom key request", "pwd", {})
    pane = fish(env, tmux, work, before="set -g SHELLPER_KEY \\eg")
    translate(pane, "custom key request", key="M-g")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    before = len(fake.requests)
    pane.type("ctrl g is free")
    pane.send("C-g")
    time.sleep(0.5)
    assert len(fake.requests) == before

    # SHELLPER_KEY='': no key at all; "#?" still works, and the user binds the function.
    pane = fish(env, tmux, work, before="set -g SHELLPER_KEY ''", after="bind \\et __shellper_translate")
    pane.run("bind \\cg", wait="\\cg")
    assert "__shellper" not in pane.since_mark()
    translate(pane, "custom key request", key="M-t")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    translate(pane, "#? custom key request", key="Enter")
    pane.wait_line("pwd", timeout=20)


def test_your_own_enter_binding_stays(env, tmux, fake, work):
    pane = fish(env, tmux, work, before="bind \\r 'echo; echo own-enter; commandline -f execute'")
    pane.run("echo x", wait="own-enter")
    pane.run("bind \\r", wait="own-enter")


def test_with_autosuggestions_and_fzf(env, tmux, fake, work):
    fake.answer("suggest along", "ls", {"a": True})
    pane = env.fish(tmux, cwd=work, before=f"source {FZF}; fzf_key_bindings", after="")
    pane.run("echo ls -a-and-more-history", wait="ls -a-and-more-history")
    pane.run("ls -a")
    translate(pane, "suggest along")
    pane.wait_line(lambda line: line.startswith("ls -a"), timeout=20)
    pane.send("C-u")
    pane.run("echo ran-it", wait="ran-it")
    # fzf's own keys are still fzf's.
    pane.run("bind \\ct", wait="fzf")
    hist = env.history(pane.pid, settled=True)
    assert hist["pending"] is None


def test_loading_twice_binds_once_and_keeps_the_last_suggestion(env, tmux, fake, work):
    fake.answer("twice loaded", "pwd", {})
    pane = fish(env, tmux, work, after="shellper init fish | source")
    translate(pane, "twice loaded")
    pane.wait_line("pwd", timeout=20)
    pane.send("C-u")
    pane.run("shellper init fish | source")
    pane.send("C-g")
    pane.wait_line("pwd")
    pane.send("C-u")
    pane.run("bind -a | string match -e __shellper_translate | count", wait=re.compile(r"^2$", re.M))


def test_the_status_of_the_suggested_command_is_kept(env, tmux, fake, work):
    fake.answer("show a missing file", "cat", {"file_name": "missing"})
    pane = fish(env, tmux, work)
    translate(pane, "show a missing file")
    pane.wait_line("cat missing", timeout=20)
    pane.run("")
    pane.run("echo st-$status", wait="st-1")
    assert [e["status"] for e in env.history(pane.pid, settled=True)["exchanges"]] == [1]


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
HOSTILE_FISH = ["printf", "commandline", "bind", "count", "contains", "abbr", "python3", "emit"]


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


def test_functions_variables_and_bindings_unchanged_through_every_flow(env, tmux, fake, work):
    # python starts only for requests and the report of a suggested line.
    log = os.path.join(work, "starts.log")
    logpy = os.path.join(work, "logpy")
    with open(logpy, "w") as fh:
        fh.write(f'#!/bin/sh\nfor a; do case $a in translate|executed|closed|start|check) echo "$a" >> {log}; break;; esac; done\n'
                 f'exec {sys.executable} "$@"\n')  # the client's operation: the first of its words
    os.chmod(logpy, 0o755)
    fake.answer("state flow request", "pwd", {})
    pane = fish(
        env, tmux, work,
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
    fake.mode = "500"  # an error
    translate(pane, "state flow request")
    pane.wait_for(MESSAGE, timeout=20)
    pane.wait_line("state flow request")
    pane.send("C-u")
    fake.mode, fake.delay = "ok", 5.0  # Ctrl-C
    translate(pane, "state slow request")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("state slow request", timeout=3)
    pane.send("C-u")
    pane.run("__spt_state used")

    with open(log) as fh:
        # The last line reports the unrun "#?" suggestion as skipped (the daemon forgets it).
        assert fh.read().split() == ["translate", "executed", "translate", "translate", "translate", "executed"]
    assert [(e["command"], e["status"]) for e in env.history(pane.pid, settled=True)["exchanges"]] == [("pwd", 0)]
    fresh, used = _state(work, "fresh"), _state(work, "used")
    assert (fresh["vars"], fresh["binds"]) == (used["vars"], used["binds"])
    _same_functions(fresh["functions"], used["functions"])
    before, after = _state(work, "rc-before"), _state(work, "rc-after")
    assert before["binds"] == after["binds"]
    assert before["vars"] == after["vars"]
    _same_functions(before["functions"], after["functions"])


def test_user_functions_shadowing_builtins_change_nothing(env, tmux, fake, work):
    fake.answer("hostile functions request", "echo", {"content": "it's ok", "file_name": "None"})
    shadows = "\n".join(f"function {name}; echo HOSTILE-{name}; end" for name in HOSTILE_FISH)
    pane = fish(env, tmux, work, after=shadows)
    translate(pane, "hostile functions request")
    pane.wait_line("echo 'it\\'s ok'", timeout=20)
    pane.run("", wait="it's ok")
    # fish's own prompt-time functions call printf and contains unprefixed;
    # shellper calls none of them.
    seen = set(re.findall(r"^HOSTILE-(\S+)", pane.screen(), re.M))
    assert seen <= {"printf", "contains"}, seen
    with open(SCRIPT, encoding="utf-8") as fh:
        code = [line.split("#")[0] for line in fh if not line.lstrip().startswith("#")]
    for name in HOSTILE_FISH:
        assert not any(re.search(rf"(^|[;(|]|and |or |not )\s*{name}\b", line) for line in code), name
    hist = env.history(pane.pid, settled=True)
    assert [(e["command"], e["edited"]) for e in hist["exchanges"]] == [("echo 'it\\'s ok'", False)]
    # And they are still the user's.
    pane.run("count 1 2", wait="HOSTILE-count")


def test_an_abbreviation_never_rewrites_the_inserted_command(env, tmux, fake, work):
    # fish expands the abbreviation under the cursor on Enter: like zsh's global aliases.
    with open(os.path.join(work, "L"), "w") as fh:
        fh.write("content-of-L\n")
    fake.answer("show the ell file", "cat", {"file_name": "L"})
    pane = fish(env, tmux, work, before="abbr -a --position anywhere L '| wc -c'")
    translate(pane, "show the ell file")
    pane.wait_line("cat 'L'", timeout=20)
    pane.run("", wait="content-of-L")
    hist = env.history(pane.pid, settled=True)
    assert [(e["command"], e["edited"]) for e in hist["exchanges"]] == [("cat 'L'", False)]
    pane.run("abbr -q L; and echo still-there", wait="still-there")


# -- start and exit --------------------------------------------------------------


def test_a_new_fish_starts_the_daemon_in_the_background_unless_told_not_to(fake, tmux, work):
    for value, starts in (("1", True), ("off", False)):
        fresh = ShellEnv(fake.base_url, {"SHELLPER_AUTOSTART": value})
        try:
            pane = fresh.fish(tmux, before=QUIET, cwd=work)
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


def test_an_exited_fish_is_forgotten_within_seconds(env, tmux, fake, work):
    import sqlite3

    fake.answer("make the exit dir", "mkdir", {"dir_name": "made"})
    pane = fish(env, tmux, work)
    translate(pane, "make the exit dir")
    pane.wait_line("mkdir made", timeout=20)
    pane.run("")
    wait_until(lambda: env.history(pane.pid, settled=True)["exchanges"], timeout=5)
    pane.type("exit")
    pane.send("Enter")
    db = os.path.join(env.env["XDG_STATE_HOME"], "shellper", "sessions.sqlite3")

    def stored() -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM exchanges WHERE pid=?", (pane.pid,)).fetchone()[0]

    wait_until(lambda: stored() == 0, timeout=5)


def test_fish_history_keeps_the_command_run_and_no_request_line(env, tmux, fake, work):
    # fish 3.x cannot add a history entry without running it (no `history
    # append`): as documented, the request is not in fish's history, and the
    # "#?" line, translated instead of run, is not either.
    fake.answer("show where i am", "pwd", {})
    pane = fish(env, tmux, work)
    pane.run("echo first")
    translate(pane, "#? show where i am", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("")
    out = os.path.join(work, "hist.out")
    pane.run(f"history search --max 2 > {out}")
    with open(out) as fh:
        assert fh.read().splitlines() == ["pwd", "echo first"]
