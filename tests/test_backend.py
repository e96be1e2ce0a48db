"""The backend with the real openai client over real HTTP against FakeOllama."""

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_ollama import FakeOllama, raw_fields

from shellper_hook import backend, tools
from shellper_hook.backend import Backend, build_messages, ollama_root, request_kwargs
from shellper_hook.errors import (
    AnswerError,
    BackendError,
    BackendTimeout,
    ModelMissing,
    NoToolCall,
    ServerError,
    ServerUnreachable,
)
from shellper_hook.settings import DEFAULT_SYSTEM_PROMPT, Settings
from shellper_hook.tools import ToolCall


def settings_for(server, **kw):
    return Settings(base_url=server.base_url, **kw)


def run_backend(settings, fn):
    """Run `await fn(backend)` on a fresh Backend, closing it afterwards."""

    async def main():
        backend = Backend(settings)
        try:
            return await fn(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def translate(settings, request, history=()):
    return run_backend(settings, lambda b: b.call(list(history), request))


def failure(settings, request="show me where I am", history=()):
    with pytest.raises(Exception) as info:
        translate(settings, request, history)
    assert "\n" not in str(info.value)
    return info.value


def closed_port_url(path="/v1"):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}{path}"


DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the tests' own calls


def post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with DIRECT.open(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


HISTORY = [
    ("go into the docs folder", ToolCall("cd", {"folder": "docs"})),
    ("write it's done into notes.txt", ToolCall("echo", {"content": "it's done", "file_name": "notes.txt"})),
]


# ------------------------------------------------------------ messages


def test_build_messages_exact_structure():
    got = build_messages(Settings(), HISTORY, "now list everything")
    assert got == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "go into the docs folder"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "cd", "arguments": '{"folder": "docs"}'},
                }
            ],
        },
        {"role": "user", "content": "write it's done into notes.txt"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "echo", "arguments": '{"content": "it\'s done", "file_name": "notes.txt"}'},
                }
            ],
        },
        {"role": "user", "content": "now list everything"},
    ]


def test_system_prompt_has_the_trained_shape_and_can_be_replaced():
    assert DEFAULT_SYSTEM_PROMPT.startswith("You are a tool-calling model working on:\n<task_description>")
    assert DEFAULT_SYSTEM_PROMPT.endswith(
        "</task_description>\n\nRespond to the conversation history by generating an appropriate tool "
        "call that satisfies the user request. Generate only the tool call according to the provided "
        "tool schema, do not generate anything else. Always respond with a tool call.\n\n"
    )
    task = DEFAULT_SYSTEM_PROMPT.split("<task_description>")[1].split("</task_description>")[0]
    assert "\n" not in task and "file" in task and "one call" in task
    got = build_messages(Settings(system_prompt="custom"), [], "x")
    assert got[0] == {"role": "system", "content": "custom"}


def test_history_arguments_are_json_strings_keeping_unicode_and_odd_values():
    call = ToolCall("echo", {"content": 'line1\nline2 "q" $HOME é', "file_name": "None"})
    msg = build_messages(Settings(), [("say it", call)], "again")[2]
    raw = msg["tool_calls"][0]["function"]["arguments"]
    assert isinstance(raw, str) and "é" in raw
    assert json.loads(raw) == call.arguments
    assert "content" not in msg  # Ollama's Qwen3 template drops calls from turns with content


@pytest.mark.parametrize("max_turns,expected", [(3, ["r4", "r5", "r6"]), (0, []), (50, [f"r{i}" for i in range(7)])])
def test_max_turns_keeps_the_newest_exchanges(max_turns, expected):
    history = [(f"r{i}", ToolCall("ls", {"a": i % 2 == 0})) for i in range(7)]
    got = build_messages(Settings(max_turns=max_turns), history, "new")
    users = [m["content"] for m in got if m["role"] == "user"]
    assert users == expected + ["new"]
    assert len(got) == 2 + 2 * len(expected)
    for text, msg in zip(expected, [m for m in got if m["role"] == "assistant"]):
        i = int(text[1:])
        assert json.loads(msg["tool_calls"][0]["function"]["arguments"]) == {"a": i % 2 == 0}


