"""The policy for a general model's free-form command line, judged on a real parse.

API
---
judge(line: str, shell: str, cwd: str, home: str) -> Judgement
    shell: the user's shell, "bash", "zsh" or "fish" (the line runs there, not in bash);
    cwd and home: absolute paths of the requesting shell.
Judgement
    refused: str     "" or one line starting with "refused: "
    warnings: list   one-line "warning: ..." each, in the order met, without repeats
    notes: list      one-line "note: ..." for the effect line (today: that comments are not read)

judge reads the line with shellparse (the commands it runs, unwrapped from sudo, env, xargs,
find -exec, bash -c, eval, ssh HOST ...) and says whether it may reach the prompt. A line that
does not parse is refused, never guessed; a word the shell would expand is never trusted to
be harmless. Comments are not judged: the model's own words never lower a verdict. Bounded:
at most MAX_LINE characters (shellparse limits the nesting), at most _MAX_LSTAT lstat calls,
nothing is opened or run.

REFUSED (in every wrapper and quoting variant shellparse unwraps, in alias and PROMPT_COMMAND
values, and in the command ssh runs on another computer):
- recursive rm, chmod, chown or chgrp of /, home, a folder holding home, a system folder,
  ~/.ssh or ~/.gnupg, or a wildcard over one of them (/*, ~/*); rm -r also of the current
  folder or a parent of it (its contents, rm -rf *, are a warning); any of them with
  --no-preserve-root; a line that changes HOME and then removes ~;
- find over those folders with -delete or an -exec of rm, shred, mv, chmod... (unless a
  -name/-path test narrows it: then a warning);
- mv of those folders (or the current one);
- dd of=/dev/..., a redirection, tee, cp or mv into a device (not /dev/null, /dev/std*,
  /dev/tty, /dev/fd/N ...); mkfs, mke2fs, mkswap, wipefs, fdisk, sfdisk, gdisk, parted,
  blkdiscard, shred, badblocks -w, cryptsetup luksFormat of a device (fdisk -l and other listings pass);
- a fork bomb: a called function that calls itself (or through others) in a pipe or background;
- a download or decode run as code: curl/wget/... or base64 -d/xxd -r/... piped into a shell
  or interpreter reading its stdin, `bash <(curl ...)`, `sh -c "$(curl ...)"`,
  `eval "$(curl ...)"`, `source <(curl ...)`;
- overwriting (>, tee, cp, dd, truncate) a file the system needs to let anyone log in or boot
  (/etc/passwd, /etc/shadow, /etc/group, /etc/sudoers, /etc/fstab, /boot/..., ...): a write as
  root there locks everyone out, and shellper cannot tell whether the line will run as root;
  appending to one is a warning;
- in fish, constructs fish reads differently or not at all (here-docs, $((..)), <(..),
  backticks, ${VAR}, [[ ]], name() { }, if/for/while/case of bash, ( ) subshells, { } groups,
  $? $$ $1, $'..', X=1 alone, |&, >|, local/declare/unset);
- a line that does not parse, is too long or too deeply nested, or holds control characters.

WARNED: writes outside the current folder or over an existing file (lstat only), loudly for
shell startup files, home's dotfiles, ~/.ssh and ~/.gnupg; privilege (sudo, doas, su, pkexec);
the network; inline interpreter code (python -c, perl -e, node -e, awk's system()); code
shellper cannot see (bash -c "$x"); destructive commands whose target shellper cannot see
(rm -rf "$DIR"/, and what it becomes when the variable is empty); git reset --hard, clean -f,
push --force, checkout -- ., restore; secrets (~/.ssh, ~/.aws, .env, id_rsa ...) sent to the
network; kill -1, killall, pkill; recursive chmod/chown; crontab -r; history -c; shutdown and
reboot; a script the line downloads and then runs; how zsh (and bash's history) read the line.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field

from . import shellparse
from .policy import _lexical  # (the file tools' policy reads paths by name the same way)
from .shellparse import Command, Word

MAX_LINE = shellparse.MAX_LINE
_MAX_LSTAT = 64  # file-system looks for one line
_MAX_BRACE = 64  # words one brace expansion may become before shellper stops reading it


@dataclass
class Judgement:
    refused: str = ""  # "" or one line starting with "refused: "
    warnings: list = field(default_factory=list)  # one-line "warning: ..." each
    notes: list = field(default_factory=list)  # one-line "note: ..." for the effect line


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def judge(line: str, shell: str, cwd: str, home: str) -> Judgement:
    """Whether line may reach the prompt of `shell` (bash, zsh or fish) in cwd, and what to warn about."""
    warnings: list = []
    try:
        judge_ = _Judge(line, shell, cwd, home, warnings)
        judge_.run()
    except _Refused as exc:
        return Judgement(exc.message, list(dict.fromkeys(warnings)))
    except Exception as exc:  # a fault of shellper's own: the line still never passes unjudged
        return Judgement(f"refused: shellper could not judge the command ({type(exc).__name__})", list(dict.fromkeys(warnings)))
    return Judgement("", list(dict.fromkeys(warnings)), list(dict.fromkeys(judge_.notes)))


# ---------------------------------------------------------------- characters and shells

# Characters that reorder how text is displayed, so a line reads differently than it runs.
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _refuse_characters(line: str) -> None:
    if not isinstance(line, str) or not line.strip():
        raise _Refused("refused: the command is empty")
    if len(line) > MAX_LINE:
        raise _Refused(f"refused: the command is {len(line):,} characters long; shellper judges at most {MAX_LINE:,}")
    for ch in line:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            raise _Refused("refused: the command contains an invalid character")
        if cat == "Cc" and ch not in "\n\t":
            raise _Refused("refused: the command contains a control character that would act on the terminal")
        if ch in _BIDI:
            raise _Refused("refused: the command contains a character that reverses text direction")


# fish: constructs of bash it reads differently or not at all (feature -> what happens in fish).
_FISH_REFUSED = {
    "here-doc": "fish has no here-documents",
    "here-string": "fish has no here-strings",
    "arithmetic expansion": "fish has no $((...)); it uses math",
    "arithmetic command": "fish has no ((...))",
    "process substitution": "fish reads <(...) as a redirection from a file; it uses (cmd | psub)",
    "backticks": "fish leaves backticks as they are",
    "braced variable": "fish has no ${VAR}; it uses {$VAR}",
    "special variable": "fish has no $?, $$, $! or $1; it uses $status, $fish_pid, $last_pid and $argv",
    "ansi-c string": "fish has no $'...' strings",
    "translated string": 'fish has no $"..." strings',
    "[[ ]]": "fish has no [[ ]]; it uses test",
    "function definition": "fish defines functions with function NAME ... end",
    "subshell": "fish reads ( ) as a command substitution",
    "group": "fish has no { } groups; it uses begin ... end",
    "if": "fish's if ends with end, not then ... fi",
    "loop": "fish's loops end with end, not do ... done",
    "case": "fish uses switch, not case ... esac",
    "assignment": "fish sets variables with set",
    "|&": "fish pipes both outputs with &|",
    ">|": "fish has no >|",
    "unset": "fish has no unset; it uses set -e",
    "array": "fish has no VAR=(...) arrays",
}
_FISH_DECLARATIONS = {"local", "declare", "typeset", "readonly"}


# Constructs that run, but mean something else there: feature -> how.
_FISH_DIFFERS = {
    "unquoted variable": "a variable is not split into words",
    "unquoted glob": "a wildcard that matches nothing is an error and the command does not run",
    "question glob": "newer fish takes ? literally",
    "backslash in single quotes": "\\\\ and \\' inside single quotes are escapes",
}
_ZSH_DIFFERS = {
    "unquoted variable": "an unquoted variable is not split into words, so a list of names stays one argument",
    "unquoted glob": "a wildcard that matches nothing is an error (no matches found) and the command does not run",
    "equals word": "a word starting with = becomes a command's path",
    "comment": "# starts a comment at the prompt only with setopt interactive_comments; without it the words after # are arguments",
    "array subscript": "zsh counts array elements from 1",
}


def _differs(shell: str, features: dict, table: dict) -> list:
    return [f"warning: in {shell}, {_show(features[name])} reads differently: {how}" for name, how in table.items() if name in features]


def _fish_notes(parsed, commands: list) -> list:
    """Refuse what fish cannot run as bash means it; warnings where it runs differently."""
    for feature, why in _FISH_REFUSED.items():
        if feature in parsed.features:
            raise _Refused(f"refused: in fish, {_show(parsed.features[feature])} does not work as in bash ({why})")
    for cmd in commands:
        if cmd.name in _FISH_DECLARATIONS and not cmd.wrappers:
            raise _Refused(f"refused: in fish, {cmd.name} does not exist (fish sets variables with set)")
    return _differs("fish", parsed.features, _FISH_DIFFERS)


def _zsh_notes(parsed, commands: list) -> list:
    notes = _differs("zsh", parsed.features, _ZSH_DIFFERS)
    for cmd in commands:
        if cmd.name == "echo" and any(w.literal and "\\" in w.text for w in cmd.words[1:]):
            notes.append("warning: in zsh, echo reads differently: it turns \\n, \\t and other backslash sequences into characters")
            break
    return notes


def _history_note(parsed, shell: str) -> list:
    if "history" not in parsed.features:
        return []
    return [f"warning: in {shell}, {_show(parsed.features['history'])} reads differently: at the prompt ! recalls history"]


# ---------------------------------------------------------------- paths

_SYSTEM_DIRS = frozenset(
    """/bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /media /mnt /nix /opt /private /proc /root /run /sbin /snap
    /srv /sys /tmp /usr /var /Applications /Library /System /Users /Volumes /cores /private/etc /private/var /private/tmp
    /usr/bin /usr/lib /usr/lib64 /usr/libexec /usr/local /usr/local/bin /usr/sbin /usr/share /usr/include /var/lib
    /var/log /var/cache /var/spool /var/mail /System/Library /etc/ssh /etc/sudoers.d /etc/pam.d""".split()
)
# Where writing is everyone's business (no "outside the current folder" warning).
_SHARED = ("/tmp", "/var/tmp", "/private/tmp", "/dev/shm")
# Files the system needs for anyone to log in or boot: overwritten, not just appended to, is refused.
_CRITICAL = (
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/fstab",
    "/etc/pam.d",
    "/etc/ld.so.preload",
    "/etc/nsswitch.conf",
    "/etc/security",
    "/boot",
    "/proc/sysrq-trigger",
    "/private/etc/passwd",
    "/private/etc/sudoers",
)
# Devices whose writes harm nothing.
_HARMLESS_DEVICES = re.compile(
    r"/dev/(?:null|zero|full|random|urandom|stdin|stdout|stderr|tty|console|ptmx|log|fd/\d+|pts/\d+|shm(?:/.*)?)"
)
_KEY_DIRS = (".ssh", ".gnupg")
_STARTUP = frozenset(
    """.bashrc .bash_profile .bash_login .bash_logout .profile .zshrc .zshenv .zprofile .zlogin .zlogout .inputrc
    .config/fish/config.fish .kshrc .cshrc .tcshrc .xprofile .xinitrc""".split()
)
_SECRET_HOME = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".vault-token",
    ".password-store",
    ".local/share/keyrings",
)
_SECRET_NAMES = re.compile(
    r"(?:\.env(?:\..+)?|id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|.+\.(?:pem|key|p12|pfx|keystore|jks)|credentials|"
    r"\.htpasswd|shadow|ssh_host_.+_key)"
)
# System folders that hold data rather than the system: emptying one is a warning, removing it is refused.
_DATA_DIRS = frozenset("/tmp /var/tmp /private/tmp /var/log /var/cache /var/spool /var/mail".split())


def _match_all(name: str) -> bool:
    """Whether a wildcard takes (nearly) every name in a folder: *, .*, *.*, ?*, [!.]* ..."""
    return bool(re.fullmatch(r"[*?.]*\*[*?.]*", name)) or name in ("[!.]*", "[^.]*", ".[!.]*", ".[^.]*", "{*,.*}", ".??*")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _expand_braces(text: str) -> list:
    """bash's {a,b} and {1..3} (the first level found, again on each result), at most _MAX_BRACE words."""
    out, todo = [], [text]
    while todo:
        cur = todo.pop()
        m = re.search(r"\{([^{}]*)\}", cur)
        if not m or ("," not in m.group(1) and ".." not in m.group(1)):
            out.append(cur)
        else:
            body = m.group(1)
            rng = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", body)
            items = [str(n) for n in range(int(rng.group(1)), int(rng.group(2)) + 1)][: _MAX_BRACE + 1] if rng else body.split(",")
            todo += [cur[: m.start()] + item + cur[m.end() :] for item in items]
        if len(out) + len(todo) > _MAX_BRACE:
            return []
    return out


