"""nbgrader configuration of the course.

Used by `make` (generate the student versions) and by the `autograder` command:
    nbgrader <command> --NbGrader.config_file=<repo>/autograder/nbgrader_config
(nbgrader adds the .py itself).
Paths are anchored at the repository root, so it works from any directory.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "solutions"   # instructor notebooks: solutions + hidden tests
c.CourseDirectory.release_directory = "exercises"  # what students download
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "grading", "gradebook.db")
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
