"""Hostile input around the kernel, through the real `autograder` command.

Links at collect (a Canvas folder, a zip, the exchange) are refused with a
reason, never followed: a link to the solutions would otherwise be graded as
the student's work. An exchange folder named for a local user but written by
another is refused. Names that a spreadsheet would run as a formula reach the
CSV exports as text, and file names with control characters cannot forge a
line of the command's output.
"""

import csv
import os
import pwd
import stat
import zipfile

import pytest

from tests.support import corpus_tiny as tiny

PATTERN = r"hw-(?P<student>[a-z]+)\.ipynb"
LINK_REASON = "a symbolic link, not a file (links are never followed)"


def solution_notebook(paths):
    return paths["source_dir"] / tiny.ASSIGNMENT / f"{tiny.ASSIGNMENT}.ipynb"


def test_links_in_a_folder_are_refused_and_the_rest_collected(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    (source / "hw-honest.ipynb").write_text(tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
    (source / "hw-mallory.ipynb").symlink_to(solution_notebook(paths))
    (source / "linked").symlink_to(paths["source_dir"] / tiny.ASSIGNMENT, target_is_directory=True)
    os.mkfifo(source / "hw-pipe.ipynb")
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", PATTERN) == 0
    out = capsys.readouterr().out
    assert f"skipped    hw-mallory.ipynb: {LINK_REASON}" in out
    assert f"skipped    linked: {LINK_REASON}" in out
    assert "skipped    hw-pipe.ipynb: not a regular file" in out
    assert sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir()) == ["honest"]


def test_a_link_stored_in_a_zip_is_refused(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("hw-honest.ipynb", tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
        link = zipfile.ZipInfo("hw-mallory.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16  # how zip -y stores a symbolic link
        out.writestr(link, str(solution_notebook(paths)))
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, archive, "--pattern", PATTERN) == 0
    out = capsys.readouterr().out
    assert f"skipped    hw-mallory.ipynb: {LINK_REASON}" in out
    assert sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir()) == ["honest"]


def test_links_in_the_exchange_are_refused(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    exchange = tmp_path / "exchange"
    inbound = exchange / "lstm_course" / "inbound"
    stamp = "2025-03-01 12:00:00.000000 UTC"
    honest = inbound / f"honest+tiny+{stamp}+1"
    honest.mkdir(parents=True)
    (honest / "tiny.ipynb").write_text(tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
    mallory = inbound / f"mallory+tiny+{stamp}+2"
    mallory.mkdir()
    (mallory / "tiny.ipynb").symlink_to(solution_notebook(paths))
    (mallory / "secret_key").symlink_to(tmp_path / "grading" / "secret_key")
    (inbound / f"eve+tiny+{stamp}+3").symlink_to(honest, target_is_directory=True)
    capsys.readouterr()
    assert tiny.run(paths, "--exchange-root", exchange, "collect", tiny.ASSIGNMENT, "--exchange") == 0
    out = capsys.readouterr().out
    assert f"skipped    mallory+tiny+{stamp}+2/tiny.ipynb: {LINK_REASON}" in out
    assert f"skipped    mallory+tiny+{stamp}+2/secret_key: {LINK_REASON}" in out
    assert f"skipped    eve+tiny+{stamp}+3: {LINK_REASON}" in out
    assert f"skipped    mallory+tiny+{stamp}+2: no notebook in this submission" in out
    submitted = paths["course_dir"] / "submitted"
    assert not (submitted / "mallory" / "tiny" / "tiny.ipynb").exists()
    assert not (submitted / "eve").exists()
    assert (submitted / "honest" / "tiny" / "tiny.ipynb").is_file()


def test_formulas_in_names_are_exported_as_text(tmp_path):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    for student in ("jsmith", "adoe"):
        (source / f"hw-{student}.ipynb").write_text(tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
    (tmp_path / "roster.csv").write_text(
        "lms_id,student_id,first_name,last_name\n"
        'jsmith,s001,"=HYPERLINK(""http://example.invalid"",""x"")",+Smith\n'
        "adoe,s002,@Alex,-Doe\n")
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", PATTERN,
               "--roster", tmp_path / "roster.csv") == 0
    assert tiny.run(paths, "export") == 0
    exports = paths["course_dir"] / "exports"
    grades = {row["student_id"]: row for row in csv.DictReader(open(exports / "grades.csv"))}
    assert grades["s001"]["first_name"] == "'=HYPERLINK(\"http://example.invalid\",\"x\")"
    assert grades["s001"]["last_name"] == "'+Smith"
    assert (grades["s002"]["first_name"], grades["s002"]["last_name"]) == ("'@Alex", "'-Doe")
    canvas = {row[2]: row for row in csv.reader(open(exports / "canvas.csv"))}
    assert canvas["s001"][0] == "'+Smith, =HYPERLINK(\"http://example.invalid\",\"x\")"
    assert canvas["s002"][0] == "'-Doe, @Alex"
    every_cell = [cell for path in exports.glob("*.csv") for row in csv.reader(open(path)) for cell in row]
    assert not [cell for cell in every_cell if cell[:1] in ("=", "+", "@") or cell.startswith("-D")]


def test_control_characters_in_file_names_cannot_forge_output(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    (source / "hw-honest.ipynb").write_text(tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
    (source / "x\x1b[2J\ngraded 16.ipynb").write_text("{}")
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", PATTERN) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert not [line for line in out.splitlines() if line.startswith("graded")]
    assert "skipped    x\\x1b[2J\\ngraded 16.ipynb: file name does not match the pattern" in out


def test_ids_that_are_not_safe_names_are_refused_and_the_others_collected(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    notebook = tiny.student_notebook(paths["release_dir"], tiny.ADD, None)
    names = ["hw-..ipynb", "hw-...ipynb", "hw-[A-Z]*.ipynb", "hw-two words.ipynb", f"hw-{'a' * 65}.ipynb",
             "hw-honest.ipynb", "hw-climber.ipynb"]
    for name in names:
        (source / name).write_text(notebook)
    (tmp_path / "roster.csv").write_text("lms_id,student_id\n.,dot\n..,dots\nhonest,s001\nclimber,../../outside\n"
                                         "[A-Z]*,s003\ntwo words,s004\n" + f"{'a' * 65},s005\n")
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", r"hw-(?P<student>.+)\.ipynb") == 0
    out = capsys.readouterr().out
    refused = {"hw-..ipynb": ".", "hw-...ipynb": "..", "hw-[A-Z]*.ipynb": "[A-Z]*", "hw-two words.ipynb": "two words"}
    for name, student in refused.items():
        assert f"skipped    {name}: '{student}' is not a valid student id" in out
    assert f"skipped    hw-{'a' * 65}.ipynb: '{'a' * 64}' is not a valid student id" in out
    assert sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir()) == ["climber", "honest"]

    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", r"hw-(?P<student>.+)\.ipynb",
               "--roster", tmp_path / "roster.csv") == 0
    out = capsys.readouterr().out
    assert "skipped    roster row climber: '../../outside' is not a valid student id" in out
    assert not (tmp_path / "outside").exists() and not (paths["course_dir"] / "outside").exists()
    assert {"s001", "s003", "s004", "s005"} <= {p.name for p in (paths["course_dir"] / "submitted").iterdir()}


@pytest.mark.requires_root
def test_an_exchange_folder_named_for_another_local_user_is_refused(tmp_path, capsys):
    """nobody submits as nobody, then names a folder for daemon: only nobody's own is collected."""
    paths = tiny.released_course(tmp_path)
    exchange = tmp_path / "exchange"
    inbound = exchange / "lstm_course" / "inbound"
    stamp = "2025-03-01 12:00:00.000000 UTC"
    nobody = pwd.getpwnam("nobody")
    notebook = tiny.student_notebook(paths["release_dir"], tiny.ADD, tiny.MUL)
    for folder in (inbound / f"nobody+tiny+{stamp}+1", inbound / f"daemon+tiny+{stamp}+2"):
        folder.mkdir(parents=True)
        (folder / "tiny.ipynb").write_text(notebook)
        for path in (folder, folder / "tiny.ipynb"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    capsys.readouterr()
    assert tiny.run(paths, "--exchange-root", exchange, "collect", tiny.ASSIGNMENT, "--exchange") == 0
    out = capsys.readouterr().out
    assert f"skipped    daemon+tiny+{stamp}+2: written by nobody, not by the local user daemon" in out
    submitted = paths["course_dir"] / "submitted"
    assert (submitted / "nobody" / "tiny" / "tiny.ipynb").read_text() == notebook
    assert not (submitted / "daemon").exists()
