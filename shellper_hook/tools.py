"""The tool table: the 18 file-system tools the model was trained on.

This is the only module that knows tool names: their schemas (the published
BFCL schema shipped in data/tools.json) and one record per tool (RECORDS:
what each argument is to it, and how render, readback and look handle it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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

    @property
    def tool(self) -> Tool:
        return record(self.name)


class Tool:
    """One tool as shellper handles it: the role of each argument (policy and effect loop over
    roles, not names), its command line's shape, and where a tool needs code of its own, the
    name of that function in render.py, readback.py or look.py. (A plain class: a dataclass's
    import costs the daemon's start 6 ms.)"""

    reads: tuple = ()  # paths that must be there before it runs
    writes: str = ""  # the path it writes to or creates
    removes: str = ""  # the path it takes away from where it is...
    removal: str = ""  # ...in a message's words: "remove" or "move"
    moves_to: str = ""  # the folder the shell goes to
    source: str = ""  # the path whose file or folder ends up at `writes` (a copy or a move)
    text: tuple = ()  # string arguments that are not paths: patterns, content
    lines: str = ""  # the text that may hold several lines (what echo writes)
    creates: bool = False  # writes only an empty name (nothing a key folder or dotfile could run)
    dash: str = ""  # what it reads a lone "-" operand as
    options: tuple = ()  # options its line always has
    recursive: str = ""  # the option written when recursive removal is allowed
    accepts: tuple = ()  # options a line may have that read back as the same call
    flag: tuple = ()  # (boolean argument, its option)
    render: str = ""  # render.py's function for its line ("": the name, options and paths in order)
    parse: str = ""  # readback.py's function for its line ("": that same shape)
    look: str = ""  # look.py's prediction of what it does to the files
    kind: str = "reads"  # what it does, in the effect line's words (look.KINDS)
    whole: str = ""  # the verb for all it touches, when the look could not see all of it
    phrase: Callable | None = None  # the effect line's words for what it shows: phrase(arguments, quote)

    def __init__(self, name: str, **roles) -> None:
        self.name = name
        for key, value in roles.items():
            if key not in Tool.__annotations__:
                raise TypeError(f"a tool record has no {key!r}")
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    @property
    def paths(self) -> tuple:
        """The arguments that name a file or folder, in command-line order."""
        return tuple(k for k in dict.fromkeys((*self.reads, self.writes, self.removes, self.moves_to)) if k)


_STDIN = "standard input"
_LOOK_READS = "_reader"  # look.py's prediction for a tool that shows a file it reads

RECORDS = {
    t.name: t
    for t in (
        Tool("cat", reads=("file_name",), dash=_STDIN, look=_LOOK_READS, phrase=lambda a, q: f"shows {q(a['file_name'])}"),
        Tool("cd", reads=("folder",), moves_to="folder", render="_cd", look="_cd", kind="moves the shell"),
        Tool(
            "cp",
            reads=("source",),
            writes="destination",
            source="source",
            options=("-r",),
            accepts=("-r", "-R"),
            look="_move_copy",
            kind="creates",
            whole="copies",
        ),
        Tool("diff", reads=("file_name1", "file_name2"), dash=_STDIN, look="_diff"),
        Tool(
            "du",
            flag=("human_readable", "-h"),
            look="_du",
            phrase=lambda a, q: "shows the disk space of this folder" + (" in KB/MB/GB" if a["human_readable"] else ""),
        ),
        Tool(
            "echo",
            writes="file_name",
            text=("content",),
            lines="content",
            render="_echo",
            parse="_parse_echo",
            look="_echo",
            kind="changes",
        ),
        Tool("find", reads=("path",), text=("name",), render="_find", parse="_parse_find", look="_find"),
        Tool(
            "grep",
            reads=("file_name",),
            text=("pattern",),
            dash=_STDIN,
            render="_grep",
            parse="_parse_grep",
            look=_LOOK_READS,
            phrase=lambda a, q: f"shows the lines of {q(a['file_name'])} that contain {a['pattern']!r}",
        ),
        Tool("ls", flag=("a", "-a"), look="_here", phrase=lambda a, q: "lists this folder" + (", hidden names too" if a["a"] else "")),
        Tool("mkdir", writes="dir_name", creates=True, look="_mkdir", kind="creates"),
        Tool(
            "mv",
            reads=("source",),
            writes="destination",
            removes="source",
            removal="move",
            source="source",
            look="_move_copy",
            kind="changes",
            whole="moves",
        ),
        Tool("pwd", look="_here", phrase=lambda a, q: "prints the current folder"),
        Tool(
            "rm",
            reads=("file_name",),
            removes="file_name",
            removal="remove",
            recursive="-r",
            accepts=("-r", "-R"),
            look="_rm",
            kind="deletes",
            whole="deletes",
        ),
        Tool("rmdir", reads=("dir_name",), removes="dir_name", removal="remove", look="_rmdir", kind="deletes", whole="deletes"),
        Tool(
            "sort",
            reads=("file_name",),
            dash=_STDIN,
            look=_LOOK_READS,
            phrase=lambda a, q: f"shows the lines of {q(a['file_name'])} sorted (the file stays as it is)",
        ),
        Tool("tail", reads=("file_name",), dash=_STDIN, render="_tail", parse="_parse_tail", look="_tail"),
        Tool("touch", writes="file_name", creates=True, dash="standard output", look="_touch", kind="creates"),
        Tool(
            "wc",
            reads=("file_name",),
            dash=_STDIN,
            render="_wc",
            parse="_parse_wc",
            look=_LOOK_READS,
            phrase=lambda a, q: f"counts the {dict(l='lines', w='words', c='bytes')[a['mode']]} of {q(a['file_name'])}",
        ),
    )
}


def record(name: str) -> Tool:
    """The record of a tool (UnknownTool for a name that is none)."""
    try:
        return RECORDS[name]
    except KeyError:
        raise UnknownTool(f"the model asked for an unknown tool {name!r}") from None


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
