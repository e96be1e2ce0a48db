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
import stat
import unicodedata

from .errors import Refused
from .look import mounts
from .tools import ToolCall, defaults

# Folders in home holding keys and what they trust: an appended line in
# ~/.ssh/authorized_keys lets a stranger in, so no suggestion writes there.
_KEY_DIRS = (".ssh", ".gnupg")

# Top-level directories of Linux and macOS (and /private, where macOS keeps
# /etc, /tmp and /var), plus second-level ones whose loss is as bad.
_SYSTEM_DIRS = (
    "/Applications",
    "/Library",
    "/System",
    "/Users",
    "/Volumes",
    "/bin",
    "/boot",
    "/cores",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/media",
    "/mnt",
    "/nix",
    "/opt",
    "/private",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/private/etc",
    "/private/tmp",
    "/private/var",
    "/System/Library",
    "/System/Volumes",
    "/usr/bin",
    "/usr/include",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/mail",
    "/var/spool",
    "/var/tmp",
)
# Where writing is everyone's business or a user's own (no warning for a write there).
_SHARED_DIRS = ("/tmp", "/private/tmp", "/var/tmp", "/home", "/Users", "/Volumes", "/media", "/mnt", "/dev/shm", "/run/shm", "/run/user")
_GLOB = set("*?[")
# Characters that reorder how text is displayed, so a line reads differently than it runs.
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Look-alikes NFKC leaves alone.
_CONFUSABLE = str.maketrans(
    {"\u2215": "/", "\u2044": "/", "\u29f8": "/", "\u2571": "/", "\u223c": "~", "\u2217": "*", "\u204e": "*", "\u2731": "*"}
)
_LINE_BREAKS = str.maketrans("", "", "\n\t")  # all echo content may hold
_HOME_PREFIXES = ("$HOME", "${HOME}")
_PWD_PREFIXES = ("$PWD", "${PWD}")


def judge(call: ToolCall, cwd: str, allow_recursive: bool = False, home: str | None = None, seen=None) -> list:
    """The one-line notes to show beside call's command, or Refused with a
    one-line reason. Paths are judged from the shell's cwd and home; seen is
    the look at the files (look.py) the effect line also reads: what it could
    not see makes the verdict stricter, and the files it writes are judged
    through their hard links too."""
    args = call.arguments
    keys = _path_keys(call)
    refuse_hidden_characters(call)
    if not keys:
        return []
    try:
        where = _Where(cwd, os.path.expanduser("~") if home is None else home)
    except _PerProcess as exc:
        raise Refused(f"refused: the shell's working directory goes through {exc.where}, so paths cannot be checked") from None
    for key in keys:
        _refuse_per_process(args[key], where)
    try:
        notes = _path_notes(call, keys, where, allow_recursive, seen)
    except _PerProcess as exc:  # met on the way, e.g. a copied entry landing on such a link
        raise Refused(
            f"refused: {call.name} would write through {exc.where}, which means another place in your shell than shellper can check"
        ) from None
    return list(dict.fromkeys(notes))


def _path_notes(call: ToolCall, keys: list, where: _Where, allow_recursive: bool, seen) -> list:
    notes: list = []
    tool = call.tool
    if tool.removes:
        _refuse_protected(call.name, tool.removal, call.arguments[tool.removes], where)
        notes += _take_notes(call.name, tool.removal, call.arguments[tool.removes], where)
    notes += _write_notes(call, keys, where) + _landed_notes(call, where, seen) + _hard_link_notes(call, where, seen)
    return notes + _warnings(call, keys, where) + _unseen(call, seen, allow_recursive)


def _unseen(call: ToolCall, seen, allow_recursive: bool) -> list:
    """A loud line when the look could not see all that a copy, move or removal touches."""
    whole = call.tool.whole
    if seen is None or not seen.short or not whole:
        return []
    return [f"warning: {seen.short}, so shellper could not check all that this {whole}; look at it yourself before you press Enter"]


# ---------------------------------------------------------------- characters


def _path_keys(call: ToolCall) -> list:
    """The path arguments call names: one whose default is the string "None" names nothing then."""
    args, unset = call.arguments, defaults(call.name)
    return [k for k in call.tool.paths if not (args[k] == "None" and unset.get(k) == "None")]


