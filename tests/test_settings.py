"""Settings: defaults < config.toml < SHELLPER_* env, and one-line errors naming file/var and key."""

import os
import stat
import sys

import platformdirs
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from shellper_hook import paths
from shellper_hook.errors import SettingsError
from shellper_hook.settings import DEFAULT_SYSTEM_PROMPT, KEYS, Settings, describe, load

# key -> (TOML text for the file, value it gives, env text, value it gives)
LAYERS = {
    "base_url": ('"http://file.lan:8080/v1"', "http://file.lan:8080/v1", "https://env.lan/v1", "https://env.lan/v1"),
    "model": ('"file_model"', "file_model", "env_model:q4", "env_model:q4"),
    "api_key": ('"file-key"', "file-key", "env-key", "env-key"),
    "timeout": ("12.5", 12.5, "7", 7.0),
    "max_turns": ("3", 3, "9", 9),
    "allow_recursive": ("true", True, "off", False),
    "system_prompt": ('"file prompt"', "file prompt", "env prompt\nline two", "env prompt\nline two"),
    "idle_exit": ("0", 0.0, "90.5", 90.5),
    "collect_corrections": ("false", False, "YES", True),
    "corrections_days": ("30", 30, "0", 0),
    "keep_alive": ('"2h"', "2h", "-1", "-1"),
    "max_tokens": ("128", 128, "512", 512),
    "general_model": ('"qwen2.5-coder:3b"', "qwen2.5-coder:3b", "llama3.2", "llama3.2"),
    "ssh_hosts": ('"web1 *.lan"', "web1 *.lan", "db2", "db2"),
    "undo_days": ("0", 0, "30", 30),
    "undo_max_mb": ("64", 64, "2048", 2048),
}


def write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_every_key_has_a_layer_case_and_metadata_matches_the_dataclass():
    assert set(LAYERS) == {k.name for k in KEYS}
    defaults = Settings()
    for key in KEYS:
        assert key.env == "SHELLPER_" + key.name.upper()
        assert getattr(defaults, key.name) == key.default
        assert isinstance(key.default, key.type)
        assert key.help and "\n" not in key.help
        assert key.type_name in ("string", "number", "integer", "boolean")


def test_defaults_when_there_is_no_file_and_no_env(tmp_path):
    got = load(environ={}, path=str(tmp_path / "missing.toml"))
    assert got == Settings()
    assert got.base_url == "http://localhost:11434/v1" and got.model == "distil_model"
    assert got.timeout == 60.0 and got.max_turns == 5 and got.keep_alive == "30m"
    assert got.allow_recursive is False and got.collect_corrections is True and got.corrections_days == 90
    assert got.idle_exit == 1800.0 and got.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert set(got.sources.values()) == {"default"}


@pytest.mark.parametrize("name", list(LAYERS))
def test_precedence_default_then_file_then_env(tmp_path, name):
    key = next(k for k in KEYS if k.name == name)
    toml_text, file_value, env_text, env_value = LAYERS[name]
    path = write(tmp_path, f"{name} = {toml_text}\n")

    from_file = load(environ={}, path=path)
    assert getattr(from_file, name) == file_value
    assert from_file.sources[name] == path
    others = {k: v for k, v in from_file.sources.items() if k != name}
    assert set(others.values()) == {"default"}

    both = load(environ={key.env: env_text}, path=path)
    assert getattr(both, name) == env_value
    assert both.sources[name] == f"env {key.env}"

    env_only = load(environ={key.env: env_text}, path=str(tmp_path / "none.toml"))
    assert getattr(env_only, name) == env_value
    assert env_only.sources[name] == f"env {key.env}"


def test_sources_mix_and_describe_reports_them_in_key_order(tmp_path):
    path = write(tmp_path, 'model = "m1"\ntimeout = 5\napi_key = "sk-secret-123"\n')
    got = load(environ={"SHELLPER_TIMEOUT": "9", "SHELLPER_MAX_TURNS": "2"}, path=path)
    rows = describe(got)
    assert [r[0] for r in rows] == [k.name for k in KEYS]
    table = {k: (v, s) for k, v, s in rows}
    assert table["model"] == ("m1", path)
    assert table["timeout"] == (9.0, "env SHELLPER_TIMEOUT")
    assert table["max_turns"] == (2, "env SHELLPER_MAX_TURNS")
    assert table["base_url"] == ("http://localhost:11434/v1", "default")
    # A real key must not be printed by `shellper config`.
    assert "sk-secret-123" not in repr(rows)
    assert table["api_key"][1] == path