def test_request_kwargs_match_the_demo():
    kw = request_kwargs(Settings(model="m"), [{"role": "user", "content": "x"}])
    assert kw["model"] == "m" and kw["temperature"] == 0 and kw["stream"] is True and kw["max_tokens"] == 256
    assert kw["extra_body"]["reasoning_effort"] == "none"
    assert kw["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert kw["extra_body"]["tools"] == tools.openai_tools() and len(kw["extra_body"]["tools"]) == 18


# ------------------------------------------------------------ the wire


def test_server_receives_the_request_the_model_was_trained_with(fake):
    call = translate(settings_for(fake), "where am I", HISTORY)
    assert call == ToolCall("pwd", {})
    assert len(fake.requests) == 1
    body = fake.requests[0]
    assert body["model"] == "distil_model"
    assert body["temperature"] == 0 and body["stream"] is True and body["max_tokens"] == 256
    assert body["reasoning_effort"] == "none"
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert [t["function"]["name"] for t in body["tools"]] == list(tools.names())
    assert len(body["tools"]) == 18
    assert body["messages"] == build_messages(settings_for(fake), HISTORY, "where am I")
    for msg in body["messages"]:
        for tc in msg.get("tool_calls", []):
            assert isinstance(tc["function"]["arguments"], str)


def test_fake_rejects_object_arguments_in_history_like_ollama(fake):
    msgs = build_messages(Settings(), HISTORY, "x")
    msgs[2]["tool_calls"][0]["function"]["arguments"] = {"folder": "docs"}
    status, body = post(fake.base_url + "/chat/completions", {"model": "distil_model", "messages": msgs})
    assert status == 400 and body["error"]["message"] == "invalid tool call arguments"


@pytest.mark.parametrize("shape", ["tool_calls", "content_json", "qwen_text", "think"])
def test_each_answer_shape_is_parsed(fake, shape):
    fake.shape = shape
    fake.answer("notes", "echo", {"content": "it's done", "file_name": "notes.txt"})
    fake.answer("LIST", "ls", {"a": True})
    got = translate(settings_for(fake), "please list all files, hidden too")
    assert got == ToolCall("ls", {"a": True})
    got = translate(settings_for(fake), "append it's done to notes")
    assert got == ToolCall("echo", {"content": "it's done", "file_name": "notes.txt"})


def test_rules_match_the_last_user_message_and_later_rules_win(fake):
    fake.answer("folder", "mkdir", {"dir_name": "a"})
    fake.answer("folder", "mkdir", {"dir_name": "b"})
    history = [("make a folder", ToolCall("mkdir", {"dir_name": "x"}))]
    assert translate(settings_for(fake), "where am i", history) == ToolCall("pwd", {})
    assert translate(settings_for(fake), "another FOLDER please") == ToolCall("mkdir", {"dir_name": "b"})
    fake.default("ls", {})
    assert translate(settings_for(fake), "anything") == ToolCall("ls", {})


def test_success_body_is_ollamas_shape(fake):
    fake.answer("list", "ls", {"a": True})
    status, body = post(
        fake.base_url + "/chat/completions",
        {
            "model": "distil_model",
            "messages": [{"role": "user", "content": "list"}],
        },
    )
    assert status == 200
    assert body["object"] == "chat.completion" and body["system_fingerprint"] == "fp_ollama"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["index"] == 0
    msg = choice["message"]
    assert msg["role"] == "assistant" and msg["content"] == ""
    tc = msg["tool_calls"][0]
    assert tc["type"] == "function" and tc["index"] == 0
    assert tc["id"].startswith("call_") and len(tc["id"]) == len("call_") + 8
    assert json.loads(tc["function"]["arguments"]) == {"a": True}


# ------------------------------------------------------------ failures


def test_unknown_model_says_how_to_create_it(fake):
    err = failure(settings_for(fake, model="nope"))
    assert type(err) is ModelMissing
    assert str(err) == (f"model 'nope' not found on {fake.base_url}: run `shellper setup-model` (or `ollama create nope -f Modelfile`)")


def test_unknown_model_on_a_server_known_not_to_be_ollama():
    with FakeOllama(ollama=False) as server:

        async def go(backend):
            status = await backend.server_status()
            assert status["ollama"] is False and status["reachable"] is True
            return await backend.call([], "x")

        with pytest.raises(ModelMissing) as info:
            run_backend(settings_for(server, model="nope"), go)
    msg = str(info.value)
    assert "'nope'" in msg and "SHELLPER_MODEL" in msg and "ollama create" not in msg


def test_server_500_is_a_server_error_sent_once(fake):
    fake.mode = "500"
    err = failure(settings_for(fake))
    assert type(err) is ServerError
    assert "HTTP 500" in str(err) and "error parsing tool call" in str(err) and "try again" in str(err)
    assert len(fake.requests) == 1  # no silent retries that double the wait


def test_server_503_says_it_is_busy(fake):
    fake.mode = "503"
    err = failure(settings_for(fake))
    assert type(err) is ServerError
    assert "busy" in str(err) and "HTTP 503" in str(err) and "OLLAMA_MAX_QUEUE" in str(err)
    assert len(fake.requests) == 1


def test_html_instead_of_json_is_a_server_error(fake):
    fake.mode = "garbage"
    err = failure(settings_for(fake))
    assert type(err) is ServerError
    assert "OpenAI-compatible" in str(err) and "SHELLPER_BASE_URL" in str(err)


def test_empty_answer_is_no_tool_call(fake):
    fake.mode = "empty"
    err = failure(settings_for(fake))
    assert isinstance(err, NoToolCall)


def test_template_without_tools_says_to_recreate_the_model(fake):
    fake.capabilities = ["completion"]
    err = failure(settings_for(fake))
    assert type(err) is BackendError
    assert "without tool support" in str(err) and "Modelfile" in str(err)


def test_unreachable_ollama_says_to_start_it():
    url = closed_port_url()
    started = time.monotonic()
    err = failure(Settings(base_url=url))
    assert time.monotonic() - started < 5
    assert type(err) is ServerUnreachable
    assert str(err) == f"cannot reach Ollama at {url}: start it (`ollama serve`, or open the Ollama app), then try again"


def test_unreachable_other_server_is_not_called_ollama():
    url = closed_port_url("/api/openai")
    err = failure(Settings(base_url=url))
    assert type(err) is ServerUnreachable
    assert str(err).startswith(f"cannot reach the model server at {url}:") and "SHELLPER_BASE_URL" in str(err)


def test_hanging_server_times_out_with_the_fix(fake):
    fake.mode = "hang"
    started = time.monotonic()
    err = failure(settings_for(fake, timeout=0.4))
    elapsed = time.monotonic() - started
    assert type(err) is BackendTimeout
    assert 0.3 < elapsed < 3
    assert "0.4 s" in str(err) and "SHELLPER_TIMEOUT" in str(err)


def test_slow_answer_within_the_timeout_still_works(fake):
    fake.delay = lambda: 0.2
    assert translate(settings_for(fake, timeout=5), "where") == ToolCall("pwd", {})


class OddServer:
    """A server answering every request with one fixed status, type and body."""

    def __init__(self, status, content_type, body):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                data = outer.body.encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

            def log_message(self, *args):
                pass

        self.status, self.content_type, self.body = status, content_type, body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "status,ctype,body,kind",
    [
        (200, "application/json", "{not json", ServerError),
        (200, "application/json", '{"unexpected": 1}', ServerError),
        (200, "application/json", '{"choices": []}', ServerError),
        (200, "application/json", '{"choices": [{"index": 0, "message": null}]}', ServerError),
        (200, "application/json", "[1, 2, 3]", ServerError),
        (200, "text/plain", "", ServerError),
        (200, "application/json", '{"choices": [{"index": 0, "message": {"role": "assistant", "content": "I cannot"}}]}', AnswerError),
        (502, "text/html", "<html><h1>Bad Gateway</h1>\n<p>nginx</p></html>", ServerError),
        (401, "application/json", '{"error": {"message": "invalid api key"}}', BackendError),
        (400, "application/json", '{"error": {"message": "invalid reasoning value"}}', BackendError),
    ],
)
def test_odd_answers_become_one_line_typed_errors(status, ctype, body, kind):
    server = OddServer(status, ctype, body)
    try:
        err = failure(Settings(base_url=server.base_url))
    finally:
        server.close()
    assert isinstance(err, kind), repr(err)
    if status >= 500:
        assert f"HTTP {status}" in str(err) and "Bad Gateway" in str(err)
    if status == 401:
        assert "SHELLPER_API_KEY" in str(err)
    if status == 400:
        assert "rejected" in str(err) and "invalid reasoning value" in str(err)


