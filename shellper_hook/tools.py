"""The tool table: the 18 file-system tools the model was trained on.

This is the only module that knows tool names and their schemas. The data
comes from the published BFCL schema shipped in data/tools.json.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

from .errors import MissingArgument, UnknownArgument, UnknownTool, WrongType

_DATA = os.path.join(os.path.dirname(__file__), "data", "tools.json")


class ToolCall:
    """One validated call: a tool name and its arguments, defaults filled in.

    The only way to make one is to validate (constructing it validates), so
    everything downstream can trust it. Two calls are equal, and hash alike,
    when they mean the same thing: `ls` and `ls` with a=false are one call.
    """

    __slots__ = ("name", "_items")

    def __init__(self, name, arguments=None) -> None:
        checked = _validated(name, arguments)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_items", tuple(sorted(checked.items())))

    def __setattr__(self, key, value):
        raise AttributeError("a ToolCall cannot be changed")

    @property
    def arguments(self) -> dict:
        """A fresh copy: the call itself never changes."""
        return dict(self._items)

    def __eq__(self, other) -> bool:
        if not isinstance(other, ToolCall):
            return NotImplemented
        return self.name == other.name and self._items == other._items

    def __hash__(self) -> int:
        return hash((self.name, self._items))

    def __repr__(self) -> str:
        return f"ToolCall({self.name!r}, {self.arguments!r})"

    def to_dict(self) -> dict:
        return {"name": self.name, "arguments": self.arguments}

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False, sort_keys=True)

    def with_defaults(self) -> ToolCall:
        """The call itself: defaults are filled in when it is made."""
        return self


@lru_cache(maxsize=1)
def _table() -> dict:
    with open(_DATA, encoding="utf-8") as fh:
        tools = json.load(fh)["tools"]
    return {t["name"]: t for t in tools}


def names() -> tuple:
    """Tool names in the published (fixed) order."""
    return tuple(_table())


def spec(name: str) -> dict:
    try:
        return _table()[name]
    except KeyError:
        raise UnknownTool(f"the model asked for an unknown tool {name!r}") from None


def properties(name: str) -> dict:
    return spec(name)["parameters"].get("properties", {})


def required(name: str) -> tuple:
    return tuple(spec(name)["parameters"].get("required", ()))


def defaults(name: str) -> dict:
    return {k: p["default"] for k, p in properties(name).items() if "default" in p}


def openai_tools() -> list:
    """The tools in OpenAI `tools` form, same order every time (a fresh copy per call)."""
    return json.loads(json.dumps(_openai_tools()))


@lru_cache(maxsize=1)
def _openai_tools() -> list:
    return [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t["description"],
                "parameters": t["parameters"],
            },
        }
        for t in _table().values()
    ]


_TRUE = {"true": True, "false": False}


def _coerce(tool: str, key: str, value, want: str):
    if want == "string":
        if isinstance(value, str):
            return value
    elif want == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return _TRUE[value.strip().lower()]
    elif want == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        digits = value.strip() if isinstance(value, str) else ""
        # isascii: "²".isdigit() is True; the length cap keeps int() from refusing huge strings.
        if digits.isascii() and digits.lstrip("+-").isdigit() and len(digits) < 100:
            return int(digits)
    else:  # a schema type we do not know: accept as is
        return value
    shown = json.dumps(value, ensure_ascii=False, default=repr)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise WrongType(
        f"the model gave {tool} argument {key!r} the value {shown}, but it must be {'an' if want[0] in 'aeiou' else 'a'} {want}"
    )


def validate(name, arguments) -> ToolCall:
    """The call, checked against the schema ("5"->5 and "true"->True coerced,
    omitted optional arguments filled in).

    Raises a typed AnswerError with a message a user understands.
    """
    return ToolCall(name, arguments)


def _validated(name, arguments) -> dict:
    if not isinstance(name, str) or not name:
        raise UnknownTool("the model's answer names no tool")
    spec(name)
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise WrongType(f"the model gave {name} arguments that are not a JSON object")
    props = properties(name)
    out = dict(defaults(name))
    for key, value in arguments.items():
        if key not in props:
            raise UnknownArgument(f"the model gave {name} an unknown argument {key!r}")
        out[key] = _coerce(name, key, value, props[key].get("type", "string"))
    for key in required(name):
        if key not in arguments:
            raise MissingArgument(f"the model called {name} without its required argument {key!r}")
    return out