class _Where:
    """The folders a word can be read against: the shell's cwd and every folder the line cd's to."""

    def __init__(self, cwd: str, home: str) -> None:
        if not isinstance(cwd, str) or not cwd.startswith("/"):
            raise _Refused("refused: the shell's working directory is unknown, so paths cannot be checked")
        if not isinstance(home, str) or not home.startswith("/"):
            raise _Refused("refused: the home folder is unknown, so paths cannot be checked")
        self.cwd = _lexical(cwd, "/")
        self.home = _lexical(home, "/")
        self.cwds: list = [self.cwd]  # None: a cd shellper cannot follow
        self.home_moved = False  # the line assigns HOME: ~ may mean anything
        self.remote = False  # another computer's (ssh HOST COMMAND): its files are not here to look at

    def readings(self, word: Word) -> list | None:
        """The absolute paths (lexical; wildcards kept) word can name, or None when shellper cannot tell."""
        if word.home is not None and (self.home_moved or not _known(word, home_ok=True)):
            return None
        if word.home is not None:
            texts = [self.home + word.home]
        elif _known(word):
            texts = [word.text]
        else:
            return None
        if "brace expansion" in word.dynamic:
            texts = [t for text in texts for t in _expand_braces(text)]
            if not texts:
                return None
        out = []
        for text in texts:
            if not text:
                return None
            if text.startswith("/"):
                out.append(_lexical(text, "/"))
                continue
            for base in self.cwds:
                if base is None:
                    return None
                out.append(_lexical(text, base))
        return list(dict.fromkeys(out))

    def cd(self, cmd: Command) -> None:
        """Follow cd/pushd: later relative paths are read against every folder it may lead to."""
        args = [w for w in cmd.words[1:] if not (w.literal and w.text in ("-P", "-L", "-e", "-@", "--"))]
        if not args:
            self.cwds.append(self.home)
            return
        paths = self.readings(args[0]) if not (args[0].literal and args[0].text == "-") else None
        if paths is None or any(_has_glob(p) for p in paths):
            self.cwds.append(None)
        else:
            self.cwds += [p for p in paths if p not in self.cwds]

    def outside(self, path: str) -> bool:
        """Whether path is outside the current folder (and not in a shared temporary folder, unless in home)."""
        if self.remote or any(b is not None and _under(path, b) for b in self.cwds):
            return False
        return _under(path, self.home) or not any(_under(path, s) for s in _SHARED)

    def shown(self, path: str) -> str:
        if _under(path, self.home) and self.home != "/":
            return "~" + path[len(self.home) :]
        return path

    def protected(self, path: str, cwd_too: bool) -> str | None:
        """What path is, when removing (or moving) it whole is too much; None when it is not."""
        if path == "/":
            return "/, the whole system"
        if path == self.home:
            return "your home folder"
        if _under(self.home, path):
            return f"{path}, which holds your home folder"
        for name in _KEY_DIRS:
            if path == self.home + "/" + name:
                return f"~/{name}, which holds your keys"
        if path in _SYSTEM_DIRS:
            return f"the system folder {path}"
        if cwd_too:
            for base in self.cwds:
                if base is not None and path == base:
                    return f"the current folder ({self.shown(path)})"
                if base is not None and _under(base, path):
                    return f"{self.shown(path)}, which holds the current folder"
        return None

    def protected_glob(self, pattern: str, cwd_too: bool) -> str | None:
        """What a wildcard over protected folders takes: everything in one, or one of them by name."""
        folder, _, last = pattern.rpartition("/")
        folder = folder or "/"
        if not _has_glob(folder) and _match_all(last) and folder not in _DATA_DIRS:
            # (the current folder's contents are a warning: only the folder itself is refused)
            what = self.protected(folder, False) if folder != "/" else "/, the whole system"
            if what:
                return f"everything in {what}"
        candidates = ["/", self.home] + sorted(_SYSTEM_DIRS) + [self.home + "/" + k for k in _KEY_DIRS]
        candidates += [p for p in (os.path.dirname(self.home),) if p != "/"]
        for cand in candidates:
            if fnmatch.fnmatchcase(cand, pattern) and (cand.count("/") == pattern.count("/") or cand == "/"):
                return self.protected(cand, cwd_too)
        return None


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _known(word: Word, home_ok: bool = False) -> bool:
    """Whether word's text is what the command gets, but for wildcards (and $HOME when home_ok)."""
    kinds = set(word.dynamic) - {"glob", "brace expansion"}
    if home_ok and word.home is not None:
        kinds.discard("variable")  # the parser sets home only when $HOME is the word's one variable
    return not kinds or kinds == {"from stdin"}  # (an item xargs reads from an echo the line spells out)


