"""What differs between zsh, bash and fish, for tests written once and run in each.

A test takes one adapter (`sh`) and asks it how to start the shell with
shellper loaded, which keys undo or switch to vi mode, how to write a line
(a sum, a loop, a setting, a quoted word) and how to read the history.
Everything else in the test is the same for every shell.

    @pytest.mark.parametrize("sh", EVERY)
    def test_something(sh, shell_env, tmux, work):
        pane = sh.start(shell_env, tmux, work)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from shellharness import HOSTILE_FISH, HOSTILE_ZSH, Pane, ShellEnv, Tmux, have, hostile_aliases

# The key a test binds in place of Ctrl-G (Ctrl-X Ctrl-T): the keys to press.
CUSTOM_KEYS = ("C-x", "C-t")
# Bytes that are not UTF-8, typed by Ctrl-T (see Shell.bad_bytes).
BAD_BYTES = "bad \\xff bytes"


class Shell:
    name = ""
    undo = "C-_"  # undo (emacs mode)
    vi = ""  # rc text: vi key bindings
    vi_insert_undo = "C-_"  # undo in vi insert mode (None: no key for it)
    vi_undoes_insert = True  # vi's `u` undoes a change made in insert mode
    escape_wait = 0.0  # after Escape, so that the next key is not read as Alt-<key>
    vi_empty = ("S",)  # vi command mode: empty the line and go back to insert mode
    nounset = ""  # rc text: reading an unset variable is an error ('': the shell has no such mode)
    nounset_check = None  # a line printing "nounset-still-on" while it is on
    unset_error = ""  # the error the shell prints then
    custom_key = ""  # rc text: SHELLPER_KEY set to Ctrl-X Ctrl-T
    client_only = ""  # rc text: every request through the client (zsh alone can talk to the socket itself)
    load = ""  # the line that loads shellper by running `shellper init`
    quiet = ""  # rc text put first: nothing of the shell's own on the command line
    # Lines that put "#? not a request" inside a command, as text.
    hash_in_text = ("cat <<'EOF'", "#? not a request", "EOF")
    history_recall = "!!"  # runs the last line again (None: the shell has no such expansion)
    search_key = "C-r"  # incremental history search, Enter runs the match (None: not so)
    comment_option = None  # (line, what it prints): interactive comments stay as the shell had them
    hostile_seen: set = set()  # the shadowed names the shell's own prompt code still calls
    ignore_space = ()  # rc lines that keep lines starting with a space out of the history

    def __repr__(self) -> str:
        return self.name

    def start(self, shell_env: ShellEnv, tmux: Tmux, cwd: str, before: str = "", after: str = "", env: dict | None = None) -> Pane:
        """An interactive shell in `cwd` whose rc file loads shellper between `before` and `after`.

        It sources the init file, as install.sh's rc block does (no Python
        start); with more environment (env), it runs `shellper init` itself.
        """
        load = self.load if env else f"source {self.quote(shell_env.init_file(self.name))}"
        return getattr(shell_env, self.name)(tmux, before=self.quiet + before, after=after, cwd=cwd, env=env, load=load)

    def set(self, name: str, value: str) -> str:
        """A line setting shell variable `name` to `value` (a plain word)."""
        return f"{name}='{value}'"

    def quote(self, word: str) -> str:
        """`word` as one argument, whatever it holds."""
        return "'" + word.replace("'", "'\\''") + "'"

    def sum(self, label: str, a: int, b: int) -> str:
        """A line printing LABEL-(a+b): only the shell's arithmetic gives the number."""
        return f"echo {label}-$(({a}+{b}))"

    def loop(self, words: str, body: str) -> tuple:
        """A loop over `words` typed as two lines (the second one ends it)."""
        return f"for w in {words}; do", f"{body}; done"

    def last_status(self, label: str) -> str:
        """A line printing LABEL-$? (the last command's status)."""
        return f"echo {label}-$?"

    def bad_bytes(self) -> str:
        """rc text binding Ctrl-T to type BAD_BYTES (a byte that is not UTF-8)."""
        raise NotImplementedError

    def type_bad_bytes(self, pane: Pane) -> None:
        """Put BAD_BYTES on the command line."""
        pane.send("C-t")

    def hostile(self) -> tuple:
        """(before, after): rc text shadowing every builtin and command shellper calls."""
        return hostile_aliases(self.name), ""

    def hostile_still_there(self, pane: Pane) -> None:
        """The shadowing of hostile() is still the user's."""
        raise NotImplementedError

    def listing(self, count: int, out: str) -> str:
        """A line writing the last `count` history entries before itself to `out`."""
        raise NotImplementedError

    def history(self, pane: Pane, work: str, count: int) -> list:
        """The last `count` history entries before the line that lists them."""
        raise NotImplementedError

    def hooks_once(self) -> tuple:
        """(line, pattern): what the line prints when shellper's hooks are there once."""
        raise NotImplementedError


