"""The results page: selection frequency and label decision per image and class, under the requester's rule."""

from flask import request

from ..batches.tabs import render_tab
from ..models import Batch, Hit, HitPage, ImageClass
from ..pagination import requested_page
from ..services.review import labels
from ..tenancy import owned_or_404
from . import bp
from .fits import panel_context
from .forms import ExportForm, ResultsForm


@bp.get("/batches/<int:batch_id>/results")
def results(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = ResultsForm(request.args, data=labels.default_rule(batch).as_dict())
    # The class filter picks from the batch's own classes (a <datalist>: type to narrow, or pick).
    class_choices = (
        ImageClass.select(ImageClass.key, ImageClass.names)
        .join(HitPage)
        .join(Hit)
        .where(Hit.batch == batch)
        .distinct()
        .order_by(ImageClass.key)
        .tuples()
    )
    context = dict(batch=batch, form=form, page=None, summary=None, class_choices=list(class_choices))
    valid = form.validate()
    image_class = None
    if valid and form.class_key.data:
        image_class = ImageClass.get_or_none(
            ImageClass.dataset == batch.dataset_id, ImageClass.key == form.class_key.data.strip()
        )
        if image_class is None:
            form.class_key.errors.append(
                f"This batch's dataset has no class with the key {form.class_key.data.strip()!r}."
            )
            valid = False
    if valid:
        rule = form.rule()
        page, summary = labels.page(
            batch,
            rule,
            requested_page(),
            class_id=image_class.id if image_class else None,
            decision=form.decision.data or None,
        )
        context.update(page=page, summary=summary, rule=rule, export_form=ExportForm(data=rule.as_dict()))
    context.update(panel_context(batch))
    return render_tab(
        "results",
        "review/results.html",
        context.pop("batch"),
        partial="review/_results.html",
        status=200 if valid else 422,
        **context,
    )
