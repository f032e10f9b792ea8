"""Template filters for figures a person reads."""

from __future__ import annotations

import datetime as dt

from flask import Flask


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


def register(app: Flask) -> None:
    app.add_template_filter(counted)
    app.add_template_filter(version_name)
    app.add_template_filter(source_name)
    app.add_template_filter(duration)
    app.add_template_filter(file_size)
