"""The general model (opt-in, setting general_model): what it is told, and reading its answer.

messages()    the terminal's conversation in a form any chat model understands: a short
              system prompt naming the user's shell and OS, earlier requests with the
              commands that ran, then the request.
command_of()  the one command line in its plain-text answer (the command alone, or in a
              ```bash/sh/zsh/fish fence), without a trailing # comment; anything else is
              said plainly (GeneralAnswer), and so is a character that would not show on
              the prompt as it runs (a control, format, bidi or separator character).

Pure and standard-library only; the backend asks, general_policy.py judges.
"""

from __future__ import annotations

import platform
import re
import shutil
import unicodedata

from .errors import AnswerError

SYSTEM = (
    "You turn a request into exactly one {shell} command line for {system}. "
    "The user will read your command, then run it in {shell} in their current folder. "
    "Answer with the command alone in a ```{shell} code block: one line (a pipeline or an && chain is one line), "
    "no explanation, no placeholders the user must fill in, nothing that needs root unless asked."
)
# The closing ``` may end the command's own line ("ls -la```"): it is the fence's, not the command's.
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:[ \t]*\n?[ \t]*```|\Z)", re.S)
_FENCE_SHELLS = frozenset(("", "bash", "sh", "zsh", "fish", "shell", "console", "shell-session", "shellscript"))
_TOOL_CALL = re.compile(r"<tool_call>|\A\{\s*\"name\"\s*:")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S | re.I)
# Words a line may start with that are the shell's own, not programs on PATH.
_SHELL_WORDS = frozenset(
    "cd echo printf export set unset alias source . test [ [[ for while if case time command exec eval builtin "
    "read type ulimit umask kill wait jobs fg bg pushd popd dirs shopt history trap true false : { ( ! "
    "function begin and or not string math contains status".split()
)
# Words that start instructions, not commands: "use tar to ...", "run ls".
_PROSE_WORDS = frozenset("use run you to the try first then this here it type execute simply just please sure".split())
MAX_ANSWER = 2000  # characters of one command line
# Characters that do not show on the prompt as what runs: controls (an escape drives the terminal),
# format characters (zero-width spaces, bidi overrides, BOM, tags), line and paragraph separators,
# private-use and unassigned code points, lone surrogates; and spaces other than the space (a
# no-break space shows as one but is part of a word to the shell). A tab shows as space and is one.
_UNSEEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn", "Cs"))
_DASHES = "\u2014\u2013"  # an em or en dash standing alone: "ls -la — lists the files"


class GeneralAnswer(AnswerError):
    """The general model's answer is not one command line."""


def system_name() -> str:
    name = platform.system()
    return {"Darwin": "macOS"}.get(name, name or "a Unix system")


# fish reads few of bash's constructs; shellper's parser reads bash's: ask for what both read the same.
FISH = " Use only what fish and bash both read the same: && and ||, pipes, $(...), quotes; no blocks, loops or here-docs."


def messages(history, request: str, shell: str, system: str | None = None) -> list:
    """history: (request, command) pairs of this terminal, oldest first."""
    prompt = SYSTEM.format(shell=shell, system=system or system_name()) + (FISH if shell == "fish" else "")
    out = [{"role": "system", "content": prompt}]
    for text, command in history:
        out.append({"role": "user", "content": text})
        out.append({"role": "assistant", "content": f"```{shell}\n{command}\n```"})
    out.append({"role": "user", "content": request})
    return out


def command_of(content, path: str | None = None) -> str:
    """The one command line in the model's answer; GeneralAnswer saying what it was instead.
    path: the PATH a first word is looked up in (the daemon's when None)."""
    if not isinstance(content, str) or not content.strip():
        raise GeneralAnswer("the general model gave an empty answer")
    text = _THINK.sub("", content).strip()
    if _TOOL_CALL.search(text):
        # (general_model set to shellper's own model, which answers only with its 18 tools)
        raise GeneralAnswer("the general model answered with a tool call, not a command line: general_model must name a chat model")
    fences = [(lang.lower(), body) for lang, body in _FENCE.findall(text) if lang.lower() in _FENCE_SHELLS]
    if len(fences) > 1:
        raise GeneralAnswer(f"the general model answered with {len(fences)} commands, not one")
    if fences:
        text = fences[0][1]
    lines = []
    for ln in text.replace("\r\n", "\n").split("\n"):
        if lines and _continued(lines[-1]) and not lines[-1].startswith("#"):
            # (a backslash at the end goes on to the next line: one command line written on two, as bash reads it)
            lines[-1] = f"{lines[-1][:-1].rstrip()} {ln.strip()}"
        else:
            lines.append(ln.strip())
    lines = [ln[2:] if ln.startswith("$ ") else ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise GeneralAnswer("the general model answered with no command")
    if len(lines) > 1:
        what = "prose, not a command" if not fences and not _runs(lines[0], path) else f"{len(lines)} lines, not one command line"
        raise GeneralAnswer(f"the general model answered with {what}")
    line = lines[0][:-1].rstrip() if _continued(lines[0]) else lines[0]  # (a backslash left at the very end)
    if len(line) > MAX_ANSWER:
        raise GeneralAnswer(f"the general model's command is {len(line):,} characters long; shellper takes at most {MAX_ANSWER:,}")
    unseen = next((ch for ch in line if ch not in " \t" and unicodedata.category(ch) in _UNSEEN), None)
    if unseen is not None:
        raise GeneralAnswer(f"the general model's command holds a character that does not show as it runs (U+{ord(unseen):04X})")
    if line.startswith("`") and line.endswith("`") and line.count("`") == 2:
        line = line[1:-1].strip()  # `ls -la` written as inline code
    line, explained = _code_part(line)
    if not line:
        raise GeneralAnswer("the general model answered with no command")
    if explained or not _runs(line, path):
        raise GeneralAnswer("the general model answered with prose, not a command")
    return line


