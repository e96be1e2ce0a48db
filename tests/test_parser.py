"""parser: every answer shape a server or the model may send, and hostile input."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shellper_hook import errors, parser, tools
from shellper_hook.parser import parse_message, parse_text
from shellper_hook.tools import ToolCall

# Text that looks like markup the parser looks for, inside a real argument.
ECHO = 'say "hi"\n{braces} <tool_call> </tool_call> </think> ``` {"name": "rm"}'

# (tool, arguments as the model sends them, the validated call we expect)
CALLS = [
    ("ls", {"a": True}, ToolCall("ls", {"a": True})),
    ("cd", {"folder": "my docs"}, ToolCall("cd", {"folder": "my docs"})),
    ("tail", {"file_name": "log.txt", "lines": "5"}, ToolCall("tail", {"file_name": "log.txt", "lines": 5})),
    ("mv", {"source": "a b", "destination": "it's"}, ToolCall("mv", {"source": "a b", "destination": "it's"})),
    (
        "echo",
        {"content": ECHO, "file_name": "n.txt"},
        ToolCall("echo", {"content": ECHO, "file_name": "n.txt"}),
    ),
    ("pwd", {}, ToolCall("pwd", {})),
]
IDS = [c[0] for c in CALLS]


def _args_json(args):
    return json.dumps(args, ensure_ascii=False)


# ------------------------------------------------------------ tool_calls field


@pytest.mark.parametrize("name,args,want", CALLS, ids=IDS)
@pytest.mark.parametrize("content", ["", None, "\n\n"])
def test_tool_calls_with_string_arguments_ollama(name, args, want, content):
    msg = {
        "role": "assistant",
        "content": content,
        "tool_calls": [{"id": "call_ab12cd34", "index": 0, "type": "function", "function": {"name": name, "arguments": _args_json(args)}}],
    }
    assert parse_message(msg) == want


@pytest.mark.parametrize("name,args,want", CALLS, ids=IDS)
def test_tool_calls_with_object_arguments_and_no_id(name, args, want):
    msg = {"content": None, "tool_calls": [{"id": "", "function": {"name": name, "arguments": args}}]}
    assert parse_message(msg) == want


def test_first_of_several_tool_calls_is_taken():
    msg = {
        "content": "",
        "tool_calls": [
            {"function": {"name": "pwd", "arguments": "{}"}},
            {"function": {"name": "rm", "arguments": '{"file_name": "x"}'}},
        ],
    }
    assert parse_message(msg) == ToolCall("pwd", {})


def test_unknown_reasoning_fields_are_ignored():
    msg = {
        "role": "assistant",
        "content": "",
        "reasoning": 'I think {"name": "rm"}',
        "reasoning_content": "x",
        "refusal": None,
        "tool_calls": [{"function": {"name": "ls", "arguments": '{"a": false}'}}],
    }
    assert parse_message(msg) == ToolCall("ls", {"a": False})


@pytest.mark.parametrize("arguments", ["", "{}", None, {}])
def test_tool_call_without_arguments_means_empty_arguments(arguments):
    fn = {"name": "pwd"} if arguments is None else {"name": "pwd", "arguments": arguments}
    assert parse_message({"content": "", "tool_calls": [{"function": fn}]}) == ToolCall("pwd", {})


def test_odd_content_beside_a_structured_call_is_ignored():
    msg = {"content": 42, "tool_calls": [{"function": {"name": "pwd", "arguments": "{}"}}]}
    assert parse_message(msg) == ToolCall("pwd", {})


def test_legacy_function_call_field():
    msg = {"content": None, "function_call": {"name": "cat", "arguments": '{"file_name": "a"}'}}
    assert parse_message(msg) == ToolCall("cat", {"file_name": "a"})


def test_broken_tool_calls_entry_falls_back_to_a_call_in_content():
    msg = {"content": '{"name": "ls", "arguments": {}}', "tool_calls": [{"function": {"name": "ls", "arguments": "{oops"}}]}
    assert parse_message(msg) == ToolCall("ls", {})


def test_broken_tool_calls_entry_reports_its_own_error():
    msg = {"content": "\n\n", "tool_calls": [{"function": {"name": "ls", "arguments": "{oops"}}]}
    with pytest.raises(errors.MalformedAnswer, match="not valid JSON"):
        parse_message(msg)


# ------------------------------------------------------------ JSON in content


def _content_shapes(name, args):
    a = _args_json(args)
    return {
        "name+parameters": json.dumps({"name": name, "parameters": args}),
        "name+arguments": json.dumps({"name": name, "arguments": args}),
        "name+arguments-string": json.dumps({"name": name, "arguments": a}),
        "tool_calls-openai": json.dumps({"tool_calls": [{"type": "function", "function": {"name": name, "arguments": a}}]}),
        "tool_calls-flat": json.dumps({"tool_calls": [{"name": name, "arguments": args}]}),
        "function": json.dumps({"type": "function", "function": {"name": name, "arguments": args}}),
        "qwen-tag": f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>",
        "qwen-tag-unterminated": f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n",
        "qwen-tag-after-text": f"Sure.\n<tool_call>\n{json.dumps({'name': name, 'arguments': args}, indent=2)}\n</tool_call>",
        "think+qwen-tag": f'<think>\nThe user wants {{"name": "rm"}}.\n</think>\n\n<tool_call>\n{json.dumps({"name": name, "arguments": args})}\n</tool_call>',
        "empty-think+json": f"<think>\n\n</think>\n\n{json.dumps({'name': name, 'arguments': args})}",
        "closing-think-only": f'reasoning text {{"x": 1}}\n</think>\n{json.dumps({"name": name, "arguments": args})}',
        "fence-json": f"```json\n{json.dumps({'name': name, 'arguments': args}, indent=2)}\n```",
        "fence-plain": f"Here you go:\n```\n{json.dumps({'name': name, 'parameters': args})}\n```\nDone.",
        "think+fence": f"<think>ok</think>```json\n{json.dumps({'name': name, 'arguments': args})}```",
        "prose-around": f'I will call {json.dumps({"name": name, "arguments": args})} now, ok? {{"name": "rm"}}',
        "prose-with-stray-brace": f"Use {{ this }} and {json.dumps({'name': name, 'arguments': args})}",
        "list-of-calls": json.dumps([{"name": name, "arguments": args}]),
        "python-dict": repr({"name": name, "arguments": args}),
    }


SHAPES = list(_content_shapes("x", {}))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,args,want", CALLS, ids=IDS)
def test_call_written_in_content(shape, name, args, want):
    text = _content_shapes(name, args)[shape]
    assert parse_message({"role": "assistant", "content": text}) == want
    assert parse_text(text) == want


def test_call_without_arguments_in_content():
    assert parse_text('{"name": "pwd"}') == ToolCall("pwd", {})
    assert parse_text('<tool_call>\n{"name": "ls"}\n</tool_call>') == ToolCall("ls", {})


def test_content_given_as_openai_parts():
    msg = {"content": [{"type": "text", "text": '{"name": "cd", '}, {"type": "text", "text": '"arguments": {"folder": "x"}}'}]}
    assert parse_message(msg) == ToolCall("cd", {"folder": "x"})


def test_qwen_xml_function_form():
    text = "<tool_call>\n<function=tail>\n<parameter=file_name>\nlog 1.txt\n</parameter>\n<parameter=lines>\n3\n</parameter>\n</function>\n</tool_call>"
    assert parse_text(text) == ToolCall("tail", {"file_name": "log 1.txt", "lines": 3})


def test_namespaced_name_and_padding_are_cleaned():
    assert parse_text('{"name": " functions.ls ", "arguments": {"a": "true"}}') == ToolCall("ls", {"a": True})


def test_null_optional_argument_means_default():
    assert parse_text('{"name": "find", "arguments": {"path": "src", "name": null}}') == ToolCall("find", {"path": "src"})


def test_doubly_encoded_arguments_string():
    args = json.dumps(json.dumps({"folder": "x"}))
    assert parse_text(json.dumps({"name": "cd", "arguments": args})[:-1] + "}") == ToolCall("cd", {"folder": "x"})


def test_bfcl_calls_roundtrip_through_every_server_shape():
    """The benchmark's real argument values (quotes, $, newlines) survive parsing."""
    with open(os.path.join(os.path.dirname(__file__), "data", "bfcl_fs_calls.jsonl"), encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    assert len(rows) > 100
    for row in rows:
        want = tools.validate(row["name"], row["arguments"])
        a = json.dumps(row["arguments"], ensure_ascii=False)
        body = json.dumps({"name": row["name"], "arguments": row["arguments"]}, ensure_ascii=False)
        assert parse_message({"content": "", "tool_calls": [{"function": {"name": row["name"], "arguments": a}}]}) == want
        assert parse_text(f"<tool_call>\n{body}\n</tool_call>") == want
        assert parse_text(f"<think>\n</think>\n\n```json\n{body}\n```") == want


# ------------------------------------------------------------ failures


@pytest.mark.parametrize("msg", [{"content": ""}, {"content": None}, {"content": "  \n"}, {}, {"content": "", "tool_calls": []}])
def test_empty_answer(msg):
    with pytest.raises(errors.NoToolCall, match="^the model gave an empty answer"):
        parse_message(msg)


def test_prose_answer_quotes_first_80_chars_on_one_line():
    text = "I'm sorry,\nI cannot help with that request because " + "x" * 200
    with pytest.raises(errors.NoToolCall) as exc:
        parse_message({"content": text})
    msg = str(exc.value)
    assert msg.startswith("the model answered without a tool call: I'm sorry, I cannot help")
    assert "\n" not in msg
    assert len(msg) <= len("the model answered without a tool call: ") + 80 + len("; rephrase the request, or try again")


@pytest.mark.parametrize("text", ["<think>\nI should list the files", '<think>{"name": "ls"}'])
def test_unterminated_think_is_no_call(text):
    with pytest.raises(errors.NoToolCall, match="reasoning"):
        parse_text(text)


def test_draft_call_in_reasoning_before_a_lone_closing_tag_is_not_used():
    text = 'Maybe {"name": "rm", "arguments": {"file_name": "x"}}? No.\n</think>\nI cannot help with that.'
    with pytest.raises(errors.NoToolCall, match="I cannot help"):
        parse_text(text)


@pytest.mark.parametrize("text", ["ls -la", "```bash\nrm -rf /\n```", '{"folder": "docs"}', "<tool_call></tool_call>"])
def test_text_without_a_call_is_no_call(text):
    with pytest.raises(errors.NoToolCall):
        parse_text(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "ls", "arguments": {"a": tru',
        "<tool_call>\n{name: ls}\n</tool_call>",
        '```json\n{"name": "ls",, }\n```',
        '{"name": "ls", "arguments": "not json"}',
        '{"name": "ls", "arguments": "[1, 2]"}',
        '{"name": "ls", "arguments": [true]}',
        '{"tool_calls": "ls"}',
    ],
)
def test_malformed_json(text):
    with pytest.raises(errors.MalformedAnswer):
        parse_text(text)


@pytest.mark.parametrize(
    "text,err",
    [
        ('{"name": "format_disk", "arguments": {}}', errors.UnknownTool),
        ('{"name": "", "arguments": {}}', errors.UnknownTool),
        ('{"name": 7, "arguments": {}}', errors.UnknownTool),
        ('{"arguments": {"a": true}, "name": null}', errors.UnknownTool),
        ('{"name": "cd", "arguments": {}}', errors.MissingArgument),
        ('{"name": "rm", "arguments": {"file_name": null}}', errors.MissingArgument),
        ('{"name": "tail", "arguments": {"file_name": "x", "lines": "ten"}}', errors.WrongType),
        ('{"name": "tail", "arguments": {"file_name": "x", "lines": "\\u00b2"}}', errors.WrongType),
        ('{"name": "tail", "arguments": {"file_name": "x", "lines": "' + "9" * 5000 + '"}}', errors.WrongType),
        ('{"name": "cd", "arguments": {"folder": ["a"]}}', errors.WrongType),
        ('{"name": "ls", "arguments": {"all": true}}', errors.UnknownArgument),
    ],
)
def test_schema_failures_are_typed(text, err):
    with pytest.raises(err):
        parse_text(text)


def test_python_values_json_cannot_show_are_wrong_type():
    msg = {"tool_calls": [{"function": {"name": "cd", "arguments": {"folder": b"\xff"}}}]}
    with pytest.raises(errors.WrongType):
        parse_message(msg)


@pytest.mark.parametrize(
    "msg",
    [
        None,
        "text",
        42,
        ["content"],
        {"content": 42},
        {"content": {"name": "ls"}},
        {"tool_calls": [None]},
        {"tool_calls": ["ls"]},
        {"tool_calls": [{"function": 3}]},
        {"tool_calls": [{"function": {"name": ["ls"], "arguments": {}}}]},
        {"tool_calls": [{"function": {"name": "ls", "arguments": 5}}]},
    ],
)
def test_odd_message_shapes_raise_typed_errors(msg):
    with pytest.raises(errors.AnswerError):
        parse_message(msg)


def test_self_referencing_message_is_a_typed_error():
    msg = {"content": ""}
    msg["tool_calls"] = [msg]
    with pytest.raises(errors.AnswerError):
        parse_message(msg)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"a":' * 50_000,
        "{" * 300_000 + '"name": "ls"}',
        '<tool_call>{"name": "ls", "arguments": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
    ids=["lists", "objects", "braces", "deep-arguments"],
)
def test_deep_nesting_and_huge_input_are_typed_errors(text):
    with pytest.raises(errors.AnswerError):
        parse_text(text)
    with pytest.raises(errors.AnswerError):
        parse_message({"content": text})


