"""Tool call <-> bash command line.

to_bash() renders one call as the bash line of the table in tools.md, with
every value a single inert word. from_bash() recognises a line the user
actually ran as one of those shapes (so an edited suggestion can still go
into the history), or returns None. Pure and standard-library only.

Lines land in the user's zsh or bash buffer, so quoting and the "is this a
tool call" check are kept safe for both shells, not just bash.
"""

from __future__ import annotations

import re

from . import tools
from .errors import AnswerError, WrongType
from .tools import ToolCall

# Words made only of these characters mean the same unquoted in bash and zsh
# (no globs, tilde, `=cmd`, history `!`, comments, braces, expansions).
_SAFE = re.compile(r"[A-Za-z0-9_./,:@%+-]+")

# Tools that read a lone "-" operand as standard input (touch: standard output).
_DASH_IS_STDIO = {"cat", "diff", "grep", "sort", "tail", "touch", "wc"}
# Arguments that name a file or directory: an empty name is never meaningful.
_NAME_ARGS = {"file_name", "file_name1", "file_name2", "folder", "dir_name", "source", "destination", "path"}
# bash opens these redirection targets as network sockets, not files.
_NET_REDIRECT = ("/dev/tcp/", "/dev/udp/")
# Words GNU find reads as the start of its expression rather than a path.
_FIND_EXPR = {"!", "(", ")", ","}
_WC_MODES = ("l", "w", "c")
_MAX_LINES = 10**18  # more than any file has; keeps int <-> str cheap
_PRINTF_LINE = "'%s\\n'"  # printf's format for one literal line


def quote(s: str) -> str:
    """One shell word whose value is exactly s (POSIX single quotes)."""
    if _SAFE.fullmatch(s):
        return s
    if not s:
        return "''"
    # A single quote cannot appear inside '...': close, add "'", reopen.
    return "\"'\"".join(f"'{part}'" if part else "" for part in s.split("'"))


# ---------------------------------------------------------------- to_bash


