"""Template filters for figures a person reads."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from markupsafe import Markup

# Explicit direction marks: embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069). An unclosed
# right-to-left override in a name reverses the page's own words after it, up to the end of the paragraph
# ("Dataset X created. Import its classes"; a class name in the worker's instructions). Right-to-left letters
# show right to left without them.
DIRECTION_MARKS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def duration(value: dt.timedelta) -> str:
    """A time span in its two largest units: "2 d 4 h", "3 h 20 min", "12 min", "< 1 min"."""
    minutes = int(value.total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "< 1 min"


def file_size(value: int) -> str:
    """Bytes as "820 B", "14.2 KB", "3.1 MB"."""
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def counted(n: int, word: str) -> str:
    """A count with its noun in the right number: "1 HIT", "2 HITs", "1,234 rows", "1 class", "3 classes"."""
    if n == 1:
        return f"1 {word}"
    plural = word + ("es" if word.endswith(("s", "ch", "sh", "x")) else "s")
    return f"{n:,} {plural}"


def version_name(code: str) -> str:
    """An interface version as requesters read it ("Red pointer, sharp images"), never its code name."""
    from .models import VERSION_MEANINGS

    return VERSION_MEANINGS.get(code, code)


def source_name(code: str) -> str:
    """Where an assignment came from as requesters read it ("MTurk", "lab link"), never its code name."""
    from .models import SOURCE_MEANINGS

    return SOURCE_MEANINGS.get(code, code)


def shown(value):
    """Every value a template prints (Jinja's finalize), without direction marks; the app's own HTML (Markup) as is."""
    if isinstance(value, str) and not isinstance(value, Markup) and DIRECTION_MARKS.search(value):
        return DIRECTION_MARKS.sub("", value)
    return value


def register(app: Flask) -> None:
    app.jinja_env.finalize = shown  # before any template is compiled: the compiler writes the call into each
    app.add_template_filter(counted)
    app.add_template_filter(version_name)
    app.add_template_filter(source_name)
    app.add_template_filter(duration)
    app.add_template_filter(file_size)
