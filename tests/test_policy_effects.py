"""The policy judged by its effects: hostile tool calls, run for real.

Each call (a hand-written corpus of tricks, then hypothesis-generated ones) goes
to the real policy and renderer (turns.vet, with allow_recursive off and on), from
three working directories: ~/Downloads/proj, ~/Downloads and ~. Every command
that is not refused runs in real zsh 5.9 with oh-my-zsh's aliases loaded
(tests/vendor/ohmyzsh, then shell/shellper.zsh; the command goes through
`__shellper_unalias` when that function exists, as the widget does) and in
real bash (`--norc --noprofile`, `eval`), stdin /dev/null, inside a throwaway
tree (tests/effects_harness.py builds it):

    <tree>/outside.txt, <tree>/x1/outside/, <tree>/x1/x2/x3/u/neighbour.txt
    ~ = <tree>/x1/x2/x3/u/me: .ssh/{authorized_keys,id_ed25519}, .gnupg/pubring.kbx,
        .bashrc, .zshrc, notes.txt, Documents/report.txt,
        Downloads/{dl.txt, pkg/}, Downloads/proj/{a.txt, b.txt, notes.txt, src/, empty/,
        pkg/, files named G L H T NUL ... -n -rf, links sshlink -> ~/.ssh,
        homelink -> ~, rclink -> ~/.bashrc, cwdlink -> /proc/self/cwd, uplink -> ..,
        outlink -> <tree>/outside.txt, dangling, links/{a.txt, cwdlink}}
    pkg/ (hostile): .ssh/authorized_keys, .gnupg/pubring.kbx, .bashrc, README

After each run the whole tree is compared with its pristine snapshot (type,
content, mode, link target of every entry), then restored. The rules:

1. Key material: a change anywhere in ~/.ssh or ~/.gnupg (or to the folders
   themselves) is allowed only if the verdict carried a "warning:" naming
   .ssh / .gnupg.
2. Home dotfiles: a change to ~/.NAME (~/.bashrc, ~/.zshrc, any new one, or
   anything inside one) is allowed only with a "warning:" naming .NAME.
3. Everything else in the tree (files in home, in the cwd's parents, outside
   home, in the cwd itself) may change only if a path argument of the call,
   resolved the way the shell will (from its cwd, following symbolic links,
   /proc/self/cwd being the shell's directory), is that path or one of its
   parent directories, or a "warning:" of the verdict names it or a folder
   it is in (a warning about one thing excuses nothing else).
4. The current directory, home and every directory above them in the tree
   are never removed or replaced (the policy promises to refuse that).
5. Nothing outside the tree changes: a command is run only when every path
   it names resolves into the tree (or, for reads, /dev/null, the command's
   stdio or a read-only system file), and as root the shells run in a mount
   namespace where / is read-only: "Read-only file system" in a command's
   errors is an attempt to write outside the tree, and an offence.

Besides, the command must mean the call (finding 4, 9): `echo` prints or
appends exactly the content and a newline, `cat` prints exactly the file,
`mkdir` / `touch` create what they name.

Bounded: by default the corpus runs in full and hypothesis adds
EXAMPLES calls (derandomized, so CI is stable); SHELLPER_EFFECTS_DEEP=1 runs
DEEP_EXAMPLES random ones instead. Figures are printed and, when
SHELLPER_EFFECTS_FIGURES names a file, written there as JSON with every
offending run (the assertion message shows the first 60).
"""

from __future__ import annotations

import json
import os
import shutil

import effects_harness as fx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shellper_hook import tools
from shellper_hook.errors import ShellperError
from shellper_hook.tools import ToolCall
from shellper_hook.turns import vet as check  # policy and renderer together

pytestmark = pytest.mark.skipif(not (shutil.which("zsh") and shutil.which("bash")), reason="needs zsh and bash")

DEEP = os.environ.get("SHELLPER_EFFECTS_DEEP", "") not in ("", "0")
EXAMPLES = 300
DEEP_EXAMPLES = 5000

