"""A stand-in for Ollama that speaks its wire format, for tests.

It follows Ollama's OpenAI-compatible and native endpoints closely enough
that the real openai client and shellper's backend cannot tell the
difference: error bodies rewrapped the /v1 way, arguments as JSON strings,
`content: ""` beside tool calls, model names with an implied ":latest".

    with FakeOllama() as fake:
        fake.answer("list", "ls", {"a": True})
        ...use fake.base_url...

Run standalone for manual tries:  python tests/fake_ollama.py --port 11434
"""

from __future__ import annotations

import argparse
import json
import random
import re
import select
import socket
import string
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "500", "garbage", "hang", "empty", "503")
SHAPES = ("tool_calls", "content_json", "qwen_text", "think")
VERSION = "0.13.0"
_EFFORTS = {"none", "minimal", "low", "medium", "high", "max", "xhigh", "ultra"}
# Go's time.ParseDuration: one or more number+unit pairs, or a bare "0".
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)\Z")


def _tag(name: str) -> str:
    """Ollama's full model name: a missing tag means ":latest"."""
    return name if ":" in name else name + ":latest"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # load tests open 50+ connections at once

    def server_activate(self) -> None:
        super().server_activate()
        # A connection reset between select() and accept() would otherwise
        # block accept(), and with it shutdown(), forever.
        self.socket.settimeout(1.0)


