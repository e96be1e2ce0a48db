"""Reading back: the tool call a command line the user ran amounts to.

read_back() recognises a line as one of the shapes render.py produces (also
hand-typed or edited), so an edited suggestion can still go into the
history, or returns None for anything else: pipes, expansions, options the
tools do not have. Pure and standard-library only. The check is kept safe for
both bash and zsh, whose buffers these lines come from; fish lines are read
with fish's quoting (_FISH), as strictly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from .errors import AnswerError
from .render import FIND_EXPR, to_shell
from .tools import RECORDS, Tool, ToolCall

_REDIRECT = object()  # an unquoted `>>` in a tokenized line


class _Home(str):
    """A word that starts with an unquoted ~ or ~/: the shell makes it home's path, which is
    what a path argument means by it (render.path_word), never echo's text or grep's pattern."""


# Unquoted characters whose meaning (operator, expansion, glob, comment,
# history, zsh `=cmd`...) the tokenizer does not model: such a line is not a tool call.
_UNMODELLED = frozenset("|&;<>()$`*?[]{}~#!^")
# Unquoted in fish: operators, expansions, globs, comments, `~`, `%`, `!`,
# `=`-free but strict (fish 3.6: `?` is still a glob).
_UNMODELLED_FISH = frozenset("|&;<>()$*?[]{}~#!^%")
# After an unquoted backslash these mean themselves in fish; any other (\n,
# \x41, \u...) is one of fish's character escapes: not modelled.
_FISH_LITERAL_ESCAPES = frozenset(" \\'\"$*?~#()[]{}<>^&|;%!")


class _Quoting(NamedTuple):
    """How one shell reads quotes and backslashes. Each reader gets the line,
    the index just past the quote (or at the backslash) and the word so far;
    it appends the value and returns the index after it, or None for anything
    not modelled."""

    single: Callable
    double: Callable
    escape: Callable
    unmodelled: frozenset
    leading_equals: bool  # zsh expands an unquoted leading `=cmd` (even `''=cmd`) to a path


def _single_posix(line: str, i: int, word: list) -> int | None:
    end = line.find("'", i)
    if end < 0:
        return None
    word.append(line[i:end])
    return end + 1


def _double_posix(line: str, i: int, word: list) -> int | None:
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


def _escape_posix(line: str, i: int, word: list) -> int | None:
    if i + 1 >= len(line):
        return None
    if line[i + 1] != "\n":  # backslash-newline joins lines and adds nothing
        word.append(line[i + 1])
    return i + 2


def _single_fish(line: str, i: int, word: list) -> int | None:
    n = len(line)
    while i < n and line[i] != "'":
        if line[i] == "\\" and i + 1 < n and line[i + 1] in "\\'":
            i += 1  # fish's '...' knows only these two escapes
        word.append(line[i])
        i += 1
    return i + 1 if i < n else None


def _double_fish(line: str, i: int, word: list) -> int | None:
    n = len(line)
    while i < n and line[i] != '"':
        d = line[i]
        if d == "$":
            return None  # expansion
        if d == "\\" and i + 1 < n and line[i + 1] in '\\"$':
            i += 1
        elif d == "\\" and i + 1 < n and line[i + 1] == "\n":
            return None
        word.append(line[i])
        i += 1
    return i + 1 if i < n else None


def _escape_fish(line: str, i: int, word: list) -> int | None:
    if i + 1 >= len(line) or line[i + 1] not in _FISH_LITERAL_ESCAPES:
        return None
    word.append(line[i + 1])
    return i + 2


_POSIX = _Quoting(_single_posix, _double_posix, _escape_posix, _UNMODELLED, True)
_FISH = _Quoting(_single_fish, _double_fish, _escape_fish, _UNMODELLED_FISH, False)


def _tokenize(line: str, quoting: _Quoting = _POSIX) -> list | None:
    """Words (str) and _REDIRECT markers, or None for anything not modelled."""
    tokens: list = []
    word: list = []
    in_word = home = False
    start = 0  # where the current word begins in line
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            if in_word:
                tokens.append(_word(word, home))
                word, in_word, home = [], False, False
            i += 1
            continue
        if not in_word:
            start = i
        if c == "~" and not in_word and (i + 1 == n or line[i + 1] in "/ \t"):
            # A word's leading ~ or ~/ is home, as render.path_word writes it: the value keeps the ~.
            word.append("~")
            in_word = home = True
            i += 1
            continue
        if c == ">" and line.startswith(">>", i):
            if in_word:
                if line[start:i].isascii() and line[start:i].isdigit():
                    return None  # `2>>f` redirects a file descriptor
                tokens.append(_word(word, home))
                word, in_word, home = [], False, False
            tokens.append(_REDIRECT)  # (`>>&`, fish's `>>?`: the next character is refused)
            i += 2
            continue
        had = len(word)
        if c == "'":
            i = quoting.single(line, i + 1, word)
        elif c == '"':
            i = quoting.double(line, i + 1, word)
        elif c == "\\":
            i = quoting.escape(line, i, word)
        elif c in quoting.unmodelled or ord(c) < 32 or ord(c) == 127:
            return None  # includes an unquoted newline: a second command
        elif c == "=" and quoting.leading_equals and not "".join(word):
            return None
        else:
            word.append(c)
            i += 1
        if i is None:
            return None
        # Quotes make a word even when empty; a joined line (backslash-newline) makes none.
        in_word = in_word or c in "'\"" or len(word) > had
    if in_word:
        tokens.append(_word(word, home))
    return tokens


def _word(parts: list, home: bool) -> str:
    text = "".join(parts)
    return _Home(text) if home else text


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


def _parse(tool: Tool, words: list) -> dict | None:
    """The arguments of a line of a tool without a form of its own (render._operands's shape)."""
    if tool.flag:
        key, option = tool.flag
        return {key: False} if words == [] else {key: True} if words == [option] else None
    if not tool.paths:
        return {} if words == [] else None
    _, words = _strip_option(words, tool.accepts)
    ops = _operands(words, len(tool.paths))
    return None if ops is None else dict(zip(tool.paths, ops))


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
    if words and not (words[0].startswith("-") or words[0] in FIND_EXPR):
        path, words = words[0], words[1:]
    if not words:
        return {"path": path, "name": "None"}
    if len(words) == 2 and words[0] == "-name":
        pattern = words[1]
        if len(pattern) >= 2 and pattern[0] == "*" and pattern[-1] == "*":
            name = _glob_literal(pattern[1:-1])
            if name is not None and name != "None":  # "None" means "no -name": not expressible
                return {"path": path, "name": name}
        if ("*" in pattern or "?" in pattern) and not set("[\\").intersection(pattern) and pattern != "None":
            return {"path": path, "name": pattern}  # a glob, as render.find_pattern keeps it
    return None


def _glob_literal(pattern: str) -> str | None:
    """The literal text a find pattern matches, or None if it holds a live wildcard."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                return None
            out.append(pattern[i + 1])
            i += 2
            continue
        if c in "*?[":
            return None
        out.append(c)
        i += 1
    return "".join(out)


_REGEX_SPECIAL = set(".[]*^$\\")  # what grep's basic regular expressions give meaning to


def _parse_grep(words):
    fixed, words = _strip_option(words, ("-F",))
    ops = _operands(words, 2)
    if ops is None or isinstance(ops[0], _Home):
        return None
    if not fixed and _REGEX_SPECIAL.intersection(ops[0]):
        return None  # a regular expression: not the literal search the tool does
    return {"pattern": ops[0], "file_name": ops[1]}


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
    if (words and words[0].startswith("-")) or any("\\" in w for w in words) or any(isinstance(w, _Home) for w in words):
        return None
    return {"content": " ".join(words), "file_name": target}


def _parse_printf(words):
    split = _redirect_target(words)
    if split is None:
        return None
    words, target = split
    if len(words) != 2 or words[0] != "%s\\n" or isinstance(words[1], _Home):
        return None
    return {"content": words[1], "file_name": target}


def read_back(line: str, shell: str = "bash") -> ToolCall | None:
    """The tool call (validated, defaults filled in) that line runs in `shell`, or None."""
    if not isinstance(line, str):
        return None
    fish = shell == "fish"
    tokens = _tokenize(line.strip(" \t\n"), _FISH if fish else _POSIX)
    if not tokens or not isinstance(tokens[0], str):
        return None
    name, words = tokens[0], tokens[1:]
    if name == "printf":  # the form render._echo writes for content echo would misread
        name, parse = "echo", _parse_printf
    elif name in RECORDS:
        tool = RECORDS[name]
        parse = globals()[tool.parse] if tool.parse else partial(_parse, tool)
    else:
        return None
    if _REDIRECT in words and parse not in (_parse_echo, _parse_printf):
        return None
    args = parse(words)
    if args is None:
        return None
    # A quoted `~` or `~/...` names a file called ~, but a path argument's ~ means home
    # (the parsers keep each word's type: a _Home value came unquoted).
    paths = RECORDS[name].paths
    if any(k in paths and type(v) is str and (v == "~" or v.startswith("~/")) for k, v in args.items()):
        return None
    try:  # only a valid call that the renderer itself would produce counts
        call = ToolCall(name, args)
        to_shell(call, "fish" if fish else "bash", allow_recursive=True)
    except AnswerError:
        return None
    return call


def chained(line: str) -> str | None:
    """The first command of `CMD | ...`, `CMD && ...`, `CMD || ...` or `CMD; ...`
    (the operator outside quotes), or None when line has no such operator."""
    quote = None
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote == "'":
            if c == "'":
                quote = None
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif c == "\\":
            i += 1
        elif c in "'\"":
            quote = c
        elif c in "|;" or line.startswith("&&", i):
            return line[:i]
        i += 1
    return None