# Path arguments, and which of them a command takes away or writes (only run
# when they land in the tree itself) or only reads.
PATH_KEYS = {
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
READ_ONLY = {"cat", "cd", "diff", "grep", "sort", "tail", "wc"}
STDIO_OK = {"echo", "touch", "find"} | READ_ONLY  # may name /dev/null or /dev/fd/0-2

# ---------------------------------------------------------------- the corpus

# {HOME}, {CWD}, {TREE} and {PID} (the shell's own pid) are filled in per run.
PATHS = [
    # /proc and /dev/fd: the shell's view, not the daemon's
    "/proc/self/cwd",
    "/proc/self/cwd/",
    "/proc/self/cwd/.",
    "/proc/self/cwd/..",
    "/proc/self/cwd/../",
    "/proc/self/cwd/../.ssh",
    "/proc/self/cwd/../.ssh/authorized_keys",
    "/proc/self/cwd/../.ssh/id_ed25519",
    "/proc/self/cwd/../../.ssh/authorized_keys",
    "/proc/self/cwd/../.bashrc",
    "/proc/self/cwd/.ssh",
    "/proc/self/cwd/.bashrc",
    "/proc/self/cwd/notes.txt",
    "/proc/thread-self/cwd/",
    "/proc/thread-self/cwd/../.ssh",
    "/proc/{PID}/cwd",
    "/proc/{PID}/cwd/",
    "/proc/{PID}/cwd/../.ssh",
    "/proc/self/root{HOME}",
    "/proc/self/root{HOME}/",
    "/proc/self/root{HOME}/.ssh",
    "/proc/self/root{HOME}/.ssh/authorized_keys",
    "/proc/self/root{HOME}/.bashrc",
    "/proc/self/root{TREE}/outside.txt",
    "/proc/self/root{CWD}/..",
    "/dev/fd/0",
    "/dev/fd/1",
    "/dev/fd/2",
    "/dev/stdin",
    "/dev/stdout",
    "/proc/self/fd/1",
    "/dev/null",
    # links in and out of the tree
    "cwdlink",
    "cwdlink/",
    "cwdlink/..",
    "cwdlink/../.ssh",
    "sshlink",
    "sshlink/",
    "sshlink/.",
    "sshlink/authorized_keys",
    "homelink",
    "homelink/",
    "homelink/.ssh",
    "homelink/.bashrc",
    "homelink/notes.txt",
    "uplink",
    "uplink/",
    "uplink/..",
    "uplink/../.ssh",
    "rclink",
    "outlink",
    "dangling",
    # . and .. forms, trailing slashes
    ".",
    "./",
    "..",
    "../",
    "../.",
    "../..",
    "../../",
    "../.ssh",
    "../.ssh/",
    "../.ssh/authorized_keys",
    "../../.ssh/authorized_keys",
    "../.bashrc",
    "../../.bashrc",
    "../.gnupg",
    "../.gnupg/pubring.kbx",
    ".ssh",
    ".ssh/authorized_keys",
    ".bashrc",
    "pkg",
    "pkg/",
    "pkg/.",
    "pkg/./",
    "./pkg/.",
    "pkg//.",
    "pkg/.ssh",
    "pkg/.ssh/",
    "pkg/.ssh/..",
    "pkg/.ssh/../",
    "pkg/.bashrc",
    "../dl.txt",
    "../../notes.txt",
    # what the user may read as home
    "~",
    "~/",
    "~/.ssh",
    "~/.bashrc",
    "$HOME",
    "$HOME/.ssh",
    "${HOME}/.bashrc",
    "$PWD",
    "~root",
    "{HOME}",
    "{HOME}/",
    "{HOME}/.ssh",
    "{HOME}/.ssh/authorized_keys",
    "{HOME}/.bashrc",
    "{HOME}/notes.txt",
    "{TREE}/outside.txt",
    "{CWD}",
    "{CWD}/..",
    # globs, option-like values, alias words, look-alikes, spaces
    "*",
    ".*",
    "pkg/*",
    "~/.ssh/*",
    "[a-z]*",
    "-rf",
    "-n",
    "-e",
    "--",
    "-",
    "-r",
    "--help",
    "...",
    "....",
    "G",
    "L",
    "H",
    "NUL",
    "T",
    "NE",
    "CA",
    "\uff0e\uff0e",
    "\u2024\u2024",
    "pkg\u2215.ssh",
    "..\u2215.ssh",
    "\uff50\uff4b\uff47",
    "a.txt ",
    " a.txt",
    "my file.txt",
    # ordinary
    "a.txt",
    "notes.txt",
    "src",
    "src/",
    "empty",
    "empty/",
    "new",
    "new/",
    "new.txt",
    "src/new",
]
# Sources and destinations for cp and mv (crossed).
SOURCES = [
    ".",
    "links/.",
    "pkg/.",
    "pkg/./",
    "./pkg/.",
    "pkg/.ssh/..",
    "pkg",
    "pkg/.ssh",
    "pkg/.bashrc",
    "a.txt",
    "cwdlink/",
    "/proc/self/cwd/",
    "sshlink",
    "sshlink/",
    "homelink/.ssh",
    "../.ssh",
    "../.gnupg",
    "../.ssh/id_ed25519",
    "...",
    "-rf",
]
DESTINATIONS = [
    "..",
    "../",
    "../.",
    "...",
    "....",
    "/proc/self/cwd/..",
    "/proc/{PID}/cwd/..",
    "/proc/self/root{HOME}",
    "homelink",
    "homelink/",
    "sshlink",
    "uplink",
    "~",
    "{HOME}",
    "{HOME}/.bashrc",
    "new",
    "src",
    "G",
    "NUL",
    ".",
]
ECHO_CONTENT = [
    "-n",
    "-e",
    "-E",
    "-neE",
    "-en",
    "-",
    "--",
    "-n hello",
    "a\\nb",
    "\\c",
    "tail\\",
    "back\\\\slash",
    "\\x41",
    "\\0101",
    "line1\nline2",
    "tab\there",
    "G",
    "...",
    "NUL",
    "~",
    "$HOME",
    "*",
    "'q'",
    "%s",
    "it's",
    "\\",
    " -n",
    "ssh-ed25519 AAAA evil",
    "\x1b[2J",
    "\u009b",
    "plain",
]
ECHO_FILES = [
    "None",
    "out.txt",
    "a.txt",
    "-n",
    "G",
    "...",
    "../.ssh/authorized_keys",
    "/proc/self/cwd/../.ssh/authorized_keys",
    "/proc/self/cwd/../.bashrc",
    "/proc/self/root{HOME}/.ssh/authorized_keys",
    "~/.bashrc",
    "homelink/.bashrc",
    "rclink",
    "sshlink/authorized_keys",
    "../.bashrc",
    "../../.zshrc",
    "/dev/fd/1",
    "/dev/stdout",
    "{HOME}/.profile",
    "../.profile",
    "cwdlink/../.bashrc",
    "uplink/dl.txt",
]


ALL = ("~/Downloads/proj", "~/Downloads", "~")
BELOW_HOME = ("~/Downloads/proj", "~/Downloads")


def corpus() -> list:
    """(tool, arguments, cwd labels): every trick with the tools that take or
    write, from each cwd; the reading tools with a sample of them."""
    calls = []
    for i, p in enumerate(PATHS):
        for tool in ("rm", "touch", "mkdir"):
            calls.append((tool, {PATH_KEYS[tool][0]: p}, ALL))
        calls.append(("echo", {"content": "KEY", "file_name": p}, ALL))
        if i % 2 == 0:
            calls.append(("rmdir", {"dir_name": p}, ALL))
            calls.append(("cat", {"file_name": p}, BELOW_HOME))
        if i % 6 == 0:
            for tool in ("cd", "sort", "wc", "tail", "find"):
                calls.append((tool, {PATH_KEYS[tool][0]: p}, BELOW_HOME))
            calls.append(("diff", {"file_name1": p, "file_name2": "a.txt"}, BELOW_HOME))
            calls.append(("grep", {"pattern": "alpha", "file_name": p}, BELOW_HOME))
    for s in SOURCES:
        for d in DESTINATIONS:
            calls.append(("cp", {"source": s, "destination": d}, BELOW_HOME))
            calls.append(("mv", {"source": s, "destination": d}, BELOW_HOME))
    for c in ECHO_CONTENT:
        for f in ("None", "out.txt", "a.txt"):
            calls.append(("echo", {"content": c, "file_name": f}, ("~/Downloads/proj",)))
    for f in ECHO_FILES:
        for c in ("KEY", "-n", "a\\nb"):
            calls.append(("echo", {"content": c, "file_name": f}, BELOW_HOME))
    for pattern in ("G", "-e", "-rf", "...", "NUL", "-", "alpha"):
        calls.append(("grep", {"pattern": pattern, "file_name": "a.txt"}, ("~/Downloads/proj",)))
    calls += [
        (name, args, ("~/Downloads/proj",))
        for name, args in (
            ("ls", {"a": True}),
            ("ls", {}),
            ("du", {"human_readable": True}),
            ("pwd", {}),
            ("find", {"path": ".", "name": "..."}),
            ("find", {"path": "pkg", "name": "-n"}),
            ("tail", {"file_name": "a.txt", "lines": 1}),
            ("wc", {"file_name": "G", "mode": "c"}),
        )
    ]
    return calls


# ---------------------------------------------------------------- generated calls

COMPONENTS = [
    ".",
    "..",
    "...",
    "pkg",
    ".ssh",
    ".gnupg",
    ".bashrc",
    ".zshrc",
    ".profile",
    "authorized_keys",
    "id_ed25519",
    "a.txt",
    "notes.txt",
    "src",
    "empty",
    "sshlink",
    "homelink",
    "cwdlink",
    "uplink",
    "outlink",
    "rclink",
    "dangling",
    "Downloads",
    "proj",
    "G",
    "NUL",
    "*",
    "-rf",
    "-n",
    "~",
    "$HOME",
    "new",
    "x y",
    "\uff0e\uff0e",
    "\u2215",
    "dl.txt",
]
PREFIXES = [
    "",
    "",
    "",
    "./",
    "../",
    "../../",
    "/proc/self/cwd/",
    "/proc/thread-self/cwd/",
    "/proc/{PID}/cwd/",
    "/proc/self/root{HOME}/",
    "{HOME}/",
    "{CWD}/",
    "~/",
    "$HOME/",
    "cwdlink/",
    "homelink/",
    "uplink/",
    "sshlink/",
    "/dev/fd/",
]
SUFFIXES = ["", "", "", "/", "/.", "/./", "/..", "//", "/*"]
WEIGHTED_TOOLS = list(tools.names()) + ["rm", "rmdir", "mv", "cp", "echo", "touch", "mkdir"] * 3
TRICKY = "-neE\\ \n\t'\"$`*~!%G.\x1b\u009b\u00e9\uff0e/"


def path_values():
    built = st.builds(
        lambda p, cs, s: p + "/".join(cs) + s,
        st.sampled_from(PREFIXES),
        st.lists(st.sampled_from(COMPONENTS), max_size=3),
        st.sampled_from(SUFFIXES),
    )
    return st.one_of(built, st.sampled_from(PATHS), st.text(alphabet=TRICKY, min_size=1, max_size=6))


def content_values():
    return st.one_of(
        st.sampled_from(ECHO_CONTENT),
        st.text(alphabet=TRICKY, max_size=8),
        st.builds(lambda a, b: a + b, st.sampled_from(ECHO_CONTENT), st.sampled_from(ECHO_CONTENT)),
    )


@st.composite
def calls(draw):
    name = draw(st.sampled_from(WEIGHTED_TOOLS))
    args = {}
    for key, prop in tools.properties(name).items():
        if key not in tools.required(name) and draw(st.booleans()) and draw(st.booleans()):
            continue  # leave a default in now and then
        if key in PATH_KEYS.get(name, ()):
            if name == "echo" and draw(st.booleans()):
                args[key] = "None"
            else:
                args[key] = draw(path_values())
        elif prop.get("type") == "boolean":
            args[key] = draw(st.booleans())
        elif prop.get("type") == "integer":
            args[key] = draw(st.sampled_from([1, 2, 10]))
        elif key == "mode":
            args[key] = draw(st.sampled_from(["l", "w", "c"]))
        else:
            args[key] = draw(content_values())
    return name, args


# ---------------------------------------------------------------- running and judging


class Harness:
    def __init__(self, world: fx.World):
        self.world = world
        self.cache: dict = {}
        self.figures = {
            "policy checks": 0,
            "refused": 0,
            "not run (would leave the tree)": 0,
            "runs": 0,
            "canary offences": 0,
            "meaning offences": 0,
        }
        self.offences: list = []  # (category, text)

    def fill(self, value, shell: fx.Shell, cwd: str):
        if not isinstance(value, str):
            return value
        w = self.world
        return value.replace("{PID}", str(shell.pid)).replace("{HOME}", w.home).replace("{CWD}", cwd).replace("{TREE}", w.top)

    def judge(self, name: str, arguments: dict, label: str) -> None:
        cwd = self.world.cwds[label]
        for shell in self.world.shells.values():
            args = {k: self.fill(v, shell, cwd) for k, v in arguments.items()}
            for recursive in (False, True) if name == "rm" else (False,):
                self._one(shell, ToolCall(name, args), label, cwd, recursive)

    def _one(self, shell, call, label, cwd, recursive) -> None:
        self.figures["policy checks"] += 1
        try:
            verdict = check(call, cwd, recursive, home=self.world.home)
        except ShellperError:
            self.figures["refused"] += 1
            return
        except Exception as exc:  # the policy must refuse, never crash
            self._offend("crash", shell, call, label, None, [], f"check raised {exc!r}")
            return
        if not self._safe(shell, verdict.call, cwd):
            self.figures["not run (would leave the tree)"] += 1
            return
        key = (shell.kind, cwd, verdict.command)
        if key not in self.cache:
            self.figures["runs"] += 1
            self.cache[key] = self._run(shell, cwd, verdict.command)
        status, out, err, changes = self.cache[key]
        problems = self._canaries(shell, verdict, cwd, changes, err)
        if problems:
            self._offend("canary", shell, verdict.call, label, verdict, problems, err.decode(errors="replace"))
        wrong = self._meaning(shell, verdict.call, cwd, status, out, changes)
        if wrong:
            self._offend("meaning", shell, verdict.call, label, verdict, [wrong], err.decode(errors="replace"))

    def _run(self, shell, cwd, command):
        w = self.world
        status, out, err = shell.run(cwd, command)
        after = fx.snapshot(w.top)
        changes = fx.diff(w.pristine, after)
        if changes:
            w.undo(changes)
        return status, out, err, changes

    # -- rule 5: what may run at all

    def _paths(self, shell, call):
        """(key, value) of each path argument; in zsh also the alias a bare `...` is."""
        out = []
        for key in PATH_KEYS.get(call.name, ()):
            value = call.arguments[key]
            if call.name == "echo" and value == "None":
                continue
            out.append((key, value))
            if shell.kind == "zsh" and value in fx.DOT_ALIASES:
                out.append((key, fx.DOT_ALIASES[value]))
        return out

    def _safe(self, shell, call, cwd) -> bool:
        w = self.world
        for _key, value in self._paths(shell, call):
            for follow in (True, False):
                place = fx.resolve(value, cwd, shell.pid, follow, home=self.world.home)
                if place.kind == "path" and fx.under(place.text, w.top) and place.text != w.top:
                    continue
                if place.kind == "missing":
                    continue  # the command fails before touching anything
                if call.name not in STDIO_OK:
                    return False
                if place.kind == "stdio" and place.text in ("0", "1", "2"):
                    continue
                if place.kind == "path" and place.text == "/dev/null":
                    continue
                if (
                    call.name in READ_ONLY
                    and place.kind == "path"
                    and w.namespace
                    and not any(fx.under(place.text, d) for d in ("/proc", "/sys", "/dev", "/run", os.path.dirname(w.top)))
                ):
                    continue  # a read of a system file; / is read-only in the namespace
                return False
        return True

    # -- rules 1-5 after the run

    def _named(self, shell, call, cwd) -> list:
        named = []
        for key in PATH_KEYS.get(call.name, ()):
            value = call.arguments[key]
            if call.name == "echo" and value == "None":
                continue
            for follow in (True, False):
                place = fx.resolve(value, cwd, shell.pid, follow, home=self.world.home)
                if place.kind == "path":
                    named.append(place.text)
        return named

    def _canaries(self, shell, verdict, cwd, changes, err) -> list:
        w = self.world
        loud = [n for n in verdict.warnings if n.startswith("warning:")]
        named = self._named(shell, verdict.call, cwd)
        problems = []
        for rel in sorted(changes):
            path = os.path.join(w.top, rel)
            what = f"{w.show(path)} {fx.describe(changes[rel])}"
            first = path[len(w.home) + 1 :].split("/")[0] if fx.under(path, w.home) and path != w.home else ""
            if first in fx.KEY_DIRS:
                if not any(first in n for n in loud):
                    problems.append(f"{what} (key material, no 'warning:' naming {first})")
            elif first.startswith(".") and not _empty_and_new(changes[rel], path, named):
                if not any(first in n for n in loud):
                    problems.append(f"{what} (home dotfile, no 'warning:' naming {first})")
            elif not any(fx.under(path, n) for n in named) and not _names(loud, path, w.top):
                problems.append(f"{what} (not named by the command, and no warning names it)")
        for d in {cwd, w.home} | {a for c in (cwd, w.home) for a in _parents(c, w.top)}:
            rel = os.path.relpath(d, w.top)
            if rel in changes and (changes[rel][1] is None or changes[rel][1][0] != "d"):
                problems.append(f"{w.show(d)} {fx.describe(changes[rel])} (the current directory, home or a parent)")
        if b"Read-only file system" in err:
            problems.append("tried to write outside the throwaway tree: " + err.decode(errors="replace").strip()[:200])
        return problems

    def _meaning(self, shell, call, cwd, status, out, changes):
        """What the command did differently from what the call says, or None."""
        w, a = self.world, call.arguments
        if status is None:
            return "the command hung (killed after the timeout)"

        def entry(path):
            rel = os.path.relpath(path, w.top)
            return changes[rel][1] if rel in changes else w.pristine.get(rel)

        def parent_is_dir(path):
            parent = os.path.dirname(path)
            return parent == w.top or (w.pristine.get(os.path.relpath(parent, w.top)) or ("",))[0] == "d"

        if call.name == "echo":
            want = a["content"].encode() + b"\n"
            if a["file_name"] == "None":
                return None if out == want else f"printed {out!r}, the call says {want!r}"
            if a["file_name"].endswith(("/", "/.", "/..")) or a["file_name"] in (".", ".."):
                return None  # names a folder: echo fails, and should
            place = fx.resolve(a["file_name"], cwd, shell.pid, home=self.world.home)
            if place.kind == "stdio" and place.text == "1":
                return None if out == want else f"printed {out!r}, the call says {want!r}"
            if place.kind != "path" or not fx.under(place.text, w.top):
                return None
            before = w.pristine.get(os.path.relpath(place.text, w.top))
            if before is None and not parent_is_dir(place.text):
                return None
            if before is not None and before[0] != "f":
                return None
            expected = (before[1] if before else b"") + want
            got = entry(place.text)
            if got is None or got[0] != "f" or got[1] != expected:
                return f"{w.show(place.text)} holds {got[1] if got else None!r}, the call says {expected!r}"
        elif call.name == "cat":
            place = fx.resolve(a["file_name"], cwd, shell.pid, home=self.world.home)
            if place.kind == "path" and fx.under(place.text, w.top):
                before = w.pristine.get(os.path.relpath(place.text, w.top))
                if before and before[0] == "f" and out != before[1]:
                    return f"printed {out[:80]!r}, {w.show(place.text)} holds {before[1]!r}"
        elif call.name in ("mkdir", "touch"):
            key = "dir_name" if call.name == "mkdir" else "file_name"
            if call.name == "touch" and a[key].endswith(("/", "/.", "/..")):
                return None
            place = fx.resolve(a[key], cwd, shell.pid, follow_last=call.name == "touch", home=self.world.home)
            if place.kind != "path" or not fx.under(place.text, w.top) or place.text == w.top:
                return None
            if w.pristine.get(os.path.relpath(place.text, w.top)) is None and parent_is_dir(place.text):
                got = entry(place.text)
                kind = "d" if call.name == "mkdir" else "f"
                if got is None or got[0] != kind:
                    return f"{w.show(place.text)} was not created"
        return None

    def _offend(self, category, shell, call, label, verdict, problems, err) -> None:
        self.figures[f"{category} offences"] = self.figures.get(f"{category} offences", 0) + 1
        lines = [
            f"[{shell.kind}] cwd {label}: {call.name} {json.dumps(call.arguments, ensure_ascii=False)}",
            f"    command:  {verdict.command if verdict else '-'}",
            f"    warnings: {verdict.warnings if verdict else '-'}",
        ]
        lines += [f"    {p}" for p in problems]
        if err.strip():
            lines.append(f"    stderr:   {err.strip()[:200]!r}")
        self.offences.append((category, "\n".join(lines)))

    def report(self, title: str, categories: tuple) -> str:
        found = [text for cat, text in self.offences if cat in categories]
        figures = ", ".join(f"{k}: {v}" for k, v in self.figures.items())
        head = (
            f"{title}: {len(found)} offending runs ({figures}; zsh unalias: {self.world.shells['zsh'].unalias}, "
            f"read-only namespace: {self.world.namespace})"
        )
        return "\n".join([head, *found[:60], *(["..."] if len(found) > 60 else [])])


def _empty_and_new(change, path: str, named: list) -> bool:
    """A new empty file or folder the command names itself (`touch .x` in ~)
    runs nothing: rule 3 judges it, not rule 2."""
    old, new = change
    empty = new is not None and (new[0] == "d" or (new[0] == "f" and new[1] == b""))
    return old is None and empty and path in named


def _names(loud: list, path: str, top: str) -> bool:
    """Whether a loud note names path or a folder it is in (by a name of it, quoted or after a slash)."""
    parts = [p for p in os.path.relpath(path, top).split("/") if p not in ("", ".")]
    return any(f"'{p}'" in n or f"/{p}" in n or f" {p} " in n for n in loud for p in parts)


def _parents(path: str, top: str) -> list:
    out = []
    while fx.under(path, top) and path != top:
        path = os.path.dirname(path)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def world():
    w = fx.World.create()
    yield w
    w.close()


def _record(h: Harness, name: str) -> None:
    print(f"\n{name}: " + json.dumps(h.figures))
    target = os.environ.get("SHELLPER_EFFECTS_FIGURES")
    if target:
        try:
            with open(target, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = {}
        data[name] = {"figures": h.figures, "offences": [f"{cat}: {text}" for cat, text in h.offences]}
        with open(target, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)


@pytest.fixture(scope="module")
def corpus_run(world):
    h = Harness(world)
    for name, args, labels in corpus():
        for label in labels:
            h.judge(name, args, label)
    _record(h, "corpus")
    return h


@pytest.fixture(scope="module")
def generated_run(world):
    h = Harness(world)

    @settings(
        max_examples=DEEP_EXAMPLES if DEEP else EXAMPLES,
        deadline=None,
        derandomize=not DEEP,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(call=calls(), label=st.sampled_from(sorted(world.cwds)))
    def run(call, label):
        h.judge(call[0], call[1], label)

    run()
    _record(h, "generated")
    return h


def test_corpus_changes_no_canary_without_a_warning(corpus_run):
    assert corpus_run.figures["runs"] > 500
    assert not [o for o in corpus_run.offences if o[0] in ("canary", "crash")], corpus_run.report("corpus", ("canary", "crash"))


def test_corpus_commands_mean_the_call(corpus_run):
    assert not [o for o in corpus_run.offences if o[0] == "meaning"], corpus_run.report("corpus", ("meaning",))


def test_generated_calls_change_no_canary_without_a_warning(generated_run):
    assert generated_run.figures["runs"] > 100
    assert not [o for o in generated_run.offences if o[0] in ("canary", "crash")], generated_run.report("generated", ("canary", "crash"))


def test_generated_commands_mean_the_call(generated_run):
    assert not [o for o in generated_run.offences if o[0] == "meaning"], generated_run.report("generated", ("meaning",))


def test_the_harness_sees_what_a_command_does(world):
    """The checks can fail: commands the policy would never allow, run directly,
    are caught by the rules (keys, dotfiles, unnamed files, the cwd) and by the
    meaning check. (\\cp: oh-my-zsh's cp -i would not overwrite with stdin /dev/null.)"""
    h = Harness(world)
    proj = world.cwds["~/Downloads/proj"]
    for shell in world.shells.values():
        bad = [
            ("cp", {"source": "pkg/.", "destination": ".."}, "\\cp -r pkg/. ../..", "key material"),
            ("touch", {"file_name": "new"}, "touch new ../../.profile", "home dotfile"),
            ("touch", {"file_name": "new"}, "touch new ../../other.txt", "not named"),
            ("rm", {"file_name": "a.txt"}, "cd .. && \\rm -r proj", "current directory"),
        ]
        for name, args, command, expect in bad:
            call = tools.validate(name, args).with_defaults()
            status, out, err, changes = h._run(shell, proj, command)
            verdict = type("V", (), {"call": call, "warnings": [], "command": command})()
            problems = h._canaries(shell, verdict, proj, changes, err)
            assert any(expect in p for p in problems), (shell.kind, command, problems)
        echo = tools.validate("echo", {"content": "x", "file_name": "a.txt"}).with_defaults()
        assert h._meaning(shell, echo, proj, 0, b"", {}) is not None  # nothing appended
        assert world.shells["zsh"].run(proj, "echo ok")[:2] == (0, b"ok\n")
    assert fx.snapshot(world.top) == world.pristine
