"""Talking to the model server: build the request, call it, map failures.

ask() returns the model's chat message as the server sent it; reading the
tool call out of it is parser.py's job. Only the daemon imports this module (openai is heavy). Every failure leaves
as a typed error whose one-line message says what to do. Native Ollama calls
(status, preload) use stdlib urllib in a worker thread: they are rare and
need nothing the openai client offers.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import openai

from . import tools
from .errors import BackendError, BackendTimeout, MalformedAnswer, ModelMissing, ServerError, ServerUnreachable, one_line
from .parser import parse_message
from .settings import same_model

CONNECT_TIMEOUT = 2.0  # a local server accepts at once; a long wait means it is down
PROBE_TIMEOUT = 3.0  # native status calls answer from memory
WARM_UP_TIMEOUT = 300.0  # a slow CPU reads the ~3,500-token prefix in tens of seconds
# The warm-up's user turn: any short request, only what comes before it matters.
WARM_UP_REQUEST = "print the current directory"


def build_messages(settings, history, request: str) -> list:
    """The message list the model was trained on (tools.md, "What the model sees").

    History calls go back as assistant turns with `arguments` as a JSON string
    (Ollama rejects objects) and no `content`: Ollama's Qwen3 template drops
    tool calls from a turn that has content, and #14181 shows even "" can
    switch a renderer to text mode. No tool-result messages: the model never
    saw any in training.
    """
    messages = [{"role": "system", "content": settings.system_prompt}]
    recent = list(history)[-settings.max_turns :] if settings.max_turns > 0 else []
    for i, (text, call) in enumerate(recent):
        messages.append({"role": "user", "content": text})
        messages.append(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {
                            "name": call.name,
                            "arguments": json.dumps(call.arguments, ensure_ascii=False),
                        },
                    }
                ],
            }
        )
    messages.append({"role": "user", "content": request})
    return messages


def request_kwargs(settings, messages) -> dict:
    return {
        "model": settings.model,
        "messages": messages,
        "temperature": 0,
        # Bounded and streamed: ask() stops reading at the first whole call, so a model that
        # goes on writing calls never holds a server's only slot (Ollama: num_predict).
        "max_tokens": settings.max_tokens,
        "stream": True,
        "extra_body": {
            # The same JSON as the `tools` argument, but sent as is: openai's type-driven
            # transform of the 18 schemas cost ~40% of the daemon's CPU per request.
            "tools": tools.openai_tools(),
            # No Qwen3 thinking: "none" for Ollama (>= 0.12.5), the template flag for
            # vLLM/llama.cpp; in extra_body so openai releases without the argument work too.
            "reasoning_effort": "none",
            "chat_template_kwargs": {"enable_thinking": False},
        },
    }


def ollama_root(base_url: str):
    """'http://host:port' (plus any proxy prefix) when base_url looks like Ollama's /v1, else None."""
    parts = urllib.parse.urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if parts.scheme not in ("http", "https") or not parts.netloc or not path.endswith("/v1"):
        return None
    return f"{parts.scheme}://{parts.netloc}{path[:-3]}"


_SHOWN = 160  # characters of a server's or a program's text quoted in a message


def _server_message(err) -> str:
    """The server's own words from an openai APIStatusError."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner
        if isinstance(inner, str):
            return one_line(inner, _SHOWN)
    if isinstance(body, str) and body.strip():
        return one_line(body, _SHOWN)
    response = getattr(err, "response", None)
    try:
        return one_line(response.text, _SHOWN) if response is not None else ""
    except Exception:  # a streamed or closed body
        return ""


def _is_loopback(host) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local(base_url: str) -> bool:
    """Whether base_url is a server on this machine."""
    return _is_loopback(urllib.parse.urlsplit(base_url).hostname)


def _http_json(url: str, body=None, timeout: float = PROBE_TIMEOUT):
    """(status, decoded JSON or None) for one native call; raises OSError when unreachable."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    # An HTTP_PROXY from the environment must not capture calls to a local server.
    handlers = [urllib.request.ProxyHandler({})] if _is_loopback(urllib.parse.urlsplit(url).hostname) else []
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except http.client.HTTPException as err:  # something that is not an HTTP server
        raise ConnectionError(f"not an HTTP answer: {err!r}") from None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


