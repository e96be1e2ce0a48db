"""One terminal's turn, pure: no sockets, no SQL.

suggest():  history + request -> the model -> parse and validate once ->
            policy -> render -> a Suggestion (which becomes the pending row).
settle():   the pending suggestion + the line the shell really ran -> what
            the history keeps, and any correction worth learning from.

The daemon supplies the model (`ask`) and writes what these decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import policy, workers
from .effect import line
from .errors import OutOfReach, Refused, WrongType
from .look import look
from .parser import parse_message
from .readback import chained, read_back
from .render import to_shell
from .tools import ToolCall


@dataclass(frozen=True)
class Verdict:
    call: ToolCall
    command: str  # the line to put on the prompt
    warnings: list  # one-line notes shown beside it
    effect: str = ""  # the look's prediction in words (effect.py)


@dataclass(frozen=True)
class Suggestion:
    request: str
    call: ToolCall
    command: str
    warnings: list
    effect: str = ""  # what it will do to the files, in plain words (effect.py)


@dataclass(frozen=True)
class Settlement:
    """What a line run after a suggestion means for the history.

    outcome: "committed" (run as suggested), "extended" (run as suggested,
    piped or chained on: the suggested call was the honest answer), "edited"
    (changed into another tool call: that call is kept, and the change is a
    correction) or "dropped" (something else ran: nothing of it is kept).
    """

    outcome: str
    call: ToolCall | None = None  # the call the history keeps
    command: str = ""  # the command it keeps with it
    correction: bool = False  # whether the edit is worth learning from


def vet(call: ToolCall, cwd: str, allow_recursive: bool = False, home: str | None = None, shell: str = "bash",
        cdpath: str | None = None) -> Verdict:
    """The command for call in `shell`, with the policy's notes and the effect line,
    both from one look at the files; Refused with a one-line reason."""
    policy.refuse_hidden_characters(call)
    try:
        command = to_shell(call, shell, allow_recursive)
    except WrongType as exc:
        raise Refused(f"refused: {exc}") from None
    seen = look(call, cwd, home, allow_recursive, shell=shell, cdpath=cdpath)
    return Verdict(call, command, policy.judge(call, cwd, allow_recursive, home, seen), line(seen))


def suggestion(message, request: str, cwd: str, shell: str = "bash", allow_recursive: bool = False,
               home: str | None = None, cdpath: str | None = None) -> Suggestion:
    """The suggestion a model's message amounts to (the CPU part of a turn)."""
    verdict = vet(parse_message(message), cwd, allow_recursive, home, shell, cdpath)
    return Suggestion(request, verdict.call, verdict.command, verdict.warnings, verdict.effect)


@dataclass(frozen=True)
class Shown:
    """A suggestion as it was shown: what Enter compares the files with now."""

    command: str
    call: ToolCall
    effect: str
    warnings: tuple


@dataclass(frozen=True)
class Recheck:
    """The verdict at Enter: changed (show lines, run nothing until a second
    Enter) or refused (show why, run nothing); neither: run it."""

    changed: bool = False
    lines: tuple = ()
    refused: str = ""


_AGE = re.compile(r"changed (?:just now|[0-9,]+ [a-z]+ ago)")  # time passing changes nothing
# Counts and sizes (not digits in names: a link moved from data1/ to data2/ is a change).
_AMOUNT = re.compile(r"(?<![\w/.-])[0-9][0-9,.]*(?= (?:bytes|KB|MB|GB|TB|files?|lines?|more lines?|other names?"
                     r"|write-protected|folders?|right now|it can see)\b| of | in it|\)| lines now)")


def _essence(effect: str) -> str:
    """What of an effect line must hold at Enter: the outcome and what it touches, not
    how much (a log that grew, a download that gained a file: the same command)."""
    kind = effect.split(":", 1)[0]
    if kind in ("reads", "moves the shell"):
        return kind
    return re.sub(r"# (\w+?)s\b", r"# \1", _AMOUNT.sub("#", _AGE.sub("", effect)).replace("has #)", "has #"))


