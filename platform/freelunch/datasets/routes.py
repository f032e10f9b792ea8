import uuid
from pathlib import Path

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from peewee import fn
from werkzeug.datastructures import FileStorage

from .. import storage
from ..models import (
    CANDIDATE_ROLES,
    Batch,
    Candidate,
    ClassRoleCount,
    Dataset,
    DatasetImageCount,
    Image,
    ImageClass,
    ModelScore,
)
from ..presets import PRESETS
from ..queues import redis_connection
from ..services import jobs
from ..services.batches import builder
from ..services.datasets import deletion as dataset_service
from ..services.duplicates import groups as duplicate_groups
from ..services.imports import quota
from ..services.imports.classes import ImportFailure, split_names
from ..services.imports.images import check_zip
from ..services.review import progress
from ..tenancy import current_org, owned_or_404
from ..web import partials, sorting
from ..web.pagination import paginate
from ..web.query_urls import url_with_query
from . import bp
from .forms import (
    ClassForm,
    ClassImportForm,
    DatasetForm,
    DeleteDatasetForm,
    ImageImportForm,
    PresetImportForm,
    ScoreImportForm,
)

CLASS_UPLOAD_MAX = 20 * 1024 * 1024
SCORE_UPLOAD_MAX = 200 * 1024 * 1024  # 1.28 M images x a few classes of scores
IMAGE_UPLOAD_MAX = 2 * 1024 * 1024 * 1024
IMAGES_PER_PAGE = 48
DUPLICATE_GROUPS_SHOWN = 50  # the first groups; deciding them and searching again brings the rest


def _name_taken(name: str, dataset_id: int | None = None) -> bool:
    query = Dataset.owned(current_org()).where(Dataset.name == name.strip())
    if dataset_id:
        query = query.where(Dataset.id != dataset_id)
    return query.exists()


# --- datasets -------------------------------------------------------------


def _index(form: DatasetForm, status: int = 200):
    datasets = Dataset.owned(current_org()).order_by(Dataset.name)
    page = paginate(datasets)
    counts = dict(
        ImageClass.select(ImageClass.dataset, fn.COUNT(ImageClass.id))
        .where(ImageClass.dataset.in_([d.id for d in page.items]))
        .group_by(ImageClass.dataset)
        .tuples()
    )
    images = DatasetImageCount.of([d.id for d in page.items])
    # A refused create answers with the whole page (the form shows its errors), htmx or not.
    partial = "datasets/_list.html" if request.method == "GET" else "datasets/index.html"
    return partials.render(
        "datasets/index.html", partial, status, page=page, form=form, class_counts=counts, image_counts=images
    )


@bp.get("/")
def index():
    return _index(DatasetForm())


@bp.post("/")
def create():
    form = DatasetForm()
    if form.validate_on_submit() and _name_taken(form.name.data):
        form.name.errors.append("You already have a dataset with this name.")
    elif form.validate_on_submit():
        dataset = Dataset.create(
            organization=current_org(), name=form.name.data.strip(), description=(form.description.data or "").strip()
        )
        flash(f"Dataset {dataset.name} created. Import its classes, then its images.", "success")
        return redirect(url_for("datasets.show", dataset_id=dataset.id))
    return _index(form, 422)


def _show(dataset: Dataset, status: int = 200, **forms):
    batches = dataset.batches.order_by(Batch.created_at.desc())
    shown = [builder.settle(batch) for batch in batches.limit(10)]  # a build whose job is gone shows failed
    return render_template(
        "datasets/show.html",
        dataset=dataset,
        class_count=dataset.classes.count(),
        image_count=DatasetImageCount.of([dataset.id])[dataset.id],
        batches=shown,
        phases=progress.phases(shown),  # the phase a requester reads, as on the batch list
        batch_count=batches.count(),
        edit_form=forms.get("edit_form") or DatasetForm(obj=dataset),
        class_form=forms.get("class_form") or ClassImportForm(),
        preset_form=forms.get("preset_form") or PresetImportForm(),
        image_form=forms.get("image_form") or ImageImportForm(),
        score_form=forms.get("score_form") or ScoreImportForm(),
        score_count=ModelScore.select().where(ModelScore.dataset == dataset).count(),
        recent_jobs=jobs.recent(current_org().id, jobs.dataset_scope(dataset.id)),
        presets=PRESETS,
        classes=_class_page(dataset),
        duplicates=duplicate_groups.listing(dataset, DUPLICATE_GROUPS_SHOWN),
        duplicate_counts=duplicate_groups.counts(dataset),
        reference_choices=list(duplicate_groups.references(dataset)),
    ), status