class FakeOllama:
    def __init__(self, models=("distil_model",), delay=0.0, ollama=True):
        self.models = [_tag(m) for m in models]
        self.delay = delay
        # ollama=False: only the OpenAI routes exist (like llama-server or vLLM).
        self.ollama = ollama
        self.mode = "ok"
        self.shape = "tool_calls"
        # What /api/show reports; drop "tools" to mimic a template without tool support.
        self.capabilities = ["completion", "tools"]
        self.requests: list = []
        # Prompt-cache warm-ups (a one-token generation: max_tokens 1), kept apart
        # so tests counting the requests users make are not disturbed; answered at once.
        self.warmups: list = []
        self.raw_bodies: list = []  # every chat body byte for byte, warm-ups included, in order
        self.preloads: list = []
        self.disconnects = 0  # requests whose client went away before the answer
        # Streamed answers: how many pieces ("tokens") each one sent before it ended or its
        # client closed it, and whether the client left early; "runaway" mode writes one call
        # per line and never stops on its own (a stock model with history did).
        self.streamed: list = []
        self.warmup_delay = 0.0  # seconds a warm-up takes (a cold prefix being read)
        self.streams = True  # False: answer whole even when asked to stream (a server that cannot)
        self.loaded: dict = {}  # full model name -> expiry time (unix seconds) or None
        self._rules: list = []
        self._default = ("pwd", {})
        # Plain-text answers to requests sent without tools (a general model): (contains, text, model).
        self._texts: list = []
        # Per model (full name): its own default answer, and its delay (seconds or a callable).
        self._model_defaults: dict = {}
        self.model_delays: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set = set()
        self._server = None
        self._thread = None
        self.base_url = ""
        self.root_url = ""

    # -- configuration ---------------------------------------------------
    def answer(self, contains: str, name: str, arguments: dict, model: str | None = None) -> None:
        """Answer requests containing `contains` with this call (only from `model`, if given)."""
        with self._lock:
            self._rules.append((contains.lower(), name, dict(arguments), model and _tag(model)))

    def say(self, contains: str, text: str, model: str | None = None) -> None:
        """Answer requests without tools (a general model) containing `contains` with this text."""
        with self._lock:
            self._texts.append((contains.lower(), text, model and _tag(model)))

    def said(self, request: str, model: str | None = None) -> str:
        text, full = request.lower(), model and _tag(model)
        with self._lock:
            for contains, answer, only in reversed(self._texts):
                if contains in text and only in (None, full):
                    return answer
        return "I am not sure what you mean."

    def default(self, name: str, arguments: dict, model: str | None = None) -> None:
        with self._lock:
            if model:
                self._model_defaults[_tag(model)] = (name, dict(arguments))
            else:
                self._default = (name, dict(arguments))

    def choose(self, request: str, model: str | None = None):
        """The call `model` answers to a user message (later rules win; rules without a model apply to all)."""
        text = request.lower()
        full = model and _tag(model)
        with self._lock:
            for contains, name, args, only in reversed(self._rules):
                if contains in text and only in (None, full):
                    return name, dict(args)
            name, args = self._model_defaults.get(full, self._default)
            return name, dict(args)

    def known(self, model) -> bool:
        return isinstance(model, str) and bool(model) and _tag(model) in self.models

    # -- lifecycle ---------------------------------------------------------
    def start(self, port: int = 0) -> FakeOllama:
        self._stop.clear()
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        port = self._server.server_address[1]
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = self.root_url + "/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:  # wake handlers blocked on idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _delay_seconds(self, model=None) -> float:
        delay = self.model_delays.get(_tag(model), self.delay) if isinstance(model, str) else self.delay
        value = delay() if callable(delay) else delay
        return max(0.0, float(value or 0.0))

    # -- answers -----------------------------------------------------------
    def completion(self, body: dict) -> tuple:
        """(status, payload) for a /v1/chat/completions body, as Ollama would answer."""
        model = body.get("model")
        if not self.known(model):
            return 404, _oai_error(f'model "{model}" not found, try pulling it first', "not_found_error")
        problem = _check_messages(body.get("messages"))
        if problem:
            return 400, _oai_error(problem, "invalid_request_error")
        effort = body.get("reasoning_effort")
        if effort is not None and effort not in _EFFORTS:
            return 400, _oai_error(f"invalid reasoning value: '{effort}'", "invalid_request_error")
        if body.get("tools") and "tools" not in self.capabilities:
            return 400, _oai_error(f'"{model}" does not support tools', "invalid_request_error")
        if self.mode == "500":
            return 500, _oai_error(
                'error parsing tool call: raw=\'{"name": "ls", "arguments": {"a": tru\', err=unexpected end of JSON input',
                "api_error",
            )
        if self.mode == "503":
            return 503, _oai_error("server busy, please try again.  maximum pending requests exceeded", "api_error")
        name, args = self.choose(_last_user_text(body.get("messages")), model)
        message = {"role": "assistant", "content": ""}
        finish = "stop"
        if self.mode == "empty":
            pass
        elif not body.get("tools") and self._texts:  # a general model's plain answer (once say() was used)
            message["content"] = self.said(_last_user_text(body.get("messages")), model)
        elif self.shape == "tool_calls":
            message["tool_calls"] = [
                {
                    "id": "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8)),
                    "index": 0,
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
            ]
            finish = "tool_calls"
        elif self.shape == "content_json":
            message["content"] = json.dumps({"name": name, "parameters": args})
        else:
            text = "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"
            if self.shape == "think":
                text = "<think>\nThe user wants a file-system operation.\n</think>\n\n" + text
            message["content"] = text
        self.loaded[_tag(model)] = time.time() + 300
        return 200, {
            "id": f"chatcmpl-{random.randint(1, 999)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 412, "completion_tokens": 21, "total_tokens": 433},
        }

    def model_entry(self, name: str) -> dict:
        return {
            "name": name,
            "model": name,
            "modified_at": _now_iso(),
            "size": 1_200_000_000,
            "digest": "0" * 64,
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen3",
                "families": ["qwen3"],
                "parameter_size": "751.63M",
                "quantization_level": "F16",
            },
        }


def _oai_error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _check_messages(messages):
    """Ollama's request checks on the message list (openai.FromChatRequest)."""
    if not isinstance(messages, list):
        return "invalid message format"
    for msg in messages:
        if not isinstance(msg, dict):
            return "invalid message format"
        calls = msg.get("tool_calls") or []
        for call in calls:
            raw = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            try:
                decoded = json.loads(raw) if isinstance(raw, str) else None
            except ValueError:
                decoded = None
            if not isinstance(decoded, dict):
                return "invalid tool call arguments"
        content = msg.get("content")
        if content is None and not calls:
            return "invalid message content type: <nil>"
    return None