def recheck(shown: Shown | None, line: str, cwd: str, shell: str = "bash", allow_recursive: bool = False,
            home: str | None = None, cdpath: str | None = None) -> Recheck:
    """Judge a suggestion again as Enter runs it: the same call, the files as they are now."""
    if shown is None or line.strip() != shown.command.strip():
        return Recheck()  # not the suggestion (typed or edited): the user sees what they wrote
    try:
        now = vet(shown.call, cwd, allow_recursive, home, shell, cdpath)
    except Refused as exc:
        return Recheck(refused=f"{exc} (the files changed since the suggestion; nothing was run)")
    if _essence(now.effect) == _essence(shown.effect) and tuple(now.warnings) == tuple(shown.warnings):
        return Recheck()
    header = "the files changed since the suggestion; this is what it does now (Enter runs it, Ctrl-C drops it):"
    return Recheck(changed=True, lines=(header, now.effect, *now.warnings))


# Programs a request may name that no file tool stands in for: the model would
# still answer with one of its 18 tools, which would be the wrong command.
_ELSEWHERE = frozenset((
    "git", "chmod", "chown", "chgrp", "tar", "zip", "unzip", "gzip", "gunzip", "ssh", "scp", "rsync", "sftp",
    "curl", "wget", "kill", "pkill", "killall", "apt", "apt-get", "dnf", "yum", "pacman", "brew", "pip", "pip3",
    "npm", "yarn", "docker", "podman", "kubectl", "sudo", "systemctl", "crontab",
))
_NAMED = re.compile(r"^\s*(?:please\s+)?([a-z][\w-]*)|\b(?:use|using|run|via)\s+([a-z][\w-]*)", re.I)


def out_of_reach(request: str) -> str | None:
    """The program a request asks for that the file tools cannot serve, or None.
    Only a request that starts with the program or says to use it counts, so
    "show the git config file" still goes to the model."""
    for m in _NAMED.finditer(request):
        word = (m.group(1) or m.group(2) or "").lower()
        if word in _ELSEWHERE:
            return word
    return None


async def suggest(ask, history: list, request: str, cwd: str, shell: str = "bash",
                  allow_recursive: bool = False, home: str | None = None, cdpath: str | None = None) -> Suggestion:
    """ask(history, request) is the model: it returns its chat message."""
    program = out_of_reach(request)
    if program:
        raise OutOfReach(
            f"{program} is outside what shellper's model does: it knows only 18 file commands"
            f" (ls, cd, cat, cp, mv, rm, mkdir, find, grep, ...); run {program} yourself"
        )
    message = await ask(history, request)
    # Off the event loop, in a thread of its own with a deadline: a file that never answers costs this request only.
    return await workers.look(suggestion, message, request, cwd, shell, allow_recursive, home, cdpath)


def settle(pending, ran_line: str, shell: str = "bash") -> Settlement:
    """What the history keeps after `shell` ran ran_line following `pending`
    (anything with .call and .command)."""
    ran = ran_line.strip()
    suggested = pending.command.strip()
    if not ran:
        return Settlement("dropped")
    if ran == suggested:
        return Settlement("committed", pending.call, ran)
    first = chained(ran)
    if first is not None and (first.strip() == suggested or read_back(first, shell) == pending.call):
        # Piped or chained on: the rest may be anything (a secret too), so the
        # history keeps the suggestion only.
        return Settlement("extended", pending.call, suggested)
    recovered = read_back(ran, shell)
    if recovered is None:
        return Settlement("dropped")  # not a tool call: never stored (`export TOKEN=...`)
    if recovered == pending.call:
        return Settlement("committed", pending.call, ran)
    if not related(recovered, pending.call):
        return Settlement("dropped")  # another command altogether: the suggestion was skipped
    return Settlement("edited", recovered, ran, correction=True)


def accept(pending) -> Settlement:
    """The suggestion taken as it was (`commit`)."""
    return Settlement("committed", pending.call, pending.command)


def related(ran: ToolCall, suggested: ToolCall) -> bool:
    """Is `ran` an edit of `suggested`? Same tool, or a shared name (cat x -> tail x).

    Without this, any tool-shaped line typed after ignoring a suggestion
    (`ls` after a skipped `mkdir backup`) would count as its correction.
    """
    if ran.name == suggested.name:
        return True
    words = {v for v in suggested.arguments.values() if isinstance(v, str) and v not in ("", ".", "None")}
    return any(isinstance(v, str) and v in words for v in ran.arguments.values())
