"""nbgrader's configuration for this course, so that nbgrader's own tools work here
without flags: ``nbgrader db student list``, ``nbgrader export``, the formgrader.

It states the same folders and gradebook as ``autograder`` uses (autograder/course.py):
the repository root is the course root; nbgrader's "source" is ``solutions/``.
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = root
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "gradebook.db")
c.Exchange.root = os.path.join(root, ".exchange")
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# `nbgrader export` writes here, beside (not over) autograder's grades.csv.
c.ExportPlugin.to = os.path.join(root, "gradebook-export.csv")