class Zsh(Shell):
    name = "zsh"
    vi = "bindkey -v"
    vi_insert_undo = None  # zsh's viins keymap binds no undo key
    nounset = "setopt nounset"
    nounset_check = "[[ -o nounset ]] && echo nounset-still-on"
    unset_error = "parameter not set"
    custom_key = "SHELLPER_KEY='^X^T'"
    client_only = "__shellper_socket="
    load = 'eval "$(shellper init zsh)"'
    comment_option = ("[[ -o interactivecomments ]] && echo comments-on || echo comments-off", "comments-off")
    ignore_space = ("setopt histignorespace",)

    def bad_bytes(self) -> str:
        return ""  # `bindkey -s` would type another character: zsh's own line editor takes the bytes

    def type_bad_bytes(self, pane: Pane) -> None:
        pane.type(f"print -z $'{BAD_BYTES}'")  # the next line starts with them
        pane.send("Enter")

    def hostile_still_there(self, pane: Pane) -> None:
        pane.run(
            r"\builtin \print -r -- n=${#aliases} ${aliases[read]} / ${galiases[REPLY]}",
            wait=re.compile(r"n=(\d+) echo HOSTILE-read / HOSTILE-g-REPLY"),
        )
        assert int(re.search(r"n=(\d+) echo", pane.since_mark()).group(1)) >= len(HOSTILE_ZSH)

    def listing(self, count: int, out: str) -> str:
        return f"fc -ln -{count} >| {out}"

    def history(self, pane: Pane, work: str, count: int) -> list:
        out = os.path.join(work, "hist.out")
        pane.run(self.listing(count, out))
        with open(out) as fh:
            return fh.read().splitlines()

    def hooks_once(self) -> tuple:
        # One precmd and one preexec hook of ours.
        return "print -rl -- $precmd_functions $preexec_functions | grep -c __shellper", re.compile(r"^2$", re.M)


class Bash(Shell):
    name = "bash"
    vi = "set -o vi"
    escape_wait = 0.6  # readline's keyseq-timeout is 0.5 s
    vi_undoes_insert = False  # readline's `u` leaves what insert mode typed from an empty line
    nounset = "set -u"
    nounset_check = "[[ $- == *u* ]] && echo nounset-still-on"
    unset_error = "unbound variable"
    custom_key = "SHELLPER_KEY='\\C-x\\C-t'"
    load = 'eval "$(shellper init bash)"'
    comment_option = ("shopt interactive_comments", re.compile(r"interactive_comments\s+on"))
    ignore_space = ("HISTCONTROL=ignorespace", "HISTCONTROL=ignoreboth")

    def bad_bytes(self) -> str:
        return 'bind \'"\\C-t": "bad \\377 bytes"\''

    def hostile_still_there(self, pane: Pane) -> None:
        pane.run(r"\builtin alias read stty; \builtin shopt expand_aliases", wait="expand_aliases")
        out = pane.since_mark()
        assert "alias read='echo HOSTILE-read'" in out and "alias stty='echo HOSTILE-stty'" in out
        assert re.search(r"expand_aliases\s+on", out)

    def listing(self, count: int, out: str) -> str:
        return f"history {count + 1} >| {out}"  # bash lists the listing line too

    def history(self, pane: Pane, work: str, count: int) -> list:
        out = os.path.join(work, "hist.out")
        pane.run(self.listing(count, out))
        with open(out) as fh:
            entries = [re.sub(r"^\s*\d+\*?\s+", "", line) for line in fh.read().splitlines()]
        return entries[:-1]

    def hooks_once(self) -> tuple:
        return 'echo "pc=[$PROMPT_COMMAND]"', re.compile(r"^pc=\[__shellper_precmd\]$", re.M)


