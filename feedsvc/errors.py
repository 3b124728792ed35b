"""Errors that services raise and the HTTP, form and CLI edges translate for people."""

from __future__ import annotations


class ValidationError(ValueError):
    """Input that cannot be stored; `errors` maps a field name to a full-sentence message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(ValidationError):
    """Valid input that collides with what is stored (HTTP 409 at the API edge)."""


class SlugInUse(Conflict):
    """Another section already has this slug."""


class NotFound(LookupError):
    """The thing asked for does not exist."""


class StaleVersion(Exception):
    """A change made against an older version than the stored one; nothing was saved.

    The edges show what changed since (the form) or answer 412 (the API, RFC 9110 §13.1.1).
    """
