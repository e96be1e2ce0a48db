"""Every error the daemon can send says what happened and what to do (issue 11.9).

Each error kind is produced through the real code: the model's answers
(parser, tools.validate, render, policy) and the model server's failures
come through a real daemon talking to the fake Ollama; protocol errors are
raw requests on its socket; the rest are raised by the module that owns
them. Each message must be one line whose last clause is an action.
"""

from __future__ import annotations

import asyncio
import re
import socket

import pytest
from daemon_helpers import fake_shell, fields, raw_exchange, reply_of

from shellper_hook import client, errors, parser, protocol, settings, turns
from shellper_hook.tools import ToolCall

# The last clause (after the last "; " or ": ") starts with what to do.
VERBS = (
    "run",
    "try",
    "rephrase",
    "retype",
    "start",
    "set",
    "correct",
    "give",
    "type",
    "open",
    "cd",
    "check",
    "see",
    "restart",
    "ask",
    "use",
    "say",
    "remove",
    "raise",
    "recreate",
    "install",
)
ACTION = re.compile(r"(?:[;:] |, then |, or )(?:then |or |and )?(?:if [^,;:]*, )?(?:" + "|".join(VERBS) + r")\b[^;:]*$")


def assert_actionable(message: str, what: str = "") -> None:
    assert isinstance(message, str) and message, what
    assert "\n" not in message and "\r" not in message, (what, message)
    action = ACTION.search(message)
    assert action, f"{what}: no action at the end of {message!r}"
    assert len(message[: action.start()]) >= 8, f"{what}: says nothing of what happened: {message!r}"


def test_the_model_s_unusable_answers_through_the_daemon(daemon_env, fake, tmp_path):
    """Unknown tool, unknown or missing argument, a value render cannot use, a
    refusal, an empty answer, a program outside the 18 tools."""
    fake.answer("format the disk", "format_disk", {"device": "sda"})
    fake.answer("make a folder", "mkdir", {"folder": "x"})
    fake.answer("make something", "mkdir", {})
    fake.answer("show stdin", "cat", {"file_name": "-"})
    fake.answer("wipe everything", "rm", {"file_name": "/"})
    kinds = set()
    with fake_shell() as shell:

        def ask(text):
            reply = client.request({"op": "translate", "session": shell, "cwd": str(tmp_path), "text": text})
            assert reply["ok"] is False, reply
            assert_actionable(reply["error"], text)
            kinds.add(reply["kind"])
            return reply["error"]

        assert "unknown tool 'format_disk'" in ask("format the disk")
        assert "unknown argument 'folder'" in ask("make a folder")
        assert "required argument" in ask("make something")
        ask("show stdin")
        assert ask("wipe everything").startswith("refused")
        ask("git push the branch")
        for mode in ("empty", "500", "503", "garbage"):
            fake.mode = mode
            ask(f"list the files ({mode})")
        fake.mode = "ok"
        fake.models = []
        assert "setup-model" in ask("list the files")
    assert kinds >= {"answer", "refused", "backend"}


def test_requests_the_daemon_cannot_read(daemon_env):
    assert client.request({"op": "ping"})["ok"]
    payloads = [
        b"not a request\n",  # no NUL at all, then the client hangs up
        b'{"v": 1, "op": "ping"}\n',  # the old JSON line
        b"ping\0\0\0",  # cut short
        fields("format", "", "", "", ""),
        fields("translate", "me", "", "/", "ls"),
        fields("translate", "1", "", "/", "  "),
        fields("translate", "1", "csh", "/", "ls"),
        fields("translate", "1", "", "", "ls"),
        fields("translate", "1", "", "/", b"\xed\xa0\x80"),  # a lone surrogate
        fields("translate", "1", "", b"/\xff", "ls"),
        fields("translate", "1", "", "/", "ls", "noequals"),
        fields("translate", "1", "", "/", "ls", "colour=red"),
        fields("translate", "1", "", "/", "ls", "id=a b"),
        fields("executed", "1", "", "-", "ls", "status=ok"),
        fields("history", "", "", "", ""),
        fields("export", "", "", "", "", "since=last week"),
        b"\xff\xfe\0\0\0\0\0\0",
        fields("ping", "", "", "", "", "A=" + "x" * (70 * 1024)),
        b"x" * (70 * 1024),
    ]
    for payload in payloads:
        for asked in (payload, payload[:-1] + b"reply=json\0\0"):
            if asked is not payload and protocol.request_end(payload) != len(payload):
                continue
            reply = reply_of(raw_exchange(asked, close_write=True))
            assert reply["ok"] is False, asked[:60]
            assert_actionable(reply["error"], repr(asked[:60]))
    # A session whose shell is gone.
    with fake_shell() as shell:
        pass
    reply = client.request({"op": "history", "session": shell})
    assert reply["kind"] == "session"
    assert_actionable(reply["error"], "dead session")


