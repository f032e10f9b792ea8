from flask import render_template

from ..models import Batch, Dataset, Hit
from ..tenancy import current_org, owned_or_404
from . import bp


@bp.get("/")
def index():
    batches = Batch.owned(current_org()).join(Dataset).switch(Batch).order_by(Batch.created_at.desc())
    return render_template("batches/index.html", batches=batches)


@bp.get("/<int:batch_id>")
def show(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return render_template("batches/show.html", batch=batch, hits=batch.hits.order_by(Hit.id))
