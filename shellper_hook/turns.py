"""One terminal's turn, pure: no sockets, no SQL.

suggest():  history + request -> the model -> parse and validate once ->
            policy -> render -> a Suggestion (which becomes the pending row).
settle():   the pending suggestion + the line the shell really ran -> what
            the history keeps, and any correction worth learning from.

The daemon supplies the model (`ask`) and writes what these decide.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from . import policy, tools, undo, workers
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
    effect: str = ""  # the look's prediction in words (look.Seen.line), then whether undo can take it back
    undo: undo.Plan | None = None  # what Enter keeps (None: undo not asked about)


@dataclass(frozen=True)
class Suggestion:
    request: str
    call: ToolCall | None  # None: a general model's command
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


def vet(
    call: ToolCall,
    cwd: str,
    allow_recursive: bool = False,
    home: str | None = None,
    shell: str = "bash",
    cdpath: str | None = None,
    limits: undo.Limits | None = None,
    known_lines: dict | None = None,
) -> Verdict:
    """The command for call in `shell`, with the policy's notes and the effect line,
    both from one look at the files; Refused with a one-line reason. With limits, the
    effect line ends with whether undo can take the change back (undo.plan). known_lines:
    {path: (lines, ends with a newline)} counted elsewhere (a server's shell): the look
    reads no file's content then."""
    policy.refuse_hidden_characters(call)
    try:
        command = to_shell(call, shell, allow_recursive)
    except WrongType as exc:
        raise Refused(f"refused: {exc}") from None
    seen = look(call, cwd, home, allow_recursive, shell=shell, cdpath=cdpath, known_lines=known_lines)
    warnings = policy.judge(call, cwd, allow_recursive, home, seen)
    if limits is None:
        return Verdict(call, command, warnings, seen.line)
    plan = undo.plan(call, cwd, os.path.expanduser("~") if home is None else home, seen, limits, allow_recursive)
    return Verdict(call, command, warnings, f"{seen.line}; {plan.words}" if plan.words else seen.line, plan)


def suggestion(
    message,
    request: str,
    cwd: str,
    shell: str = "bash",
    allow_recursive: bool = False,
    home: str | None = None,
    cdpath: str | None = None,
    limits: undo.Limits | None = None,
) -> Suggestion:
    """The suggestion a model's message amounts to (the CPU part of a turn)."""
    verdict = vet(parse_message(message), cwd, allow_recursive, home, shell, cdpath, limits)
    return Suggestion(request, verdict.call, verdict.command, verdict.warnings, verdict.effect)


@dataclass(frozen=True)
class Shown:
    """A suggestion as it was shown: what Enter compares the files with now."""

    command: str
    call: ToolCall | None  # None: a general model's command
    effect: str
    warnings: tuple
    request: str = ""  # what was asked (a second Ctrl-G on the suggestion asks the general model)


@dataclass(frozen=True)
class Recheck:
    """The verdict at Enter: changed (show lines, run nothing until a second
    Enter) or refused (show why, run nothing); neither: run it."""

    changed: bool = False
    lines: tuple = ()
    refused: str = ""
    undo: undo.Plan | None = None  # what to keep before it runs (with limits)


_AGE = re.compile(r"changed (?:just now|[0-9,]+ [a-z]+ ago)")  # time passing changes nothing
# Counts and sizes (not digits in names: a link moved from data1/ to data2/ is a change).
_AMOUNT = re.compile(
    r"(?<![\w/.-])[0-9][0-9,.]*(?= (?:bytes|KB|MB|GB|TB|files?|lines?|more lines?|other names?"
    r"|write-protected|folders?|entry|entries|right now|it can see)\b| of | in it|\)| lines now)"
)


def _essence(effect: str) -> str:
    """What of an effect line must hold at Enter: the outcome and what it touches, not
    how much (a log that grew, a download that gained a file: the same command)."""
    kind = effect.split(":", 1)[0]
    if kind in ("reads", "moves the shell"):
        return kind
    return re.sub(r"# (\w+?)s\b", r"# \1", _AMOUNT.sub("#", _AGE.sub("", effect)).replace("has #)", "has #"))


def recheck(
    shown: Shown | None,
    line: str,
    cwd: str,
    shell: str = "bash",
    allow_recursive: bool = False,
    home: str | None = None,
    cdpath: str | None = None,
    limits: undo.Limits | None = None,
) -> Recheck:
    """Judge a suggestion again as Enter runs it: the same call, the files as they are now."""
    if shown is None or line.strip() != shown.command.strip():
        return Recheck()  # not the suggestion (typed or edited): the user sees what they wrote
    try:
        if shown.call is None:  # a general model's command: judged on its parse again
            now = judge_general(shown.command, shown.request, cwd, shell, home)
        else:
            now = vet(shown.call, cwd, allow_recursive, home, shell, cdpath, limits)
    except Refused as exc:
        return Recheck(refused=f"{exc} (the files changed since the suggestion; nothing was run)")
    plan = getattr(now, "undo", None)
    if _essence(now.effect) == _essence(shown.effect) and tuple(now.warnings) == tuple(shown.warnings):
        return Recheck(undo=plan)
    header = "the files changed since the suggestion; this is what it does now (Enter runs it, Ctrl-C drops it):"
    return Recheck(changed=True, lines=(header, now.effect, *now.warnings), undo=plan)


# ---------------------------------------------------------------- the general model

GENERAL_UNDO = "undo: no, shellper keeps nothing for a general model's command"


def route(text: str, shown: Shown | None, general: str) -> tuple:
    """("general", request) or ("file", request): what the request is, and which model gets it.

    A second Ctrl-G on a suggestion just made ("not that") asks the general model for the
    same request; so does a request the 18 file tools cannot serve. Both only with a general
    model set; everything else goes to the SHELLper model."""
    if general and shown is not None and shown.request and text.strip() == shown.command.strip():
        if shown.call is None:  # the general model's own answer: the same question would get it again
            return "general", f"{shown.request} (another way than `{shown.command}`)"
        return "general", shown.request
    if general and out_of_reach(text):
        return "general", text
    return "file", text


def judge_general(line: str, request: str, cwd: str, shell: str = "bash", home: str | None = None) -> Suggestion:
    """A general model's command judged on a real parse (general_policy) and described by what
    the parse can say for sure (general_effect); Refused with the reason."""
    from . import general_effect, general_policy  # (tree-sitter: only with a general model)

    home = os.path.expanduser("~") if home is None else home
    judged = general_policy.judge(line, shell, cwd, home)
    if judged.refused:
        raise Refused(judged.refused)
    effect = f"{general_effect.describe(line, cwd, home)}; {GENERAL_UNDO}"
    return Suggestion(request, None, line, list(judged.warnings), effect)


def general_suggestion(content, request: str, cwd: str, shell: str = "bash", home: str | None = None) -> Suggestion:
    """The suggestion a general model's plain-text answer amounts to."""
    from .general import command_of

    return judge_general(command_of(content), request, cwd, shell, home)


async def suggest_general(ask, history: list, request: str, cwd: str, shell: str = "bash", home: str | None = None) -> Suggestion:
    """ask(messages) is the general model: it returns its text. history: (request, command) pairs."""
    from .general import messages

    content = await ask(messages(history, request, shell))
    return await workers.look(general_suggestion, content, request, cwd, shell, home)


# Programs a request may name that no file tool stands in for: the model would
# still answer with one of its 18 tools, which would be the wrong command.
_ELSEWHERE = frozenset(
    (
        "git",
        "chmod",
        "chown",
        "chgrp",
        "chattr",
        "tar",
        "zip",
        "unzip",
        "gzip",
        "gunzip",
        "bzip2",
        "xz",
        "7z",
        "rar",
        "unrar",
        "ssh",
        "scp",
        "rsync",
        "sftp",
        "ftp",
        "telnet",
        "ping",
        "curl",
        "wget",
        "kill",
        "pkill",
        "killall",
        "ps",
        "htop",
        "apt",
        "apt-get",
        "dpkg",
        "dnf",
        "yum",
        "pacman",
        "brew",
        "flatpak",
        "pip",
        "pip3",
        "pipx",
        "npm",
        "npx",
        "yarn",
        "pnpm",
        "cargo",
        "docker",
        "podman",
        "kubectl",
        "sudo",
        "systemctl",
        "crontab",
        "sed",
        "awk",
        "perl",
        "python",
        "python3",
        "node",
        "vim",
        "nano",
        "emacs",
        "gpg",
        "openssl",
        "ln",
        "mount",
        "umount",
        "shutdown",
        "reboot",
        "tmux",
        "dd",
        "df",
        "lsof",
        "shred",
        "mkfs",
        "fdisk",
        "base64",
        "md5sum",
        "sha256sum",
    )
)

# Jobs none of the 18 tools does, by the words that ask for them: (what it is, what to run instead, patterns).
# A pattern's first group is the word that must not be a name (see _as_name); without a group, the whole match.
_JOBS = (
    (
        "changing or showing permissions",
        "chmod or ls -l",
        (
            r"\b(permissions?)\b",
            r"\bmake\b[^,;]*?\b(executable|read-?only|writable|writeable)\b",
            r"\b(ownership|owner)\b(?=\s+(?:of|to)\b)",
        ),
    ),
    (
        "making or unpacking archives",
        "tar or unzip",
        (
            r"\b(compress|decompress|uncompress|unpack|unarchive|untar|tarball|zipped)\w*",
            r"\bextract\b(?=[^,;]*?\.(?:zip|tar|tgz|gz|bz2|xz|7z|rar)\b)",
            r"\b(?:extract|make|create)\b[^,;]*?\b(archive)\b",
            r"^\s*(?:please\s+)?(archive)\b",
        ),
    ),
    (
        "managing processes",
        "ps or kill",
        (
            r"\b(process(?:es)?)\b(?!\s+(?:the|these|those|all|each|every)\b)",
            r"\b(?:running|active)\s+(programs?|apps?|jobs|services?)\b",
            r"\b(programs?|apps?|services?)\s+(?:are|is)\s+running\b",
            r"\b(?:stop|restart|start|terminate)\s+(?:the\s+|my\s+)?\w*\s*(server|service|daemon)\b",
            r"\b(port\s+\d+)",
        ),
    ),
    (
        "the network (downloads, uploads, other hosts)",
        "curl or ssh",
        (
            r"\b(download|upload)(?:ing)?\b",
            r"\b(https?://\S+)",
            r"\bconnect\s+to\b[^,;]*?\b(server|host)\b",
        ),
    ),
    (
        "installing packages",
        "your package manager (apt, pip, npm, ...)",
        (
            # As a verb ("install numpy", "how do I install it"), not a noun ("right after the install").
            r"(?:^\s*(?:please\s+)?|\b(?:to|and|then|you|i|we|me)\s+)((?:un|re)?install)(?:ing)?\b",
            r"\b(?:update|upgrade)\b[^,;]*?\b(packages?|system)\b",
        ),
    ),
    (
        "git",
        "git",
        (
            r"\b(commit|push|rebase|checkout|stash)\b",
            r"\bclone\b[^,;]*?\b(repo|repository|github|gitlab)",
            r"\b(branch(?:es)?)\b",
            r"\b(pull\s+request|pull\s+the\s+latest)\b",
            r"\bmerge\b[^,;]*?\b(branch)\b",
        ),
    ),
    (
        "editing a file's text in place",
        "sed or an editor",
        (
            r"\b(replace)\b[^,;]*?\bwith\b[^,;]*?\b(?:in|inside|within|throughout)\b",
            r"\b(?:replace|substitute)\s+(all|every|each)\b",
            r"\b(substitute|find\s+and\s+replace|search\s+and\s+replace)\b",
            r"\bchange\s+(all|every|each)\b[^,;]*?\bto\b",
            r"\b(?:delete|remove|drop|strip)\b[^,;]*?\b(lines?)\b[^,;]*?\b(?:from|in|of)\b",
            r"\binsert\b[^,;]*?\b(line)\b",
        ),
    ),
)
_JOB_PATTERNS = tuple((what, run, tuple(re.compile(p, re.I) for p in patterns)) for what, run, patterns in _JOBS)

_WORD = re.compile(r"[a-z0-9][\w+-]*", re.I)
_FILEISH = frozenset(
    (
        "file",
        "files",
        "folder",
        "folders",
        "directory",
        "directories",
        "dir",
        "dirs",
        "subfolder",
        "subfolders",
        "subdirectory",
        "config",
        "document",
        "documents",
        "log",
        "logs",
        "script",
        "scripts",
    )
)
# Words after which a program's name is a name or a pattern: "a folder called tar", "search for curl".
_NAMING = frozenset(
    (
        "named",
        "called",
        "titled",
        "name",
        "names",
        "containing",
        "contain",
        "contains",
        "mention",
        "mentions",
        "mentioning",
        "word",
        "words",
        "pattern",
        "string",
        "text",
        "term",
        "keyword",
        "into",
        "in",
        "inside",
        "within",
        "under",
        "from",
        "onto",
        *tools.names(),  # "grep curl in notes.txt": after a tool, a program's name is its argument
    )
)
_SEEKING = frozenset(
    (
        "search",
        "searching",
        "look",
        "looking",
        "grep",
        "hunt",
        "scan",
        "check",
        "mentions",
        "occurrences",
        "instances",
        "lines",
        "all",
        "every",
    )
)
_EDITORS = frozenset(("vim", "nano", "emacs"))
_DETERMINERS = frozenset(("the", "my", "this", "that", "our", "your", "a", "an"))
# Words that end a noun phrase: "use git to list files" does not make git a folder.
_BREAK = frozenset(
    (
        "to",
        "in",
        "into",
        "for",
        "and",
        "or",
        "on",
        "with",
        "from",
        "of",
        "then",
        "at",
        "by",
        "the",
        "a",
        "an",
        "my",
        "all",
        "using",
        "via",
        "it",
        "them",
        "is",
        "are",
    )
)


def _as_name(text: str, start: int, end: int) -> bool:
    """Whether the word at text[start:end] is used as a file's or folder's name, or as a
    pattern to look for, not as a program or a job: "curl.txt", "the git folder",
    "a folder called tar", "search for curl in notes.txt", "files with kill in their name"."""
    before, after = text[:start], text[end:]
    if re.search(r"[\w./~\\-]$", before) or re.match(r"[\w/\\-]|\.\w", after):
        return True  # part of a name: curl.txt, ./install, node_modules, git/
    if re.search(r"['\"]$", before) and re.match(r"['\"]", after):
        return True  # quoted: a name or a pattern
    for word in _WORD.findall(after)[:3]:
        if word.lower() in _FILEISH:
            return True  # the git folder, the git config file, the old download folder
        if word.lower() in _BREAK:
            break
    if re.match(r"\s+in\s+(?:(?:its|their|the)\s+)?names?\b", after, re.I):
        return True  # files with kill in their name
    back = [w.lower() for w in _WORD.findall(before)][-3:]
    while back and back[-1] in _DETERMINERS:
        back.pop()
    if not back:
        return False
    if back[-1] in _NAMING:
        return not (back[-1] == "in" and text[start:end].lower() in _EDITORS)  # open notes.txt in vim
    if back[-1] == "to" and re.search(r"\b(?:copy|move|rename|cp|mv|save|append)\b", before, re.I):
        return True  # copy notes.txt to zip
    return back[-1] in ("for", "of") and len(back) > 1 and back[-2] in _SEEKING  # search for curl, mentions of git


def out_of_reach(request: str) -> tuple | None:
    """(what was asked, what to run instead) when the request names a program the file
    tools cannot stand in for, or asks for a job none of them does; None otherwise.
    A word is judged by how it is used: "run git status" and "commit my changes" are
    out of reach, "list the files in the git folder" and "copy curl.txt to backup" are not."""
    for m in _WORD.finditer(request):
        word = m.group().lower()
        if word in _ELSEWHERE and not _as_name(request, m.start(), m.end()):
            return word, word
    for what, run, patterns in _JOB_PATTERNS:
        for pattern in patterns:
            for m in pattern.finditer(request):
                g = 1 if m.re.groups and m.group(1) is not None else 0
                if not _as_name(request, m.start(g), m.end(g)):
                    return what, run
    return None


async def suggest(
    ask,
    history: list,
    request: str,
    cwd: str,
    shell: str = "bash",
    allow_recursive: bool = False,
    home: str | None = None,
    cdpath: str | None = None,
    limits: undo.Limits | None = None,
) -> Suggestion:
    """ask(history, request) is the model: it returns its chat message."""
    reach = out_of_reach(request)
    if reach:
        what, run = reach
        raise OutOfReach(
            f"{what} is outside what shellper's model does: it knows only 18 file commands"
            f" (ls, cd, cat, cp, mv, rm, mkdir, find, grep, ...); run {run} yourself"
        )
    message = await ask(history, request)
    # Off the event loop, in a thread of its own with a deadline: a file that never answers costs this request only.
    return await workers.look(suggestion, message, request, cwd, shell, allow_recursive, home, cdpath, limits)


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
