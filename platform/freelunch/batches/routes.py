from dataclasses import dataclass
from decimal import Decimal

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from htmx_flask import make_response
from peewee import fn
from wtforms import SelectChoice

from ..models import (
    VERSION_MEANINGS,
    VERSIONS,
    Assignment,
    Batch,
    BatchCount,
    Dataset,
    Hit,
    ImageClass,
    LabLink,
    MTurkHit,
    utcnow,
)
from ..parsing import whole_number
from ..services import jobs, overview
from ..services.batches import builder as batch_service
from ..services.exports import files as export_files
from ..services.mturk import fairpay
from ..services.mturk.cost import FEE_STEP_ASSIGNMENTS, MAX_ASSIGNMENTS_PER_MTURK_HIT, Estimate, estimate
from ..services.review import prior_report, progress, rounds
from ..services.review.quality import DONE
from ..tenancy import current_org, owned_or_404
from ..web import job_events, partials, sorting
from ..web.batch_tabs import batch_progress, render_tab
from ..web.pagination import paginate, requested_page
from ..web.task_page import requester_preview
from . import bp
from .forms import BatchForm, LabLinkForm

BATCH_SORTS = {"name": Batch.name, "created": Batch.created_at, "state": Batch.state}
CLASS_CHOICES_MAX = 2000  # the builder lists at most this many classes to tick


# --- list and builder -----------------------------------------------------


@bp.get("/")
def index():
    sort = sorting.requested(BATCH_SORTS, "-created")
    batches = sorting.apply(Batch.owned(current_org()), sort, BATCH_SORTS, Batch.id.desc())
    state = request.args.get("state", "")  # a phase: the list shows phases, so it filters on them
    if state in progress.PHASES:
        for building in Batch.owned(current_org()).where(Batch.state == "building"):
            batch_service.settle(building)  # filtered as it is shown: a build whose job is gone is failed
        live = list(
            Batch.owned(current_org(), Batch.id, Batch.state, Batch.assignments_per_hit).where(
                Batch.state.in_(("ready", "published"))
            )
        )
        in_phase = [batch_id for batch_id, p in progress.phases(live).items() if p == state]
        batches = batches.where(
            (Batch.state == state) & Batch.state.not_in(("ready", "published")) | Batch.id.in_(in_phase)
        )
    dataset = None
    dataset_id = whole_number(request.args.get("dataset"))
    if dataset_id is not None:
        dataset = owned_or_404(Dataset, dataset_id)
        batches = batches.where(Batch.dataset == dataset)
    page = paginate(batches)
    return partials.render(
        "batches/index.html",
        "batches/_list.html",
        page=page,
        lines=overview.batch_lines(current_org(), page.items),
        dataset=dataset,
        sort=sort,
        state=state,
        states=progress.PHASES,
    )


def _builder_form(dataset_id: int | None = None) -> tuple[BatchForm, Dataset | None]:
    """The form with the organization's datasets and the chosen dataset's classes as choices."""
    form = BatchForm()
    datasets = list(Dataset.owned(current_org(), Dataset.id, Dataset.name).order_by(Dataset.name).tuples())
    form.dataset_id.choices = [SelectChoice(d, name) for d, name in datasets]
    owned = {d for d, _ in datasets}
    if form.is_submitted():
        chosen = form.dataset_id.data  # a foreign or unknown id fails the field's choice check
    else:
        chosen = dataset_id if dataset_id in owned else (datasets[0][0] if datasets else None)
        form.dataset_id.data = chosen
    dataset = Dataset.get_by_id(chosen) if chosen in owned else None
    form.sure = batch_service.sure_images(dataset.id) if dataset else None
    form.class_rows = _class_rows(dataset, form.sure)
    form.dropped_duplicates = batch_service.dropped_candidates(dataset, None) if dataset else 0
    form.class_ids.choices = [SelectChoice(r.id, r.label) for r in form.class_rows]
    return form, dataset


@dataclass(frozen=True)
class ClassRow:
    """One class in the builder's list, with what the browser needs to filter it and price a choice."""

    id: int
    key: str
    names: list[str]
    candidates: int
    positives: int
    negatives: int
    sure: int = 0  # candidates the model's scores make sure (a lean first round asks them one vote)

    @property
    def label(self) -> str:
        return (
            f"{self.key} · {', '.join(self.names[:2])} · {self.candidates} candidates, "
            f"{self.positives} + {self.negatives} controls"
        )

    @property
    def search_text(self) -> str:
        return " ".join([self.key, *self.names]).lower()


