"""`shellper eval --general`: score a general model by what its commands do.

Each request of the set goes to the model as the daemon sends it (general.messages with no
history, for bash; Backend.ask_general), its answer is read as the daemon reads it
(general.command_of) and judged by the general policy (general_policy.judge; a refusal is a
failure). The command then RUNS, with bash, in a fresh throwaway folder built from the case's
setup: as nobody (uid 65534, through setpriv) when this runs as root, with a time limit, stdin
from /dev/null, HOME a throwaway folder of its own, a fixed environment (LC_ALL=C.UTF-8,
TZ=UTC), umask 022 and files written capped at 256 MiB. The network is not sandboxed: the set
holds no network requests. The case's expected EFFECT is then checked with predicates on the
folder and on what the command printed, so any command that does the job is right, whatever
its spelling.

The predicates (JSON, one key each; PATH is relative to the folder and never leaves it: a
path through a link that leads out of it fails the predicate, and nothing is followed or read
outside it):

    tree    {"exists": PATH}  {"absent": PATH}  {"dir": PATH}
            {"file": [PATH, TEXT]}              content equals TEXT (a final newline aside)
            {"contains": [PATH, TEXT]}  {"lacks": [PATH, TEXT]}
            {"lines": [PATH, N]}  {"size": [PATH, N]}  {"json": [PATH, VALUE]}
            {"same": [PATH, PATH]}              two regular files with the same bytes
            {"same_file": [PATH, PATH]}         hard links: one inode
            {"mode": [PATH, "755"]}  {"mode_has": [PATH, "100"]}  {"mode_lacks": [PATH, "022"]}
            {"link": [PATH, TARGET]}            a symbolic link leading to TARGET (a path here)
            {"count": [GLOB, N]}                N paths match GLOB ("**" for any depth)
            {"tar_has": [PATH, MEMBER]}  {"tar_lacks": [PATH, MEMBER]}  {"zip_has": [PATH, MEMBER]}
            {"gz_is": [PATH, TEXT]}             gzip data that decompresses to TEXT
            {"format": [PATH, "gzip"|"bzip2"|"xz"|"zip"|"tar"]}  by the file's magic bytes
            {"mtime_day": [PATH, "YYYY-MM-DD"]}  the day it was last modified (UTC)
    output  {"stdout_has": TEXT}  {"stdout_lacks": TEXT}  {"stdout_is": TEXT} (whitespace around aside)
            {"stdout_word": TEXT}               TEXT not part of a longer word or number
            {"stdout_line": [TEXT, ...]}        one line holds each as a word
            {"stdout_order": [TEXT, ...]}       each appears, in this order
            {"stdout_lines": N or [MIN, MAX]}   non-empty lines printed
            {"exit": N}
    logic   {"not": P}  {"any": [P, ...]}  {"all": [P, ...]}

TEXT (and a GLOB) may hold {home}, {cwd}, {user}, {today}, {today_compact}, {year}, {kernel},
{cpus}, {cpus_all}, {hostname}: what they are in the throwaway run.

A row: {"id", "category", "request", "setup": {"files": {PATH: TEXT or {"content" | "base64" |
"size", "mode", "age_days" | "mtime"}}, "dirs": [PATH] or {PATH: {"mode", "age_days"}},
"links": {PATH: TARGET}, "env": {NAME: VALUE}, "run": [COMMAND]}, "expect": [P, ...],
"reference": COMMAND, "needs": [PROGRAM]}. "run" commands build what plain files cannot (a git
repository, an archive) in the same sandbox, before the request; "reference" is a command
known to do the job (the tests run each one); a case whose "needs" are missing (programs on
PATH, or files named by absolute path) is skipped, and the report says so.

Right or wrong, the report counts why: refused by the policy, not a command (general.command_of
found none, as the daemon would say), wrong effect (the first predicate that failed is named),
timed out, no answer (the server's error). Latency is request to answer, one request at a time
after one untimed warm-up request per model; with several --model names the models go one
after the other and the table shows each one's difference from the first.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import fnmatch
import gzip
import importlib
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field

from . import evaluate, general
from .errors import ModelMissing, ServerUnreachable, SettingsError, ShellperError
from .evaluate import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    DatasetError,
    Progress,
    Unavailable,
    _Bad,
    _excerpt,
    _fail,
    _minus,
    _ms,
    _nothing_scored,
    _points,
    _ratio,
    _show_ms,
    _table,
    check_status,
    close,
    nearest_rank,
    pct,
)
from .undo_store import remove_tree  # (a folder the command made unreadable, chmod 000, too)

DEFAULT_DATASET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "general_eval.jsonl")
SHELL = "bash"
RUN_TIMEOUT = 10.0  # seconds a command (and each setup command) may run
CONCURRENCY = 1  # one request at a time: a latency is one request's own
NOBODY = 65534
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_OUTPUT = 1 << 20  # bytes of stdout the predicates see
MAX_READ = 16 << 20  # bytes of one file a predicate reads
MAX_SETUP_BYTES = 64 << 20  # one setup file
FILE_LIMIT_KB = 256 * 1024  # ulimit -f: what one file the command writes may hold
WARM_UP = "print the name of the current folder"
STATUSES = ("correct", "refused", "not_command", "wrong", "timeout", "no_answer", "setup_failed")
_LABELS = {
    "refused": "refused by the policy",
    "not_command": "not a command",
    "wrong": "wrong effect",
    "timeout": "timed out",
    "no_answer": "no answer",
    "setup_failed": "the case's setup failed",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MODE = re.compile(r"[0-7]{3,4}\Z")
_MAGIC = {"gzip": (0, b"\x1f\x8b"), "bzip2": (0, b"BZh"), "xz": (0, b"\xfd7zXZ\x00"), "zip": (0, b"PK\x03\x04"), "tar": (257, b"ustar")}

# Predicate name -> the kinds of its arguments (one kind: the value itself; more: a list).
SIGNATURES = {
    "exists": ("path",),
    "absent": ("path",),
    "dir": ("path",),
    "file": ("path", "text"),
    "contains": ("path", "text"),
    "lacks": ("path", "text"),
    "lines": ("path", "int"),
    "size": ("path", "int"),
    "json": ("path", "value"),
    "same": ("path", "path"),
    "same_file": ("path", "path"),
    "mode": ("path", "mode"),
    "mode_has": ("path", "mode"),
    "mode_lacks": ("path", "mode"),
    "link": ("path", "path"),
    "count": ("glob", "int"),
    "tar_has": ("path", "member"),
    "tar_lacks": ("path", "member"),
    "zip_has": ("path", "member"),
    "gz_is": ("path", "text"),
    "format": ("path", "format"),
    "mtime_day": ("path", "day"),
    "stdout_has": ("text",),
    "stdout_lacks": ("text",),
    "stdout_is": ("text",),
    "stdout_word": ("text",),
    "stdout_line": ("texts",),
    "stdout_order": ("texts",),
    "stdout_lines": ("range",),
    "exit": ("int",),
    "not": ("pred",),
    "any": ("preds",),
    "all": ("preds",),
}


# ---------------------------------------------------------------- the set


@dataclass(frozen=True)
class Case:
    id: str
    line: int
    category: str
    request: str
    setup: dict
    expect: tuple
    reference: str | None = None
    needs: tuple = ()


def _rel(value, where: str, pattern: bool = False) -> str:
    """A relative path that stays in the folder (a glob when pattern)."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise _Bad(f"{where}: a path must be non-empty text")
    if value.startswith("/") or value.startswith("~"):
        raise _Bad(f"{where}: {value!r} is not a path inside the folder (no / or ~ at the start)")
    parts = value.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts) and value != ".":
        raise _Bad(f"{where}: {value!r} must not hold empty, . or .. parts")
    if not pattern and any(c in value for c in "*?["):
        raise _Bad(f"{where}: {value!r} is a pattern; only count takes one")
    return value.rstrip("/") or "."


