"""The README and docs/ cannot rot: their commands run, their flags exist, the settings table is
current, the README stays short and every relative link lands on a file and heading that exist."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from daemon_helpers import fake_shell, shellper, stop_daemon

from shellper_hook.cli import build_parser
from shellper_hook.settings import KEYS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


README = _read(os.path.join(ROOT, "README.md"))
PAGES = {name: _read(os.path.join(DOCS, name)) for name in sorted(os.listdir(DOCS)) if name.endswith(".md")}
TEXT = README + "\n".join(PAGES.values())  # the README and docs/*.md together


def sh_blocks(text=TEXT):
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def shellper_lines():
    lines = []
    for block in sh_blocks():
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("shellper "):
                lines.append(line)
    return lines


def test_readme_has_the_two_setup_commands():
    blocks = [b.strip() for b in sh_blocks(README)]
    assert "./install.sh" in blocks
    assert "bash .ci/run" in blocks
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    # The tests run in the environment .ci/run makes (a system python3 may refuse installs).
    assert '"$py" -m pytest -q' in ci and "py=.venv/bin/python" in ci and ".venv/bin/python -m pytest -q" in TEXT


def test_settings_table_matches_the_code():
    table = README.split("<!-- settings-table")[1].split("<!-- /settings-table -->")[0]
    rows = [r for r in table.splitlines() if r.startswith("| `")]
    assert len(rows) == len(KEYS)
    for row, key in zip(rows, KEYS):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == f"`{key.name}`" and cells[1] == f"`{key.env}`", row
        if key.name != "system_prompt":
            default = str(key.default).lower() if isinstance(key.default, bool) else str(key.default)
            assert cells[2] == f"`{default}`", row
        assert cells[3] == key.help, row


def test_the_readme_is_short():
    """The README is the front door (pitch, quick start, install, usage, settings); the rest is in docs/."""
    assert len(README.splitlines()) <= 250


def _slug(heading):
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(text):
    body = re.sub(r"```.*?```", "", text, flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} +(.+?) *#*$", body, re.M)}


def test_relative_links_land_on_files_and_headings():
    documents = {os.path.join(ROOT, "README.md"): README}
    documents.update({os.path.join(DOCS, name): text for name, text in PAGES.items()})
    checked = 0
    for path, text in documents.items():
        body = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", body):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
            assert os.path.exists(dest), f"{os.path.relpath(path, ROOT)}: {target} (no such file)"
            if anchor:
                assert dest in documents, f"{os.path.relpath(path, ROOT)}: {target} (an anchor in a file that is not checked)"
                assert anchor in _anchors(documents[dest]), f"{os.path.relpath(path, ROOT)}: {target} (no such heading)"
            checked += 1
    assert checked >= 10


def test_every_shellper_command_in_the_readme_parses():
    lines = shellper_lines()
    assert len(lines) >= 9
    parser = build_parser()
    for line in lines:
        parser.parse_args(shlex.split(line)[1:])  # SystemExit on a stale flag


def install_options():
    """docs/install.md's "Options" section."""
    return PAGES["install.md"].split("## Options")[1].split("\n## ")[0]


def test_install_flags_in_the_readme_exist():
    flags = set(re.findall(r"`(--[a-z-]+)`", install_options()))
    assert flags, "the install section lists its options"
    helptext = subprocess.run(["bash", os.path.join(ROOT, "install.sh"), "--help"], capture_output=True, text=True).stdout
    for flag in flags:
        assert flag in helptext, flag


def test_every_install_option_is_in_the_readme():
    """The reverse check: an option install.sh offers is not missing from the README's table."""
    helptext = subprocess.run(["bash", os.path.join(ROOT, "install.sh"), "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", helptext.split("Options:")[1].split("Environment:")[0], re.M))
    options.discard("--help")
    assert {"--no-doctor", "--uninstall", "--purge"} <= options
    documented = set(re.findall(r"`(--[a-z-]+)", install_options()))
    assert options <= documented, f"install.sh options missing from docs/install.md: {sorted(options - documented)}"


def test_readme_commands_run(shellper_env, fake, monkeypatch, tmp_path):
    """Run the README's usage commands for real, against the stand-in server."""
    monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
    fake.answer("last 20 lines of app.log", "tail", {"file_name": "app.log", "lines": 20})
    (tmp_path / "app.log").write_text("x\n")
    try:
        with fake_shell() as shell:
            for line in shellper_lines():
                argv = shlex.split(line)[1:]
                if argv[0] in ("doctor", "eval", "setup-model", "daemon", "ssh"):
                    # covered by their own tests (a live model check, the whole set, Ollama; the foreground daemon; sshd)
                    continue
                if argv[0] in ("ask", "history", "reset"):
                    argv += ["--session", str(shell)]
                if argv[0] == "export":
                    argv = [a if a != "fixes.jsonl" else str(tmp_path / "fixes.jsonl") for a in argv]
                r = shellper(*argv, cwd=str(tmp_path))
                assert r.returncode == 0, (line, r.stdout, r.stderr)
                if argv[0] == "ask" and "--json" not in argv:
                    assert r.stdout == "tail -n 20 app.log\n"
                elif argv[0] == "ask":
                    assert __import__("json").loads(r.stdout)["command"] == "tail -n 20 app.log", r.stdout
    finally:
        stop_daemon()


def server_exports():
    """The `export SHELLPER_...` lines of docs/model-server.md ("Using another server")."""
    section = PAGES["model-server.md"].split("# Using another server")[1].split("\n## ")[0]
    return [
        line
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.startswith("export SHELLPER_")
    ]


def test_server_examples_set_what_they_say(shellper_env):
    """Each example's settings reach shellper (the servers themselves are not run here)."""
    lines = server_exports()
    assert len(lines) >= 4
    env_keys = {k.env: k.name for k in KEYS}
    for line in lines:
        r = subprocess.run(["bash", "-c", line + "; shellper config --json"], capture_output=True, text=True)
        assert r.returncode == 0, (line, r.stderr)
        conf = __import__("json").loads(r.stdout)
        for word in shlex.split(line)[1:]:
            var, value = word.split("=", 1)
            shown = conf[env_keys[var]]
            expected = "********" if var == "SHELLPER_API_KEY" else value  # keys are masked
            assert shown["value"] == expected and var in shown["source"], line
