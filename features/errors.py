"""The one error type users see as a clean one-line message instead of a stack trace."""

from __future__ import annotations


class UsagecastError(Exception):
    """A problem with the user's input or setup; the message names the file/column/row/key."""
