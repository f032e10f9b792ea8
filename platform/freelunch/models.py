"""The data model: tenants and accounts, datasets, batches of HITs, and what workers did.

Every table a tenant owns carries its ``organization`` directly (denormalised
from its parent), so that one mechanism, ``TenantModel.owned``, scopes any
dashboard query to the current organization without a join.
"""

from __future__ import annotations

import datetime as dt
import secrets

from flask_login import UserMixin
from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    DecimalField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    SmallIntegerField,
    TextField,
)

from .db import database


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_token() -> str:
    return secrets.token_urlsafe(16)


INVITE_LIFETIME = dt.timedelta(days=7)


def invite_expiry() -> dt.datetime:
    return utcnow() + INVITE_LIFETIME


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


# --- tenants and accounts -------------------------------------------------


class Organization(BaseModel):
    name = CharField(max_length=120)
    created_at = DateTimeField(default=utcnow)
    storage_quota_mb = IntegerField(null=True)  # media storage allowed; null: STORAGE_QUOTA_MB
    # What MTurk calls may spend in a UTC day (rewards, bonuses, fees);
    # null: MTURK_DAILY_LIMIT (services/mturk/budget.py)
    mturk_daily_limit = DecimalField(max_digits=10, decimal_places=2, null=True)
    # The lowest hourly pay the organization means to offer; null: FAIR_PAY_FLOOR (services/mturk/fairpay.py)
    hourly_pay_floor = DecimalField(max_digits=6, decimal_places=2, null=True)


class User(UserMixin, BaseModel):
    email = CharField(max_length=254, unique=True)
    name = CharField(max_length=120, default="")
    password_hash = CharField(max_length=255)
    is_admin = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    # Part of every session's user id (get_id): raising it ends every session at once (logout, password change).
    session_version = IntegerField(default=0)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


ROLES = ("owner", "requester", "viewer")


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    organization = ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    role = CharField(max_length=16, choices=[(r, r) for r in ROLES])
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "organization"), True),)


class Invite(BaseModel):
    """A copyable link that adds whoever opens it to an organization, once."""

    organization = ForeignKeyField(Organization, backref="invites", on_delete="CASCADE")
    role = CharField(max_length=16, choices=[(r, r) for r in ROLES])
    token = CharField(max_length=64, unique=True, default=new_token)
    created_by = ForeignKeyField(User, on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    used_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    used_at = DateTimeField(null=True)
    expires_at = DateTimeField(default=invite_expiry)


class TenantModel(BaseModel):
    """A row that belongs to one organization."""

    organization = ForeignKeyField(Organization, on_delete="CASCADE", index=True)

    @classmethod
    def owned(cls, organization, *fields):
        """Select only this organization's rows: the single tenancy filter."""
        return cls.select(*fields).where(cls.organization == organization)


# --- datasets -------------------------------------------------------------


class Dataset(TenantModel):
    name = CharField(max_length=120)
    description = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "name"), True),)


class ImageClass(TenantModel):
    """A class to label: the seed's wnid, its synonyms and WordNet gloss."""

    dataset = ForeignKeyField(Dataset, backref="classes", on_delete="CASCADE")
    key = CharField(max_length=120)
    names = JSONField(default=list)
    description = TextField(default="")
    wikipedia = JSONField(default=list)

    class Meta:
        indexes = ((("dataset", "key"), True),)


class Image(TenantModel):
    dataset = ForeignKeyField(Dataset, backref="images", on_delete="CASCADE", index=False)  # (dataset, key) leads
    key = CharField(max_length=255)  # the record's imageID, e.g. n01440764/n01440764_105
    url = TextField(null=True)  # an external URL ...
    storage_path = TextField(null=True)  # ... or a file in media storage
    width = IntegerField(null=True)  # original size, probed at import
    height = IntegerField(null=True)
    stored_bytes = BigIntegerField(default=0)  # what its file takes in media storage: the organization's quota
    phash = BigIntegerField(null=True)  # 64-bit perceptual hash, signed (services/imports/hashing.py); None: unknown
    edge_phashes = BlobField(null=True)  # the pHashes with 5 % cut off each edge (hashing.py); None: unknown

    class Meta:
        indexes = (
            (("dataset", "key"), True),
            # The images list's other sorts (datasets/routes.IMAGE_SORTS), id the tie-breaker: a page is read from
            # the index, not by sorting every image of the dataset.
            (("dataset", "width", "id"), False),
            (("dataset", "height", "id"), False),
            (("dataset", "stored_bytes", "id"), False),
        )


class DatasetImageCount(BaseModel):
    """How many images a dataset has, and how many of them have no pHash or no edge hashes, so its page and the
    datasets list read a row instead of every image.

    Kept by the database: triggers on image (migrations 0022 and 0025) count every insert, delete and change of
    hashes, by any writer and by the cascade from the dataset. A dataset without images may have no row; ``of``
    and ``hashes_of`` read that as 0."""

    dataset = ForeignKeyField(Dataset, on_delete="CASCADE", unique=True)
    n = IntegerField()
    unhashed = IntegerField(default=0)  # phash IS NULL: the near-duplicate search cannot see them
    edgeless = IntegerField(default=0)  # edge_phashes IS NULL: a copy cropped at one edge may be missed

    @staticmethod
    def of(dataset_ids: list[int]) -> dict[int, int]:
        """Images per dataset id (every id asked, 0 when it has none)."""
        counts = dict(
            DatasetImageCount.select(DatasetImageCount.dataset, DatasetImageCount.n)
            .where(DatasetImageCount.dataset.in_(dataset_ids))
            .tuples()
        )
        return {d: counts.get(d, 0) for d in dataset_ids}

    @staticmethod
    def hashes_of(dataset_id: int) -> dict[str, int]:
        """The dataset's images without a pHash ("unhashed") and without edge hashes ("edgeless")."""
        row = (
            DatasetImageCount.select(DatasetImageCount.unhashed, DatasetImageCount.edgeless)
            .where(DatasetImageCount.dataset == dataset_id)
            .tuples()
            .first()
        )
        unhashed, edgeless = row or (0, 0)
        return {"unhashed": unhashed, "edgeless": edgeless}


