"""autograder: the course's instructor tool. nbgrader keeps the books (gradebook, release,
feedback); this package adds a sandbox per submission, verdicts that student code cannot
forge, parallel grading, and a clear status for every submission. See ``autograder.cli``."""