def refuse_hidden_characters(call: ToolCall) -> None:
    """Refused for characters no line on a terminal can show honestly (the
    first check: cheap, and the clearest reason)."""
    args, path_keys, lines = call.arguments, _path_keys(call), call.tool.lines
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
        elif "Cc" in cats and (key != lines or any(unicodedata.category(ch) == "Cc" for ch in value.translate(_LINE_BREAKS))):
            # ESC, C1 CSI and the like would drive the terminal that shows the line;
            # echo may still write several lines (the benchmark's calls do).
            raise Refused(f"refused: the {key.replace('_', ' ')} contains a control character that would act on the terminal")
        elif _BIDI.intersection(value):
            raise Refused(f"refused: the {key.replace('_', ' ')} contains a character that reverses text direction")


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
    """The per-process part (e.g. /proc/self) that absolute path starts with, or None.
    Judged by the file system's type: a procfs or devtmpfs mounted elsewhere (a
    chroot's, a container's) has its own self/ and fd/."""
    m = _PER_PROCESS.match(path)
    if m:
        return m.group(0).rstrip("/")
    for point, kind in _pseudo_mounts():
        if path.startswith(point + "/"):
            as_if = ("/proc" if kind == "proc" else "/dev") + path[len(point) :]
            m = _PER_PROCESS.match(as_if)
            if m:
                return point + m.group(0)[len("/proc" if kind == "proc" else "/dev") :].rstrip("/")
    return None


def _pseudo_mounts() -> list:
    """procfs and devtmpfs mounts other than /proc and /dev (look.mounts reads them)."""
    return [(point.rstrip("/"), kind) for point, kind in mounts() if kind in ("proc", "devtmpfs") and point not in ("/proc", "/dev", "/")]


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
        # Folders on PATH (the daemon's, which is the shell's that started it, and home's usual ones).
        found = os.environ.get("PATH", "").split(os.pathsep) + [self.home + "/bin", self.home + "/.local/bin"]
        self.path_dirs = {d for p in found if p.startswith("/") for d in (_lexical(p), _real(_lexical(p)))}
        # Home's hidden entries that are links (a dotfiles repository, stow): what they point
        # at is as much a key folder or settings file as their names.
        self.linked: dict = {}
        for top in dict.fromkeys((self.home, self.real_home)):
            try:
                names = [e.name for e in os.scandir(top) if e.name.startswith(".") and e.is_symlink()] if top != "/" else []
            except OSError:
                names = []
            for name in names:
                try:
                    target = _real(top + "/" + name)
                except _PerProcess:
                    continue
                if target != "/":
                    self.linked[target.casefold()] = name.casefold()
        self._readings: dict = {}  # value -> readings: each check asks again, the links are read once

    def join(self, value: str) -> str:
        """What the command itself names: the value from the shell's directory, a leading ~
        or ~/ being home (render.path_word leaves it to the shell to expand)."""
        if value == "~" or value.startswith("~/"):
            return self.home + value[1:]
        return os.path.join(self.cwd, value)

    def expansions(self, value: str) -> list:
        """Absolute paths a user may read value as when it starts with ~, $HOME or $PWD
        (the quoted command takes them literally)."""
        out = []
        for prefixes, base in ((("~",) + _HOME_PREFIXES, self.home), (_PWD_PREFIXES, self.cwd)):
            for p in prefixes:
                if value == p or value.startswith(p + "/"):
                    out.append(_lexical("." + value[len(p) :], base))
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
            literal = _lexical(self.join(value))
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
                notes.append(f"warning: {tool} {_show(value)} {verb}s {what[1]}{via}, a hidden settings file in your home")
            elif what is not None and what[0] == "system":
                notes.append(f"warning: {tool} {_show(value)} {verb}s something inside the system directory {what[1]}{via}")
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
        if verb == "remove" and _GLOB.intersection(text):
            raise Refused(
                f"refused: {shown}{alike} contains a wildcard (* ? [) that the command would take literally; name the file exactly"
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
    key = call.tool.writes
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
                raise Refused(f"refused: {call.name} would write into {shown}{via}, which holds your keys; edit it yourself")
            if call.tool.creates:
                continue  # an empty file or folder: only key folders matter
            note = {
                "dotfile": f"warning: writes to {shown}{via}, a hidden settings file in your home; check it before running",
                "hooks": f"warning: writes into {shown}{via}, a repository's hooks: git runs what is there",
                "path": f"warning: puts {_show(os.path.basename(path))} into {shown}{via}, a folder on your PATH:"
                " typing that name may run it",
            }.get(kind, f"warning: writes into the system directory {shown}{via}")
            if note not in notes:
                notes.append(note)
    return notes


def _landings(call: ToolCall, where: _Where) -> list:
    """Every path (as the command names it) that the call writes and that can
    matter: the target, and for a copied or moved folder each entry of it that
    lands in home's top (dotfiles, key folders), on the way to home, or in a
    repository's hooks. Judged by where things land, so a folder of any size is
    judged whole: only the names that can land there are looked up."""
    args, tool = call.arguments, call.tool
    target = args[tool.writes]
    if not tool.source:
        return [target]
    source = args[tool.source]
    inner = source.rstrip("/").rsplit("/", 1)[-1] if source.rstrip("/") else "/"
    if os.path.isdir(where.join(target)):
        # cp SRC DIR writes DIR/basename; with a basename of . or .. (pkg/., pkg/x/..)
        # the folder's contents merge into DIR itself.
        if inner not in (".", ".."):
            target = target.rstrip("/") + "/" + inner
    out = [target]
    source_path = where.join(source)
    # cp -r copies a link as a link, but goes through it when named with a trailing slash.
    if not os.path.isdir(source_path) or (
        inner not in (".", "..") and not source.endswith("/") and os.path.islink(source_path.rstrip("/"))
    ):
        return out
    for landing, _ in where.readings(target):
        for rel in _sensitive_below(landing, where):
            for name in _entries_at(source_path, rel):
                out.append(target.rstrip("/") + "/" + (rel + "/" if rel else "") + name)
    # An entry landing on a link that is already there goes where that link points.
    for name in _links_in(where.join(target)):
        if os.path.lexists(os.path.join(source_path, name)):
            out.append(target.rstrip("/") + "/" + name)
    return list(dict.fromkeys(out))


def _links_in(folder: str) -> list:
    """The names of the symbolic links in folder (a destination: its own size, not the source's)."""
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_symlink()]
    except OSError:
        return []


