"""`autograder feedback --canvas-download` writes the zip Canvas' "Re-Upload Submissions" takes back.

Canvas reads a re-uploaded file's name as its download named it: the first two
all-digit parts between "_" are the user id and the id of a file of that user's
submission (canvas-lms, Assignment#infer_comment_context_from_filename). The
expected names below are written by hand from the download's names.
"""

import zipfile

from tests.support import corpus_tiny as tiny


def write_zip(path, files):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, 1, 12, 0, 0)), content)


def test_feedback_zip_names_each_page_for_its_students_canvas_file(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    assert tiny.run(paths, "release", "tiny") == 0
    correct = tiny.student_notebook(paths["release_dir"], tiny.ADD, tiny.MUL)
    wrong = tiny.student_notebook(paths["release_dir"], "def add(a, b):\n    return a - b\n", tiny.MUL)
    download = tmp_path / "submissions.zip"
    write_zip(download, {"smithjane_12345_67890_tiny.ipynb": correct,
                         "doejohn_LATE_222_333_tiny-1.ipynb": wrong})
    assert tiny.run(paths, "collect", "tiny", download) == 0
    write_zip(tmp_path / "other.zip", {"lonely_777_888_tiny.ipynb": correct})  # not in the download given below
    assert tiny.run(paths, "collect", "tiny", tmp_path / "other.zip") == 0
    assert tiny.run(paths, "grade", "tiny", "--workers", 1) == 0
    capsys.readouterr()

    assert tiny.run(paths, "feedback", "tiny", "--canvas-download", download) == 0
    out = capsys.readouterr().out
    assert "not in the Canvas download (not in the zip): lonely" in out
    feedback = paths["course_dir"] / "feedback"
    with zipfile.ZipFile(feedback / "tiny_canvas.zip") as upload:
        assert sorted(upload.namelist()) == ["doejohn_LATE_222_333_tiny.html", "smithjane_12345_67890_tiny.html"]
        assert upload.read("smithjane_12345_67890_tiny.html") == (feedback / "smithjane/tiny/tiny.html").read_bytes()
        page = upload.read("doejohn_LATE_222_333_tiny.html").decode()
        assert "add is wrong for a negative number" in page or "Tests you did not pass" in page


def test_an_unreadable_canvas_download_is_one_line(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    assert tiny.run(paths, "release", "tiny") == 0
    write_zip(tmp_path / "in.zip", {"a_1_2_tiny.ipynb": tiny.student_notebook(paths["release_dir"], tiny.ADD, None)})
    assert tiny.run(paths, "collect", "tiny", tmp_path / "in.zip") == 0
    assert tiny.run(paths, "grade", "tiny", "--workers", 1) == 0
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    capsys.readouterr()
    assert tiny.run(paths, "feedback", "tiny", "--canvas-download", tmp_path / "broken.zip") == 1
    err = capsys.readouterr().err
    assert err.startswith("autograder feedback: cannot read the Canvas download") and err.count("\n") == 1, err