def _int(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"{where}: wants a whole number of 0 or more, not {value!r}")
    return value


def _text(value, where: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{where}: wants text, not {value!r}")
    return value


def _arg(kind: str, value, where: str):
    if kind == "path":
        return _rel(value, where)
    if kind == "glob":
        return _rel(value, where, pattern=True)
    if kind == "int":
        return _int(value, where)
    if kind in ("text", "member"):
        text = _text(value, where)
        if kind == "member" and not text.strip("./"):
            raise _Bad(f"{where}: an archive member must be a name")
        return text
    if kind == "mode":
        if not isinstance(value, str) or not _MODE.match(value):
            raise _Bad(f'{where}: a mode is 3 or 4 octal digits as text, such as "755", not {value!r}')
        return value
    if kind == "day":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise _Bad(f"{where}: a day is YYYY-MM-DD text, not {value!r}")
        return value
    if kind == "format":
        if value not in _MAGIC:
            raise _Bad(f"{where}: format is one of {', '.join(_MAGIC)}, not {value!r}")
        return value
    if kind == "texts":
        if not isinstance(value, list) or not value:
            raise _Bad(f"{where}: wants a non-empty list of texts")
        return [_text(v, where) for v in value]
    if kind == "range":
        if isinstance(value, list) and len(value) == 2:
            low, high = _int(value[0], where), _int(value[1], where)
            if low > high:
                raise _Bad(f"{where}: the range [{low}, {high}] is empty")
            return [low, high]
        n = _int(value, where)
        return [n, n]
    if kind == "pred":
        return check_predicate(value, where)
    if kind == "preds":
        if not isinstance(value, list) or not value:
            raise _Bad(f"{where}: wants a non-empty list of predicates")
        return [check_predicate(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value  # "value": any JSON


def check_predicate(pred, where: str = "predicate") -> dict:
    """A predicate as the set writes it, checked; raises _Bad."""
    if not isinstance(pred, dict) or len(pred) != 1:
        raise _Bad(f'{where}: a predicate is an object with one key, such as {{"exists": "a.txt"}}')
    ((name, value),) = pred.items()
    kinds = SIGNATURES.get(name)
    if kinds is None:
        raise _Bad(f"{where}: unknown predicate {name!r} (known: {', '.join(SIGNATURES)})")
    if len(kinds) == 1:
        return {name: _arg(kinds[0], value, f"{where} {name}")}
    if not isinstance(value, list) or len(value) != len(kinds):
        raise _Bad(f"{where}: {name} wants a list of {len(kinds)} ({', '.join(kinds)})")
    return {name: [_arg(k, v, f"{where} {name}") for k, v in zip(kinds, value)]}


def _file_spec(path: str, spec, where: str) -> dict:
    if isinstance(spec, str):
        return {"content": spec.encode("utf-8"), "mode": 0o644}
    if not isinstance(spec, dict):
        raise _Bad(f"{where}: file {path!r} wants its content as text, or an object")
    unknown = set(spec) - {"content", "base64", "size", "mode", "age_days", "mtime"}
    if unknown:
        raise _Bad(f"{where}: file {path!r} has unknown keys: {', '.join(sorted(unknown))}")
    if sum(k in spec for k in ("content", "base64", "size")) > 1:
        raise _Bad(f"{where}: file {path!r}: give one of content, base64 or size")
    out = {"mode": int(_arg("mode", spec.get("mode", "644"), f"{where} {path}"), 8)}
    if "base64" in spec:
        try:
            out["content"] = base64.b64decode(_text(spec["base64"], where), validate=True)
        except ValueError:
            raise _Bad(f"{where}: file {path!r}: base64 is not valid") from None
    elif "size" in spec:
        size = _int(spec["size"], where)
        if size > MAX_SETUP_BYTES:
            raise _Bad(f"{where}: file {path!r} is larger than {MAX_SETUP_BYTES >> 20} MiB")
        out["size"] = size
    else:
        out["content"] = _text(spec.get("content", ""), where).encode("utf-8")
    out.update(_times(spec, f"{where} {path}"))
    return out


def _times(spec: dict, where: str) -> dict:
    if "age_days" in spec and "mtime" in spec:
        raise _Bad(f"{where}: give age_days or mtime, not both")
    if "age_days" in spec:
        age = spec["age_days"]
        if isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 <= age <= 36500:
            raise _Bad(f"{where}: age_days wants a number of days from 0 to 36500")
        return {"age_days": float(age)}
    if "mtime" in spec:
        try:
            when = datetime.datetime.fromisoformat(_text(spec["mtime"], where).replace("Z", "+00:00"))
        except ValueError:
            raise _Bad(f"{where}: mtime wants an ISO date such as 2023-05-17T10:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return {"mtime": when.timestamp()}
    return {}


def parse_setup(setup, where: str = "setup") -> dict:
    if setup is None:
        setup = {}
    if not isinstance(setup, dict):
        raise _Bad(f"{where} must be an object")
    unknown = set(setup) - {"files", "dirs", "links", "env", "run"}
    if unknown:
        raise _Bad(f"{where} has unknown keys: {', '.join(sorted(unknown))} (known: files, dirs, links, env, run)")
    files = setup.get("files", {})
    if not isinstance(files, dict):
        raise _Bad(f"{where}: files must map paths to contents")
    dirs = setup.get("dirs", {})
    if isinstance(dirs, list):
        dirs = {d: {} for d in dirs}
    if not isinstance(dirs, dict) or not all(isinstance(v, dict) for v in dirs.values()):
        raise _Bad(f'{where}: dirs must be a list of paths, or map paths to {{"mode", "age_days"}}')
    links = setup.get("links", {})
    if not isinstance(links, dict) or not all(isinstance(v, str) and v for v in links.values()):
        raise _Bad(f"{where}: links must map paths to the text of their targets")
    env = setup.get("env", {})
    if not isinstance(env, dict) or not all(_NAME.match(str(k)) and isinstance(v, str) and "\x00" not in v for k, v in env.items()):
        raise _Bad(f"{where}: env must map variable names to text")
    run = setup.get("run", [])
    if isinstance(run, str):
        run = [run]
    if not isinstance(run, list) or not all(isinstance(r, str) and r.strip() for r in run):
        raise _Bad(f"{where}: run must be a list of commands")
    out_dirs = {}
    for d, spec in dirs.items():
        unknown = set(spec) - {"mode", "age_days", "mtime"}
        if unknown:
            raise _Bad(f"{where}: folder {d!r} has unknown keys: {', '.join(sorted(unknown))}")
        out_dirs[_rel(d, where)] = {"mode": int(_arg("mode", spec.get("mode", "755"), where), 8), **_times(spec, where)}
    return {
        "files": {_rel(p, where): _file_spec(p, s, where) for p, s in files.items()},
        "dirs": out_dirs,
        "links": {_rel(p, where): t for p, t in links.items()},
        "env": dict(env),
        "run": list(run),
    }


def parse_row(obj, line: int) -> Case:
    if not isinstance(obj, dict):
        raise _Bad("each line must be a JSON object")
    unknown = set(obj) - {"id", "category", "request", "setup", "expect", "reference", "needs", "note"}
    if unknown:
        raise _Bad(f"unknown keys: {', '.join(sorted(unknown))}")
    request = obj.get("request")
    if not isinstance(request, str) or not request.strip():
        raise _Bad("'request' must be the request in plain words")
    raw_id = obj.get("id")
    ident = f"line {line}" if raw_id is None else raw_id
    if not isinstance(ident, str) or not ident.strip():
        raise _Bad("'id' must be a non-empty string")
    category = obj.get("category", "other")
    if not isinstance(category, str) or not category.strip():
        raise _Bad("'category' must be a non-empty string")
    expect = obj.get("expect")
    if not isinstance(expect, list) or not expect:
        raise _Bad("'expect' must be a non-empty list of predicates")
    reference = obj.get("reference")
    if reference is not None and (not isinstance(reference, str) or not reference.strip()):
        raise _Bad("'reference' must be a command")
    needs = obj.get("needs", [])
    if not isinstance(needs, list) or not all(
        isinstance(n, str) and re.fullmatch(r"[A-Za-z0-9_.+-]+|(/[A-Za-z0-9_.+-]+)+", n) for n in needs
    ):
        raise _Bad("'needs' must be a list of program names (or absolute paths of files)")
    return Case(
        ident,
        line,
        category,
        request,
        parse_setup(obj.get("setup")),
        tuple(check_predicate(p, f"expect[{i}]") for i, p in enumerate(expect)),
        reference,
        tuple(needs),
    )


def load_cases(path: str) -> list:
    """Every row of a JSONL general set. Raises DatasetError at the first bad line."""
    return evaluate.load_cases(path, parse_row)


# ---------------------------------------------------------------- the runner


@dataclass(frozen=True)
class Runner:
    """Who the commands run as, and with what."""

    bash: str
    path: str  # PATH in the sandbox
    prefix: tuple = ()  # setpriv ... when dropping root
    uid: int | None = None  # whom the throwaway tree is handed to
    user: str = ""
    how: str = ""  # said in the report
    timeout: float = RUN_TIMEOUT
    tmp_root: str | None = None  # where the throwaway folders are made

    @classmethod
    def detect(cls, timeout: float | None = None) -> Runner:
        """Raises Unavailable when there is no bash to run commands with."""
        timeout = RUN_TIMEOUT if timeout is None else timeout
        euid = os.geteuid()
        path = SAFE_PATH if euid == 0 else (os.environ.get("PATH") or SAFE_PATH)
        bash = shutil.which("bash", path=path)
        if bash is None:
            raise Unavailable("nothing was scored: bash is needed to run the commands; install it")
        if euid == 0:
            setpriv = shutil.which("setpriv", path=path)
            if setpriv:
                prefix = (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs")
                how = f"as {_user_name(NOBODY)} (uid {NOBODY}, through setpriv)"
                return cls(bash, path, prefix, NOBODY, _user_name(NOBODY), how, timeout, _passable_temp())
            return cls(bash, path, (), None, "root", "AS ROOT: setpriv is missing, so the commands run with root's rights", timeout)
        return cls(bash, path, (), None, _user_name(euid), f"as you ({_user_name(euid)}, uid {euid})", timeout)

    def missing(self, case: Case) -> list:
        """The case's needs that are not here: programs on PATH, or files (an absolute path)."""
        return [n for n in case.needs if not (os.path.exists(n) if n.startswith("/") else shutil.which(n, path=self.path))]


def _passable_temp() -> str:
    """A temporary folder another user may pass through (every folder above it o+x)."""
    for candidate in (tempfile.gettempdir(), "/tmp"):
        path, ok = os.path.realpath(candidate), True
        while ok:
            try:
                ok = bool(os.stat(path).st_mode & stat.S_IXOTH)
            except OSError:
                ok = False
            if path == os.path.dirname(path):
                break
            path = os.path.dirname(path)
        if ok:
            return candidate
    raise Unavailable(
        f"nothing was scored: {tempfile.gettempdir()} is not reachable for uid {NOBODY}; set TMPDIR to a folder anyone may pass through"
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@dataclass
class Run:
    code: int | None  # None: timed out
    stdout: str
    stderr: str


@dataclass
class Trial:
    status: str  # correct, refused, wrong, timeout, setup_failed
    reason: str = ""
    stdout: str = ""
    code: int | None = None
    warnings: list = field(default_factory=list)


_WRAP = 'ulimit -f {limit} 2>/dev/null; umask 022; exec "$0" --norc --noprofile -c "$1"'


def _spawn(runner: Runner, line: str, cwd: str, env: dict, out_dir: str) -> Run:
    """line run with bash in cwd: stdin /dev/null, stdout and stderr to files, the time limit,
    and every process it started killed after."""
    out_path, err_path = os.path.join(out_dir, "stdout"), os.path.join(out_dir, "stderr")
    argv = [*runner.prefix, runner.bash, "--norc", "--noprofile", "-c", _WRAP.format(limit=FILE_LIMIT_KB), runner.bash, line]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        try:
            code = proc.wait(timeout=runner.timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            try:  # its process group: what it left running in the background too
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    return Run(code, _head(out_path), _head(err_path))


def _head(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read(MAX_OUTPUT).decode("utf-8", "replace")


def _build(setup: dict, work: str) -> None:
    """The case's files, folders and links (modes and times set), in work."""
    os.makedirs(work, mode=0o755)
    os.chmod(work, 0o755)
    for d in sorted(setup["dirs"]):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    for path, spec in setup["files"].items():
        full = os.path.join(work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            if "size" in spec:
                # Bytes that do not compress (so disk usage is the size) and are the same every run.
                block = bytes((i * 131 + 7 * (i >> 8)) & 0xFF for i in range(65536))
                left = spec["size"]
                while left:
                    fh.write(block[: min(left, len(block))])
                    left -= min(left, len(block))
            else:
                fh.write(spec["content"])
        os.chmod(full, spec["mode"])
    for path, target in setup["links"].items():
        full = os.path.join(work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.symlink(target, full)
    for d, spec in setup["dirs"].items():
        os.chmod(os.path.join(work, d), spec["mode"])


def _set_times(setup: dict, work: str, now: float) -> None:
    """After the setup commands ran: files first, then folders, deepest first."""
    for path, spec in [*setup["files"].items(), *sorted(setup["dirs"].items(), key=lambda kv: -kv[0].count("/"))]:
        when = spec.get("mtime", now - spec["age_days"] * 86400 if "age_days" in spec else None)
        if when is not None:
            os.utime(os.path.join(work, path), (when, when), follow_symlinks=False)


def _hand_over(root: str, uid: int) -> None:
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, uid)
    os.lchown(root, uid, uid)


def _environment(runner: Runner, home: str, tmp: str, extra: dict) -> dict:
    env = {
        "PATH": runner.path,
        "HOME": home,
        "USER": runner.user,
        "LOGNAME": runner.user,
        "SHELL": runner.bash,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "TERM": "dumb",
        "TMPDIR": tmp,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Eval User",
        "GIT_AUTHOR_EMAIL": "eval@example.invalid",
        "GIT_COMMITTER_NAME": "Eval User",
        "GIT_COMMITTER_EMAIL": "eval@example.invalid",
    }
    env.update(extra)
    return env


def placeholders(runner: Runner, work: str, home: str) -> dict:
    today = datetime.datetime.now(datetime.timezone.utc)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return {
        "{home}": home,
        "{cwd}": work,
        "{user}": runner.user,
        "{today}": today.strftime("%Y-%m-%d"),
        "{today_compact}": today.strftime("%Y%m%d"),
        "{year}": today.strftime("%Y"),
        "{kernel}": platform.release(),
        "{cpus}": str(cpus),
        "{cpus_all}": str(os.cpu_count() or cpus),
        "{hostname}": socket.gethostname(),
    }


def trial(case: Case, command: str, runner: Runner, judge=None) -> Trial:
    """Build the case's folder, judge the command there (judge(line, shell, cwd, home), or
    None: no policy), run it, check the case's predicates; the folder is removed after."""
    base = tempfile.mkdtemp(prefix="shellper-general-eval-", dir=runner.tmp_root)
    try:
        return _trial_in(base, case, command, runner, judge)
    finally:
        remove_tree(base)


def _trial_in(base: str, case: Case, command: str, runner: Runner, judge) -> Trial:
    # base: ours, 0711 (others may pass through, not write); work, home and tmp: the command's.
    os.chmod(base, 0o711)
    work, home, tmp, out = (os.path.join(base, n) for n in ("work", "home", "tmp", "out"))
    _build(case.setup, work)
    for folder in (home, tmp):
        os.mkdir(folder, 0o700)
    os.mkdir(out, 0o700)
    if runner.uid is not None:
        for folder in (work, home, tmp):
            _hand_over(folder, runner.uid)
    env = _environment(runner, home, tmp, case.setup["env"])
    for step in case.setup["run"]:
        done = _spawn(runner, step, work, env, out)
        if done.code != 0:
            why = "timed out" if done.code is None else f"exit {done.code}: {_excerpt(done.stderr, 160)}"
            return Trial("setup_failed", f"setup command `{_excerpt(step, 80)}` failed ({why})")
    _set_times(case.setup, work, time.time())
    warnings: list = []
    if judge is not None:
        try:
            verdict = judge(command, SHELL, work, home)
        except Exception as exc:  # the policy's own failure: the line would not reach the prompt
            return Trial("refused", f"the policy failed on it ({type(exc).__name__}: {_excerpt(str(exc), 100)})")
        warnings = list(getattr(verdict, "warnings", []) or [])
        if getattr(verdict, "refused", ""):
            return Trial("refused", verdict.refused, warnings=warnings)
    done = _spawn(runner, command, work, env, out)
    if done.code is None:
        return Trial("timeout", f"still running after {runner.timeout:g} s", done.stdout, None, warnings)
    ctx = Context(work, done, placeholders(runner, work, home))
    for pred in case.expect:
        ok, why = holds(pred, ctx)
        if not ok:
            return Trial("wrong", f"{show_predicate(pred)}: {why}", done.stdout, done.code, warnings)
    return Trial("correct", "", done.stdout, done.code, warnings)


# ---------------------------------------------------------------- the predicates


@dataclass
class Context:
    work: str
    run: Run
    values: dict

    def fill(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace(key, value)
        return text


def show_predicate(pred: dict) -> str:
    return _excerpt(json.dumps(pred, ensure_ascii=False), 120)


def _inside(ctx: Context, rel: str, follow: bool = True) -> str | None:
    """The absolute path of rel if it stays in the folder (its links followed when follow,
    else only the folder holding it); None if it leads outside."""
    root = os.path.realpath(ctx.work)
    joined = os.path.join(ctx.work, rel)
    real = os.path.realpath(joined) if follow else os.path.join(os.path.realpath(os.path.dirname(joined)), os.path.basename(joined))
    return real if real == root or real.startswith(root + os.sep) else None


def _lstat(ctx: Context, rel: str):
    path = _inside(ctx, rel, follow=False)
    if path is None:
        return None, f"{rel} leads outside the folder"
    try:
        return os.lstat(path), ""
    except OSError:
        return None, f"{rel} does not exist"


def _regular(ctx: Context, rel: str):
    """(an open binary file, "") of a regular file in the folder, or (None, why). Opened without
    following a last link (the path is already resolved) and without waiting on a fifo."""
    path = _inside(ctx, rel)
    if path is None:
        return None, f"{rel} leads outside the folder"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None, f"{rel} does not exist" if not os.path.lexists(path) else f"{rel} cannot be read"
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None, f"{rel} is not a regular file"
    return os.fdopen(fd, "rb"), ""


def _read(ctx: Context, rel: str):
    fh, why = _regular(ctx, rel)
    if fh is None:
        return None, why
    with fh:
        return fh.read(MAX_READ), ""


def _same_text(data: bytes, want: str) -> bool:
    text = data.decode("utf-8", "replace")
    return text.rstrip("\n") == want.rstrip("\n")


def _member(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _members(ctx: Context, rel: str, kind: str):
    fh, why = _regular(ctx, rel)
    if fh is None:
        return None, why
    try:
        with fh:
            if kind == "zip":
                with zipfile.ZipFile(fh) as zf:
                    return [_member(n) for n in zf.namelist()], ""
            with tarfile.open(fileobj=fh) as tf:
                return [_member(n) for n in tf.getnames()], ""
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return None, f"{rel} is not a {kind} archive ({type(exc).__name__})"


def _word_in(word: str, text: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(word) + r"(?![\w])(?!\.\w)", text) is not None


def _mode(ctx: Context, rel: str):
    st, why = _lstat(ctx, rel)
    if st is not None and stat.S_ISLNK(st.st_mode):
        path = _inside(ctx, rel)
        if path is None:
            return None, f"{rel} leads outside the folder"
        st = os.stat(path)
    return (stat.S_IMODE(st.st_mode), "") if st is not None else (None, why)


def holds(pred: dict, ctx: Context) -> tuple:
    """(True, "") or (False, why it fails) for one checked predicate."""
    ((name, arg),) = pred.items()
    try:
        return _HANDLERS[name](name, arg, ctx)
    except OSError as exc:
        return False, f"cannot look: {exc.strerror or exc}"


def _verdict(ok: bool, why: str) -> tuple:
    return (True, "") if ok else (False, why)


def _logic(name: str, arg, ctx: Context) -> tuple:
    if name == "not":
        ok, _ = holds(arg, ctx)
        return _verdict(not ok, "it holds")
    results = [holds(p, ctx) for p in arg]
    if name == "any":
        return _verdict(any(ok for ok, _ in results), "none holds: " + "; ".join(w for _, w in results))
    bad = [f"{show_predicate(p)}: {w}" for p, (ok, w) in zip(arg, results) if not ok]
    return _verdict(not bad, bad[0] if bad else "")


def _presence(name: str, rel, ctx: Context) -> tuple:
    st, why = _lstat(ctx, rel)
    if name == "absent":
        return (False, why) if why.endswith("outside the folder") else _verdict(st is None, f"{rel} still exists")
    if st is None:
        return False, why
    return _verdict(name == "exists" or stat.S_ISDIR(st.st_mode), f"{rel} is not a folder")


def _content(name: str, arg, ctx: Context) -> tuple:
    rel, want = arg
    data, why = _read(ctx, rel)
    if data is None:
        return False, why
    if name == "file":
        return _verdict(_same_text(data, ctx.fill(want)), f"{rel} holds {_excerpt(data.decode('utf-8', 'replace'))!r}")
    if name == "contains":
        return _verdict(ctx.fill(want).encode("utf-8") in data, f"{rel} does not contain {want!r}")
    if name == "lacks":
        return _verdict(ctx.fill(want).encode("utf-8") not in data, f"{rel} contains {want!r}")
    if name == "lines":
        n = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        return _verdict(n == want, f"{rel} has {n} lines, not {want}")
    if name == "size":
        size = len(data) if len(data) < MAX_READ else os.stat(_inside(ctx, rel)).st_size
        return _verdict(size == want, f"{rel} is {size} bytes, not {want}")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return False, f"{rel} is not JSON"
    return _verdict(value == want, f"{rel} holds other JSON")


def _sameness(name: str, arg, ctx: Context) -> tuple:
    (a, b), seen = arg, []
    for rel in arg:
        fh, why = _regular(ctx, rel)
        if fh is None:
            return False, why
        with fh:
            st = os.fstat(fh.fileno())
            seen.append(((st.st_dev, st.st_ino), fh.read(MAX_READ) if name == "same" else b""))
    if name == "same_file":
        return _verdict(seen[0][0] == seen[1][0], f"{a} and {b} are not one file")
    return _verdict(seen[0][1] == seen[1][1], f"{a} and {b} differ")


def _mode_bits(name: str, arg, ctx: Context) -> tuple:
    rel, want = arg
    mode, why = _mode(ctx, rel)
    if mode is None:
        return False, why
    bits = int(want, 8)
    ok = {"mode": mode == bits, "mode_has": mode & bits == bits, "mode_lacks": mode & bits == 0}[name]
    return _verdict(ok, f"{rel} has mode {mode:03o}")


def _link(name: str, arg, ctx: Context) -> tuple:
    rel, target = arg
    st, why = _lstat(ctx, rel)
    if st is None:
        return False, why
    if not stat.S_ISLNK(st.st_mode):
        return False, f"{rel} is not a symbolic link"
    got, want = _inside(ctx, rel), _inside(ctx, target)
    if got is None:
        return False, f"{rel} leads outside the folder"
    return _verdict(got == want, f"{rel} leads to {os.path.relpath(got, os.path.realpath(ctx.work))}")


def _count(name: str, arg, ctx: Context) -> tuple:
    pattern, want = arg
    pattern = ctx.fill(pattern)
    found = _matches(os.path.realpath(ctx.work), [p for p in pattern.split("/") if p not in ("", ".", "..")])
    return _verdict(len(found) == want, f"{len(found)} paths match {pattern}, not {want}")


def _archive(name: str, arg, ctx: Context) -> tuple:
    rel, member = arg
    names, why = _members(ctx, rel, "zip" if name == "zip_has" else "tar")
    if names is None:
        return False, why
    member = _member(member)
    if name == "tar_lacks":
        bad = [n for n in names if n == member or n.startswith(member + "/")]
        return _verdict(not bad, f"{rel} holds {bad[0] if bad else ''}")
    return _verdict(member in names, f"{rel} has no member {member} (it has: {_excerpt(', '.join(names))})")


def _gzip(name: str, arg, ctx: Context) -> tuple:
    rel, want = arg
    raw, why = _regular(ctx, rel)
    if raw is None:
        return False, why
    try:
        with raw, gzip.GzipFile(fileobj=raw, mode="rb") as fh:
            data = fh.read(MAX_READ)
    except (OSError, EOFError) as exc:
        return False, f"{rel} is not gzip data ({type(exc).__name__})"
    return _verdict(_same_text(data, ctx.fill(want)), f"{rel} decompresses to other text")


def _mtime_day(name: str, arg, ctx: Context) -> tuple:
    rel, day = arg
    path = _inside(ctx, rel)
    if path is None:
        return False, f"{rel} leads outside the folder"
    try:
        when = os.stat(path).st_mtime
    except OSError:
        return False, f"{rel} does not exist"
    got = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d")
    return _verdict(got == day, f"{rel} was modified on {got} (UTC)")


def _format(name: str, arg, ctx: Context) -> tuple:
    rel, kind = arg
    fh, why = _regular(ctx, rel)
    if fh is None:
        return False, why
    offset, magic = _MAGIC[kind]
    with fh:
        head = fh.read(offset + len(magic))
    return _verdict(head[offset:] == magic, f"{rel} is not {kind} data")


def _stdout(name: str, arg, ctx: Context) -> tuple:
    out = ctx.run.stdout
    if name == "stdout_lines":
        n, (low, high) = sum(1 for ln in out.splitlines() if ln.strip()), arg
        return _verdict(low <= n <= high, f"the output has {n} lines, not {low if low == high else f'{low} to {high}'}")
    if name in ("stdout_line", "stdout_order"):
        words = [ctx.fill(w) for w in arg]
        if name == "stdout_line":
            ok = any(all(_word_in(w, ln) for w in words) for ln in out.splitlines())
            return _verdict(ok, f"no line of the output holds {', '.join(map(repr, words))}{_printed(out)}")
        at = 0
        for want in words:
            i = out.find(want, at)
            if i < 0:
                return False, f"the output lacks {want!r} after what came before{_printed(out)}"
            at = i + len(want)
        return True, ""
    want = ctx.fill(arg)
    if name == "stdout_has":
        return _verdict(want in out, f"the output lacks {want!r}{_printed(out)}")
    if name == "stdout_lacks":
        return _verdict(want not in out, f"the output has {want!r}")
    if name == "stdout_is":
        return _verdict(out.strip() == want.strip(), f"the output is not {want!r}{_printed(out)}")
    return _verdict(_word_in(want, out), f"the output lacks the word {want!r}{_printed(out)}")


def _exit(name: str, arg, ctx: Context) -> tuple:
    return _verdict(ctx.run.code == arg, f"exit status {ctx.run.code}, not {arg}")


_HANDLERS = {
    **dict.fromkeys(("not", "any", "all"), _logic),
    **dict.fromkeys(("exists", "absent", "dir"), _presence),
    **dict.fromkeys(("file", "contains", "lacks", "lines", "size", "json"), _content),
    **dict.fromkeys(("same", "same_file"), _sameness),
    **dict.fromkeys(("mode", "mode_has", "mode_lacks"), _mode_bits),
    "link": _link,
    "count": _count,
    **dict.fromkeys(("tar_has", "tar_lacks", "zip_has"), _archive),
    "gz_is": _gzip,
    "format": _format,
    "mtime_day": _mtime_day,
    **dict.fromkeys(("stdout_has", "stdout_lacks", "stdout_is", "stdout_word", "stdout_line", "stdout_order", "stdout_lines"), _stdout),
    "exit": _exit,
}


def _matches(folder: str, parts: list) -> list:
    """Paths under folder matching the pattern's parts, as glob would ("**": any depth; a name
    starting with a dot only for a part that does), links never followed."""
    if not parts:
        return [folder]
    head, rest = parts[0], parts[1:]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    if head == "**":
        found += _matches(folder, rest)
        for e in entries:
            if not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
                found += _matches(e.path, parts)
        return sorted(set(found))
    for e in entries:
        if e.name.startswith(".") and not head.startswith("."):
            continue
        if fnmatch.fnmatchcase(e.name, head) and (not rest or e.is_dir(follow_symlinks=False)):
            found += _matches(e.path, rest)
    return found


def _printed(out: str) -> str:
    return f" (it printed {_excerpt(out, 60)!r})" if out.strip() else " (it printed nothing)"


# ---------------------------------------------------------------- asking the model


@dataclass
class Outcome:
    case: Case
    status: str
    answer: str | None = None  # the model's text
    command: str | None = None
    reason: str = ""
    seconds: float | None = None  # request to answer (None: no answer came)
    warnings: list = field(default_factory=list)
    stdout: str = ""

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def policy_judge():
    """(judge, "") with the general policy, or (None, why it is skipped)."""
    try:
        general_policy = importlib.import_module(f"{__package__}.general_policy")
    except Exception as exc:  # not there yet, or its parser is missing
        return None, f"general_policy cannot be loaded ({type(exc).__name__}: {_excerpt(str(exc), 100)})"
    return general_policy.judge, ""


async def _ask(backend, model: str, case: Case):
    """(answer, seconds) or raises ShellperError."""
    start = time.perf_counter()
    answer = await backend.ask_general(general.messages([], case.request, SHELL), model)
    return answer, time.perf_counter() - start


async def score(backend, model: str, case: Case, runner: Runner, judge) -> Outcome:
    try:
        answer, seconds = await _ask(backend, model, case)
    except (ServerUnreachable, ModelMissing):
        raise
    except ShellperError as exc:
        return Outcome(case, "no_answer", reason=str(exc))
    except Exception as exc:  # a backend bug costs one row, not the run
        return Outcome(case, "no_answer", reason=f"unexpected {type(exc).__name__}: {exc}")
    try:
        command = general.command_of(answer, path=runner.path)
    except general.GeneralAnswer as exc:
        return Outcome(case, "not_command", answer, reason=str(exc), seconds=seconds)
    done = await asyncio.to_thread(trial, case, command, runner, judge)
    return Outcome(case, done.status, answer, command, done.reason, seconds, done.warnings, done.stdout)


async def run_model(backend, model: str, cases: list, runner: Runner, judge, concurrency: int, progress) -> list:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(case):
        async with gate:
            try:
                out = await score(backend, model, case, runner, judge)
            except (ServerUnreachable, ModelMissing) as exc:
                out = Outcome(case, "no_answer", reason=str(exc))
        progress.step()
        return out

    return list(await asyncio.gather(*(one(c) for c in cases)))


async def _check_models(settings, models: list) -> None:
    """Raises Unavailable before any request when the server is down or a model is missing."""
    from .backend import Backend

    for model in models:
        backend = Backend(dataclasses.replace(settings, model=model))
        try:
            status = await backend.server_status()
        finally:
            await close(backend)
        check_status(status, f"no model '{model}' on {settings.base_url}")


async def run_all(settings, models: list, cases: list, runner: Runner, judge, concurrency: int, progress) -> list:
    """[outcomes of each model], one model after the other, each after an untimed warm-up."""
    from .backend import Backend

    await _check_models(settings, models)
    runs = []
    for model in models:
        backend = Backend(dataclasses.replace(settings, model=model))
        try:
            try:  # untimed: the model loaded and the system prompt read before the first timed request
                await backend.ask_general(general.messages([], WARM_UP, SHELL), model)
            except (ServerUnreachable, ModelMissing) as exc:
                fix = (
                    "for another server, pass --base-url URL"
                    if isinstance(exc, ServerUnreachable)
                    else "for another model, pass --model NAME"
                )
                raise Unavailable(_nothing_scored(str(exc), fix)) from None
            except ShellperError:
                pass  # a bad answer to the warm-up is no reason to stop
            runs.append(await run_model(backend, model, cases, runner, judge, concurrency, progress))
        finally:
            await close(backend)
    return runs


# ---------------------------------------------------------------- the report


@dataclass
class Report:
    model: str
    outcomes: list

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        return self.count("correct")

    @property
    def accuracy(self) -> float:
        return _ratio(self.correct, self.total)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def latency(self) -> tuple:
        times = [o.seconds for o in self.outcomes if o.seconds is not None]
        if not times:
            return None, None
        return statistics.median(times), nearest_rank(times, 0.9)

    def per_category(self) -> dict:
        out: dict = {}
        for o in self.outcomes:
            c = out.setdefault(o.case.category, [0, 0])
            c[0] += o.correct
            c[1] += 1
        return {k: tuple(v) for k, v in out.items()}

    def failures(self) -> list:
        return [o for o in self.outcomes if not o.correct]

    def to_json(self, first: Report | None = None) -> dict:
        median, p90 = (_ms(v) for v in self.latency())
        entry = {
            "model": self.model,
            "requests": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            **{s: self.count(s) for s in STATUSES if s != "correct"},
            "latency_ms": {"median": median, "p90": p90, "requests": sum(o.seconds is not None for o in self.outcomes)},
            "per_category": {c: {"total": n, "correct": ok, "accuracy": _ratio(ok, n)} for c, (ok, n) in self.per_category().items()},
            "failures": [_outcome_json(o) for o in self.failures()],
            "vs_first": None,
        }
        if first is not None:
            f_median, f_p90 = (_ms(v) for v in first.latency())
            entry["vs_first"] = {
                "accuracy": self.accuracy - first.accuracy,
                "median_ms": _minus(median, f_median),
                "p90_ms": _minus(p90, f_p90),
            }
        return entry


def _outcome_json(o: Outcome) -> dict:
    return {
        "id": o.case.id,
        "line": o.case.line,
        "category": o.case.category,
        "request": o.case.request,
        "status": o.status,
        "answer": o.answer,
        "command": o.command,
        "reason": o.reason,
        "warnings": o.warnings,
    }


@dataclass
class Setting:
    """What the header says: where, with what, as whom."""

    dataset: str
    base_url: str
    runner: Runner
    policy: str  # "" when judged, else why skipped
    skipped: list  # [(case, [missing programs])]
    concurrency: int


def _header(reports: list, s: Setting) -> list:
    first = reports[0]
    categories = {o.case.category for o in first.outcomes}
    skipped = (
        f"; {len(s.skipped)} skipped, their programs missing: "
        + ", ".join(f"{c.id} ({', '.join(m)})" for c, m in s.skipped[:6])
        + (" ..." if len(s.skipped) > 6 else "")
        if s.skipped
        else ""
    )
    how = (
        "one request at a time"
        if s.concurrency == 1
        else f"{s.concurrency} requests in flight at once, so it includes waiting for the server"
    )
    return [
        f"dataset: {s.dataset} ({first.total} requests in {len(categories)} categories{skipped})",
        f"server:  {s.base_url} (asked as the general model, for {SHELL}, no history)",
        f"run:     each command with {SHELL} in a fresh throwaway folder, {s.runner.how}, {s.runner.timeout:g} s limit, "
        "stdin /dev/null, HOME a throwaway folder; right when its effect is",
        "policy:  " + ("general_policy judged each command; a refusal counts as a failure" if not s.policy else f"SKIPPED: {s.policy}"),
        f"latency: request to answer, {how}, after one untimed warm-up request per model; p90: 9 in 10 requests took at most this",
    ]


def render(reports: list, s: Setting) -> str:
    first = reports[0]
    f_median, f_p90 = first.latency()
    out = _header(reports, s)
    if len(reports) > 1:
        out.append(f"Each row after the first also shows its difference from {_excerpt(first.model, 200)}.")
    out.append("")
    shown = [st for st in STATUSES[1:] if st != "setup_failed" or any(r.count(st) for r in reports)]
    rows = []
    for i, r in enumerate(reports):
        median, p90 = r.latency()
        accuracy = f"{pct(r.accuracy)} ({r.correct}/{r.total})" + (f" {_points(r.accuracy - first.accuracy)}" if i else "")
        rows.append(
            [
                _excerpt(r.model, 200),
                accuracy,
                *(str(r.count(st)) for st in shown),
                _show_ms(median, f_median if i else None),
                _show_ms(p90, f_p90 if i else None),
            ]
        )
    out += _table(["Model", "Effect correct", *(_LABELS[st].capitalize() for st in shown), "Median latency", "p90 latency"], rows)
    cats = list(first.per_category())
    cat_rows = []
    for c in cats:
        row = [c]
        for r in reports:
            ok, n = r.per_category()[c]
            row.append(f"{ok}/{n} ({pct(_ratio(ok, n))})")
        cat_rows.append(row)
    out += ["", *_table(["Category", *(_excerpt(r.model, 40) for r in reports)], cat_rows)]
    if len(reports) == 1:
        failures = first.failures()
        out += ["", f"Failures ({len(failures)}):" if failures else "Failures: none"]
        for o in failures:
            out.append(f'- {_excerpt(o.case.id, 200)}: "{_excerpt(o.case.request)}"')
            if o.command is not None:
                out.append(f"    command: {_excerpt(o.command, 200)}")
            elif o.answer is not None:
                out.append(f"    answer:  {_excerpt(o.answer, 200)}")
            out.append(f"    {_LABELS[o.status]}: {_excerpt(o.reason, 300)}")
    else:
        out += ["", "Failures (`shellper eval --general --model NAME` lists one model's in full):"]
        for r in reports:
            ids = [_excerpt(o.case.id, 40) for o in r.failures()]
            listed = ", ".join(ids[:8]) + (f", ... ({len(ids) - 8} more)" if len(ids) > 8 else "")
            out.append(f"- {_excerpt(r.model, 200)}: {len(ids)}" + (f" ({listed})" if ids else ""))
    return "\n".join(out)


def to_json(reports: list, s: Setting) -> dict:
    return {
        "dataset": s.dataset,
        "base_url": s.base_url,
        "shell": SHELL,
        "runner": {"user": s.runner.user, "uid": s.runner.uid, "how": s.runner.how, "timeout_s": s.runner.timeout},
        "policy": None if s.policy else "general_policy",
        "policy_skipped": s.policy or None,
        "skipped": [{"id": c.id, "missing": m} for c, m in s.skipped],
        "concurrency": s.concurrency,
        "models": [r.to_json(reports[0] if i else None) for i, r in enumerate(reports)],
    }


# ---------------------------------------------------------------- the command


def main(args) -> int:
    dataset = getattr(args, "dataset", None) or DEFAULT_DATASET
    try:
        models, settings, concurrency = evaluate.arguments(args, lambda models: CONCURRENCY)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    if not models:
        if not settings.general_model:
            return _fail(
                "no general model to score: pass --model NAME, or set general_model (`shellper setup-model --general NAME` pulls one)",
                EXIT_BAD_INPUT,
            )
        models = [settings.general_model]
    try:
        cases = load_cases(dataset)
    except DatasetError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    try:
        runner = Runner.detect()
    except Unavailable as exc:
        return _fail(str(exc), EXIT_UNAVAILABLE)
    skipped = [(c, runner.missing(c)) for c in cases if runner.missing(c)]
    cases = [c for c in cases if not runner.missing(c)]
    if not cases:
        return _fail(f"{dataset}: every request needs a program that is missing here", EXIT_BAD_INPUT)
    judge, policy = policy_judge()

    progress = Progress(len(cases) * len(models))
    try:
        try:
            runs = asyncio.run(run_all(settings, models, cases, runner, judge, concurrency, progress))
        finally:
            progress.close()
    except ShellperError as exc:
        return _fail(str(exc), EXIT_UNAVAILABLE)
    reports = [Report(m, o) for m, o in zip(models, runs)]
    s = Setting(dataset, settings.base_url, runner, policy, skipped, concurrency)
    if getattr(args, "json", False):
        print(json.dumps(to_json(reports, s), ensure_ascii=False, indent=2))
    else:
        print(render(reports, s))
    return EXIT_OK
