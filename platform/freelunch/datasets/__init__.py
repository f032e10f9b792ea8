from flask import Blueprint

from ..services.jobs import dataset_scope
from ..tenancy import protect

bp = Blueprint("datasets", __name__, url_prefix="/datasets")
protect(bp)
bp.add_app_template_global(dataset_scope)  # the scope the dataset's page lists its jobs under

from . import routes  # noqa: E402,F401
