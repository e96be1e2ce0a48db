"""shellper loaded by plugin managers, each the way it loads a plugin for its users.

A copy of this repository's shell/ folder stands in for the manager's clone (no network). Each
set-up is the README's "Plugin managers" line for that manager; each test loads shellper through
it in a real shell in tmux, presses Ctrl-G on a request, runs the command and checks its effect.

How the managers run here:
- oh-my-zsh and fisher: their own code, vendored unmodified (tests/vendor/ohmyzsh, tests/vendor/fisher).
- zinit, antidote, zplug: always a replica of the functions that source a plugin (the upstream
  lines are quoted beside each); and the real manager too when this machine has it: zplug from
  Debian's package (/usr/share/zplug), zinit and antidote from the checkouts named by
  SHELLPER_TEST_ZINIT and SHELLPER_TEST_ANTIDOTE (the folders holding zinit.zsh, antidote.zsh).
  zinit's turbo mode (`wait`: loaded from its scheduler once the prompt is up) only with the real
  zinit: a replica of its scheduler would prove little.

Managers source a plugin inside their own functions: the tests check that loading leaves no
variable behind but shellper's own (__shellper_*) and that the ones it needs stay global (a run
suggestion is still reported), that it loads once even when install.sh's rc line loads it too, and
what a user sees when the shellper command is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from daemon_helpers import wait_until
from shellharness import BIN, PROMPT, Tmux, have, hostile_aliases, translate

pytestmark = pytest.mark.skipif(not have("tmux"), reason="needs tmux")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENDOR = os.path.join(REPO, "tests", "vendor")
OWNER = "owner"  # the README's OWNER/shellper
ZINIT = os.environ.get("SHELLPER_TEST_ZINIT", "")
ANTIDOTE = os.environ.get("SHELLPER_TEST_ANTIDOTE", "")
ZPLUG = os.environ.get("SHELLPER_TEST_ZPLUG", "/usr/share/zplug")
MISSING = (
    "shellper: the plugin is loaded, but the shellper command is not installed: "
    "run ./install.sh --no-rc in a clone of shellper, then open a new terminal"
)
QUIET_FISH = "set -g fish_autosuggestion_enabled 0"

# Two marker plugins load around shellper: `before` notes the variables that exist once the
# manager has loaded a plugin, `after` the ones added since (shellper's load alone).
# (Quoted builtins: the aliases of the alias test must not break them.)
BEFORE = "(( ${+__t_before} )) || { 'builtin' 'typeset' -ga __t_before; __t_before=(${(k)parameters}) }\n"
AFTER = "'builtin' 'typeset' -ga __t_new; __t_new=(${${(k)parameters}:|__t_before})\n"
# What loading may add besides __shellper_*: zsh's hook arrays (add-zsh-hook creates them) and the
# parameters of the modules the script loads (zsh/system), and the markers' own.
ALLOWED_NEW = {
    "precmd_functions",
    "preexec_functions",
    "zshexit_functions",
    "zshaddhistory_functions",
    "errnos",
    "sysparams",
    "__t_before",
    "__t_new",
}


# -- the managers ------------------------------------------------------------------------------


def checkout(dst: str) -> str:
    """A copy of the repository as a manager clones it (the shell/ folder is all they read)."""
    os.makedirs(dst, exist_ok=True)
    shutil.copytree(os.path.join(REPO, "shell"), os.path.join(dst, "shell"), dirs_exist_ok=True)
    return dst


def marker(dst: str, name: str) -> None:
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, f"{name}.plugin.zsh"), "w") as fh:
        fh.write(BEFORE if name == "before" else AFTER)


def _write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def oh_my_zsh(root: str) -> str:
    """oh-my-zsh's own oh-my-zsh.sh, shellper a custom plugin: the clone's shell/ linked into
    $ZSH_CUSTOM/plugins/shellper (the README's line)."""
    zsh = os.path.join(root, "omz")
    os.makedirs(os.path.join(zsh, "tools"))
    os.makedirs(os.path.join(zsh, "lib"))
    shutil.copy(os.path.join(VENDOR, "ohmyzsh", "oh-my-zsh.sh"), zsh)
    shutil.copy(os.path.join(VENDOR, "ohmyzsh", "check_for_upgrade.sh"), os.path.join(zsh, "tools"))
    shutil.copy(os.path.join(VENDOR, "ohmyzsh", "directories.zsh"), os.path.join(zsh, "lib"))
    plugins = os.path.join(zsh, "custom", "plugins")
    src = checkout(os.path.join(root, "src", "shellper"))
    os.makedirs(plugins)
    os.symlink(os.path.join(src, "shell"), os.path.join(plugins, "shellper"))
    for name in ("before", "after"):
        marker(os.path.join(plugins, name), name)
    # ZSH_DISABLE_COMPFIX: compinit without lib/compfix.zsh, which is not vendored.
    return f"export ZSH='{zsh}'\nZSH_DISABLE_COMPFIX=true\nplugins=(before shellper after)\nsource $ZSH/oh-my-zsh.sh\n"


# zinit light, as zdharma-continuum/zinit (zinit.zsh at fc234da) loads a plugin: .zinit-load calls
# .zinit-load-plugin, which for the light mode and a pick ice runs
#     local ___user="$1" ___plugin="$2" ___id_as="$3" ___mode="$4" ___rst="$5" ___limit="$6" ___correct=0 ___retval=0
#     builtin set --
#     [[ -z ${ICE[subst]} ]] && local ___builtin=builtin
#     reply=( ${(M)~ICE[pick]##/*}(DN) $___pdir_path/${~ICE[pick]}(DN) )
#     .zinit-tmp-subst-on "${___mode:-load}"    # light: autoload and compdef become functions
#     local ZERO="$___pdir_path/$___fname"
#     (( ${+ICE[aliases]} )) || builtin setopt noaliases
#     ... $___builtin source "$ZERO" ...
#     (( ZINIT[ALIASES_OPT] )) && builtin setopt aliases
#     .zinit-tmp-subst-off "${___mode:-load}"
# and :zinit-tmp-subst-compdef keeps each compdef for `zinit cdreplay` instead of running it.
ZINIT_REPLICA = r"""
typeset -gA ZINIT=(PLUGINS_DIR %(plugins)s ALIASES_OPT "${${options[aliases]:#off}:+1}")
typeset -ga ZINIT_COMPDEF_REPLAY
zinit-replica() {
  typeset -F 3 SECONDS=0
  local ___mode=light ___limit= ___rst=0 ___retval=0 ___key ___pick=${2-}
  local ___pdir_path=${ZINIT[PLUGINS_DIR]}/${1//\//---}
  local ___pdir_orig=$___pdir_path
  zinit-replica-load-plugin ${1%%/*} ${1#*/} $1 $___mode $___rst "$___limit"
}
zinit-replica-load-plugin() {
  local ___user="$1" ___plugin="$2" ___id_as="$3" ___mode="$4" ___rst="$5" ___limit="$6" ___correct=0 ___retval=0
  local ___pbase="${${___plugin:t}%%(.plugin.zsh|.zsh|.git)}" ___key
  builtin set --
  local ___builtin=builtin
  if [[ -n $___pick ]]; then reply=( $___pdir_path/${~___pick}(DN) ); else reply=( "$___pdir_path/$___pbase".plugin.zsh ); fi
  local ___fname="${reply[1]:t}"
  ___pdir_path="${reply[1]:h}"
  (( ${+functions[compdef]} )) && ZINIT[bkp-compdef]="${functions[compdef]}"
  functions[autoload]='builtin autoload "$@";'
  functions[compdef]='ZINIT_COMPDEF_REPLAY+=( "${(j: :)${(q)@}}" );'
  local ZERO="$___pdir_path/$___fname"
  builtin setopt noaliases
  $___builtin source "$ZERO"; (( ___retval += $? ))
  (( ZINIT[ALIASES_OPT] )) && builtin setopt aliases
  unfunction autoload
  (( ${+ZINIT[bkp-compdef]} )) && functions[compdef]="${ZINIT[bkp-compdef]}" || unfunction compdef
  builtin unset "ZINIT[bkp-compdef]"
  return ___retval
}
"""


def zinit(root: str, real: bool = False, turbo: bool = False) -> str:
    plugins = os.path.join(root, "zinit", "plugins")
    checkout(os.path.join(plugins, f"{OWNER}---shellper"))
    for name in ("before", "after"):
        marker(os.path.join(plugins, f"{OWNER}---{name}"), name)
    if real:  # the README's line
        head = f"typeset -gA ZINIT; ZINIT[BIN_DIR]='{ZINIT}'; ZINIT[HOME_DIR]='{os.path.dirname(plugins)}'\nsource '{ZINIT}/zinit.zsh'\n"
        # Turbo mode (`wait`): loaded once the first prompt is up, from zinit's own scheduler.
        ice = "wait lucid " if turbo else ""
        return (
            head + f"zinit light {OWNER}/before\n"
            f"zinit ice {ice}pick'shell/shellper.plugin.zsh'; zinit light {OWNER}/shellper\n"
            f"zinit light {OWNER}/after\n"
        )
    return (
        ZINIT_REPLICA % {"plugins": plugins} + f"zinit-replica {OWNER}/before\n"
        f"zinit-replica {OWNER}/shellper shell/shellper.plugin.zsh\nzinit-replica {OWNER}/after\n"
    )


# antidote load, as mattmc3/antidote (functions/antidote-load at db19ea3) does it: it sources the
# static file that `antidote bundle` made from ~/.zsh_plugins.txt, inside the function:
#     local ret=0
#     typeset -g REPLY=
#     () { ...; typeset -g REPLY=$staticfile } "$@" || ret=$?
#     { [[ -f "$REPLY" ]] && source "$REPLY" } || (( ret )) || ret=2
#     unset REPLY
#     return $ret
# For the line `OWNER/shellper path:shell`, `antidote bundle` writes (antidote.zsh, zsh_script_render;
# `initfiles` picks the folder's *.plugin.zsh):
#     fpath+=( "$HOME/.cache/antidote/github.com/OWNER/shellper/shell" )
#     source "$HOME/.cache/antidote/github.com/OWNER/shellper/shell/shellper.plugin.zsh"
ANTIDOTE_REPLICA = r"""
antidote-replica() {
  local ret=0
  typeset -g REPLY=
  () { typeset -g REPLY=$1 } "$@" || ret=$?
  { [[ -f "$REPLY" ]] && source "$REPLY" } || (( ret )) || ret=2
  unset REPLY
  return $ret
}
"""


def antidote(root: str, real: bool = False, before_load: str = "") -> str:
    home = os.path.join(root, "antidote")
    base = os.path.join(home, "github.com", OWNER)
    checkout(os.path.join(base, "shellper"))
    for name in ("before", "after"):
        marker(os.path.join(base, name), name)
    if real:  # the README's line, in ~/.zsh_plugins.txt
        txt = _write(os.path.join(root, "zdot", ".zsh_plugins.txt"), f"{OWNER}/before\n{OWNER}/shellper path:shell\n{OWNER}/after\n")
        return f"export ANTIDOTE_HOME='{home}'\nsource '{ANTIDOTE}/antidote.zsh'\n{before_load}\nantidote load '{txt}'\n"
    lines = []
    for name, folder in (("before", "before"), ("shellper", "shellper/shell"), ("after", "after")):
        path = os.path.join(base, folder)
        init = "shellper.plugin.zsh" if name == "shellper" else f"{name}.plugin.zsh"
        lines += [f'fpath+=( "{path}" )', f'source "{path}/{init}"']
    static = _write(os.path.join(root, "zdot", ".zsh_plugins.zsh"), "\n".join(lines) + "\n")
    return ANTIDOTE_REPLICA + f"{before_load}\nantidote-replica '{static}'\n"


# zplug load, as zplug/zplug (base/core/load.zsh; Debian's 2.4.2 has the same lines) does it:
#     __zplug::core::load::prepare:     setopt nomonitor
#     __zplug::core::load::from_cache:  { fpath=( ${(@f)"$(<$_zplug_cache[fpath])"} "$fpath[@]" )
#                                         source "$_zplug_cache[plugin]" ...
#                                         compinit -d "$ZPLUG_HOME/zcompdump" ... }
#     cache/plugin.zsh, for `zplug "OWNER/shellper", use:shell/shellper.plugin.zsh`:
#         __zplug::core::load::as_plugin --repo "OWNER/shellper" "$ZPLUG_HOME/repos/OWNER/shellper/shell/shellper.plugin.zsh"
#     __zplug::core::load::as_plugin:   local key value repo load_path hook is_lazy=false
#                                       local is_verbose msg
#                                       local -i status_code=0
#                                       ...
#                                       source "$load_path" 2> >(__zplug::log::capture::error)
# (what a plugin prints on stderr while it loads goes to zplug's log file, not the terminal).
ZPLUG_REPLICA = r"""
zplug-replica-as-plugin() {
  local key value repo load_path hook is_lazy=false
  local is_verbose msg
  local -i status_code=0
  while (( $#argv > 0 )); do
    case "$argv[1]" in
      --repo) repo="$argv[2]"; shift ;;
      *) load_path="$argv[1]" ;;
    esac
    shift
  done
  source "$load_path" 2> >(zplug-replica-log)
  status_code=$status
  return $status_code
}
zplug-replica-log() {
  local message="$(<&0)"
  [[ -z $message ]] || print -r -- "$message" >>"$ZPLUG_HOME/log"
}
zplug-replica-load() {
  setopt nomonitor
  local is_verbose
  {
    source "$1"
    autoload -Uz compinit
    compinit -d "$ZPLUG_HOME/zcompdump"
  }
}
"""


def zplug(root: str, real: bool = False) -> str:
    home = os.path.join(root, "zplug")
    repos = os.path.join(home, "repos", OWNER)
    checkout(os.path.join(repos, "shellper"))
    for name in ("before", "after"):
        marker(os.path.join(repos, name), name)
    if real:
        # zplug keeps its plugins in an associative array (no order): `before` loads alone first
        # (after that load's compinit: defer:2), `after` with defer:1, after shellper and before
        # the second load's compinit.
        return (
            f"export ZPLUG_HOME='{home}'\nsource '{ZPLUG}/init.zsh'\n"
            f"zplug '{OWNER}/before', defer:2\nzplug load\n"
            f"zplug '{OWNER}/shellper', use:shell/shellper.plugin.zsh\n"
            f"zplug '{OWNER}/after', defer:1\nzplug load\n"
        )
    cache = _write(
        os.path.join(home, "cache", "plugin.zsh"),
        "".join(
            f'zplug-replica-as-plugin --repo "{OWNER}/{name}" "{path}"\n'
            for name, path in (
                ("before", f"{repos}/before/before.plugin.zsh"),
                ("shellper", f"{repos}/shellper/shell/shellper.plugin.zsh"),
                ("after", f"{repos}/after/after.plugin.zsh"),
            )
        ),
    )
    return f"export ZPLUG_HOME='{home}'\n" + ZPLUG_REPLICA + f"zplug-replica-load '{cache}'\n"


def _real(name: str, path: str, entry: str, why: str):
    return pytest.param(name, marks=pytest.mark.skipif(not os.path.isfile(os.path.join(path, entry)), reason=why))


MANAGERS = {
    "oh-my-zsh": oh_my_zsh,
    "zinit-replica": zinit,
    "antidote-replica": antidote,
    "zplug-replica": zplug,
    "zinit-real": lambda root: zinit(root, real=True),
    "zinit-turbo-real": lambda root: zinit(root, real=True, turbo=True),
    "antidote-real": lambda root: antidote(root, real=True),
    "zplug-real": lambda root: zplug(root, real=True),
}
ZSH_MANAGERS = [
    "oh-my-zsh",
    "zinit-replica",
    "antidote-replica",
    "zplug-replica",
    _real("zinit-real", ZINIT, "zinit.zsh", "SHELLPER_TEST_ZINIT names no zinit checkout"),
    _real("zinit-turbo-real", ZINIT, "zinit.zsh", "SHELLPER_TEST_ZINIT names no zinit checkout"),
    _real("antidote-real", ANTIDOTE, "antidote.zsh", "SHELLPER_TEST_ANTIDOTE names no antidote checkout"),
    _real("zplug-real", ZPLUG, "init.zsh", "zplug is not installed (apt install zplug)"),
]


# -- fixtures ----------------------------------------------------------------------------------


# `ollama` and `shell_env` come from the shell fixture plugin (tests/shell_fixtures.py).


@pytest.fixture(scope="module")
def tmux():
    with Tmux(width=240) as t:  # the not-installed message on one line
        yield t


@pytest.fixture
def root(shell_env):
    return tempfile.mkdtemp(prefix="m-", dir=shell_env.root)


@pytest.fixture
def work(root):
    path = os.path.join(root, "work")
    os.makedirs(os.path.join(path, "reports"))
    return path


def no_shellper_path() -> str:
    """PATH without any folder that holds a `shellper` command."""
    dirs = [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if d]
    return os.pathsep.join(d for d in dirs if not os.path.exists(os.path.join(d, "shellper")))


def write_init_file(shell_env, data_home: str, shell: str) -> str:
    """What install.sh's write_init_files does: `shellper init SHELL --static` into shellper's data dir."""
    run_env = {**os.environ, **shell_env.env, "XDG_DATA_HOME": data_home}
    data = subprocess.run(
        [sys.executable, "-c", "from shellper_hook import paths; print(paths.data_dir())"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = subprocess.run(
        [os.path.join(BIN, "shellper"), "init", shell, "--static"], env=run_env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return _write(os.path.join(data, f"init.{shell}"), out)


def _words(path: str) -> set:
    with open(path) as fh:
        return set(fh.read().split())


def screen_lines(pane) -> list:
    """The pane's lines that are not a prompt."""
    return [line for line in pane.lines() if line.strip() and not line.startswith(PROMPT.rstrip())]


def probe(pane, expr: str) -> str:
    """The value of a zsh expression, printed at the prompt between markers."""
    return _probe(pane, f'builtin print -r -- "<<{expr}>>"')


def probe_fish(pane, expr: str) -> str:
    """The same in fish: expr is one argument of printf."""
    return _probe(pane, f"builtin printf '<<%s>>\\n' {expr}")


def _probe(pane, line: str) -> str:
    pane.mark()
    pane.type(line)
    pane.send("Enter")
    return pane.wait_for(re.compile(r"^<<(.*)>>$", re.M)).group(1)


def zsh_pane(shell_env, tmux, root, work, manager, before="", after=""):
    return shell_env.zsh(tmux, cwd=work, load=MANAGERS[manager](root), before=before, after=after)


def cd_round_trip(shell_env, ollama, pane, work, request):
    """Ctrl-G on a request: the command appears; run it: this shell moved; the daemon has the exchange."""
    ollama.answer(request, "cd", {"folder": "reports"})
    translate(pane, request)
    pane.wait_line("cd reports", timeout=20)
    pane.run("")
    pane.run("pwd", wait=os.path.join(work, "reports"))
    hist = shell_env.history(pane.pid, settled=True)
    assert [(e["request"], e["command"], e["status"]) for e in hist["exchanges"]] == [(request, "cd reports", 0)]


def asked(ollama, request: str) -> int:
    """How many chat requests for `request` reached the model server."""
    return sum(
        1
        for body in list(ollama.requests)
        if [m for m in body.get("messages", []) if m["role"] == "user"][-1:] == [{"role": "user", "content": request}]
    )


# -- zsh -------------------------------------------------------------------------------------------


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
@pytest.mark.parametrize("manager", ZSH_MANAGERS)
def test_a_zsh_manager_loads_shellper_and_ctrl_g_gives_a_command_that_runs(shell_env, tmux, ollama, root, work, manager):
    pane = zsh_pane(shell_env, tmux, root, work, manager)
    time.sleep(0.3)
    assert screen_lines(pane) == [], pane.screen()  # nothing said, nothing broken
    cd_round_trip(shell_env, ollama, pane, work, f"go into reports via {manager}")
    # Loaded inside the manager's function: nothing left behind but shellper's own variables.
    new = set(probe(pane, "${(j: :)${(@)__t_new:#__shellper_*}}").split())
    assert new <= ALLOWED_NEW, new
    assert probe(pane, "$widgets[accept-line] $+functions[_shellper]") == "user:shellper-accept-line 1"


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
@pytest.mark.parametrize("manager", ZSH_MANAGERS)
def test_without_the_shellper_command_the_zsh_plugin_says_how_to_install_it_and_binds_nothing(shell_env, tmux, ollama, root, work, manager):
    pane = zsh_pane(shell_env, tmux, root, work, manager, before=f"PATH='{no_shellper_path()}'")
    if "turbo" in manager:  # loaded after the first prompt's hooks ran: said at the next prompt
        time.sleep(0.5)
        pane.send("Enter")
    pane.wait_for(MISSING, since_mark=False)
    time.sleep(0.3)
    assert screen_lines(pane) == [MISSING], pane.screen()  # one line, with the fix
    assert probe(pane, "${$(bindkey '^G')#* }") == "send-break"  # Ctrl-G is zsh's own
    assert probe(pane, "$widgets[accept-line]") == "builtin"
    pane.run("echo after")
    assert screen_lines(pane).count(MISSING) == 1  # said once, not at every prompt
    new = set(probe(pane, "${(j: :)__t_new}").split())
    assert new <= {"precmd_functions", "__t_before", "__t_new"}, new  # not even a __shellper_ variable


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
def test_the_zsh_plugin_uses_the_init_file_install_sh_wrote_without_shellper_on_path(shell_env, tmux, ollama, root, work):
    data_home = os.path.join(root, "data")
    write_init_file(shell_env, data_home, "zsh")
    pane = zsh_pane(shell_env, tmux, root, work, "oh-my-zsh", before=f"PATH='{no_shellper_path()}'\nexport XDG_DATA_HOME='{data_home}'")
    time.sleep(0.3)
    assert screen_lines(pane) == [], pane.screen()
    cd_round_trip(shell_env, ollama, pane, work, "go into reports from the init file")


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
def test_loaded_by_a_manager_and_by_the_rc_line_zsh_binds_once(shell_env, tmux, ollama, root, work):
    pane = zsh_pane(shell_env, tmux, root, work, "oh-my-zsh", after='eval "$(shellper init zsh)"')
    assert screen_lines(pane) == [], pane.screen()
    assert probe(pane, "${(@M)__t_new:#__shellper_socket}") == "__shellper_socket"  # oh-my-zsh loaded it first
    hooks = (
        "${(@M)precmd_functions:#__shellper*} ${(@M)preexec_functions:#__shellper*} "
        "${(@M)zshaddhistory_functions:#__shellper*} ${(@M)zshexit_functions:#__shellper*} "
        "$widgets[accept-line] $+widgets[_shellper-orig-accept-line]"
    )
    assert probe(pane, hooks) == "__shellper_precmd __shellper_preexec __shellper_addhistory __shellper_exit user:shellper-accept-line 0"
    request = "go into reports, loaded twice"
    cd_round_trip(shell_env, ollama, pane, work, request)  # reported once: one exchange
    assert asked(ollama, request) == 1
    ollama.answer("make a folder, loaded twice", "mkdir", {"dir_name": "made"})
    translate(pane, "#? make a folder, loaded twice", key="Enter")
    pane.wait_line("mkdir made", timeout=20)
    assert asked(ollama, "make a folder, loaded twice") == 1


@pytest.mark.skipif(not have("zsh"), reason="needs zsh")
def test_the_zsh_plugin_is_immune_to_aliases_and_set_u_before_it_loads(shell_env, tmux, ollama, root, work):
    # antidote keeps the user's aliases on while it sources a plugin (zinit turns them off).
    load = antidote(root, before_load=hostile_aliases("zsh") + "\nset -u")
    pane = shell_env.zsh(tmux, cwd=work, load=load)
    time.sleep(0.3)
    assert screen_lines(pane) == [], pane.screen()  # no HOSTILE-..., no "parameter not set"
    ollama.answer("alias-proof request", "cd", {"folder": "reports"})
    translate(pane, "alias-proof request")
    pane.wait_line("cd reports", timeout=20)


# -- fish: fisher ------------------------------------------------------------------------------


def fisher_install(shell_env, config_home: str, folder: str, extra_env: dict | None = None) -> str:
    """`fisher install FOLDER` with the vendored fisher, as a user runs it (here not interactive)."""
    run_env = dict(shell_env.env, XDG_CONFIG_HOME=config_home, **(extra_env or {}))
    fisher = os.path.join(VENDOR, "fisher", "fisher.fish")
    out = subprocess.run(
        ["fish", "-c", f"source '{fisher}'; fisher install '{folder}'"], env=run_env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "Installed 1 plugin/s" in out.stdout, out.stdout + out.stderr
    return out.stdout


def fish_pane(shell_env, tmux, work, config_home: str, rc: str = "", extra_env: dict | None = None):
    """An interactive fish whose config dir is `config_home` (fisher's conf.d there loads at start)."""
    text = (
        "set -g fish_greeting ''\n"
        f"function fish_prompt; builtin printf '%s' '{PROMPT}'; end\n"
        "function fish_right_prompt; end\nfunction fish_title; end\n"
        f"{QUIET_FISH}\n{rc}\n"
    )
    path = _write(os.path.join(os.path.dirname(work), f"rc-{time.monotonic_ns()}.fish"), text)
    pane_env = dict(shell_env.env, XDG_CONFIG_HOME=config_home, SHELLPER_TEST_FISH_RC=path, **(extra_env or {}))
    pane = tmux.spawn(["fish", "-i", "-C", "source $SHELLPER_TEST_FISH_RC"], pane_env, cwd=work)
    pane.wait_for(re.compile(re.escape(PROMPT.rstrip()) + r"\s*$"), timeout=15)
    return pane


needs_fish = pytest.mark.skipif(not have("fish"), reason="needs fish")


@needs_fish
def test_fisher_installs_the_fish_folder_and_ctrl_g_works_at_once_and_in_new_shells(shell_env, tmux, ollama, root, work):
    src = checkout(os.path.join(root, "src", "shellper"))
    config = os.path.join(root, "config")
    names = os.path.join(root, "globals")
    pane = fish_pane(shell_env, tmux, work, config, rc=f"source '{os.path.join(VENDOR, 'fisher', 'fisher.fish')}'")
    pane.run(f"set --global --names > {names}.before")
    pane.run(f"fisher install {src}/shell/fish", wait="Installed 1 plugin/s", timeout=30)
    pane.run(f"set --global --names > {names}.after")
    assert os.path.isfile(os.path.join(config, "fish", "conf.d", "shellper.fish"))
    cd_round_trip(shell_env, ollama, pane, work, "go into reports right after fisher install")
    # fisher sourced the file inside its own function: the same globals as `shellper init fish | source`
    # makes (the settings and state), and none of the loader's own.
    control = fish_pane(shell_env, tmux, work, os.path.join(root, "plain"))
    control.run(f"set --global --names > {names}.c-before; shellper init fish | source; set --global --names > {names}.c-after")
    new, expected = (
        _words(f"{names}.{after}") - _words(f"{names}.{before}") for before, after in (("before", "after"), ("c-before", "c-after"))
    )
    assert new and new == expected, (new, expected)
    # A new fish reads conf.d at start (outside any function): the same globals again.
    pane = fish_pane(shell_env, tmux, work, config)
    assert screen_lines(pane) == [], pane.screen()
    pane.run(f"set --global --names > {names}.new-shell")
    assert _words(f"{names}.new-shell") == _words(f"{names}.c-after")
    cd_round_trip(shell_env, ollama, pane, work, "go into reports in a new fish")


@needs_fish
def test_fisher_remove_takes_shellper_out_of_the_running_fish(shell_env, tmux, ollama, root, work):
    src = checkout(os.path.join(root, "src", "shellper"))
    config = os.path.join(root, "config")
    pane = fish_pane(shell_env, tmux, work, config, rc=f"source '{os.path.join(VENDOR, 'fisher', 'fisher.fish')}'")
    enter_before = probe_fish(pane, "(bind \\r | string join ' ')")
    pane.run(f"fisher install {src}/shell/fish", wait="Installed 1 plugin/s", timeout=30)
    cd_round_trip(shell_env, ollama, pane, work, "go into reports before fisher remove")
    assert shell_env.history(pane.pid)["exchanges"]
    pane.run(f"fisher remove {src}/shell/fish", wait="Removed 1 plugin/s", timeout=30)
    assert not os.path.exists(os.path.join(config, "fish", "conf.d", "shellper.fish"))
    # Nothing of shellper is left in this shell, and fish's own Enter is back.
    assert probe_fish(pane, "(functions -a -n | string match '__shellper*' | count)") == "0"
    assert probe_fish(pane, "(set -g -n | string match '__shellper*' | count)") == "0"
    assert probe_fish(pane, "(complete -c shellper | count)") == "0"
    assert "__shellper" not in probe_fish(pane, "(bind \\cg | string join ' ')")
    assert probe_fish(pane, "(bind \\r | string join ' ')") == enter_before
    # Ctrl-G and "#?" + Enter do what they do without shellper: no request reaches the model.
    before = len(ollama.requests)
    pane.run("#? go into reports after fisher remove")
    pane.type("go into reports after remove")
    pane.send("C-g")
    time.sleep(0.5)
    assert len(ollama.requests) == before
    # The daemon forgot this terminal's conversation.
    wait_until(lambda: not shell_env.history(pane.pid)["exchanges"], timeout=5)


@needs_fish
def test_without_the_shellper_command_the_fisher_plugin_says_how_to_install_it_and_binds_nothing(shell_env, tmux, ollama, root, work):
    src = checkout(os.path.join(root, "src", "shellper"))
    config = os.path.join(root, "config")
    fisher_install(shell_env, config, f"{src}/shell/fish")
    pane = fish_pane(shell_env, tmux, work, config, extra_env={"PATH": no_shellper_path()})
    pane.wait_for(MISSING, since_mark=False)
    assert screen_lines(pane) == [MISSING], pane.screen()
    assert "__shellper_translate" not in probe_fish(pane, "(bind \\cg | string join ' ')")
    assert probe_fish(pane, "(functions -n | string match -e __shellper | count)") == "0"


@needs_fish
def test_the_fisher_plugin_uses_the_init_file_install_sh_wrote_without_shellper_on_path(shell_env, tmux, ollama, root, work):
    src = checkout(os.path.join(root, "src", "shellper"))
    config = os.path.join(root, "config")
    data_home = os.path.join(root, "data")
    write_init_file(shell_env, data_home, "fish")
    fisher_install(shell_env, config, f"{src}/shell/fish")
    pane = fish_pane(shell_env, tmux, work, config, extra_env={"PATH": no_shellper_path(), "XDG_DATA_HOME": data_home})
    assert screen_lines(pane) == [], pane.screen()
    cd_round_trip(shell_env, ollama, pane, work, "go into reports, fish from the init file")


@needs_fish
def test_loaded_by_fisher_and_by_the_config_line_fish_binds_once(shell_env, tmux, ollama, root, work):
    src = checkout(os.path.join(root, "src", "shellper"))
    config = os.path.join(root, "config")
    fisher_install(shell_env, config, f"{src}/shell/fish")
    pane = fish_pane(shell_env, tmux, work, config, rc="shellper init fish | source")
    assert probe_fish(pane, "(string join ' ' (bind -M default \\cg | count) (bind -M insert \\cg | count))") == "1 1"
    request = "go into reports, fish loaded twice"
    cd_round_trip(shell_env, ollama, pane, work, request)
    assert asked(ollama, request) == 1