def test_long_server_message_is_cut_to_one_short_line():
    server = OddServer(500, "application/json", json.dumps({"error": {"message": "boom\n" * 300}}))
    try:
        err = failure(Settings(base_url=server.base_url))
    finally:
        server.close()
    assert type(err) is ServerError and len(str(err)) < 300 and "boom boom" in str(err)


def test_a_proxy_from_the_environment_does_not_capture_a_local_server(fake, monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, closed_port_url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def go(backend):
        return await backend.call([], "where"), await backend.server_status(), await backend.preload()

    call, status, preloaded = run_backend(settings_for(fake), go)
    assert call == ToolCall("pwd", {})
    assert status["reachable"] is True and status["model_present"] is True
    assert preloaded is True


def test_cancelling_translate_abandons_the_request(fake):
    fake.mode = "hang"

    async def main():
        backend = Backend(settings_for(fake, timeout=30))
        try:
            task = asyncio.ensure_future(backend.call([], "where"))
            for _ in range(200):
                if fake.requests:
                    break
                await asyncio.sleep(0.01)
            assert fake.requests, "the request never reached the server"
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - started < 1
        finally:
            await backend.aclose()

    asyncio.run(main())
    deadline = time.monotonic() + 3
    while fake.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.disconnects == 1  # the server saw the connection close


# ------------------------------------------------------------ status and preload


def test_status_of_ollama_with_the_model(fake):
    status = run_backend(settings_for(fake), lambda b: b.server_status())
    assert status["reachable"] is True and status["ollama"] is True
    assert status["model_present"] is True and status["tools"] is True
    assert status["model_loaded"] is False
    assert "0.13.0" in status["message"] and "'distil_model'" in status["message"]
    assert "\n" not in status["message"]


@pytest.mark.parametrize("model", ["distil_model:latest", "Distil_Model", "library/distil_model"])
def test_status_accepts_a_model_name_ollama_reads_as_the_same(fake, model):
    status = run_backend(settings_for(fake, model=model), lambda b: b.server_status())
    assert status["model_present"] is True


def test_status_when_the_model_is_missing(fake):
    status = run_backend(settings_for(fake, model="other"), lambda b: b.server_status())
    assert status["reachable"] is True and status["ollama"] is True
    assert status["model_present"] is False
    assert "shellper setup-model" in status["message"] and "'other'" in status["message"]


def test_status_when_the_template_lacks_tools(fake):
    fake.capabilities = ["completion"]
    status = run_backend(settings_for(fake), lambda b: b.server_status())
    assert status["model_present"] is True and status["tools"] is False
    assert "Modelfile" in status["message"]


def test_status_of_a_server_that_is_not_ollama():
    with FakeOllama(ollama=False) as server:
        status = run_backend(settings_for(server), lambda b: b.server_status())
        missing = run_backend(settings_for(server, model="zzz"), lambda b: b.server_status())
    assert status["reachable"] is True and status["ollama"] is False
    assert status["model_present"] is True and status["model_loaded"] is None and status["tools"] is None
    assert missing["model_present"] is False
    assert "SHELLPER_MODEL" in missing["message"] and "distil_model" in missing["message"]


def test_status_of_a_web_page_that_is_no_api():
    server = OddServer(200, "text/html", "<html>hello</html>")
    try:
        status = run_backend(Settings(base_url=server.base_url), lambda b: b.server_status())
    finally:
        server.close()
    assert status["reachable"] is True and status["ollama"] is False
    assert status["model_present"] is None
    assert "not an OpenAI-compatible API" in status["message"]


def test_status_when_nothing_listens():
    url = closed_port_url()
    status = run_backend(Settings(base_url=url), lambda b: b.server_status())
    assert status["reachable"] is False and status["ollama"] is False
    assert status["message"] == f"cannot reach Ollama at {url}: start it (`ollama serve`, or open the Ollama app), then try again"


def test_preload_loads_the_model_with_keep_alive(fake):
    settings = settings_for(fake, keep_alive="45m")
    assert run_backend(settings, lambda b: b.preload()) is True
    assert fake.preloads == [{"model": "distil_model", "keep_alive": "45m"}]
    status = run_backend(settings, lambda b: b.server_status())
    assert status["model_loaded"] is True and "is loaded" in status["message"]


def test_preload_forever_is_sent_as_a_number_ollama_accepts(fake):
    # Ollama reads a string keep_alive with Go's ParseDuration, which rejects "-1".
    status, _ = post(fake.root_url + "/api/generate", {"model": "distil_model", "keep_alive": "-1"})
    assert status == 400
    assert run_backend(settings_for(fake, keep_alive="-1"), lambda b: b.preload()) is True
    assert fake.preloads[-1] == {"model": "distil_model", "keep_alive": -1}
    assert fake.loaded["distil_model:latest"] is None  # kept forever


def test_preload_fails_softly(fake):
    assert run_backend(settings_for(fake, model="absent"), lambda b: b.preload()) is False
    assert run_backend(Settings(base_url=closed_port_url()), lambda b: b.preload()) is False
    with FakeOllama(ollama=False) as other:
        assert run_backend(settings_for(other), lambda b: b.preload()) is False
        assert other.preloads == []


@pytest.mark.parametrize(
    "url,root",
    [
        ("http://localhost:11434/v1", "http://localhost:11434"),
        ("http://localhost:11434/v1/", "http://localhost:11434"),
        ("https://gpu.lan/ollama/v1", "https://gpu.lan/ollama"),
        ("http://[::1]:11434/v1", "http://[::1]:11434"),
        ("http://localhost:11434", None),
        ("http://localhost:8000/v1beta", None),
        ("https://api.example.com/openai", None),
        ("localhost:11434/v1", None),
    ],
)
def test_ollama_root(url, root):
    assert ollama_root(url) == root


# ------------------------------------------------------------ the fake's other endpoints


def test_fake_native_endpoints(fake):
    with DIRECT.open(fake.root_url + "/", timeout=5) as resp:
        assert resp.read() == b"Ollama is running"
    with DIRECT.open(fake.root_url + "/api/tags", timeout=5) as resp:
        assert [m["name"] for m in json.loads(resp.read())["models"]] == ["distil_model:latest"]
    with DIRECT.open(fake.base_url + "/models", timeout=5) as resp:
        assert [m["id"] for m in json.loads(resp.read())["data"]] == ["distil_model:latest"]
    status, body = post(fake.root_url + "/api/show", {"model": "distil_model"})
    assert status == 200 and body["capabilities"] == ["completion", "tools"]
    status, body = post(fake.root_url + "/api/show", {"model": "x"})
    assert status == 404 and body == {"error": "model 'x' not found"}


# ------------------------------------------------------------ prompt-cache warm-up

# What the server reads before the conversation: it must be the same bytes in every request.
PREFIX = ("model", "tools", "messages[0]", "temperature", "stream", "reasoning_effort", "chat_template_kwargs")


def test_warm_up_sends_a_real_requests_prefix_with_a_one_token_generation(fake):
    async def both(b):
        await b.call(list(HISTORY), "where am I")
        return await b.warm_prompt_cache()

    assert run_backend(settings_for(fake), both) is True
    real, warm = (raw_fields(raw) for raw in fake.raw_bodies)
    assert len(fake.requests) == 1 and len(fake.warmups) == 1
    for key in PREFIX:
        assert warm[key] == real[key], key
    assert set(warm) == set(real) and warm["max_tokens"] == b"1" and real["max_tokens"] == b"256"
    assert fake.warmups[0]["messages"][1:] == [{"role": "user", "content": backend.WARM_UP_REQUEST}]


def test_warm_up_never_bills_a_hosted_api(fake):
    # A server that is neither Ollama nor on this machine: no request at all.
    settings = Settings(base_url="https://api.example.invalid/v1", timeout=2)
    assert run_backend(settings, lambda b: b.warm_prompt_cache()) is False


def test_warm_up_fails_softly(fake):
    fake.mode = "500"
    assert run_backend(settings_for(fake), lambda b: b.warm_prompt_cache()) is False
    assert run_backend(Settings(base_url=closed_port_url()), lambda b: b.warm_prompt_cache()) is False


# ------------------------------------------------------------ bounded answers (issue 25)


def test_a_model_that_goes_on_writing_is_cut_off_at_its_first_whole_call(fake):
    """A stock model with history wrote one call per line until the timeout, holding the
    server's only slot: the answer is bounded and the stream closed at the first call."""
    fake.shape = "content_json"
    fake.mode = "runaway"
    fake.default("ls", {"a": True})
    started = time.monotonic()
    call = run_backend(settings_for(fake, timeout=20), lambda b: b.call(list(HISTORY), "list everything"))
    assert call == ToolCall("ls", {"a": True})
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while not fake.streamed and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = fake.streamed[-1]
    assert sent["max_tokens"] == 256 and sent["left"] and sent["pieces"] < 40, sent


def test_every_answer_is_bounded_by_max_tokens(fake):
    fake.shape = "content_json"
    fake.default("echo", {"content": "x" * 200, "file_name": "None"})
    # A call longer than the bound is cut off by the server at max_tokens: no call, one clear error.
    with pytest.raises(AnswerError):
        run_backend(settings_for(fake, timeout=20, max_tokens=16), lambda b: b.call([], "say x"))
    assert fake.streamed[-1]["max_tokens"] == 16 and fake.streamed[-1]["pieces"] == 16


def test_a_server_that_does_not_stream_still_answers(fake):
    fake.streams = False
    fake.answer("where", "pwd", {})
    assert run_backend(settings_for(fake), lambda b: b.call([], "where am I")) == ToolCall("pwd", {})