def _sensitive_below(landing: str, where: _Where) -> list:
    """Folders (relative to landing, "" for itself) where a copied entry would be
    judged: home's top when landing is home or above it, and .git/hooks."""
    out = []
    for home in dict.fromkeys((where.home, where.real_home)):
        if home == "/":
            continue
        if landing == home:
            out.append("")
        elif home.startswith(landing.rstrip("/") + "/"):
            out.append(home[len(landing.rstrip("/")) + 1 :])
    if landing.endswith("/.git"):
        out.append("hooks")
    elif landing.endswith("/.git/hooks"):
        out.append("")
    else:
        out.append(".git/hooks")
    return out


def _entries_at(source: str, rel: str) -> list:
    """The names in source/rel that can land somewhere that matters: all of a
    hooks folder's, and the hidden ones (dotfiles, .ssh) elsewhere. Names only:
    a folder of 300,000 entries is read in a fraction of a second."""
    folder = os.path.join(source, rel) if rel else source
    hooks = rel.endswith("hooks")
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if hooks or e.name.startswith(".")]
    except OSError:
        return []


def _landed_notes(call: ToolCall, where: _Where, seen) -> list:
    """What a merged copy writes below its target, judged where it lands: files written
    through links (keys refused, dotfiles and system files warned), a repository's hooks,
    folders on PATH."""
    if seen is None or not call.tool.source:
        return []
    notes: list = []
    for path in seen.written[1:]:  # (the first is the target, judged by name above)
        what = _written(path, where)
        if what is None:
            continue
        kind, shown = what
        if kind == "keys":
            raise Refused(f"refused: {call.name} would write to {shown} through {_show(path)}, which holds your keys; edit it yourself")
        notes.append(
            {
                "dotfile": f"warning: writes to {shown} ({_show(path)}), a hidden settings file in your home",
                "hooks": f"warning: writes into {shown}, a repository's hooks: git runs what is there",
                "path": f"warning: puts {_show(os.path.basename(path))} into {shown}, a folder on your PATH",
            }.get(kind, f"warning: writes {_show(path)} in the system directory {shown}")
        )
    hooks = path_dirs = 0
    for path in seen.landed:
        if "/.git/hooks/" in path and not hooks:
            hooks = 1
            notes.append(f"warning: writes into {path[: path.find('/.git/hooks/') + 11]}, a repository's hooks: git runs what is there")
        folder = os.path.dirname(path)
        if folder in where.path_dirs and not path_dirs and not _system(folder):
            path_dirs = 1
            notes.append(f"warning: puts {_show(os.path.basename(path))} into {folder}, a folder on your PATH: typing that name may run it")
    return notes


