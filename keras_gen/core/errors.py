"""The one exception type for errors a user can cause.

Bad paths, unreadable or tiny images, wrong shapes, unknown model or data set names and
missing weights with no network all raise `KerasGenError` with a message that says what to do.
The CLI prints the message (no stack trace) and exits with status 2.
"""


class KerasGenError(Exception):
    """An error the user can fix; the message says how."""