def _last_user_text(messages) -> str:
    for msg in reversed(messages or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else ""
    return ""


def raw_fields(raw: bytes) -> dict:
    """A JSON object body's top-level values as the exact bytes sent (key -> bytes),
    plus "messages[0]" (the system message): for byte-for-byte prefix comparisons."""
    text = raw.decode("utf-8")
    decoder = json.JSONDecoder()
    out = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    i = skip(text.index("{") + 1)
    while text[i] != "}":
        key, i = decoder.raw_decode(text, i)
        i = skip(skip(i) + 1)  # past ':'
        _, end = decoder.raw_decode(text, i)
        out[key] = text[i:end].encode("utf-8")
        if key == "messages":
            first = skip(i + 1)
            _, first_end = decoder.raw_decode(text, first)
            out["messages[0]"] = text[first:first_end].encode("utf-8")
        i = skip(end)
        if text[i] == ",":
            i = skip(i + 1)
    return out


def _handler_for(fake: FakeOllama):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-ollama"
        # Headers and body go out in separate writes; without this, Nagle plus the
        # client's delayed ACK add ~40 ms to every answer and skew the benchmarks.
        disable_nagle_algorithm = True
        sys_version = ""

        def log_message(self, *args):  # keep test output quiet
            pass

        def setup(self):
            super().setup()
            with fake._lock:
                fake._conns.add(self.connection)

        def finish(self):
            with fake._lock:
                fake._conns.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        # -- plumbing ------------------------------------------------------
        def _send(self, status: int, payload, content_type="application/json") -> None:
            if isinstance(payload, (dict, list)):
                data = json.dumps(payload).encode()
            else:
                data = payload.encode() if isinstance(payload, str) else payload
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client left
                self.close_connection = True

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            self.raw_body = raw
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return None

        def _wait(self, seconds) -> str:
            """Sleep up to `seconds` (None: until stop): "done", "gone" (client hung up) or "stopped"."""
            end = None if seconds is None else time.monotonic() + seconds
            while not fake._stop.is_set():
                left = 0.05 if end is None else min(0.05, end - time.monotonic())
                if left <= 0:
                    return "done"
                readable, _, _ = select.select([self.connection], [], [], left)
                if readable:
                    try:
                        if not self.connection.recv(1, socket.MSG_PEEK):
                            return "gone"
                    except OSError:
                        return "gone"
            return "stopped"

        # -- routes --------------------------------------------------------
        def do_GET(self):
            path = self.path.split("?")[0].rstrip("/")
            if path == "/v1/models":
                return self._send(
                    200,
                    {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "created": int(time.time()), "owned_by": "library"} for m in fake.models],
                    },
                )
            if not fake.ollama:
                return self._not_found()
            if path == "":
                return self._send(200, "Ollama is running", "text/plain; charset=utf-8")
            if path == "/api/version":
                return self._send(200, {"version": VERSION})
            if path == "/api/tags":
                return self._send(200, {"models": [fake.model_entry(m) for m in fake.models]})
            if path == "/api/ps":
                now = time.time()
                running = []
                for name, expires in list(fake.loaded.items()):
                    if expires is not None and expires < now:
                        continue
                    entry = fake.model_entry(name)
                    when = datetime.now(timezone.utc) + timedelta(
                        days=3650 if expires is None else 0,
                        seconds=0 if expires is None else expires - now,
                    )
                    entry.update(expires_at=when.isoformat(), size_vram=entry["size"])
                    running.append(entry)
                return self._send(200, {"models": running})
            self._not_found()

        def _not_found(self):
            if fake.ollama:
                return self._send(404, "404 page not found", "text/plain")
            self._send(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})

        def do_POST(self):
            path = self.path.split("?")[0].rstrip("/")
            body = self._body()
            if path == "/v1/chat/completions":
                return self._chat(body)
            if not fake.ollama or path not in ("/api/show", "/api/generate"):
                return self._not_found()
            if not isinstance(body, dict):
                return self._send(400, {"error": "invalid JSON in request body"})
            model = body.get("model") or body.get("name")
            if path == "/api/show":
                if not fake.known(model):
                    return self._send(404, {"error": f"model '{model}' not found"})
                return self._send(
                    200,
                    {
                        "modelfile": f"FROM {model}\n",
                        "parameters": "temperature 0",
                        "template": "{{ .Prompt }}",
                        "details": fake.model_entry(_tag(model))["details"],
                        "model_info": {"general.architecture": "qwen3"},
                        "capabilities": list(fake.capabilities),
                        "modified_at": _now_iso(),
                    },
                )
            with fake._lock:
                fake.preloads.append(body)
            if not fake.known(model):
                return self._send(404, {"error": f"model '{model}' not found"})
            keep = body.get("keep_alive", "5m")
            if isinstance(keep, str):
                if not _GO_DURATION.match(keep.strip()):
                    return self._send(400, {"error": f'time: missing unit in duration "{keep}"'})
                forever = keep.strip().startswith("-")
                seconds = 300.0  # the fake does not need exact expiries
            elif isinstance(keep, (int, float)) and not isinstance(keep, bool):
                forever, seconds = keep < 0, float(keep)
            else:
                return self._send(400, {"error": f"Unsupported type: '{type(keep).__name__}'"})
            fake.loaded[_tag(model)] = None if forever else time.time() + seconds
            self._send(200, {"model": model, "created_at": _now_iso(), "response": "", "done": True})

        def _chat(self, body):
            if not isinstance(body, dict):
                return self._send(400, _oai_error("invalid character in request body", "invalid_request_error"))
            warm_up = body.get("max_tokens") == 1
            with fake._lock:
                fake.raw_bodies.append(self.raw_body)
                (fake.warmups if warm_up else fake.requests).append(body)
            if warm_up:
                # A cold prefix takes a while to read; a warm one is answered at once.
                waited = self._wait(fake.warmup_delay) if fake.warmup_delay else "done"
            else:
                waited = self._wait(None if fake.mode == "hang" else fake._delay_seconds(body.get("model")))
            if waited != "done":
                self.close_connection = True
                if waited == "gone":
                    with fake._lock:
                        fake.disconnects += 1
                return
            if fake.mode == "garbage":
                return self._send(200, "<html><body><h1>It works!</h1></body></html>", "text/html")
            status, payload = fake.completion(body)
            if status == 200 and body.get("stream") is True and fake.streams:
                return self._stream(payload, body)
            self._send(status, payload)

        def _stream(self, payload: dict, body: dict) -> None:
            """The answer as Ollama streams it: server-sent events of chat.completion.chunk,
            a whole tool call in one delta, content a few characters at a time, then [DONE]."""
            message = payload["choices"][0]["message"]
            limit = body.get("max_tokens")
            head = {
                "id": payload["id"],
                "object": "chat.completion.chunk",
                "created": payload["created"],
                "model": payload["model"],
                "system_fingerprint": "fp_ollama",
            }

            def chunk(delta: dict, finish=None) -> bytes:
                event = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return b"data: " + json.dumps(event).encode() + b"\n\n"

            pieces: list = []
            if message.get("tool_calls"):
                pieces.append({"role": "assistant", "content": "", "tool_calls": message["tool_calls"]})
            else:
                text = message.get("content") or ""
                if fake.mode == "runaway":
                    text = "\n".join([text] * 1000)
                pieces += [{"role": "assistant", "content": text[i : i + 4]} for i in range(0, len(text), 4)]
            sent, finish, left = 0, "tool_calls" if message.get("tool_calls") else "stop", False
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for delta in pieces:
                    if isinstance(limit, int) and sent >= limit:
                        finish = "length"
                        break
                    self.wfile.write(chunk(delta))
                    self.wfile.flush()
                    sent += 1
                    if fake.mode == "runaway":
                        time.sleep(0.002)
                self.wfile.write(chunk({}, finish) + b"data: [DONE]\n\n")
                self.wfile.flush()
            except OSError:  # the client closed the stream: it had what it needed
                left = True
            with fake._lock:
                fake.streamed.append({"pieces": sent, "left": left, "max_tokens": limit})

    return Handler


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Ollama that answers `pwd`.")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--model", action="append", help="model to serve (repeatable)")
    args = parser.parse_args(argv)
    fake = FakeOllama(models=tuple(args.model or ("distil_model",))).start(port=args.port)
    print(f"fake Ollama on {fake.base_url} serving {', '.join(fake.models)}; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
