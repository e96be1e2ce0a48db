"""The `shellper` command.

The `ask` path runs on the prompt's hot path, so this module imports only
the standard library at the top; heavier modules load inside the
subcommands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .render import sh_quoted
from .show import safe, safe_json

EXIT_ERROR = 1
EXIT_REFUSED = 3

DESCRIPTION = """\
Turn a request in plain words into one shell command, with a small local model.

In your shell, type a request and press Ctrl-G (or type `#? request` and
Enter): the line becomes a command you can review, edit and run. Set it up
with: eval "$(shellper init zsh)"   (or bash) in your rc file.
"""


_UNDO_HELP = """\
Print the command that takes back this terminal's latest change (or change N)
on stdout, and what it will do on stderr. To run it, type `#? undo` (or
`#? undo N`) at your prompt and press Enter, or type `undo` (or `undo N`) and
press Ctrl-G: the command is put on the line, and Enter checks the files again
before it runs. This command only prints it: a program cannot edit its shell's
line. `shellper undo --list` shows the changes and their numbers.

A restore never overwrites a file that changed since (it puts the old one
beside it, as NAME.restored) and never removes what the change did not make.
Exit 0 with the command, 1 when there is nothing to undo, 3 when the files
changed so that it cannot be taken back now.

What is kept: when you press Enter on a suggestion that deletes, replaces or
changes files, shellper first keeps what it will destroy (hard links on the
same file system, copies otherwise) in the undo folder:
  {folder}