def _class_rows(dataset: Dataset | None, sure: prior_report.SureImages | None = None) -> list[ClassRow]:
    if dataset is None:
        return []
    counts = batch_service.class_role_counts(dataset, None)
    classes = (
        ImageClass.select(ImageClass.id, ImageClass.key, ImageClass.names)
        .where(ImageClass.dataset == dataset)
        .order_by(ImageClass.key)
        .limit(CLASS_CHOICES_MAX)
    )
    return [
        ClassRow(
            c.id,
            c.key,
            c.names,
            counts[c.id].get("candidate", 0),
            counts[c.id].get("positive", 0),
            counts[c.id].get("negative", 0),
            sure.count(c.id) if sure else 0,
        )
        for c in classes
    ]


def _plus(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(
        a.hits + b.hits,
        a.mturk_hits + b.mturk_hits,
        a.assignments + b.assignments,
        a.rewards + b.rewards,
        a.fees + b.fees,
    )


def _checked(field):
    """A field's value unless the form refused it: the cost line and the pay estimate never compute with a number
    out of its range (an assignments_per_hit of 10**12 asked for a list of 10**11 MTurk HITs)."""
    return None if field.errors else field.data


def _cost_line(form: BatchForm, rows: list[ClassRow]) -> dict | None:
    """Pages, HITs and MTurk cost of the form's current choice (the builder's JS keeps it current as it changes);
    with images the model is sure about, what asking them one vote in a second batch saves ("lean"), and the cost
    line counts both batches when the requester ticks it."""
    numbers = (
        _checked(form.images_per_page),
        _checked(form.positives_per_page),
        _checked(form.negatives_per_page),
        _checked(form.pages_per_hit),
        _checked(form.assignments_per_hit),
        _checked(form.reward),
    )
    if any(n is None for n in numbers):
        return None
    images, positives, negatives, pages_per_hit, assignments, reward = numbers
    chosen = set(form.class_ids.data or ())
    rows = [r for r in rows if r.id in chosen or not chosen]

    def priced(counts: list[int], asked: int) -> tuple[int, Estimate]:
        pages, hits = batch_service.plan(counts, images, positives + negatives, pages_per_hit)
        return pages, estimate(hits, asked, reward)

    pages, whole = priced([r.candidates for r in rows], assignments)
    sure = sum(r.sure for r in rows)
    lean = None
    if sure:
        rest_pages, rest = priced([r.candidates - r.sure for r in rows], assignments)
        sure_pages, few = priced([r.sure for r in rows], batch_service.SURE_ASSIGNMENTS)
        both = _plus(rest, few)
        lean = {
            "sure": sure,
            "votes_saved": sure * (assignments - batch_service.SURE_ASSIGNMENTS),
            "pages": rest_pages + sure_pages,
            "cost": both,
            "whole": whole,
        }
    ticked = bool(lean and form.ask_sure_once.data)
    shown = lean["cost"] if ticked and lean else whole
    classes = [(r.key, r.candidates, r.positives, r.negatives) for r in rows]
    return {
        "warnings": batch_service.shape_warnings(classes, images, positives, negatives, pages_per_hit),
        "pages": lean["pages"] if ticked and lean else pages,
        "hits": shown.hits,
        "assignments": shown.assignments,
        "cost": shown,
        "lean": lean,
    }


def _sure_terms() -> dict:
    return {"sure_assignments": batch_service.SURE_ASSIGNMENTS, "target": rounds.DEFAULT_TARGET}


def _builder_page(form: BatchForm, dataset: Dataset | None, status: int = 200):
    cost = _cost_line(form, form.class_rows)
    # The hourly pay of a HIT as it will be built: the chosen classes may fill fewer pages than a HIT asks for.
    hit_pages = max(_checked(form.pages_per_hit) or 1, 1)
    if cost and cost["pages"]:
        hit_pages = min(hit_pages, cost["pages"])
    return render_template(
        "batches/new.html",
        form=form,
        dataset=dataset,
        fee_step=FEE_STEP_ASSIGNMENTS,
        cost=cost,
        max_part=MAX_ASSIGNMENTS_PER_MTURK_HIT,
        **_sure_terms(),
        hit_pages=hit_pages,
        fair_pay=fairpay.estimate_for(current_org().id, hit_pages, _checked(form.reward) or Decimal(0)),
    ), status


@bp.get("/new")
def new():
    form, dataset = _builder_form(whole_number(request.args.get("dataset_id")))
    return _builder_page(form, dataset)


@bp.get("/new/classes")
def builder_classes():
    """The class checkboxes for the dataset chosen in the builder (swapped in when the dataset changes)."""
    dataset_id = whole_number(request.args.get("dataset_id"))
    if dataset_id is None:
        abort(400, "Choose a dataset.")
    form, dataset = _builder_form(owned_or_404(Dataset, dataset_id).id)
    return render_template("batches/_builder_classes.html", form=form, dataset=dataset, cost=None, **_sure_terms())


@bp.post("/")
def create():
    form, dataset = _builder_form()
    if not form.dataset_id.choices:
        flash("Create a dataset and import its classes and images first.", "error")
        return redirect(url_for("datasets.index"))
    if form.validate_on_submit():
        issues = batch_service.problems(
            dataset, form.class_ids.data, form.positives_per_page.data, form.negatives_per_page.data
        )
        chosen = [r for r in form.class_rows if r.id in set(form.class_ids.data or ()) or not form.class_ids.data]
        sure = sum(r.sure for r in chosen) if form.ask_sure_once.data else 0
        if sure and sure == sum(r.candidates for r in chosen):
            form.ask_sure_once.errors = [
                "The model is sure about every chosen candidate: leave this unticked and ask "
                f"{batch_service.SURE_ASSIGNMENTS} assignment per HIT instead."
            ]
        elif issues:
            form.class_ids.errors = list(form.class_ids.errors) + issues
        else:
            batch = Batch.create(
                organization=current_org(),
                dataset=dataset,
                name=form.name.data.strip(),
                pages_per_hit=form.pages_per_hit.data,
                images_per_page=form.images_per_page.data,
                positives_per_page=form.positives_per_page.data,
                negatives_per_page=form.negatives_per_page.data,
                assignments_per_hit=form.assignments_per_hit.data,
                versions=form.versions.data,
                one_hit_per_worker=form.one_hit_per_worker.data,
                reward=form.reward.data,
                title=(form.title.data or "").strip(),
                description=(form.description.data or "").strip(),
            )
            companion = batch_service.sure_companion(batch) if sure else None  # before either build reads them
            batch_service.start_build(batch, form.class_ids.data)
            if companion:
                batch_service.start_build(companion, form.class_ids.data)
                flash(
                    f"Batch {companion.name} created: the {sure:,} candidates the model is sure about, "
                    f"{batch_service.SURE_ASSIGNMENTS} assignment per HIT.",
                    "success",
                )
            if batch.assignments_per_hit >= FEE_STEP_ASSIGNMENTS:
                flash(
                    f"{batch.assignments_per_hit} assignments per HIT: MTurk's fee is 40% instead of 20% "
                    f"from {FEE_STEP_ASSIGNMENTS} on.",
                    "error",
                )
            flash(f"Batch {batch.name} created.", "success")
            return redirect(url_for("batches.show", batch_id=batch.id))
    return _builder_page(form, dataset, 422)


# --- one batch ------------------------------------------------------------


def _hit_page(batch: Batch):
    count = BatchCount.of([batch.id])[batch.id]  # kept by the database: no count of the batch's HITs
    page = paginate(Hit.select().where(Hit.batch == batch).order_by(Hit.id), total=count.hits)
    ids = [h.id for h in page.items]
    mixed = count.hits_published > 0 and progress.mixed([batch.id]).exists()
    rows = (
        (
            Assignment.select(
                Assignment.hit,
                fn.COUNT(Assignment.id),
                fn.SUM(progress.DONE_IN_CHANNEL if mixed else DONE),
                fn.SUM(DONE),
            )
            .join(Hit)
            .where(Assignment.hit.in_(ids))
            .group_by(Assignment.hit)
            .tuples()
        )
        if ids
        else []
    )
    # (started, done toward the HIT's assignments, done on top through lab links: progress.EXTRA)
    page.assignments = {
        hit_id: (n, int(toward or 0), int(done or 0) - int(toward or 0)) for hit_id, n, toward, done in rows
    }
    return page


def _link_page(batch: Batch):
    links = LabLink.select().where(LabLink.batch == batch).order_by(LabLink.created_at.desc(), LabLink.id.desc())
    return paginate(links, number=requested_page("links_page"), per_page=20)  # shares its page with the HIT list


def lab_url(link: LabLink) -> str:
    """The worker-facing lab link (served by the annotation page's /lab/<token>)."""
    return f"{current_app.config['PUBLIC_URL']}/lab/{link.token}"


@bp.get("/<int:batch_id>")
def show(batch_id):
    """The Overview tab: what the batch asks for, its jobs, its progress."""
    batch = owned_or_404(Batch, batch_id)
    return render_tab(
        "overview",
        "batches/show.html",
        batch,
        recent_jobs=jobs.recent(current_org().id, jobs.batch_scope(batch.id)),
        fee_step=FEE_STEP_ASSIGNMENTS,
        version_meanings=VERSION_MEANINGS,
    )


@bp.get("/<int:batch_id>/status")
def status(batch_id):
    """The live status line above the tabs: the batch page's one periodic request, which carries what else the page
    hears. It sends the latest announcement number the page has heard (``announced``, web/job_events): the answer
    sends the events of what jobs nobody on the page started announced since (their panels reload) and the new
    number. The Exports tab sends the export list it shows (``exports_seen``, services/exports/files.listed), the
    newest jobs it knows of that can put its files out of date (``export_jobs_seen``, files.jobs_seen) and the
    out-of-date marks it shows (``export_marks``, files.marks): when the batch's differ (an export started or deleted
    elsewhere, a label fit or MTurk decisions started on another page, what a file is made from changed otherwise: a
    page submitted, a control corrected, pointer batches flushed), the answer says ``export-list-changed``, and the
    list reloads and shows the new row, follows the new job or shows the new marks. The Overview sends
    ``progress_shown``: the answer carries its progress panel out of band, from the same read. A line drawn while the
    HITs were built sends ``building``: once they no longer are (the build ended, or its job is gone and the batch was
    settled failed, services/batches/builder.settle, whichever request saw it first), the answer sends what a build
    job's end sends (job-finished, hits-changed), so the Overview shows the failure and "Build the HITs again", the
    job list drops a lost job's card, and the HITs list stops polling."""
    batch = owned_or_404(Batch, batch_id)
    # The announcements first, the figures after: a job announces once it has written, so the line drawn below shows
    # what it announced, and the line need not reload on the job-finished it sends (batches/_status.html).
    announced, events = job_events.announcements(batch.organization_id, jobs.batch_scope(batch.id), job_events.heard())
    figures = batch_progress(batch)  # settles a build whose job is gone
    if request.args.get("building") and figures.state != "building":
        events.update(job_events.build_ended(batch.build_job_id))
    body = render_template("batches/_status.html", batch=batch, progress=figures, announced=announced)
    if request.args.get("progress_shown"):
        body += render_template("review/_progress.html", batch=batch, progress=figures, oob=True)
    seen, jobs_seen = request.args.get("exports_seen"), request.args.get("export_jobs_seen")
    marks = request.args.get("export_marks")
    if (
        (seen is not None and seen != export_files.listed(batch))
        or (jobs_seen is not None and jobs_seen != export_files.jobs_seen(batch))
        or (marks is not None and marks != export_files.marks(batch))
    ):
        events["export-list-changed"] = {}
    return make_response(body, trigger=events or None)


@bp.get("/<int:batch_id>/hits")
def hits(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return render_tab("hits", "batches/hits.html", batch, partial="batches/_hits.html", hits=_hit_page(batch))


@bp.post("/<int:batch_id>/build")
def build(batch_id):
    batch = batch_service.settle(owned_or_404(Batch, batch_id))  # a build whose job is gone can be built again
    if batch.state not in ("draft", "failed") or batch.hits.exists():
        flash("Only a batch whose build failed (and has no HITs) can be built again.", "error")
    else:
        issues = batch_service.problems(
            batch.dataset, batch.class_ids, batch.positives_per_page, batch.negatives_per_page
        )
        if issues:
            flash(" ".join(issues), "error")
        else:
            batch_service.start_build(batch, batch.class_ids)  # its job's card says so, and how it ends: no flash
    return redirect(url_for("batches.show", batch_id=batch.id))


# --- lab links ------------------------------------------------------------


@bp.get("/<int:batch_id>/hits/<int:hit_id>/preview")
def preview(batch_id, hit_id):
    """The HIT as a worker sees it, with the seed's debug counters; nothing is recorded."""
    batch = owned_or_404(Batch, batch_id)
    hit = owned_or_404(Hit, hit_id)
    if hit.batch_id != batch.id:
        abort(404)
    version = request.args.get("version", "")
    versions = batch.versions or list(VERSIONS)
    return requester_preview(
        hit.id,
        whole_number(request.args.get("pageno"), 1, low=1, high=10_000),
        version if version in versions else versions[0],
        batch_id=batch.id,
        versions=versions,
    )


@bp.get("/<int:batch_id>/links")
def links(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return render_tab(
        "links",
        "batches/links.html",
        batch,
        partial="batches/_links.html",
        links=_link_page(batch),
        link_form=LabLinkForm(),
        lab_url=lab_url,
        on_mturk=MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.state == "created").exists(),
    )


@bp.post("/<int:batch_id>/links")
def create_link(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = LabLinkForm()
    if not form.validate_on_submit():
        return render_template("batches/_link_error.html", errors=form.label.errors or ["Check the label."]), 422
    link = LabLink.create(organization=batch.organization_id, batch=batch, label=(form.label.data or "").strip())
    if not partials.wanted():
        flash("Lab link created: copy it below.", "success")
        return redirect(url_for("batches.links", batch_id=batch.id))
    return render_template("batches/_link_row.html", link=link, lab_url=lab_url, new=True)


@bp.post("/links/<int:link_id>/revoke")
def revoke_link(link_id):
    link = owned_or_404(LabLink, link_id)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        link.save()
    if not partials.wanted():
        flash("Lab link revoked: it no longer opens HITs.", "success")
        return redirect(url_for("batches.links", batch_id=link.batch_id))
    return render_template("batches/_link_row.html", link=link, lab_url=lab_url)