def _w(word: Word) -> str:
    """A word as a message shows it: its text when literal, as written otherwise."""
    if "from stdin" in word.dynamic and "unseen" in word.dynamic:
        return "what xargs reads from stdin"
    return word.text if word.literal or not word.raw else word.raw


def _show(text: str) -> str:
    text = text.replace("\n", "\\n")
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"


def _empty_reading(word: Word) -> str | None:
    """What word reads as when its variables are empty (rm -rf "$DIR"/ becomes rm -rf /)."""
    if "variable" not in word.dynamic or set(word.dynamic) - {"variable", "glob"}:
        return None
    text = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*", "", word.text)
    return text if text.startswith("/") else None


# ---------------------------------------------------------------- the judge


_PRIVILEGE = ("sudo", "doas", "pkexec", "run0")
_NETWORK = frozenset(
    """curl wget fetch aria2c http https xh lwp-request lwp-download ssh scp sftp nc ncat netcat socat telnet ftp tftp lftp
    mosh ssh-copy-id nmap""".split()
)
_DOWNLOADERS = frozenset("curl wget fetch aria2c http https xh lwp-request nc ncat netcat socat telnet ssh ftp tftp lftp".split())
_DECOMPRESSORS = frozenset("gunzip zcat bzcat xzcat zstdcat lzcat unxz uudecode rev".split())
_INLINE = {
    "python": ("-c",),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "php": ("-r",),
    "lua": ("-e",),
    "Rscript": ("-e",),
    "osascript": ("-e",),
    "pwsh": ("-c", "-Command"),
    "tclsh": (),
}
_DESTRUCTIVE_EXEC = frozenset("rm rmdir shred unlink mv chmod chown chgrp truncate dd srm".split())
_FIND_FILTERS = frozenset("-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -samefile -inum".split())
_DISK_TOOLS = frozenset(
    "mkswap mke2fs mkntfs mkdosfs mkexfatfs wipefs fdisk sfdisk cfdisk gdisk sgdisk parted blkdiscard shred cryptsetup badblocks".split()
)


def _interpreter(name: str) -> str:
    """The family of an interpreter's name (python3.11 -> python), or ""."""
    if re.fullmatch(r"python[0-9.]*|pypy[0-9.]*", name):
        return "python"
    if re.fullmatch(r"perl[0-9.]*", name):
        return "perl"
    if name in ("node", "nodejs"):
        return "node"
    if re.fullmatch(r"ruby[0-9.]*|php[0-9.]*|lua[0-9.]*", name):
        return re.match(r"[a-z]+", name).group(0)
    return name if name in _INLINE else ""


