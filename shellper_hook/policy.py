"""The policy: judges a validated call in the user's shell's world.

judge() refuses calls that would remove or move something no one asks a
one-line helper to touch (/, home, the current directory or its parents,
system directories) or write into ~/.ssh or ~/.gnupg, names it cannot show
honestly (control, bidi and look-alike characters), and wildcards in
removals; it adds one-line notes for commands that will fail or overwrite,
and a louder "warning:" for writes to home's dotfiles or system directories. Paths are judged against the
*requesting shell's* directory, never the daemon's own.
"""

from __future__ import annotations

import os
import re
import unicodedata

from .errors import Refused
from .tools import ToolCall

# Arguments that name a file or directory, per tool.
_PATH_ARGS = {
    "cat": ("file_name",),
    "cd": ("folder",),
    "cp": ("source", "destination"),
    "diff": ("file_name1", "file_name2"),
    "echo": ("file_name",),
    "find": ("path",),
    "grep": ("file_name",),
    "mkdir": ("dir_name",),
    "mv": ("source", "destination"),
    "rm": ("file_name",),
    "rmdir": ("dir_name",),
    "sort": ("file_name",),
    "tail": ("file_name",),
    "touch": ("file_name",),
    "wc": ("file_name",),
}
# Arguments the command reads, so they should exist.
_READS = {
    "cat": ("file_name",),
    "cd": ("folder",),
    "cp": ("source",),
    "diff": ("file_name1", "file_name2"),
    "find": ("path",),
    "grep": ("file_name",),
    "mv": ("source",),
    "rm": ("file_name",),
    "rmdir": ("dir_name",),
    "sort": ("file_name",),
    "tail": ("file_name",),
    "wc": ("file_name",),
}
# The argument a tool removes or moves away, and the verb for messages.
_TAKES = {"rm": ("file_name", "remove"), "rmdir": ("dir_name", "remove"), "mv": ("source", "move")}
# The argument a tool writes to (echo only with a file named).
_WRITES = {"echo": "file_name", "cp": "destination", "mv": "destination", "touch": "file_name", "mkdir": "dir_name"}
_CREATES = ("touch", "mkdir")  # write nothing but an empty name
_MAX_ENTRIES = 10000  # top-level entries of a copied folder that are judged
# Folders in home holding keys and what they trust: an appended line in
# ~/.ssh/authorized_keys lets a stranger in, so no suggestion writes there.
_KEY_DIRS = (".ssh", ".gnupg")
_READS_FILE = ("cat", "diff", "grep", "sort", "tail", "wc")

# Top-level directories of Linux and macOS (and /private, where macOS keeps
# /etc, /tmp and /var), plus second-level ones whose loss is as bad.
_SYSTEM_DIRS = (
    "/Applications", "/Library", "/System", "/Users", "/Volumes", "/bin", "/boot", "/cores",
    "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/lost+found", "/media",
    "/mnt", "/nix", "/opt", "/private", "/proc", "/root", "/run", "/sbin", "/snap", "/srv",
    "/sys", "/tmp", "/usr", "/var",
    "/private/etc", "/private/tmp", "/private/var", "/System/Library", "/System/Volumes",
    "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local",
    "/usr/local/bin", "/usr/sbin", "/usr/share", "/usr/src", "/var/cache", "/var/lib",
    "/var/log", "/var/mail", "/var/spool", "/var/tmp",
)
# Where writing is everyone's business or a user's own (no warning for a write there).
_SHARED_DIRS = ("/tmp", "/private/tmp", "/var/tmp", "/home", "/Users", "/Volumes", "/media", "/mnt")
_GLOB = set("*?[")
# Characters that reorder how text is displayed, so a line reads differently than it runs.
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Look-alikes NFKC leaves alone.
_CONFUSABLE = str.maketrans({"\u2215": "/", "\u2044": "/", "\u29f8": "/", "\u2571": "/",
                             "\u223c": "~", "\u2217": "*", "\u204e": "*", "\u2731": "*"})
_LINE_BREAKS = str.maketrans("", "", "\n\t")  # all echo content may hold
_HOME_PREFIXES = ("$HOME", "${HOME}")
_PWD_PREFIXES = ("$PWD", "${PWD}")


