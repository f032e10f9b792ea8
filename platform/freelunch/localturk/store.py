"""The local MTurk's state: plain records in memory behind one lock, optionally saved to a JSON file.

One lock for everything keeps every operation atomic, as MTurk's are, and is
plenty for a development server. Time is ``Store.now()``: the wall clock plus an
offset tests move forward (auto-approval, deadlines, the 24-hour token window)
without sleeping. Time-driven changes (abandoned and auto-approved assignments)
are applied lazily by ``Store.catch_up()`` at the start of every request.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from pathlib import Path

ID_ALPHABET = string.ascii_uppercase + string.digits
# Accepted: a worker holds it. Returned / Abandoned: the slot is free again and its id is handed to the
# next worker. Only Submitted, Approved and Rejected are visible to the requester (as on MTurk).
VISIBLE = ("Submitted", "Approved", "Rejected")
FREED = ("Returned", "Abandoned")
TOKEN_WINDOW = 24 * 3600


def new_id(prefix: str = "3") -> str:
    """A 30-character id shaped like MTurk's (uppercase letters and digits)."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(30 - len(prefix)))


def new_worker_id() -> str:
    return "A" + "".join(secrets.choice(ID_ALPHABET) for _ in range(13))


@dataclass
class HitType:
    id: str
    title: str
    description: str
    reward: str
    assignment_duration: int
    auto_approval_delay: int
    keywords: str = ""
    qualification_requirements: list = field(default_factory=list)
    notification: dict | None = None
    notification_active: bool = False


@dataclass
class Hit:
    id: str
    type_id: str
    seq: int
    created: float
    expiration: float
    max_assignments: int
    question: str = ""
    external_url: str = ""
    frame_height: int = 0
    requester_annotation: str = ""
    layout_id: str = ""
    review_status: str = "NotReviewed"
    reviewing: bool = False
    disposed: bool = False
    # Ids of returned or abandoned assignments, handed to the next worker who accepts.
    free_assignment_ids: list = field(default_factory=list)
    assignment_ids: list = field(default_factory=list)
    expiry_announced: bool = False


@dataclass
class Assignment:
    id: str
    hit_id: str
    worker_id: str
    status: str
    seq: int
    accept_time: float
    deadline: float
    submit_time: float | None = None
    auto_approval_time: float | None = None
    approval_time: float | None = None
    rejection_time: float | None = None
    answer: str = ""
    form: dict = field(default_factory=dict)
    feedback: str = ""
    # Earlier holders of this id (worker, how it ended, when): MTurk forgets them, tests may not.
    history: list = field(default_factory=list)


@dataclass
class Bonus:
    seq: int
    worker_id: str
    assignment_id: str
    hit_id: str
    amount: str
    reason: str
    grant_time: float


@dataclass
class QualificationType:
    id: str
    name: str
    description: str
    status: str
    created: float
    keywords: str = ""
    auto_granted: bool = False
    auto_granted_value: int = 1
    test: str = ""
    answer_key: str = ""
    retry_delay: int | None = None
    test_duration: int | None = None


@dataclass
class Worker:
    """A worker of the local marketplace; the system qualifications come from these fields."""

    id: str
    locale: dict = field(default_factory=lambda: {"Country": "US"})
    approval_rate: int = 100
    approved_hits: int = 1000


@dataclass
class Faults:
    """Failures on purpose, so that callers' retries are exercised (``LOCALTURK_FAULTS``, or /_localturk/faults).

    ``throttle_first``: answer the first call of each operation with ThrottlingException.
    ``drop_creates``: perform this many CreateHIT* calls, then close the connection instead of answering.
    """

    throttle_first: bool = False
    drop_creates: int = 0
    throttled: list = field(default_factory=list)
    dropped: list = field(default_factory=list)

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """``throttle`` and/or ``drop-create[=N]``, comma-separated."""
        faults = cls()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, count = part.partition("=")
            if name == "throttle":
                faults.throttle_first = True
            elif name == "drop-create":
                faults.drop_creates = int(count or 1)
            else:
                raise ValueError(f"unknown fault {name!r}: use throttle, drop-create or drop-create=N")
        return faults


_TABLES = {
    "hit_types": HitType,
    "hits": Hit,
    "assignments": Assignment,
    "qualification_types": QualificationType,
    "workers": Worker,
}


