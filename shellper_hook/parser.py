"""Read one tool call out of whatever an OpenAI-compatible server sends back.

Servers disagree (tech-notes §1.1, §1.4, §2.3, §2.4): Ollama fills
`tool_calls` with arguments as a JSON string, llama.cpp may leave
`content` null or "\\n\\n" beside it, and when a server's own parser misses
the call the model's text lands in `content` as bare JSON, Qwen's
`<tool_call>` block, a code fence, or any of these after `<think>`.

Every failure is a typed one-line ShellperError; nothing else escapes,
whatever the input (the daemon feeds us untrusted model output).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping

from . import tools
from .errors import MalformedAnswer, NoToolCall, ShellperError, UnknownArgument, UnknownTool, WrongType, one_line
from .tools import ToolCall

# Bounds that keep hostile input cheap: a real answer is a few hundred bytes.
_MAX_BRACES = 200  # '{' positions tried when hunting for an object in prose
_MAX_LITERAL = 8000  # longest span handed to ast.literal_eval
_MAX_LITERAL_TRIES = 8  # '{' positions also tried as Python literals
_MAX_DEPTH = 4  # nesting of tool_calls/function wrappers we follow
_SHOWN = 80  # characters of the model's text quoted in an error
_MAX_TEXT = 1 << 20  # no tool call is a megabyte long
_MAX_SCAN = 1 << 22  # characters all brace tries together may hand the JSON decoder
_MAX_NAME = 64  # longest tool or parameter name read from Qwen's XML form

# Marker of the last-resort net; tests assert fuzzing never reaches it.
_UNEXPECTED = "shellper could not read the model's answer"

_CALL_KEYS = ("name", "function", "tool_calls", "function_call")
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n?(.*?)(?:```|\Z)", re.S)
# Names stop at '<' and are short, so each '<function=' costs a bounded try:
# an unbounded name made many unclosed tags quadratic (seconds per 100 KB).
_XML_FUNC = re.compile(rf"<function=([^<>\s]{{1,{_MAX_NAME}}})\s*>(.*?)(?:</function>|\Z)", re.S)
_XML_PARAM = re.compile(rf"<parameter=([^<>\s]{{1,{_MAX_NAME}}})\s*>(.*?)(?:</parameter>|(?=<parameter=)|\Z)", re.S)
_LOOKS_JSON = re.compile(r"\{\s*['\"]")


def parse_message(message) -> ToolCall:
    """The first tool call in a chat `message` dict, validated against the schema."""
    return _guarded(_from_message, message)


def parse_text(text) -> ToolCall:
    """The tool call written as text (a raw `content` string), validated."""
    return _guarded(_from_text, text)


def _guarded(fn, value) -> ToolCall:
    try:
        return fn(value)
    except ShellperError:
        raise
    except RecursionError:
        raise MalformedAnswer("the model's answer is nested too deeply to read") from None
    except MemoryError:
        raise MalformedAnswer("the model's answer is too large to read") from None
    except Exception as exc:  # last-resort net: the daemon must never crash on an answer
        raise MalformedAnswer(f"{_UNEXPECTED} ({type(exc).__name__})") from None


# ---------------------------------------------------------------- messages


def _from_message(message) -> ToolCall:
    if not isinstance(message, Mapping):
        raise MalformedAnswer("the server's answer is not a chat message")
    entry = _first_tool_call(message.get("tool_calls"))
    if entry is None and isinstance(message.get("function_call"), Mapping):
        entry = message["function_call"]  # the legacy OpenAI field
    try:
        text = _content_text(message.get("content"))
    except MalformedAnswer:
        if entry is None:
            raise
        text = ""  # odd content beside a structured call does not matter
    if entry is None:
        if not text.strip():
            if _has_reasoning(message):
                raise NoToolCall("the model gave an empty answer (it wrote only reasoning)")
            raise NoToolCall("the model gave an empty answer")
        return _from_text(text)
    try:
        return _from_object(entry, 0)
    except ShellperError as first:
        # A broken structured call may still sit intact in the text beside it.
        if text.strip():
            try:
                return _from_text(text)
            except ShellperError:
                pass
        raise first


def _first_tool_call(value):
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (list, tuple)) and value:
        return value[0]
    return None


def _content_text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):  # OpenAI content parts
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    raise MalformedAnswer("the server sent message content that is not text")


def _has_reasoning(message: Mapping) -> bool:
    return any(isinstance(message.get(k), str) and message.get(k).strip() for k in ("reasoning", "reasoning_content", "thinking"))


# ---------------------------------------------------------------- objects


def _from_object(obj, depth: int) -> ToolCall:
    """A call from a decoded object in any of the shapes servers and models use."""
    if depth > _MAX_DEPTH:
        raise MalformedAnswer("the model's tool call is wrapped too deeply to read")
    if not isinstance(obj, Mapping):
        raise MalformedAnswer("the model's tool call is not a JSON object")
    if "tool_calls" in obj and "name" not in obj:
        calls = obj["tool_calls"]
        if isinstance(calls, (list, tuple)) and not calls:
            raise NoToolCall("the model answered with an empty tool_calls list")
        first = _first_tool_call(calls)
        if first is None:
            raise MalformedAnswer("the model's tool_calls is not a list of calls")
        return _from_object(first, depth + 1)
    func = obj.get("function", obj.get("function_call"))
    if isinstance(func, Mapping) and "name" not in obj:
        return _from_object(func, depth + 1)
    name = obj.get("name")
    if name is None and isinstance(func, str):  # {"function": "ls", "arguments": {...}}
        name = func
    return _validate(_clean_name(name), _arguments(obj, name))


def _clean_name(name):
    if not isinstance(name, str):
        return name
    name = name.strip()
    # Some templates prefix a namespace ("functions.ls"); keep it if unknown.
    if "." in name and name not in tools.names():
        tail = name.rsplit(".", 1)[1]
        if tail in tools.names():
            return tail
    return name


def _arguments(obj: Mapping, name) -> dict:
    raw = None
    for key in _ARG_KEYS:
        if key in obj:
            raw = obj[key]
            break
    shown = name if isinstance(name, str) else "the tool"
    if isinstance(raw, str):
        raw = _decode_argument_string(raw, shown)
    if raw is None:
        return {}  # {"name": "pwd"}: a call without arguments
    if not isinstance(raw, Mapping):
        raise MalformedAnswer(f"the model's arguments for {one_line(shown, 40)} are not a JSON object")
    # A null value means "not given": let the default (or MissingArgument) apply.
    return {k: v for k, v in raw.items() if v is not None}


def _decode_argument_string(raw: str, shown) -> object:
    if not raw.strip():
        return None
    if len(raw) > _MAX_TEXT:
        raise MalformedAnswer(f"the model's arguments for {one_line(shown, 40)} are too long to be a tool call")
    try:
        value = json.loads(raw)
        if isinstance(value, str) and value.strip().startswith("{"):
            value = json.loads(value)  # encoded twice by some clients
    except (ValueError, TypeError):
        raise MalformedAnswer(f"the model's arguments for {one_line(shown, 40)} are not valid JSON: {one_line(raw, _SHOWN)}") from None
    if not isinstance(value, dict):
        raise MalformedAnswer(f"the model's arguments for {one_line(shown, 40)} are not a JSON object")
    return value


def _validate(name, args) -> ToolCall:
    # Names the model made up go into the error whole: keep a huge one short.
    if isinstance(name, str) and len(name) > _MAX_NAME and name not in tools.names():
        raise UnknownTool(f"the model asked for an unknown tool {one_line(name, 40)!r}")
    if name in tools.names() and isinstance(args, Mapping):
        for key in args:
            if isinstance(key, str) and len(key) > _MAX_NAME:
                raise UnknownArgument(f"the model gave {name} an unknown argument {one_line(key, 40)!r}")
    try:
        return tools.validate(name, args)
    except ShellperError:
        raise
    except (ValueError, TypeError, OverflowError):
        # tools.validate can trip on odd values ("²".isdigit(), huge digit
        # strings, values JSON cannot show); to the user it is a wrong type.
        raise WrongType(f"the model gave {one_line(name, 40)} an argument value of the wrong type") from None


# ---------------------------------------------------------------- text


def _from_text(text) -> ToolCall:
    if not isinstance(text, str):
        raise MalformedAnswer("the model's answer is not text")
    if len(text) > _MAX_TEXT:
        raise MalformedAnswer("the model's answer is too long to be a tool call")
    visible, orphan = _strip_think(text)
    if visible is None:
        raise NoToolCall("the model only wrote reasoning (<think> without an end) and no tool call")
    try:
        return _from_visible(visible)
    except ShellperError:
        if not orphan:
            raise
        # The lone </think> may be data inside the call's own strings; only
        # then is the whole text the answer, valid or not (else we would take
        # a draft from reasoning).
        found, _ = _first_object(text.strip())
        if found is not None and "</think>" in json.dumps(found, ensure_ascii=False, default=repr):
            return _from_object(found, 0)
        raise


def _from_visible(visible: str) -> ToolCall:
    visible = visible.strip()
    if not visible:
        raise NoToolCall("the model gave an empty answer")
    # The first object that decodes, by position: tags, fences or braces
    # inside its strings are then data, and <tool_call>/``` wrappers (closed
    # or not) need no special handling.
    found, decoded = _first_object(visible)
    if found is not None:
        return _from_object(found, 0)
    xml = _XML_FUNC.search(visible)
    if xml:
        return _from_xml(xml)
    raise _no_call(visible, decoded)


def _no_call(visible: str, decoded: bool) -> ShellperError:
    """The error for text holding no usable call: malformed if one was meant."""
    tag = visible.find("<tool_call>")
    if tag >= 0:
        body = visible[tag + len("<tool_call>") :]
        end = body.find("</tool_call>")
        body = (body if end < 0 else body[:end]).strip()
        if not body:
            return NoToolCall("the model gave an empty tool call")
        if "{" in body and not decoded:
            return MalformedAnswer(f"the model's tool call is JSON that does not decode: {one_line(body, _SHOWN)}")
        return NoToolCall(f"the model answered without a tool call: {one_line(body, _SHOWN)}")
    fence = _FENCE.search(visible)
    meant = _LOOKS_JSON.search(visible) or (fence and fence.group(1).lstrip().startswith("{"))
    if meant and not decoded:
        return MalformedAnswer(f"the model's answer is JSON that does not decode: {one_line(visible, _SHOWN)}")
    return NoToolCall(f"the model answered without a tool call: {one_line(visible, _SHOWN)}")


def _strip_think(text: str):
    """(text after the reasoning block or None if it never ended, whether the
    block had only its closing tag)."""
    lead = text.lstrip()
    if lead.startswith("<think>"):
        end = lead.find("</think>")
        return (None if end < 0 else lead[end + len("</think>") :]), False
    # Templates that open <think> in the prompt leave only the closing tag.
    end = text.find("</think>")
    if end >= 0 and "<think>" not in text[:end]:
        rest = text[end + len("</think>") :]
        if rest.strip():
            return rest, True
    return text, False


def _call_like(value):
    if isinstance(value, dict) and any(k in value for k in _CALL_KEYS):
        return value
    if isinstance(value, list):  # a list of calls: the first one
        for item in value[:1]:
            if isinstance(item, dict) and any(k in item for k in _CALL_KEYS):
                return item
    return None


def _first_object(text: str):
    """(first call-like object in the text, whether any object decoded at all)."""
    decoder = json.JSONDecoder()
    decoded = False
    pos, tries, budget = text.find("{"), 0, _MAX_SCAN
    while pos >= 0 and tries < _MAX_BRACES:
        # A failed try may have read to the end: charge that, so the hunt
        # stays linear in the text (200 tries over 1 MB took seconds).
        budget -= len(text) - pos
        if budget < 0:
            break
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError:
            # Small models sometimes write Python dicts: {'name': 'ls', 'arguments': {'a': True}}.
            value = _literal(text, pos) if tries < _MAX_LITERAL_TRIES else None
            end = pos + 1
        tries += 1
        if value is not None:
            decoded = True
            obj = _call_like(value)
            if obj is not None:
                return obj, True
            end = max(end, pos + 1)
        pos = text.find("{", end)
    return None, decoded


def _literal(text: str, start: int):
    """The Python literal (never code: ast.literal_eval) spanning `{...}` at start."""
    span = _balanced(text, start)
    if span is None:
        return None
    try:
        return ast.literal_eval(span)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _balanced(text: str, start: int):
    """The `{...}` span starting at `start`, respecting quotes; None if unclosed."""
    depth, quote, i, stop = 0, "", start, min(len(text), start + _MAX_LITERAL + 1)
    while i < stop:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    return None


def _from_xml(match) -> ToolCall:
    """Qwen3-Coder style: <function=ls><parameter=a>true</parameter></function>."""
    args = {}
    for key, value in _XML_PARAM.findall(match.group(2)):
        args[key] = value.strip("\r\n")
    return _validate(_clean_name(match.group(1)), args)