@bp.get("/<int:dataset_id>")
def show(dataset_id):
    return _show(owned_or_404(Dataset, dataset_id))


@bp.post("/<int:dataset_id>")
def update(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    form = DatasetForm()
    if form.validate_on_submit() and _name_taken(form.name.data, dataset.id):
        form.name.errors.append("You already have a dataset with this name.")
    elif form.validate_on_submit():
        dataset.name, dataset.description = form.name.data.strip(), (form.description.data or "").strip()
        dataset.save()
        flash("Dataset saved.", "success")
        return redirect(url_for("datasets.show", dataset_id=dataset.id))
    return _show(dataset, 422, edit_form=form)


@bp.get("/<int:dataset_id>/delete")
def confirm_delete(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    return _delete_page(dataset, dataset_service.impact(dataset), DeleteDatasetForm())


def _delete_page(dataset: Dataset, impact: dataset_service.Impact, form: DeleteDatasetForm):
    """What deleting the dataset takes with it; each batch named by its phase, as the batch list does."""
    phases = progress.phases([b.batch for b in impact.batches])
    return render_template("datasets/delete.html", dataset=dataset, impact=impact, form=form, phases=phases)


@bp.post("/<int:dataset_id>/delete")
def delete(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    impact = dataset_service.impact(dataset)
    form = DeleteDatasetForm()
    if (
        form.validate_on_submit()
        and impact.needs_typed_confirmation
        and (form.confirm_name.data or "").strip() != dataset.name
    ):
        form.confirm_name.errors.append(f"Type {dataset.name} exactly to delete it and its batches.")
    elif form.validate_on_submit():
        dataset_service.delete_dataset(dataset)
        flash(
            f"Dataset {dataset.name} deleted" + (f", with {len(impact.batches)} batches." if impact.batches else "."),
            "success",
        )
        return redirect(url_for("datasets.index"))
    return _delete_page(dataset, impact, form), 422


# --- classes --------------------------------------------------------------


def _class_page(dataset: Dataset):
    query = ImageClass.select().where(ImageClass.dataset == dataset).order_by(ImageClass.key)
    search = request.args.get("q", "").strip()
    if search:
        query = query.where(
            ImageClass.key.contains(search)
            | ImageClass.description.contains(search)
            | ImageClass.names.cast("text").contains(search)
        )
    page = paginate(query)
    counts: dict[int, dict[str, int]] = {c.id: {} for c in page.items}
    for class_id, role, n in _role_counts(list(counts)):
        counts[class_id][role] = n
    page.counts = counts
    page.search = search
    return page


@bp.get("/<int:dataset_id>/classes")
def classes(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    page_url = url_with_query("datasets.show", {"dataset_id": dataset.id})
    if not partials.wanted():
        return redirect(page_url)
    response = make_response(render_template("datasets/_classes.html", dataset=dataset, classes=_class_page(dataset)))
    if "q" in request.args:
        response.headers["HX-Push-Url"] = page_url  # a search is a URL: bookmarks, Back and reloads keep it
    return response


def _role_counts(class_ids: list[int]):
    """(class id, role, candidacies) from the counts the database keeps (ClassRoleCount), not from the candidates:
    a page of 50 ImageNet classes read 65,000 of them."""
    return (
        ClassRoleCount.select(ClassRoleCount.image_class, ClassRoleCount.role, ClassRoleCount.n)
        .where(ClassRoleCount.image_class.in_(class_ids), ClassRoleCount.n > 0)
        .tuples()
    )


def _class_counts(image_class: ImageClass) -> dict[str, int]:
    return {role: n for _, role, n in _role_counts([image_class.id])}


@bp.get("/classes/<int:class_id>")
def class_row(class_id):
    image_class = owned_or_404(ImageClass, class_id)
    if not partials.wanted():
        return redirect(url_for("datasets.images", dataset_id=image_class.dataset_id, **{"class": image_class.key}))
    return render_template("datasets/_class_row.html", c=image_class, counts=_class_counts(image_class))


@bp.get("/classes/<int:class_id>/edit")
def edit_class(class_id):
    image_class = owned_or_404(ImageClass, class_id)
    form = ClassForm(names=", ".join(image_class.names), description=image_class.description)
    return render_template("datasets/_class_edit.html", c=image_class, form=form)


@bp.post("/classes/<int:class_id>")
def save_class(class_id):
    image_class = owned_or_404(ImageClass, class_id)
    form = ClassForm()
    if not form.validate_on_submit():
        return render_template("datasets/_class_edit.html", c=image_class, form=form), 422
    image_class.names = split_names(form.names.data)
    image_class.description = (form.description.data or "").strip()
    image_class.save()
    if not partials.wanted():
        flash(f"Class {image_class.key} saved.", "success")
        return redirect(url_for("datasets.show", dataset_id=image_class.dataset_id))
    return render_template("datasets/_class_row.html", c=image_class, counts=_class_counts(image_class))


# --- images ---------------------------------------------------------------


IMAGE_SORTS = {"key": Image.key, "width": Image.width, "height": Image.height, "size": Image.stored_bytes}
IMAGE_SORT_LABELS = {
    "key": "key",
    "-key": "key, descending",
    "-width": "widest first",
    "width": "narrowest first",
    "-height": "tallest first",
    "height": "shortest first",
    "-size": "largest file first",
    "size": "smallest file first",
}  # a grid has no column headers: its sort is a choice in the form


@bp.get("/<int:dataset_id>/images")
def images(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    sort = sorting.requested(IMAGE_SORTS, "key")
    query = Image.select().where(Image.dataset == dataset)
    class_key, role = request.args.get("class", "").strip(), request.args.get("role", "")
    if role and role not in CANDIDATE_ROLES:
        abort(400, f"role must be one of {', '.join(CANDIDATE_ROLES)}.")
    image_class = None
    if class_key:
        image_class = ImageClass.get_or_none(ImageClass.dataset == dataset, ImageClass.key == class_key)
        if image_class is None:
            abort(404, f"This dataset has no class {class_key}.")
    # How many images match, from the counts the database keeps where they say it (counting 1.3 M images cost more
    # than reading the page); an image may be a candidate of several classes, so a role alone is counted.
    if not image_class and not role:
        total: int | None = DatasetImageCount.of([dataset.id])[dataset.id]
    elif image_class:  # an image is a candidate of a class once, in one role
        total = sum(n for _, r, n in _role_counts([image_class.id]) if not role or r == role)
    else:
        total = None
    if image_class or role:
        candidacy = Candidate.select(Candidate.image).where(Candidate.organization == dataset.organization_id)
        if image_class:
            candidacy = candidacy.where(Candidate.image_class == image_class)
        if role:
            candidacy = candidacy.where(Candidate.role == role)
        query = query.where(Image.id.in_(candidacy))
    # A key is unique in its dataset: it needs no tie-breaker, and without one the (dataset, key) index serves the
    # order; the other sorts have their (dataset, column, id) index, read either way when id goes the column's way.
    tie_breakers = () if sort.key == "key" else (Image.id.desc() if sort.descending else Image.id,)
    page = paginate(
        sorting.apply(query, sort, IMAGE_SORTS, *tie_breakers),
        per_page=IMAGES_PER_PAGE,
        total=total,
        backwards=sorting.apply(query, sort, IMAGE_SORTS, *tie_breakers, backwards=True),
    )
    roles: dict[int, list[tuple[str, str]]] = {i.id: [] for i in page.items}
    for image_id, key, r in (
        Candidate.select(Candidate.image, ImageClass.key, Candidate.role)
        .join(ImageClass)
        .where(Candidate.image.in_(list(roles)))
        .order_by(ImageClass.key)
        .tuples()
    ):
        roles[image_id].append((key, r))
    return partials.render(
        "datasets/images.html",
        "datasets/_images.html",
        dataset=dataset,
        page=page,
        roles=roles,
        image_class=image_class,
        role=role,
        sort=sort,
        sorts=IMAGE_SORT_LABELS,
    )


@bp.get("/images/<int:image_id>/thumbnail")
def thumbnail(image_id):
    image = owned_or_404(Image, image_id)
    if not image.storage_path:
        return redirect(image.url)
    if storage.has_thumbnail(image.storage_path):
        return redirect(storage.url_for_path(storage.thumbnail_path(image.storage_path)))
    # Made before imports made thumbnails: a job makes it, the browser shows the original meanwhile.
    if redis_connection().set(f"freelunch:thumbnail:{image.id}", 1, nx=True, ex=600):
        jobs.enqueue_unwatched(jobs.MAKE_THUMBNAIL, image.id, connection=redis_connection())
    return redirect(storage.url_for_path(image.storage_path))


# --- imports --------------------------------------------------------------


def _save_upload(upload: FileStorage) -> Path:
    """Keep an upload under instance/uploads/ until its import job reads (and deletes) it."""
    folder = Path(current_app.config["INSTANCE_PATH"]) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{Path(upload.filename or '').suffix.lower()[:10]}"
    upload.save(path)
    return path


def _head(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read(64)


def _start(dataset: Dataset, task: jobs.Task, *args, title: str, what: str, **kwargs):
    """Queue one of the dataset's jobs (listed on its page) and answer with its card, or back to the page."""
    organization_id = current_org().id
    job = jobs.enqueue(
        task,
        dataset.id,
        organization_id,
        *args,
        organization_id=organization_id,
        scope=jobs.dataset_scope(dataset.id),
        title=title,
        **kwargs,
    )
    if partials.wanted():
        return render_template("jobs/_progress.html", job=jobs.status(job.id, organization_id))
    flash(f"{what} started; its progress shows below.", "success")
    return redirect(url_for("datasets.show", dataset_id=dataset.id))


def _too_large(limit: int) -> bool:
    request.max_content_length = limit + 1024 * 1024  # the form's other fields fit in the extra megabyte
    return (request.content_length or 0) > request.max_content_length


@bp.post("/<int:dataset_id>/imports/classes")
def import_classes(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    if _too_large(CLASS_UPLOAD_MAX):
        abort(413, f"Class files can be at most {CLASS_UPLOAD_MAX // (1024 * 1024)} MB.")
    form = ClassImportForm()
    if not form.validate_on_submit():
        return _import_error(dataset, class_form=form)
    upload = _save_upload(form.classes.data)
    if _head(upload).startswith(b"PK\x03\x04"):
        upload.unlink(missing_ok=True)
        form.classes.errors.append(
            "This looks like a ZIP archive. A ZIP of images goes in the Images import below; "
            "classes come as a class_info.json or a CSV."
        )
        return _import_error(dataset, class_form=form)
    kind = "json" if _head(upload).lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"[", b"{")) else "csv"
    wikipedia = str(_save_upload(form.wikipedia.data)) if form.wikipedia.data else None
    return _start(
        dataset,
        jobs.IMPORT_CLASSES,
        kind,
        str(upload),
        wikipedia,
        title=f"Import classes from {form.classes.data.filename}",
        what="The class import",
    )


@bp.post("/<int:dataset_id>/imports/preset")
def import_preset(dataset_id):
    """A built-in class list into the dataset, as a job like an upload's (nothing is uploaded)."""
    dataset = owned_or_404(Dataset, dataset_id)
    form = PresetImportForm()
    if not form.validate_on_submit():
        return _import_error(dataset, preset_form=form)
    preset = PRESETS[form.preset.data]
    return _start(
        dataset,
        jobs.IMPORT_PRESET,
        preset.name,
        title=f"Import the {preset.title}",
        what=f"The import of the {preset.title}",
    )


@bp.post("/<int:dataset_id>/imports/images")
def import_images(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    if _too_large(IMAGE_UPLOAD_MAX):
        abort(413, f"Image uploads can be at most {IMAGE_UPLOAD_MAX // (1024**3)} GB; split the archive.")
    form = ImageImportForm()
    if not form.validate_on_submit():
        return _import_error(dataset, image_form=form)
    upload = _save_upload(form.images.data)
    kind = "manifest"
    if upload.suffix == ".zip" or _head(upload).startswith(b"PK\x03\x04"):
        kind = "zip"
        try:
            check_zip(upload, quota.Room(current_org().id))  # refuse a broken, unsafe or too big archive now
        except ImportFailure as failure:
            upload.unlink(missing_ok=True)
            form.images.errors.append(str(failure))
            return _import_error(dataset, image_form=form)
    return _start(
        dataset,
        jobs.IMPORT_IMAGES,
        kind,
        str(upload),
        form.create_classes.data,
        title=f"Import images from {form.images.data.filename}",
        what="The image import",
    )


@bp.post("/<int:dataset_id>/imports/scores")
def import_scores(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    if _too_large(SCORE_UPLOAD_MAX):
        abort(413, f"Score files can be at most {SCORE_UPLOAD_MAX // (1024 * 1024)} MB.")
    form = ScoreImportForm()
    if not form.validate_on_submit():
        return _import_error(dataset, score_form=form)
    upload = _save_upload(form.scores.data)
    return _start(
        dataset,
        jobs.IMPORT_SCORES,
        str(upload),
        title=f"Import model scores from {form.scores.data.filename}",
        what="The score import",
    )


@bp.post("/<int:dataset_id>/scores/delete")
def delete_scores(dataset_id):
    """Forget the dataset's model scores: later fits use none (those already made keep what they stored)."""
    dataset = owned_or_404(Dataset, dataset_id)  # the CSRF token is checked app-wide (extensions.csrf)
    deleted = ModelScore.delete().where(ModelScore.dataset == dataset).execute()
    flash(f"{deleted:,} model scores deleted; later label fits use none.", "success")
    return redirect(url_for("datasets.show", dataset_id=dataset.id))


@bp.post("/<int:dataset_id>/duplicates/find")
def find_duplicates(dataset_id):
    """Search the dataset's images for near-duplicates, in a job; the duplicates panel reloads when it ends."""
    dataset = owned_or_404(Dataset, dataset_id)  # the CSRF token is checked app-wide (extensions.csrf)
    reference_id = request.form.get("reference_id", type=int)
    if reference_id is not None:  # a reference set: another dataset of the organization's, or 404
        if reference_id == dataset.id:
            abort(404)
        owned_or_404(Dataset, reference_id)
    return _start(
        dataset,
        jobs.FIND_DUPLICATES,
        hash_missing=request.form.get("hash_missing") == "y",
        reference_id=reference_id,
        title="Find near-duplicate images",
        what="The search for near-duplicates",
    )


@bp.post("/<int:dataset_id>/duplicates/<int:group>")
def decide_duplicates(dataset_id, group):
    """Keep one image of a group (drop the rest), drop all, or keep all; a group or image of another dataset: 404."""
    dataset = owned_or_404(Dataset, dataset_id)
    keep = request.form.get("keep", type=int)
    if not duplicate_groups.decide(dataset, group, request.form.get("decision", ""), keep):
        abort(404)
    flash("Decision saved: dropped images are left out of the HITs built from now on.", "success")
    return redirect(url_for("datasets.show", dataset_id=dataset.id, _anchor="duplicates"))


def _import_error(dataset: Dataset, **forms):
    if partials.wanted():
        form = forms.get("class_form") or forms.get("image_form") or forms.get("preset_form") or forms.get("score_form")
        errors = [e for field in form for e in field.errors]
        return render_template("datasets/_import_error.html", errors=errors), 422
    return _show(dataset, 422, **forms)