It is private (0700) and holds one numbered folder per change, kept for
undo_days days (default 7) and at most undo_max_mb MiB in all (default 1024;
the oldest go first). `shellper undo --forget` deletes them, and so does
`./install.sh --uninstall --purge`. This command works without the daemon.
"""


def _session_help() -> str:
    return "the shell's PID whose conversation to use (default: the shell that runs this command)"


def _die(message: str, code: int = EXIT_ERROR) -> int:
    sys.stderr.write(f"shellper: {safe(message)}\n")
    return code


def _pid(value: str) -> int:
    """argparse type for --session: a PID the daemon will accept."""
    try:
        pid = int(value)
    except ValueError:
        pid = 0
    if not 0 < pid <= 2**31:
        raise argparse.ArgumentTypeError(f"wants a shell's PID (a positive whole number), not {value!r}")
    return pid


def _request(req: dict, autostart: bool = True, timeout: float | None = None) -> dict:
    from .client import safe_request

    reply = safe_request(req, autostart, timeout)
    if autostart and not reply.get("ok") and reply.get("kind") == "daemon":
        return _why_no_daemon() or reply
    return reply


def _why_no_daemon() -> dict | None:
    """A daemon that did not start: the cause and its fix instead of "see the log"."""
    from . import protocol
    from .doctor import daemon_start_problem

    known = daemon_start_problem()
    return protocol.error(f"the daemon cannot start: {known[0]}; {known[1]}", "daemon") if known else None


# ---- subcommands -------------------------------------------------------------


def cmd_ask(args) -> int:
    from .client import wire
    from .protocol import MAX_REQUEST

    text = " ".join(args.text).strip()
    if not text:
        return _die("nothing to ask: give a request, e.g. shellper ask show the last 20 lines of app.log")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # argv bytes that are not UTF-8 arrive surrogate-escaped
        return _die("the request is not valid UTF-8 text; retype it")
    try:
        cwd = os.getcwd()
    except OSError:
        return _die("the current directory no longer exists; cd to one that does and ask again")
    req = {
        "op": "translate",
        "session": args.session or os.getppid(),
        "cwd": cwd,
        "text": text,
        "commit": not args.no_commit,
    }
    try:
        cwd.encode("utf-8")
    except UnicodeEncodeError:
        return _die("the current directory's name is not valid UTF-8; cd elsewhere and ask again")
    if len(wire(req)) > MAX_REQUEST:
        return _die(f"the request is too long ({len(text)} characters); say it in fewer words")
    reply = _request(req)
    if not reply.get("ok"):
        return _die(reply.get("error", "unknown error"), EXIT_REFUSED if reply.get("kind") == "refused" else EXIT_ERROR)
    effect = reply.get("effect") or ""
    for line in ([effect] if effect else []) + reply.get("warnings", []):
        sys.stderr.write(f"shellper: {safe(line)}\n")
    if args.json:
        print(safe_json({"command": reply["command"], "call": reply["call"], "warnings": reply.get("warnings", []), "effect": effect}))
    else:
        # Newlines and tabs can be part of a command (quoted echo content); nothing else is.
        print(safe(reply["command"], keep="\n\t"))
    return 0


def cmd_explain(args) -> int:
    """What a typed command will do, without the model or the daemon."""
    from .effect import describe
    from .errors import Refused
    from .readback import read_back
    from .render import quote
    from .turns import vet

    # One argument is the line as typed; several are words the shell already unquoted.
    line = args.command[0].strip() if len(args.command) == 1 else " ".join(quote(w) for w in args.command)
    if not line:
        return _die("nothing to explain: give a command, e.g. shellper explain rm -r build")
    call = read_back(line)
    if call is None:
        return _die(
            f"{safe(line)!r} is not one of the 18 file commands shellper knows (ls, cd, cat, cp, mv, rm, ...),"
            " so it cannot say what it does; check it yourself before running it"
        )
    try:
        cwd = os.getcwd()
    except OSError:
        return _die("the current directory no longer exists; cd to one that does and try again")
    recursive = bool(call.tool.recursive) and line.split()[1:2] in (["-r"], ["-R"])
    try:  # one look at the files gives the line and the notes
        verdict = vet(call, cwd, allow_recursive=recursive)
        effect, notes = verdict.effect, verdict.warnings
    except Refused as exc:
        effect = describe(call, cwd, allow_recursive=recursive)
        notes = [str(exc).replace("refused: ", "shellper would refuse it: ", 1)]
    print(safe(effect))
    for note in notes:
        print(safe(note))
    return 0


def cmd_history(args) -> int:
    reply = _request({"op": "history", "session": args.session or os.getppid()})
    if not reply.get("ok"):
        return _die(reply.get("error", "unknown error"))
    if args.json:
        print(safe_json({"exchanges": reply["exchanges"], "pending": reply["pending"]}))
        return 0
    if not reply["exchanges"] and not reply["pending"]:
        print("(no history for this terminal yet)")
    for i, ex in enumerate(reply["exchanges"], 1):
        mark = "  (edited)" if ex["edited"] else ""
        print(f"{i:>3}. {safe(ex['request'])}\n     $ {safe(ex['command'])}{mark}")
    if reply["pending"]:
        print(f"  pending: {safe(reply['pending']['request'])}\n     $ {safe(reply['pending']['command'])}  (not run yet)")
    return 0


def cmd_reset(args) -> int:
    req = {"op": "reset", "all": True} if args.all else {"op": "reset", "session": args.session or os.getppid()}
    reply = _request(req)
    if not reply.get("ok"):
        return _die(reply.get("error", "unknown error"))
    what = "everything shellper stored (all terminals, corrections)" if args.all else "this terminal's conversation"
    print(safe(f"forgot {what} ({reply['removed']} records)"))
    return 0


def cmd_status(args) -> int:
    reply = _request({"op": "status"}, autostart=False, timeout=30)
    if not reply.get("ok"):
        running = reply.get("kind") != "daemon"  # it answered, with an error
        if args.json:
            print(safe_json({"ok": False, "running": running, "error": reply.get("error")}))
            return EXIT_ERROR
        if running:
            return _die(f"the daemon answered with an error: {reply.get('error')}")
        print(safe(f"daemon: not running ({reply.get('error')})"))
        print("it starts by itself on the first request; `shellper daemon` runs it in the foreground")
        return EXIT_ERROR
    if args.json:
        print(safe_json(reply))
        return 0
    server = reply["server"]
    print(safe(f"daemon:   pid {reply['pid']}, up {reply['uptime']:.0f} s, version {reply['version']}"))
    print(safe(f"socket:   {reply['socket']}"))
    print(safe(f"sessions: {reply['sessions']}"))
    print(safe(f"server:   {reply['base_url']} ({'reachable' if server.get('reachable') else 'NOT reachable'})"))

    def yn(v):
        return "unknown" if v is None else ("yes" if v else "no")

    print(safe(f"model:    {reply['model']}: present {yn(server.get('model_present'))}, loaded {yn(server.get('model_loaded'))}"))
    print(safe(f"          {server.get('message', '')}"))
    return 0


def cmd_stop(args) -> int:
    reply = _request({"op": "stop"}, autostart=False, timeout=10)
    if not reply.get("ok") and reply.get("kind") != "daemon":
        return _die(f"the daemon did not stop: {reply.get('error')}")
    if not reply.get("ok"):
        print("daemon: not running")
        return 0
    import time

    from . import paths

    deadline = time.monotonic() + 5
    while os.path.exists(paths.socket_path()) and time.monotonic() < deadline:
        time.sleep(0.02)
    print(safe(f"stopped the daemon (pid {reply['pid']})"))
    return 0


def cmd_daemon(args) -> int:
    from .daemon import main
    from .errors import ShellperError

    # daemon.main logs what it can; these escape it, and deserve one line, not a traceback.
    dirs_fix = "set XDG_STATE_HOME and XDG_RUNTIME_DIR to directories of yours"
    try:
        return main()
    except ShellperError as exc:
        fix = dirs_fix if exc.kind == "store" else "`shellper doctor` says more"
        return _die(f"the daemon cannot start: {exc}; {fix}")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _die(f"the daemon cannot start: {where}{exc.strerror or exc}; {dirs_fix}")


def cmd_config(args) -> int:
    from .errors import SettingsError
    from .settings import describe, load, unknown_env

    try:
        settings = load()
    except SettingsError as exc:
        return _die(str(exc))
    for line in unknown_env():
        sys.stderr.write(f"shellper: warning: {safe(line)}\n")
    from . import paths

    if args.json:
        print(safe_json({k: {"value": v, "source": s} for k, v, s in describe(settings)}))
        return 0
    path = paths.config_file()
    print(safe(f"# config file: {path}" + ("" if os.path.exists(path) else " (does not exist: defaults and environment only)")))
    for key, value, source in describe(settings):
        shown = value if key != "system_prompt" else (str(value)[:60] + "...")
        print(safe(f"{key:<20} = {json.dumps(shown)}   # {source}"))
    return 0


def shell_script_path(shell: str, name: str = "shellper") -> str:
    """shell/NAME.SHELL, in the package (installed) or beside it (a checkout)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for base in (os.path.join(here, "shell"), os.path.join(os.path.dirname(here), "shell")):
        path = os.path.join(base, f"{name}.{shell}")
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name}.{shell} (shell integration) is missing from this installation")