DUPLICATE_DECISIONS = ("keep", "drop")


class DuplicateMember(TenantModel):
    """One image of a group of near-duplicates the search found in a dataset (services/duplicates/groups.py).

    ``group`` numbers the dataset's groups; ``distance`` is in bits from the group's first image. A dropped
    image is left out of the HITs the builder makes; an empty decision is one the requester has not made."""

    dataset = ForeignKeyField(Dataset, backref="duplicates", on_delete="CASCADE")
    group = IntegerField()
    image = ForeignKeyField(Image, on_delete="CASCADE")
    distance = SmallIntegerField()
    decision = CharField(max_length=8, null=True, choices=[(d, d) for d in DUPLICATE_DECISIONS])

    class Meta:
        indexes = ((("dataset", "group"), False), (("dataset", "image"), True))


CANDIDATE_ROLES = ("candidate", "positive", "negative")


class Candidate(TenantModel):
    """An image offered for a class: to be labelled, or a known positive/negative control."""

    image = ForeignKeyField(Image, backref="candidacies", on_delete="CASCADE")
    # (image_class, image) leads with it
    image_class = ForeignKeyField(ImageClass, backref="candidates", on_delete="CASCADE", index=False)
    role = CharField(max_length=16, default="candidate", choices=[(r, r) for r in CANDIDATE_ROLES])

    class Meta:
        indexes = (
            (("image_class", "image"), True),
            # The few control rows, found without reading every candidate (review's control accuracy).
            (("role", "image_class", "image"), False),
        )


class ClassRoleCount(BaseModel):
    """How many candidates, positive and negative controls a class has: the builder reads a row per class and role
    instead of every candidate of the dataset.

    Kept by the database: triggers on candidate (migration 0021) count every insert, role change and delete, by
    any writer and by the cascades from an image, class or dataset. A role no candidate has may read 0 or be
    missing."""

    image_class = ForeignKeyField(ImageClass, on_delete="CASCADE", index=False)  # the unique index leads with it
    role = CharField(max_length=16)
    n = IntegerField()

    class Meta:
        indexes = ((("image_class", "role"), True),)


# --- batches and HITs -----------------------------------------------------

VERSIONS = (
    "POINTER_ORIGINAL",
    "NO_POINTER_ORIGINAL",
    "POINTER_NO_ORIGINAL",
    "NO_POINTER_NO_ORIGINAL",
)
# What each version shows the worker, in a requester's words (POINTER: the red pointer; NO_ORIGINAL: blurred until
# hover).
VERSION_MEANINGS = {
    "POINTER_ORIGINAL": "Red pointer, sharp images",
    "NO_POINTER_ORIGINAL": "No pointer, sharp images",
    "POINTER_NO_ORIGINAL": "Red pointer, blurred until hovered",
    "NO_POINTER_NO_ORIGINAL": "No pointer, blurred until hovered",
}
BATCH_STATES = ("draft", "building", "ready", "published", "closed", "failed")