def _options_of(words: list) -> tuple:
    """(the option letters and --names before --, the operands): GNU tools take options anywhere."""
    letters, longs, operands = set(), set(), []
    dashdash = False
    for w in words:
        t = w.text if w.literal else None
        if dashdash or t is None or not t.startswith("-") or t == "-":
            operands.append(w)
        elif t == "--":
            dashdash = True
        elif t.startswith("--"):
            longs.add(t[2:].partition("=")[0])
        else:
            letters.update(t[1:])
    return letters, longs, operands


class _Judge:
    def __init__(self, line: str, shell: str, cwd: str, home: str, warnings: list) -> None:
        self.line, self.shell = line, shell
        self.cwd, self.home = cwd, home
        self.warnings = warnings
        self.notes: list = []
        self.looks = 0
        self.downloaded: set = set()
        self.remote_where: _Where | None = None
        # Each command is looked at once, however many pipeline stages after it ask (a long pipe stays linear).
        self.fetched: dict = {}
        self.secrets_of: dict = {}

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def run(self) -> None:
        _refuse_characters(self.line)
        if self.shell not in ("bash", "zsh", "fish"):
            raise _Refused(f"refused: shellper does not know the shell {_show(str(self.shell))}; it judges bash, zsh and fish lines")
        self.where = _Where(self.cwd, self.home)
        parsed = shellparse.parse(self.line)
        if not parsed.ok:
            raise _Refused(f"refused: shellper could not parse the command ({parsed.reason})")
        self.parsed = parsed
        self.where.home_moved = "assigns HOME" in parsed.features
        if self.shell == "fish":
            self.warnings += _fish_notes(parsed, parsed.commands)
        _fork_bomb(parsed)
        for cmd in parsed.commands:
            self.command(cmd)
        self.warnings += _zsh_notes(parsed, parsed.commands) if self.shell == "zsh" else []
        self.warnings += _history_note(parsed, self.shell) if self.shell != "fish" else []
        if parsed.comments:
            self.notes.append(f"note: shellper does not read comments ({_show(parsed.comments[0])}); they change nothing")

    def command(self, cmd: Command) -> None:
        host = next((w for w in cmd.wrappers if w.startswith("ssh ")), None)
        if host is None:
            self.judge_command(cmd)
            return
        # On another computer: relative paths are from a folder shellper does not know, and nothing there can be looked at.
        here = self.where
        if self.remote_where is None:
            self.remote_where = _Where(here.home, here.home)
            self.remote_where.cwds, self.remote_where.remote = [None], True
        self.where = self.remote_where
        try:
            self.judge_command(cmd)
        finally:
            self.where = here

    def judge_command(self, cmd: Command) -> None:
        name = cmd.name
        if cmd.words and not name:
            self.warn(f"warning: runs a program shellper cannot see ({_show(_w(cmd.words[0]))})")
        privileged = [w for w in cmd.wrappers if w in _PRIVILEGE or w == "su -c"]
        if privileged or name in _PRIVILEGE + ("su",):
            self.warn(f"warning: runs as root ({(privileged or [name])[0].split()[0]}); check it before you press Enter")
        if self.where.home_moved and name in _DESTRUCTIVE_EXEC | {"find"} and any(w.home is not None for w in cmd.words[1:]):
            raise _Refused(f"refused: the line changes HOME, so {name}'s ~ or $HOME may mean any folder")
        self.redirects(cmd)
        self.code(cmd)
        family = _interpreter(name)
        check = _CHECKS.get(name) or (_check_disk if name in _DISK_TOOLS or name.startswith("mkfs") else None)
        if check is not None:
            check(self, cmd)
        elif family:
            _check_interpreter(self, cmd, family)
        if name in _NETWORK or (name == "rsync" and any(re.match(r"[^/]*:|rsync://", w.text) for w in cmd.words[1:])):
            self.warn(f"warning: uses the network ({name})")
            self.secrets(cmd)
        self.runs_download(cmd)
        if name in ("cd", "pushd"):
            self.where.cd(cmd)
        elif name == "popd":
            self.where.cwds.append(None)

    # ------------------------------------------------------------ writes

    def redirects(self, cmd: Command) -> None:
        for r in cmd.redirects:
            if r.target is None:
                continue
            if r.op in (">", ">|", "&>", "<>") or (r.op == ">&" and not re.fullmatch(r"\d+|-", r.target.text)):
                self.write(r.target, f"{r.op} {_w(r.target)}", truncate=True)
            elif r.op in (">>", "&>>"):
                self.write(r.target, f"{r.op} {_w(r.target)}", truncate=False)
            elif r.op == "<" and r.target.literal and re.match(r"/dev/(?:tcp|udp)/", r.target.text):
                self.warn(f"warning: uses the network ({r.target.text})")

    def write(self, target: Word, shown: str, truncate: bool, verb: str = "writes") -> None:
        """Judge one write: devices and files the system needs are refused; the rest warned as it deserves."""
        paths = self.where.readings(target)
        if paths is None:
            if truncate:
                self.warn(f"warning: {verb} to a file shellper cannot see ({_show(_w(target))})")
            return
        for path in paths:
            self.write_path(path, shown, truncate, verb)

    def write_path(self, path: str, shown: str, truncate: bool, verb: str) -> None:
        if _under(path, "/dev") and path != "/dev":
            if re.match(r"/dev/(?:tcp|udp)/", path):
                self.warn(f"warning: uses the network ({path})")
            elif not _HARMLESS_DEVICES.fullmatch(path):
                raise _Refused(f"refused: {_show(shown)} would write over the device {path}")
            return
        critical = next((c for c in _CRITICAL if _under(path, c)), None)
        if critical and truncate:
            raise _Refused(f"refused: {_show(shown)} would overwrite {path}, which the system needs to let anyone log in or start")
        home_rel = path[len(self.where.home) + 1 :] if _under(path, self.where.home) and path != self.where.home else None
        if home_rel is not None and home_rel.split("/")[0] in _KEY_DIRS:
            self.warn(f"warning: {verb} into ~/{home_rel.split('/')[0]}, which holds your keys ({self.where.shown(path)})")
        elif home_rel in _STARTUP or (home_rel or "").startswith(".config/fish/conf.d/"):
            what = "empties and rewrites" if truncate else "edits" if verb == "edits" else "adds to"
            self.warn(f"warning: {what} ~/{home_rel}, a shell startup file: what it holds runs in every new shell")
        elif home_rel is not None and home_rel.startswith("."):
            self.warn(f"warning: {verb} to ~/{home_rel}, a hidden settings file in your home")
        elif critical:
            self.warn(f"warning: {verb} to {path}, which the system needs to let anyone log in or start")
        else:
            system = next((d for d in sorted(_SYSTEM_DIRS, key=len, reverse=True) if _under(path, d)), None)
            if system and not any(_under(path, s) for s in _SHARED + ("/home", "/Users")):
                self.warn(f"warning: {verb} into the system folder {system} ({path})")
            elif self.where.outside(path):
                self.warn(f"warning: {verb} outside the current folder ({self.where.shown(path)})")
        if truncate and not self.where.remote and not _has_glob(path) and self.exists(path):
            self.warn(f"warning: overwrites {self.where.shown(path)}, which exists")

    def exists(self, path: str) -> bool:
        """lstat only, and at most _MAX_LSTAT times for one line."""
        self.looks += 1
        if self.looks > _MAX_LSTAT:
            return False
        try:
            return not stat.S_ISDIR(os.lstat(path).st_mode)
        except (OSError, ValueError):
            return False

    # ------------------------------------------------------------ code

    def code(self, cmd: Command) -> None:
        """Code the command runs that shellper cannot read: refused when it is downloaded or decoded."""
        if cmd.code is None:
            return
        source = self.fetcher(_made_by(cmd.code))
        if source:
            raise _Refused(f"refused: {cmd.name or 'the command'} would run what {source} produces as code, unseen")
        self.warn(f"warning: {cmd.name or 'the command'} runs code shellper cannot see ({_show(_w(cmd.code))})")

    def code_from_stdin(self, cmd: Command, family: str) -> None:
        """An interpreter reading its program from stdin: refused when a download or decode feeds it."""
        source = self.fetcher(cmd.upstream)
        if source:
            raise _Refused(f"refused: pipes what {source} produces into {cmd.name}, which runs it as code unseen")
        if cmd.upstream:
            self.warn(f"warning: pipes text into {cmd.name}, which runs it as code")

    def script(self, cmd: Command, word: Word) -> None:
        """A script file given to an interpreter: <(curl ...) is a download run as code."""
        source = self.fetcher(_made_by(word))
        if source:
            raise _Refused(f"refused: {cmd.name} would run what {source} produces as code, unseen")
        paths = self.where.readings(word) or []
        if any(p in self.downloaded for p in paths):
            self.warn(f"warning: runs {_show(word.text)}, which this line downloads: read it before running it")

    def runs_download(self, cmd: Command) -> None:
        """Remember files a download writes; warn when a later command runs one of them."""
        if cmd.name in ("curl", "wget"):
            for i, w in enumerate(cmd.words):
                if w.literal and w.text in ("-o", "--output", "-O", "--output-document") and i + 1 < len(cmd.words):
                    if not (cmd.name == "curl" and w.text == "-O"):
                        self.downloaded.update(self.where.readings(cmd.words[i + 1]) or [])
            for r in cmd.redirects:
                if r.op in (">", ">>") and r.target is not None and r.fd in (None, 1):
                    self.downloaded.update(self.where.readings(r.target) or [])
        elif cmd.words and cmd.words[0].literal and "/" in cmd.words[0].text:
            if any(p in self.downloaded for p in self.where.readings(cmd.words[0]) or []):
                self.warn(f"warning: runs {_show(cmd.words[0].text)}, which this line downloads: read it before running it")

    def secrets(self, cmd: Command) -> None:
        """A secret given to a network command: a file it uploads (curl -d @F, -T F; scp's and
        rsync's sources), or what its stdin reads (< F, or an upstream cat F, tar c F ...)."""
        sent = [_sent_file(w) for w in _uploads(cmd)] + [r.target for r in cmd.redirects if r.op == "<" and r.target is not None]
        secret = next(filter(None, map(self.secret, sent)), None)
        for up in cmd.upstream:
            if secret:
                break
            if id(up) not in self.secrets_of:
                read = up.words[1:] + [r.target for r in up.redirects if r.op == "<" and r.target is not None]
                self.secrets_of[id(up)] = next(filter(None, map(self.secret, read)), None)
            secret = self.secrets_of[id(up)]
        if secret:
            self.warn(f"warning: sends {secret}, a secret, over the network ({cmd.name})")

    def fetcher(self, commands) -> str:
        """The first download or decode among commands (curl, base64 -d ...), or ""."""
        for cmd in commands:
            if id(cmd) not in self.fetched:
                self.fetched[id(cmd)] = _fetches(cmd)
            if self.fetched[id(cmd)]:
                return self.fetched[id(cmd)]
        return ""

    def secret(self, word: Word) -> str | None:
        for path in self.where.readings(word) or []:
            base = os.path.basename(path)
            if base.endswith(".pub") or base in ("known_hosts", "authorized_keys", "config"):
                continue
            rel = path[len(self.where.home) + 1 :] if _under(path, self.where.home) else None
            if (rel is not None and any(_under(rel, s) for s in _SECRET_HOME)) or _SECRET_NAMES.fullmatch(base):
                return self.where.shown(path)
            if path in ("/etc/shadow", "/etc/gshadow") or path.startswith("/etc/ssh/ssh_host_"):
                return path
        return None