def judge(call: ToolCall, cwd: str, allow_recursive: bool = False, home: str | None = None) -> list:
    """The one-line notes to show beside call's command, or Refused with a
    one-line reason. Paths are judged from the shell's cwd and home."""
    args = call.arguments
    keys = _path_keys(call)
    refuse_hidden_characters(call)
    if not keys:
        return []
    try:
        where = _Where(cwd, os.path.expanduser("~") if home is None else home)
    except _PerProcess as exc:
        raise Refused(
            f"refused: the shell's working directory goes through {exc.where}, so paths cannot be checked"
        ) from None
    for key in keys:
        _refuse_per_process(args[key], where)
    try:
        notes = _path_notes(call, keys, where, allow_recursive)
    except _PerProcess as exc:  # met on the way, e.g. a copied entry landing on such a link
        raise Refused(
            f"refused: {call.name} would write through {exc.where}, which means another place in your"
            " shell than shellper can check"
        ) from None
    return list(dict.fromkeys(notes))


def _path_notes(call: ToolCall, keys: list, where: _Where, allow_recursive: bool) -> list:
    notes: list = []
    if call.name in _TAKES:
        key, verb = _TAKES[call.name]
        _refuse_protected(call.name, verb, call.arguments[key], where)
        notes += _take_notes(call.name, verb, call.arguments[key], where)
    return notes + _write_notes(call, keys, where) + _warnings(call, keys, where, allow_recursive)


# ---------------------------------------------------------------- characters


def _path_keys(call: ToolCall) -> list:
    args = call.arguments
    return [k for k in _PATH_ARGS.get(call.name, ()) if not (call.name == "echo" and args[k] == "None")]


def refuse_hidden_characters(call: ToolCall) -> None:
    """Refused for characters no line on a terminal can show honestly (the
    first check: cheap, and the clearest reason)."""
    tool, args, path_keys = call.name, call.arguments, _path_keys(call)
    for key, value in args.items():
        if not isinstance(value, str):
            continue
        cats = {unicodedata.category(ch) for ch in value}
        if "Cs" in cats:  # a lone surrogate from JSON: no shell or terminal can carry it
            raise Refused(f"refused: the {key.replace('_', ' ')} contains an invalid character")
        if key in path_keys:
            if cats & {"Cc", "Cf", "Zl", "Zp"}:
                raise Refused("refused: the file name contains a control character")
        elif "\x00" in value:
            raise Refused(f"refused: the {key.replace('_', ' ')} contains a NUL byte")
        elif "Cc" in cats and (
            tool != "echo" or key != "content" or any(unicodedata.category(ch) == "Cc" for ch in value.translate(_LINE_BREAKS))
        ):
            # ESC, C1 CSI and the like would drive the terminal that shows the line;
            # echo may still write several lines (the benchmark's calls do).
            raise Refused(
                f"refused: the {key.replace('_', ' ')} contains a control character that would act on the terminal"
            )
        elif _BIDI.intersection(value):
            raise Refused(
                f"refused: the {key.replace('_', ' ')} contains a character that reverses text direction"
            )


def _lookalike(value: str) -> str:
    """What a reader takes the value for: NFKC plus a few confusables."""
    return unicodedata.normalize("NFKC", value).translate(_CONFUSABLE)


def _show(value: str) -> str:
    return "'" + (value if len(value) <= 60 else value[:57] + "...") + "'"


# ---------------------------------------------------------------- paths


def _lexical(path: str, base: str = "/") -> str:
    """Absolute, with ., .. and repeated slashes resolved by name (// is /)."""
    if not path.startswith("/"):
        path = base + "/" + path
    parts: list = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    return "/" + "/".join(parts)


# Per-process views: /proc/self/cwd is the *daemon's* directory here but the
# shell's own in the command, so no path through them can be judged.
_PER_PROCESS = re.compile(r"/proc/(?:self|thread-self|[0-9]+)(?:/|$)|/dev/(?:fd|stdin|stdout|stderr)(?:/|$)")
_MAX_LINKS = 40  # as the kernel's limit: a loop resolves no further