class Batch(TenantModel):
    dataset = ForeignKeyField(Dataset, backref="batches", on_delete="RESTRICT")
    name = CharField(max_length=120)
    state = CharField(max_length=16, default="draft", choices=[(s, s) for s in BATCH_STATES])
    pages_per_hit = SmallIntegerField(default=10)
    images_per_page = SmallIntegerField(default=48)
    positives_per_page = SmallIntegerField(default=0)
    negatives_per_page = SmallIntegerField(default=0)
    assignments_per_hit = SmallIntegerField(default=3)
    versions = JSONField(default=lambda: ["POINTER_ORIGINAL"])
    one_hit_per_worker = BooleanField(default=False)
    reward = DecimalField(max_digits=8, decimal_places=2, default=0)
    title = CharField(max_length=200, default="")
    description = TextField(default="")
    shuffle_seed = BigIntegerField(null=True)
    class_ids = JSONField(null=True)  # the classes chosen in the builder; null: every class with images
    # A lean first round (the builder's choice, services/batches/builder.py): "only" the candidates the model's
    # scores make sure (one vote each), or all but them ("left-out"); null: every candidate.
    sure_images = CharField(max_length=8, null=True)
    mturk = JSONField(default=dict)  # MTurk settings: keywords, durations, qualifications
    # Rounds (services/review/rounds.py): a follow-up batch asks again about the images its
    # predecessor left open; round 1 has none.
    follows = ForeignKeyField("self", null=True, backref="follow_ups", on_delete="SET NULL")
    round = SmallIntegerField(default=1)
    excluded_workers = JSONField(default=list)  # anonymised worker ids the requester left out of the labels
    # The labels every export uses (services/review/of_record.py): {} the default rule, not chosen yet;
    # {"source": "rule", "threshold", "min_annotations", "min_accuracy"} or {"source": "fit"} (the latest fit).
    labels_of_record = JSONField(default=dict)
    # The shape its HITs were built in, which the dataset may have made smaller than the one asked for:
    # {"pages_per_hit": [fewest, most], "images_per_page": [fewest, most]}; null until built (record_shape).
    built_shape = JSONField(null=True)
    # The RQ job building its HITs (services/batches/builder.start_build) and why the last build failed, if it did:
    # a build whose job RQ will never run is settled failed (builder.settle; migration 0034).
    build_job_id = CharField(max_length=64, null=True)
    build_error = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    def record_shape(self) -> None:
        """Store the shape of the HITs as built (every builder calls this once its HITs exist)."""
        pages: dict[int, int] = {}
        sizes = []
        for hit_id, image_ids in (
            HitPage.select(HitPage.hit, HitPage.image_ids).join(Hit).where(Hit.batch == self).tuples()
        ):
            pages[hit_id] = pages.get(hit_id, 0) + 1
            sizes.append(len(image_ids))
        if not sizes:
            return
        self.built_shape = {
            "pages_per_hit": [min(pages.values()), max(pages.values())],
            "images_per_page": [min(sizes), max(sizes)],
        }
        self.save(only=[Batch.built_shape])

    @property
    def pages_per_hit_built(self) -> int:
        """Pages of its longest HIT as built (as asked until it is built): what a worker's HIT takes."""
        return self.built_shape["pages_per_hit"][1] if self.built_shape else self.pages_per_hit

    def shape(self) -> tuple[str, str]:
        """(pages per HIT, images per page) as a person reads them: as built ("3", "12–20"), else as asked."""
        if not self.built_shape:
            return str(self.pages_per_hit), str(self.images_per_page)
        return tuple(  # type: ignore[return-value]
            f"{lo}–{hi}" if lo != hi else str(lo)
            for lo, hi in (self.built_shape["pages_per_hit"], self.built_shape["images_per_page"])
        )

    @property
    def uses_pointer(self) -> bool:
        """Some of its versions show the red pointer (the instructions explain it then)."""
        return any(v.startswith("POINTER") for v in self.versions)

    @property
    def uses_blur(self) -> bool:
        """Some of its versions blur images until hovered."""
        return any(v.endswith("NO_ORIGINAL") for v in self.versions)


class Hit(TenantModel):
    batch = ForeignKeyField(Batch, backref="hits", on_delete="CASCADE")
    key = CharField(max_length=32, unique=True, default=lambda: secrets.token_hex(6))  # the seed's imageNetHitId
    mturk_hit_id = CharField(max_length=64, null=True, unique=True)
    created_at = DateTimeField(default=utcnow)


class HitPage(TenantModel):
    """One page of a HIT: a class and its images, in the order shown."""

    hit = ForeignKeyField(Hit, backref="pages", on_delete="CASCADE")
    pageno = SmallIntegerField()  # 1-based
    image_class = ForeignKeyField(ImageClass, on_delete="RESTRICT")
    image_ids = JSONField(default=list)  # Image ids in grid order
    spare_image_ids = JSONField(default=list)  # replacements for images that fail to load

    class Meta:
        indexes = ((("hit", "pageno"), True),)


class LabLink(TenantModel):
    """A link for annotators outside MTurk: opens the batch's next free HIT; revocable."""

    batch = ForeignKeyField(Batch, backref="lab_links", on_delete="CASCADE")
    token = CharField(max_length=64, unique=True, default=new_token)
    label = CharField(max_length=120, default="")
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)


# --- what workers did -----------------------------------------------------

SOURCES = ("mturk", "survey", "lab", "preview")
# Where an assignment came from, in a requester's words (survey: a survey link or a worker link without MTurk's
# frame; lab: a lab link).
SOURCE_MEANINGS = {"mturk": "MTurk", "survey": "survey link", "lab": "lab link", "preview": "preview"}


class Assignment(TenantModel):
    """One worker doing one HIT: the seed's ImageNetAnnotation."""

    hit = ForeignKeyField(Hit, backref="assignments", on_delete="CASCADE")
    worker_id = CharField(max_length=16, index=True)  # anonymised, never the raw MTurk id
    source = CharField(max_length=16, choices=[(s, s) for s in SOURCES])
    lab_link = ForeignKeyField(LabLink, null=True, on_delete="SET NULL")
    # The name a lab annotator typed, shown to the lab lead beside worker_id. Lab names are not MTurk
    # worker ids (those are never stored); an MTurk or survey assignment leaves this empty.
    lab_name = CharField(max_length=128, null=True)
    version = CharField(max_length=32)
    # MTurk hands an AssignmentId to a new worker once the first returned it: unique with the worker only.
    mturk_assignment_id = CharField(max_length=64, null=True)
    mturk_hit_id = CharField(max_length=64, null=True)
    turk_submit_to = CharField(max_length=255, null=True)
    mturk_status = CharField(max_length=16, null=True)  # Submitted, Approved, Rejected: as MTurk last said
    started_at = DateTimeField(default=utcnow)
    done = BooleanField(default=False)
    completed_at = DateTimeField(null=True)
    completion_code = CharField(max_length=6, null=True)
    # Its HIT's batch, set by the database on every insert and update (migration 0030), whatever was sent: the
    # assignments list reads a batch's newest from the (batch_id, started_at) index. None on a row made in memory.
    batch_id = IntegerField(null=True)

    class Meta:
        indexes = (
            (("hit", "worker_id"), True),
            (("mturk_assignment_id", "worker_id"), True),
            (("batch_id", "started_at"), False),
        )


