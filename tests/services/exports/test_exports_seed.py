"""The seed-format export: every record-format.md field, trajectories from stored chunks, streamed."""

import json
import threading
import tracemalloc

import pytest
from click.testing import CliRunner
from factories import make_batch, summary_for
from support import open_assignment, post_page

from freelunch.cli import cli
from freelunch.models import Assignment, Hit, PageSubmission, PointerChunk
from freelunch.services.exports.seed import seed_records

T0 = 1_700_000_000_000


def chunk(assignment, pageno, seq, events):
    PointerChunk.create(
        assignment=assignment,
        pageno=pageno,
        seq=seq,
        n_events=len(events),
        events=json.dumps(events, separators=(",", ":")),
        received_at=T0,
    )


def test_records_carry_every_field_and_trajectories_in_time_order(app, client, make_account):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org)
    hit = batch.hits.get()
    token, assignment = open_assignment(client, hit, "RAWWORKER", version="POINTER_ORIGINAL")
    post_page(client, token, 1, summary_for(hit, 1, chunks=3))
    # Chunks arrive in any order; events of other images, other types and an abandoned view are left out.
    chunk(
        assignment,
        1,
        1,
        [
            {"type": "move", "i": 0, "x": 0.3, "y": 0.4, "time": T0 + 300},
            {"type": "click", "i": 0, "x": 0.3, "y": 0.4, "time": T0 + 310, "selected": True},
        ],
    )
    chunk(
        assignment,
        1,
        0,
        [
            {"type": "enter", "i": 0, "time": T0 + 100},
            {"type": "move", "i": 0, "x": 0.1, "y": 0.2, "time": T0 + 100},
            {"type": "move", "i": 1, "x": 0.5, "y": 0.5, "time": T0 + 150},
            {"type": "move", "i": 0, "x": 0.2, "y": 0.3, "time": T0 + 200},
        ],
    )
    chunk(assignment, 1, 2, [{"type": "move", "i": 0, "x": 0.9, "y": 0.9, "time": T0 - 5000}])
    chunk(assignment, 2, 0, [{"type": "move", "i": 0, "x": 0.7, "y": 0.7, "time": T0 + 100}])  # page 2: not submitted

    with app.app_context():
        records = list(seed_records(batch))
    assert len(records) == 6 and [r["gridIndex"] for r in records] == list(range(6))
    first = records[0]
    assert first["mouseTracking"] == [
        {"x": 0.1, "y": 0.2, "time": T0 + 100},
        {"x": 0.2, "y": 0.3, "time": T0 + 200},
        {"x": 0.3, "y": 0.4, "time": T0 + 300},
    ]
    assert records[1]["mouseTracking"] == [{"x": 0.5, "y": 0.5, "time": T0 + 150}]
    assert records[2]["mouseTracking"] == []
    sent = summary_for(hit, 1)["images"][0]
    for field in (
        "imageID",
        "originalImageHeight",
        "originalImageWidth",
        "imageHeight",
        "imageWidth",
        "imagePosition",
        "hoveredRecord",
        "hoveredCount",
        "selected",
        "selectedCount",
        "selectedRecord",
        "estimateTime",
    ):
        assert first[field] == sent[field], field
    assert first["worker_id"] == assignment.worker_id and "RAWWORKER" not in json.dumps(records)
    assert {
        k: first[k]
        for k in (
            "batchId",
            "hitId",
            "assignmentId",
            "version",
            "pageno",
            "classKey",
            "classNames",
            "loadStatus",
            "replacesImageID",
            "source",
        )
    } == {
        "batchId": batch.id,
        "hitId": hit.key,
        "assignmentId": assignment.id,
        "version": "POINTER_ORIGINAL",
        "pageno": 1,
        "classKey": "n01440764",
        "classNames": ["tench", "Tinca tinca"],
        "loadStatus": "ok",
        "replacesImageID": None,
        "source": "survey",
    }
    assert (first["pageStartedAt"], first["pageEndedAt"]) == (T0, T0 + 10_000)


