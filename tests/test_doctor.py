"""`shellper doctor` against a FakeOllama: healthy, model missing, no tools,
server down, broken settings, and the shell checks. A real daemon starts in
private XDG dirs for each test and is stopped afterwards."""

from __future__ import annotations

import os
import re
import socket

import pytest

from daemon_helpers import stop_daemon
from fake_ollama import FakeOllama
from shellper_hook import cli, client, paths

LINE = re.compile(r"(OK|WARN|FAIL) {2,4}\S")


@pytest.fixture
def env(shellper_env, monkeypatch):
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
            found[-1] = (found[-1][0], found[-1][1], line[len("      fix: "):])
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


def test_healthy_setup_passes_every_check(env, monkeypatch, capsys):
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


def test_missing_model_fails_with_setup_model_fix(env, monkeypatch, capsys):
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


def test_model_without_tools_capability_fails(env, monkeypatch, capsys):
    with FakeOllama() as fake:
        fake.capabilities = ["completion"]
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", "model 'distil_model' tool calling")
    assert "setup-model" in fix


def test_server_down_fails_with_how_to_start_ollama(env, monkeypatch, capsys):
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


def test_bad_setting_names_its_source_and_the_daemon_cannot_start(env, monkeypatch, capsys):
    monkeypatch.setenv("SHELLPER_MAX_TURNS", "999")
    code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", "settings")
    assert "SHELLPER_MAX_TURNS" in text and "shellper config" in fix
    status, text, fix = find(found, "FAIL", "daemon")
    assert paths.log_file() in fix
    find(found, "WARN", "translate round trip: not tried")


def test_config_file_that_is_not_toml_is_named(env, monkeypatch, capsys):
    os.makedirs(paths.config_dir(), exist_ok=True)
    with open(paths.config_file(), "w") as fh:
        fh.write("base_url = [unclosed\n")
    code, out, found = doctor(capsys)
    assert code == 1
    assert paths.config_file() in find(found, "FAIL", "settings")[1]


def test_socket_dir_others_can_enter_fails(env, monkeypatch, capsys):
    directory = os.path.dirname(paths.socket_path())
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    code, out, found = doctor(capsys)
    assert code == 1
    status, text, fix = find(found, "FAIL", f"socket dir {directory}")
    assert "755" in text and fix == f"chmod 700 {directory}"


def test_shell_checks_warn_without_failing(env, monkeypatch, capsys, tmp_path):
    """bash without the init line (a commented one does not count), a zsh without
    zsh/net/socket, and `shellper` not on PATH: warnings with fixes, exit 0."""
    monkeypatch.setenv("SHELL", "/usr/bin/bash")
    write_rc(".bashrc", '# eval "$(shellper init bash)"\neval "$(shellper init zsh)"\n')
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
    status, text, fix = find(found, "WARN", "`shellper` command")
    assert "PATH" in fix
    assert "see the warnings above" in out


def test_other_login_shell_is_a_warning(env, monkeypatch, capsys):
    monkeypatch.setenv("SHELL", "/usr/bin/fish")
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        code, out, found = doctor(capsys)
    assert code == 0
    assert "fish" in find(found, "WARN", "shell")[1]


def test_daemon_started_with_older_settings_is_flagged(env, monkeypatch, capsys):
    with FakeOllama() as old, FakeOllama() as new:
        monkeypatch.setenv("SHELLPER_BASE_URL", old.base_url)
        assert client.request({"op": "ping"}, autostart=True, timeout=10)["ok"]
        monkeypatch.setenv("SHELLPER_BASE_URL", new.base_url)  # the user edits the settings
        code, out, found = doctor(capsys)
    status, text, fix = find(found, "WARN", "daemon: pid")
    assert old.base_url in text and "shellper stop" in fix
    assert code == 0