def _hard_link_notes(call: ToolCall, where: _Where, seen) -> list:
    """A file written that is also, by a hard link, a key or a dotfile of home."""
    if seen is None or not seen.written or call.tool.creates:
        return []
    notes = []
    for path in seen.written:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_nlink < 2 or not stat.S_ISREG(st.st_mode):
            continue
        other = _same_file_in_home(st, where)
        if other is None:
            continue
        shown, kind = other
        if kind == "unseen":
            notes.append(
                f"warning: {_show(path)} has another name (a hard link) that shellper could not find among"
                " your home's settings; writing one changes the other"
            )
            continue
        if kind == "keys":
            raise Refused(
                f"refused: {call.name} would write to {_show(path)}, which is a hard link to {shown};"
                " that file holds what your keys trust; edit it yourself"
            )
        notes.append(
            f"warning: {_show(path)} is a hard link to {shown}, a hidden settings file in your home: writing one changes the other"
        )
    return notes


def _same_file_in_home(st, where: _Where):
    """(how to show it, "keys" | "dotfile" | "unseen") for a key file or a file among home's
    hidden entries that is the file st; "unseen" when they were too many to look through."""
    budget = [_HARD_LINK_LOOK]
    for home in dict.fromkeys((where.home, where.real_home)):
        if home == "/":
            continue
        try:
            top = [e for e in os.scandir(home) if e.name.startswith(".")]
        except OSError:
            continue
        # Key folders first (they must be searched whole), then the other hidden entries.
        for entry in sorted(top, key=lambda e: e.name not in _KEY_DIRS):
            kind = "keys" if entry.name in _KEY_DIRS else "dotfile"
            try:
                est = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(est.st_mode):
                if (est.st_dev, est.st_ino) == (st.st_dev, st.st_ino):
                    return "~/" + entry.name, kind
                continue
            if est.st_dev != st.st_dev:
                continue  # hard links never cross file systems
            found = _find_inode(entry.path, st, budget)
            if found:
                return "~/" + os.path.relpath(found, home), kind
    return ("", "unseen") if budget[0] < 0 else None


_HARD_LINK_LOOK = 20_000  # entries of home's hidden folders looked through for a file's other names


def _find_inode(top: str, st, budget: list) -> str | None:
    """A path under top (links not followed) that is the file st, spending budget[0] entries."""
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    budget[0] -= 1
                    if budget[0] < 0:
                        return None
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.inode() == st.st_ino and entry.stat(follow_symlinks=False).st_dev == st.st_dev:
                            return entry.path
                    except OSError:
                        continue
        except OSError:
            continue
    return None


def _home_entry(path: str, where: _Where):
    """(the top-level entry of home that path is in, the rest below it), casefolded
    (macOS disks ignore case); ("", "") for home itself; None outside home. A path
    where a hidden entry of home that is a link points counts as that entry."""
    folded = path.casefold()
    for target, name in where.linked.items():
        if _under(folded, target):
            return name, folded[len(target) + 1 :]
    for home in dict.fromkeys((where.home, where.real_home)):
        if home != "/" and _under(folded, home):
            first, _, rest = folded[len(home.casefold()) + 1 :].partition("/")
            return first, rest
    return None


def _written(path: str, where: _Where):
    """("keys" | "dotfile" | "hooks" | "path" | "system", how to show it) for a write to path, or None."""
    hooks = path.find("/.git/hooks/")
    if hooks >= 0:
        return "hooks", path[: hooks + len("/.git/hooks")]
    folder = os.path.dirname(path)
    if folder in where.path_dirs and not _system(folder):
        return "path", folder  # (a system folder on PATH gets the system warning)
    entry = _home_entry(path, where)
    if entry is not None:
        first = entry[0]
        if first in _KEY_DIRS:
            return "keys", "~/" + first
        return ("dotfile", "~/" + first) if first.startswith(".") else None
    system = _system(path)
    return None if system is None else ("system", system)


def _system(path: str) -> str | None:
    """The system directory path is in (not a shared one like /tmp), or None."""
    folded = path.casefold()
    if path == "/dev/null" or any(_under(folded, d) for d in _SHARED_DIRS):
        return None
    for d in _SYSTEM_DIRS:
        if _under(folded, d):
            return d
    return None


def _under(folded: str, directory: str) -> bool:
    """Whether the casefolded path is directory or inside it."""
    d = directory.casefold()
    return folded == d or folded.startswith(d + "/")


# ---------------------------------------------------------------- warnings


def _warnings(call: ToolCall, keys: list, where: _Where) -> list:
    """Notes on how a name reads (what the command does with it is the effect line's)."""
    args = call.arguments
    notes: list = []
    for key in keys:
        value = args[key]
        if _lookalike(value) != unicodedata.normalize("NFC", value):
            notes.append(f"note: {_show(value)} uses look-alike characters (it is not {_show(_lookalike(value))})")
        if where.expansions(value) and not (value == "~" or value.startswith("~/")):
            notes.append(f"note: {_show(value)} is taken literally: $HOME, $PWD and ~user are not expanded")
    return notes
