"""The base error every stage raises for a user's input or setup problem.

The CLI turns it into one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations


class UsagecastError(Exception):
    """A problem with the user's input or setup; the message names the file/column/row/key."""
