"""The wire encoding shared by the client and the daemon."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shellper_hook import protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Text with what a shell may hold: quotes, backslashes, every C0 control but NUL, DEL, C1,
# line separators, bidi controls, astral characters.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))
_HOSTILE = "".join(map(chr, range(1, 0x20))) + '"\\/=\x7f\x85\u2028\u2029\u202e\ufeff😀'
_NAMES = st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT, st.integers(min_value=1, max_value=2**31), st.dictionaries(_NAMES, _TEXT, max_size=6))
def test_a_request_reads_back_as_sent(cwd, text, pid, env):
    if not text.strip():
        text = "x" + text
    cwd = cwd or "/"
    req = {"op": "translate", "session": pid, "shell": "zsh", "cwd": cwd, "text": text + _HOSTILE, "env": env}
    data = protocol.encode_request(req)
    assert protocol.request_end(data + b"translate\0") == len(data)  # one request, whatever the text holds
    got = protocol.decode_request(data)
    assert (got["op"], got["session"], got["shell"], got["cwd"], got["text"], got["env"]) == (
        "translate",
        pid,
        "zsh",
        cwd,
        text + _HOSTILE,
        env,
    )


def test_requests_back_to_back_split_where_each_ends():
    """bash writes its requests one after another on its pipe: empty fields inside one
    (closed has no folder or text) never end it early."""
    one = protocol.encode_request({"op": "closed", "session": 7})
    two = protocol.encode_request({"op": "translate", "session": 7, "cwd": "/", "text": "list files", "id": "a.1"})
    assert protocol.request_end(one + two) == len(one)
    assert protocol.request_end(two[:-1]) is None  # its end not come yet
    assert protocol.decode_request(two)["id"] == "a.1"


def test_a_nul_in_a_value_is_dropped_not_sent():
    """zsh strings may hold a NUL; it would split the field."""
    data = protocol.encode_request({"op": "translate", "session": 1, "cwd": "/", "text": "cat a\0b"})
    assert protocol.decode_request(data)["text"] == "cat ab"


@pytest.mark.parametrize(
    "data, says",
    [
        (b"", "NUL-separated"),
        (b"translate\x001\0bash\0/\0list\0", "NUL-separated"),  # no end
        (b"translate\x001\0bash\0/\0list\0\0extra", "NUL-separated"),  # something after it
        (b"frobnicate\x001\0bash\0/\0list\0\0", "unknown operation"),
        (b"translate\0-1\0bash\0/\0list\0\0", "PID"),
        (b"translate\x001x\0bash\0/\0list\0\0", "PID"),
        (b"translate\x0099999999999\0bash\0/\0list\0\0", "PID"),
        (b"translate\0\0bash\0/\0list\0\0", "needs the shell's PID"),
        (b"translate\x001\0tcsh\0/\0list\0\0", "unknown shell"),
        (b"translate\x001\0bash\0\0list\0\0", "current folder"),
        (b"translate\x001\0bash\0/\0   \0\0", "empty request"),
        (b"translate\x001\0bash\0/\0\xff\xfe\0\0", "not valid UTF-8"),
        (b"translate\x001\0bash\0\xff/\0list\0\0", "not valid UTF-8"),
        (b"translate\x001\0bash\0/\0list\0novalue\0\0", "NAME=VALUE"),
        (b"translate\x001\0bash\0/\0list\0=x\0\0", "NAME=VALUE"),
        (b"translate\x001\0bash\0/\0list\0surprise=1\0\0", "unknown field"),
        (b"executed\x001\0bash\0/\0ls\0status=x\0\0", "status"),
        (b"translate\x001\0bash\0/\0list\0id=a b\0\0", "'id'"),
        (b"translate\x001\0bash\0/\0" + b"x" * protocol.MAX_REQUEST + b"\0\0", "larger than"),
    ],
)
def test_malformed_and_hostile_requests_are_refused_with_why(data, says):
    with pytest.raises(protocol.ProtocolError, match=says):
        protocol.decode_request(data)


def test_what_the_user_can_fix_is_not_blamed_on_a_version_mismatch():
    for data in (b"translate\x001\0bash\0/\0  \0\0", b"translate\x001\0bash\0/\0\xff\0\0"):
        with pytest.raises(protocol.BadInput):
            protocol.decode_request(data)


@pytest.mark.parametrize(
    "env, config",
    [
        ({"HOME": "/h"}, "/h/.config/shellper/config.toml"),
        ({"HOME": "/h/"}, "/h/.config/shellper/config.toml"),  # a trailing slash is the same folder
        ({"HOME": "/h", "XDG_CONFIG_HOME": "/x//"}, "/x/shellper/config.toml"),
        ({"HOME": "/h", "XDG_CONFIG_HOME": "  "}, "/h/.config/shellper/config.toml"),  # blank: unset
        ({"HOME": "/h", "SHELLPER_CONFIG": "/c.toml"}, "/c.toml"),
        ({"HOME": "/h", "SHELLPER_CONFIG": " "}, "/h/.config/shellper/config.toml"),
    ],
)
def test_the_daemon_decides_which_config_file_a_terminal_names(env, config, monkeypatch):
    """The shells send their environment; which config file it means is Python's rule alone."""
    monkeypatch.setattr(sys, "platform", "linux")
    req = protocol.decode_request(protocol.encode_request({"op": "translate", "session": 1, "cwd": "/", "text": "x", "env": env}))
    assert req["settings"]["config"] == config


def test_only_set_settings_count_and_other_variables_are_not_settings():
    env = {"HOME": "/h", "SHELLPER_MODEL": "m", "SHELLPER_TIMEOUT": " ", "SHELLPER_KEY": "^G", "PATH": "/bin"}
    req = protocol.decode_request(protocol.encode_request({"op": "translate", "session": 1, "cwd": "/", "text": "x", "env": env}))
    assert {k: v for k, v in req["settings"].items() if k != "config"} == {"SHELLPER_MODEL": "m"}
    assert req["cdpath"] == ""  # a terminal that sends no CDPATH has none (not the daemon's own)
    env["CDPATH"] = ""
    req = protocol.decode_request(protocol.encode_request({"op": "check", "session": 1, "cwd": "/", "command": "cd a", "env": env}))
    assert req["cdpath"] == "" and req["command"] == "cd a"


def test_the_clients_request_path_imports_nothing_heavy():
    """The client starts per request in bash and fish: its imports are its start-up time."""
    code = (
        "import sys; sys.path.append(sys.argv[1]); import shellper_hook.client; "
        "print(' '.join(m for m in ('json', 'socket', 're', 'enum', 'subprocess', 'tempfile') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, ROOT], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_environment_names_no_setting_can_have_are_ignored_not_refused():
    """zsh exports SHELLPER_é (bash refuses it): one such variable must not break every request."""
    data = b"translate\x001\0zsh\0/\0list\0SHELLPER_\xc3\xa9=1\0A B=x\x001X=y\0HOME=/h\0\0"
    assert protocol.decode_request(data)["env"] == {"HOME": "/h"}
