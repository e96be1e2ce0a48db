"""A real OpenSSH server on loopback, for the `shellper ssh HOST` tests (issue 24).

    with Sshd() as sshd:
        sshd.run(sshd.user, "echo $LC_SHELLPER_SOCK", "-o", "SetEnv=LC_SHELLPER_SOCK=/tmp/x")
        subprocess.run(["ssh", "-F", sshd.client_config, "sp-loop", "true"])

Each Sshd is its own `/usr/sbin/sshd -D -e -f CONFIG` on 127.0.0.1 and a free port, with a
host key, pid file and config of its own (no PAM, public keys only, Unix-socket forwarding
allowed, `StreamLocalBindUnlink no`, `AcceptEnv LANG LC_*` as Debian has it, log at DEBUG1 in
a file: `log()`), and two throwaway REMOTE users (`user`, `other`: useradd, homes under a temp
base dir, zsh when installed). The LOCAL side is the test process (root): a client key pair
authorized for both users, and a client config (`Host sp-loop`, the host key pinned, BatchMode)
so `ssh -F client_config sp-loop CMD` runs without a prompt. `local_user()` adds a throwaway
unprivileged LOCAL user and runs commands as it (setpriv).

Names carry a random suffix, so parallel pytest workers never clash. Everything is undone by
`stop()` (also on exit, and a later run removes what a killed run left): the users' processes
(by pid), sshd and its connection processes (by pid), the users, their homes and the files
they left at the top of /tmp (forwarded sockets), and the temp dirs.

Root only: `unavailable()` says why not (or None); `require()` is pytest.skip with that reason.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

SSHD = "/usr/sbin/sshd"
HOST = "sp-loop"
# GECOS of every user made here: a later run removes the users of a dead pid.
_MARK = "shellper-ssh-harness pid="
_TMP = "/tmp"
_START_TIMEOUT = 30.0
_TIMEOUT = 30.0
_live: set[Sshd] = set()
_lock = threading.Lock()


class Unavailable(RuntimeError):
    """No real sshd here: the reason is the message."""


def unavailable() -> str | None:
    """Why a real sshd cannot be run here, or None."""
    if os.geteuid() != 0:
        return "the ssh harness needs root (it adds users and runs sshd)"
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is missing (apt-get install openssh-server)"
    for program in ("ssh", "ssh-keygen", "useradd", "userdel", "setpriv"):
        if shutil.which(program) is None:
            return f"{program} is missing"
    try:
        pwd.getpwnam("sshd")
    except KeyError:
        return "sshd's privilege separation user 'sshd' does not exist (openssh-server makes it)"
    return None


def require() -> None:
    """pytest.skip, saying why, where a real sshd cannot run."""
    import pytest

    reason = unavailable()
    if reason:
        pytest.skip(reason)


def _shell() -> str:
    return "/bin/zsh" if os.access("/bin/zsh", os.X_OK) else "/bin/bash"


def _alive(pid: int) -> bool:
    """The process runs (a zombie, dead and not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _procs() -> dict[int, tuple[int, set[int]]]:
    """pid -> (ppid, {real, effective, saved uids}) of every process now (zombies left out: they are dead)."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if fields["State"].split()[0] == "Z":
                continue
            table[int(name)] = (int(fields["PPid"]), {int(u) for u in fields["Uid"].split()[:3]})
        except (OSError, KeyError, ValueError):
            continue
    return table


def _descendants(pid: int) -> list[int]:
    table = _procs()
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _) in table.items():
            if ppid == parent and child not in found:
                found.append(child)
                todo.append(child)
    return found


def _owned_by(uids: set[int]) -> list[int]:
    me = os.getpid()
    return [pid for pid, (_, ids) in _procs().items() if ids & uids and pid != me]


def _kill(pids, timeout: float = 5.0) -> None:
    """SIGTERM each pid, then SIGKILL what is left after `timeout`."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _run(argv, timeout: float = _TIMEOUT, check: bool = True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _shadow_tool(argv, timeout: float = _TIMEOUT) -> subprocess.CompletedProcess:
    """useradd/usermod/userdel, again while another process holds /etc/passwd's lock (parallel workers)."""
    deadline = time.monotonic() + timeout
    while True:
        result = _run(argv, check=False)
        if result.returncode == 0 or "lock" not in result.stderr.lower() or time.monotonic() > deadline:
            return result
        time.sleep(0.1 + (uuid.uuid4().int % 100) / 500)


def _add_user(name: str, home: str | None, shell: str) -> pwd.struct_passwd:
    # -p '*': no password, yet not locked. With UsePAM no sshd refuses a locked account
    # (a shadow password starting with '!', useradd's default) even for a public key.
    argv = ["useradd", "-U", "-c", f"{_MARK}{os.getpid()}", "-s", shell, "-p", "*", "-K", "UMASK=022"]
    argv += ["-m", "-d", home] if home else ["-M", "-d", "/nonexistent"]
    result = _shadow_tool([*argv, name])
    if result.returncode != 0:
        raise RuntimeError(f"useradd {name} failed ({result.returncode}): {result.stderr.strip()}")
    return pwd.getpwnam(name)


def _remove_user(name: str) -> None:
    with contextlib.suppress(KeyError):
        uid = pwd.getpwnam(name).pw_uid
        _kill(_owned_by({uid}), 3)
        # -f: even while a process of its own is still there; -r: its home and mail spool.
        _shadow_tool(["userdel", "-f", "-r", name])
        _remove_tmp_files_of({uid})


def _remove_tmp_files_of(uids: set[int]) -> None:
    """The files these users left at the top of /tmp (forwarded sockets: sshd leaves them)."""
    with contextlib.suppress(OSError), os.scandir(_TMP) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid in uids:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)