class BashPipes(Bash):
    """bash after its first request, which asked for the terminal's pipes: its requests go through them."""

    def __repr__(self) -> str:
        return "bash-pipes"

    def start(self, shell_env: ShellEnv, tmux: Tmux, cwd: str, before: str = "", after: str = "", env: dict | None = None) -> Pane:
        pane = super().start(shell_env, tmux, cwd, before, after, env)
        # The first request, as the terminal's client sends it; then its trace goes (reset).
        run_env = dict(os.environ, **shell_env.env, **(env or {}))
        subprocess.run(
            [sys.executable, "-m", "shellper_hook.client"],
            input=f"translate\0{pane.pid}\0bash\0{cwd}\0first request\0pipes=1\0\0".encode(),
            env=run_env,
            cwd="/",
            capture_output=True,
            timeout=30,
        )
        shell_env.shellper("reset", "--session", str(pane.pid))
        assert os.path.exists(f"{shell_env.pipes_dir()}/{pane.pid}.in"), f"no pipes for bash {pane.pid}"
        return pane


class Fish(Shell):
    name = "fish"
    undo = "C-z"
    vi_insert_undo = None  # fish's vi insert mode binds no undo key
    vi = "set -g fish_key_bindings fish_vi_key_bindings"  # -g: not the universal variable every test shell shares
    escape_wait = 0.3  # past fish_escape_delay_ms
    vi_empty = ("c", "c")
    custom_key = "set -g SHELLPER_KEY \\cx\\ct"
    load = "shellper init fish | source"
    quiet = "set -g fish_autosuggestion_enabled 0\n"  # their grey text would be on the line
    hash_in_text = ("echo 'first", "#? not a request'")  # no here-documents in fish
    history_recall = None
    search_key = None  # fish 3.6's Ctrl-R opens a pager: Enter only picks the line
    hostile_seen = {"printf", "contains"}  # fish's own prompt-time functions call these unprefixed

    def set(self, name: str, value: str) -> str:
        return f"set -g {name} {self.quote(value)}"

    def quote(self, word: str) -> str:
        # In fish's single quotes only \\ and \' are escapes.
        return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def sum(self, label: str, a: int, b: int) -> str:
        return f"echo {label}-(math {a} + {b})"

    def loop(self, words: str, body: str) -> tuple:
        return f"for w in {words}", f"{body}; end"

    def last_status(self, label: str) -> str:
        return f"echo {label}-$status"

    def bad_bytes(self) -> str:
        return f"bind \\ct \"commandline -i (printf '{BAD_BYTES}')\""

    def hostile(self) -> tuple:
        # fish has no aliases: functions shadow builtins (defined after shellper, so they win).
        return "", "\n".join(f"function {name}; echo HOSTILE-{name}; end" for name in HOSTILE_FISH)

    def hostile_still_there(self, pane: Pane) -> None:
        pane.run("count 1 2", wait="HOSTILE-count")

    def hooks_once(self) -> tuple:
        # The key in the default and the vi insert mode.
        return "bind -a | string match -e __shellper_translate | count", re.compile(r"^2$", re.M)


ADAPTERS = {s.name: s for s in (Zsh(), Bash(), Fish())}


def each(skip: dict | None = None, xfail: dict | None = None, pipes: bool = False) -> list:
    """Parameters for `sh`: every shell installed.

    skip={"fish": "why fish cannot do it"} leaves a shell out; xfail={...}
    marks a gap of shellper's in one shell (strict: fixed, the mark must go).
    pipes=True adds bash once more, on its pipes (a request after its first).
    """
    params = []
    adapters = list(ADAPTERS.items()) + ([("bash", BashPipes())] if pipes else [])
    for name, adapter in adapters:
        marks = [pytest.mark.skipif(not have(name), reason=f"needs {name}")]
        if name in (skip or {}):
            marks.append(pytest.mark.skip(reason=skip[name]))
        if name in (xfail or {}):
            marks.append(pytest.mark.xfail(reason=xfail[name], strict=True))
        params.append(pytest.param(adapter, id=repr(adapter), marks=marks))
    return params


EVERY = each()