class BatchCount(BaseModel):
    """A batch's HITs, HIT pages, assignments and assignments done, so the overview, the batches list and each
    batch's phase read a row instead of every page and assignment of the batch.

    Kept by the database: triggers on hit, hit_page and assignment (migration 0026) count every insert, delete and
    assignment done, by any writer. A batch without HITs may have no row; ``of`` reads that as zeros."""

    batch = ForeignKeyField(Batch, on_delete="CASCADE", unique=True)
    hits = IntegerField()
    hit_pages = IntegerField()
    assignments = IntegerField()  # started (an assignment row is made when a worker starts)
    assignments_done = IntegerField()
    # Kept by migration 0030's triggers (on assignment, hit and hit_count):
    hits_published = IntegerField(default=0)  # with an MTurk HIT id
    hits_started = IntegerField(default=0)  # with an assignment
    hits_done = IntegerField(default=0)  # with assignments_per_hit assignments done (of any source: progress.EXTRA)
    not_counted = IntegerField(default=0)  # assignments whose votes do not count (services/review/counted.py)
    waiting = IntegerField(default=0)  # of those, the MTurk assignments MTurk has not confirmed nor rejected yet
    mturk = IntegerField(default=0)  # assignments that came through MTurk

    @staticmethod
    def of(batch_ids) -> dict[int, BatchCount]:
        """The counts of each batch id asked (zeros when it has none)."""
        kept = {c.batch_id: c for c in BatchCount.select().where(BatchCount.batch.in_(list(batch_ids)))}
        return {
            b: kept.get(b)
            or BatchCount(
                batch=b,
                hits=0,
                hit_pages=0,
                assignments=0,
                assignments_done=0,
                hits_published=0,
                hits_started=0,
                hits_done=0,
                not_counted=0,
                waiting=0,
                mturk=0,
            )
            for b in batch_ids
        }


class HitCount(BaseModel):
    """A HIT's assignments started and done (any source), kept by the database (migration 0030): what BatchCount's
    HITs started and done follow."""

    hit = ForeignKeyField(Hit, on_delete="CASCADE", unique=True)
    batch_id = IntegerField()  # the HIT's, so the triggers that keep BatchCount read only the rows they are given
    assignments = IntegerField()
    done = IntegerField()


class BatchWorker(BaseModel):
    """A worker's assignments in a batch whose votes count (services/review/counted.py): how many, how many done,
    their control answers (AssignmentControls added up) and their pages (PageTally added up: derived pages only, as
    BatchTally's), so the workers list and the control-accuracy bar read a row per worker, not every assignment or
    page of the batch; and their MTurk assignments that do not count, waiting for MTurk or rejected (migration 0033),
    so the workers lists show every worker who did work in the batch.

    Kept by the database: triggers on assignment, hit, assignment_controls and page_tally (migrations 0030, 0033). A
    worker with no assignment (counted, waiting or rejected) may keep a row of zeros."""

    batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
    worker_id = CharField(max_length=16)
    assignments = IntegerField()
    done = IntegerField()
    positive = IntegerField()
    positive_selected = IntegerField()
    negative = IntegerField()
    negative_selected = IntegerField()
    pages = IntegerField()
    page_ms = BigIntegerField()
    chunks_reported = IntegerField()
    chunks_received = IntegerField()
    images = IntegerField()
    selected = IntegerField()
    estimate_zero = IntegerField()
    estimate_250 = IntegerField()
    estimate_500 = IntegerField()
    estimate_1000 = IntegerField()
    estimate_2000 = IntegerField()
    estimate_4000 = IntegerField()
    estimate_over = IntegerField()
    waiting = IntegerField(default=0)  # MTurk assignments MTurk has not confirmed nor rejected yet (0033)
    rejected = IntegerField(default=0)  # MTurk assignments MTurk rejected (0033)

    class Meta:
        indexes = ((("batch", "worker_id"), True),)


class BatchWorkerTime(BaseModel):
    """A worker's pages in a batch (those BatchWorker adds up, with images) per bucket of time per image, so the
    workers list reads a worker's median time per image from a few dozen rows, not from every page.

    Buckets (``quality.PAGE_TIME_STEPS``): 0 below 1 ms, then each power of two of milliseconds in equal steps. Kept
    by the database: the same triggers as BatchWorker's (migration 0031). A bucket emptied keeps a row of 0 pages."""

    batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
    worker_id = CharField(max_length=16)
    bucket = SmallIntegerField()
    pages = IntegerField()

    class Meta:
        indexes = ((("batch", "worker_id", "bucket"), True),)


class PageSubmission(BaseModel):
    """One submitted page: the seed's ImageNetAnnotationPage."""

    assignment = ForeignKeyField(Assignment, backref="pages", on_delete="CASCADE")
    hit_page = ForeignKeyField(HitPage, on_delete="CASCADE")
    pageno = SmallIntegerField()
    started_at = BigIntegerField()  # epoch ms, page shown
    ended_at = BigIntegerField()  # epoch ms, Submit pressed
    tab = IntegerField(default=0)  # the browser tab it was submitted from (PointerChunk.tab)
    chunks_reported = IntegerField(default=0)  # pointer batches the tracker says it sent from that tab
    none_confirmed = BooleanField(default=False)  # no image selected, and the worker confirmed none shows the class
    submitted_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("assignment", "pageno"), True),)