def sweep_stale() -> None:
    """Remove what a run that is gone left behind (a killed pytest worker): users, sshd, temp dirs."""
    for entry in pwd.getpwall():
        if entry.pw_gecos.startswith(_MARK):
            pid = entry.pw_gecos[len(_MARK) :]
            if pid.isdigit() and not _alive(int(pid)):
                _remove_user(entry.pw_name)
    with contextlib.suppress(OSError):
        for name in os.listdir(_TMP):
            found = re.fullmatch(r"sp-sshd?-(\d+)-\w+", name)
            if found and not _alive(int(found.group(1))):
                path = os.path.join(_TMP, name)
                _stop_stale_sshd(path)
                shutil.rmtree(path, ignore_errors=True)


def _stop_stale_sshd(path: str) -> None:
    """The sshd of a dead run's dir (its pid file), with its connection processes."""
    try:
        with open(os.path.join(path, "sshd.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            mine = os.path.join(path, "sshd_config").encode() in f.read()
    except (OSError, ValueError):
        return
    if mine:
        _kill([pid, *_descendants(pid)], 5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalUser:
    """A throwaway unprivileged LOCAL user (no home, own group); run commands as it with setpriv."""

    def __init__(self, name: str, uid: int, gid: int):
        self.name, self.uid, self.gid = name, uid, gid

    # A clean environment: the test process's own (root's paths, TMPDIR...) is not the user's.
    ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}

    def argv(self, argv) -> list[str]:
        """argv prefixed to run as this user: no supplementary groups, root's none left."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--", *argv]

    def run(self, argv, timeout: float = _TIMEOUT, env=None, **kw) -> subprocess.CompletedProcess:
        """Run argv as this user (text, captured output, not checked)."""
        return subprocess.run(self.argv(argv), capture_output=True, text=True, timeout=timeout, env=env or dict(self.ENV), **kw)

    def popen(self, argv, env=None, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.argv(argv), env=env or dict(self.ENV), **kw)

    def __repr__(self) -> str:
        return f"LocalUser({self.name!r}, uid={self.uid})"


class Sshd:
    """A real sshd on 127.0.0.1:`port`, two remote users, a client identity and config.

    Attributes: port, host ('sp-loop'), user and other (remote user names), users (both),
    client_config (ssh -F), identity (private key), known_hosts, base (temp dir of the homes),
    dir (temp dir of keys, configs, log), config (sshd_config), log_path, proc (sshd's Popen).
    """

    def __init__(self, other: bool = True, start_timeout: float = _START_TIMEOUT):
        reason = unavailable()
        if reason:
            raise Unavailable(reason)
        sweep_stale()
        self.suffix = uuid.uuid4().hex[:6]
        self.host = HOST
        self.user = f"sp-remote-{self.suffix}"
        self.other = f"sp-other-{self.suffix}" if other else None
        self.users = tuple(u for u in (self.user, self.other) if u)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self._made_users: list[str] = []
        self._local_users: list[LocalUser] = []
        self._popens: list[subprocess.Popen] = []
        self._stopped = False
        self.dir = tempfile.mkdtemp(prefix=f"sp-sshd-{os.getpid()}-", dir=_TMP)
        # The homes' parent: remote users must get through it (0711); each home is its user's.
        self.base = tempfile.mkdtemp(prefix=f"sp-ssh-{os.getpid()}-", dir=_TMP)
        os.chmod(self.base, 0o711)
        self.config = os.path.join(self.dir, "sshd_config")
        self.log_path = os.path.join(self.dir, "sshd.log")
        self.pid_file = os.path.join(self.dir, "sshd.pid")
        self.host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        self.identity = os.path.join(self.dir, "id_ed25519")
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        self.client_config = os.path.join(self.dir, "ssh_config")
        with _lock:
            _live.add(self)
        try:
            self._keys()
            for name in self.users:
                self._add_remote_user(name)
            self._start(start_timeout)
        except BaseException:
            self.stop()
            raise

    # -- set-up

    def _keys(self) -> None:
        for path, comment in ((self.host_key, "sp-loop host"), (self.identity, "sp-loop client")):
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])

    def _add_remote_user(self, name: str) -> None:
        home = os.path.join(self.base, name)
        entry = _add_user(name, home, _shell())
        self._made_users.append(name)
        # StrictModes yes: home not group/world-writable, ~/.ssh 0700 and the keys file 0600, all the user's.
        os.chmod(home, 0o755)
        ssh_dir = os.path.join(home, ".ssh")
        os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
        keys = os.path.join(ssh_dir, "authorized_keys")
        with open(self.identity + ".pub") as src, open(keys, "w") as dst:
            dst.write(src.read())
        os.chmod(keys, 0o600)
        # An interactive zsh with no ~/.zshrc stops at zsh-newuser-install's menu.
        zshrc = os.path.join(home, ".zshrc")
        if not os.path.exists(zshrc):
            with open(zshrc, "w") as f:
                f.write("# made by tests/ssh_harness.py\n")
        for path in (ssh_dir, keys, zshrc):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _write_configs(self) -> None:
        allow = " ".join(self.users)
        sshd_config = f"""\
ListenAddress 127.0.0.1:{self.port}
HostKey {self.host_key}
PidFile {self.pid_file}
UsePAM no
PermitRootLogin no
AllowUsers {allow}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile %h/.ssh/authorized_keys
StrictModes yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink no
StreamLocalBindMask 0177
AllowTcpForwarding yes
AcceptEnv LANG LC_*
PermitUserEnvironment no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LoginGraceTime 30
MaxStartups 50:30:100
LogLevel DEBUG1
"""
        with open(self.config, "w") as f:
            f.write(sshd_config)
        with open(self.host_key + ".pub") as f:
            kind, key = f.read().split()[:2]
        with open(self.known_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {kind} {key}\n")
        client = f"""\
Host {HOST}
    HostName 127.0.0.1
    Port {self.port}
    User {self.user}
    IdentityFile {self.identity}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {self.known_hosts}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    CheckHostIP no
    UpdateHostKeys no
    BatchMode yes
    ConnectTimeout 20
    ControlMaster no
    ControlPath none
    ForwardAgent no
    ForwardX11 no
    RequestTTY no
"""
        # ssh refuses a config file others can write; 0600 anyway.
        fd = os.open(self.client_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(client)

    def _start(self, timeout: float) -> None:
        # The privilege separation dir (made by the service unit, absent in a container).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        deadline = time.monotonic() + timeout
        for _attempt in range(5):
            self.port = free_port()
            self._write_configs()
            check = _run([SSHD, "-t", "-f", self.config], check=False)
            if check.returncode != 0:
                raise RuntimeError(f"sshd -t refuses {self.config}: {check.stderr.strip()}")
            log = open(self.log_path, "ab")  # sshd's stderr, for the life of sshd
            try:
                env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
                # Its own session: no signal of the terminal's reaches it; stop() ends it by pid.
                self.proc = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", self.config], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
                )
            finally:
                log.close()
            if self._wait_accepting(deadline):
                return
            if self.proc.poll() is None:
                break
            # The port was taken between free_port() and sshd's bind: another port.
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"sshd did not start on 127.0.0.1:{self.port} (exit {self.proc.poll()}); its log:\n{self.log()}")

    def _wait_accepting(self, deadline: float) -> bool:
        """True once sshd answers with its banner; False when it exits or time runs out."""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return True
            time.sleep(0.05)
        return False

    # -- use

    def home(self, user: str | None = None) -> str:
        return pwd.getpwnam(user or self.user).pw_dir

    def uid(self, user: str | None = None) -> int:
        return pwd.getpwnam(user or self.user).pw_uid

    def gid(self, user: str | None = None) -> int:
        return pwd.getpwnam(user or self.user).pw_gid

    def log(self) -> str:
        """sshd's log so far (LogLevel DEBUG1): worth printing when a test fails."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def ssh_argv(self, user: str | None, command, *options: str) -> list[str]:
        """`ssh -F client_config [options] -l USER sp-loop COMMAND` (command: a string for the remote
        shell, a list of words quoted for it, or None for no command)."""
        argv = ["ssh", "-F", self.client_config, *options, "-l", user or self.user, HOST]
        if command is not None:
            argv.append(command if isinstance(command, str) else shlex.join(command))
        return argv

    def run(self, user: str | None, command, *options: str, timeout: float = _TIMEOUT, **kw) -> subprocess.CompletedProcess:
        """Run `command` on the server as `user` (None: `self.user`); text, captured, not checked.
        `options` go to ssh before the host (e.g. "-o", "SetEnv=LC_X=1")."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(self.ssh_argv(user, command, *options), capture_output=True, text=True, timeout=timeout, **kw)

    def popen(self, user: str | None, command, *options: str, **kw) -> subprocess.Popen:
        """ssh in the background (a forward held open); stop() ends it if the test has not."""
        proc = subprocess.Popen(self.ssh_argv(user, command, *options), **kw)
        self._popens.append(proc)
        return proc

    def local_user(self) -> LocalUser:
        """A throwaway unprivileged LOCAL user, removed by stop()."""
        name = f"sp-local-{self.suffix}-{len(self._local_users)}"
        entry = _add_user(name, None, "/usr/sbin/nologin")
        user = LocalUser(name, entry.pw_uid, entry.pw_gid)
        self._local_users.append(user)
        return user

    # -- tear-down

    def stop(self) -> None:
        """Stop sshd and every process of the users, remove the users, homes, /tmp files and dirs. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with _lock:
            _live.discard(self)
        for proc in self._popens:
            if proc.poll() is None:
                _kill([proc.pid], 3)
            with contextlib.suppress(Exception):
                proc.wait(5)
        if self.proc is not None:
            # The connection processes (sshd's children, root) go with it: sshd leaves them running.
            _kill([self.proc.pid, *_descendants(self.proc.pid)], 5)
            with contextlib.suppress(Exception):
                self.proc.wait(5)
        names = [*self._made_users, *(u.name for u in self._local_users)]
        uids = set()
        for name in names:
            with contextlib.suppress(KeyError):
                uids.add(pwd.getpwnam(name).pw_uid)
        if uids:
            _kill(_owned_by(uids), 3)
        for name in names:
            _remove_user(name)
        if uids:
            _remove_tmp_files_of(uids)
        shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Sshd:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Sshd(127.0.0.1:{self.port}, users={self.users})"


@atexit.register
def _stop_all() -> None:
    for sshd in list(_live):
        with contextlib.suppress(Exception):
            sshd.stop()