class _Answer:
    """A streamed chat message put together chunk by chunk."""

    def __init__(self) -> None:
        self.chunks = 0
        self.content: list = []
        self.reasoning: list = []
        self.calls: dict = {}  # index -> tool call, its arguments growing

    def add(self, chunk) -> bool:
        """Take one chunk; True once the message holds a whole, valid call (or the server ended it)."""
        self.chunks += 1
        choices = getattr(chunk, "choices", None)
        if not choices:
            return False  # a usage-only chunk
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        grew = False
        if delta is not None:
            piece = getattr(delta, "content", None)
            if isinstance(piece, str) and piece:
                self.content.append(piece)
                grew = "}" in piece or ">" in piece
            for key in ("reasoning_content", "reasoning"):
                thought = getattr(delta, key, None)
                if isinstance(thought, str):
                    self.reasoning.append(thought)
            for call in getattr(delta, "tool_calls", None) or ():
                slot = self.calls.setdefault(
                    getattr(call, "index", None) or 0, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                )
                slot["id"] = getattr(call, "id", None) or slot["id"]
                function = getattr(call, "function", None)
                if function is not None:
                    slot["function"]["name"] += getattr(function, "name", None) or ""
                    slot["function"]["arguments"] += getattr(function, "arguments", None) or ""
                grew = True
        if getattr(choice, "finish_reason", None):
            return True
        if not grew:
            return False
        try:
            parse_message(self.message())
        except Exception:  # not whole yet (or never will be: the end of the stream decides)
            return False
        return True

    def message(self) -> dict:
        message = {"role": "assistant", "content": "".join(self.content) or None}
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        return message