class ImageRecord(BaseModel):
    """One candidate image on one submitted page, with the fields of record-format.md.

    ``mouseTracking`` is not here: it arrives as PointerChunks and is assembled on export.
    """

    page = ForeignKeyField(PageSubmission, backref="records", on_delete="CASCADE")
    image = ForeignKeyField(Image, on_delete="CASCADE")
    grid_index = SmallIntegerField()
    original_width = IntegerField(null=True)
    original_height = IntegerField(null=True)
    width = IntegerField(null=True)
    height = IntegerField(null=True)
    position_x = IntegerField(null=True)
    position_y = IntegerField(null=True)
    hovered_record = JSONField(default=list)
    hovered_count = IntegerField(default=0)
    selected = BooleanField(default=False)
    selected_count = IntegerField(default=0)
    selected_record = JSONField(default=list)
    estimate_time = IntegerField(default=0)
    load_status = CharField(max_length=16, default="ok")  # ok, replacement, dropped
    replaces = ForeignKeyField(Image, null=True, on_delete="SET NULL", backref="replaced_by")

    class Meta:
        indexes = ((("page", "grid_index"), True),)


# The few records of images that did not load (the overview's and batch list's "short of images" count), found
# without reading every record of the batch: a partial index holds only them, so ingest pays nothing for it.
ImageRecord.add_index(
    ImageRecord.index(ImageRecord.page, name="imagerecord_dropped_page", where=ImageRecord.load_status == "dropped")
)


class PointerChunk(BaseModel):
    """One batch of pointer events as the tracker sent it, stored once."""

    assignment = ForeignKeyField(Assignment, backref="chunks", on_delete="CASCADE")
    pageno = SmallIntegerField()
    tab = IntegerField(default=0)  # the tracker's random id for the browser tab that sent it
    seq = IntegerField()
    n_events = IntegerField()
    events = TextField()  # the validated events as compact JSON, parsed only on export
    received_at = BigIntegerField()  # epoch ms at the ingest endpoint

    class Meta:
        indexes = ((("assignment", "pageno", "tab", "seq"), True),)

    @staticmethod
    def of_submission():
        """The condition that a chunk is one its page's submission reported: same page, sent from the submitting tab."""
        return (
            (PointerChunk.assignment == PageSubmission.assignment)
            & (PointerChunk.pageno == PageSubmission.pageno)
            & (PointerChunk.tab == PageSubmission.tab)
        )


class PageChunkCount(BaseModel):
    """How many pointer chunks are stored for one page of an assignment from one browser tab (PointerChunk's key
    without its seq), so the progress and workers pages add up a row per page instead of every chunk.

    Kept by the database, not by the code: a trigger on pointer_chunk (migration 0020) adds every chunk stored, by
    the flush or by any other writer, in the writer's transaction; a re-delivered chunk the flush skips adds
    nothing. Its rows go with their assignment, as the chunks do."""

    assignment = ForeignKeyField(Assignment, on_delete="CASCADE", index=False)  # the unique index leads with it
    pageno = SmallIntegerField()
    tab = IntegerField()
    received = IntegerField()

    class Meta:
        indexes = ((("assignment", "pageno", "tab"), True),)

    @staticmethod
    def of_submission():
        """The condition that a count is that of its page's submission: same page, the submitting tab."""
        return (
            (PageChunkCount.assignment == PageSubmission.assignment)
            & (PageChunkCount.pageno == PageSubmission.pageno)
            & (PageChunkCount.tab == PageSubmission.tab)
        )


# --- MTurk: what reconciliation learnt, and what we asked MTurk to do ---------------

MTURK_STATUSES = ("Submitted", "Approved", "Rejected")
# An intent row's life: written before the call, then what the call (or MTurk's own state) said.
INTENT_STATES = ("intended", "done", "adopted", "failed")


class MTurkAssignment(TenantModel):
    """One assignment as MTurk last listed it (services/mturk/tracking.py): the truth that review and pay act on.

    Keyed by MTurk's AssignmentId *and* the worker's HMAC (never the raw WorkerId):
    an AssignmentId a worker returned is handed to the next worker.
    """

    hit = ForeignKeyField(Hit, backref="mturk_assignments", on_delete="CASCADE")
    mturk_hit_id = CharField(max_length=64, index=True)
    mturk_assignment_id = CharField(max_length=64)
    worker_id = CharField(max_length=16, index=True)  # identity.anonymous_worker_id, as Assignment.worker_id
    assignment = ForeignKeyField(Assignment, null=True, backref="mturk_records", on_delete="SET NULL")  # our data
    status = CharField(max_length=16, choices=[(s, s) for s in MTURK_STATUSES])
    accepted_at = DateTimeField(null=True)
    submitted_at = DateTimeField(null=True)
    auto_approval_at = DateTimeField(null=True)
    deadline = DateTimeField(null=True)
    decided_at = DateTimeField(null=True)  # MTurk's ApprovalTime or RejectionTime
    answer = TextField(default="")  # the form the worker's browser posted to externalSubmit (QuestionFormAnswers)
    requester_feedback = TextField(default="")
    flag = CharField(max_length=200, default="")  # why auto-review left it for the requester
    qualified_at = DateTimeField(null=True)  # when the batch's "did this batch" qualification was granted
    synced_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "mturk_assignment"
        indexes = ((("mturk_assignment_id", "worker_id"), True),)


REVIEW_ACTIONS = ("approve", "reject", "override")


class Decision(TenantModel):
    """An approve, reject or override-rejection, written before the MTurk call and completed after it."""

    mturk_assignment = ForeignKeyField(MTurkAssignment, backref="decisions", on_delete="CASCADE")
    action = CharField(max_length=16, choices=[(a, a) for a in REVIEW_ACTIONS])
    feedback = TextField(default="")
    rules = JSONField(null=True)  # auto-review: the rules applied and the figures they judged
    source = CharField(max_length=16)  # dashboard, cli, auto
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    state = CharField(max_length=16, default="intended", choices=[(s, s) for s in INTENT_STATES])
    error_code = CharField(max_length=120, default="")
    error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