def shell_script(shell: str) -> str:
    with open(shell_script_path(shell), encoding="utf-8") as fh:
        return fh.read()


def _static_loader(shell: str, path: str) -> str:
    """Lines that source the installed script itself, so a file holding them
    costs a shell start only a file read and stays current after upgrades;
    once the script is gone they fall back to running `shellper init`."""
    me = os.path.abspath(sys.argv[0])  # this very command, as the rc file's fallback
    if os.path.basename(me) != "shellper":
        me = os.path.join(os.path.dirname(sys.executable), "shellper")
    if shell == "fish":
        from .render import quote

        return (
            f"if test -r {quote(path, 'fish')}\n    source {quote(path, 'fish')}\n"
            f"else if test -x {quote(me, 'fish')}\n"
            f"    command sh -c 'cd / && exec \"$0\" init fish' {quote(me, 'fish')} | source\nend\n"
        )
    if shell == "zsh":
        # Parsed with aliases off, as the eval form below does.
        load = f"() {{\n    'builtin' 'emulate' -L zsh -o no_aliases\n    'builtin' 'source' \"$1\"\n  }} {sh_quoted(path)}"
    else:
        load = f". {sh_quoted(path)}"
    # From /: with an empty entry in PYTHONPATH, Python would import the folder's files.
    return (
        f"if [ -r {sh_quoted(path)} ]; then\n  {load}\n"
        f'elif [ -x {sh_quoted(me)} ]; then\n  eval "$(cd / && {sh_quoted(me)} init {shell})"\nfi\n'
    )


