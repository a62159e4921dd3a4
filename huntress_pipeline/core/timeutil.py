"""ISO-8601 timestamps as the Huntress API writes them, as UTC-aware datetimes."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` or offset, any fraction) to aware UTC.

    Returns None for None, empty or unparseable input: Huntress data is untrusted.
    A naive datetime (as SQLite hands them back) is taken to be UTC.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """Format as ISO-8601 UTC with a ``Z`` suffix (no fraction when it is zero)."""
    value = parse_timestamp(value)
    assert value is not None
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