class Bonus(TenantModel):
    """One bonus: its UniqueRequestToken is fixed when the row is written, so every retry is the same request.

    ``key`` (amount and reason) makes asking twice for the same bonus find this row instead of paying again.
    """

    mturk_assignment = ForeignKeyField(MTurkAssignment, backref="bonuses", on_delete="CASCADE")
    amount = DecimalField(max_digits=8, decimal_places=2)
    reason = TextField()
    key = CharField(max_length=64)
    token = CharField(max_length=64, unique=True, default=new_token)
    state = CharField(max_length=16, default="intended", choices=[(s, s) for s in INTENT_STATES])
    attempts = IntegerField(default=0)
    first_sent_at = DateTimeField(null=True)  # MTurk remembers a token for 24 h from here
    error_code = CharField(max_length=120, default="")
    error = TextField(default="")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    paid_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("mturk_assignment", "key"), True),)


WORKER_ACTIONS = ("soft_block", "hard_block", "notify", "qualify")


class WorkerAction(TenantModel):
    """A block, a message or a qualification for one worker, reached through one of their assignments."""

    mturk_assignment = ForeignKeyField(MTurkAssignment, backref="worker_actions", on_delete="CASCADE")
    kind = CharField(max_length=16, choices=[(k, k) for k in WORKER_ACTIONS])
    worker_id = CharField(max_length=16, index=True)
    subject = CharField(max_length=200, default="")
    text = TextField(default="")  # the block reason or the message
    state = CharField(max_length=16, default="intended", choices=[(s, s) for s in INTENT_STATES])
    error_code = CharField(max_length=120, default="")
    error = TextField(default="")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


class ReviewRules(TenantModel):
    """A batch's auto-review rules; a rule left empty is not applied."""

    batch = ForeignKeyField(Batch, backref="review_rules", unique=True, on_delete="CASCADE")
    min_control_accuracy = DecimalField(max_digits=4, decimal_places=3, null=True)  # 0..1
    min_seconds_per_page = IntegerField(null=True)
    require_completion_code = BooleanField(default=True)
    min_completeness = DecimalField(max_digits=4, decimal_places=3, null=True)  # 0..1
    reject_failures = BooleanField(default=False)  # else an assignment that fails a rule is left for the requester
    approve_feedback = TextField(default="")
    updated_at = DateTimeField(default=utcnow)


class Export(TenantModel):
    """An export file made by an RQ job, downloadable by the organization that asked for it."""

    batch = ForeignKeyField(Batch, backref="exports", on_delete="CASCADE")
    kind = CharField(max_length=16)  # a name of services/exports/kinds.KINDS
    state = CharField(max_length=16, default="queued")  # queued, running, done, failed
    job_id = CharField(max_length=64, null=True)
    path = TextField(null=True)
    rows = IntegerField(default=0)
    error = TextField(default="")
    params = JSONField(default=dict)  # what the export was asked for, e.g. the label rule
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


# --- review read model: derived from the rows above by services/review/tallies.py ----


class PageTally(BaseModel):
    """A submitted page's image records added up, so review pages sum pages instead of records.

    Holds nothing that depends on Candidate roles, which may still change. It also carries its page's own figures
    (batch, time, chunks, when submitted), so the triggers that keep BatchTally and BatchMinute (migration 0027)
    read nothing but the rows they are given; the database keeps those copies, and ``chunks_received``, current.
    """

    page = ForeignKeyField(PageSubmission, unique=True, on_delete="CASCADE")
    assignment = ForeignKeyField(Assignment, on_delete="CASCADE")
    batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the (batch, submitted_at) index leads with it
    page_ms = BigIntegerField(default=0)  # ended_at - started_at of the page
    chunks_reported = IntegerField(default=0)
    chunks_received = IntegerField(default=0)  # stored pointer chunks of the page from its submitting tab
    submitted_at = DateTimeField()
    images = IntegerField()  # records of images that were shown (not dropped)
    selected = IntegerField()
    # estimateTime histogram: 0, (0, 250], (250, 500], (500, 1000], (1000, 2000], (2000, 4000], over 4000 ms
    estimate_zero = IntegerField()
    estimate_250 = IntegerField()
    estimate_500 = IntegerField()
    estimate_1000 = IntegerField()
    estimate_2000 = IntegerField()
    estimate_4000 = IntegerField()
    estimate_over = IntegerField()

    class Meta:
        indexes = ((("batch", "submitted_at"), False),)


class BatchTally(BaseModel):
    """A batch's page tallies added up: its progress figures read one row, not every page of the batch.

    Kept by the database: triggers on page_tally (migration 0027) add each tally as it is derived, follow its
    changes (chunks arriving after the page) and take it away when it is deleted."""

    batch = ForeignKeyField(Batch, on_delete="CASCADE", unique=True)
    pages = IntegerField()
    page_ms = BigIntegerField()
    chunks_reported = BigIntegerField()
    chunks_received = BigIntegerField()
    last_tally = BigIntegerField()  # the highest PageTally id added (a deletion leaves it): the votes' version


class BatchMinute(BaseModel):
    """Pages of a batch tallied per minute of submission (epoch seconds // 60), for the throughput chart; kept with
    BatchTally. A minute whose pages were all deleted may stay, at 0."""

    batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
    minute = BigIntegerField()
    pages = IntegerField()

    class Meta:
        indexes = ((("batch", "minute"), True),)


