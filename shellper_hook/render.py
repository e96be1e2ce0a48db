"""The renderer: a validated tool call as a command line for the user's shell.

to_shell() gives the form of the table in tools.md, with every value a single
inert word, for bash and zsh (one form means the same argv in both; zsh's
widget quotes words its aliases would rewrite) and fish (the same words,
quoted the fish way: in fish's '...' a backslash escapes \\ and '). Pure and
standard-library only; readback.py reads such lines back.
"""

from __future__ import annotations

import re

from .errors import WrongType
from .tools import Tool, ToolCall

# Words made only of these characters mean the same unquoted in bash and zsh
# (no globs, tilde, `=cmd`, history `!`, comments, braces, expansions).
_SAFE = re.compile(r"[A-Za-z0-9_./,:@%+-]+")

# bash opens these redirection targets as network sockets, not files.
_NET_REDIRECT = ("/dev/tcp/", "/dev/udp/")
# Words GNU find reads as the start of its expression rather than a path.
FIND_EXPR = {"!", "(", ")", ","}
_WC_MODES = ("l", "w", "c")
_MAX_LINES = 10**18  # more than any file has; keeps int <-> str cheap
_PRINTF_LINE = "'%s\\n'"  # printf's format for one literal line


def quote(s: str, shell: str = "bash", bare: bool = True) -> str:
    """One shell word whose value is exactly s (POSIX single quotes; fish's for fish), the one
    quoting of shellper. bare=False quotes a plain word too (sh_quoted)."""
    if shell == "fish":
        return _quote_fish(s)
    if bare and _SAFE.fullmatch(s):
        return s
    if not s:
        return "''"
    # A single quote cannot appear inside '...': close, add "'", reopen.
    return '"\'"'.join(f"'{part}'" if part else "" for part in s.split("'"))


def sh_quoted(s: str) -> str:
    """s as one single-quoted POSIX word even when plain, for lines a user's shell evaluates
    (`shellper init`): zsh's global aliases (alias -g) rewrite a bare word anywhere."""
    return quote(s, bare=False)


# Unquoted, these mean themselves in fish too (no `%`: fish 2 expanded `%self`).
_SAFE_FISH = re.compile(r"[A-Za-z0-9_./,:@+-]+")


def _quote_fish(s: str) -> str:
    """One fish word whose value is exactly s: inside fish's '...' only \\ and \\' are escapes."""
    if _SAFE_FISH.fullmatch(s):
        return s
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------- to_bash


