"""The one base of every error a requester can fix.

``str(error)`` is one sentence in the requester's words (what is wrong and, where it helps, what to do), so a job
returns it as ``{"error": ...}`` (tasks/__init__.py), the ``freelunch`` command prints it as its one-line error
(cli/__init__.py), and a view shows it as it is. Anything else is a fault: RQ's failed registry, a 500, a traceback.
"""


class RequesterError(Exception):
    """Something the requester can fix: a refusal by MTurk, a bad file or setting, a limit reached."""
