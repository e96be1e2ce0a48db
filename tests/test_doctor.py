"""`shellper doctor` against a FakeOllama: healthy, model missing, no tools,
server down, broken settings, and the shell checks. A real daemon starts in
private XDG dirs for each test and is stopped afterwards."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess

import pytest
from daemon_helpers import shellper, stop_daemon, wait_until
from fake_ollama import FakeOllama

from shellper_hook import cli, client, paths
from shellper_hook.doctor import Report, check_keys, check_rc

LINE = re.compile(r"(OK|WARN|FAIL) {2,4}\S")


@pytest.fixture
def zsh_home(shellper_env, monkeypatch):
    """Private HOME/XDG dirs of a user whose login shell is zsh (no ZDOTDIR); any daemon started is stopped after."""
    monkeypatch.setenv("SHELL", "/bin/zsh")
    monkeypatch.delenv("ZDOTDIR", raising=False)
    yield shellper_env
    stop_daemon()


def write_rc(name: str, text: str) -> str:
    path = os.path.join(os.path.expanduser("~"), name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def doctor(capsys):
    code = cli.main(["doctor"])
    out = capsys.readouterr().out
    return code, out, checks(out)


def checks(out: str) -> list:
    """[(status, text, fix or None)], checking the line format on the way."""
    found = []
    lines = out.splitlines()
    body = lines[: lines.index("")] if "" in lines else lines
    for line in body:
        if line.startswith("      fix: "):
            assert found and found[-1][0] in ("WARN", "FAIL") and found[-1][2] is None, line
            found[-1] = (found[-1][0], found[-1][1], line[len("      fix: ") :])
            continue
        assert LINE.match(line), f"not a check line: {line!r}"
        status, text = line.split(None, 1)
        assert line.startswith(f"{status:<6}")
        found.append((status, text, None))
    for status, text, fix in found:
        assert (fix is not None) == (status != "OK"), (status, text)
    return found


def find(found, status: str, start: str):
    hits = [c for c in found if c[0] == status and c[1].startswith(start)]
    assert hits, f"no {status} line starting {start!r} in {found}"
    return hits[0]


def statuses(found) -> set:
    return {c[0] for c in found}


def test_healthy_setup_passes_every_check(zsh_home, monkeypatch, capsys):
    write_rc(".zshrc", 'export EDITOR=vi\neval "$(shellper init zsh)"\n')
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
        assert code == 0, out
        assert statuses(found) <= {"OK", "WARN"}
        find(found, "OK", "Python 3.")
        assert paths.config_file() in find(found, "OK", "settings")[1]
        find(found, "OK", "daemon: pid")
        find(found, "OK", f"model server at {fake.base_url} answers (Ollama)")
        find(found, "OK", "model 'distil_model' is on the server")
        find(found, "OK", "model 'distil_model' supports tool calls")
        find(found, "OK", os.path.expanduser("~/.zshrc") + " loads shellper")
        find(found, "OK", "translate round trip: 'print the current directory' -> pwd")
        assert "All checks passed" in out
        # The round trip really went to the model server...
        assert any(m.get("content") == "print the current directory" for body in fake.requests for m in body["messages"])
    # ...and left no conversation behind.
    history = client.request({"op": "history", "session": os.getpid()}, autostart=False, timeout=10)
    assert history["ok"] and history["exchanges"] == [] and history["pending"] is None


def test_missing_model_fails_with_setup_model_fix(zsh_home, monkeypatch, capsys):
    with FakeOllama(models=("llama3",)) as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    assert code == 1
    find(found, "OK", "model server at")
    status, text, fix = find(found, "FAIL", "model 'distil_model'")
    assert "not on the server" in text and "shellper setup-model" in fix
    status, text, fix = find(found, "FAIL", "translate round trip")
    assert "not found" in text
    assert "check(s) failed" in out


def test_model_without_tools_capability_fails(zsh_home, monkeypatch, capsys):
    with FakeOllama() as fake:
        fake.capabilities = ["completion"]
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", "model 'distil_model' tool calling")
    assert "setup-model" in fix


def test_server_down_fails_with_how_to_start_ollama(zsh_home, monkeypatch, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    monkeypatch.setenv("SHELLPER_BASE_URL", url)
    code, out, found = doctor(capsys)
    assert code == 1
    find(found, "OK", "daemon: pid")  # the daemon itself is fine
    status, text, fix = find(found, "FAIL", f"model server at {url}")
    assert "ollama serve" in fix and "https://ollama.com/download" in fix
    assert not any(c[1].startswith("model 'distil_model'") for c in found)  # nothing to ask a dead server
    find(found, "FAIL", "translate round trip")


def test_bad_setting_names_its_source_and_the_daemon_cannot_start(zsh_home, monkeypatch, capsys):
    monkeypatch.setenv("SHELLPER_MAX_TURNS", "999")
    code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", "settings")
    assert "SHELLPER_MAX_TURNS" in text and "shellper config" in fix
    status, text, fix = find(found, "FAIL", "daemon")
    # The cause itself, not "see the log".
    assert "cannot start" in text and "SHELLPER_MAX_TURNS" in text and "shellper config" in fix
    find(found, "WARN", "translate round trip: not tried")


def test_state_dir_that_cannot_be_created_is_the_daemon_fix(zsh_home, monkeypatch, capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker / "state"))
    code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", "daemon")
    assert str(blocker / "state") in text and "XDG_STATE_HOME" in fix


def test_config_file_that_is_not_toml_is_named(zsh_home, monkeypatch, capsys):
    os.makedirs(paths.config_dir(), exist_ok=True)
    with open(paths.config_file(), "w") as fh:
        fh.write("base_url = [unclosed\n")
    code, out, found = doctor(capsys)
    assert code == 1
    assert paths.config_file() in find(found, "FAIL", "settings")[1]


def test_socket_dir_others_can_enter_fails(zsh_home, monkeypatch, capsys):
    directory = os.path.dirname(paths.socket_path())
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", f"socket dir {directory}")
    assert "755" in text and fix == f"chmod 700 {directory}"


def test_shell_checks_warn_without_failing(zsh_home, monkeypatch, capsys, tmp_path):
    """bash without the init line (a commented one does not count), a zsh without
    zsh/net/socket, and `shellper` not on PATH: warnings with fixes, exit 0. zsh is
    checked though $SHELL is bash: its .zshrc loads shellper (issue 21)."""
    monkeypatch.setenv("SHELL", "/usr/bin/bash")
    write_rc(".bashrc", '# eval "$(shellper init bash)"\neval "$(shellper init zsh)"\n')
    write_rc(".zshrc", 'eval "$(shellper init zsh)"\n')
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "zsh").write_text("#!/bin/sh\necho 'zmodload: failed to load module: zsh/net/socket' >&2\nexit 1\n")
    (fakebin / "zsh").chmod(0o755)
    keep = [d for d in os.environ["PATH"].split(os.pathsep) if d and not os.path.exists(os.path.join(d, "shellper"))]
    monkeypatch.setenv("PATH", os.pathsep.join([str(fakebin), *keep]))
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    assert code == 0, out
    status, text, fix = find(found, "WARN", os.path.expanduser("~/.bashrc"))
    assert "Ctrl-G does nothing" in text and 'eval "$(shellper init bash)"' in fix
    status, text, fix = find(found, "WARN", "zsh")
    assert "zsh/net/socket" in text
    find(found, "OK", os.path.expanduser("~/.zshrc loads shellper"))
    status, text, fix = find(found, "WARN", "`shellper` command")
    assert "PATH" in fix
    assert "see the warnings above" in out


def test_other_login_shell_is_a_warning(zsh_home, monkeypatch, capsys):
    monkeypatch.setenv("SHELL", "/usr/bin/tcsh")
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    assert code == 0
    text = find(found, "WARN", "shell")[1]
    assert "your shell is tcsh" in text and "zsh, bash and fish" in text


def test_daemon_started_with_older_settings_is_flagged(zsh_home, monkeypatch, capsys):
    with FakeOllama() as old, FakeOllama() as new:
        monkeypatch.setenv("SHELLPER_BASE_URL", old.base_url)
        assert client.request({"op": "ping"}, autostart=True, timeout=10)["ok"]
        monkeypatch.setenv("SHELLPER_BASE_URL", new.base_url)  # the user edits the settings
        code, out, found = doctor(capsys)
    status, text, fix = find(found, "WARN", "daemon: pid")
    assert old.base_url in text and "shellper stop" in fix
    assert code == 0


# ---------------------------------------------------------------- the CLI's error lines
# Wrong input and broken set-ups end in one line on stderr that says what to do.


def one_error_line(r) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shellper"), r.stderr
    return lines[0]


@pytest.mark.parametrize("pid", ["0", "-5", "x", "99999999999999999999"])
def test_ask_with_a_bad_session_is_a_usage_error(zsh_home, pid):
    r = shellper("ask", "--session", pid, "list", "files")
    assert r.returncode == 2 and "--session" in r.stderr and "PID" in r.stderr
    assert "Traceback" not in r.stderr
    assert not os.path.exists(paths.socket_path())  # refused before any daemon started


def test_ask_from_a_deleted_directory_says_cd_elsewhere(zsh_home, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    r = subprocess.run(["bash", "-c", f"cd {gone} && rmdir {gone} && shellper ask list files"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "no longer exists" in one_error_line(r) and "cd" in r.stderr


def test_ask_with_bytes_that_are_not_utf8_says_retype(zsh_home):
    r = subprocess.run(["shellper", "ask", b"list \xff\xfe files"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "not valid UTF-8" in one_error_line(r)


def test_ask_with_an_overlong_request_says_shorten_it(zsh_home):
    r = shellper("ask", "x" * 70_000)
    assert r.returncode == 1 and "too long (70000 characters)" in one_error_line(r)


def test_ask_with_broken_settings_names_the_setting_not_the_log(zsh_home, monkeypatch):
    monkeypatch.setenv("SHELLPER_TIMEOUT", "soon")
    r = shellper("ask", "list", "files")
    line = one_error_line(r)
    assert r.returncode == 1
    assert "SHELLPER_TIMEOUT" in line and "shellper config" in line and "daemon.log" not in line


def test_ask_and_daemon_with_an_unusable_state_dir_say_which_variable(zsh_home, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker / "state"))
    for argv in (["ask", "list", "files"], ["daemon"]):
        r = shellper(*argv)
        line = one_error_line(r)
        assert r.returncode == 1, argv
        assert str(blocker / "state") in line and "XDG_STATE_HOME" in line, argv


def test_status_json_without_a_daemon_is_still_json(zsh_home):
    r = shellper("status", "--json")
    assert r.returncode == 1
    reply = json.loads(r.stdout)
    assert reply["ok"] is False and reply["running"] is False and "daemon" in reply["error"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line(zsh_home):
    with open("/dev/full", "w") as full:
        r = subprocess.run(["shellper", "config"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 1 and "No space left" in one_error_line(r)


def test_export_to_a_missing_folder_says_choose_another_file(zsh_home, tmp_path):
    with FakeOllama() as fake:
        r = shellper("export", "-o", str(tmp_path / "no" / "such" / "dir.jsonl"), env={**os.environ, "SHELLPER_BASE_URL": fake.base_url})
    assert r.returncode == 1 and "choose another file with -o" in one_error_line(r)


def test_config_says_when_the_named_file_does_not_exist(zsh_home, monkeypatch, tmp_path):
    monkeypatch.setenv("SHELLPER_CONFIG", str(tmp_path / "typo.toml"))
    r = shellper("config")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == f"# config file: {tmp_path / 'typo.toml'} (does not exist: defaults and environment only)"


def test_a_mistyped_variable_is_a_warning(zsh_home, monkeypatch, capsys):
    monkeypatch.setenv("SHELLPER_BASEURL", "http://elsewhere:1/v1")
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    status, text, fix = find(found, "WARN", "environment")
    assert "SHELLPER_BASEURL" in text and "SHELLPER_BASE_URL" in text and "unset" in fix
    assert code == 0  # a warning, not a failure


# ---------------------------------------------------------------- issue 11: 3 and 4


def test_another_shellper_earlier_on_path_is_named_with_the_one_it_shadows(zsh_home, monkeypatch, capsys, tmp_path):
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        ours = shutil.which("shellper")
        code, out, found = doctor(capsys)
        assert find(found, "OK", "`shellper` on PATH")[1].endswith(ours)
        # A broken `shellper` earlier on PATH.
        fakebin = tmp_path / "bin"
        fakebin.mkdir()
        (fakebin / "shellper").write_text("#!/bin/sh\necho 'shellper: this one is broken' >&2\nexit 3\n")
        (fakebin / "shellper").chmod(0o755)
        monkeypatch.setenv("PATH", f"{fakebin}{os.pathsep}{os.environ['PATH']}")
        code, out, found = doctor(capsys)
        assert not any(c[1].startswith("`shellper` on PATH") for c in found), out
        status, text, fix = find(found, "WARN", "`shellper` command")
        assert f"{fakebin}/shellper is not this installation" in text and "this one is broken" in text
        assert f"it shadows {ours}" in text
        assert str(fakebin / "shellper") in fix and os.path.dirname(ours) in fix
        # One that runs a Python without this shellper.
        (fakebin / "shellper").write_text("#!/bin/sh\necho \"__shellper_python='/bin/sh'\"\n")
        code, out, found = doctor(capsys)
        status, text, fix = find(found, "WARN", "`shellper` command")
        assert "cannot import shellper" in text and f"it shadows {ours}" in text


def test_a_round_trip_failing_on_a_daemons_old_settings_says_restart_it(zsh_home, monkeypatch, capsys):
    with FakeOllama() as new:
        with FakeOllama() as old:
            monkeypatch.setenv("SHELLPER_BASE_URL", old.base_url)
            assert client.request({"op": "ping"}, autostart=True, timeout=10)["ok"]
        # The old server is gone; the settings now name a healthy one.
        monkeypatch.setenv("SHELLPER_BASE_URL", new.base_url)
        code, out, found = doctor(capsys)
        assert code == 1
        find(found, "OK", f"model server at {new.base_url} answers")
        status, text, fix = find(found, "FAIL", "translate round trip")
        assert "restart the daemon" in fix and "shellper stop" in fix and "checks above" not in fix
        # Following the fix line fixes it.
        assert shellper("stop").returncode == 0
        wait_until(lambda: not os.path.exists(paths.socket_path()), 10)
        code, out, found = doctor(capsys)
        assert code == 0, out
        find(found, "OK", "translate round trip")


def test_a_round_trip_failing_on_a_healthy_looking_server_does_not_point_at_its_checks(zsh_home, monkeypatch, capsys):
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        fake.mode = "500"  # only chat requests fail
        code, out, found = doctor(capsys)
    assert code == 1
    find(found, "OK", "model 'distil_model' supports tool calls")
    status, text, fix = find(found, "FAIL", "translate round trip")
    assert "passed the checks above" in fix and "try again" in fix


# -- the shellper key in the user's own shell ------------------------------------------
KEY_RCS = {
    "zsh": (".zshrc", 'eval "$(shellper init zsh)"', "bindkey '^G' beep", "^G", "beep"),
    "bash": (".bashrc", 'eval "$(shellper init bash)"', "bind -x '\"\\C-g\": echo mine'", "\\C-g", "echo mine"),
}


def key_check(shell: str, rc: str) -> str:
    name = KEY_RCS[shell][0]
    write_rc(name, rc + "\n")
    out = io.StringIO()
    check_keys(Report(out), os.path.basename(os.environ["SHELL"]))
    return out.getvalue()


@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_doctor_says_when_the_key_is_taken_and_how_to_rebind(zsh_home, monkeypatch, shell):
    if not shutil.which(shell):
        pytest.skip(f"needs {shell}")
    monkeypatch.setenv("SHELL", f"/bin/{shell}")
    _, init, own, key, theirs = KEY_RCS[shell]
    out = key_check(shell, init)
    assert out.startswith(f"OK    {shell} key {key} is shellper's"), out
    # Bound before shellper loaded: shellper took it over; say so.
    out = key_check(shell, own + "\n" + init)
    assert out.startswith(f"WARN  {shell} key {key}: shellper replaced your binding") and theirs in out, out
    assert "fix: to keep yours" in out and "SHELLPER_KEY=" in out
    # Bound after: the key does not translate at all.
    out = key_check(shell, init + "\n" + own)
    assert "does not translate" in out and theirs in out and "SHELLPER_KEY=" in out, out
    # SHELLPER_KEY='': the user binds the widget; nothing to say.
    assert key_check(shell, "SHELLPER_KEY=''\n" + own + "\n" + init) == ""


# -- fish: conf.d/shellper.fish (install.sh) or config.fish, and `bind` ----------------
# install.sh's conf.d file: the installed init file, else `shellper init fish`.
FISH_BLOCK = """# shellper: type a request, press Ctrl-G. Added by install.sh; `install.sh --uninstall` removes it.
if status is-interactive
    if test -r '/nonexistent/init.fish'
        source '/nonexistent/init.fish'
    else if test -x "$HOME/.local/bin/shellper"
        command "$HOME/.local/bin/shellper" init fish | source
    end
