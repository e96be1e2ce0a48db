"""The tool table: what the model is offered and how its answers are checked."""

import json
import os
import subprocess
import sys

import pytest

from shellper_hook import tools
from shellper_hook.errors import AnswerError, MissingArgument, UnknownArgument, UnknownTool, WrongType
from shellper_hook.tools import ToolCall

# The 18 tools of shared/tools.md: name -> (arguments, {optional argument: default}).
TABLE = {
    "cat": (["file_name"], {}),
    "cd": (["folder"], {}),
    "cp": (["source", "destination"], {}),
    "diff": (["file_name1", "file_name2"], {}),
    "du": (["human_readable"], {"human_readable": False}),
    "echo": (["content", "file_name"], {"file_name": "None"}),
    "find": (["path", "name"], {"path": ".", "name": "None"}),
    "grep": (["file_name", "pattern"], {}),
    "ls": (["a"], {"a": False}),
    "mkdir": (["dir_name"], {}),
    "mv": (["source", "destination"], {}),
    "pwd": ([], {}),
    "rm": (["file_name"], {}),
    "rmdir": (["dir_name"], {}),
    "sort": (["file_name"], {}),
    "tail": (["file_name", "lines"], {"lines": 10}),
    "touch": (["file_name"], {}),
    "wc": (["file_name", "mode"], {"mode": "l"}),
}
TYPES = {"human_readable": "boolean", "a": "boolean", "lines": "integer"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _walk(node):
    """Every (key, value) pair in a nested JSON structure."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_the_model_is_offered_exactly_the_18_tools_in_openai_form():
    offered = tools.openai_tools()
    assert [t["function"]["name"] for t in offered] == list(tools.names())
    assert sorted(tools.names()) == sorted(TABLE)
    for entry in offered:
        assert set(entry) == {"type", "function"} and entry["type"] == "function"
        fn = entry["function"]
        assert set(fn) == {"name", "description", "parameters"}
        assert isinstance(fn["description"], str) and fn["description"].strip()
        params = fn["parameters"]
        assert params["type"] == "object"
        names, defaults = TABLE[fn["name"]]
        assert sorted(params["properties"]) == sorted(names), fn["name"]
        assert sorted(params.get("required", [])) == sorted(set(names) - set(defaults)), fn["name"]
        for arg, prop in params["properties"].items():
            assert prop["type"] == TYPES.get(arg, "string"), (fn["name"], arg)
            assert prop.get("description"), (fn["name"], arg)
        assert tools.defaults(fn["name"]) == defaults
    # BFCL's "dict" type and its "response" block must not reach the server
    for key, value in _walk(offered):
        assert key != "response"
        if key == "type":
            assert value != "dict"
    json.dumps(offered)  # sent as JSON as is


def test_the_table_is_the_same_every_time():
    assert tools.openai_tools() == tools.openai_tools()
    first = tools.openai_tools()
    first[0]["function"]["name"] = "changed"  # a caller's edit does not leak back
    assert tools.openai_tools()[0]["function"]["name"] == tools.names()[0]


def test_with_defaults_fills_only_omitted_arguments():
    assert ToolCall("tail", {"file_name": "f"}).with_defaults() == ToolCall("tail", {"file_name": "f", "lines": 10})
    assert ToolCall("tail", {"file_name": "f", "lines": 3}).with_defaults().arguments["lines"] == 3
    assert ToolCall("pwd").with_defaults() == ToolCall("pwd", {})


@pytest.mark.parametrize(
    "name, args, expected",
    [
        ("cat", {"file_name": "a.txt"}, {"file_name": "a.txt"}),
        ("tail", {"file_name": "f", "lines": "5"}, {"file_name": "f", "lines": 5}),
        ("tail", {"file_name": "f", "lines": " 7 "}, {"file_name": "f", "lines": 7}),
        ("tail", {"file_name": "f", "lines": 4.0}, {"file_name": "f", "lines": 4}),
        ("ls", {"a": "true"}, {"a": True}),
        ("ls", {"a": "True"}, {"a": True}),
        ("ls", {"a": "false"}, {"a": False}),
        ("du", {"human_readable": True}, {"human_readable": True}),
        ("pwd", {}, {}),
        ("pwd", None, {}),
        ("ls", {}, {}),  # defaults are not invented by validate
        ("echo", {"content": "", "file_name": "None"}, {"content": "", "file_name": "None"}),
    ],
)
def test_validate_accepts_and_coerces(name, args, expected):
    call = tools.validate(name, args)
    assert call == ToolCall(name, expected)
    for key, value in expected.items():
        assert type(call.arguments[key]) is type(value)


@pytest.mark.parametrize(
    "name, args, error, words",
    [
        ("chmod", {"file_name": "x"}, UnknownTool, ["chmod"]),
        ("", {}, UnknownTool, ["no tool"]),
        (None, {}, UnknownTool, ["no tool"]),
        ("cat", {}, MissingArgument, ["cat", "file_name"]),
        ("cp", {"source": "a"}, MissingArgument, ["cp", "destination"]),
        ("grep", {"pattern": "x"}, MissingArgument, ["grep", "file_name"]),
        ("ls", {"a": "yes"}, WrongType, ["ls", "'a'", "boolean"]),
        ("ls", {"a": 1}, WrongType, ["ls", "'a'", "boolean"]),
        ("tail", {"file_name": "f", "lines": "ten"}, WrongType, ["tail", "'lines'", "integer"]),
        ("tail", {"file_name": "f", "lines": 2.5}, WrongType, ["tail", "'lines'", "integer"]),
        ("tail", {"file_name": "f", "lines": True}, WrongType, ["tail", "'lines'", "integer"]),
        ("tail", {"file_name": "f", "lines": "5.0"}, WrongType, ["tail", "'lines'"]),
        ("cat", {"file_name": ["a.txt", "b.txt"]}, WrongType, ["cat", "'file_name'", "string"]),
        ("cat", {"file_name": {"name": "a"}}, WrongType, ["cat", "'file_name'", "string"]),
        ("cat", {"file_name": None}, WrongType, ["cat", "'file_name'", "null"]),
        ("echo", {"content": "x" * 500}, None, []),  # long values are fine
        ("cat", "a.txt", WrongType, ["cat", "not a JSON object"]),
        ("cat", ["a.txt"], WrongType, ["cat"]),
        ("ls", {"l": True}, UnknownArgument, ["ls", "'l'"]),
        ("cat", {"file_name": "a", "path": "b"}, UnknownArgument, ["cat", "'path'"]),
    ],
)
def test_validate_refuses_with_a_message_naming_tool_and_argument(name, args, error, words):
    if error is None:
        assert tools.validate(name, args).arguments == {**tools.defaults(name), **args}
        return
    with pytest.raises(error) as err:
        tools.validate(name, args)
    assert isinstance(err.value, AnswerError)
    message = str(err.value)
    assert "\n" not in message and len(message) < 200
    for word in words:
        assert word in message, message


def test_wrong_type_message_shortens_huge_values():
    with pytest.raises(WrongType) as err:
        tools.validate("cat", {"file_name": ["x" * 1000]})
    assert len(str(err.value)) < 200


def test_importing_the_package_stays_light():
    """Shell widgets import shellper_hook on every key press: no openai, no psutil."""
    code = "import shellper_hook, sys; print('openai' in sys.modules, 'psutil' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
    # rendering and reading back stay light too
    code = (
        "import shellper_hook.render, shellper_hook.readback, sys;"
        " print('openai' in sys.modules, 'psutil' in sys.modules, 'platformdirs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False"]


def test_a_call_is_only_made_by_validating_and_equal_calls_hash_alike():
    with pytest.raises(WrongType):
        ToolCall("ls", {"a": 1})  # not a boolean: no such call can exist
    plain, spelled = ToolCall("ls", {}), ToolCall("ls", {"a": "false"})
    assert plain == spelled and hash(plain) == hash(spelled)
    assert len({plain, spelled, tools.validate("ls", {"a": False})}) == 1
    assert ToolCall("tail", {"file_name": "f", "lines": "5"}) == ToolCall("tail", {"file_name": "f", "lines": 5})
    call = ToolCall("cat", {"file_name": "a"})
    call.arguments["file_name"] = "b"  # a copy: the call itself never changes
    assert call.arguments == {"file_name": "a"}
    with pytest.raises(AttributeError):
        call.name = "rm"


def test_every_tool_has_one_record_whose_roles_cover_its_arguments():
    """A tool added to the schema without a record, or an argument with no role, fails here:
    render, readback, policy and the look would not know what to do with it."""
    from shellper_hook import look, readback, render

    assert list(tools.RECORDS) == list(tools.names())
    for name, tool in tools.RECORDS.items():
        props = tools.properties(name)
        strings = {k for k, p in props.items() if p.get("type") == "string"}
        assert set(tool.paths) | set(tool.text) >= strings - {"mode"}, name  # wc's mode is an option
        assert not set(tool.paths) & set(tool.text), name
        assert set(tool.paths) | set(tool.text) | set(tool.flag[:1]) <= set(props), name
        assert tool.removes in ("", *tool.paths) and bool(tool.removes) == bool(tool.removal), name
        assert tool.source in ("", *tool.reads) and (not tool.source or tool.writes), name
        assert tool.kind in look.KINDS, name
        for module, ref in ((render, tool.render), (readback, tool.parse), (look, tool.look)):
            assert not ref or callable(getattr(module, ref, None)), (name, ref)
    with pytest.raises(UnknownTool):
        tools.record("sudo")
