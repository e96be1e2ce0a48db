"""The general model (opt-in, setting general_model): what it is told, and reading its answer.

messages()    the terminal's conversation in a form any chat model understands: a short
              system prompt naming the user's shell and OS, earlier requests with the
              commands that ran, then the request.
command_of()  the one command line in its plain-text answer (the command alone, or in a
              ```bash/sh/zsh/fish fence); anything else is said plainly (GeneralAnswer).

Pure and standard-library only; the backend asks, general_policy.py judges.
"""

from __future__ import annotations

import platform
import re
import shutil

from .errors import AnswerError

SYSTEM = (
    "You turn a request into exactly one {shell} command line for {system}. "
    "The user will read your command, then run it in {shell} in their current folder. "
    "Answer with the command alone in a ```{shell} code block: one line (a pipeline or an && chain is one line), "
    "no explanation, no placeholders the user must fill in, nothing that needs root unless asked."
)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
_FENCE_SHELLS = frozenset(("", "bash", "sh", "zsh", "fish", "shell", "console", "shell-session", "shellscript"))
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


class GeneralAnswer(AnswerError):
    """The general model's answer is not one command line."""


def system_name() -> str:
    name = platform.system()
    return {"Darwin": "macOS"}.get(name, name or "a Unix system")


def messages(history, request: str, shell: str, system: str | None = None) -> list:
    """history: (request, command) pairs of this terminal, oldest first."""
    out = [{"role": "system", "content": SYSTEM.format(shell=shell, system=system or system_name())}]
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
    fences = [(lang.lower(), body) for lang, body in _FENCE.findall(text) if lang.lower() in _FENCE_SHELLS]
    if len(fences) > 1:
        raise GeneralAnswer(f"the general model answered with {len(fences)} commands, not one")
    if fences:
        text = fences[0][1]
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln[2:] if ln.startswith("$ ") else ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise GeneralAnswer("the general model answered with no command")
    if len(lines) > 1:
        what = "prose, not a command" if not fences and not _runs(lines[0], path) else f"{len(lines)} lines, not one command line"
        raise GeneralAnswer(f"the general model answered with {what}")
    line = lines[0]
    if len(line) > MAX_ANSWER:
        raise GeneralAnswer(f"the general model's command is {len(line):,} characters long; shellper takes at most {MAX_ANSWER:,}")
    if line.startswith("`") and line.endswith("`") and line.count("`") == 2:
        line = line[1:-1].strip()  # `ls -la` written as inline code
    if not _runs(line, path):
        raise GeneralAnswer("the general model answered with prose, not a command")
    return line


def _runs(line: str, path: str | None) -> bool:
    """Whether line starts like a command: a shell word, an assignment, or a program on PATH."""
    first = line.split(None, 1)[0] if line.split() else ""
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