class Backend:
    def __init__(self, settings):
        self.settings = settings
        self.root = ollama_root(settings.base_url)
        self._ollama = None  # None: not probed yet; then what /api/version said
        # As for native calls: an HTTP_PROXY from the environment must not capture a local server.
        local = _is_loopback(urllib.parse.urlsplit(settings.base_url).hostname)
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=openai.Timeout(settings.timeout, connect=min(CONNECT_TIMEOUT, settings.timeout)),
            max_retries=0,  # retries would multiply an interactive wait
            http_client=openai.DefaultAsyncHttpxClient(trust_env=False) if local else None,
        )

    # -- wording -------------------------------------------------------------
    def _looks_ollama(self) -> bool:
        return self.root is not None and self._ollama is not False

    def _server(self) -> str:
        return "Ollama" if self._looks_ollama() else "the model server"

    def _unreachable(self) -> ServerUnreachable:
        url = self.settings.base_url
        if self._looks_ollama():
            return ServerUnreachable(f"cannot reach Ollama at {url}: start it (`ollama serve`, or open the Ollama app), then try again")
        return ServerUnreachable(f"cannot reach the model server at {url}: start it, or set SHELLPER_BASE_URL to its address")

    def _model_missing(self) -> ModelMissing:
        model, url = self.settings.model, self.settings.base_url
        if self._looks_ollama():
            return ModelMissing(f"model '{model}' not found on {url}: run `shellper setup-model` (or `ollama create {model} -f Modelfile`)")
        return ModelMissing(
            f"model '{model}' not found on {url}: check SHELLPER_MODEL against the server's "
            f"model list, and that SHELLPER_BASE_URL ends with the API path (often /v1)"
        )

    def _no_tools(self) -> BackendError:
        return BackendError(
            f"model '{self.settings.model}' has a chat template without tool support: recreate it "
            f"with the shipped Modelfile (`shellper setup-model`)"
        )

    def _map_error(self, err: Exception) -> BackendError:
        s = self.settings
        if isinstance(err, openai.APITimeoutError):
            return self._timed_out(s.timeout)
        if isinstance(err, openai.APIConnectionError):
            return self._unreachable()
        if isinstance(err, openai.NotFoundError):
            return self._model_missing()
        said = _server_message(err) if isinstance(err, openai.APIStatusError) else one_line(err, _SHOWN)
        if isinstance(err, openai.BadRequestError):
            if "does not support tools" in said:
                return self._no_tools()
            return BackendError(f"{self._server()} rejected the request: {said}")
        if isinstance(err, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return BackendError(f"{self._server()} refused the API key: set SHELLPER_API_KEY ({said})")
        if isinstance(err, openai.APIStatusError):
            status = err.status_code
            if status in (429, 503):
                more = ", or raise OLLAMA_MAX_QUEUE" if self._looks_ollama() else ""
                return ServerError(f"{self._server()} is busy (HTTP {status}: {said}): try again in a moment{more}")
            return ServerError(f"{self._server()} failed (HTTP {status}: {said}): try again, or rephrase the request")
        return ServerError(f"{self._server()} sent an answer shellper cannot read: {said}")

    # -- calls ---------------------------------------------------------------
    async def ask(self, history, request: str, timeout: float | None = None) -> dict:
        """The model's chat message for `request` (parser.py reads the call out of it),
        read from a stream that is closed at the first whole call. Raises BackendError
        subclasses, or MalformedAnswer when there is no message. timeout: the whole
        answer's deadline (settings.timeout unless given).

        Cancelling the task abandons the HTTP request (the connection is closed).
        """
        kwargs = request_kwargs(self.settings, build_messages(self.settings, history, request))
        limit = self.settings.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(self._streamed(kwargs, limit), limit)
        except asyncio.TimeoutError:
            raise self._timed_out(limit) from None

    async def _streamed(self, kwargs: dict, limit: float) -> dict:
        create = self._client.chat.completions.with_streaming_response.create
        answer = _Answer()
        try:
            async with create(**kwargs, timeout=limit) as response:
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # A server that does not stream (or an HTML page, a proxy's error) answers whole.
                    return self._whole(await response.read())
                stream = await response.parse()
                async for chunk in stream:
                    if answer.add(chunk):
                        break  # a whole call: leaving closes the stream, and the server stops writing
        except openai.OpenAIError as err:
            raise self._map_error(err) from None
        except ValueError as err:  # an event that is not JSON
            raise ServerError(f"{self._server()} sent a stream shellper cannot read: {one_line(err, _SHOWN)}") from None
        if not answer.chunks:
            raise ServerError(f"{self._server()} at {self.settings.base_url} sent an empty stream; try again")
        return answer.message()

    def _whole(self, raw: bytes) -> dict:
        """The message of a whole (not streamed) chat completion body."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        choices = body.get("choices") if isinstance(body, dict) else None
        first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = first.get("message")
        if message is None:
            got = raw[:200].decode("utf-8", "replace")
            raise ServerError(
                f"{self._server()} at {self.settings.base_url} did not send a chat completion "
                f"(got {one_line(got, 60)!r}): is SHELLPER_BASE_URL an OpenAI-compatible API?"
            )
        if not isinstance(message, dict):
            raise MalformedAnswer("the model server's answer has no readable message")
        return message

    def _timed_out(self, limit: float) -> BackendTimeout:
        return BackendTimeout(
            f"the model server did not answer within {limit:g} s; the first request after "
            f"a restart loads the model, so try again, or raise SHELLPER_TIMEOUT"
        )

    async def ask_general(self, messages: list, model: str, timeout: float | None = None) -> str:
        """The general model's plain-text answer (general.py reads the command out of it)."""
        limit = self.settings.timeout if timeout is None else timeout
        kwargs = {
            "model": model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": max(self.settings.max_tokens, 512),  # a fence and a long pipeline
            "extra_body": {"reasoning_effort": "none", "chat_template_kwargs": {"enable_thinking": False}},
        }
        try:
            reply = await asyncio.wait_for(self._client.chat.completions.create(**kwargs, timeout=limit), limit)
        except asyncio.TimeoutError:
            raise self._timed_out(limit) from None
        except openai.NotFoundError:
            pull = f"`shellper setup-model --general {model}`" if self._looks_ollama() else "the server's model list"
            raise ModelMissing(f"the general model '{model}' is not on {self.settings.base_url}: see {pull}") from None
        except openai.OpenAIError as err:
            raise self._map_error(err) from None
        choices = getattr(reply, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        if not isinstance(content, str):
            raise MalformedAnswer("the general model's answer has no text")
        return content

    async def call(self, history, request: str):
        """The validated tool call for `request` (eval and setup checks; the daemon goes through turns)."""
        message = await self.ask(history, request)
        # Off the event loop: reading one answer never delays another request.
        return await asyncio.to_thread(parse_message, message)

    async def _native(self, path: str, body=None, timeout: float = PROBE_TIMEOUT):
        return await asyncio.to_thread(_http_json, self.root + path, body, timeout)

    async def _probe_ollama(self):
        """Ollama's version string, or None when the server is not Ollama. Raises OSError if down."""
        if self.root is None:
            self._ollama = False
            return None
        status, data = await self._native("/api/version")
        version = data.get("version") if status == 200 and isinstance(data, dict) else None
        self._ollama = isinstance(version, str)
        return version if self._ollama else None

    async def server_status(self) -> dict:
        """What `shellper status` and the daemon's start-up check report. Never raises."""
        s = self.settings
        out = {"reachable": False, "ollama": False, "model_present": None, "model_loaded": None, "tools": None, "message": ""}
        try:
            version = await self._probe_ollama()
        except OSError as err:
            # A bare TimeoutError is a read timeout (urllib wraps connect timeouts in URLError).
            if isinstance(err, TimeoutError):
                out.update(
                    reachable=True,
                    message=f"{self._server()} at {s.base_url} accepted the "
                    f"connection but did not answer within {PROBE_TIMEOUT:g} s: is it stuck?",
                )
            else:
                out["message"] = str(self._unreachable())
            return out
        if version is None:
            return await self._openai_status(out)
        out.update(reachable=True, ollama=True)
        try:
            _, tags = await self._native("/api/tags")
            names = [m.get("name") for m in (tags or {}).get("models", []) if isinstance(m, dict)]
            out["model_present"] = any(same_model(s.model, n) for n in names)
            if not out["model_present"]:
                out["message"] = str(self._model_missing())
                return out
            _, show = await self._native("/api/show", {"model": s.model})
            caps = show.get("capabilities") if isinstance(show, dict) else None
            if isinstance(caps, list):  # Ollama before 0.6.4 reports no capabilities
                out["tools"] = "tools" in caps
            _, ps = await self._native("/api/ps")
            running = [m.get("name") for m in (ps or {}).get("models", []) if isinstance(m, dict)]
            out["model_loaded"] = any(same_model(s.model, n) for n in running)
        except OSError:
            out["message"] = f"Ollama {version} at {s.base_url} stopped answering during the check"
            return out
        if out["tools"] is False:
            out["message"] = str(self._no_tools())
        else:
            state = "loaded" if out["model_loaded"] else "not loaded yet (the first request loads it)"
            out["message"] = f"Ollama {version} at {s.base_url}: model '{s.model}' is {state}"
        return out

    async def _openai_status(self, out: dict) -> dict:
        """Status of a server that is not Ollama: ask for its /models list."""
        s = self.settings
        try:
            page = await self._client.models.list()
        except openai.APIConnectionError:
            out["message"] = str(self._unreachable())
            return out
        except openai.APIStatusError as err:
            out.update(
                reachable=True,
                message=f"the server at {s.base_url} answers but lists no models ({_server_message(err)}): check SHELLPER_BASE_URL",
            )
            return out
        except Exception:  # an HTML page or other non-JSON the client cannot even wrap
            page = None
        out["reachable"] = True
        data = getattr(page, "data", None)
        if not isinstance(data, list):
            out["message"] = f"the server at {s.base_url} is not an OpenAI-compatible API: check SHELLPER_BASE_URL"
            return out
        ids = [getattr(m, "id", None) for m in data]
        out["model_present"] = any(same_model(s.model, i) for i in ids)
        if out["model_present"]:
            out["message"] = f"the model server at {s.base_url} serves '{s.model}'"
        else:
            listed = ", ".join(str(i) for i in ids[:5]) or "none"
            out["message"] = f"model '{s.model}' is not listed by {s.base_url} (it lists: {listed}): check SHELLPER_MODEL"
        return out

    async def preload(self) -> bool:
        """Load the model into Ollama with settings.keep_alive. False when not Ollama or it failed."""
        if self.root is None:
            return False
        try:
            if self._ollama is None:
                await self._probe_ollama()
            if not self._ollama:
                return False
            keep = self.settings.keep_alive
            # Ollama parses a string with Go's ParseDuration, which wants a unit: send "-1" as -1.
            if re.fullmatch(r"[-+]?\d+(\.\d+)?", keep):
                keep = float(keep) if "." in keep else int(keep)
            status, data = await self._native(
                "/api/generate",
                {"model": self.settings.model, "keep_alive": keep},
                timeout=self.settings.timeout,
            )
        except OSError:
            return False
        return status == 200 and isinstance(data, dict) and bool(data.get("done"))

    async def warm_prompt_cache(self) -> bool:
        """Have the server read the prefix every request shares (system prompt and
        tools, ~3,500 tokens) now, so the first real request reads only its own words.

        The same body as a real request with an empty history, plus a one-token
        generation: Ollama and llama.cpp keep the longest common token prefix of
        consecutive requests. Sent to Ollama or a server on this machine only (a
        hosted API would bill the tokens). Never raises; nothing is stored.
        """
        if not (self._ollama or _is_loopback(urllib.parse.urlsplit(self.settings.base_url).hostname)):
            return False
        kwargs = request_kwargs(self.settings, build_messages(self.settings, [], WARM_UP_REQUEST))
        kwargs["max_tokens"] = 1  # Ollama: num_predict 1
        limit = max(self.settings.timeout, WARM_UP_TIMEOUT)
        try:
            await asyncio.wait_for(self._streamed(kwargs, limit), limit)
        except (BackendError, MalformedAnswer, asyncio.TimeoutError):  # a cut-off call may be a 500: the prefix is read anyway
            return False
        return True

    async def aclose(self) -> None:
        await self._client.close()
