"""The one exception type for mistakes a user can fix (bad input, bad config, bad data).

`launch.py` and the command-line entry points print its message as a single line and exit with
status 2, before any traceback noise. Messages say what was wrong and how to fix it.
"""


class UserError(Exception):
    """A problem with the user's input; its message is one line: what is wrong and the fix."""