class Store:
    """Everything the local MTurk knows. Hold ``lock`` while reading or changing it."""

    def __init__(self, path: str | os.PathLike | None = None, balance: str = "10000.00"):
        self.lock = threading.RLock()
        self.path = Path(path) if path else None
        self.clock_offset = 0.0
        self.initial_balance = Decimal(balance)
        self.hit_types: dict[str, HitType] = {}
        self.hits: dict[str, Hit] = {}
        self.assignments: dict[str, Assignment] = {}
        self.bonuses: list[Bonus] = []
        self.qualification_types: dict[str, QualificationType] = {}
        self.workers: dict[str, Worker] = {}
        # (qualification type id, worker id) -> integer value
        self.worker_qualifications: dict[str, int] = {}
        self.blocks: dict[str, str] = {}
        self.messages: list[dict] = []
        self.events: list[dict] = []
        # operation family -> token -> [time, id of what it created]
        self.tokens: dict[str, dict[str, list]] = {}
        self.seq = 0
        self.faults = Faults()
        self.submissions: list[dict] = []
        # (notification specification, message body) -> None: sends events on (to SQS, say); not saved.
        self.deliver: Callable[[dict, str], None] | None = None
        if self.path and self.path.exists():
            self._load()

    def now(self) -> float:
        return time.time() + self.clock_offset

    def timestamp(self) -> str:
        """Now as the ISO 8601 text of MTurk's event messages."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds
            self.catch_up()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def worker(self, worker_id: str) -> Worker:
        return self.workers.setdefault(worker_id, Worker(worker_id))

    def recent_token(self, family: str, token: str | None) -> str | None:
        """What ``token`` created within MTurk's 24-hour window, if anything."""
        if not token:
            return None
        seen = self.tokens.get(family, {}).get(token)
        if seen and self.now() - seen[0] < TOKEN_WINDOW:
            return seen[1]
        return None

    def remember_token(self, family: str, token: str | None, created: str) -> None:
        if token:
            self.tokens.setdefault(family, {})[token] = [self.now(), created]

    def assignments_of(self, hit_id: str) -> list[Assignment]:
        return sorted((self.assignments[i] for i in self.hits[hit_id].assignment_ids), key=lambda a: a.seq)

    def add_assignment(self, assignment: Assignment) -> None:
        """A new holder of ``assignment.id`` (new, or handed on after a return)."""
        hit = self.hits[assignment.hit_id]
        if assignment.id not in hit.assignment_ids:
            hit.assignment_ids.append(assignment.id)
        self.assignments[assignment.id] = assignment

    def catch_up(self) -> None:
        """Apply what time did: assignments past their deadline are abandoned, submitted ones auto-approved."""
        now = self.now()
        for hit in self.hits.values():
            if not hit.expiry_announced and hit.expiration <= now:
                hit.expiry_announced = True
                self.event("HITExpired", hit)
        for assignment in list(self.assignments.values()):
            if assignment.status == "Accepted" and assignment.deadline <= now:
                self.free(assignment, "Abandoned", assignment.deadline)
            elif assignment.status == "Submitted" and assignment.auto_approval_time <= now:
                assignment.status = "Approved"
                assignment.approval_time = assignment.auto_approval_time
                self.event("AssignmentApproved", self.hits[assignment.hit_id], assignment)

    def free(self, assignment: Assignment, how: str, when: float) -> None:
        """The worker returned or abandoned it: the slot opens again, under the same AssignmentId."""
        assignment.status = how
        assignment.history.append({"worker_id": assignment.worker_id, "status": how, "time": when})
        hit = self.hits[assignment.hit_id]
        hit.free_assignment_ids.append(assignment.id)
        self.event(f"Assignment{how}", hit, assignment)

    def event(self, event_type: str, hit: Hit, assignment: Assignment | None = None) -> None:
        """Record (and hand to ``deliver``) an event for the HIT type's notification destination, when one is active."""
        hit_type = self.hit_types.get(hit.type_id)
        if not hit_type or not hit_type.notification_active or not hit_type.notification:
            return
        if event_type not in hit_type.notification.get("EventTypes", []):
            return
        self.send_event(
            hit_type.notification,
            {
                "EventType": event_type,
                "EventTimestamp": self.timestamp(),
                "HITTypeId": hit.type_id,
                "HITId": hit.id,
                **({"AssignmentId": assignment.id} if assignment else {}),
            },
        )

    def send_event(self, notification: dict, event: dict) -> None:
        """Keep the event in ``events``; ``deliver(notification, message)``, when set, sends MTurk's message body."""
        self.events.append(
            {"Destination": notification["Destination"], "Transport": notification["Transport"], **event}
        )
        if self.deliver is None:
            return
        message = json.dumps(
            {
                "Events": [event],
                "EventDocId": uuid.uuid4().hex,
                "SourceAccount": "000000000000",
                "CustomerId": "ALOCALREQUESTER",
                "EventDocVersion": "2014-08-15",
            }
        )
        try:
            self.deliver(notification, message)
        except Exception:  # MTurk drops what it cannot deliver; the event stays in ``events``
            logging.getLogger(__name__).exception("local MTurk could not deliver %s", event["EventType"])

    def save(self) -> None:
        """Write the whole state to ``path`` (atomically), so that ``make run`` survives a restart."""
        if not self.path:
            return
        data = {name: [asdict(row) for row in getattr(self, name).values()] for name in _TABLES}
        data.update(
            bonuses=[asdict(b) for b in self.bonuses],
            worker_qualifications=self.worker_qualifications,
            blocks=self.blocks,
            messages=self.messages,
            events=self.events,
            tokens=self.tokens,
            seq=self.seq,
            clock_offset=self.clock_offset,
            submissions=self.submissions,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(data))
        scratch.replace(self.path)

    def _load(self) -> None:
        data = json.loads(self.path.read_text())
        for name, cls in _TABLES.items():
            known = {f.name for f in fields(cls)}
            setattr(
                self,
                name,
                {row["id"]: cls(**{k: v for k, v in row.items() if k in known}) for row in data.get(name, [])},
            )
        self.bonuses = [Bonus(**row) for row in data.get("bonuses", [])]
        for name in (
            "worker_qualifications",
            "blocks",
            "messages",
            "events",
            "tokens",
            "seq",
            "clock_offset",
            "submissions",
        ):
            if name in data:
                setattr(self, name, data[name])