PROSE = "I'm sorry, I cannot help with that"
MESSAGES = [
    {"content": PROSE},
    {"content": ""},
    {"content": "<think>only thinking"},
    {"content": '{"name": "ls", "arguments": {'},
    {"content": "<tool_call>\n</tool_call>"},
    {"content": '<tool_call>{"name": "ls", </tool_call>'},
    {"content": 42},
    {"content": "x" * 100_000},
    {"content": "[" * 5000},
    {"tool_calls": []},
    {"tool_calls": "ls"},
    {"tool_calls": [{"function": {"name": "ls", "arguments": "[1]"}}]},
    {"tool_calls": [{"function": {"name": "ls", "arguments": "{" * 3000}}]},
    {"tool_calls": [{"function": {"name": "rm_rf", "arguments": "{}"}}]},
    {"tool_calls": [{"function": {"name": "mkdir", "arguments": '{"folder": "x"}'}}]},
    {"tool_calls": [{"function": {"name": "mkdir", "arguments": "{}"}}]},
    {"tool_calls": [{"function": {"name": "mkdir", "arguments": '{"dir_name": ["a"]}'}}]},
    "not a message",
]


@pytest.mark.parametrize("message", MESSAGES, ids=range(len(MESSAGES)))
def test_every_parser_error(message):
    with pytest.raises(errors.AnswerError) as exc:
        parser.parse_message(message)
    assert_actionable(str(exc.value), repr(message)[:60])


def test_the_model_s_own_words_never_stand_for_the_action():
    with pytest.raises(errors.NoToolCall) as exc:
        parser.parse_message({"content": "sure; run the installer yourself"})
    assert str(exc.value).endswith("; rephrase the request, or try again")


CALLS = [
    ToolCall("rm", {"file_name": "/"}),
    ToolCall("cat", {"file_name": "-"}),
    ToolCall("mkdir", {"dir_name": "a\x1b[2Kb"}),
    ToolCall("mkdir", {"dir_name": "a\u202eb"}),
    ToolCall("rm", {"file_name": "~/.ssh"}),
]


@pytest.mark.parametrize("call", CALLS, ids=range(len(CALLS)))
def test_every_refusal_and_render_error(call, tmp_path):
    with pytest.raises(errors.ShellperError) as exc:
        turns.vet(call, str(tmp_path), home=str(tmp_path / "home"))
    assert_actionable(str(exc.value), repr(call))


def _backend_error(base_url: str, timeout: float = 5.0, **extra) -> str:
    from shellper_hook.backend import Backend

    s = settings.load(environ={"SHELLPER_BASE_URL": base_url, "SHELLPER_TIMEOUT": str(timeout), **extra}, path="/nonexistent")

    async def run():
        backend = Backend(s)
        try:
            await backend.ask([], "list the files")
        finally:
            await backend.aclose()

    with pytest.raises(errors.BackendError) as exc:
        asyncio.run(run())
    return str(exc.value)


def test_every_backend_error(fake):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    assert_actionable(_backend_error(dead), "unreachable")
    assert_actionable(_backend_error("http://127.0.0.1:9/api/v1"), "unreachable, not Ollama")
    for mode in ("500", "503", "garbage"):
        fake.mode = mode
        assert_actionable(_backend_error(fake.base_url), mode)
    fake.mode = "hang"
    assert_actionable(_backend_error(fake.base_url, timeout=0.5), "timeout")
    fake.mode = "ok"
    fake.capabilities = ["completion"]
    assert_actionable(_backend_error(fake.base_url), "no tools")
    fake.capabilities = ["completion", "tools"]
    assert_actionable(_backend_error(fake.base_url, SHELLPER_MODEL="nosuch"), "model missing")


@pytest.mark.parametrize(
    "environ",
    [
        {"SHELLPER_MAX_TURNS": "999"},
        {"SHELLPER_TIMEOUT": "soon"},
        {"SHELLPER_ALLOW_RECURSIVE": "maybe"},
    ],
)
def test_every_settings_error(environ):
    with pytest.raises(errors.SettingsError) as exc:
        settings.load(environ=environ, path="/nonexistent")
    assert_actionable(str(exc.value), repr(environ))


def test_every_error_class_names_an_action():
    def classes(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from classes(sub)

    for cls in [errors.ShellperError, *classes(errors.ShellperError)]:
        assert_actionable(str(cls("something went wrong")), cls.__name__)
        assert_actionable(str(cls("something went wrong\non two lines")), cls.__name__)