class BatchPeriod(BaseModel):
    """Pages of a batch tallied per hour and per day of submission (``seconds`` 3600 or 86400; ``period`` is epoch
    seconds // seconds), kept beside BatchMinute by triggers on page_tally (migration 0030): the throughput chart of a
    long batch reads its hours or days, not every minute."""

    batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
    seconds = IntegerField()
    period = BigIntegerField()
    pages = IntegerField()

    class Meta:
        indexes = ((("batch", "seconds", "period"), True),)


class AssignmentControls(BaseModel):
    """An assignment's votes on control images and how many of them it selected, per role: a batch's control
    accuracy per worker reads a row per assignment, not every control vote of the batch.

    Kept by the database: triggers on vote and on candidate (migration 0028) follow every vote derived or changed
    and every control role added, changed or deleted, by any writer and through the cascades."""

    assignment = ForeignKeyField(Assignment, on_delete="CASCADE", unique=True)
    positive = IntegerField()
    positive_selected = IntegerField()
    negative = IntegerField()
    negative_selected = IntegerField()


class Vote(BaseModel):
    """One assignment's answer on one image for one class (selected on any page that showed it).

    The selection frequency of an image is the share of its votes that are
    selected; the covering index reads those in (class, image) order.
    """

    batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the covering index leads with it
    image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
    image = ForeignKeyField(Image, on_delete="CASCADE")
    assignment = ForeignKeyField(Assignment, on_delete="CASCADE", index=False)  # the unique index leads with it
    selected = BooleanField()
    # The image's role for the class as a control: 1 positive, -1 negative, 0 neither. Written with the vote and
    # kept by the database when a Candidate's role changes (migration 0028), for AssignmentControls.
    control = SmallIntegerField(default=0)

    class Meta:
        indexes = (
            (("assignment", "image_class", "image"), True),
            (("batch", "image_class", "image", "assignment", "selected"), False),
        )


class VoteCount(BaseModel):
    """An image's votes in a batch for a class (seen) and how many are selected: every vote, counted or not
    (services/review/counted.py). Kept by triggers on vote (migration 0029); no row once an image has no votes."""

    batch_id = IntegerField()
    image_class_id = IntegerField()
    image_id = IntegerField()
    seen = IntegerField()
    selected = IntegerField()

    class Meta:
        primary_key = CompositeKey("batch_id", "image_class_id", "image_id")


class VoteHistogram(BaseModel):
    """How many images of a batch's class have each (seen, selected) of VoteCount: a class's decisions under any
    rule are a sum over its cells. Kept with VoteCount; a cell may stay at 0 images until a vote of its class goes."""

    batch_id = IntegerField()
    image_class_id = IntegerField()
    seen = IntegerField()
    selected = IntegerField()
    images = IntegerField()

    class Meta:
        primary_key = CompositeKey("batch_id", "image_class_id", "seen", "selected")


# --- MTurk: credentials, qualification types, HIT types, HITs (services/mturk/) ----


class MTurkAccount(TenantModel):
    """An organization's own AWS key pair for MTurk; the secret is a Fernet token (services/mturk/credentials.py)."""

    organization = ForeignKeyField(Organization, on_delete="CASCADE", unique=True)
    access_key_id = CharField(max_length=128)
    secret_token = TextField()
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "mturk_account"


class ServerAccountGrant(TenantModel):
    """A site admin let an organization with no key pair of its own use the server's MTurk account.

    A grant in force (services/mturk/access.py) has no ``revoked_at``; revoked grants stay as the record of who
    allowed what, when.
    """

    granted_by = CharField(max_length=254)  # the admin's email, or "command line (<unix user>)"
    granted_at = DateTimeField(default=utcnow)
    note = TextField(default="")
    revoked_by = CharField(max_length=254, default="")
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "server_account_grant"


MTURK_SPEND_KINDS = ("hit", "extension", "bonus")


class MTurkSpend(TenantModel):
    """Money an MTurk call is about to move, reserved against the organization's daily limit before the call.

    Keyed by the intent's UniqueRequestToken, so a retried call reserves nothing twice; a call MTurk refused
    releases its reservation (services/mturk/budget.py).
    """

    token = CharField(max_length=128, unique=True)
    kind = CharField(max_length=16, choices=[(k, k) for k in MTURK_SPEND_KINDS])
    amount = DecimalField(max_digits=12, decimal_places=2)  # rewards or bonus, with MTurk's fee
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "mturk_spend"


class MTurkQualificationType(TenantModel):
    """A qualification type we created on MTurk, once per organization, environment and purpose.

    ``purpose`` is ``soft-block`` (the organization's block list) or
    ``did-batch:<batch id>`` (one HIT per worker). The row is written before
    the create call, with the name we ask for, so a crash is retried by name.
    """

    sandbox = BooleanField()
    purpose = CharField(max_length=64)
    name = CharField(max_length=200)
    qualification_type_id = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "mturk_qualification_type"
        indexes = ((("organization", "sandbox", "purpose"), True),)


