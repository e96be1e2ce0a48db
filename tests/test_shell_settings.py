"""zsh's Ctrl-G, and bash's on its pipes, tell the daemon the terminal's
settings, as the client does (issue 11.8), so a shell whose settings differ
from the running daemon's is told so; one whose settings match hears
nothing. bash's request on its pipes is JSON it writes itself: it must say
what the client would."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from shellharness import ShellEnv, have, translate

from shellper_hook import paths, protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZSH_SCRIPT = os.path.join(ROOT, "shell", "shellper.zsh")
BASH_SCRIPT = os.path.join(ROOT, "shell", "shellper.bash")

pytestmark = pytest.mark.skipif(not (have("zsh") and have("bash")), reason="needs zsh and bash")


def shell_settings(shell: str, environ: dict) -> dict:
    """What the shell's own code sends as its settings."""
    if shell == "zsh":
        argv = ["zsh", "-f", "-c", 'source "$1"; __shellper_settings; print -rn -- "$REPLY"', "zsh", ZSH_SCRIPT]
    else:
        argv = ["bash", "--norc", "-c", 'source "$1"; __shellper_settings; printf %s "$REPLY"', "bash", BASH_SCRIPT]
    out = subprocess.run(argv, env=environ, capture_output=True, check=True)
    return json.loads(out.stdout.decode("utf-8"))


def client_settings(environ: dict, monkeypatch) -> dict:
    """What the client sends from the same environment."""
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    return protocol.settings_origin(os.environ, paths.config_file())


ODD = 'quote " back \\ tab \t newline \n bell \x07 é ☃'


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"XDG_CONFIG_HOME": "/x/conf"},
        {"XDG_CONFIG_HOME": "  /x/padded  "},
        {"XDG_CONFIG_HOME": "   "},
        {"XDG_CONFIG_HOME": "/x/conf/"},
        {"XDG_CONFIG_HOME": "/x/conf//"},
        {"HOME": "/home/someone/"},
        {"HOME": "/home/someone//", "XDG_CONFIG_HOME": " "},
        {"HOME": "/"},
        {"SHELLPER_CONFIG": "/etc/my shellper.toml"},
        {"SHELLPER_CONFIG": " ", "XDG_CONFIG_HOME": "/x/conf"},
        {"SHELLPER_MODEL": ODD, "SHELLPER_BASE_URL": "http://127.0.0.1:9/v1", "SHELLPER_API_KEY": "sk-1"},
        {"SHELLPER_MODEL": "", "SHELLPER_TIMEOUT": "  ", "SHELLPER_KEEP_ALIVE": " 5m "},
        {key: f"value of {key}" for key in protocol.SETTINGS_ENV},
    ],
)
@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_the_shell_sends_what_the_client_sends(shell, extra, monkeypatch, tmp_path):
    environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", **extra}
    assert shell_settings(shell, environ) == client_settings(environ, monkeypatch)


def test_a_setting_that_is_not_exported_is_not_sent(tmp_path):
    """As the client (a child process) never sees it."""
    environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    script = 'source "$1"; SHELLPER_MODEL=mine; XDG_CONFIG_HOME=/x; __shellper_settings; printf %s "$REPLY"'
    out = subprocess.run(["bash", "--norc", "-c", script, "bash", BASH_SCRIPT], env=environ, capture_output=True, check=True)
    assert json.loads(out.stdout) == {"config": f"{tmp_path}/.config/shellper/config.toml"}


@pytest.mark.parametrize("text", [ODD, "plain", "\\", '"', "\x01\x1f\x7f", "ünïcödé ✓ 🎉", "a\u2028b", " lead and trail "])
def test_bash_writes_its_request_as_json_the_daemon_reads_back(text, tmp_path):
    cwd = tmp_path / ('odd "dir" \\ \t' + text[:5].replace("/", "_"))
    cwd.mkdir()
    environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    script = 'source "$1"; __shellper_request_json "$2"; printf %s "$REPLY"'
    out = subprocess.run(["bash", "--norc", "-c", script, "bash", BASH_SCRIPT, text], env=environ, cwd=cwd, capture_output=True, check=True)
    req = protocol.decode_request(out.stdout + b"\n")
    assert (req["op"], req["text"], req["cwd"], req["reply"], req["shell"]) == ("translate", text, str(cwd), "nul", "bash")
    assert req["session"] > 0 and req["settings"]["config"] == f"{tmp_path}/.config/shellper/config.toml"


def test_bash_sends_bytes_that_are_not_utf8_as_they_are(tmp_path):
    """The daemon refuses them by name, as it does zsh's."""
    environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    script = 'source "$1"; __shellper_request_json $\'bad \\xff byte\'; printf %s "$REPLY"'
    out = subprocess.run(["bash", "--norc", "-c", script, "bash", BASH_SCRIPT], env=environ, cwd=tmp_path, capture_output=True, check=True)
    assert b'"text":"bad \xff byte"' in out.stdout
    with pytest.raises(protocol.ProtocolError, match="'text' is not valid UTF-8"):
        protocol.decode_request(out.stdout + b"\n")


@pytest.mark.skipif(not have("tmux"), reason="needs tmux")
@pytest.mark.parametrize("shell", ["zsh", "bash"])
def test_a_shell_with_other_settings_than_the_daemons_is_told_so(shell, ollama, tmux):
    """Every request says so: bash's second one goes on its pipes."""
    ollama.answer("list the files", "ls", {})
    env = ShellEnv(ollama.base_url)  # its own daemon: started by the first shell below
    try:
        same = getattr(env, shell)(tmux)
        translate(same, "list the files")  # starts the daemon, with this terminal's settings
        same.wait_line("ls", timeout=20)
        other = getattr(env, shell)(tmux, env={"SHELLPER_MODEL": "another_model"})
        for _ in range(2):
            other.send("C-u")
            other.wait_line("")
            other.send("C-l")
            translate(other, "list the files")
            other.wait_line("ls", timeout=20)
            note = other.wait_for("other settings")
            assert "SHELLPER_MODEL" in other.screen() and "shellper stop" in other.screen(), note
        for _ in range(2):
            same.send("C-u")
            translate(same, "list the files")
            same.wait_line("ls", timeout=20)
        assert "other settings" not in same.screen()
    finally:
        env.close()