def _show(value) -> str:
    """A value for a one-line message: escaped and cut short."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _join(options: list, operands: list) -> str:
    # An operand that looks like an option ("-rf") must stay an operand.
    dashdash = ["--"] if any(op.startswith("-") for op in operands) else []
    return " ".join([*options, *dashdash, *(quote(op) for op in operands)])


def _check_name(tool: str, key: str, value: str) -> None:
    if key in _NAME_ARGS and value == "":
        raise WrongType(f"the model gave {tool} an empty {key!r}")
    if value == "-" and key != "pattern" and tool in _DASH_IS_STDIO:
        stream = "standard output" if tool == "touch" else "standard input"
        raise WrongType(f"the model gave {tool} {key!r} the value '-', which {tool} reads as {stream}")


def _cd(a: dict) -> str:
    folder = a["folder"]
    # `cd -` is the previous directory; zsh reads +N/-N as directory-stack entries.
    if folder == "-" or re.fullmatch(r"[+-][0-9]+", folder):
        raise WrongType(
            f"the model gave cd the folder {folder!r}, which the shell reads as an earlier directory"
        )
    return _join(["cd"], [folder])


def _find(a: dict) -> str:
    path, name = a["path"], a["name"]
    if path.startswith("-"):
        raise WrongType("find cannot search a path starting with '-'")
    if path in _FIND_EXPR:
        raise WrongType(f"find reads the path {path!r} as part of its expression, not as a path")
    words = ["find", quote(path)]
    if name != "None":
        words += ["-name", quote(f"*{name}*")]
    return " ".join(words)


def _echo(a: dict) -> str:
    content = a["content"]
    # echo reads a leading "-n"/"-e"/"-" as an option and zsh's echo expands
    # backslashes: printf writes such content literally in every shell.
    if content.startswith("-") or "\\" in content:
        line = "printf " + _PRINTF_LINE + " " + quote(content)
    else:
        line = "echo " + quote(content)
    target = a["file_name"]
    if target == "None":
        return line
    if target.startswith(_NET_REDIRECT):
        raise WrongType(
            f"the model asked echo to write to {_show(target)}, which bash opens as a network connection"
        )
    return f"{line} >> {quote(target)}"


def _tail(a: dict) -> str:
    lines = a["lines"]
    if not isinstance(lines, int) or isinstance(lines, bool) or not 0 < lines < _MAX_LINES:
        raise WrongType(
            f"the model gave tail argument 'lines' the value {_show(lines)},"
            " but it must be a positive integer"
        )
    return _join(["tail", "-n", str(lines)], [a["file_name"]])


def _wc(a: dict) -> str:
    mode = a["mode"]
    if mode not in _WC_MODES:
        raise WrongType(
            f"the model gave wc the mode {_show(mode)},"
            " but it must be 'l' (lines), 'w' (words) or 'c' (characters)"
        )
    return _join(["wc", "-" + mode], [a["file_name"]])


def _flag(a: dict, key: str, tool: str, option: str) -> list:
    value = a[key]
    if not isinstance(value, bool):
        raise WrongType(
            f"the model gave {tool} argument {key!r} the value {_show(value)}, but it must be a boolean"
        )
    return [tool, option] if value else [tool]


_RENDER = {
    "cat": lambda a, r: _join(["cat"], [a["file_name"]]),
    "cd": lambda a, r: _cd(a),
    "cp": lambda a, r: _join(["cp", "-r"], [a["source"], a["destination"]]),
    "diff": lambda a, r: _join(["diff"], [a["file_name1"], a["file_name2"]]),
    "du": lambda a, r: " ".join(_flag(a, "human_readable", "du", "-h")),
    "echo": lambda a, r: _echo(a),
    "find": lambda a, r: _find(a),
    "grep": lambda a, r: _join(["grep"], [a["pattern"], a["file_name"]]),
    "ls": lambda a, r: " ".join(_flag(a, "a", "ls", "-a")),
    "mkdir": lambda a, r: _join(["mkdir"], [a["dir_name"]]),
    "mv": lambda a, r: _join(["mv"], [a["source"], a["destination"]]),
    "pwd": lambda a, r: "pwd",
    "rm": lambda a, r: _join(["rm", "-r"] if r else ["rm"], [a["file_name"]]),
    "rmdir": lambda a, r: _join(["rmdir"], [a["dir_name"]]),
    "sort": lambda a, r: _join(["sort"], [a["file_name"]]),
    "tail": lambda a, r: _tail(a),
    "touch": lambda a, r: _join(["touch"], [a["file_name"]]),
    "wc": lambda a, r: _wc(a),
}


def to_bash(call: ToolCall, allow_recursive: bool = False) -> str:
    """The bash line for call; `rm -r` only when allow_recursive.

    Raises the typed AnswerError of tools.validate for a call that does not
    fit the schema, and WrongType for values no safe command can carry.
    """
    checked = tools.validate(call.name, call.arguments).with_defaults()
    args = checked.arguments
    for key, value in args.items():
        if isinstance(value, str):
            if "\x00" in value:
                raise WrongType(
                    f"the model gave {call.name} argument {key!r} a NUL byte, which bash cannot pass on"
                )
            _check_name(call.name, key, value)
    return _RENDER[checked.name](args, allow_recursive)


# -------------------------------------------------------------- from_bash

_REDIRECT = object()  # an unquoted `>>` in a tokenized line

# Unquoted characters whose meaning (operator, expansion, glob, comment,
# history, zsh `=cmd`...) the tokenizer does not model: such a line is not a tool call.
_UNMODELLED = set("|&;<>()$`*?[]{}~#!^")


def _tokenize(line: str) -> list | None:
    """Words (str) and _REDIRECT markers, or None for anything not modelled."""
    tokens: list = []
    word: list = []
    in_word = False
    start = 0  # where the current word begins in line
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            if in_word:
                tokens.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        if not in_word:
            start = i
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                return None
            word.append(line[i + 1 : end])
            in_word, i = True, end + 1
        elif c == '"':
            i = _double_quoted(line, i + 1, word)
            if i is None:
                return None
            in_word = True
        elif c == "\\":
            if i + 1 >= n:
                return None
            if line[i + 1] != "\n":  # backslash-newline joins lines and adds nothing
                word.append(line[i + 1])
                in_word = True
            i += 2
        elif c == ">" and line.startswith(">>", i):
            if in_word:
                if line[start:i].isascii() and line[start:i].isdigit():
                    return None  # `2>>f` redirects a file descriptor
                tokens.append("".join(word))
                word, in_word = [], False
            tokens.append(_REDIRECT)
            i += 2
        elif c in _UNMODELLED or ord(c) < 32 or ord(c) == 127:
            return None  # includes an unquoted newline: a second command
        elif c == "=" and not "".join(word):
            return None  # zsh expands a leading `=cmd` (even `''=cmd`) to a path
        else:
            word.append(c)
            in_word, i = True, i + 1
    if in_word:
        tokens.append("".join(word))
    return tokens


def _double_quoted(line: str, i: int, word: list) -> int | None:
    """Append the value of a "..." body starting at i; return the index after it."""
    n = len(line)
    while i < n:
        c = line[i]
        if c == '"':
            return i + 1
        if c in "$`!":
            return None  # expansion or history, not modelled
        if c == "\\" and i + 1 < n:
            d = line[i + 1]
            if d == "\n":
                i += 2
                continue
            if d in '\\"$`':
                word.append(d)
                i += 2
                continue
            if d == "!":
                return None  # bash keeps the backslash, zsh drops it
        word.append(c)
        i += 1
    return None  # unclosed


def _operands(words: list, count: int) -> list | None:
    """Exactly count operands, after an optional `--`; none option-like before it."""
    if words and words[0] == "--":
        words = words[1:]
    elif any(w.startswith("-") and w != "-" for w in words):
        return None  # an unknown option (GNU tools accept options after operands)
    return words if len(words) == count else None


def _strip_option(words: list, accepted: tuple) -> tuple:
    if words and words[0] in accepted:
        return True, words[1:]
    return False, words


def _one(key: str):
    def parse(words):
        ops = _operands(words, 1)
        return None if ops is None else {key: ops[0]}

    return parse


def _two(key1: str, key2: str):
    def parse(words):
        ops = _operands(words, 2)
        return None if ops is None else {key1: ops[0], key2: ops[1]}

    return parse


def _parse_flag(key: str, option: str):
    def parse(words):
        if words == []:
            return {key: False}
        if words == [option]:
            return {key: True}
        return None

    return parse


def _parse_cp(words):
    _, words = _strip_option(words, ("-r", "-R"))
    return _two("source", "destination")(words)


def _parse_rm(words):
    _, words = _strip_option(words, ("-r", "-R"))
    return _one("file_name")(words)


def _parse_wc(words):
    # Plain `wc f` prints lines, words and bytes: no single mode of the tool, so not a call.
    if not words or words[0] not in ("-l", "-w", "-c"):
        return None
    mode, words = words[0][1], words[1:]
    ops = _operands(words, 1)
    return None if ops is None else {"file_name": ops[0], "mode": mode}


def _parse_tail(words):
    lines = "10"
    if len(words) >= 2 and words[0] == "-n":
        lines, words = words[1], words[2:]
    elif words and re.fullmatch(r"-n?[0-9]+", words[0]):
        lines, words = words[0].lstrip("-n"), words[1:]
    if not re.fullmatch(r"[0-9]{1,19}", lines):
        return None  # `+5` (from line 5), `-5`, words...
    ops = _operands(words, 1)
    return None if ops is None else {"file_name": ops[0], "lines": int(lines)}


def _parse_find(words):
    path = "."  # GNU find searches . without a path
    if words and not (words[0].startswith("-") or words[0] in _FIND_EXPR):
        path, words = words[0], words[1:]
    if not words:
        return {"path": path, "name": "None"}
    if len(words) == 2 and words[0] == "-name":
        pattern = words[1]
        if len(pattern) >= 2 and pattern[0] == "*" and pattern[-1] == "*":
            name = pattern[1:-1]
            if name != "None":  # "None" means "no -name": not expressible
                return {"path": path, "name": name}
    return None


def _redirect_target(words):
    """(words before an `>> FILE` at the end, FILE or "None"), or None."""
    if _REDIRECT not in words:
        return words, "None"
    at = words.index(_REDIRECT)
    if at != len(words) - 2 or words[-1] is _REDIRECT or words[-1] == "None":
        return None
    return words[:at], words[-1]


def _parse_echo(words):
    split = _redirect_target(words)
    if split is None:
        return None
    words, target = split
    # An option-like first word, or a backslash (zsh's echo expands it), means
    # something else than the content: only printf says that unambiguously.
    if (words and words[0].startswith("-")) or any("\\" in w for w in words):
        return None
    return {"content": " ".join(words), "file_name": target}


def _parse_printf(words):
    split = _redirect_target(words)
    if split is None:
        return None
    words, target = split
    if len(words) != 2 or words[0] != "%s\\n":
        return None
    return {"content": words[1], "file_name": target}


_PARSE = {
    "cat": _one("file_name"),
    "cd": _one("folder"),
    "cp": _parse_cp,
    "diff": _two("file_name1", "file_name2"),
    "du": _parse_flag("human_readable", "-h"),
    "echo": _parse_echo,
    "find": _parse_find,
    "grep": _two("pattern", "file_name"),
    "ls": _parse_flag("a", "-a"),
    "mkdir": _one("dir_name"),
    "mv": _two("source", "destination"),
    "pwd": lambda words: {} if words == [] else None,
    "rm": _parse_rm,
    "rmdir": _one("dir_name"),
    "sort": _one("file_name"),
    "tail": _parse_tail,
    "touch": _one("file_name"),
    "wc": _parse_wc,
}


def from_bash(line: str) -> ToolCall | None:
    """The canonical tool call (defaults filled in) that line runs, or None."""
    if not isinstance(line, str):
        return None
    tokens = _tokenize(line.strip(" \t\n"))
    if not tokens or not isinstance(tokens[0], str):
        return None
    name, words = tokens[0], tokens[1:]
    if name == "printf":
        name, parse = "echo", _parse_printf
    elif name in _PARSE:
        parse = _PARSE[name]
    else:
        return None
    if name != "echo" and _REDIRECT in words:
        return None
    args = parse(words)
    if args is None:
        return None
    call = ToolCall(name, args).with_defaults()
    try:  # only what to_bash itself would produce counts as a tool call
        to_bash(call, allow_recursive=True)
    except AnswerError:
        return None
    return call