def _no_aliases(text: str, shell: str) -> str:
    """zsh parses all of eval's text before running any: parse it again with aliases off,
    so the user's aliases cannot change it (bash's and fish's text sees to it itself)."""
    if shell != "zsh":
        return text
    return "() {\n  'builtin' 'emulate' -L zsh -o no_aliases\n  'builtin' 'eval' \"$1\"\n} " + sh_quoted(text) + "\n"


def cmd_init(args) -> int:
    from . import paths

    try:
        body = shell_script(args.shell)
        path = shell_script_path(args.shell)
    except FileNotFoundError as exc:
        return _die(str(exc))
    # The folder holding this package: the shells run the client with it on
    # sys.path as `python -I -S` (no site scan, nothing from the user's folder).
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.shell == "fish":
        from .render import quote

        out = (
            f"set -g __shellper_python {quote(sys.executable, 'fish')}\n"
            f"set -g __shellper_pkg {quote(pkg, 'fish')}\n"
            f"set -g __shellper_socket {quote(paths.socket_path(), 'fish')}\n"
        )
    else:
        out = (
            f"__shellper_python={sh_quoted(sys.executable)}\n__shellper_pkg={sh_quoted(pkg)}\n"
            f"__shellper_socket={sh_quoted(paths.socket_path())}\n"
        )
    from .completion import script

    completion = script(args.shell)
    if args.shell == "bash":  # parsed with aliases off, as the script itself is
        completion = (
            "\\builtin shopt -q expand_aliases && __shellper_a=1 || __shellper_a=0\n\\builtin shopt -u expand_aliases\n"
            + completion
            + "(( __shellper_a )) && \\builtin shopt -s expand_aliases\n\\builtin unset -v __shellper_a\n"
        )
    if args.static:
        out += _static_loader(args.shell, path) + _no_aliases(completion, args.shell)
    else:
        out += _no_aliases(body + completion, args.shell)
    # Paths as the system holds them: a folder named in another encoding comes back byte for byte.
    sys.stdout.flush()
    sys.stdout.buffer.write(out.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()
    return 0


def cmd_export(args) -> int:
    req = {"op": "export"}
    if args.since:
        req["since"] = args.since
    reply = _request(req)
    if not reply.get("ok"):
        return _die(reply.get("error", "unknown error"))
    from .export import NotPrivate, open_output

    try:
        out = open_output(args.output) if args.output else sys.stdout
    except NotPrivate as exc:
        return _die(f"{exc}; choose another file with -o")
    except OSError as exc:
        return _die(f"cannot write {args.output}: {exc.strerror or exc}; choose another file with -o")
    try:
        for conv in reply["conversations"]:
            out.write(safe_json(conv) + "\n")
    finally:
        if args.output:
            out.close()
    if args.output:
        sys.stderr.write(safe(f"wrote {len(reply['conversations'])} conversations to {args.output}") + "\n")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import run

    return run()


def cmd_eval(args) -> int:
    if getattr(args, "general", False):
        from .general_eval import main as general_main

        return general_main(args)
    from .evaluate import main

    return main(args)


def _undo_shell() -> str:
    """The shell the restore is written for: the user's ($SHELL), as `shellper ask` has no
    shell of its own to ask; bash's quoting for any other."""
    name = os.path.basename(os.environ.get("SHELL", ""))
    return name if name in ("zsh", "bash", "fish") else "bash"


def _undo_days() -> int:
    from .errors import SettingsError
    from .settings import load

    try:
        return load().undo_days
    except SettingsError:  # `shellper config` names the bad value; the list still shows
        return 7


def _tilde(path: str, home: str) -> str:
    home = home.rstrip("/")
    return "~" + path[len(home) :] if home and (path == home or path.startswith(home + "/")) else path


def _not_private(root: str) -> str:
    """Why the undo folder must not be trusted ("" when it is ours and no one else may write
    it): its records become commands the user runs."""
    import stat

    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return ""
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return f"{root} is not a private folder of yours, so shellper does not read it; remove it"
    return ""


class _NoTerminal(Exception):
    """No shell to take the terminal's changes from (its message says what to do)."""


def _terminal(args):
    """This terminal's key (store.SessionKey): its shell's PID and start time."""
    from .store import session_key

    pid = args.session or os.getppid()
    try:
        return session_key(pid)
    except ProcessLookupError:
        raise _NoTerminal(f"no shell with PID {pid} is running; give a running shell's PID with --session") from None
    except PermissionError as exc:
        raise _NoTerminal(f"{exc}; give your shell's PID with --session") from None


def _undo_list(args, store, cwd: str, home: str, shell: str) -> None:
    from . import undo

    try:
        key = _terminal(args)
    except _NoTerminal:
        if not args.all:
            raise
        key = None  # every terminal's: none of them is marked as this one
    changes = store.changes(None if args.all else key)
    if not changes:
        days = _undo_days()
        if days <= 0:
            print("nothing can be undone: undo is off (setting undo_days is 0)")
            return
        print(
            f"nothing can be undone{'' if args.all else ' in this terminal'}: shellper keeps what a suggestion deletes "
            "or changes only when you run it with Enter after its check at the prompt (not `shellper ask`, not a "
            f"command you typed), for {days} days (setting undo_days)"
        )
        others = 0 if args.all else len(store.changes())
        if others:
            print(f"`shellper undo --list --all` shows the {others} change{'s' if others != 1 else ''} of other terminals")
        return
    mine = {c.get("id") for c in store.changes(key)} if key is not None else set()
    print(("every terminal's" if args.all else "this terminal's") + " changes kept for undo, newest first:")
    width = max(len(str(c.get("id"))) for c in changes)
    for change in changes:
        try:
            made = undo.restore(change, store.folder(change["id"]), cwd, home, shell)
            when, command = undo._when(change["made"]), change["command"]
        except (KeyError, TypeError, ValueError, AttributeError):  # a record damaged by hand: the rest still show
            print(safe(f"  {change.get('id')!s:>{width}}  (its record is damaged; `shellper undo --forget` removes it)"))
            continue
        where = [] if change.get("cwd") == cwd else [f"in {_tilde(str(change.get('cwd')), home)}"]
        if args.all and change.get("id") not in mine:
            where.append("another terminal")
        print(safe(f"  {change['id']:>{width}}  {when:<15} {command}" + (f"   ({', '.join(where)})" if where else "")))
        # The effect line without its "(as before `command`, when)": the line above says that.
        said = made.effect.rsplit(" (as before `", 1)[0] if made.effect else f"cannot be undone now: {made.refused}"
        print(safe(f"  {'':>{width}}  {said}"))
    print("`shellper undo N` prints the command that takes change N back; `#? undo N` puts it on your prompt")


def cmd_undo(args) -> int:
    """Works without the daemon: the undo folder is read (or emptied) directly."""
    from . import paths
    from .undo_store import UndoStore, restore_for

    if args.number is not None and (args.list or args.forget):
        return _die("give a change's number, or --list, or --forget, not two of them", 2)
    if args.list and args.forget:
        return _die("--list or --forget, not both", 2)
    if args.all and not (args.list or args.forget):
        return _die("--all goes with --list or --forget (`shellper undo N` takes back any terminal's change N)", 2)
    store = UndoStore(paths.undo_dir())
    try:
        if args.forget:
            gone = store.forget(None if args.all else _terminal(args))
            whose = "" if args.all else " of this terminal"
            if gone:
                plural = "s" if gone != 1 else ""
                print(f"forgot {gone} change{plural}{whose}: their kept copies are deleted and undo cannot take them back")
            else:
                print(f"nothing was kept{whose}; nothing to forget")
            return 0
        why = _not_private(store.root)
        if why:
            return _die(why)
        try:
            cwd = os.getcwd()
        except OSError:
            return _die("the current directory no longer exists; cd to one that does and try again")
        home, shell = os.path.expanduser("~"), _undo_shell()
        if args.list:
            _undo_list(args, store, cwd, home, shell)
            return 0
        # Change N is found by its number, whichever terminal made it; the latest is this terminal's.
        key = _terminal(args) if args.number is None else None
    except _NoTerminal as exc:
        return _die(str(exc))
    try:
        found = restore_for(store, key, args.number, cwd, home, shell)
    except (KeyError, TypeError, ValueError, AttributeError):  # a record damaged by hand
        return _die("the change's record in the undo folder is damaged; `shellper undo --forget` removes it")
    if found.refused:
        nothing = found.refused.startswith(("nothing to undo", "there is no change"))
        return _die(f"cannot undo: {found.refused}", EXIT_ERROR if nothing else EXIT_REFUSED)
    sys.stderr.write(f"shellper: {safe(found.effect)}\n")
    sys.stderr.write(
        f"shellper: `#? undo {found.number}` + Enter (or `undo {found.number}` + Ctrl-G) puts it on your prompt line,"
        " where Enter checks the files again before it runs (a program cannot edit its shell's line)\n"
    )
    print(safe(found.command, keep="\n\t"))
    return 0


def _change_number(value: str) -> int:
    """argparse type for `undo N`: a change's number, as `undo --list` shows it."""
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 10**9):
        raise argparse.ArgumentTypeError(f"wants a change's number, as `shellper undo --list` shows it, not {value!r}")
    return int(value)


