"""Access logs never keep a worker's identity: a worker link's first open carries MTurk's raw ``workerId``
in its query string, and every later page the signed assignment ``token``.

A logging filter on the web servers' access loggers (werkzeug's for ``make run``,
gunicorn's when an access log is turned on) rewrites those values before any
handler writes the line.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
# A parameter at the start of a query (or after &), plain or percent-encoded inside another URL.
_SECRET = re.compile(r"((?:[?&]|%3F|%26)(?:workerId|token)(?:=|%3D))[^&\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the values of ``workerId`` and ``token`` query parameters replaced."""
    return _SECRET.sub(lambda m: m.group(1) + REDACTED, text)


class RedactWorkerIdentity(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install() -> None:
    """Put the filter on every access logger once (create_app may run more than once in a process)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactWorkerIdentity) for f in logger.filters):
            logger.addFilter(RedactWorkerIdentity())