_SSH_VALUE = frozenset("-i -F -e -o -S -P -p -l -c -J -b -E -L -R -D -W --rsh --port".split())


def _uploads(cmd: Command) -> list:
    """The words of a network command that can name a file it sends."""
    if cmd.name in ("curl", "wget", "http", "https", "xh", "aria2c"):
        return cmd.words[1:]
    if cmd.name not in ("scp", "sftp", "rsync"):
        return []
    operands = []
    skip = False
    for w in cmd.words[1:]:
        if skip:
            skip = False
        elif w.literal and w.text in _SSH_VALUE:
            skip = True  # an identity file or an option's value: what ssh needs, not what it sends
        elif not (w.literal and w.text.startswith("-")):
            operands.append(w)
    return operands[:-1]  # the last is where they go


def _sent_file(w: Word) -> Word:
    """curl -d @FILE, -F name=@FILE, wget --post-file=FILE: the file's word."""
    t = w.text
    for mark in ("=@", "--post-file=", "--body-file=", "--upload-file="):
        if mark in t:
            t = t.split(mark, 1)[1]
            break
    else:
        if not t.startswith("@"):
            return w
        t = t[1:]
    return Word(t, w.literal, w.raw, _tilde(t) if w.literal else None, w.dynamic, w.subs)


def _made_by(word: Word) -> tuple:
    """The commands whose output word holds: those of its substitutions, and what feeds their stdin
    (`curl x | sh -c "$(cat)"`: cat passes on what curl fetched)."""
    return tuple(word.subs) + tuple(up for sub in word.subs for up in sub.upstream)


