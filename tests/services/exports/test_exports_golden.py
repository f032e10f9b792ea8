"""Every export's bytes, pinned: a campaign with the awkward cases (keyboard selections, missing sizes and positions,
replaced and dropped images, odd floats, float and equal times, other tabs' chunks, spreadsheet formulas, quotes,
newlines, XML markup, non-ASCII) written by each kind and compared byte for byte with the files in golden/.

The files were written by the exporters as they stood before their speed-ups (Dec 2026); a change to any byte is a
change of the published format (the NFL paper's loader reads ImageNet-AB) and must be deliberate. On PostgreSQL the
JSON columns are jsonb, which keeps an object's keys shortest first, so ``hoveredRecord`` reads ``time`` before
``action`` there: each engine has its own golden files. To write them again on purpose:
``FREELUNCH_WRITE_GOLDEN=1 pytest tests/services/exports/test_exports_golden.py`` (then the test fails, so that a
run that writes them never passes), on SQLite and with FREELUNCH_TEST_DATABASE_URL.
"""

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from freelunch.db import database
from freelunch.models import Assignment, Export, Hit, Image, ImageClass, ImageRecord, PageSubmission, PointerChunk
from freelunch.services.exports import files as exports
from freelunch.services.exports.kinds import KINDS
from freelunch.services.review import labels, of_record, tallies

GOLDEN = Path(__file__).parent / "golden"
T0 = 1_700_000_000_000  # tests/helpers/factories.py's pages start here, a minute apart


def _engine() -> str:
    return "postgres" if os.environ.get("FREELUNCH_TEST_DATABASE_URL") else "sqlite"


def _awkward(campaign) -> None:
    """Make the campaign's records, chunks and names as awkward as real ones can be."""
    c = campaign
    for n, hit in enumerate(c.hits, 1):
        Hit.update(key=f"hit{n}", mturk_hit_id=f"3HIT{n}" if n == 2 else None).where(Hit.id == hit.id).execute()
    ImageClass.update(names=['=dog, "hound"', "chien\nde garde", "犬 & <co>"]).where(
        ImageClass.id == c.classes["B"].id
    ).execute()
    Image.update(key="n02/=b2 & <x> é.v1.jpg").where(Image.id == c.images["b2"].id).execute()
    Assignment.update(worker_id="+W2BBBBBBB", mturk_assignment_id="3ASSIGN2").where(
        Assignment.id == c.assignments["h2w2"].id
    ).execute()
    PageSubmission.update(none_confirmed=True).where(PageSubmission.id == c.pages["h1w3b"].id).execute()

    page = c.pages["h1w1a"]  # a1, ap, a2, an; chunks 2 of 3 reported
    start = page.started_at

    def record(grid_index: int, **values) -> None:
        ImageRecord.update(**values).where(ImageRecord.page == page.id, ImageRecord.grid_index == grid_index).execute()

    record(
        0,
        position_x=None,
        selected_record=[
            {"time": start + 400, "input": "keyboard"},
            {"x": 1e-05, "y": 0.30000000000000004, "time": start + 450},
        ],
        selected_count=2,
    )
    record(1, width=None, height=None, hovered_record=[], hovered_count=0, load_status="replacement")
    record(1, replaces=c.images["a3"].id)
    record(2, load_status="dropped", selected_record=[{"time": start + 2500, "input": "keyboard"}], selected=True)
    record(3, original_width=None, original_height=None, position_y=None, estimate_time=0)

    def chunk(seq: int, events: list, tab: int = 0) -> None:
        PointerChunk.create(
            assignment=page.assignment_id,
            pageno=page.pageno,
            tab=tab,
            seq=seq,
            n_events=len(events),
            events=json.dumps(events, separators=(",", ":")),
            received_at=start,
        )

    chunk(
        5,
        [
            {"type": "move", "i": 0, "x": -0.0, "y": 1e-07, "time": start + 100},  # the time of a stored move
            {"type": "move", "i": 0, "x": 1, "y": 0, "time": start + 150.5},
            {"type": "move", "i": 0, "x": 0.7, "y": 0.7, "time": start - 1},  # before the page: left out
            {"type": "move", "i": 3, "x": 1.04, "y": 0.123456789012345, "time": page.ended_at},
            {"type": "click", "i": 3, "x": 0.2, "y": 0.2, "time": start + 3500, "selected": True},
            {"type": "key", "i": 0, "time": start + 400, "selected": True},
        ],
    )
    chunk(0, [{"type": "move", "i": 0, "x": 0.9, "y": 0.9, "time": start + 120}], tab=7)  # another tab: left out
    tallies.refresh(tallies.in_batch(c.batch.id))


def _written(app, campaign, kind: str) -> bytes:
    """The kind's file as the export job writes it, for the labels of record the exports tests use."""
    batch = campaign.batch
    of_record.choose_rule(batch, labels.Rule(0.5, 1, 0.0))
    export = Export.create(
        organization=batch.organization_id, batch=batch, kind=kind, params=exports.params(KINDS[kind], batch)
    )
    result = exports.run(export.id)
    assert result.get("rows"), result
    return exports.file_path(Export.get_by_id(export.id)).read_bytes()


def _as_text(kind: str, data: bytes) -> bytes:
    """A ZIP as its members in order, each ``== name`` and its bytes (its times are when it was written)."""
    if not KINDS[kind].binary:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            out.write(f"== {name}\n".encode() + archive.read(name))
    return out.getvalue()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_export_writes_the_bytes_it_always_wrote(app, campaign, kind):
    with app.app_context(), database.connection_context():
        _awkward(campaign)
        written = _as_text(kind, _written(app, campaign, kind))
    golden = GOLDEN / _engine() / (f"{kind}.members.txt" if KINDS[kind].binary else f"{kind}.{KINDS[kind].extension}")
    if os.environ.get("FREELUNCH_WRITE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written)
        pytest.fail(f"wrote {golden}: run again without FREELUNCH_WRITE_GOLDEN")
    assert written == golden.read_bytes()
