"""The effect line checked against what happened (issue 19): every case's command runs for
real, as an unprivileged user, in bash, zsh and fish, and each claim of the line (and of the
notes) is compared with the exit status, the output and the tree before and after.

The rules (claims_harness.Judge):
- "fails": the exit status is not 0 and the tree is unchanged (a line that says a partial copy
  is left may have added things); "fails part-way": not 0, and something changed.
- any other kind: exit status 0 (1 too for diff and grep: differences, no match); "reads" and
  "moves the shell" leave the tree as it was (cd: the shell's $PWD is the folder named);
  "deletes" only removes; "creates" only adds; "changes" changes only what the text names (a
  name or a folder above it); "asks first": with the answer n, nothing changed.
- numbers: "the N files in it" is the number of non-folder entries in the folder (and those
  removed by rm, copied by cp); "appends N lines to X, which has M" (X had M lines, ended with a
  newline, and gained exactly N newline-ended lines); "its last line has no newline, so the first
  line is added onto that line" (X did not end with a newline and the text was glued on); tail's
  "the last N of X's M lines" / "all of X's M lines" (lines printed, lines X has); find's
  "(N right now)" (lines printed); "replacing X" (X changed); "the file written is Y" (Y changed,
  the link did not).
- Seen.written lists every regular file whose content was written (or a folder above it).
A line is false when any claim disagrees; all false lines are listed, with the command and what
happened, and written to /tmp/claims_report.txt.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from claims_harness import ROOT, SHELLS, Case, bfcl_cases, report, run_all

REPORT = "/tmp/claims_report.txt"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(s) for s in SHELLS) or (os.geteuid() == 0 and not shutil.which("setpriv")),
    reason="needs bash, zsh, fish (and setpriv as root)",
)


def L(n: int, tag: str = "row") -> str:
    """n lines without a final newline."""
    return "\n".join(f"{tag} {i + 1}" for i in range(n))


def NL(n: int, tag: str = "row") -> str:
    """n lines, each ending with a newline."""
    return "".join(f"{tag} {i + 1}\n" for i in range(n))


A = {"a.txt": "alpha\nbeta\n"}
SRC = {"src/one.txt": "one\n", "src/two.txt": "two\n", "src/sub/three.txt": "three\n"}
RO_DIR = 0o555
NOEXEC = 0o644


def C(name, tool, args, **kw) -> Case:
    return Case(name, tool, args, **kw)


CASES = [
    # ---- 1. tail and files without a final newline
    C("tail 1 of a file without a final newline", "tail", {"file_name": "report.txt", "lines": 1}, files={"report.txt": L(3)}),
    C("tail 10 of a 3-line file without a final newline", "tail", {"file_name": "report.txt", "lines": 10}, files={"report.txt": L(3)}),
    C("tail of a one-line file, no newline", "tail", {"file_name": "r.txt", "lines": 1}, files={"r.txt": "only"}),
    C("tail 10 of 15 lines with newlines", "tail", {"file_name": "log.txt", "lines": 10}, files={"log.txt": NL(15)}),
    C("tail 20 of 15 lines without a final newline", "tail", {"file_name": "log.txt", "lines": 20}, files={"log.txt": L(15)}),
    C("tail of an empty file", "tail", {"file_name": "e.txt", "lines": 10}, files={"e.txt": ""}),
    C("tail of a file that is not there", "tail", {"file_name": "no.txt", "lines": 10}),
    # ---- 2. echo >> onto a last line without a newline
    C("echo >> a file without a final newline", "echo", {"content": "added", "file_name": "notes.txt"}, files={"notes.txt": L(2)}),
    C("echo two lines >> a file without a final newline", "echo", {"content": "x\ny", "file_name": "notes.txt"}, files={"notes.txt": L(2)}),
    C("echo >> a file with a final newline", "echo", {"content": "added", "file_name": "notes.txt"}, files={"notes.txt": NL(2)}),
    C("echo >> an empty file", "echo", {"content": "added", "file_name": "notes.txt"}, files={"notes.txt": ""}),
    C("echo >> a new file", "echo", {"content": "hello", "file_name": "new.txt"}),
    C("echo two lines >> a new file", "echo", {"content": "a\nb", "file_name": "new.txt"}),
    C("echo to the terminal", "echo", {"content": "hello", "file_name": "None"}),
    C(
        "echo >> a file through a link",
        "echo",
        {"content": "x", "file_name": "ln.txt"},
        files={"real.txt": NL(2)},
        links={"ln.txt": "real.txt"},
    ),
    C("echo >> a dangling link", "echo", {"content": "x", "file_name": "ln.txt"}, links={"ln.txt": "gone.txt"}),
    # ---- 3. find whose start folder matches
    C("find reports -name rep", "find", {"path": "reports", "name": "rep"}, files={"reports/rep1.txt": "r", "reports/other.txt": "o"}),
    C(
        "find reports/ -name rep (slash)",
        "find",
        {"path": "reports/", "name": "rep"},
        files={"reports/rep1.txt": "r", "reports/other.txt": "o"},
    ),
    C(
        "find . -name test",
        "find",
        {"path": ".", "name": "test"},
        files={"test_a.txt": "t", "x/test_b.txt": "t", "x/other": "o"},
        dirs=["testdir"],
    ),
    C("find . (everything)", "find", {"path": ".", "name": "None"}, files={"a": "1", "d/b": "2"}),
    C("find a file as the start", "find", {"path": "rep.txt", "name": "rep"}, files={"rep.txt": "r"}),
    C(
        "find with an unreadable subfolder",
        "find",
        {"path": ".", "name": "None"},
        files={"a": "1", "locked/b": "2"},
        modes={"locked": 0o000},
    ),
    C("find in an unreadable folder", "find", {"path": "locked", "name": "None"}, files={"locked/b": "2"}, modes={"locked": 0o000}),
    C("find in a folder not there", "find", {"path": "nope", "name": "x"}),
    # ---- 4. writes that fail because of names
    C("cp a file into a folder holding a same-named folder", "cp", {"source": "a.txt", "destination": "d"}, files=A, dirs=["d/a.txt"]),
    C("mv a file into a folder holding a same-named folder", "mv", {"source": "a.txt", "destination": "d"}, files=A, dirs=["d/a.txt"]),
    C("mv src d where d/src is a non-empty folder", "mv", {"source": "src", "destination": "d"}, files={**SRC, "d/src/keep.txt": "keep\n"}),
    C("mv src d where d/src is an empty folder", "mv", {"source": "src", "destination": "d"}, files=SRC, dirs=["d/src"]),
    C(
        "cp src d where d/src is a non-empty folder (merge)",
        "cp",
        {"source": "src", "destination": "d"},
        files={**SRC, "d/src/keep.txt": "keep\n"},
    ),
    C("mv a folder onto a file", "mv", {"source": "src", "destination": "f.txt"}, files={**SRC, "f.txt": "f\n"}),
    C("cp a folder onto a file", "cp", {"source": "src", "destination": "f.txt"}, files={**SRC, "f.txt": "f\n"}),
    C("mv a folder into d where d/src is a file", "mv", {"source": "src", "destination": "d"}, files={**SRC, "d/src": "file\n"}),
    C("cp a folder into d where d/src is a file", "cp", {"source": "src", "destination": "d"}, files={**SRC, "d/src": "file\n"}),
    C("mv a.txt a.txt", "mv", {"source": "a.txt", "destination": "a.txt"}, files=A),
    C("cp a.txt a.txt", "cp", {"source": "a.txt", "destination": "a.txt"}, files=A),
    C("cp a.txt .", "cp", {"source": "a.txt", "destination": "."}, files=A),
    C("mv a.txt .", "mv", {"source": "a.txt", "destination": "."}, files=A),
    C("mv src src/sub", "mv", {"source": "src", "destination": "src/sub"}, files=SRC),
    C("cp -r src src", "cp", {"source": "src", "destination": "src"}, files=SRC),
    C("cp -r src src/sub", "cp", {"source": "src", "destination": "src/sub"}, files=SRC),
    C("cp a.txt newdir/ (not there)", "cp", {"source": "a.txt", "destination": "newdir/"}, files=A),
    C("mv a.txt newdir/ (not there)", "mv", {"source": "a.txt", "destination": "newdir/"}, files=A),
    C("cp src newdir/ (not there)", "cp", {"source": "src", "destination": "newdir/"}, files=SRC),
    C("mv src newdir/ (not there)", "mv", {"source": "src", "destination": "newdir/"}, files=SRC),
    C("mv a.txt nodir/b.txt", "mv", {"source": "a.txt", "destination": "nodir/b.txt"}, files=A),
    C("cp a.txt nodir/b.txt", "cp", {"source": "a.txt", "destination": "nodir/b.txt"}, files=A),
    C("cp onto a dangling link", "cp", {"source": "a.txt", "destination": "dl"}, files=A, links={"dl": "missing.txt"}),
    C(
        "cp into d where d/a.txt is a dangling link",
        "cp",
        {"source": "a.txt", "destination": "d"},
        files=A,
        dirs=["d"],
        links={"d/a.txt": "missing.txt"},
    ),
    C("mv onto a dangling link", "mv", {"source": "a.txt", "destination": "dl"}, files=A, links={"dl": "missing.txt"}),
    C("echo >> a folder", "echo", {"content": "x", "file_name": "d"}, dirs=["d"]),
    C("echo >> nodir/x.txt", "echo", {"content": "x", "file_name": "nodir/x.txt"}),
    C("mv a.txt d replacing d/a.txt", "mv", {"source": "a.txt", "destination": "d"}, files={**A, "d/a.txt": "old\n"}),
    C("cp a.txt d replacing d/a.txt", "cp", {"source": "a.txt", "destination": "d"}, files={**A, "d/a.txt": "old\n"}),
    C("mv a.txt b.txt replacing b.txt", "mv", {"source": "a.txt", "destination": "b.txt"}, files={**A, "b.txt": "bee\n"}),
    C("cp a.txt b.txt replacing b.txt", "cp", {"source": "a.txt", "destination": "b.txt"}, files={**A, "b.txt": "bee\n"}),
    C("mv a.txt into a file's path (a.txt/x)", "mv", {"source": "a.txt", "destination": "f.txt/x"}, files={**A, "f.txt": "f\n"}),
    C("cp a file that is not there", "cp", {"source": "no.txt", "destination": "x.txt"}),
    C("mv a file that is not there", "mv", {"source": "no.txt", "destination": "x.txt"}),
    C("cp src/. into d (merge)", "cp", {"source": "src/.", "destination": "d"}, files={**SRC, "d/old.txt": "o\n"}),
    C("mkdir in a folder not there", "mkdir", {"dir_name": "nodir/new"}),
    C("touch in a folder not there", "touch", {"file_name": "nodir/new.txt"}),
    C("touch new/ (slash, not a folder)", "touch", {"file_name": "new/"}),
    C("mkdir where a file is", "mkdir", {"dir_name": "a.txt"}, files=A),
    C("rmdir of a non-empty folder", "rmdir", {"dir_name": "src"}, files=SRC),
    C("rmdir of a file", "rmdir", {"dir_name": "a.txt"}, files=A),
    C("rm of a folder without -r", "rm", {"file_name": "src"}, files=SRC, recursive=False),
    C("cd into a file", "cd", {"folder": "a.txt"}, files=A),
    C("cat a folder", "cat", {"file_name": "d"}, dirs=["d"]),
    C("grep a folder", "grep", {"file_name": "d", "pattern": "x"}, dirs=["d"]),
    # ---- 5. permissions
    C(
        "cp an unreadable file",
        "cp",
        {"source": "secret.txt", "destination": "copy.txt"},
        files={"secret.txt": "s\n"},
        modes={"secret.txt": 0o000},
    ),
    C(
        "cp -r a folder holding an unreadable file",
        "cp",
        {"source": "src", "destination": "dst"},
        files={**SRC, "src/secret.txt": "s\n"},
        modes={"src/secret.txt": 0o000},
    ),
    C(
        "cp -r a folder holding an unreadable folder",
        "cp",
        {"source": "src", "destination": "dst"},
        files={**SRC, "src/locked/x.txt": "x\n"},
        modes={"src/locked": 0o000},
    ),
    C(
        "mv out of a read-only folder",
        "mv",
        {"source": "ro/a.txt", "destination": "a.txt"},
        files={"ro/a.txt": "a\n"},
        modes={"ro": RO_DIR},
    ),
    C("cp into a read-only folder", "cp", {"source": "a.txt", "destination": "ro"}, files=A, dirs=["ro"], modes={"ro": RO_DIR}),
    C("mv into a read-only folder", "mv", {"source": "a.txt", "destination": "ro"}, files=A, dirs=["ro"], modes={"ro": RO_DIR}),
    C(
        "cp onto a read-only file",
        "cp",
        {"source": "a.txt", "destination": "ro.txt"},
        files={**A, "ro.txt": "ro\n"},
        modes={"ro.txt": 0o444},
    ),
    C(
        "mv onto a read-only file (asks)",
        "mv",
        {"source": "a.txt", "destination": "ro.txt"},
        files={**A, "ro.txt": "ro\n"},
        modes={"ro.txt": 0o444},
    ),
    C("rm inside a read-only folder", "rm", {"file_name": "ro/a.txt"}, files={"ro/a.txt": "a\n"}, modes={"ro": RO_DIR}),
    C("rmdir inside a read-only folder", "rmdir", {"dir_name": "ro/empty"}, dirs=["ro/empty"], modes={"ro": RO_DIR}),
    C("echo >> a new file in a read-only folder", "echo", {"content": "x", "file_name": "ro/new.txt"}, dirs=["ro"], modes={"ro": RO_DIR}),
    C(
        "echo >> a writable file in a read-only folder",
        "echo",
        {"content": "x", "file_name": "ro/a.txt"},
        files={"ro/a.txt": "a\n"},
        modes={"ro": RO_DIR},
    ),
    C("touch a new file in a read-only folder", "touch", {"file_name": "ro/new.txt"}, dirs=["ro"], modes={"ro": RO_DIR}),
    C("mkdir in a read-only folder", "mkdir", {"dir_name": "ro/new"}, dirs=["ro"], modes={"ro": RO_DIR}),
    C("echo >> a read-only file", "echo", {"content": "x", "file_name": "ro.txt"}, files={"ro.txt": "ro\n"}, modes={"ro.txt": 0o444}),
    C(
        "rm -r a folder with an unreadable subfolder",
        "rm",
        {"file_name": "top"},
        files={"top/a": "1", "top/b": "2", "top/locked/c": "3", "top/locked/d": "4"},
        modes={"top/locked": 0o000},
    ),
    C(
        "rm -r a folder with a read-only subfolder",
        "rm",
        {"file_name": "top"},
        files={"top/a": "1", "top/b": "2", "top/ro/c": "3", "top/ro/d": "4"},
        modes={"top/ro": RO_DIR},
    ),
    C("rm -r a folder in a read-only folder", "rm", {"file_name": "ro/top"}, files={"ro/top/a": "1"}, modes={"ro": RO_DIR}),
    C("cd into a folder without search permission", "cd", {"folder": "noexec"}, files={"noexec/a": "1"}, modes={"noexec": NOEXEC}),
    C("cd into a folder inside one without search permission", "cd", {"folder": "noexec/in"}, dirs=["noexec/in"], modes={"noexec": NOEXEC}),
    C("rm a write-protected file (asks)", "rm", {"file_name": "ro.txt"}, files={"ro.txt": "ro\n"}, modes={"ro.txt": 0o444}),
    C(
        "rm -r a folder with write-protected files (asks)",
        "rm",
        {"file_name": "top"},
        files={"top/a": "1", "top/ro": "2"},
        modes={"top/ro": 0o444},
    ),
    C("touch a read-only file the user owns", "touch", {"file_name": "ro.txt"}, files={"ro.txt": "ro\n"}, modes={"ro.txt": 0o444}),
    C("cat an unreadable file", "cat", {"file_name": "secret.txt"}, files={"secret.txt": "s\n"}, modes={"secret.txt": 0o000}),
    C(
        "tail an unreadable file",
        "tail",
        {"file_name": "secret.txt", "lines": 10},
        files={"secret.txt": "s\n"},
        modes={"secret.txt": 0o000},
    ),
    C(
        "diff with an unreadable file",
        "diff",
        {"file_name1": "a.txt", "file_name2": "secret.txt"},
        files={**A, "secret.txt": "s\n"},
        modes={"secret.txt": 0o000},
    ),
    C("ls in an unreadable folder", "ls", {"a": False}, files={"locked/x": "1"}, cwd="locked", modes={"locked": 0o300}),
    C(
        "mv a read-only folder to another folder",
        "mv",
        {"source": "rod", "destination": "d"},
        files={"rod/x": "1"},
        dirs=["d"],
        modes={"rod": RO_DIR},
    ),
    C("mv a read-only folder to a new name", "mv", {"source": "rod", "destination": "rod2"}, files={"rod/x": "1"}, modes={"rod": RO_DIR}),
    C("rmdir of an unreadable empty folder", "rmdir", {"dir_name": "locked"}, dirs=["locked"], modes={"locked": 0o000}),
    C("rmdir of an unreadable folder that is not empty", "rmdir", {"dir_name": "locked"}, files={"locked/x": "1"}, modes={"locked": 0o000}),
    C(
        "rm -r a folder whose subfolders are unreadable but empty",
        "rm",
        {"file_name": "top"},
        files={"top/a": "1"},
        dirs=["top/e1", "top/e2"],
        modes={"top/e1": 0o000, "top/e2": 0o300},
    ),
    C("rm -r a read-only folder", "rm", {"file_name": "rod"}, files={"rod/a": "1", "rod/b": "2"}, modes={"rod": RO_DIR}),
    C(
        "rm -r a folder with write-protected files and a read-only subfolder",
        "rm",
        {"file_name": "top"},
        files={"top/a": "1", "top/p": "2", "top/ro/c": "3"},
        modes={"top/p": 0o444, "top/ro": RO_DIR},
    ),
    C("du in a folder with an unreadable subfolder", "du", {"human_readable": False}, files={"locked/x": "1"}, modes={"locked": 0o000}),
    C(
        "grep an unreadable file",
        "grep",
        {"file_name": "secret.txt", "pattern": "s"},
        files={"secret.txt": "s\n"},
        modes={"secret.txt": 0o000},
    ),
    C(
        "cp a file out of a folder without search permission",
        "cp",
        {"source": "noexec/a.txt", "destination": "b"},
        files={"noexec/a.txt": "a\n"},
        modes={"noexec": NOEXEC},
    ),
    C(
        "mv into a folder without search permission",
        "mv",
        {"source": "a.txt", "destination": "noexec"},
        files={**A, "noexec/x": "1"},
        modes={"noexec": NOEXEC},
    ),
    # ---- 6. headline and note agree
    C("mkdir docs when docs exists", "mkdir", {"dir_name": "docs"}, dirs=["docs"]),
    C("cd to a folder not there", "cd", {"folder": "parent"}),
    C("cd to a folder under one not there", "cd", {"folder": "parent/child"}),
    C("rm nothere.txt", "rm", {"file_name": "nothere.txt"}),
    C("rmdir nothere", "rmdir", {"dir_name": "nothere"}),
    C("diff with a file not there", "diff", {"file_name1": "a.txt", "file_name2": "no.txt"}, files=A),
    # ---- 7. cp through a link
    C(
        "cp a.txt d where d/a.txt links to ../other.txt",
        "cp",
        {"source": "a.txt", "destination": "d"},
        files={**A, "other.txt": "other content\n"},
        dirs=["d"],
        links={"d/a.txt": "../other.txt"},
    ),
    C(
        "cp a.txt onto a link to a file",
        "cp",
        {"source": "a.txt", "destination": "ln"},
        files={**A, "other.txt": "other content\n"},
        links={"ln": "other.txt"},
    ),
    C(
        "mv a.txt onto a link to a file",
        "mv",
        {"source": "a.txt", "destination": "ln"},
        files={**A, "other.txt": "other content\n"},
        links={"ln": "other.txt"},
    ),
    C("cp a link (copied as a link)", "cp", {"source": "ln", "destination": "copy"}, files={"other.txt": "o\n"}, links={"ln": "other.txt"}),
    C("cp into a link to a folder", "cp", {"source": "a.txt", "destination": "ld"}, files=A, dirs=["real"], links={"ld": "real"}),
    # ---- 8. links to folders
    C(
        "rm -r ld/ (a link to a folder, with the slash)",
        "rm",
        {"file_name": "ld/"},
        files={"real/a": "1", "real/b": "2"},
        links={"ld": "real"},
        recursive=True,
    ),
    C("rm -r ld (a link to a folder)", "rm", {"file_name": "ld"}, files={"real/a": "1"}, links={"ld": "real"}, recursive=True),
    C("rm a link to a folder", "rm", {"file_name": "ld"}, files={"real/a": "1"}, links={"ld": "real"}),
    C("rmdir of a link to an empty folder", "rmdir", {"dir_name": "le"}, dirs=["empty"], links={"le": "empty"}),
    C("rmdir le/ (a link to an empty folder, with the slash)", "rmdir", {"dir_name": "le/"}, dirs=["empty"], links={"le": "empty"}),
    C("cd through a link to a folder", "cd", {"folder": "ld"}, dirs=["real"], links={"ld": "real"}),
    C("rm a dangling link", "rm", {"file_name": "dl"}, links={"dl": "gone"}),
    # ---- 9. notes
    C("touch a dangling link", "touch", {"file_name": "dl"}, links={"dl": "target.txt"}),
    C("touch a dangling link into a missing folder", "touch", {"file_name": "dl"}, links={"dl": "nodir/t.txt"}),
    C("diff a d (d/a there)", "diff", {"file_name1": "a", "file_name2": "d"}, files={"a": "x\n", "d/a": "y\n"}),
    C("diff d a (d/a there)", "diff", {"file_name1": "d", "file_name2": "a"}, files={"a": "x\n", "d/a": "x\n"}),
    C("diff a d (d/a not there)", "diff", {"file_name1": "a", "file_name2": "d"}, files={"a": "x\n"}, dirs=["d"]),
    C("diff two folders", "diff", {"file_name1": "d1", "file_name2": "d2"}, files={"d1/a": "1\n", "d2/a": "2\n"}),
    C("diff equal files", "diff", {"file_name1": "a", "file_name2": "b"}, files={"a": "x\n", "b": "x\n"}),
    # ---- 10. exact counts in a big folder
    C("rm -r a folder of 12,000 files", "rm", {"file_name": "big"}, many=("big", 12, 1000), recursive=True),
    C("cp -r a folder of 12,000 files", "cp", {"source": "big", "destination": "big2"}, many=("big", 12, 1000)),
    C("rm -r a folder of 60,000 files (past the look's budget)", "rm", {"file_name": "huge"}, many=("huge", 60, 1000), recursive=True),
    C("find in a folder of 12,000 files", "find", {"path": "big", "name": "f99"}, many=("big", 12, 1000)),
    # ---- hard links
    C("rm one of two hard links", "rm", {"file_name": "h1"}, files={"h2": "shared\n"}, hard={"h1": "h2"}),
    C("echo >> a hard link", "echo", {"content": "x", "file_name": "h1"}, files={"h2": "shared\n"}, hard={"h1": "h2"}),
    C("cp onto a hard link", "cp", {"source": "a.txt", "destination": "h1"}, files={**A, "h2": "shared\n"}, hard={"h1": "h2"}),
    C("mv onto a hard link", "mv", {"source": "a.txt", "destination": "h1"}, files={**A, "h2": "shared\n"}, hard={"h1": "h2"}),
    C("mv a hard link onto its twin", "mv", {"source": "h1", "destination": "h2"}, files={"h2": "shared\n"}, hard={"h1": "h2"}),
    C("cp a hard link onto its twin", "cp", {"source": "h1", "destination": "h2"}, files={"h2": "shared\n"}, hard={"h1": "h2"}),
    # ---- other users, sticky folders (as root the tree is the user's; these entries are root's)
    C(
        "rm another user's file in a sticky folder",
        "rm",
        {"file_name": "sticky/theirs.txt"},
        files={"sticky/theirs.txt": "t\n"},
        modes={"sticky": 0o1777, "sticky/theirs.txt": 0o666},
        owners={"sticky": 0, "sticky/theirs.txt": 0},
    ),
    C(
        "mv another user's file out of a sticky folder",
        "mv",
        {"source": "sticky/theirs.txt", "destination": "t.txt"},
        files={"sticky/theirs.txt": "t\n"},
        modes={"sticky": 0o1777, "sticky/theirs.txt": 0o666},
        owners={"sticky": 0, "sticky/theirs.txt": 0},
    ),
    C(
        "touch another user's read-only file",
        "touch",
        {"file_name": "theirs.txt"},
        files={"theirs.txt": "t\n"},
        modes={"theirs.txt": 0o644},
        owners={"theirs.txt": 0},
    ),
    C(
        "touch another user's writable file",
        "touch",
        {"file_name": "theirs.txt"},
        files={"theirs.txt": "t\n"},
        modes={"theirs.txt": 0o666},
        owners={"theirs.txt": 0},
    ),
    C(
        "echo >> another user's writable file",
        "echo",
        {"content": "x", "file_name": "theirs.txt"},
        files={"theirs.txt": "t\n"},
        modes={"theirs.txt": 0o666},
        owners={"theirs.txt": 0},
    ),
    C(
        "rm another user's read-only file in the user's folder (asks)",
        "rm",
        {"file_name": "theirs.txt"},
        files={"theirs.txt": "t\n"},
        modes={"theirs.txt": 0o644},
        owners={"theirs.txt": 0},
    ),
    C(
        "mv into another user's folder",
        "mv",
        {"source": "a.txt", "destination": "theirs"},
        files=A,
        dirs=["theirs"],
        modes={"theirs": 0o755},
        owners={"theirs": 0},
    ),
    # ---- more links, names and edges
    C("mv a.txt onto a link to itself", "mv", {"source": "a.txt", "destination": "ln"}, files=A, links={"ln": "a.txt"}),
    C("cp a.txt onto a link to itself", "cp", {"source": "a.txt", "destination": "ln"}, files=A, links={"ln": "a.txt"}),
    C("cp -r src into a link to its own subfolder", "cp", {"source": "src", "destination": "ls"}, files=SRC, links={"ls": "src/sub"}),
    C("mv a folder into a link to a folder", "mv", {"source": "src", "destination": "ld"}, files=SRC, dirs=["real"], links={"ld": "real"}),
    C(
        "rm -r a folder holding a link to a file outside it",
        "rm",
        {"file_name": "top"},
        files={"top/a": "1", "keep.txt": "k\n"},
        links={"top/ln": "../keep.txt"},
        recursive=True,
    ),
    C(
        "cp -r a folder holding a link",
        "cp",
        {"source": "top", "destination": "copy"},
        files={"top/a": "1", "keep.txt": "k\n"},
        links={"top/ln": "../keep.txt"},
    ),
    C("cd - in a fresh shell", "cd", {"folder": "-"}, dirs=["d"]),
    C("cd ~ (a literal tilde)", "cd", {"folder": "~"}, dirs=["d"]),
    C("cd with CDPATH set", "cd", {"folder": "d"}, dirs=["elsewhere/d"], env={"CDPATH": "{top}/elsewhere"}),
    C("cd with CDPATH set and a local folder", "cd", {"folder": "d"}, dirs=["d", "elsewhere/d"], env={"CDPATH": "{top}/elsewhere"}),
    C("touch a folder", "touch", {"file_name": "d"}, dirs=["d"]),
    C("tail of a file holding one empty line", "tail", {"file_name": "e.txt", "lines": 1}, files={"e.txt": "\n"}),
    C("tail 2 of a file ending in blank lines", "tail", {"file_name": "e.txt", "lines": 2}, files={"e.txt": "a\n\n\n"}),
    C("echo an empty line >> a file without a final newline", "echo", {"content": "", "file_name": "n.txt"}, files={"n.txt": "last"}),
    C("echo content ending in a newline >> a file", "echo", {"content": "x\n", "file_name": "n.txt"}, files={"n.txt": "a\n"}),
    C("cat a dangling link", "cat", {"file_name": "dl"}, links={"dl": "gone"}),
    C("wc a link to a file", "wc", {"file_name": "ln", "mode": "c"}, files={"real.txt": "abc\n"}, links={"ln": "real.txt"}),
    C("mkdir through a dangling link", "mkdir", {"dir_name": "dl"}, links={"dl": "gone"}),
    C("rmdir of an empty folder with a slash", "rmdir", {"dir_name": "empty/"}, dirs=["empty"]),
    C("rm -r src/ (a folder with a slash)", "rm", {"file_name": "src/"}, files=SRC),
    C("mv a file to a name with a slash that is a folder", "mv", {"source": "a.txt", "destination": "d/"}, files=A, dirs=["d"]),
    C("cp a folder onto an empty folder of the same name", "cp", {"source": "src", "destination": "d"}, files=SRC, dirs=["d/src"]),
    # ---- plain successes
    C("ls", "ls", {"a": False}, files=A),
    C("ls -a", "ls", {"a": True}, files={**A, ".h": "h"}),
    C("pwd", "pwd", {}),
    C("du", "du", {"human_readable": False}, files=SRC),
    C("du -h", "du", {"human_readable": True}, files=SRC),
    C("cat", "cat", {"file_name": "a.txt"}, files=A),
    C("sort", "sort", {"file_name": "a.txt"}, files=A),
    C("wc -l", "wc", {"file_name": "a.txt", "mode": "l"}, files=A),
    C("wc -w", "wc", {"file_name": "a.txt", "mode": "w"}, files=A),
    C("grep with a match", "grep", {"file_name": "a.txt", "pattern": "beta"}, files=A),
    C("grep without a match", "grep", {"file_name": "a.txt", "pattern": "zeta"}, files=A),
    C("diff different files", "diff", {"file_name1": "a.txt", "file_name2": "b.txt"}, files={**A, "b.txt": "other\n"}),
    C("mkdir new", "mkdir", {"dir_name": "new"}),
    C("mkdir new/ (slash)", "mkdir", {"dir_name": "new/"}),
    C("touch new", "touch", {"file_name": "new.txt"}),
    C("touch an existing file", "touch", {"file_name": "a.txt"}, files=A),
    C("rmdir empty", "rmdir", {"dir_name": "empty"}, dirs=["empty"]),
    C("cp a file to a new name", "cp", {"source": "a.txt", "destination": "b.txt"}, files=A),
    C("cp a file into a folder", "cp", {"source": "a.txt", "destination": "d"}, files=A, dirs=["d"]),
    C("cp a folder to a new name", "cp", {"source": "src", "destination": "copy"}, files=SRC),
    C("cp a folder into a folder", "cp", {"source": "src", "destination": "d"}, files=SRC, dirs=["d"]),
    C("mv a file to a new name", "mv", {"source": "a.txt", "destination": "b.txt"}, files=A),
    C("mv a file into a folder", "mv", {"source": "a.txt", "destination": "d"}, files=A, dirs=["d"]),
    C("mv a folder to a new name", "mv", {"source": "src", "destination": "moved"}, files=SRC),
    C("mv a folder into a folder", "mv", {"source": "src", "destination": "d"}, files=SRC, dirs=["d"]),
    C("mv a file up a folder", "mv", {"source": "a.txt", "destination": ".."}, files={"in/a.txt": "a\n"}, cwd="in"),
    C("rm a file", "rm", {"file_name": "a.txt"}, files=A),
    C("rm -r a folder", "rm", {"file_name": "src"}, files=SRC),
    C("rm -r an empty folder", "rm", {"file_name": "empty"}, dirs=["empty"], recursive=True),
    C("cd into a folder", "cd", {"folder": "d"}, dirs=["d"]),
    C("cd ..", "cd", {"folder": ".."}, dirs=["in"], cwd="in"),
    C("cd with spaces", "cd", {"folder": "my dir"}, dirs=["my dir"]),
    C("echo with quotes and $", "echo", {"content": "it's $HOME `x`", "file_name": "q.txt"}, files={"q.txt": NL(1)}),
    C("echo -n content", "echo", {"content": "-n", "file_name": "q.txt"}, files={"q.txt": NL(1)}),
    C("file with spaces", "cat", {"file_name": "my file.txt"}, files={"my file.txt": "x\n"}),
    # ---- from an adversarial review: what is already where a merged copy lands
    C(
        "cp -r merge: a folder where a file lands",
        "cp",
        {"source": "pkg", "destination": "dst"},
        files={"pkg/a": "new\n", "pkg/b": "new b\n"},
        dirs=["dst/pkg/a"],
    ),
    C(
        "cp -r merge: a read-only folder inside",
        "cp",
        {"source": "pkg", "destination": "dst"},
        files={"pkg/sub/x": "x\n", "dst/pkg/sub/old": "o\n"},
        modes={"dst/pkg/sub": RO_DIR},
    ),
    C(
        "cp -r merge: a read-only file in the way",
        "cp",
        {"source": "pkg", "destination": "dst"},
        files={"pkg/a": "new\n", "dst/pkg/a": "old\n"},
        modes={"dst/pkg/a": 0o444},
    ),
    C(
        "cp -r merge: a dangling link in the way",
        "cp",
        {"source": "pkg", "destination": "dst"},
        files={"pkg/a": "new\n"},
        dirs=["dst/pkg"],
        links={"dst/pkg/a": "nowhere"},
    ),
    C(
        "cp -r merge: a link to a folder in the way",
        "cp",
        {"source": "pkg", "destination": "dst"},
        files={"pkg/sub/x": "x\n"},
        dirs=["dst/pkg", "elsewhere"],
        links={"dst/pkg/sub": "../../elsewhere"},
    ),
    C(
        "cp -r merge: a link to a file is written through",
        "cp",
        {"source": "pkg", "destination": "dst"},
        files={"pkg/a": "new\n", "other.txt": "other\n"},
        dirs=["dst/pkg"],
        links={"dst/pkg/a": "../../other.txt"},
    ),
    C(
        "cp over a hard-linked file in a read-only folder",
        "cp",
        {"source": "a.txt", "destination": "ro/t"},
        files={**A, "ro/t": "old\n"},
        modes={"ro": RO_DIR},
    ),
    C(
        "mv onto someone else's file in a sticky folder",
        "mv",
        {"source": "mine.txt", "destination": "sh/rootw"},
        files={"mine.txt": "m\n", "sh/rootw": "r\n"},
        modes={"sh": 0o1777, "sh/rootw": 0o666},
        owners={"sh": 0, "sh/rootw": 0},
    ),
    # ---- trailing slashes, . and .., loops, links to the same file
    C("rm a link to a file, with a slash", "rm", {"file_name": "la/"}, files=A, links={"la": "a.txt"}),
    C("rm a dangling link, with a slash", "rm", {"file_name": "dang/"}, links={"dang": "nowhere"}),
    C("cp a link to a file, with a slash", "cp", {"source": "la/", "destination": "new"}, files=A, links={"la": "a.txt"}),
    C("mv a link to a folder, with a slash", "mv", {"source": "ld/", "destination": "new"}, files={"d/x": "x\n"}, links={"ld": "d"}),
    C("rm -r d/.", "rm", {"file_name": "d/."}, files={"d/x": "x\n"}, recursive=True),
    C("rmdir d/.", "rmdir", {"dir_name": "d/."}, dirs=["d"]),
    C("touch a loop of links", "touch", {"file_name": "loop1"}, links={"loop1": "loop2", "loop2": "loop1"}),
    C("echo >> a loop of links", "echo", {"content": "hi", "file_name": "loop1"}, links={"loop1": "loop2", "loop2": "loop1"}),
    C("find a loop of links", "find", {"path": "loop1", "name": "None"}, links={"loop1": "loop2", "loop2": "loop1"}),
    C("find a dangling link", "find", {"path": "dang", "name": "None"}, links={"dang": "nowhere"}),
    C("find a link to a folder", "find", {"path": "ld", "name": "None"}, files={"d/x": "x\n"}, links={"ld": "d"}),
    C("find a link to a folder, with a slash", "find", {"path": "ld/", "name": "None"}, files={"d/x": "x\n"}, links={"ld": "d"}),
    C("mv a link onto the file it points to", "mv", {"source": "la", "destination": "a.txt"}, files=A, links={"la": "a.txt"}),
    C("cp -r a folder onto a file inside it", "cp", {"source": "d/", "destination": "d/in.txt"}, files={"d/in.txt": "x\n"}),
    C("cp a.txt/ (a file with a slash)", "cp", {"source": "a.txt/", "destination": "b"}, files=A),
    C("cat a.txt/ (a file with a slash)", "cat", {"file_name": "a.txt/"}, files=A),
    C(
        "rm -r a folder with someone else's file in a sticky folder",
        "rm",
        {"file_name": "t"},
        files={"t/s/f": "f\n", "t/mine": "m\n"},
        modes={"t/s": 0o1777, "t/s/f": 0o666},
        owners={"t/s": 0, "t/s/f": 0},
        recursive=True,
    ),
    # ---- the model's ~ and globs, as the user meant them (issue 21)
    C("cd ~", "cd", {"folder": "~"}),
    C("cat ~/w/notes.txt (the tree's top is ~/w)", "cat", {"file_name": "~/w/notes.txt"}, files={"notes.txt": "notes\n"}),
    C("echo >> ~/w/notes.txt", "echo", {"content": "more", "file_name": "~/w/notes.txt"}, files={"notes.txt": "notes\n"}),
    C("find names matching *.py", "find", {"path": ".", "name": "*.py"}, files={"a.py": "", "b.txt": "", "src/c.py": "", "src/d.pyc": ""}),
    C("find names matching a?c", "find", {"path": ".", "name": "a?c"}, files={"abc": "", "axc": "", "abbc": ""}),
]


def test_claims_match_what_happened():
    bfcl = bfcl_cases(os.path.join(ROOT, "tests", "data", "bfcl_fs_calls.jsonl"))
    cases = CASES + bfcl
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    started = time.monotonic()
    results = run_all(cases)
    took = time.monotonic() - started
    text = report(results, REPORT)
    checked = sum(r.checked for r in results)
    false = sum(len(r.false) for r in results)
    print(f"\ncases: {len(CASES)} probes + {len(bfcl)} benchmark calls, 3 shells, {took:.1f} s")
    print(f"lines checked: {checked}, false: {false}")
    errors = [f"[{r.shell}] {e}" for r in results for e in r.errors]
    assert not errors, "\n".join(errors)
    assert checked >= len(cases) * len(SHELLS) - sum(len(r.skipped) for r in results)
    assert false == 0, f"lines checked: {checked}, false: {false} (report: {REPORT})\n\n{text}"


# Lines known to be false, each in a case where the true line passes: the judge must catch every one
# (so a run with 0 false lines means the claims held, not that nothing was compared).
WRONG = {
    "rm a file": ("reads", "shows a.txt"),
    "tail 1 of a file without a final newline": ("reads", "shows the last line of report.txt, which has 2"),
    "tail 10 of a 3-line file without a final newline": ("reads", "shows all 2 lines of report.txt"),
    "find reports -name rep": ("reads", "finds names containing 'rep' under reports (1 right now)"),
    "echo >> a file without a final newline": ("changes", "appends 1 line to notes.txt, which has 2 lines (nothing in it is replaced)"),
    "echo >> a file with a final newline": ("changes", "appends 2 lines to notes.txt, which has 2 lines (nothing in it is replaced)"),
    "mkdir docs when docs exists": ("creates", "the folder docs"),
    "cp a.txt d where d/a.txt links to ../other.txt": ("changes", "copies a.txt (11 bytes) into d/, replacing d/a.txt (14 bytes)"),
    "rm -r a folder": ("deletes", "src/ and the 2 files in it (14 bytes)"),
    "cd into a folder": ("moves the shell", "goes to ~/w"),
    "cp into a read-only folder": ("creates", "copies a.txt (11 bytes) into ro/"),
    "mv src d where d/src is a non-empty folder": ("changes", "moves src/ into d/"),
    "cp -r src src": ("fails", "src/ cannot be copied into itself (src/src)"),
    "rm -r ld/ (a link to a folder, with the slash)": ("deletes", "the link ld/"),
    "rm a write-protected file (asks)": ("deletes", "ro.txt (3 bytes)"),
    "mv a.txt d replacing d/a.txt": ("changes", "moves a.txt into d/"),
    "cp a file to a new name": ("creates", "copies a.txt (12 bytes) to b.txt"),
    "mkdir new": ("creates", "the folder other"),
    "cat an unreadable file": ("reads", "shows secret.txt"),
    "touch a dangling link": ("creates", "an empty file dl"),
    "rmdir of a link to an empty folder": ("deletes", "the empty folder le/"),
    "cd into a folder without search permission": ("fails", "noexec/ is not there; the shell stays in ~/w"),
    "rm -r a folder in a read-only folder": (
        "fails part-way",
        "deletes the 1 file in ro/top/, then stops: no permission to delete in ro/; ro/top/a stays",
    ),
    "touch new": ("creates", "an empty file other.txt"),
    "du in a folder with an unreadable subfolder": ("reads", "shows the disk space of this folder"),
}


def test_the_judge_catches_false_lines():
    by_name = {c.name: c for c in CASES}
    wrong = [by_name[name] for name in WRONG]

    def doctor(case, v):
        v["kind"], v["text"] = WRONG[case.name]
        v["effect"] = f"{v['kind']}: {v['text']}"
        if case.name == "rm a file":
            v["written"] = []

    from claims_harness import run_cases

    result = run_cases("bash", wrong, doctor)
    assert not result.errors, result.errors
    caught = {j.case for j in result.false}
    missed = [f"{name}: {WRONG[name]}" for name in WRONG if name not in caught]
    assert not missed, "the judge passed lines known to be false:\n" + "\n".join(missed)