def _tilde(text: str) -> str | None:
    return "" if text == "~" else text[1:] if text.startswith("~/") else None


def _fetches(cmd: Command) -> str:
    """What cmd is when it downloads or decodes (curl, base64 -d ...): its output is not in the line; else ""."""
    name = cmd.name
    letters, longs, _ = _options_of(cmd.words[1:])
    texts = {w.text for w in cmd.words[1:] if w.literal}
    if name in _DOWNLOADERS or name in _DECOMPRESSORS:
        return name
    if name in ("base64", "base32", "basenc") and (letters & {"d", "D"} or "decode" in longs):
        return f"{name} -d"
    if name == "xxd" and ("r" in letters or "revert" in longs):
        return "xxd -r"
    if name in ("gzip", "bzip2", "xz", "zstd", "lzma") and ("d" in letters or "decompress" in longs):
        return f"{name} -d"
    if name == "openssl" and texts & {"-d", "s_client"}:
        return "openssl"
    if name in ("gpg", "gpg2") and ("d" in letters or "decrypt" in longs):
        return name
    if name in ("lynx", "links", "w3m") and texts & {"-dump", "-source"}:
        return name
    if name == "tr" and texts & {"A-Za-z", "a-zA-Z", "N-ZA-Mn-za-m", "n-za-mN-ZA-M"}:
        return "tr"
    return ""


# ---------------------------------------------------------------- per program


def _check_rm(j: _Judge, cmd: Command) -> None:
    letters, longs, operands = _options_of(cmd.words[1:])
    # A word shellper cannot see ($FLAGS) may hold -r: assumed to.
    maybe_flags = any(not w.literal and w.home is None and not w.text.startswith(("/", ".")) for w in operands)
    explicit = bool(letters & {"r", "R"}) or "recursive" in longs
    if "no-preserve-root" in longs:
        raise _Refused(f"refused: {cmd.name} --no-preserve-root would let it remove /, the whole system")
    _destructive(j, cmd, operands, explicit or maybe_flags, cwd_too=True, verb="remove", flag="-r" if explicit else "")


def _destructive(j: _Judge, cmd: Command, operands: list, recursive: bool, cwd_too: bool, verb: str, flag: str) -> None:
    """Refuse taking a protected folder whole; warn for what shellper cannot see, or what lies outside the current folder."""
    shown_cmd = f"{cmd.name} {flag}".strip()
    for w in operands:
        if "found by find" in w.dynamic:
            continue  # what find matches: judged with find itself (_check_find)
        paths = j.where.readings(w)
        if paths is None:
            empty = _empty_reading(w)
            hit = j.where.protected(_lexical(empty, "/"), cwd_too) if empty and recursive else None
            hit = hit or (j.where.protected_glob(_lexical(empty, "/"), cwd_too) if empty and recursive and _has_glob(empty) else None)
            extra = f"; if it expands to nothing, this takes {hit}" if hit else ""
            j.warn(f"warning: {shown_cmd} with a target shellper cannot see ({_show(_w(w))}){extra}")
            continue
        for path in paths:
            what = j.where.protected_glob(path, cwd_too) if _has_glob(path) else j.where.protected(path, cwd_too)
            if what and (recursive or path == "/"):
                raise _Refused(f"refused: {shown_cmd} {_show(_w(w))} would {verb} {what}")
            _destructive_warning(j, shown_cmd, w, path, verb, what)


def _destructive_warning(j: _Judge, shown_cmd: str, w: Word, path: str, verb: str, what: str | None) -> None:
    if what:
        j.warn(f"warning: {shown_cmd} {_show(_w(w))} would {verb} {what}")
        return
    where = j.where
    rel = path[len(where.home) + 1 :] if _under(path, where.home) and path != where.home else None
    if rel is not None and rel.split("/")[0] in _KEY_DIRS:
        j.warn(f"warning: {shown_cmd} {_show(_w(w))} {verb}s something in ~/{rel.split('/')[0]}, which holds your keys")
    elif rel is not None and (rel in _STARTUP or (rel.startswith(".") and "/" not in rel)):
        j.warn(f"warning: {shown_cmd} {_show(_w(w))} {verb}s ~/{rel}, a hidden settings file in your home")
    elif _has_glob(path) and any(b is not None and os.path.dirname(path) == b for b in where.cwds) and _match_all(os.path.basename(path)):
        j.warn(f"warning: {shown_cmd} {_show(_w(w))} {verb}s everything in the current folder")
    elif where.outside(path):
        j.warn(f"warning: {shown_cmd} {_show(_w(w))} acts outside the current folder ({where.shown(path)})")


def _check_chmod(j: _Judge, cmd: Command) -> None:
    words = cmd.words[1:]
    # chmod's modes can look like options (-w, -x): those are the mode, not flags.
    modes = [w for w in words if cmd.name == "chmod" and w.literal and re.fullmatch(r"-[rwxXst]+", w.text)]
    letters, longs, operands = _options_of([w for w in words if w not in modes])
    recursive = "R" in letters or "recursive" in longs
    if "no-preserve-root" in longs:
        raise _Refused(f"refused: {cmd.name} --no-preserve-root would let it change /, the whole system")
    targets = operands if any(k.startswith("reference") for k in longs) or modes else operands[1:]
    if recursive:
        mode = operands[0].text if operands and not modes else ""
        wide = " and makes everything writable by everyone" if re.fullmatch(r"0?[0-7]?77[67]|a\+w|o\+w|\+w", mode) else ""
        j.warn(f"warning: {cmd.name} -R changes everything below its targets{wide}")
    _destructive(j, cmd, targets, recursive, cwd_too=False, verb="change", flag="-R" if recursive else "")


def _check_find(j: _Judge, cmd: Command) -> None:
    if "find -exec" in cmd.wrappers or not cmd.find_starts:
        return
    texts = [w.text for w in cmd.words if w.literal]
    actions = [texts[i + 1] for i, t in enumerate(texts[:-1]) if t in ("-exec", "-execdir", "-ok", "-okdir")]
    acts = cmd.find_deletes or any(shellparse.program_name(a) in _DESTRUCTIVE_EXEC for a in actions)
    if not acts:
        return
    # A name or path test narrows what is taken only when it comes before the action (find reads left to right).
    first_action = min(i for i, t in enumerate(texts) if t == "-delete" or t in ("-exec", "-execdir", "-ok", "-okdir"))
    narrowed = any(t in _FIND_FILTERS for t in texts[:first_action]) and not any(t in ("!", "-not", "-o", "-or", ",") for t in texts)
    verb = "-delete" if cmd.find_deletes else "-exec " + next(a for a in actions if shellparse.program_name(a) in _DESTRUCTIVE_EXEC)
    for start in cmd.find_starts:
        paths = j.where.readings(start)
        if paths is None:
            j.warn(f"warning: find {verb} starts at a folder shellper cannot see ({_show(_w(start))})")
            continue
        for path in paths:
            what = j.where.protected(path, cwd_too=False) or (j.where.protected_glob(path, False) if _has_glob(path) else None)
            if path in _DATA_DIRS:
                what = None  # /tmp, /var/log ...: what they hold is data, not the system
            if what and not narrowed:
                raise _Refused(f"refused: find {_show(_w(start))} {verb} would take everything in {what}")
            if what:
                j.warn(f"warning: find {verb} acts on what matches anywhere in {what}")
            elif not narrowed:
                j.warn(f"warning: find {verb} acts on everything below {_show(_w(start))}")


