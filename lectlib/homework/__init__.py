"""The homework's student-side helpers: what the released notebooks use to check an
answer while a student works (``compare``: how a result is compared with the expected
one; ``rules``: what an answer may not use). The grader imports the same modules, so
the student's check and the grade agree. No hidden cases and no solutions live here.
"""