def _quantization(value: str) -> str:
    """argparse type for setup-model --quantize: a known level, in any case."""
    from .model_setup import quantization

    try:
        return quantization(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_setup_model(args) -> int:
    from .model_setup import main

    return main(args)


# ---- parser ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    # argparse quotes some values with repr() but prints unrecognized arguments raw.
    def error(self, message):
        super().error(safe(message))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="shellper", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"shellper {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, func, help_, desc=None):
        sp = sub.add_parser(name, help=help_, description=desc or help_)
        sp.set_defaults(func=func)
        return sp

    sp = add(
        "ask",
        cmd_ask,
        "translate a request into a command and print it",
        "Print the policy-checked command for TEXT on stdout (warnings on stderr). The request continues "
        "this terminal's conversation and is recorded at once as run. Exit 0 on success, 1 on an error, "
        "3 when the policy refuses the command.",
    )
    sp.add_argument("text", nargs="+", metavar="TEXT", help="the request, e.g. go into the src folder")
    sp.add_argument("--session", type=_pid, metavar="PID", help=_session_help())
    sp.add_argument("--no-commit", action="store_true", help="keep the answer pending instead of recording it as run")
    sp.add_argument("--json", action="store_true", help="print the command, the tool call and warnings as JSON")

    sp = add(
        "explain",
        cmd_explain,
        "say what a command will do to your files, in plain words",
        "For a command typed by hand that is one of the 18 tool shapes (rm old.log, mv a.txt docs, ...), print "
        "one line on what it will do to the files here (deletes, changes, creates, reads, moves the shell), then "
        "any note or warning of the policy. Nothing is run, no model is asked. Exit 1 for any other command.",
    )
    sp.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="the command, quoted as one argument or as words (options such as -r included)",
    )

    sp = add("history", cmd_history, "show this terminal's conversation (what the model sees)")
    sp.add_argument("--session", type=_pid, metavar="PID", help=_session_help())
    sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = add(
        "reset",
        cmd_reset,
        "forget this terminal's conversation",
        "Forget this terminal's conversation, so the next request starts fresh. With --all, delete "
        "everything shellper stored: every terminal's history and the saved corrections.",
    )
    sp.add_argument("--session", type=_pid, metavar="PID", help=_session_help())
    sp.add_argument("--all", action="store_true", help="delete all stored conversations and corrections")

    sp = add("status", cmd_status, "show the daemon, its sessions and the model server")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    add("stop", cmd_stop, "stop the daemon (it restarts by itself on the next request)")
    add("daemon", cmd_daemon, "run the daemon in the foreground (for service managers and debugging)")
    add("doctor", cmd_doctor, "check everything shellper needs; each line is a check with OK or a fix")
    sp = add("config", cmd_config, "show the effective settings and where each value comes from")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp = add(
        "init",
        cmd_init,
        "print the shell integration",
        'Print the shell integration. Add this line to your rc file:  eval "$(shellper init zsh)"  (or bash; '
        "fish: shellper init fish | source). "
        "Set SHELLPER_KEY before it to use another key than Ctrl-G.",
    )
    sp.add_argument("shell", choices=("zsh", "bash", "fish"))
    sp.add_argument(
        "--static",
        action="store_true",
        help="print lines that source the installed script file instead of its text: saved to a file that the rc "
        "file sources, a new shell pays a file read, not a Python start (install.sh does this)",
    )
    sp = add(
        "export",
        cmd_export,
        "write your corrected suggestions as training data (JSONL)",
        "Write every suggestion you edited before running it, with your corrected call as the answer, in "
        "the model trainer's JSONL format (one conversation a line).",
    )
    sp.add_argument("--since", metavar="DATE", help="only corrections made on or after DATE (e.g. 2026-11-01)")
    sp.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    from . import paths

    sp = sub.add_parser(
        "undo",
        help="take back a change a suggestion made to your files",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_UNDO_HELP.format(folder=paths.undo_dir()),
    )
    sp.set_defaults(func=cmd_undo)
    sp.add_argument("number", nargs="?", type=_change_number, metavar="N", help="the change to take back (default: this terminal's latest)")
    sp.add_argument("--list", action="store_true", help="list this terminal's changes that can be undone, newest first")
    sp.add_argument("--forget", action="store_true", help="delete this terminal's kept changes (they can no longer be undone)")
    sp.add_argument("--all", action="store_true", help="with --list or --forget: every terminal's changes")
    sp.add_argument(
        "--session", type=_pid, metavar="PID", help="the shell's PID whose changes to use (default: the shell that runs this command)"
    )

    sp = add(
        "eval",
        cmd_eval,
        "measure the model's tool-call accuracy on a test set",
        "Send each conversation of DATASET to the model server exactly as the daemon would and score the "
        "answers: single tool-call accuracy, implied and measured N-turn accuracy, per tool. With --model "
        "given more than once, compare the models side by side: accuracy, median and p90 latency per request, "
        "and each one's difference from the first (e.g. --model distil_model --model distil_model:q4_K_M). "
        "With --general, score the general model instead: each request's command is run for real in a throwaway "
        "folder and right when its effect is. "
        "Exit 0 once scored (whatever the accuracy), 1 when the server or a model is unavailable, 2 on bad input.",
    )
    sp.add_argument(
        "dataset",
        nargs="?",
        metavar="DATASET.jsonl",
        help="test set (default: the packaged BFCL file-system set; with --general, the packaged general set)",
    )
    sp.add_argument("--base-url", metavar="URL", help="model server (default: the configured base_url)")
    sp.add_argument(
        "--model", metavar="NAME", action="append", help="model name (default: the configured model); repeat it to compare models"
    )
    sp.add_argument("--json", action="store_true", help="print the results as JSON")
    sp.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="requests in flight at once (default 4; when comparing models, and with --general, 1, so a latency is one "
        "request's own, not time queued behind others)",
    )
    sp.add_argument(
        "--general",
        action="store_true",
        help="score the general model (general_model, or the --model names) on requests the 18 file tools cannot serve: "
        "each command runs in a throwaway folder (as nobody when run as root), and is right when its effect is",
    )

    sp = add("ssh", cmd_ssh, "ssh to a server whose zsh then uses this laptop's shellper", SSH_HELP)
    # (main() hands `shellper ssh ...` to cmd_ssh before parsing: these are for --help and completion)
    how = sp.add_mutually_exclusive_group()
    how.add_argument("--setup", action="store_true", help="install the server's half on HOST")
    how.add_argument("--remove", action="store_true", help="remove the server's half from HOST")
    sp.add_argument(
        "ssh_args",
        nargs=argparse.REMAINDER,
        metavar="[SSH OPTIONS] HOST [COMMAND]",
        help="what ssh takes (e.g. -p 2222 me@web1)",
    )

    sp = add(
        "setup-model",
        cmd_setup_model,
        "download the SHELLper model and create it in Ollama",
        "Download the model's GGUF (fp16) and Modelfile from Hugging Face, have `ollama create` quantize it "
        "(q8_0 unless --quantize says otherwise), and check that it answers. The default is created under the "
        "configured model name; another quantization as NAME:QUANT (distil_model:q4_K_M), next to it, so "
        "`shellper eval --model distil_model --model distil_model:q4_K_M` can compare them.",
    )
    sp.add_argument(
        "--quantize",
        type=_quantization,
        metavar="{q8_0,q4_K_M,fp16}",
        help="q8_0 (default): half fp16's size and faster on a CPU, answers close to fp16's; q4_K_M: smaller "
        "and faster still, but a 0.6B model loses the most accuracy at 4 bits (check with `shellper eval`); "
        "fp16: the downloaded weights as they are",
    )
    sp.add_argument(
        "--repo",
        default="distil-labs/distil-qwen3-0.6b-SHELLper",
        help="Hugging Face repository, or a folder holding model_fp16.gguf and Modelfile",
    )
    sp.add_argument("--dir", metavar="DIR", help="where to keep the downloaded files (default: the data dir)")
    sp.add_argument("--yes", action="store_true", help="do not ask before installing the download helper")
    sp.add_argument(
        "--general",
        metavar="NAME",
        help="instead: pull NAME (any Ollama model, e.g. qwen2.5-coder:3b, about 1.9 GB) for the opt-in general_model "
        "setting, and check that it answers with a command",
    )
    return p