def _check_mv(j: _Judge, cmd: Command) -> None:
    letters, longs, operands = _options_of(cmd.words[1:])
    target_dir = next((w for i, w in enumerate(cmd.words) if i and cmd.words[i - 1].text in ("-t", "--target-directory")), None)
    if target_dir is not None:
        operands = [w for w in operands if w is not target_dir]
    sources, dest = (operands, target_dir) if target_dir is not None else (operands[:-1], operands[-1] if len(operands) > 1 else None)
    if cmd.name == "mv":
        for w in sources:
            for path in j.where.readings(w) or []:
                what = j.where.protected_glob(path, True) if _has_glob(path) else j.where.protected(path, True)
                if what:
                    raise _Refused(f"refused: mv {_show(_w(w))} would move {what}")
    if dest is not None:
        j.write(dest, f"{cmd.name} ... {_w(dest)}", truncate=not (letters & {"n", "i"}) and "no-clobber" not in longs)


def _check_tee(j: _Judge, cmd: Command) -> None:
    letters, longs, operands = _options_of(cmd.words[1:])
    for w in operands:
        j.write(w, f"tee {_w(w)}", truncate=not ("a" in letters or "append" in longs))


def _check_truncate(j: _Judge, cmd: Command) -> None:
    words = cmd.words[1:]
    skip = {i + 1 for i, w in enumerate(words) if w.literal and w.text in ("-s", "--size", "-r", "--reference")}
    for i, w in enumerate(words):
        if i not in skip and not (w.literal and w.text.startswith("-")):
            j.write(w, f"truncate {_w(w)}", truncate=True, verb="cuts")


def _check_dd(j: _Judge, cmd: Command) -> None:
    for w in cmd.words[1:]:
        if w.text.startswith("of="):
            target = Word(w.text[3:], w.literal, w.raw, _tilde(w.text[3:]) if w.literal else None, w.dynamic, w.subs)
            j.write(target, f"dd {_w(w)}", truncate=True)


def _check_disk(j: _Judge, cmd: Command) -> None:
    """mkfs, wipefs, fdisk, parted, shred ... of a device: refused unless they only list."""
    letters, longs, operands = _options_of(cmd.words[1:])
    texts = [w.text for w in operands if w.literal]
    listing = (
        (cmd.name in ("fdisk", "sfdisk", "parted", "gdisk", "sgdisk") and ("l" in letters or "list" in longs or "p" in letters))
        or (cmd.name == "parted" and texts[1:] in (["print"], ["p"]))
        or (cmd.name == "sfdisk" and (letters & {"d", "s"} or {"dump", "show-size"} & longs))
        or (cmd.name == "wipefs" and not (letters & {"a", "o"} or {"all", "offset"} & longs))
        or (cmd.name == "wipefs" and ("n" in letters or "no-act" in longs))
        or (cmd.name == "cryptsetup" and texts[:1] not in (["luksFormat"], ["erase"], ["luksErase"], ["reencrypt"]))
        or (cmd.name == "badblocks" and not letters & {"w", "n"})
    )
    for w in operands:
        paths = j.where.readings(w)
        if paths is None:
            j.warn(f"warning: {cmd.name} acts on something shellper cannot see ({_show(_w(w))})")
            continue
        for path in paths:
            if _under(path, "/dev") and not _HARMLESS_DEVICES.fullmatch(path) and not listing:
                raise _Refused(f"refused: {cmd.name} {_show(_w(w))} would erase the device {path}")
            if not _under(path, "/dev") and not listing and cmd.name != "cryptsetup":
                j.warn(f"warning: {cmd.name} {_show(_w(w))} destroys what {j.where.shown(path)} holds")


def _check_cp(j: _Judge, cmd: Command) -> None:
    _check_mv(j, cmd)


def _check_sed(j: _Judge, cmd: Command) -> None:
    letters, longs, operands = _options_of(cmd.words[1:])
    if "i" not in letters and not any(k.startswith("in-place") for k in longs):
        return
    scripted = "e" in letters or "f" in letters or "expression" in longs or "file" in longs
    for w in operands if scripted else operands[1:]:
        j.write(w, f"{cmd.name} -i {_w(w)}", truncate=False, verb="edits")


def _check_git(j: _Judge, cmd: Command) -> None:
    words = cmd.words[1:]
    i = 0
    while i < len(words) and words[i].literal and words[i].text.startswith("-"):
        i += 2 if words[i].text in ("-C", "-c", "--git-dir", "--work-tree", "--namespace") else 1
    if i >= len(words) or not words[i].literal:
        return
    sub, rest = words[i].text, words[i + 1 :]
    letters, longs, operands = _options_of(rest)
    texts = [w.text for w in rest]
    if sub == "reset" and {"hard", "merge", "keep"} & longs:
        j.warn("warning: git reset --hard throws away your uncommitted changes")
    elif sub == "clean" and ("f" in letters or "force" in longs) and not ("n" in letters or "dry-run" in longs):
        j.warn("warning: git clean -f deletes untracked files for good")
    elif sub == "push" and (
        "f" in letters or {"force", "force-with-lease", "force-if-includes", "mirror"} & longs or any(t.startswith("+") for t in texts)
    ):
        j.warn("warning: git push --force rewrites the remote's history; others' commits there can be lost")
    elif sub == "checkout" and ("--" in texts or "." in texts or "f" in letters or "force" in longs):
        j.warn("warning: git checkout of paths discards your uncommitted changes to them")
    elif sub == "restore" and ("staged" not in longs or "worktree" in longs or "W" in letters):
        j.warn("warning: git restore discards your uncommitted changes to those files")
    elif sub == "branch" and ("D" in letters or ("d" in letters and "f" in letters)):
        j.warn("warning: git branch -D deletes a branch even when it is not merged")
    elif sub == "stash" and texts[:1] in (["drop"], ["clear"]):
        j.warn(f"warning: git stash {texts[0]} deletes stashed changes")


