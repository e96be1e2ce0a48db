"""`shellper ssh [ssh options] HOST [command]`: this laptop's shellper in a server's shell.

Like ssh-agent forwarding: the daemon opens a forward of its own for this connection
(forward.py), and ssh forwards a fresh random socket on the server to it (`-R`,
ExitOnForwardFailure), telling the server's shell where it is (SetEnv LC_SHELLPER_SOCK and
LC_SHELLPER_TOKEN: Debian's sshd accepts LC_*). The forward closes when ssh ends. A host must
be opted in (setting ssh_hosts), as ForwardAgent is. `--setup HOST` installs the server's half
(shell/shellper-remote.zsh and .bash, a file and an rc block each); `--remove HOST` takes them away.
"""

from __future__ import annotations

import fnmatch
import os
import secrets
import subprocess
import sys

from . import paths

# ssh's options that take an argument (OpenSSH 9: ssh(1) SYNOPSIS).
_WITH_ARG = set("BbcDEeFIiJLlmOoPpQRSWw")
BEGIN, END = "# >>> shellper remote >>>", "# <<< shellper remote <<<"


def destination(args: list) -> tuple:
    """(index of the destination in ssh's arguments, the host it names) or (None, "")."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a.startswith("-") and len(a) > 1:
            letter = a[1]
            i += 2 if letter in _WITH_ARG and len(a) == 2 else 1
            continue
        break
    if i >= len(args):
        return None, ""
    host = args[i].rsplit("@", 1)[-1]
    if host.startswith("ssh://"):
        host = host[6:].rsplit("@", 1)[-1].split(":", 1)[0]
    return i, host


def allowed(host: str, patterns: str) -> bool:
    return any(fnmatch.fnmatchcase(host, p) for p in patterns.replace(",", " ").split())


def _die(message: str) -> int:
    sys.stderr.write(f"shellper ssh: {message}\n")
    return 2


def run(args: list) -> int:
    from .client import safe_request
    from .settings import load

    index, host = destination(args)
    if index is None:
        return _die("give the host to connect to, e.g. shellper ssh myserver (ssh's options before it)")
    settings = load()
    if not allowed(host, settings.ssh_hosts):
        return _die(
            f'{host} is not opted in: add it to ssh_hosts in {paths.config_file()} (e.g. ssh_hosts = "{host}"), '
            "as you would ForwardAgent: whoever is root there can use the forward while you are connected"
        )
    made = safe_request({"op": "forward", "owner": str(os.getpid())})
    if not made.get("ok"):
        return _die(made.get("error", "the daemon did not open a forward"))
    remote = f"/tmp/shellper-{secrets.token_hex(12)}.sock"  # new each time: nothing left by an earlier session blocks it
    argv = [
        "ssh",
        "-o",
        "ExitOnForwardFailure=yes",
        "-R",
        f"{remote}:{made['socket']}",
        "-o",
        f"SetEnv=LC_SHELLPER_SOCK={remote} LC_SHELLPER_TOKEN={made['token']}",
        *args,
    ]
    try:
        return subprocess.call(argv)
    except FileNotFoundError:
        return _die("there is no ssh on PATH")
    except KeyboardInterrupt:
        return 130
    finally:
        safe_request({"op": "unforward", "id": made["id"]}, autostart=False)


def setup(args: list, remove: bool = False) -> int:
    """Install (or remove) the server's half: one file per shell and a block in its rc file, nothing else."""
    from .cli import shell_script_path

    index, host = destination(args)
    if index is None:
        return _die("give the host, e.g. shellper ssh --setup myserver")
    for shell, rc in (("zsh", "~/.zshrc"), ("bash", "~/.bashrc")):
        remote = f"~/.config/shellper/remote.{shell}"
        block = f"{BEGIN}\n[ -r {remote} ] && . {remote}\n{END}\n"
        strip = f"sed -i.shellper-bak '/^{BEGIN}$/,/^{END}$/d' {rc} 2>/dev/null; rm -f {rc}.shellper-bak"
        if remove:
            command, data = f"{strip}; rm -f {remote}", b""
        else:
            command = f"mkdir -p ~/.config/shellper && cat > {remote} && touch {rc} && {strip}; printf '%b' '{block}' >> {rc}"
            with open(shell_script_path(shell, "shellper-remote"), "rb") as fh:
                data = fh.read()
        done = subprocess.run(["ssh", *args, command], input=data)
        if done.returncode != 0:
            return done.returncode
    what = "removed" if remove else "installed"
    print(f"shellper ssh: {what} the server's half on {host} (~/.config/shellper/remote.zsh and .bash, a block in ~/.zshrc and ~/.bashrc)")
    return 0