def _continued(line: str) -> bool:
    """Whether line ends with a backslash that escapes the newline (an odd number of them)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _code_part(line: str) -> tuple:
    """(line without a trailing # comment, whether an explanation follows a standalone dash).

    The comment is the model's note ("ls -la  # list all"): bash and fish skip it, but zsh
    without setopt interactive_comments passes its words to the command (rm -rf build # the
    build folder would also remove ./the and ./folder). A # starts a comment, as in bash, at
    the start of a word outside quotes."""
    quote, i = "", 0
    while i < len(line):
        ch = line[i]
        if quote == "'":
            quote = "" if ch == "'" else quote
        elif quote:  # " or $'
            if ch == "\\":
                i += 1
            elif ch == quote[-1]:
                quote = ""
        elif ch == "\\":
            i += 1
        elif ch in "'\"":
            quote = "$'" if ch == "'" and line[i - 1 : i] == "$" else ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;&|()"):
            return line[:i].rstrip(), False
        elif ch in _DASHES and line[i - 1 : i] in (" ", "\t") and line[i + 1 : i + 2] in ("", " ", "\t"):
            return line, True
        i += 1
    return line, False


def _runs(line: str, path: str | None) -> bool:
    """Whether line starts like a command: a shell word, an assignment, or a program on PATH."""
    # (the first word ends at an operator too: ls;pwd, ls|wc -l, (cd src && make))
    first = re.match(r"[^\s;&|<>()]*", line.lstrip("( \t")).group()
    if first in _SHELL_WORDS or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", first):
        return True
    if first.startswith(("./", "/", "~/", "../")):
        return True
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", first):
        return False
    if shutil.which(first, path=path) is not None:
        return True
    # A program this machine lacks (sudo in a container) is still a command; a sentence is not.
    return first.islower() and first not in _PROSE_WORDS and not re.search(r"[.:!?]$|, [a-z]+ ", line)