def test_oversized_answer_is_refused_to_read():
    with pytest.raises(errors.MalformedAnswer, match="too long"):
        parse_text('{"name": "pwd"}' + " " * (2 << 20))


def _hostile(size):
    """Answers of the shapes that made the old parser quadratic, `size` characters each."""
    k = size // 200
    return {
        "unclosed-function": "<function=" * (size // 10),
        "unclosed-parameter": "<function=ls>" + "<parameter=" * (size // 11),
        "function-then-spaces": ("<function=ls" + " " * 50) * (size // 62),
        "json-openers": '{"' * (size // 2),
        "python-openers": "{'" * (size // 2),
        "long-arrays": ('{"a":[' + "1," * (k // 2)) * 200,
        "backticks": "`" * size,
        "fences": "```\n" * (size // 4),
        "tool-call-openers": "<tool_call>" + '{"' * (size // 2),
        "think-then-openers": "</think>" + '{"a":"</think>' * (size // 14),
        "long-name": "<function=" + "a" * size + ">",
    }


_TIMED_PARSE = """
import json, sys, time
from shellper_hook import errors, parser
worst = {}
for name, text in json.load(sys.stdin).items():
    started = time.perf_counter()
    for value in (text, {"content": text}, {"content": text, "tool_calls": [{"function": {"name": "ls", "arguments": text}}]}):
        try:
            (parser.parse_text if isinstance(value, str) else parser.parse_message)(value)
        except errors.ShellperError as exc:
            assert len(str(exc)) < 400 and "\\n" not in str(exc), str(exc)[:200]
    worst[name] = time.perf_counter() - started
print(json.dumps(worst))
"""


@pytest.mark.parametrize("size", [128 * 1024, 512 * 1024], ids=["128K", "512K"])
def test_hostile_answers_parse_in_bounded_time(size):
    """Parsing is linear: each hostile shape takes milliseconds (the old parser took 15 s at 128 KB).

    In a child process, so a parser that hangs fails the test instead of stalling it.
    """
    shapes = _hostile(size)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _TIMED_PARSE], input=json.dumps(shapes), text=True, capture_output=True, timeout=2.0 * len(shapes) + 10
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"parsing {size}-character hostile answers did not finish")
    assert done.returncode == 0, done.stderr[-2000:]
    slow = {name: round(t, 2) for name, t in json.loads(done.stdout).items() if t > 2.0}
    assert not slow, f"hostile answers took seconds to parse: {slow}"


def test_huge_names_give_short_errors():
    for text in ['{"name": "' + "x" * 100_000 + '"}', '{"name": "ls", "arguments": {"' + "k" * 100_000 + '": 1}}']:
        with pytest.raises(errors.ShellperError) as exc:
            parse_text(text)
        assert len(str(exc.value)) < 300


def test_error_messages_are_one_line():
    for text in ['{"name": "bad\\nname"}', "line1\nline2\rline3\x00", '{"name": "ls", "arguments": "x\\ny"}']:
        with pytest.raises(errors.ShellperError) as exc:
            parse_text(text)
        assert "\n" not in str(exc.value) and "\r" not in str(exc.value)


# ------------------------------------------------------------ fuzzing

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
_json = st.recursive(
    _json_leaf,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)),
    max_leaves=25,
)
_keys = st.sampled_from(
    [
        "name",
        "arguments",
        "parameters",
        "function",
        "tool_calls",
        "type",
        "id",
        "content",
        "file_name",
        "folder",
        "lines",
        "a",
        "function_call",
    ]
)
_names = st.one_of(st.sampled_from(tools.names()), st.text(max_size=8))
_mixed_dict = st.recursive(
    st.dictionaries(_keys, st.one_of(_json_leaf, _names), max_size=4),
    lambda kids: st.dictionaries(_keys, st.one_of(kids, st.lists(kids, max_size=3), _json_leaf, _names, kids.map(json.dumps)), max_size=5),
    max_leaves=20,
)
_pieces = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<tool_call>",
        "</tool_call>",
        "```",
        "```json\n",
        "{",
        "}",
        '"name"',
        ": ",
        '"ls"',
        '"arguments"',
        "{}",
        "[",
        "]",
        ",",
        "'",
        '"',
        "\\",
        "\n",
        "<function=ls>",
        "<parameter=a>",
        "true",
        "None",
        "\x00",
        "\u202e",
    ]
)
_texty = st.one_of(
    st.text(max_size=60), st.lists(st.one_of(_pieces, st.text(max_size=5)), max_size=25).map("".join), _mixed_dict.map(json.dumps)
)


def _only_typed(fn, value):
    try:
        out = fn(value)
    except errors.ShellperError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg, msg
        assert parser._UNEXPECTED not in msg, msg  # the last-resort net must never be needed
        return
    assert isinstance(out, ToolCall)
    assert out.name in tools.names()
    tools.validate(out.name, out.arguments)  # what comes out is schema-valid


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mixed_dict, _json, st.dictionaries(st.text(max_size=5), _json, max_size=4)))
def test_fuzz_messages_only_typed_errors(msg):
    _only_typed(parse_message, msg)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texty)
def test_fuzz_text_only_typed_errors(text):
    _only_typed(parse_text, text)
    _only_typed(parse_message, {"content": text, "tool_calls": []})


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(tools.names()),
    st.dictionaries(
        st.sampled_from(["file_name", "folder", "a", "lines", "source", "destination", "content", "mode"]),
        st.one_of(st.text(max_size=30), st.booleans(), st.integers()),
        max_size=3,
    ),
)
def test_fuzz_valid_calls_agree_across_shapes(name, args):
    """Whatever validate says about a call, every shape the call arrives in says the same."""
    try:
        want = tools.validate(name, args)
    except errors.ShellperError as exc:
        want = type(exc)
    for text in _content_shapes(name, args).values():
        try:
            got = parse_text(text)
        except errors.ShellperError as exc:
            got = type(exc)
        assert got == want, text


@pytest.mark.parametrize(
    "args,error",
    [
        ({"folder": "</think>"}, errors.UnknownArgument),
        ({"file_name": "a</think>b", "lines": "many"}, errors.WrongType),
    ],
)
def test_a_closing_think_tag_inside_a_bad_call_gives_the_calls_own_error(args, error):
    # Not "no tool call": the tag is data inside the call, so the call's fault is what the user needs.
    with pytest.raises(error):
        parse_text(json.dumps({"name": "tail" if "lines" in args else "cat", "parameters": args}))


def test_a_closing_think_tag_inside_a_good_call_still_parses():
    assert parse_text(json.dumps({"name": "echo", "arguments": {"content": "</think> done"}})) == ToolCall(
        "echo", {"content": "</think> done"}
    )


def test_quoted_text_is_one_short_line_that_cannot_drive_the_terminal():
    """errors.one_line, which every message quoting a server's, a program's or the model's text uses."""
    from shellper_hook.errors import one_line

    assert one_line("no\x1b[2J such\r\n\tmodel\u2028", 160) == "no [2J such model"
    assert one_line(ValueError("x" * 500), 40) == "x" * 37 + "..."