def cmd_ssh(args) -> int:
    """`shellper ssh ...`: its arguments are ssh's, so main() hands them over before argparse."""
    from . import ssh

    rest = list(args.ssh_args)
    if rest[:1] in (["--setup"], ["--remove"]):
        return ssh.setup(rest[1:], remove=rest[0] == "--remove")
    return ssh.run(rest)


SSH_HELP = (
    "Connect with ssh, and let the server's zsh and bash use this laptop's shellper: Ctrl-G and `#? request` "
    "there are answered here, by your model, and judged on the server's own files (its shell sends what the "
    "paths are; nothing of this laptop is looked at). Like ForwardAgent, a host must be opted in (setting "
    "ssh_hosts): whoever is root on the server can use the forward while you are connected. Each connection gets "
    "a fresh random socket on the server (ssh -R, ExitOnForwardFailure), its own token and its own conversation; "
    "it ends with the connection. `shellper ssh --setup HOST` installs the server's half (~/.config/shellper/"
    "remote.zsh and remote.bash, and a block in ~/.zshrc and ~/.bashrc); `--remove HOST` takes them away. bash "
    "there needs python3 (it cannot open a Unix socket); fish there is not served yet; mosh cannot forward sockets."
)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["ssh"] and argv[1:2] not in (["-h"], ["--help"]):
        from .errors import ShellperError

        try:
            return cmd_ssh(argparse.Namespace(ssh_args=argv[1:]))
        except KeyboardInterrupt:
            return 130
        except ShellperError as exc:
            return _die(str(exc))
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # e.g. stdout on a full disk: one line, not a traceback
        return _die(f"{args.command} failed: {exc.strerror or exc}")


if __name__ == "__main__":
    sys.exit(main())