class _PerProcess(Exception):
    """A path runs through /proc/self, /proc/PID, /dev/fd or the like."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _per_process(path: str) -> str | None:
    """The per-process part (e.g. /proc/self) that absolute path starts with, or None."""
    m = _PER_PROCESS.match(path)
    return m.group(0).rstrip("/") if m else None


def _real(path: str) -> str:
    """Absolute path with symbolic links resolved as the kernel would, as far as
    they exist; raises _PerProcess before following anything that would mean
    something else in the user's shell than here."""
    pending = [c for c in path.split("/") if c]
    done = "/"
    hops = 0
    while pending:
        comp = pending.pop(0)
        if comp == ".":
            continue
        if comp == "..":
            done = os.path.dirname(done) or "/"
            continue
        nxt = done.rstrip("/") + "/" + comp
        magic = _per_process(nxt)
        if magic:
            raise _PerProcess(magic)
        try:
            target = os.readlink(nxt)
        except OSError:  # not a link, missing, unreadable: taken by name
            done = nxt
            continue
        hops += 1
        if hops > _MAX_LINKS:
            return _lexical("/".join([nxt] + pending))
        pending = [c for c in target.split("/") if c] + pending
        if target.startswith("/"):
            done = "/"
    return done


def _ancestors(path: str) -> list:
    out = []
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


class _Where:
    """The requesting shell's directory, home, and what must never be removed."""

    def __init__(self, cwd, home) -> None:
        if not isinstance(cwd, str) or not cwd.startswith("/") or "\x00" in cwd:
            raise Refused("refused: the shell's working directory is unknown, so paths cannot be checked")
        if not isinstance(home, str) or not home.startswith("/") or "\x00" in home:
            home = "/"  # no usable home: still protect the root
        self.cwd = _lexical(cwd)
        self.home = _lexical(home)
        real_cwd, real_home = _real(self.cwd), _real(self.home)
        self.real_home = real_home
        protected: dict = {}

        def protect(path: str, what: str) -> None:
            protected[path.casefold()] = what  # casefold: macOS disks ignore case

        # Later entries win, so the most telling reason is added last.
        for h in (self.home, real_home):
            for a in _ancestors(h):
                protect(a, f"{a}, which holds your home directory")
        for c in (self.cwd, real_cwd):
            for a in _ancestors(c):
                protect(a, f"a parent of the current directory ({a})")
        for d in _SYSTEM_DIRS:
            protect(d, f"the system directory {d}")
            protect(_real(d), f"the system directory {d}")
        protect(self.cwd, "the current directory")
        protect(real_cwd, "the current directory")
        protect(self.home, "your home directory")
        protect(real_home, "your home directory")
        protect("/", "the root directory")
        self.protected = protected
        self._readings: dict = {}  # value -> readings: each check asks again, the links are read once

    def join(self, value: str) -> str:
        """What the command itself names: the literal value from the shell's directory."""
        return os.path.join(self.cwd, value)

    def expansions(self, value: str) -> list:
        """Absolute paths a user may read value as when it starts with ~, $HOME or $PWD
        (the quoted command takes them literally)."""
        out = []
        for prefixes, base in ((("~",) + _HOME_PREFIXES, self.home), (_PWD_PREFIXES, self.cwd)):
            for p in prefixes:
                if value == p or value.startswith(p + "/"):
                    out.append(_lexical("." + value[len(p):], base))
        if value.startswith("~") and not value.startswith("~/") and value != "~":
            try:
                expanded = os.path.expanduser(value)  # ~user
            except (KeyError, ValueError, OSError):
                expanded = value
            if expanded != value and expanded.startswith("/"):
                out.append(_lexical(expanded))
        return out

    def readings(self, value: str) -> list:
        """(absolute path, whether through symbolic links) for every way value may
        land: by name, as the kernel resolves it, and ~/$HOME/$PWD expanded."""
        if value not in self._readings:
            literal = _lexical(value, self.cwd)
            out = [(literal, False), (_real(self.join(value)), True), (_real(literal), True)]
            for path in self.expansions(value):
                out += [(path, False), (_real(path), True)]
            self._readings[value] = out
        return list(self._readings[value])

    def why_protected(self, path: str):
        """What path is, if it must never be removed or moved; else None."""
        what = self.protected.get(path.casefold())
        if what:
            return what
        if path.count("/") == 1 and path != "/":  # anything directly under /
            return f"'{path}' at the top of the file system"
        return None


def _refuse_per_process(value: str, where: _Where) -> None:
    for text in dict.fromkeys((value, _lookalike(value), value.strip())):
        try:
            magic = _per_process(_lexical(text, where.cwd))
            if magic is None:
                where.readings(text)
        except _PerProcess as exc:
            magic = exc.where
        if magic:
            raise Refused(
                f"refused: {_show(value)} goes through {magic}, which means another place in your"
                " shell than shellper can check; name the path directly"
            )


