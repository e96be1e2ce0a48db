"""What only zsh has: its socket route, its widgets and hooks, its aliases and plugins.

Every shell loads shellper the way a user does (`eval "$(shellper init zsh)"`
in .zshrc) and talks to a real daemon, which talks to a stand-in Ollama. What
every shell does is tested once for all in test_shell_behaviour.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from shellharness import (
    asked_only_for_the_suggestion,
    cd_through_the_shells_cdpath,
    cjk_folders,
    enter_while_checking_runs_nothing,
    expect_parent,
    fail_then_cancel,
    gbk_locale,
    have,
    judged_again_at_enter,
    one_reply_server,
    translate,
    wait_until,
)

from shellper_hook.protocol import decode_request, request_end

pytestmark = pytest.mark.skipif(not (have("zsh") and have("tmux")), reason="needs zsh and tmux")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "shell", "shellper.zsh")
AUTOSUGGEST = "/usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh"
HIGHLIGHT = "/usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh"
FZF = "/usr/share/doc/fzf/examples/key-bindings.zsh"


# -- the socket and the widgets ---------------------------------------------------


# zsh alone talks to the daemon's socket itself (zsocket); the client is its fallback.
def test_without_the_socket_path_the_client_does_everything(shell_env, tmux, ollama, work):
    # What a user gets by sourcing the script directly: no zsocket, only the client.
    ollama.answer("client only request", "ls", {"a": True})
    pane = shell_env.zsh(tmux, cwd=work, after="__shellper_socket=")
    translate(pane, "client only request")
    pane.wait_line("ls -a", timeout=20)
    pane.run("")
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["command"], e["edited"], e["status"]) for e in hist["exchanges"]] == [("ls -a", False, 0)]


# Enter is zsh's accept-line widget, which shellper wraps.
def test_an_existing_accept_line_wrapper_keeps_working(shell_env, tmux, ollama, work):
    ollama.answer("wrapped request", "pwd", {})
    # The wrapper runs with the user's options, not shellper's own.
    wrapper = (
        "setopt shwordsplit\n"
        "typeset -gi enters=0\n"
        "my-accept-line() { (( enters++ )); seen=$options[shwordsplit]-$options[extendedglob]; zle .accept-line }\n"
        "zle -N accept-line my-accept-line"
    )
    pane = shell_env.zsh(tmux, cwd=work, before=wrapper)
    pane.run("echo one")
    pane.run("echo two")
    pane.run("echo enters=$enters", wait="enters=3")  # this line counts too
    pane.run("echo seen=$seen", wait="seen=on-off")
    pane.run("echo enters=$enters", wait="enters=5")
    translate(pane, "#? wrapped request", key="Enter")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)
    pane.run("echo enters=$enters", wait="enters=7")  # "#?" never reached it


# -- other plugins ---------------------------------------------------------------


# zsh's own plugins, which wrap the same widgets.
@pytest.mark.skipif(
    not all(os.path.exists(p) for p in (AUTOSUGGEST, HIGHLIGHT, FZF)),
    reason="needs zsh-autosuggestions, zsh-syntax-highlighting and fzf",
)
@pytest.mark.parametrize("order", ["plugins-first", "shellper-first"])
def test_with_autosuggestions_syntax_highlighting_and_fzf(shell_env, tmux, ollama, work, order):
    ollama.answer("listy", "ls", {"a": True})
    if order == "plugins-first":
        before, after = f"source {FZF}; source {AUTOSUGGEST}", f"source {HIGHLIGHT}"
    else:
        before, after = "", f"source {FZF}; source {AUTOSUGGEST}; source {HIGHLIGHT}"
    pane = shell_env.zsh(tmux, cwd=work, before=before, after=after)
    pane.run("bindkey '^R'; bindkey '^G'", wait="shellper-translate")
    assert "fzf-history-widget" in pane.since_mark()
    # zsh-autosuggestions kept its own settings.
    pane.run("print clears-accept-line=$ZSH_AUTOSUGGEST_CLEAR_WIDGETS[(Ie)accept-line]", wait=re.compile(r"clears-accept-line=[1-9]"))
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
    assert [e["command"] for e in shell_env.history(pane.pid, settled=True)["exchanges"]] == ["ls -a"]


# -- the request zsh sends (protocol.py's format: only Python reads what it means) -------


def fields(data: bytes) -> tuple:
    """(op, pid, shell, cwd, text, {NAME: VALUE}) of one raw request, as bytes."""
    assert data.endswith(b"\0\0") and request_end(data) == len(data), data
    f = data[:-2].split(b"\0")
    return (*f[:5], dict(x.split(b"=", 1) for x in f[5:]))


# Sends each request (one a line of `requests`, words are __shellper_send's arguments, $'...'
# allowed) from a non-interactive zsh in `cwd` after `setup`, over zsh's socket or through
# the client; returns the zsh's pid and the raw requests the stand-in got.
def sent(tmp_path, carrier, cwd, setup="", requests=("translate 'list it'",), env=None):
    path = str(tmp_path / "run" / "standin.sock")
    srv, received = one_reply_server(path, b"ok\0pwd\0\0")
    send = "".join(f"__t {line}\n" for line in requests)
    script = (
        f"source {SCRIPT} || exit 9\n"
        + (
            f"__shellper_socket={path}\n"
            if carrier == "socket"
            else f"__shellper_socket= __shellper_python={sys.executable} __shellper_pkg={ROOT}\n"
        )
        + '__t() { local REPLY r; __shellper_send "$@"; local fd=$REPLY; sysread -i $fd -t 10 r; exec {fd}<&-; }\n'
        + f"{setup}\nprint -r -- $$\n{send}"
    )
    base = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(tmp_path), "SHELLPER_SOCKET": path}
    try:
        proc = subprocess.run(["zsh", "-f", "-c", script], cwd=cwd, capture_output=True, env={**base, **(env or {})}, timeout=30)
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
        wait_until(lambda: len(received) == len(requests))
    finally:
        srv.close()
    return int(proc.stdout.split()[0]), received


CARRIERS = ["socket", "client"]


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_request_names_its_op_pid_shell_cwd_text_and_the_terminals_environment(tmp_path, carrier):
    work = tmp_path / "w d"
    work.mkdir()
    setup = (
        "export SHELLPER_MODEL='m =1' SHELLPER_NOT_A_SETTING=x OTHER=o\n"
        "SHELLPER_TIMEOUT=9 XDG_CONFIG_HOME=/unexported CDPATH=/a:/b\n"  # not exported; CDPATH goes anyway
        "export SHELLPER_NUL=$'a\\0b'\n"  # a NUL held by zsh (the environment cannot)
    )
    requests = ("translate $'list \\0it\\n'", "check 'ls -a'", "executed 'ls -a' status=3", "closed")
    pid, got = sent(tmp_path, carrier, work, setup, requests)
    ops = [fields(r) for r in got]
    env = {b"SHELLPER_MODEL": b"m =1", b"SHELLPER_NOT_A_SETTING": b"x", b"SHELLPER_NUL": b"ab", b"HOME": str(tmp_path).encode()}
    env.update({b"CDPATH": b"/a:/b", b"SHELLPER_SOCKET": str(tmp_path / "run" / "standin.sock").encode()})
    assert ops[0] == (b"translate", str(pid).encode(), b"zsh", str(work).encode(), b"list it\n", env)
    assert ops[1] == (b"check", str(pid).encode(), b"zsh", str(work).encode(), b"ls -a", env)
    assert ops[2] == (b"executed", str(pid).encode(), b"zsh", str(work).encode(), b"ls -a", {b"status": b"3", **env})
    assert ops[3][:5] == (b"closed", str(pid).encode(), b"zsh", str(work).encode(), b"")
    # Python reads them all.
    assert [decode_request(r)["op"] for r in got] == ["translate", "check", "executed", "closed"]


@pytest.mark.parametrize("carrier", CARRIERS)
def test_without_cdpath_xdg_config_home_is_sent_only_exported(tmp_path, carrier):
    _, got = sent(tmp_path, carrier, tmp_path, "unset CDPATH; export XDG_CONFIG_HOME=/conf")
    sock = str(tmp_path / "run" / "standin.sock").encode()
    assert fields(got[0])[5] == {b"HOME": str(tmp_path).encode(), b"XDG_CONFIG_HOME": b"/conf", b"SHELLPER_SOCKET": sock}


@pytest.mark.parametrize("carrier", CARRIERS)
def test_in_a_gbk_locale_a_folder_and_a_request_pass_byte_for_byte(tmp_path, carrier):
    """In GBK a character's second byte can be a backslash (0x81 0x5C), and bytes that are no
    text at all (0xFF) can be typed: zsh sends both unchanged; Python decides what they are."""
    loc = gbk_locale(str(tmp_path))
    if loc is None:
        pytest.skip("no zh_CN.GBK locale, and localedef could not make one (Debian: apt-get install locales)")
    real, _, _ = cjk_folders(str(tmp_path))
    text = "\u4e2d\u6587".encode("gbk") + b"\x81\\u002F \xff end"
    (tmp_path / "text").write_bytes(text)
    env = {k: v for k, v in loc.items() if k != "LANG"}
    setup = f"export SHELLPER_MODEL=$'\\xff\\x81\\\\'; text=$(<{tmp_path}/text)"
    _, got = sent(tmp_path, carrier, real, setup, ('translate "$text"',), env={"LANG": loc["LANG"], **env})
    op, _, _, cwd, sent_text, environ = fields(got[0])
    assert (op, cwd, sent_text) == (b"translate", real.encode(), text)
    assert environ[b"SHELLPER_MODEL"] == b"\xff\x81\\"


# The whole flow in an interactive zsh: Ctrl-G, Enter on the suggestion, the report, the exit.
def test_each_op_of_a_terminal_goes_to_the_socket_with_its_pid(shell_env, tmux, work):
    path = os.path.join(shell_env.root, "flow-standin.sock")
    srv, received = one_reply_server(path, lambda d: b"same\0\0\0" if d.startswith(b"check\0") else b"ok\0echo flow-ran\0\0")
    try:
        pane = shell_env.zsh(tmux, cwd=work, after=f"__shellper_socket={path}")
        pane.run("export SHELLPER_MODEL=later")  # read at each request, not when shellper loaded
        translate(pane, "flow request")
        pane.wait_line("echo flow-ran", timeout=10)
        pane.run("", wait="flow-ran")
        wait_until(lambda: len(received) == 3)
        pane.send("C-d")
        wait_until(lambda: len(received) == 4)
    finally:
        srv.close()
    got = [fields(r) for r in received]
    assert [(f[0], f[1], f[2], f[4]) for f in got] == [
        (b"translate", str(pane.pid).encode(), b"zsh", b"flow request"),
        (b"check", str(pane.pid).encode(), b"zsh", b"echo flow-ran"),
        (b"executed", str(pane.pid).encode(), b"zsh", b"echo flow-ran"),
        (b"closed", str(pane.pid).encode(), b"zsh", b""),
    ]
    assert got[0][3] == work.encode() and got[0][5][b"SHELLPER_MODEL"] == b"later"
    assert got[2][5][b"status"] == b"0"


def test_in_a_gbk_locale_the_daemon_judges_the_real_folder(shell_env, tmux, ollama, work, tmp_path):
    """In GBK (Big5, Shift_JIS alike) a backslash can be a character's second
    byte: the folder a中\\u002Fb中\\u002Fc must reach the daemon as itself, not as
    the decoy a中/b中/c, whose `cd ..` goes elsewhere (and whose files a verdict would judge)."""
    loc = gbk_locale(str(tmp_path))
    if loc is None:
        pytest.skip("no zh_CN.GBK locale, and localedef could not make one (Debian: apt-get install locales)")
    shell_env.history(os.getpid())  # starts the daemon from a UTF-8 environment, as the other tests' daemon
    real, parent, decoy = cjk_folders(work)
    ollama.answer("cjk parent", "cd", {"folder": ".."})
    pane = shell_env.zsh(tmux, cwd=real, env=loc)
    translate(pane, "cjk parent request")
    pane.wait_line("cd ..", timeout=20)
    expect_parent(pane, parent, decoy)


# -- manners: nothing of the user's shell changes, ordinary lines cost nothing ---

ZSH_STATE = (
    "__spt_state() {\n"
    "  { setopt; print -r -- @keys\n"
    "    local m k; for m in emacs viins vicmd; do bindkey -LM $m; done\n"
    '    print -r -- @widgets; for k in ${(ko)widgets}; do print -r -- "$k=$widgets[$k]"; done\n'
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


# zsh's own options, keymaps and widgets, and its socket route: python never starts.
def test_options_keys_and_widgets_unchanged_under_nounset_through_every_flow(shell_env, tmux, ollama, work):
    # python must never start: the daemon is up, so zsh talks to it directly,
    # for requests and for the report of the line run after a suggestion.
    log = os.path.join(work, "starts.log")
    logpy = os.path.join(work, "logpy")
    with open(logpy, "w") as fh:
        fh.write(f'#!/bin/sh\necho "$*" >> {log}\nexec {sys.executable} "$@"\n')
    os.chmod(logpy, 0o755)
    shell_env.history(os.getpid())  # starts the daemon
    ollama.answer("nounset flow request", "pwd", {})
    pane = shell_env.zsh(
        tmux,
        cwd=work,
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
    fail_then_cancel(pane, ollama, "nounset")
    pane.run("__spt_state used")
    pane.run("[[ -o nounset ]] && echo nounset-$((1+1))", wait="nounset-2")

    assert "parameter not set" not in pane.screen()
    assert not os.path.exists(log), open(log).read()
    assert [(e["command"], e["status"]) for e in shell_env.history(pane.pid, settled=True)["exchanges"]] == [("pwd", 0)]
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


# zsh's Ctrl-C recovery runs in a zle-line-init hook, which the user may set too.
def test_a_zle_line_init_set_after_shellper_keeps_ctrl_c_recovery(shell_env, tmux, ollama, work):
    """A .zshrc that does `zle -N zle-line-init` after loading shellper keeps both hooks."""
    ollama.delay = 5.0
    after = "my-line-init() { typeset -gi MY_INITS; (( MY_INITS++ )) }\nzle -N zle-line-init my-line-init"
    pane = shell_env.zsh(tmux, cwd=work, after=after)
    pane.run("print inits=$MY_INITS", wait=re.compile(r"inits=[1-9]"))
    translate(pane, "take your time please")
    pane.wait_for("translating...")
    pane.send("C-c")
    pane.wait_line("take your time please", timeout=3)
    pane.wait_for("shellper: cancelled")
    ollama.delay = 0.0
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


# zsh's global aliases apply to any word: __shellper_unalias keeps them off the inserted line.
def test_unalias_keeps_the_argv_with_oh_my_zsh_aliases_in_a_non_interactive_zsh(tmp_path):
    # The way the lead's execution harness uses it: `zsh -f -c`, source, unalias, eval.
    # Each command is a stub that writes its argv (NUL after each word, RS after each run).
    names = sorted({line.split()[0] for line, _ in UNALIAS_CASES})
    stubs = "".join(f"function {n} {{ printf '%s\\0' {n} \"$@\" >> argv.out; printf '\\36' >> argv.out }}\n" for n in names)
    script = (
        f"source {SCRIPT} || exit 9\n{OHMYZSH}{stubs}"
        'for line in "${(@0)$(<lines)}"; do __shellper_unalias "$line" && eval "$REPLY"; done\n'
    )
    (tmp_path / "lines").write_bytes("\0".join(line for line, _ in UNALIAS_CASES).encode())
    proc = subprocess.run(
        ["zsh", "-f", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"LANG": "C.UTF-8", "PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
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
    proc = subprocess.run(
        ["zsh", "-f", "-c", script],
        cwd=deep,
        capture_output=True,
        text=True,
        env={"LANG": "C.UTF-8", "PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
    assert proc.stdout == "Good one\nGreat\nNUL\n", proc.stderr
    assert (deep / "..." / "key").read_text() == "new"  # a folder named "...", here
    assert (tmp_path / ".ssh" / "key").read_text() == "old"  # not ../../.ssh


# Global aliases (any word, not only the first) are zsh's alone.
def test_global_aliases_never_change_the_inserted_command(shell_env, tmux, ollama, work):
    with open(os.path.join(work, "notes.txt"), "w") as fh:
        fh.write("Good one\nbad one\nGreat\n")
    ollama.answer("lines with a capital g", "grep", {"pattern": "G", "file_name": "notes.txt"})
    ollama.answer("make a folder called nul", "mkdir", {"dir_name": "NUL"})
    pane = shell_env.zsh(tmux, cwd=work, before=OHMYZSH)
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
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["call"]["name"], e["edited"]) for e in hist["exchanges"]] == [("grep", False), ("mkdir", False)]


# -- highlighting and notes ----------------------------------------------------------


# A zsh plugin that colours the line after the widgets it wrapped.
@pytest.mark.skipif(not os.path.exists(HIGHLIGHT), reason="needs zsh-syntax-highlighting")
@pytest.mark.parametrize("order", ["highlighter-first", "shellper-first"])
def test_syntax_highlighting_colours_the_inserted_command_as_its_own(shell_env, tmux, ollama, work, order):
    ollama.answer("xqzvw-nope show all the files", "ls", {"a": True})
    src = f"source {HIGHLIGHT}"
    pane = shell_env.zsh(tmux, cwd=work, **({"before": src} if order == "highlighter-first" else {"after": src}))
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


# zsh shows notes under the line (zle -M), which can go; bash and fish print them as output.
def test_a_note_goes_once_the_line_is_edited_and_stays_while_the_cursor_moves(shell_env, tmux, ollama, work):
    ollama.answer("show the notes", "cat", {"file_name": "notes.txt"})
    pane = shell_env.zsh(tmux, cwd=work)
    translate(pane, "show the notes")
    pane.wait_line("cat notes.txt", timeout=20)
    note = re.compile(r"shellper: fails: notes\.txt is not there")
    pane.wait_for(note)
    pane.send("Left")
    time.sleep(0.3)
    assert note.search(pane.since_mark())
    pane.send("End")
    pane.type(" extra.txt")
    pane.wait_line("cat notes.txt extra.txt")
    wait_until(lambda: not note.search(pane.since_mark()), timeout=3)


# -- Enter on a suggestion: judged again on the files as they are ------------------


# zsh asks over its socket, as its translate request goes (no process).
def test_enter_judges_the_suggestion_again_and_runs_nothing_that_changed(shell_env, tmux, ollama, work):
    judged_again_at_enter(shell_env, ollama, lambda cwd: shell_env.zsh(tmux, cwd=cwd), to_vi="bindkey -v")


def test_enter_asks_about_the_inserted_suggestion_only(shell_env, tmux, work):
    asked_only_for_the_suggestion(shell_env, lambda after: shell_env.zsh(tmux, cwd=work, after=after), "__shellper_socket=%s")


# An Enter pressed while the first one waits for the check never runs the line unseen.
def test_enter_pressed_while_checking_runs_nothing(shell_env, tmux, work):
    enter_while_checking_runs_nothing(shell_env, lambda after: shell_env.zsh(tmux, cwd=work, after=after), "__shellper_socket=%s")


# The look predicts where `cd d` goes with the shell's own CDPATH (not the daemon's), over the
# socket and through the client; Enter's check uses it too (else the first Enter says it changed).
def test_cd_through_the_shells_cdpath(shell_env, tmux, ollama, work):
    os.mkdir(os.path.join(work, "here"))
    pane = shell_env.zsh(tmux, cwd=os.path.join(work, "here"), after=f"CDPATH=/nonexistent:{work}/elsewhere")
    cd_through_the_shells_cdpath(pane, ollama, work, then=("", "__shellper_socket="))


def test_set_x_never_shows_the_api_key(shell_env, tmux, ollama, work):
    """`set -x` traces every command; the request holds the exported SHELLPER_API_KEY: the
    functions that build and send it (Ctrl-G, Enter's check, the report, autostart, exit)
    trace nothing of it."""
    ollama.answer("traced request", "pwd", {})
    pane = shell_env.zsh(tmux, cwd=work, before="export SHELLPER_API_KEY=sk-TRACED-4242")
    pane.run("set -x")
    translate(pane, "traced request")
    pane.wait_line("pwd", timeout=20)
    pane.run("", wait=work)  # Enter: the check, then the report at the next prompt
    shell_env.shellper("stop")
    pane.run("true")  # the prompt starts the daemon again: autostart's request
    time.sleep(0.5)
    assert "sk-TRACED-4242" not in pane.screen() and "+__shellper" in pane.screen()  # (traced: set -x was on)