def _show(value) -> str:
    """A value for a one-line message: escaped and cut short."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def path_word(value: str, shell: str = "bash") -> str:
    """A path as one word: quoted, except that a leading ~ or ~/ stays unquoted, so the shell
    expands it to home as the model meant (`cd ~`, `cat ~/'my notes.txt'`)."""
    if value == "~":
        return "~"
    if value.startswith("~/"):
        rest = value[2:]
        return "~/" + (quote(rest, shell) if rest else "")
    return quote(value, shell)


def _join(options: list, operands: list, shell: str = "bash") -> str:
    # An operand that looks like an option ("-rf") must stay an operand.
    dashdash = ["--"] if any(op.startswith("-") for op in operands) else []
    return " ".join([*options, *dashdash, *(path_word(op, shell) for op in operands)])


def _check_name(tool: Tool, key: str, value: str) -> None:
    if key in tool.paths and value == "":  # an empty name is never meaningful
        raise WrongType(f"the model gave {tool.name} an empty {key!r}")
    if value == "-" and key not in tool.text and tool.dash:
        raise WrongType(f"the model gave {tool.name} {key!r} the value '-', which {tool.name} reads as {tool.dash}")


def _cd(a: dict, shell: str) -> str:
    folder = a["folder"]
    # `cd -` is the previous directory; zsh reads +N/-N as directory-stack entries.
    if folder == "-" or re.fullmatch(r"[+-][0-9]+", folder):
        raise WrongType(f"the model gave cd the folder {folder!r}, which the shell reads as an earlier directory")
    return _join(["cd"], [folder], shell)


def _find(a: dict, shell: str) -> str:
    path, name = a["path"], a["name"]
    if path.startswith("-"):
        raise WrongType("find cannot search a path starting with '-'")
    if path in FIND_EXPR:
        raise WrongType(f"find reads the path {path!r} as part of its expression, not as a path")
    words = ["find", path_word(path, shell)]
    if name != "None":
        words += ["-name", quote(find_pattern(name), shell)]
    return " ".join(words)


def find_pattern(name: str) -> str:
    """find's -name pattern for the model's name: a name holding * or ? is the glob the user
    meant (`*.py`); any other is a literal part of a name, with what find would read as a
    wildcard escaped."""
    if ("*" in name or "?" in name) and not set("[\\").intersection(name):
        return name
    return f"*{glob_escape(name)}*"


_GLOB_SPECIAL = "\\*?["


def glob_escape(text: str) -> str:
    """text as a find -name pattern that matches it literally."""
    return "".join("\\" + c if c in _GLOB_SPECIAL else c for c in text)


def _echo(a: dict, shell: str) -> str:
    content = a["content"]
    # echo reads a leading "-n"/"-e"/"-" as an option and zsh's echo expands
    # backslashes: printf writes such content literally in every shell.
    if content.startswith("-") or "\\" in content:
        line = "printf " + _PRINTF_LINE + " " + quote(content, shell)
    else:
        line = "echo " + quote(content, shell)
    target = a["file_name"]
    if target == "None":
        return line
    if target.startswith(_NET_REDIRECT):
        raise WrongType(f"the model asked echo to write to {_show(target)}, which bash opens as a network connection")
    return f"{line} >> {path_word(target, shell)}"


def _grep(a: dict, shell: str) -> str:
    # -F: the model learned the pattern as a literal string, not a regular expression.
    pattern, file = a["pattern"], a["file_name"]
    dashdash = ["--"] if pattern.startswith("-") or file.startswith("-") else []
    return " ".join(["grep", "-F", *dashdash, quote(pattern, shell), path_word(file, shell)])


def _tail(a: dict, shell: str) -> str:
    lines = a["lines"]
    if not isinstance(lines, int) or isinstance(lines, bool) or not 0 < lines < _MAX_LINES:
        raise WrongType(f"the model gave tail argument 'lines' the value {_show(lines)}, but it must be a positive integer")
    return _join(["tail", "-n", str(lines)], [a["file_name"]], shell)


def _wc(a: dict, shell: str) -> str:
    mode = a["mode"]
    if mode not in _WC_MODES:
        raise WrongType(f"the model gave wc the mode {_show(mode)}, but it must be 'l' (lines), 'w' (words) or 'c' (characters)")
    return _join(["wc", "-" + mode], [a["file_name"]], shell)


def _flag(a: dict, key: str, tool: str, option: str) -> list:
    value = a[key]
    if not isinstance(value, bool):
        raise WrongType(f"the model gave {tool} argument {key!r} the value {_show(value)}, but it must be a boolean")
    return [tool, option] if value else [tool]


def _operands(tool: Tool, a: dict, recursive: bool, shell: str) -> str:
    """The line of a tool without a form of its own: its name, options, then its paths."""
    if tool.flag:
        return " ".join(_flag(a, tool.flag[0], tool.name, tool.flag[1]))
    options = [*tool.options, *([tool.recursive] if recursive and tool.recursive else [])]
    return _join([tool.name, *options], [a[k] for k in tool.paths], shell)


SHELLS = ("bash", "zsh", "fish")


def to_shell(call: ToolCall, shell: str = "bash", allow_recursive: bool = False) -> str:
    """The command line for call in `shell`; `rm -r` only when allow_recursive.

    Raises WrongType for values no safe command can carry (a NUL byte, `-`
    where the tool reads standard input...).
    """
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r}")
    args, tool = call.arguments, call.tool
    for key, value in args.items():
        if isinstance(value, str):
            if "\x00" in value:
                raise WrongType(f"the model gave {call.name} argument {key!r} a NUL byte, which a shell cannot pass on")
            _check_name(tool, key, value)
    if tool.render:
        return globals()[tool.render](args, shell)
    return _operands(tool, args, allow_recursive, shell)


def to_bash(call: ToolCall, allow_recursive: bool = False) -> str:
    """The bash (and zsh) form."""
    return to_shell(call, "bash", allow_recursive)