def _key_dir(path: str, where: _Where):
    """("~/.ssh" or "~/.gnupg", whether path is that folder itself) for a path in one, else None."""
    entry = _home_entry(path, where)
    if entry is None or entry[0] not in _KEY_DIRS:
        return None
    return "~/" + entry[0], entry[1] == ""


def _take_notes(tool: str, verb: str, value: str, where: _Where) -> list:
    """Refuse removing or moving ~/.ssh or ~/.gnupg; warn loudly for anything in
    them, and for a hidden settings file of home."""
    notes = []
    for path, link in where.readings(value):
        via = " (through a symbolic link)" if link else ""
        found = _key_dir(path, where)
        if found is None:
            what = _written(path, where)
            if what is not None and what[0] == "dotfile":
                notes.append(
                    f"warning: {tool} {_show(value)} {verb}s {what[1]}{via}, a hidden settings file in your home"
                )
            continue
        shown, whole = found
        if whole:
            raise Refused(f"refused: {tool} {_show(value)} would {verb} {shown}{via}, which holds your keys")
        notes.append(f"warning: {tool} {_show(value)} {verb}s something in {shown}{via}, which holds your keys")
    return notes


def _refuse_protected(tool: str, verb: str, value: str, where: _Where) -> None:
    variants = [value]
    for v in (_lookalike(value), value.strip(), _lookalike(value).strip()):
        if v and v not in variants:
            variants.append(v)
    shown = f"{tool} {_show(value)}"
    for text in variants:
        alike = "" if text == value else f" looks like {tool} {_show(text)}, which"
        if tool in ("rm", "rmdir") and _GLOB.intersection(text):
            raise Refused(
                f"refused: {shown}{alike} contains a wildcard (* ? [) that the command"
                " would take literally; name the file exactly"
            )
        for path, link in where.readings(text):
            what = where.why_protected(path)
            if what:
                via = " (through a symbolic link)" if link else ""
                raise Refused(f"refused: {shown}{alike} would {verb} {what}{via}")


# ---------------------------------------------------------------- writes


def _write_notes(call: ToolCall, keys: list, where: _Where) -> list:
    """Refuse a write into ~/.ssh or ~/.gnupg; warn loudly for one into a
    hidden file of home (.bashrc runs in every new shell) or a system directory."""
    key = _WRITES.get(call.name)
    if key not in keys:
        return []
    notes: list = []
    seen = set()
    for text in _landings(call, where):
        for path, link in where.readings(text):
            what = None if path in seen else _written(path, where)
            seen.add(path)
            if what is None:
                continue
            via = " (through a symbolic link)" if link else ""
            kind, shown = what
            if kind == "keys":
                raise Refused(
                    f"refused: {call.name} would write into {shown}{via}, which holds your keys;"
                    " edit it yourself"
                )
            if call.name in _CREATES:
                continue  # an empty file or folder: only key folders matter
            note = (
                f"warning: writes to {shown}{via}, a hidden settings file in your home; check it before running"
                if kind == "dotfile"
                else f"warning: writes into the system directory {shown}{via}"
            )
            if note not in notes:
                notes.append(note)
    return notes


def _landings(call: ToolCall, where: _Where) -> list:
    """Every path (as the command names it) that the call writes: the target,
    and for cp/mv each top-level entry of a copied folder where it lands."""
    args = call.arguments
    target = args[_WRITES[call.name]]
    if call.name not in ("cp", "mv"):
        return [target]
    source = args["source"]
    inner = source.rstrip("/").rsplit("/", 1)[-1] if source.rstrip("/") else "/"
    if os.path.isdir(where.join(target)):
        # cp SRC DIR writes DIR/basename; with a basename of . or .. (pkg/., pkg/x/..)
        # the folder's contents merge into DIR itself.
        if inner not in (".", ".."):
            target = target.rstrip("/") + "/" + inner
    out = [target]
    source_path = where.join(source)
    if os.path.isdir(source_path) and not (inner not in (".", "..") and os.path.islink(source_path.rstrip("/"))):
        try:
            entries = os.listdir(source_path)[:_MAX_ENTRIES]
        except OSError:
            entries = []
        out += [target.rstrip("/") + "/" + e for e in sorted(entries)]
    return out


def _home_entry(path: str, where: _Where):
    """(the top-level entry of home that path is in, the rest below it), casefolded
    (macOS disks ignore case); ("", "") for home itself; None outside home."""
    folded = path.casefold()
    for home in dict.fromkeys((where.home, where.real_home)):
        if home != "/" and _under(folded, home):
            first, _, rest = folded[len(home.casefold()) + 1 :].partition("/")
            return first, rest
    return None


