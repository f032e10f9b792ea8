"""Publishing a batch to MTurk: one HIT type, then each MTurk HIT exactly once, resumable after a crash.

Each MTurk HIT is an ``MTurkHit`` intent row with a UniqueRequestToken derived
from (organization, batch, HIT, round, part), written before
CreateHITWithHITType is called and marked ``sent_at`` just before the first
call. MTurk refuses a repeated token for 24 h with TurkErrorCode
``AWS.MechanicalTurk.HitAlreadyExists`` and names the HIT in its message: we
take the candidate ids from that message, confirm the one whose
RequesterAnnotation is our token with GetHIT, and adopt it. An intent first
sent more than 24 h ago is past MTurk's dedupe window, so one ListHITs scan
of the account matches such intents by RequesterAnnotation (= the token)
before any of them is sent again. Every MTurk call runs outside a database
transaction (gateway.call refuses otherwise).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

from flask import current_app

from ...db import database
from ...models import Batch, Hit, MTurkHit, utcnow
from ..jobs import ReportProgress
from . import access, budget, cost, gateway, qualifications
from . import settings as batch_settings
from .errors import HIT_ALREADY_EXISTS, InvalidRequest, MTurkError
from .validation import money, validate

TOKEN_WINDOW = dt.timedelta(hours=24)
NOT_READY = "Freelunch.NotReady"
EXTERNAL_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2006-07-14/ExternalQuestion.xsd"><ExternalURL>{url}</ExternalURL>'
    "<FrameHeight>0</FrameHeight></ExternalQuestion>"
)
CANDIDATE_HIT_ID = re.compile(r"\b[A-Z0-9]{20,64}\b")


def token(organization_id: int, batch_id: int, hit_id: int, round_: int, part: int) -> str:
    """The UniqueRequestToken (and RequesterAnnotation) of one MTurk HIT: stable across retries and restarts."""
    return f"{token_prefix(organization_id, batch_id)}{hit_id}-r{round_}-p{part}"


def token_prefix(organization_id: int, batch_id: int) -> str:
    return f"freelunch-o{organization_id}-b{batch_id}-h"


def hit_url(hit: Hit) -> str:
    """The ExternalURL: MTurk appends assignmentId, hitId, workerId and turkSubmitTo to it."""
    query = urlencode({"hitDatasetName": hit.batch_id, "imageNetHitId": hit.key})
    return f"{current_app.config['PUBLIC_URL']}/annotate?{query}"


def external_question(hit: Hit) -> str:
    return EXTERNAL_QUESTION.format(url=escape(hit_url(hit)))


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


# --- what a publish would do ------------------------------------------------


@dataclass
class Plan:
    """What publishing the batch means, shown before anything is sent: cost, environment, problems."""

    batch: Batch
    settings: batch_settings.MTurkSettings
    whole: cost.Estimate  # every MTurk HIT of the batch
    remaining: cost.Estimate  # those not created yet
    split: list[int]  # assignments of the MTurk HITs each of our HITs becomes
    where: str
    problems: list[str] = field(default_factory=list)
    today: budget.Today | None = None  # the organization's MTurk spending today and its daily limit

    @property
    def split_reason(self) -> str:
        return cost.SPLIT_REASON if len(self.split) > 1 else ""


def hit_type_params(batch: Batch, settings: batch_settings.MTurkSettings, requirements: list[dict]) -> dict:
    return {
        "Title": (batch.title or batch.name).strip(),
        "Description": (batch.description or batch.title or batch.name).strip(),
        "Keywords": settings.keywords,
        "Reward": money(batch.reward, "The reward"),
        "AssignmentDurationInSeconds": int(settings.assignment_seconds),
        "AutoApprovalDelayInSeconds": int(settings.auto_approval_seconds),
        "QualificationRequirements": requirements,
    }


def where(sandbox: bool) -> str:
    if gateway.is_local_endpoint(gateway.endpoint(sandbox)):
        return "the local MTurk stand-in"
    return "the MTurk sandbox" if sandbox else "MTurk production (real money)"


def plan(batch: Batch, confirm_production: bool = False) -> Plan:
    """The publish plan and every reason it cannot go ahead yet; calls nothing on MTurk."""
    chosen = batch_settings.of(batch)
    hits = batch.hits.count()
    sizes = cost.split(batch.assignments_per_hit)
    problems: list[str] = []
    if batch.state not in ("ready", "published") or not hits:
        problems.append("Build the batch's HITs before publishing it.")
    try:
        reward = Decimal(money(batch.reward, "The reward"))
        if reward <= 0:
            problems.append("MTurk needs a reward of at least $0.01 an assignment.")
        # Qualification ids are placeholders here: only the shape of the request is checked.
        validate("create_hit_type", hit_type_params(batch, chosen, batch_settings.requirements(chosen, "X", "X")))
        validate(
            "create_hit_with_hit_type",
            {"HITTypeId": "X", "LifetimeInSeconds": int(chosen.lifetime_seconds), "MaxAssignments": max(sizes or [1])},
        )
    except InvalidRequest as refused:
        problems.append(str(refused))
        reward = Decimal("0")
    other = MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.sandbox != chosen.sandbox).exists()
    if other:
        problems.append("This batch already has HITs in the other MTurk environment; switch back, or copy the batch.")
    if not chosen.sandbox:
        public = current_app.config["PUBLIC_URL"]
        if urlsplit(public).scheme != "https" and not gateway.is_local_endpoint(gateway.endpoint(False)):
            problems.append(
                f"MTurk shows only HTTPS task pages: set PUBLIC_URL to an https:// address (it is {public})."
            )
        if not confirm_production:
            problems.append("Publishing to production spends real money: confirm it first.")
    if access.source(batch.organization_id) is None:
        problems.insert(0, access.NO_ACCOUNT_SENTENCE)
    remaining = cost.of_sizes(_unpublished_sizes(batch, sizes), reward, hits)
    today = budget.today(batch.organization_id)
    if remaining.total > today.left:
        problems.append(str(budget.refusal(batch.organization_id, remaining.total, "publishing the rest of the batch")))
    return Plan(
        batch=batch,
        settings=chosen,
        whole=cost.estimate(hits, batch.assignments_per_hit, reward),
        remaining=remaining,
        split=sizes,
        where=where(chosen.sandbox),
        problems=problems,
        today=today,
    )


# --- publishing ---------------------------------------------------------------


def _unpublished_sizes(batch: Batch, sizes: list[int], round_: int = 1) -> list[int]:
    """Assignments of each MTurk HIT still to create: intents not yet created, and the split of HITs with no intent."""
    intended = [
        n
        for (n,) in MTurkHit.select(MTurkHit.max_assignments)
        .where(MTurkHit.batch == batch, MTurkHit.round == round_, MTurkHit.state == "intended")
        .tuples()
    ]
    planned = MTurkHit.select(MTurkHit.hit).where(MTurkHit.batch == batch, MTurkHit.round == round_)
    unplanned = Hit.select().where(Hit.batch == batch, Hit.id.not_in(planned)).count()
    return intended + list(sizes) * unplanned


def ensure_intents(batch: Batch, sandbox: bool, round_: int = 1) -> int:
    """Write the intent rows of the MTurk HITs of every HIT that has none yet (one transaction, no MTurk call).

    A HIT that has intents keeps them: extending adds parts (lifecycle.py),
    so the rows, not the batch's assignments per HIT, say what exists.
    """
    sizes = cost.split(batch.assignments_per_hit)
    planned = MTurkHit.select(MTurkHit.hit).where(MTurkHit.batch == batch, MTurkHit.round == round_)
    rows = [
        {
            "organization": batch.organization_id,
            "batch": batch.id,
            "hit": hit_id,
            "part": part,
            "round": round_,
            "sandbox": sandbox,
            "max_assignments": size,
            "unique_request_token": token(batch.organization_id, batch.id, hit_id, round_, part),
        }
        for (hit_id,) in Hit.select(Hit.id).where(Hit.batch == batch, Hit.id.not_in(planned)).order_by(Hit.id).tuples()
        for part, size in enumerate(sizes)
    ]
    with database.atomic():
        for start in range(0, len(rows), 500):
            MTurkHit.insert_many(rows[start : start + 500]).on_conflict_ignore().execute()
    return len(rows)


def _record(intent: MTurkHit, remote: dict) -> None:
    intent.mturk_hit_id = remote["HITId"]
    intent.hit_type_id = remote.get("HITTypeId") or intent.hit_type_id
    intent.hit_status = remote.get("HITStatus")
    intent.expires_at = _naive_utc(remote.get("Expiration"))
    intent.state, intent.created_at = "created", utcnow()
    intent.save()
    if intent.part == 0 and intent.round == 1:  # annotation links found by hitId alone keep working
        Hit.update(mturk_hit_id=remote["HITId"]).where(Hit.id == intent.hit_id, Hit.mturk_hit_id.is_null()).execute()


def scan(mturk, batch: Batch) -> dict[str, dict]:
    """Every MTurk HIT of the account that belongs to the batch, by RequesterAnnotation (our token): one ListHITs
    pass."""
    prefix = token_prefix(batch.organization_id, batch.id)
    found: dict[str, dict] = {}
    params: dict = {"MaxResults": 100}
    while True:
        page = gateway.call(mturk, "list_hits", "list the account's HITs", **params)
        for remote in page.get("HITs", []):
            if (remote.get("RequesterAnnotation") or "").startswith(prefix):
                found[remote["RequesterAnnotation"]] = remote
        if not page.get("NextToken") or not page.get("HITs"):
            return found
        params["NextToken"] = page["NextToken"]


def _existing(mturk, intent: MTurkHit, refusal: MTurkError, batch: Batch) -> dict:
    """The HIT MTurk says our token already made: an id named in its message, confirmed by GetHIT, else a scan."""
    for candidate in dict.fromkeys(CANDIDATE_HIT_ID.findall(refusal.detail)):
        try:
            remote = gateway.call(mturk, "get_hit", "read an existing HIT", HITId=candidate)["HIT"]
        except MTurkError:
            continue
        if remote.get("RequesterAnnotation") == intent.unique_request_token:
            return remote
    remote = scan(mturk, batch).get(intent.unique_request_token)
    if remote is None:
        raise MTurkError(
            f"MTurk says HIT {intent.hit_id} (part {intent.part + 1}) already exists but it cannot be "
            "found on the account: try again later.",
            HIT_ALREADY_EXISTS,
            refusal.detail,
        )
    return remote


@dataclass
class Result:
    created: int = 0
    adopted: int = 0  # made by an earlier, interrupted attempt and taken over
    already: int = 0  # recorded before this run
    total: int = 0
    hit_type_id: str = ""

    def summary(self, where_to: str) -> str:
        fresh = f"{self.created} MTurk HIT{'s' if self.created != 1 else ''} created"
        adopted = f", {self.adopted} recovered from an interrupted publish" if self.adopted else ""
        return f"{fresh}{adopted}, {self.already} already there: {self.total} in all on {where_to}."


def publish(
    batch: Batch,
    *,
    confirm_production: bool = False,
    progress: ReportProgress | None = None,
    mturk=None,
    round_: int = 1,
) -> Result:
    """Publish every MTurk HIT of the batch not yet created; safe to run again at any point.

    The organization's account and its daily limit are checked before any call: every HIT still to create
    reserves its cost first (budget.py), and what was not created when MTurk refuses is released.
    """
    access.require(batch.organization_id)
    the_plan = plan(batch, confirm_production)
    if the_plan.problems:
        raise MTurkError(" ".join(the_plan.problems), NOT_READY)
    chosen = the_plan.settings
    org = batch.organization_id
    mturk = mturk or gateway.client(org, chosen.sandbox)
    report: ReportProgress = progress or (lambda fraction, message="": None)

    ensure_intents(batch, chosen.sandbox, round_)
    pending = list(
        MTurkHit.select()
        .where(MTurkHit.batch == batch, MTurkHit.round == round_, MTurkHit.state == "intended")
        .order_by(MTurkHit.hit, MTurkHit.part)
    )
    result = Result(total=MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.round == round_).count())
    result.already = result.total - len(pending)
    if not pending:
        Batch.update(state="published").where(Batch.id == batch.id).execute()
        return result
    reward = Decimal(batch.reward)
    budget.reserve(
        org,
        [
            budget.Reservation(i.unique_request_token, "hit", cost.of_sizes([i.max_assignments], reward, 0).total)
            for i in pending
        ],
        "publishing the batch",
    )
    try:
        _create(batch, the_plan, pending, result, mturk, report)
    except MTurkError:
        budget.release(i.unique_request_token for i in pending if i.state == "intended")
        raise
    Batch.update(state="published").where(Batch.id == batch.id).execute()
    return result


def _create(
    batch: Batch, the_plan: Plan, pending: list[MTurkHit], result: Result, mturk, progress: ReportProgress
) -> None:
    """The HIT type, then each pending MTurk HIT exactly once (adopting those an earlier attempt made)."""
    chosen, org = the_plan.settings, batch.organization_id
    if the_plan.remaining.total > 0:
        available = Decimal(gateway.balance(mturk))
        if available < the_plan.remaining.total:
            raise MTurkError(
                f"Publishing costs ${the_plan.remaining.total:.2f} but the account has ${available:.2f}: "
                "add funds on MTurk's requester site first.",
                NOT_READY,
            )
    soft_block = (
        qualifications.ensure(mturk, org, chosen.sandbox, qualifications.SOFT_BLOCK) if chosen.soft_block else None
    )
    did_batch = (
        qualifications.ensure(mturk, org, chosen.sandbox, qualifications.did_batch(batch.id))
        if batch.one_hit_per_worker
        else None
    )
    requirements = batch_settings.requirements(chosen, soft_block, did_batch)
    hit_type = gateway.call(
        mturk, "create_hit_type", "create the batch's HIT type", **hit_type_params(batch, chosen, requirements)
    )
    result.hit_type_id = hit_type["HITTypeId"]

    stale_before = utcnow() - TOKEN_WINDOW
    if any(i.sent_at is not None and i.sent_at < stale_before for i in pending):
        on_mturk = scan(mturk, batch)  # past MTurk's dedupe window: look before sending those tokens again
        for intent in [i for i in pending if i.unique_request_token in on_mturk]:
            _record(intent, on_mturk[intent.unique_request_token])
            result.adopted += 1
            pending.remove(intent)

    hits = {h.id: h for h in Hit.select().where(Hit.id.in_({i.hit_id for i in pending}))} if pending else {}
    for done, intent in enumerate(pending, 1):
        if intent.sent_at is None:
            intent.sent_at = utcnow()
            intent.save(only=[MTurkHit.sent_at])
        try:
            remote = gateway.call(
                mturk,
                "create_hit_with_hit_type",
                f"create MTurk HIT {done} of {len(pending)}",
                HITTypeId=result.hit_type_id,
                MaxAssignments=intent.max_assignments,
                LifetimeInSeconds=int(chosen.lifetime_seconds),
                Question=external_question(hits[intent.hit_id]),
                RequesterAnnotation=intent.unique_request_token,
                UniqueRequestToken=intent.unique_request_token,
            )["HIT"]
            result.created += 1
        except MTurkError as refusal:
            if refusal.code != HIT_ALREADY_EXISTS:
                raise
            remote = _existing(mturk, intent, refusal, batch)
            result.adopted += 1
        intent.hit_type_id = result.hit_type_id
        _record(intent, remote)
        progress(done / len(pending), f"{done} of {len(pending)} MTurk HITs created or recovered")
