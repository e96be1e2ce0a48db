"""What a terminal's environment means is the daemon's to decide (issue 20 item 1).

Every request may carry the terminal's environment as NAME=VALUE fields (its
SHELLPER_* variables, HOME, XDG_CONFIG_HOME, CDPATH); protocol.decode_request
alone turns them into "settings" (which config file, which SHELLPER_* values)
and "cdpath", with the same rule the daemon applies to its own environment.
So a terminal whose settings differ from those the daemon started with is
told so, and one whose settings match hears nothing. What bytes each shell
sends is tested with each shell (test_shell_*)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from daemon_helpers import fake_shell, raw_exchange, reply_of, wire
from shellharness import ShellEnv, have, translate

from shellper_hook import client, protocol

linux_paths = pytest.mark.skipif(sys.platform == "darwin", reason="the default config folder is elsewhere on macOS")

ODD = 'quote " back \\ tab \t newline \n bell \x07 é ☃ = equals'
HOME = "/home/me"


def meaning(env: dict) -> dict:
    """What the daemon reads in a request carrying env."""
    return protocol.decode_request(wire({"op": "translate", "session": 1, "cwd": "/", "text": "x", "env": env}))


CASES = [
    # (the terminal's environment besides HOME=/home/me, the config file it means, the settings variables it sets)
    ({}, "/home/me/.config/shellper/config.toml", {}),
    ({"XDG_CONFIG_HOME": "/x/conf"}, "/x/conf/shellper/config.toml", {}),
    ({"XDG_CONFIG_HOME": "  /x/padded  "}, "/x/padded/shellper/config.toml", {}),
    ({"XDG_CONFIG_HOME": "   "}, "/home/me/.config/shellper/config.toml", {}),
    ({"XDG_CONFIG_HOME": ""}, "/home/me/.config/shellper/config.toml", {}),
    ({"XDG_CONFIG_HOME": "/x/conf/"}, "/x/conf/shellper/config.toml", {}),
    ({"XDG_CONFIG_HOME": "/x/conf//"}, "/x/conf/shellper/config.toml", {}),
    ({"HOME": "/home/someone/"}, "/home/someone/.config/shellper/config.toml", {}),
    ({"HOME": "/home/someone//", "XDG_CONFIG_HOME": " "}, "/home/someone/.config/shellper/config.toml", {}),
    ({"HOME": "/"}, "/.config/shellper/config.toml", {}),
    ({"HOME": "/home/jos\udce9"}, "/home/jos\ufffd/.config/shellper/config.toml", {}),  # a home named in Latin-1
    ({"SHELLPER_CONFIG": "/etc/my shellper.toml"}, "/etc/my shellper.toml", {}),
    ({"SHELLPER_CONFIG": " ", "XDG_CONFIG_HOME": "/x/conf"}, "/x/conf/shellper/config.toml", {}),
    (
        {"SHELLPER_MODEL": ODD, "SHELLPER_BASE_URL": "http://127.0.0.1:9/v1", "SHELLPER_API_KEY": "sk-1"},
        "/home/me/.config/shellper/config.toml",
        {"SHELLPER_MODEL": ODD, "SHELLPER_BASE_URL": "http://127.0.0.1:9/v1", "SHELLPER_API_KEY": "sk-1"},
    ),
    # Empty or blank: unset. A value is kept as it is otherwise, as the daemon keeps its own.
    ({"SHELLPER_MODEL": "", "SHELLPER_TIMEOUT": "  ", "SHELLPER_KEEP_ALIVE": " 5m "}, None, {"SHELLPER_KEEP_ALIVE": " 5m "}),
    ({"SHELLPER_MODEL": "caf\udce9"}, None, {"SHELLPER_MODEL": "caf\ufffd"}),  # not UTF-8: read as the daemon reads its own
    ({key: f"value of {key}" for key in protocol.settings_names()}, None, {key: f"value of {key}" for key in protocol.settings_names()}),
    # Not settings: no say in them.
    ({"SHELLPER_SOCKET": "/tmp/x.sock", "PATH": "/bin", "LANG": "C", "CDPATH": "/x"}, "/home/me/.config/shellper/config.toml", {}),
]


@linux_paths
@pytest.mark.parametrize("extra, config, variables", CASES)
def test_the_daemon_reads_which_config_file_and_settings_a_terminals_environment_means(extra, config, variables):
    environ = {"HOME": HOME, **extra}
    settings = meaning(environ)["settings"]
    if config is not None:
        assert settings["config"] == config
    assert {k: v for k, v in settings.items() if k != "config"} == variables
    # The rule the daemon applies to its own environment: a daemon started in this one hears nothing.
    assert settings == protocol.settings_origin(environ)


@linux_paths
@pytest.mark.parametrize("extra, config, variables", CASES)
def test_the_cli_sends_its_environment_and_it_means_what_it_means_to_a_daemon_started_there(extra, config, variables, monkeypatch):
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in {"HOME": HOME, "PATH": "/usr/bin:/bin", "SSH_AUTH_SOCK": "/tmp/agent", **extra}.items():
        monkeypatch.setenv(key, value)
    req = protocol.decode_request(client.wire({"op": "translate", "session": 1, "cwd": "/", "text": "x"}))
    assert req["reply"] == "json"
    assert req["settings"] == protocol.settings_origin(os.environ)
    # Only what the daemon reads settings and cd's folders from; never the rest of the user's environment.
    assert {k for k in req["env"] if not k.startswith("SHELLPER_")} <= {"HOME", "XDG_CONFIG_HOME", "CDPATH"}
    # The other operations carry none (a huge exported setting cannot make `shellper status` fail).
    assert protocol.decode_request(client.wire({"op": "status"}))["env"] == {}


def test_a_request_without_environment_says_nothing_of_settings():
    req = protocol.decode_request(wire({"op": "translate", "session": 1, "cwd": "/", "text": "x"}))
    assert "settings" not in req and "cdpath" not in req


def test_cdpath_is_the_terminals_when_sent():
    assert meaning({"HOME": HOME, "CDPATH": ".:/srv/projects"})["cdpath"] == ".:/srv/projects"
    assert meaning({"HOME": HOME, "CDPATH": ""})["cdpath"] == ""  # set and empty: cd looks only here
    assert meaning({"HOME": HOME, "CDPATH": "/srv/caf\udce9"})["cdpath"] == "/srv/caf\ufffd"
    # A terminal that says its environment and no CDPATH has none: never the daemon's own
    # (the CDPATH of whichever terminal started it sent `cd src` elsewhere).
    assert meaning({"HOME": HOME})["cdpath"] == ""


def test_environment_names_and_the_requests_own_fields_are_told_apart():
    req = protocol.decode_request(b"ping\0\0\0\0\0HOME=/h\0_X=1\0Mixed=2\0reply=json\0\0")
    assert req["env"] == {"HOME": "/h", "_X": "1", "Mixed": "2"} and req["reply"] == "json"
    assert req["settings"] == protocol.settings_origin({"HOME": "/h", "_X": "1", "Mixed": "2"})
    with pytest.raises(protocol.ProtocolError, match="unknown field 'home'"):
        protocol.decode_request(b"ping\0\0\0\0\0home=/h\0\0")  # lower case: the request's own, and no such field
    # An '=' in the value is the value's; the first '=' ends the name.
    assert meaning({"HOME": HOME, "SHELLPER_MODEL": "a=b=c"})["settings"]["SHELLPER_MODEL"] == "a=b=c"


def _daemon_env() -> dict:
    """The environment fields of a terminal with the daemon's own settings (the test's, which started it)."""
    return {k: v for k, v in os.environ.items() if k.startswith("SHELLPER_") or k in ("HOME", "XDG_CONFIG_HOME")}


def test_a_real_daemon_says_when_a_requests_environment_means_other_settings(daemon_env, fake, tmp_path):
    fake.answer("list the files", "ls", {})
    fake.answer("wipe it all", "rm", {"file_name": "/"})
    cwd = str(tmp_path)
    assert client.request({"op": "ping"})["ok"]  # started from this environment
    with fake_shell() as shell:

        def ask(env, text="list the files", **named):
            return json.loads(raw_exchange(wire({"op": "translate", "session": shell, "cwd": cwd, "text": text, "env": env, **named})))

        same = ask(_daemon_env(), reply="json")
        assert same["ok"] and same["warnings"] == [], same
        nothing = ask({}, reply="json")  # a request that does not say
        assert nothing["ok"] and nothing["warnings"] == [], nothing
        model = ask({**_daemon_env(), "SHELLPER_MODEL": "another_model"}, reply="json")
        assert model["ok"] and model["command"] == "ls", model
        [note] = model["warnings"]
        assert note.startswith("this daemon started with other settings (this terminal's SHELLPER_MODEL differs)"), note
        assert "shellper stop" in note and "\n" not in note
        config = ask({**_daemon_env(), "XDG_CONFIG_HOME": str(tmp_path / "elsewhere")}, reply="json")
        assert ["the config file differs)" in w for w in config["warnings"]] == [True], config["warnings"]
        both = ask({**_daemon_env(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": "", "SHELLPER_TIMEOUT": "3"}, reply="json")
        assert ["SHELLPER_TIMEOUT, the config file differ)" in w for w in both["warnings"]] == [True], both["warnings"]
        # Blank values and padded paths mean the same settings: nothing said.
        padded = {**_daemon_env(), "XDG_CONFIG_HOME": f"  {os.environ['XDG_CONFIG_HOME']}//  ", "SHELLPER_MODEL": "  "}
        assert ask(padded, reply="json")["warnings"] == []
        # The shell's form: the note is one of the reply's lines.
        raw = raw_exchange(
            wire({"op": "translate", "session": shell, "cwd": cwd, "text": "list the files", "env": {"SHELLPER_MODEL": "x"}})
        )
        shown = reply_of(raw)
        assert shown["ok"] and shown["command"] == "ls" and any("other settings" in line for line in shown["lines"]), raw
        # An error comes with it too: those settings may well be its cause.
        refused = ask({**_daemon_env(), "SHELLPER_MODEL": "another_model"}, text="wipe it all", reply="json")
        assert refused["ok"] is False and "; also, this daemon started with other settings" in refused["error"], refused


@pytest.mark.skipif(not (have("tmux") and have("zsh") and have("bash")), reason="needs tmux, zsh and bash")
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


def test_a_huge_exported_setting_is_named_and_leaves_status_and_stop_working(daemon_env, monkeypatch):
    """An exported SHELLPER_SYSTEM_PROMPT of 70,000 characters: each Ctrl-G says which
    variable makes the request too large; `shellper status` and `stop` still reach the daemon."""
    assert client.request({"op": "ping"})["ok"]
    monkeypatch.setenv("SHELLPER_SYSTEM_PROMPT", "x" * 70_000)
    huge = protocol.encode_request(
        {
            "op": "translate",
            "session": os.getpid(),
            "shell": "bash",
            "cwd": "/",
            "text": "list",
            "env": {"SHELLPER_SYSTEM_PROMPT": "x" * 70_000},
        }
    )
    out = subprocess.run([sys.executable, "-m", "shellper_hook.client"], input=huge, cwd="/", capture_output=True, timeout=30).stdout
    assert out.startswith(b"error\0bad_request\0") and b"SHELLPER_SYSTEM_PROMPT" in out and b"config.toml" in out, out
    reply = client.request({"op": "translate", "session": os.getpid(), "cwd": "/", "text": "list"})
    assert reply["kind"] == "bad_request" and "SHELLPER_SYSTEM_PROMPT" in reply["error"]
    assert client.request({"op": "status"})["ok"]