def _written(path: str, where: _Where):
    """("keys" | "dotfile" | "system", how to show it) for a write to path, or None."""
    entry = _home_entry(path, where)
    if entry is not None:
        first = entry[0]
        if first in _KEY_DIRS:
            return "keys", "~/" + first
        return ("dotfile", "~/" + first) if first.startswith(".") else None
    folded = path.casefold()
    if path == "/dev/null" or any(_under(folded, d) for d in _SHARED_DIRS):
        return None
    for d in _SYSTEM_DIRS:
        if _under(folded, d):
            return "system", d
    return None


def _under(folded: str, directory: str) -> bool:
    """Whether the casefolded path is directory or inside it."""
    d = directory.casefold()
    return folded == d or folded.startswith(d + "/")


# ---------------------------------------------------------------- warnings


def _warnings(call: ToolCall, keys: list, where: _Where, allow_recursive: bool) -> list:
    name, args = call.name, call.arguments
    notes: list = []

    def note(text: str) -> None:
        if text not in notes:
            notes.append(text)

    def missing(value: str) -> str:
        if value.startswith("/"):
            return f"note: {_show(value)} does not exist"
        return f"note: {_show(value)} does not exist in {where.cwd}"

    for key in keys:
        value = args[key]
        if _lookalike(value) != unicodedata.normalize("NFC", value):
            note(f"note: {_show(value)} uses look-alike characters (it is not {_show(_lookalike(value))})")
        if where.expansions(value):
            note(f"note: {_show(value)} is taken literally: ~, $HOME and $PWD are not expanded")

    absent = set()
    for key in _READS.get(name, ()):
        if not os.path.lexists(where.join(args[key])):
            absent.add(key)
            note(missing(args[key]))

    if name in _READS_FILE:
        for key in _READS[name]:
            if key not in absent and os.path.isdir(where.join(args[key])):
                note(f"note: {_show(args[key])} is a directory; {name} will fail")
    elif name == "cd" and "folder" not in absent:
        if not os.path.isdir(where.join(args["folder"])):
            note(f"note: {_show(args['folder'])} is not a directory; cd will fail")
    elif name == "rm":
        target = where.join(args["file_name"])
        if allow_recursive:
            note(f"note: removes {_show(args['file_name'])} and everything in it")
        elif os.path.isdir(target) and not os.path.islink(target.rstrip("/") or "/"):
            note(
                f"note: {_show(args['file_name'])} is a directory; rm without -r will fail"
                " (set allow_recursive = true to allow rm -r)"
            )
    elif name == "rmdir" and "dir_name" not in absent:
        _rmdir_notes(args["dir_name"], where, note)
    elif name in ("mkdir", "touch"):
        key = "dir_name" if name == "mkdir" else "file_name"
        _create_notes(name, args[key], where, note)
    elif name in ("mv", "cp"):
        _overwrite_notes(args["source"], args["destination"], where, note)
    return notes


def _rmdir_notes(value: str, where: _Where, note) -> None:
    path = where.join(value)
    if not os.path.isdir(path):
        note(f"note: {_show(value)} is not a directory; rmdir will fail")
        return
    try:
        empty = not os.listdir(path)
    except OSError:
        return
    if not empty:
        note(f"note: {_show(value)} is not empty; rmdir will fail")


def _create_notes(tool: str, value: str, where: _Where, note) -> None:
    path = where.join(value)
    if os.path.lexists(path):
        if tool == "mkdir":
            note(f"note: {_show(value)} already exists; mkdir will fail")
        else:
            note(f"note: {_show(value)} already exists; touch only updates its time")
        return
    parent = os.path.dirname(value.rstrip("/"))
    if parent and not os.path.isdir(where.join(parent)):
        note(f"note: {_show(parent)} does not exist; {tool} will fail")


def _overwrite_notes(source: str, dest: str, where: _Where, note) -> None:
    path = where.join(dest)
    if os.path.isdir(path):
        inner = os.path.basename(source.rstrip("/"))
        if inner and os.path.lexists(os.path.join(path, inner)) and not os.path.isdir(os.path.join(path, inner)):
            shown = dest.rstrip("/") + "/" + inner
            note(f"note: {_show(shown)} exists and will be overwritten")
    elif os.path.lexists(path):
        note(f"note: {_show(dest)} exists and will be overwritten")