end
"""


def fish_config(files: dict) -> str:
    """Replace the fish config folder by `files` (paths relative to it); return its path."""
    base = os.path.join(os.environ["XDG_CONFIG_HOME"], "fish")
    shutil.rmtree(base, ignore_errors=True)
    for rel, text in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    return base


def rc_check() -> str:
    out = io.StringIO()
    check_rc(Report(out), os.path.basename(os.environ["SHELL"]))
    return out.getvalue()


def test_doctor_finds_the_fish_integration_in_conf_d_or_config_fish(zsh_home, monkeypatch):
    monkeypatch.setenv("SHELL", "/usr/bin/fish")
    base = fish_config({"config.fish": "# shellper init fish | source\n", "conf.d/other.fish": "set -g x 1\n"})
    out = rc_check()
    assert out.startswith(f"WARN  {base}: no file in conf.d/ nor config.fish loads shellper"), out
    assert "Ctrl-G does nothing in new fish terminals" in out
    assert f"fix: add this line to {base}/config.fish: shellper init fish | source" in out
    assert f"{base}/conf.d/shellper.fish" in out
    base = fish_config({"conf.d/shellper.fish": FISH_BLOCK})
    assert rc_check() == f"OK    {base}/conf.d/shellper.fish loads shellper\n"
    base = fish_config({"config.fish": "if status is-interactive\n    shellper init fish | source\nend\n"})
    assert rc_check() == f"OK    {base}/config.fish loads shellper\n"
    # Another shell's line is not fish's.
    fish_config({"config.fish": 'eval "$(shellper init bash)"\n'})
    assert rc_check().startswith("WARN")


def fish_key_check(files: dict) -> str:
    fish_config(files)
    out = io.StringIO()
    check_keys(Report(out), os.path.basename(os.environ["SHELL"]))
    return out.getvalue()


@pytest.mark.skipif(not shutil.which("fish"), reason="needs fish")
def test_doctor_says_when_the_fish_key_is_taken_and_how_to_rebind(zsh_home, monkeypatch):
    monkeypatch.setenv("SHELL", "/usr/bin/fish")
    load = {"conf.d/shellper.fish": "shellper init fish | source\n"}
    mine = "bind \\cg 'echo mine'\n"
    assert fish_key_check(load).startswith("OK    fish key \\cg is shellper's"), fish_key_check(load)
    # Bound in a conf.d file read before shellper's: shellper took the key over; say so.
    out = fish_key_check({**load, "conf.d/aaa-mine.fish": mine})
    assert out.startswith("WARN  fish key \\cg: shellper replaced your binding") and "echo mine" in out, out
    assert "fix: to keep yours" in out and "set -U SHELLPER_KEY" in out
    # Bound later (config.fish, or fish_user_key_bindings at the first prompt): no translation.
    for later in (
        {"config.fish": mine},
        {"functions/fish_user_key_bindings.fish": "function fish_user_key_bindings\n    " + mine + "end\n"},
    ):
        out = fish_key_check({**load, **later})
        assert "does not translate" in out and "echo mine" in out and "set -U SHELLPER_KEY" in out, (later, out)
    # vi mode: what counts is the insert mode the prompt starts in.
    vi = "set -g fish_key_bindings fish_vi_key_bindings\n"
    assert fish_key_check({**load, "config.fish": vi + mine}).startswith("OK    fish key \\cg is shellper's")
    out = fish_key_check({**load, "config.fish": vi + "bind -M insert \\cg 'echo mine'\n"})
    assert "does not translate" in out, out
    # SHELLPER_KEY='': the user binds the function; nothing to say.
    assert fish_key_check({**load, "conf.d/000-key.fish": "set -g SHELLPER_KEY ''\n", "config.fish": mine}) == ""
    # Following the fix line: a universal SHELLPER_KEY, and the other key is shellper's.
    fish_config({**load, "config.fish": mine})
    subprocess.run(["fish", "-c", "set -U SHELLPER_KEY \\eg"], check=True, timeout=30)
    out = io.StringIO()
    check_keys(Report(out), os.path.basename(os.environ["SHELL"]))
    assert out.getvalue().startswith("OK    fish key \\eg is shellper's"), out.getvalue()


@pytest.mark.skipif(not shutil.which("zsh"), reason="needs zsh")
def test_a_zsh_that_loads_shellper_through_a_plugin_manager_is_not_told_to_add_the_init_line(zsh_home, monkeypatch):
    """No `shellper init` line in .zshrc: the plugin file, sourced inside a
    function as zinit, antidote and zplug do, loads it all the same."""
    plugin = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell", "shellper.plugin.zsh")
    monkeypatch.setenv("SHELL", shutil.which("zsh"))

    def rc_check() -> list:
        out = io.StringIO()
        check_rc(Report(out), os.path.basename(os.environ["SHELL"]))
        return checks(out.getvalue())

    write_rc(".zshrc", f"_my_manager_load() {{ source '{plugin}' }}\n_my_manager_load\n")
    zshrc = os.path.expanduser("~/.zshrc")
    assert rc_check() == [("OK", f"a new zsh loads shellper (not from an init line in {zshrc}: a plugin manager?)", None)]
    # Without it, the warning and its fix are back.
    write_rc(".zshrc", "_my_manager_load() { : }\n_my_manager_load\n")
    ((status, text, fix),) = rc_check()
    assert status == "WARN" and 'eval "$(shellper init zsh)"' in fix
