"""The installer's closing words are true (issue 11.12): "You're ready" only
after `shellper doctor` passed, otherwise what to fix; --help names the model
files that --uninstall removes."""

from __future__ import annotations

import socket

from fake_ollama import FakeOllama
from test_install import build_tools, home, install, ok  # noqa: F401 - fixtures


def test_ready_is_said_only_after_doctor_passed(home, monkeypatch):  # noqa: F811
    with FakeOllama() as fake:
        monkeypatch.setenv("SHELLPER_BASE_URL", fake.base_url)
        out = ok(install("--no-rc", "--no-model")).stdout
    assert "All checks passed" in out and "You're ready" in out, out
    assert out.index("All checks passed") < out.index("You're ready")
    assert "Not ready" not in out

    with socket.socket() as s:  # now the model server is down: doctor fails
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("SHELLPER_BASE_URL", f"http://127.0.0.1:{s.getsockname()[1]}/v1")
    out = ok(install("--no-rc", "--no-model")).stdout
    assert "FAIL  model server at" in out
    assert "You're ready" not in out, out
    assert "Not ready yet" in out and "fix:" in out and "shellper doctor` again" in out


def test_without_doctor_it_does_not_claim_ready(home):  # noqa: F811
    out = ok(install("--no-rc", "--no-model", "--no-doctor")).stdout
    assert "You're ready" not in out and "shellper doctor" in out.splitlines()[-1]


def test_help_says_uninstall_removes_the_model_files(home):  # noqa: F811
    out = ok(install("--help")).stdout
    uninstall = out[out.index("--uninstall") : out.index("--purge")]
    assert "model files" in uninstall and "shellper/model" in uninstall
