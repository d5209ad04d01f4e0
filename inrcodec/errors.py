"""The exceptions the library raises on purpose, and what the command line makes of them.

- :class:`OptionError`: a request no input can satisfy (bad option value or combination):
  exit status 2, a usage error.
- :class:`DataError`: this input cannot be coded or decoded (corrupt stream, unreadable image,
  a budget too small for this image, an image over the limits): exit status 1.

Both are ``ValueError`` subclasses so library callers can catch either with one clause.
"""
from __future__ import annotations


class OptionError(ValueError):
    """Options that no input can satisfy (exit status 2 on the command line)."""


class DataError(ValueError):
    """An input that cannot be coded or decoded as asked (exit status 1 on the command line)."""
