"""User settings: defaults, then config.toml, then SHELLPER_* environment variables.

Every bad value stops with one line naming where it came from (the file or
the environment variable) and the key, so a typo never silently falls back
to a default. KEYS is the single list the README table and `shellper
config` are generated from.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from . import paths
from .errors import SettingsError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

TASK = (
    "A user working in a terminal asks, in plain language, for an operation on the file "
    "system in their current directory: listing, reading, searching, comparing, creating, "
    "copying, moving or removing files and folders, changing directory, or writing text to "
    "a file. Each request is answered with exactly one call of the provided tools, with "
    "arguments taken from the request and from the earlier turns of the conversation."
)

DEFAULT_SYSTEM_PROMPT = (
    "You are a tool-calling model working on:\n"
    f"<task_description>{TASK}</task_description>\n\n"
    "Respond to the conversation history by generating an appropriate tool call that "
    "satisfies the user request. Generate only the tool call according to the provided "
    "tool schema, do not generate anything else. Always respond with a tool call.\n\n"
)


class Key(NamedTuple):
    name: str
    type: type  # str, float, int or bool
    env: str
    default: object
    help: str

    @property
    def type_name(self) -> str:
        return {str: "string", float: "number", int: "integer", bool: "boolean"}[self.type]


KEYS = (
    Key(
        "base_url",
        str,
        "SHELLPER_BASE_URL",
        "http://localhost:11434/v1",
        "OpenAI-compatible API of the model server (Ollama's is http://HOST:11434/v1)",
    ),
    Key("model", str, "SHELLPER_MODEL", "distil_model", "model name on the server"),
    Key("api_key", str, "SHELLPER_API_KEY", "ollama", "API key sent to the server (Ollama ignores it)"),
    Key("timeout", float, "SHELLPER_TIMEOUT", 60.0, "seconds to wait for the model's answer (> 0)"),
    Key("max_turns", int, "SHELLPER_MAX_TURNS", 5, "earlier exchanges of this terminal sent with each request (0 to 50)"),
    Key("allow_recursive", bool, "SHELLPER_ALLOW_RECURSIVE", False, "translate rm of a folder to rm -r"),
    Key("system_prompt", str, "SHELLPER_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT, "system message sent before the conversation"),
    Key("idle_exit", float, "SHELLPER_IDLE_EXIT", 1800.0, "seconds the daemon stays idle before exiting (0 = never)"),
    Key(
        "collect_corrections", bool, "SHELLPER_COLLECT_CORRECTIONS", True, "keep suggestions you edited before running them, for retraining"
    ),
    Key(
        "corrections_days",
        int,
        "SHELLPER_CORRECTIONS_DAYS",
        90,
        "days a correction is kept before it is deleted (0 = keep none, collect none)",
    ),
    Key(
        "keep_alive",
        str,
        "SHELLPER_KEEP_ALIVE",
        "30m",
        "how long Ollama keeps the model loaded after a preload (e.g. 30m, 2h; -1 = forever)",
    ),
    Key("max_tokens", int, "SHELLPER_MAX_TOKENS", 256, "longest answer the model may write (16 to 4096 tokens; one call takes 15 to 40)"),
    Key(
        "general_model",
        str,
        "SHELLPER_GENERAL_MODEL",
        "",
        "a second model on the same server for what the 18 file tools cannot do ('' = none; opt-in)",
    ),
    Key(
        "ssh_hosts",
        str,
        "SHELLPER_SSH_HOSTS",
        "",
        "hosts `shellper ssh` may forward shellper to, like ForwardAgent (patterns, e.g. 'web1 *.lan'; '' = none)",
    ),
    Key("undo_days", int, "SHELLPER_UNDO_DAYS", 7, "days what a suggestion destroyed is kept for undo (0 = keep nothing: undo off)"),
    Key("undo_max_mb", int, "SHELLPER_UNDO_MAX_MB", 1024, "most the undo folder may hold, in MiB (the oldest change goes first)"),
)
_BY_NAME = {k.name: k for k in KEYS}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Ollama's keep_alive: Go duration ("30m", "1h30m", "-1s", "0") or a number of seconds.
_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+\Z|[-+]?\d+(?:\.\d+)?\Z")


@dataclass(frozen=True)
class Settings:
    base_url: str = "http://localhost:11434/v1"
    model: str = "distil_model"
    api_key: str = "ollama"
    timeout: float = 60.0
    max_turns: int = 5
    allow_recursive: bool = False
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    idle_exit: float = 1800.0
    collect_corrections: bool = True
    corrections_days: int = 90
    keep_alive: str = "30m"
    max_tokens: int = 256
    general_model: str = ""
    ssh_hosts: str = ""
    undo_days: int = 7
    undo_max_mb: int = 1024
    # field name -> "default" | "<path of config.toml>" | "env SHELLPER_X"
    sources: dict = field(default_factory=lambda: {k.name: "default" for k in KEYS}, compare=False, hash=False)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(key: Key, value, where: str):
    """Type-check and range-check one value; return it normalised."""

    def bad(why: str):
        return SettingsError(f"{where}: {key.name} {why}, not {_shown(value)}")

    if key.type is bool:
        if not isinstance(value, bool):
            raise bad("must be true or false")
    elif key.type in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("must be a number" if key.type is float else "must be a whole number")
        if key.type is int and not (isinstance(value, int) or float(value).is_integer()):
            raise bad("must be a whole number")
        value = key.type(value)
        if not math.isfinite(value):
            raise bad("must be a finite number")
    elif key.name == "keep_alive" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # `keep_alive = -1` in TOML means the string "-1"
    elif not isinstance(value, str):
        raise bad("must be a string")

    if key.name == "base_url":
        value = value.strip().rstrip("/")
        if not re.match(r"https?://[^/\s?#]+(/\S*)?\Z", value):
            raise bad("must be an http:// or https:// URL such as http://localhost:11434/v1")
    elif key.name in ("model", "system_prompt") and not value.strip():
        raise bad("must not be empty")
    elif key.name in ("model", "general_model") and re.search(r"\s", value):
        raise bad("must not contain spaces")
    elif key.name == "timeout" and value <= 0:
        raise bad("must be a number of seconds > 0")
    elif key.name == "idle_exit" and value < 0:
        raise bad("must be a number of seconds >= 0 (0 = never exit)")
    elif key.name == "max_turns" and not 0 <= value <= 50:
        raise bad("must be between 0 and 50")
    elif key.name == "max_tokens" and not 16 <= value <= 4096:
        raise bad("must be between 16 and 4096 tokens")
    elif key.name == "corrections_days" and not 0 <= value <= 36500:
        raise bad("must be a number of days from 0 to 36500 (0 = keep none)")
    elif key.name == "undo_days" and not 0 <= value <= 3650:
        raise bad("must be a number of days from 0 to 3650 (0 = undo off)")
    elif key.name == "undo_max_mb" and not 1 <= value <= 1 << 30:
        raise bad("must be a number of MiB of at least 1")
    elif key.name == "keep_alive":
        value = value.strip()
        if not _DURATION.match(value):
            raise bad("must be a duration such as 30m, 2h or 90s, or -1 for forever")
    return value


def _from_env(key: Key, text: str):
    where = f"env {key.env}"
    if key.type is bool:
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise SettingsError(f"{where}: {key.name} must be one of 1/0/true/false/yes/no/on/off, not {_shown(text)}")
    if key.type in (int, float):
        try:
            number = key.type(text.strip())
        except ValueError:
            kind = "a number" if key.type is float else "a whole number"
            raise SettingsError(f"{where}: {key.name} must be {kind}, not {_shown(text)}") from None
        return _check(key, number, where)
    return _check(key, text, where)


def _read_file(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: not valid TOML: {' '.join(str(err).split())}") from None
    except (OSError, UnicodeDecodeError) as err:
        why = getattr(err, "strerror", None) or str(err)
        raise SettingsError(f"{path}: cannot read the config file: {why}") from None
    for name in data:
        if name not in _BY_NAME:
            known = ", ".join(k.name for k in KEYS)
            near = difflib.get_close_matches(name, list(_BY_NAME), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise SettingsError(f"{path}: unknown key {name!r} ({hint}known: {known})")
    return data


def load(environ: Mapping | None = None, path: str | None = None) -> Settings:
    """Settings from defaults < config file < environment. Raises SettingsError."""
    env = os.environ if environ is None else environ
    if path is None:
        override = (env.get("SHELLPER_CONFIG") or "").strip()
        path = override or paths.config_file()
    # The whole file is checked, even keys env overrides: a typo must not lie in wait.
    from_file = {name: _check(_BY_NAME[name], value, path) for name, value in _read_file(path).items()}
    values, sources = {}, {}
    for key in KEYS:
        text = env.get(key.env)
        if text is not None and text.strip():  # an empty variable counts as unset
            values[key.name] = _from_env(key, text)
            sources[key.name] = f"env {key.env}"
        elif key.name in from_file:
            values[key.name] = from_file[key.name]
            sources[key.name] = path
        else:
            sources[key.name] = "default"
    return Settings(**values, sources=sources)


# SHELLPER_* variables read elsewhere (shell init, installer, paths), not settings.
OTHER_ENV = (
    "SHELLPER_CONFIG",
    "SHELLPER_SOCKET",
    "SHELLPER_KEY",
    "SHELLPER_PREFIX",
    "SHELLPER_AUTOSTART",
    "SHELLPER_HISTORY",
    "SHELLPER_PYTHON",
    "SHELLPER_PIP_ARGS",
    "SHELLPER_VENV_ARGS",
    "SHELLPER_SETUP_MODEL_ARGS",
)


def unknown_env(environ: Mapping | None = None) -> list:
    """One line for each SHELLPER_* variable shellper does not read (a typo is ignored otherwise)."""
    env = os.environ if environ is None else environ
    known = [k.env for k in KEYS] + list(OTHER_ENV)
    lines = []
    for name in sorted(n for n in env if n.startswith("SHELLPER_") and n not in known):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"{name} is not a shellper setting and is ignored{hint}")
    return lines


def describe(settings: Settings) -> list:
    """(key, value, source) for each setting, in KEYS order; a user's API key is masked."""
    rows = []
    for key in KEYS:
        value = getattr(settings, key.name)
        if key.name == "api_key" and value and value != key.default:
            value = "*" * 8
        rows.append((key.name, value, settings.sources.get(key.name, "default")))
    return rows


# KEYS and the dataclass must list the same settings in the same order.
assert [k.name for k in KEYS] == [f.name for f in fields(Settings)][:-1]
assert all(getattr(Settings, k.name) == k.default for k in KEYS)


# ---------------------------------------------------------------- model names

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def model_key(name: str) -> tuple:
    """A model name as Ollama compares names (its types/model/name.go: ParseName fills a missing
    host, namespace and tag with registry.ollama.ai, library and latest, and EqualFold ignores
    ASCII case): "Distil_model", "distil_model:latest" and "library/distil_model" are one model."""
    for scheme in ("http://", "https://"):
        name = name.removeprefix(scheme)
    rest, _, last = name.rpartition("/")
    model, colon, tag = last.rpartition(":")
    if not colon:
        model, tag = last, ""
    above = rest.split("/") if rest else []
    namespace = above.pop() if above else "library"
    host = "/".join(above) or "registry.ollama.ai"
    return tuple(p.translate(_ASCII_LOWER) for p in (host, namespace, model, tag or "latest"))


def same_model(a, b) -> bool:
    """Whether two model names (or a name and a server's entry) mean one Ollama model."""
    return isinstance(a, str) and isinstance(b, str) and model_key(a) == model_key(b)
