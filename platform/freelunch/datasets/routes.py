from flask import render_template

from ..models import Batch, Dataset, Image, ImageClass
from ..tenancy import current_org, owned_or_404
from . import bp


@bp.get("/")
def index():
    datasets = Dataset.owned(current_org()).order_by(Dataset.name)
    return render_template("datasets/index.html", datasets=datasets)


@bp.get("/<int:dataset_id>")
def show(dataset_id):
    dataset = owned_or_404(Dataset, dataset_id)
    return render_template(
        "datasets/show.html",
        dataset=dataset,
        classes=dataset.classes.order_by(ImageClass.key),
        image_count=dataset.images.count(),
        batches=dataset.batches.order_by(Batch.created_at.desc()),
        Image=Image,
    )
