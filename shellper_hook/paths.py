"""Where shellper keeps things, computed with the standard library only.

The client runs on every key press and may not import platformdirs, so this
module mirrors platformdirs' answers for the directories we use (a test
checks they agree). The runtime dir holds the socket; the state dir holds
the session store and the daemon log; the config dir holds config.toml.
"""

from __future__ import annotations

import os
import stat
import sys

APP = "shellper"
SOCKET_NAME = "daemon.sock"
# sun_path is 108 bytes on Linux, 104 on macOS; keep room for the NUL.
MAX_SOCKET_PATH = 103


def _home(environ=None) -> str:
    if environ is not None and environ.get("HOME"):
        return environ["HOME"]
    return os.path.expanduser("~")


def _xdg(var: str, default: str, environ=None) -> str:
    value = (os.environ if environ is None else environ).get(var, "").strip()
    return value if value else default


def config_dir(environ=None) -> str:
    """The config folder, for this process's environment or the one given (a terminal's)."""
    if sys.platform == "darwin" and not _xdg("XDG_CONFIG_HOME", "", environ):
        return os.path.join(_home(environ), "Library", "Application Support", APP)
    return os.path.join(_xdg("XDG_CONFIG_HOME", os.path.join(_home(environ), ".config"), environ), APP)


def state_dir() -> str:
    if sys.platform == "darwin" and not os.environ.get("XDG_STATE_HOME", "").strip():
        return os.path.join(_home(), "Library", "Application Support", APP)
    return os.path.join(_xdg("XDG_STATE_HOME", os.path.join(_home(), ".local", "state")), APP)


def data_dir() -> str:
    if sys.platform == "darwin" and not os.environ.get("XDG_DATA_HOME", "").strip():
        return os.path.join(_home(), "Library", "Application Support", APP)
    return os.path.join(_xdg("XDG_DATA_HOME", os.path.join(_home(), ".local", "share")), APP)


def _tempdir() -> str:
    import tempfile  # only when no runtime dir will do: it costs the client's start several ms

    return tempfile.gettempdir()


def _platform_runtime_base() -> str:
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg:
        return xdg
    if sys.platform == "darwin":
        return os.path.join(_home(), "Library", "Caches", "TemporaryItems")
    base = f"/run/user/{os.getuid()}"
    if not os.access(base, os.W_OK):
        base = os.path.join(_tempdir(), f"runtime-{os.getuid()}")
    return base


def _ours(path: str, missing_ok: bool) -> bool:
    """Whether path is a real directory of ours (or, with missing_ok, not there yet).

    Names like /tmp/runtime-<uid> are predictable: another user may have made
    one first and would then own (and could answer on) our socket.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return missing_ok
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def runtime_dir() -> str:
    """The socket's directory: the user runtime dir, else a private dir in the state dir."""
    base = _platform_runtime_base()
    candidate = os.path.join(base, APP)
    usable = os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK)
    if not (usable and _ours(base, False) and _ours(candidate, True)):
        candidate = os.path.join(state_dir(), "run")
    if len(os.path.join(candidate, SOCKET_NAME)) > MAX_SOCKET_PATH:
        short = os.path.join(_tempdir(), f"{APP}-{os.getuid()}")
        if _ours(short, True):  # else keep the long path: failing to bind beats a stranger's socket
            candidate = short
    return candidate


def socket_path() -> str:
    override = os.environ.get("SHELLPER_SOCKET", "").strip()
    return override if override else os.path.join(runtime_dir(), SOCKET_NAME)


def config_file(environ=None) -> str:
    override = _xdg("SHELLPER_CONFIG", "", environ)
    return override if override else os.path.join(config_dir(environ), "config.toml")


def store_file() -> str:
    return os.path.join(state_dir(), "sessions.sqlite3")


def undo_dir() -> str:
    """What suggestions destroyed, kept for undo (undo_store.py); private like the rest."""
    return os.path.join(state_dir(), "undo")


def log_file() -> str:
    return os.path.join(state_dir(), "daemon.log")


def ensure_private_dir(path: str) -> str:
    """Create `path` (mode 0700) and verify it is ours, a real dir, and private.

    Raises PermissionError with a fix if another user could reach it.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except FileExistsError:  # a file or a dangling symlink in its place
        raise PermissionError(f"{path} is not a directory (a symlink?); remove it and retry") from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionError(f"{path} is not a directory (a symlink?); remove it and retry")
    if st.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user; remove it or set XDG_RUNTIME_DIR")
    if st.st_mode & 0o077:
        if not _shellpers_own(path):
            # A folder the user chose (SHELLPER_SOCKET's, say) may be /tmp or home:
            # never change who can enter it; say so instead.
            raise PermissionError(
                f"{path} can be entered by other users (mode {stat.S_IMODE(st.st_mode):o}); "
                f"choose a private folder of yours, or chmod 700 {path} if nothing else needs it"
            )
        os.chmod(path, 0o700)
    return path


def _shellpers_own(path: str) -> bool:
    """Whether path is a folder shellper names and keeps for itself (so it may fix its mode)."""
    path = os.path.normpath(path)
    return os.path.basename(path).startswith(APP) or path == os.path.normpath(os.path.join(state_dir(), "run"))