def _check_kill(j: _Judge, cmd: Command) -> None:
    if cmd.name in ("killall", "pkill", "killall5"):
        j.warn(f"warning: {cmd.name} stops every process that matches, not just one")
        return
    texts = [w.text for w in cmd.words[1:]]
    pids = texts[1:] if texts and texts[0].startswith("-") and texts[0] != "--" else texts
    if "-s" in texts[:1] or "-n" in texts[:1]:
        pids = texts[2:]
    if "-1" in pids:
        j.warn("warning: kill -1 signals every process you may signal (as root: all of them)")


def _check_crontab(j: _Judge, cmd: Command) -> None:
    letters, _, _ = _options_of(cmd.words[1:])
    if "r" in letters:
        j.warn("warning: crontab -r deletes all your cron jobs, without asking")


def _check_history(j: _Judge, cmd: Command) -> None:
    letters, _, _ = _options_of(cmd.words[1:])
    if "c" in letters:
        j.warn("warning: history -c clears this shell's history")


def _check_power(j: _Judge, cmd: Command) -> None:
    texts = [w.text for w in cmd.words[1:]]
    if cmd.name in ("systemctl", "loginctl") and not set(texts) & {"poweroff", "reboot", "halt", "kexec", "suspend", "hibernate"}:
        return
    if cmd.name in ("init", "telinit") and not set(texts) & {"0", "6"}:
        return
    j.warn(f"warning: {cmd.name} shuts down or restarts the computer")


def _check_shell(j: _Judge, cmd: Command) -> None:
    """A shell left as a command: a script file, or code on a stdin shellper could not read."""
    _check_interpreter(j, cmd, "shell")


def _check_interpreter(j: _Judge, cmd: Command, family: str) -> None:
    letters, longs, operands = _options_of(cmd.words[1:])
    flags = _INLINE.get(family, ())
    inline = [
        w
        for i, w in enumerate(cmd.words)
        if i and w.literal and (w.text in flags or any(w.text.startswith(f) and len(f) == 2 and not w.text.startswith("--") for f in flags))
    ]
    if family == "shell" and "c" in letters:
        return  # its code was judged (or is cmd.code)
    if inline:
        j.warn(f"warning: runs inline {family} code ({inline[0].text}), which shellper does not read")
        return
    if family == "python" and "m" in letters:
        return
    script = next((w for w in operands if not (w.literal and w.text == "-")), None)
    if script is None or ("s" in letters and family == "shell"):
        j.code_from_stdin(cmd, family)
    else:
        j.script(cmd, script)


def _check_source(j: _Judge, cmd: Command) -> None:
    args = cmd.words[1:]
    if not args:
        return
    if args[0].literal and args[0].text in ("/dev/stdin", "-", "/proc/self/fd/0"):
        j.code_from_stdin(cmd, "shell")
    else:
        j.script(cmd, args[0])


def _check_awk(j: _Judge, cmd: Command) -> None:
    words = cmd.words[1:]
    i = 0
    while i < len(words) and words[i].literal and words[i].text.startswith("-") and words[i].text != "--":
        if words[i].text in ("-f", "--file"):
            return
        i += 2 if words[i].text in ("-F", "-v", "--assign", "--field-separator") else 1
    program = words[i] if i < len(words) else None
    if program is None:
        return
    if not program.literal:
        j.warn(f"warning: runs an {cmd.name} program shellper cannot see ({_show(program.raw)})")
    elif re.search(r"\bsystem\s*\(|\|\s*getline|print[f]?[^;}]*\|\s*\"", program.text):
        j.warn(f"warning: the {cmd.name} program runs commands (system() or a pipe), which shellper does not read")


def _check_ssh(j: _Judge, cmd: Command) -> None:
    words = cmd.words[1:]
    i = 0
    while i < len(words) and words[i].literal and words[i].text.startswith("-"):
        t = words[i].text
        i += 2 if len(t) == 2 and t[1] in "BbcDEeFIiJLlmOopQRSWw" else 1
    remote = words[i + 1 :]
    if remote:
        text = " ".join(_w(w) for w in remote)
        j.warn(f"warning: runs {_show(text)} on {_w(words[i])} over ssh, where shellper cannot look at the files")


_CHECKS = {
    "rm": _check_rm,
    "unlink": _check_rm,
    "srm": _check_rm,
    "chmod": _check_chmod,
    "chown": _check_chmod,
    "chgrp": _check_chmod,
    "find": _check_find,
    "mv": _check_mv,
    "cp": _check_cp,
    "install": _check_cp,
    "ln": _check_cp,
    "tee": _check_tee,
    "truncate": _check_truncate,
    "dd": _check_dd,
    "sed": _check_sed,
    "git": _check_git,
    "kill": _check_kill,
    "killall": _check_kill,
    "killall5": _check_kill,
    "pkill": _check_kill,
    "crontab": _check_crontab,
    "history": _check_history,
    "shutdown": _check_power,
    "reboot": _check_power,
    "halt": _check_power,
    "poweroff": _check_power,
    "systemctl": _check_power,
    "loginctl": _check_power,
    "init": _check_power,
    "telinit": _check_power,
    "source": _check_source,
    ".": _check_source,
    "awk": _check_awk,
    "gawk": _check_awk,
    "mawk": _check_awk,
    "nawk": _check_awk,
    "ssh": _check_ssh,
    **{name: _check_shell for name in shellparse.SHELLS},
}


# ---------------------------------------------------------------- fork bombs


def _fork_bomb(parsed) -> None:
    """Refuse a called function that calls itself (directly or through others) in a pipe or
    in the background: each call starts two more processes, until none can start."""
    functions = parsed.functions
    if not functions:
        return
    edges: dict = {name: [] for name in functions}
    for name, fn in functions.items():
        for cmd in fn.commands:
            if cmd.name in functions and cmd.function == name:
                edges[name].append((cmd.name, cmd.background or cmd.stages > 1))
    called = {c.name for c in parsed.commands if c.name in functions and c.function != c.name}
    live = set(called).union(*(_reachable(name, edges) for name in called))
    for caller in live:
        for callee, spawns in edges[caller]:
            # A call in a pipe or in the background that leads back to its caller: each round starts more.
            if spawns and (callee == caller or caller in _reachable(callee, edges)):
                raise _Refused(
                    f"refused: {_show(parsed.features.get('function definition', caller))} is a fork bomb: the function"
                    " starts copies of itself until the computer cannot start any process"
                )


def _reachable(frm: str, edges: dict) -> set:
    """Functions frm can call, directly or not (frm itself when it recurses)."""
    out, todo = set(), [frm]
    while todo:
        for callee, _ in edges.get(todo.pop(), ()):
            if callee not in out:
                out.add(callee)
                todo.append(callee)
    return out