def test_describe_shows_the_harmless_default_key():
    table = {k: v for k, v, _ in describe(Settings())}
    assert table["api_key"] == "ollama"


@pytest.mark.parametrize(
    "word,value",
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("On", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("False", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_boolean_words_from_env(tmp_path, word, value):
    got = load(environ={"SHELLPER_ALLOW_RECURSIVE": word}, path=str(tmp_path / "x.toml"))
    assert got.allow_recursive is value


def test_empty_env_variable_counts_as_unset(tmp_path):
    path = write(tmp_path, 'model = "from_file"\n')
    got = load(environ={"SHELLPER_MODEL": "", "SHELLPER_TIMEOUT": "  "}, path=path)
    assert got.model == "from_file" and got.sources["model"] == path
    assert got.timeout == 60.0 and got.sources["timeout"] == "default"


def test_values_are_normalised(tmp_path):
    path = write(tmp_path, 'base_url = "http://h:1/v1/"\nkeep_alive = -1\nmax_turns = 4.0\ntimeout = 3\n')
    got = load(environ={}, path=path)
    assert got.base_url == "http://h:1/v1"
    assert got.keep_alive == "-1"  # TOML integer accepted for the keep-alive duration
    assert got.max_turns == 4 and isinstance(got.max_turns, int)
    assert got.timeout == 3.0 and isinstance(got.timeout, float)


@pytest.mark.parametrize(
    "variable,text,words",
    [
        ("SHELLPER_TIMEOUT", "abc", ["number"]),
        ("SHELLPER_TIMEOUT", "-1", ["> 0"]),
        ("SHELLPER_TIMEOUT", "0", ["> 0"]),
        ("SHELLPER_TIMEOUT", "nan", ["finite"]),
        ("SHELLPER_TIMEOUT", "inf", ["finite"]),
        ("SHELLPER_MAX_TURNS", "2.5", ["whole number"]),
        ("SHELLPER_MAX_TURNS", "51", ["0 and 50"]),
        ("SHELLPER_MAX_TURNS", "-1", ["0 and 50"]),
        ("SHELLPER_IDLE_EXIT", "-5", [">= 0"]),
        ("SHELLPER_ALLOW_RECURSIVE", "maybe", ["true/false"]),
        ("SHELLPER_COLLECT_CORRECTIONS", "2", ["true/false"]),
        ("SHELLPER_CORRECTIONS_DAYS", "-1", ["0 to 36500"]),
        ("SHELLPER_CORRECTIONS_DAYS", "1.5", ["whole number"]),
        ("SHELLPER_CORRECTIONS_DAYS", "forever", ["whole number"]),
        ("SHELLPER_BASE_URL", "localhost:11434/v1", ["http://"]),
        ("SHELLPER_BASE_URL", "ftp://host/v1", ["http://"]),
        ("SHELLPER_BASE_URL", "http://", ["http://"]),
        ("SHELLPER_BASE_URL", "http://host name/v1", ["http://"]),
        ("SHELLPER_MODEL", "two words", ["spaces"]),
        ("SHELLPER_KEEP_ALIVE", "forever", ["duration"]),
        ("SHELLPER_KEEP_ALIVE", "30 minutes", ["duration"]),
    ],
)
def test_bad_env_values_name_the_variable_and_the_key(tmp_path, variable, text, words):
    with pytest.raises(SettingsError) as info:
        load(environ={variable: text}, path=str(tmp_path / "none.toml"))
    msg = str(info.value)
    key = variable[len("SHELLPER_") :].lower()
    assert msg.startswith(f"env {variable}: {key} ")
    assert "\n" not in msg
    for word in words:
        assert word in msg


@pytest.mark.parametrize(
    "line,key,words",
    [
        ("timeout = -1", "timeout", ["> 0", "-1"]),
        ('timeout = "fast"', "timeout", ["number"]),
        ("timeout = true", "timeout", ["number"]),
        ("timeout = nan", "timeout", ["finite"]),
        ("max_turns = 99", "max_turns", ["0 and 50"]),
        ("max_turns = 1.5", "max_turns", ["whole number"]),
        ('max_turns = "5"', "max_turns", ["whole number"]),
        ('allow_recursive = "yes"', "allow_recursive", ["true or false"]),
        ("allow_recursive = 1", "allow_recursive", ["true or false"]),
        ('base_url = "localhost:11434"', "base_url", ["http://"]),
        ("base_url = 11434", "base_url", ["string"]),
        ('model = ""', "model", ["empty"]),
        ('model = ["a"]', "model", ["string"]),
        ('system_prompt = "   "', "system_prompt", ["empty"]),
        ("idle_exit = -0.5", "idle_exit", [">= 0"]),
        ('keep_alive = "soon"', "keep_alive", ["duration"]),
        ("max_tokens = 8", "max_tokens", ["between 16 and 4096"]),
        ("keep_alive = true", "keep_alive", ["string"]),
        ("collect_corrections = 1979-05-27", "collect_corrections", ["true or false"]),
        ("corrections_days = 100000", "corrections_days", ["0 to 36500"]),
        ('corrections_days = "90"', "corrections_days", ["whole number"]),
        ("api_key = 42", "api_key", ["string"]),
        ("undo_days = -1", "undo_days", ["0 to 3650", "undo off"]),
        ("undo_max_mb = 0", "undo_max_mb", ["at least 1"]),
    ],
)
def test_bad_file_values_name_the_file_and_the_key(tmp_path, line, key, words):
    path = write(tmp_path, line + "\n")
    with pytest.raises(SettingsError) as info:
        load(environ={}, path=path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key} ")
    assert "\n" not in msg
    for word in words:
        assert word in msg


def test_a_good_env_value_does_not_hide_a_bad_file(tmp_path):
    # The file is read whole: a typo there is reported even when env overrides the key.
    path = write(tmp_path, "timeout = -3\n")
    with pytest.raises(SettingsError, match="timeout"):
        load(environ={"SHELLPER_TIMEOUT": "5"}, path=path)


def test_unknown_key_lists_the_known_ones_and_suggests_a_fix(tmp_path):
    path = write(tmp_path, 'modle = "x"\n')
    with pytest.raises(SettingsError) as info:
        load(environ={}, path=path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: unknown key 'modle'")
    assert "did you mean 'model'?" in msg
    assert "known: base_url, model, api_key, timeout" in msg


def test_unknown_table_is_an_unknown_key(tmp_path):
    path = write(tmp_path, '[shellper]\nmodel = "x"\n')
    with pytest.raises(SettingsError, match=r"unknown key 'shellper'"):
        load(environ={}, path=path)


@pytest.mark.parametrize(
    "text",
    [
        'model = "unterminated\n',
        "model distil\n",
        'model = "a"\nmodel = "b"\n',
        "= 3\n",
        "\x00\n",
    ],
)
def test_toml_syntax_errors_name_the_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load(environ={}, path=path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: not valid TOML")
    assert "\n" not in msg


def test_file_that_is_not_utf8_or_not_a_file(tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'model = "caf\xe9"\n')
    with pytest.raises(SettingsError, match=str(bad)):
        load(environ={}, path=str(bad))
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(SettingsError, match="cannot read"):
        load(environ={}, path=str(folder))


def test_default_path_is_the_config_dir_and_shellper_config_overrides(shellper_env, tmp_path):
    cfg_dir = os.path.join(shellper_env["XDG_CONFIG_HOME"], "shellper")
    os.makedirs(cfg_dir)
    default_file = os.path.join(cfg_dir, "config.toml")
    with open(default_file, "w") as fh:
        fh.write('model = "from_default_file"\n')
    got = load(environ=dict(os.environ))
    assert got.model == "from_default_file"
    assert got.sources["model"] == default_file == paths.config_file()

    other = write(tmp_path, 'model = "from_override"\n', name="other.toml")
    got = load(environ={"SHELLPER_CONFIG": other})
    assert got.model == "from_override" and got.sources["model"] == other


def test_settings_compare_by_value_not_by_source(tmp_path):
    path = write(tmp_path, 'model = "distil_model"\n')
    a = load(environ={}, path=path)
    b = Settings()
    assert a == b and hash(a) == hash(b)
    assert a.sources["model"] != b.sources["model"]


@hsettings(max_examples=150, deadline=None)
@given(key=st.sampled_from([k.env for k in KEYS]), text=st.text(max_size=40))
def test_any_env_text_loads_or_fails_with_a_settings_error(key, text):
    try:
        got = load(environ={key: text}, path=os.devnull + "-absent")
    except SettingsError as err:
        assert key in str(err) and "\n" not in str(err)
        return
    assert got.timeout > 0 and 0 <= got.max_turns <= 50 and got.idle_exit >= 0
    assert 0 <= got.corrections_days <= 36500
    assert got.base_url.startswith(("http://", "https://"))


toml_values = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.lists(st.integers(), max_size=2),
)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@hsettings(max_examples=150, deadline=None)
@given(key=st.sampled_from([k.name for k in KEYS]), value=toml_values)
def test_any_toml_value_loads_or_fails_naming_the_key(tmp_path_factory, key, value):
    path = str(tmp_path_factory.mktemp("h") / "config.toml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{key} = {_toml(value)}\n")
    try:
        got = load(environ={}, path=path)
    except SettingsError as err:
        assert str(err).startswith(f"{path}: {key} ")
        return
    assert got.sources[key] == path
    assert isinstance(getattr(got, key), next(k.type for k in KEYS if k.name == key))


# ---- paths.py must agree with platformdirs (the client may not import it) ----

XDG = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME")


@pytest.mark.parametrize("with_xdg", [True, False])
def test_paths_agree_with_platformdirs(monkeypatch, tmp_path, with_xdg):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in XDG:
        if with_xdg:
            monkeypatch.setenv(var, str(tmp_path / var.lower()))
        else:
            monkeypatch.delenv(var, raising=False)
    assert paths.config_dir() == platformdirs.user_config_dir("shellper")
    assert paths.state_dir() == platformdirs.user_state_dir("shellper")
    assert paths.data_dir() == platformdirs.user_data_dir("shellper")
    if with_xdg or sys.platform != "darwin":
        assert paths.config_dir().startswith(str(tmp_path))


def test_runtime_dir_agrees_with_platformdirs(monkeypatch, tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    assert paths.runtime_dir() == platformdirs.user_runtime_dir("shellper") == str(run / "shellper")


def test_a_mistyped_variable_is_named_not_silently_ignored(shellper_env, monkeypatch):
    """SHELLPER_MAXTURNS does nothing; `shellper config` and doctor say so, with the right name."""
    import subprocess

    from shellper_hook.settings import unknown_env

    assert unknown_env({"SHELLPER_MAX_TURNS": "3", "SHELLPER_KEY": "^X", "HOME": "/"}) == []
    [line] = unknown_env({"SHELLPER_MAXTURNS": "3"})
    assert "SHELLPER_MAXTURNS" in line and "SHELLPER_MAX_TURNS" in line
    monkeypatch.setenv("SHELLPER_MAXTURNS", "3")
    r = subprocess.run(["shellper", "config"], capture_output=True, text=True)
    assert r.returncode == 0 and "max_turns" in r.stdout
    assert "SHELLPER_MAXTURNS" in r.stderr and "did you mean SHELLPER_MAX_TURNS" in r.stderr


def test_a_shared_folder_is_never_made_private_behind_the_users_back(tmp_path, monkeypatch):
    """A socket path the user chose (SHELLPER_SOCKET=/tmp/x.sock, ~/x.sock) must not
    chmod /tmp or home: shellper fixes the mode of its own folders only."""
    from shellper_hook import paths

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(PermissionError, match="chmod 700"):
        paths.ensure_private_dir(str(shared))
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o777
    own = tmp_path / "shellper"
    own.mkdir()
    os.chmod(own, 0o755)
    paths.ensure_private_dir(str(own))
    assert stat.S_IMODE(os.stat(own).st_mode) == 0o700


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("distil_model", "distil_model:latest", True),  # no tag means latest
        ("Distil_Model", "distil_model:latest", True),  # names ignore case
        ("distil_model:LATEST", "distil_model", True),
        ("library/distil_model", "distil_model", True),  # Ollama's default namespace and host
        ("registry.ollama.ai/library/distil_model:latest", "distil_model", True),
        ("distil_model:q8_0", "distil_model", False),
        ("me/distil_model", "distil_model", False),
        ("host:5000/me/distil", "host:5000/me/distil:latest", True),  # a port is not a tag
        ("distil_model", None, False),  # a server's entry without a name
    ],
)
def test_one_rule_says_whether_two_model_names_are_one_ollama_model(a, b, same):
    """Ollama's rule (types/model/name.go, ParseName then EqualFold): doctor, setup-model and
    `shellper eval` all use it, so none calls a model missing that another finds."""
    from shellper_hook.settings import same_model

    assert same_model(a, b) is same and same_model(b, a) is same
