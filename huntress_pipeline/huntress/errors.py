"""Errors raised by the Huntress API client. None of them carries credentials."""

from __future__ import annotations


class HuntressError(Exception):
    """Base class: something went wrong talking to the Huntress API."""

    #: Worth retrying later (rate limit, server or network trouble).
    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None):
        super().__init__(message)
        self.status = status
        self.path = path


class HuntressAuthError(HuntressError):
    """401/403: the key, the secret or the base URL is wrong, or the key was revoked."""


class HuntressRateLimitError(HuntressError):
    """429 answered again after every retry."""

    transient = True


class HuntressServerError(HuntressError):
    """5xx answered again after every retry."""

    transient = True


class HuntressTransportError(HuntressError):
    """The request did not get an answer (connection refused, timeout) after every retry."""

    transient = True


class HuntressResponseError(HuntressError):
    """The answer was not the JSON the API documents (malformed body, wrong shape)."""

    transient = True


class HuntressRequestError(HuntressError):
    """Any other 4xx: the request itself was wrong (a bug here, or an API change)."""
