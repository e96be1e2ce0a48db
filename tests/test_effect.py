"""The effect line, against real folders: what a call will do, in plain words."""

from __future__ import annotations

import os
import stat

import pytest

from shellper_hook.effect import KINDS, describe
from shellper_hook.tools import ToolCall


@pytest.fixture
def project(tmp_path):
    home = tmp_path / "home"
    proj = home / "project"
    (proj / "src").mkdir(parents=True)
    (proj / "docs").mkdir()
    (proj / "app.log").write_text("".join(f"line {i}\n" for i in range(1234)))
    (proj / "a.txt").write_text("new\n")
    (proj / "docs" / "a.txt").write_text("older but bigger\n")
    os.utime(proj / "docs" / "a.txt", (2_000_000_000, 2_000_000_000))  # newer than a.txt
    for i in range(120):
        (proj / "src" / f"m{i}.py").write_text("x" * 100)
    (proj / "notes.txt").write_text("".join(f"{i}\n" for i in range(12)))
    return str(home), str(proj)


def line(project, name, args, recursive=False):
    home, cwd = project
    return describe(ToolCall(name, args), cwd, home, recursive)


def test_every_line_starts_with_its_kind(project):
    for name, args in [
        ("rm", {"file_name": "a.txt"}),
        ("cd", {"folder": "src"}),
        ("mkdir", {"dir_name": "b"}),
        ("echo", {"content": "x", "file_name": "notes.txt"}),
        ("ls", {}),
    ]:
        assert line(project, name, args).split(":")[0] in KINDS


def test_rm_names_the_size_and_age(project):
    assert line(project, "rm", {"file_name": "app.log"}).startswith("deletes: app.log (")
    assert "changed just now" in line(project, "rm", {"file_name": "app.log"})


def test_rm_r_counts_the_files_in_the_folder(project):
    got = line(project, "rm", {"file_name": "src"}, recursive=True)
    assert got == "deletes: src/ and the 120 files in it (11.7 KB)"
    assert "refuses" in line(project, "rm", {"file_name": "src"})  # without -r nothing goes


def test_mv_says_what_it_replaces(project):
    got = line(project, "mv", {"source": "a.txt", "destination": "docs"})
    assert got == "changes: moves a.txt into docs/, replacing docs/a.txt (17 bytes, newer than a.txt)"


def test_cp_of_a_folder_to_a_new_name(project):
    got = line(project, "cp", {"source": "src", "destination": "backup"})
    assert got == "creates: copies src/ and the 120 files in it (11.7 KB) to a new folder backup"


def test_echo_appends_and_says_so(project):
    got = line(project, "echo", {"content": "x", "file_name": "notes.txt"})
    assert got == "changes: appends 1 line to notes.txt, which has 12 lines (nothing in it is replaced)"
    assert line(project, "echo", {"content": "a\nb", "file_name": "new.txt"}) == "creates: writes 2 lines to a new file new.txt"


def test_find_counts_what_it_would_find(project):
    assert line(project, "find", {"path": ".", "name": ".py"}) == "reads: finds names containing '.py' under . (120 right now)"


def test_tail_counts_the_lines(project):
    assert line(project, "tail", {"file_name": "app.log", "lines": 20}) == "reads: shows the last 20 lines of app.log, which has 1,234"


def test_ones_and_zeros_read_as_a_person_writes_them(project, tmp_path):
    home, cwd = project
    os.makedirs(os.path.join(cwd, "few"))
    for name, text in (("one.txt", "only\n"), ("empty.txt", ""), ("four.txt", "a\nb\nc\nd\n")):
        with open(os.path.join(cwd, name), "w") as fh:
            fh.write(text)
    assert line(project, "tail", {"file_name": "four.txt", "lines": 1}) == "reads: shows the last line of four.txt, which has 4"
    assert line(project, "tail", {"file_name": "one.txt", "lines": 5}) == "reads: shows the one line of one.txt"
    assert line(project, "tail", {"file_name": "four.txt", "lines": 9}) == "reads: shows all 4 lines of four.txt"
    assert (
        line(project, "echo", {"content": "x", "file_name": "empty.txt"})
        == "changes: appends 1 line to empty.txt, which is empty (nothing in it is replaced)"
    )
    assert line(project, "echo", {"content": "x", "file_name": "one.txt"}).endswith("which has 1 line (nothing in it is replaced)")
    assert line(project, "find", {"path": "few", "name": "zzz"}) == "reads: finds names containing 'zzz' under few (none right now)"


def test_cd_shows_where_under_home(project):
    assert line(project, "cd", {"folder": "src"}) == "moves the shell: goes to ~/project/src"
    assert line(project, "cd", {"folder": "../.."}).startswith("moves the shell: goes to /")


def test_odd_places_give_an_honest_line_never_an_error(project, tmp_path):
    home, cwd = project
    os.mkfifo(os.path.join(cwd, "fifo"))
    assert line(project, "rm", {"file_name": "fifo"}) == "deletes: fifo (a special file)"
    assert line(project, "rm", {"file_name": "gone.txt"}) == "fails: gone.txt is not there; nothing is deleted"
    os.symlink("/", os.path.join(cwd, "root"))
    assert line(project, "rm", {"file_name": "root"}) == "deletes: the link root (not what it points to)"
    locked = os.path.join(cwd, "locked")
    os.makedirs(os.path.join(locked, "inner"))
    os.chmod(locked, 0)
    try:
        got = line(project, "rm", {"file_name": "locked"}, recursive=True)
        assert got.startswith("deletes: locked/ and the ")
    finally:
        os.chmod(locked, stat.S_IRWXU)
    odd = "caf\udce9.txt"  # a name that is not UTF-8
    assert line(project, "rm", {"file_name": odd}).startswith("fails: ")


def test_a_walk_never_follows_links_out_of_the_tree(project, tmp_path):
    home, cwd = project
    os.symlink("/usr", os.path.join(cwd, "src", "usr"))
    got = line(project, "rm", {"file_name": "src"}, recursive=True)
    assert "121 files" in got  # the link counts as one entry, /usr is not walked


def test_a_huge_tree_stops_at_the_budget(tmp_path):
    big = tmp_path / "big"
    for i in range(30):
        (big / f"d{i}").mkdir(parents=True)
        for j in range(100):
            (big / f"d{i}" / f"f{j}").touch()
    got = describe(ToolCall("rm", {"file_name": "big"}), str(tmp_path), str(tmp_path), True, budget=0.0)
    assert "at least" in got
    whole = describe(ToolCall("rm", {"file_name": "big"}), str(tmp_path), str(tmp_path), True, budget=30)
    assert "the 3,000 files" in whole


def test_explain_says_what_a_typed_command_does(project):
    from daemon_helpers import shellper

    home, cwd = project
    env = {**os.environ, "HOME": home}
    r = shellper("explain", "rm", "-r", "src", cwd=cwd, env=env)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "deletes: src/ and the 120 files in it (11.7 KB)"
    r = shellper("explain", "mv a.txt docs", cwd=cwd, env=env)
    assert r.stdout.splitlines() == ["changes: moves a.txt into docs/, replacing docs/a.txt (17 bytes, newer than a.txt)"]
    r = shellper("explain", "rm /", cwd=cwd, env=env)
    assert "would refuse it" in r.stdout
    r = shellper("explain", "git push --force", cwd=cwd, env=env)
    assert r.returncode == 1 and "not one of the 18 file commands" in r.stderr and r.stdout == ""
