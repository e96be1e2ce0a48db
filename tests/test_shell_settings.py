"""zsh's Ctrl-G tells the daemon the terminal's settings, as the client does
(issue 11.8), so a zsh whose settings differ from the running daemon's is
told so; one whose settings match hears nothing."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from shellharness import ShellEnv, have, translate

from shellper_hook import paths, protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZSH_SCRIPT = os.path.join(ROOT, "shell", "shellper.zsh")

pytestmark = pytest.mark.skipif(not have("zsh"), reason="needs zsh")


def zsh_settings(environ: dict) -> dict:
    out = subprocess.run(
        ["zsh", "-f", "-c", 'source "$1"; __shellper_settings; print -rn -- "$REPLY"', "zsh", ZSH_SCRIPT],
        env=environ, capture_output=True, check=True,
    )
    return json.loads(out.stdout.decode("utf-8"))


def client_settings(environ: dict, monkeypatch) -> dict:
    """What the client sends from the same environment."""
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    return protocol.settings_origin(os.environ, paths.config_file())


ODD = 'quote " back \\ tab \t newline \n bell \x07 é ☃'


@pytest.mark.parametrize("extra", [
    {},
    {"XDG_CONFIG_HOME": "/x/conf"},
    {"XDG_CONFIG_HOME": "  /x/padded  "},
    {"XDG_CONFIG_HOME": "   "},
    {"SHELLPER_CONFIG": "/etc/my shellper.toml"},
    {"SHELLPER_CONFIG": " ", "XDG_CONFIG_HOME": "/x/conf"},
    {"SHELLPER_MODEL": ODD, "SHELLPER_BASE_URL": "http://127.0.0.1:9/v1", "SHELLPER_API_KEY": "sk-1"},
    {"SHELLPER_MODEL": "", "SHELLPER_TIMEOUT": "  ", "SHELLPER_KEEP_ALIVE": " 5m "},
    {key: f"value of {key}" for key in protocol.SETTINGS_ENV},
])
def test_zsh_sends_what_the_client_sends(extra, monkeypatch, tmp_path):
    environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", **extra}
    assert zsh_settings(environ) == client_settings(environ, monkeypatch)


@pytest.mark.skipif(not have("tmux"), reason="needs tmux")
def test_a_zsh_with_other_settings_than_the_daemons_is_told_so(ollama, tmux):
    ollama.answer("list the files", "ls", {})
    env = ShellEnv(ollama.base_url)  # its own daemon: started by the first zsh below
    try:
        same = env.zsh(tmux)
        translate(same, "list the files")  # starts the daemon, with this terminal's settings
        same.wait_line("ls", timeout=20)
        other = env.zsh(tmux, env={"SHELLPER_MODEL": "another_model"})
        translate(other, "list the files")
        other.wait_line("ls", timeout=20)
        note = other.wait_for("other settings")
        assert "SHELLPER_MODEL" in other.screen() and "shellper stop" in other.screen(), note
        same.send("C-u")
        translate(same, "list the files")
        same.wait_line("ls", timeout=20)
        assert "other settings" not in same.screen()
    finally:
        env.close()