def test_cli_writes_jsonl_and_refuses_unknown_batches(app, client, make_account, tmp_path, monkeypatch):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org)
    hit = batch.hits.get()
    token, _ = open_assignment(client, hit)
    for pageno in (1, 2):
        post_page(client, token, pageno, summary_for(hit, pageno))
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    monkeypatch.setenv("FREELUNCH_INSTANCE", str(tmp_path))
    runner = CliRunner()
    out = tmp_path / "records.jsonl"
    result = runner.invoke(cli, ["export", "--batch", str(batch.id), "--format", "seed-jsonl", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 12 and {r["pageno"] for r in lines} == {1, 2}
    assert "Wrote 12 records" in result.output
    stdout = runner.invoke(cli, ["export", "--batch", str(batch.id)])
    assert stdout.exit_code == 0 and len([line for line in stdout.output.splitlines() if line.startswith("{")]) == 12
    missing = runner.invoke(cli, ["export", "--batch", "9999", "--format", "seed-jsonl"])
    assert missing.exit_code != 0 and "There is no batch 9999" in missing.output and "Traceback" not in missing.output
    wrong = runner.invoke(cli, ["export", "--batch", str(batch.id), "--format", "xml"])
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output


def _peak_bytes(app, batch) -> tuple[int, int]:
    with app.app_context():
        tracemalloc.start()
        count = sum(1 for _ in seed_records(batch))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return count, peak


def test_export_streams_with_flat_memory(app, client, make_account, monkeypatch):
    """Exporting 4x the pages must not take 4x the memory: the export never holds the batch. A slice is a page, so
    that the smaller export already fills the reader's window (READ_AHEAD slices waiting, one being read, one
    being written) and what is compared is growth with the batch, not the window filling."""
    monkeypatch.setattr("freelunch.services.exports.seed.PAGES_PER_QUERY", 1)
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, pages=2, per_page=6, hits=8)
    hits = list(batch.hits.order_by(Hit.id))
    moves = [{"type": "move", "i": n % 6, "x": 0.5, "y": 0.5, "time": T0 + 20 * n} for n in range(600)]

    def work(hit, worker):
        token, assignment = open_assignment(client, hit, worker)
        for pageno in (1, 2):
            post_page(client, token, pageno, summary_for(hit, pageno, chunks=1))
            chunk(assignment, pageno, 0, moves)

    for n, hit in enumerate(hits[:2]):
        work(hit, f"W{n}")
    small = _peak_bytes(app, batch)
    for n, hit in enumerate(hits[2:], 2):
        work(hit, f"W{n}")
    large = _peak_bytes(app, batch)
    assert (small[0], large[0]) == (24, 96)
    assert PageSubmission.select().count() == 16 and Assignment.select().count() == 8
    assert large[1] < 2.5 * small[1], f"peak memory grew from {small[1]} to {large[1]} bytes"


def _readers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("export-reader-")]


def test_the_reader_thread_hands_its_error_over_and_stops_with_the_writer(app, campaign, monkeypatch):
    """The slices are read by a thread of their own: its error is the export's, and it ends when the export does."""
    monkeypatch.setattr("freelunch.services.exports.seed.PAGES_PER_QUERY", 1)
    records = seed_records(campaign.batch)
    first = next(records)
    assert first["imageID"] == "n01/a1" and [(p["x"], p["y"]) for p in first["mouseTracking"]] == [
        (0.1, 0.2),
        (0.4, 0.5),
    ]
    records.close()  # a writer that stops early (a failed export) stops the reader
    assert _readers() == []
    assert len(list(seed_records(campaign.batch))) == 28  # 7 pages of 4 images, one page a slice

    def broken(*args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("freelunch.services.exports.seed._record_rows", broken)
    with pytest.raises(RuntimeError, match="went away"):
        list(seed_records(campaign.batch))
    assert _readers() == []


def test_image_keys_are_the_same_when_the_export_keeps_almost_none(app, campaign, monkeypatch):
    """The keys an export keeps for its next slices are forgotten past KEYS_KEPT, and read again."""
    monkeypatch.setattr("freelunch.services.exports.seed.PAGES_PER_QUERY", 1)
    with app.app_context():
        kept = [(r["imageID"], r["replacesImageID"]) for r in seed_records(campaign.batch)]
        monkeypatch.setattr("freelunch.services.exports.seed.KEYS_KEPT", 1)
        assert [(r["imageID"], r["replacesImageID"]) for r in seed_records(campaign.batch)] == kept
    assert len(kept) == 28 and len(set(kept)) > 1