class MTurkHit(TenantModel):
    """One MTurk HIT for one of our HITs: the intent row of an exactly-once create, then its MTurk state.

    Written (``state`` "intended") with its UniqueRequestToken before
    CreateHITWithHITType is called; ``sent_at`` is the first time MTurk may have
    seen the token (its dedupe window is 24 h). A HIT of more than 9
    assignments is several rows (``part``), so each stays at MTurk's 20 % fee.
    """

    batch = ForeignKeyField(Batch, backref="mturk_hits", on_delete="CASCADE")
    hit = ForeignKeyField(Hit, backref="mturk_hits", on_delete="CASCADE")
    part = SmallIntegerField(default=0)
    round = SmallIntegerField(default=1)
    sandbox = BooleanField()
    max_assignments = SmallIntegerField()
    unique_request_token = CharField(max_length=64, unique=True)
    state = CharField(max_length=16, default="intended")  # intended, created, deleted
    hit_type_id = CharField(max_length=64, null=True)
    mturk_hit_id = CharField(max_length=64, null=True, unique=True)
    hit_status = CharField(max_length=16, null=True)  # as MTurk last said: Assignable, Unassignable, Reviewable, ...
    expires_at = DateTimeField(null=True)
    intended_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)
    created_at = DateTimeField(null=True)

    class Meta:
        table_name = "mturk_hit"
        indexes = ((("hit", "round", "part"), True),)


class MTurkExtension(TenantModel):
    """Assignments added to an MTurk HIT (CreateAdditionalAssignmentsForHIT): an intent row with its own token."""

    mturk_hit = ForeignKeyField(MTurkHit, backref="extensions", on_delete="CASCADE")
    assignments = SmallIntegerField()
    unique_request_token = CharField(max_length=64, unique=True)
    state = CharField(max_length=16, default="intended")  # intended, done
    intended_at = DateTimeField(default=utcnow)
    done_at = DateTimeField(null=True)

    class Meta:
        table_name = "mturk_extension"


# --- label models fitted to the votes (services/review/fits.py) -----------------------

LABEL_MODELS = ("ds", "mv")
FIT_STATES = ("queued", "running", "done", "failed")


class LabelFit(TenantModel):
    """A label model fitted to a batch's votes and those of the rounds before it, by an RQ job."""

    batch = ForeignKeyField(Batch, backref="label_fits", on_delete="CASCADE")
    model = CharField(max_length=8, choices=[(m, m) for m in LABEL_MODELS])  # ds: Dawid–Skene; mv: frequency
    target_precision = FloatField()
    threshold = FloatField(default=0.7)  # mv's selection frequency threshold
    batch_ids = JSONField(default=list)  # the rounds whose votes were read, first round first
    state = CharField(max_length=16, default="queued", choices=[(s, s) for s in FIT_STATES])
    job_id = CharField(max_length=64, null=True)
    images = IntegerField(default=0)  # (image, class) pairs labelled, controls included
    yes = IntegerField(default=0)
    no = IntegerField(default=0)
    open = IntegerField(default=0)
    votes = IntegerField(default=0)
    votes_version = CharField(max_length=64, default="")  # the counted votes it read; another now: the fit is stale
    prior = JSONField(default=dict)  # the model scores' calibration and what they saved (empty: no scores)
    iterations = IntegerField(default=0)
    error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


class ModelScore(TenantModel):
    """A requester's model's score for one image and class (any number, higher = more likely shows the class):
    the label model's prior once calibrated (services/review/prior.py). A later import replaces it."""

    dataset = ForeignKeyField(Dataset, backref="model_scores", on_delete="CASCADE")
    image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
    image = ForeignKeyField(Image, on_delete="CASCADE")
    score = FloatField()

    class Meta:
        indexes = ((("image_class", "image"), True),)


class ImageLabel(BaseModel):
    """One (image, class) pair's label under one fit."""

    fit = ForeignKeyField(LabelFit, backref="labels", on_delete="CASCADE", index=False)  # the unique index leads
    image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
    image = ForeignKeyField(Image, on_delete="CASCADE")
    votes = IntegerField()
    selected = IntegerField()
    p_yes = FloatField()
    decision = CharField(max_length=8)  # yes, no, open
    known = BooleanField(default=False)  # a control: the label is the known one

    class Meta:
        indexes = (
            (("fit", "image_class", "image"), True),
            (("fit", "decision", "image_class", "image"), False),
        )


class WorkerEstimate(BaseModel):
    """One worker's estimated rates under one fit."""

    fit = ForeignKeyField(LabelFit, backref="workers", on_delete="CASCADE", index=False)
    worker_id = CharField(max_length=16)  # anonymised
    sensitivity = FloatField(null=True)  # null: nothing to estimate it from
    specificity = FloatField(null=True)
    votes = IntegerField()
    gold_votes = IntegerField()  # votes on controls
    selected = IntegerField()
    flag = CharField(max_length=16, default="")  # always-yes, random

    class Meta:
        indexes = ((("fit", "worker_id"), True),)


MODELS = [
    Organization,
    User,
    Membership,
    Invite,
    Dataset,
    ImageClass,
    Image,
    DatasetImageCount,
    DuplicateMember,
    Candidate,
    ClassRoleCount,
    Batch,
    LabLink,
    Hit,
    HitPage,
    Assignment,
    BatchCount,
    HitCount,
    BatchWorker,
    BatchWorkerTime,
    PageSubmission,
    ImageRecord,
    PointerChunk,
    PageChunkCount,
    Export,
    PageTally,
    BatchTally,
    BatchMinute,
    BatchPeriod,
    AssignmentControls,
    Vote,
    VoteCount,
    VoteHistogram,
    MTurkAccount,
    ServerAccountGrant,
    MTurkSpend,
    MTurkQualificationType,
    MTurkHit,
    MTurkExtension,
    MTurkAssignment,
    Decision,
    Bonus,
    WorkerAction,
    ReviewRules,
    LabelFit,
    ImageLabel,
    WorkerEstimate,
]
