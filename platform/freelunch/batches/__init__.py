from flask import Blueprint

from ..services.jobs import batch_scope
from ..tenancy import protect
from ..web.batch_tabs import TABS

bp = Blueprint("batches", __name__, url_prefix="/batches")
protect(bp)
bp.add_app_template_global(TABS, "batch_tabs")  # the review pages draw the batch's tabs too
bp.add_app_template_global(batch_scope)  # the scope the batch's pages list its jobs under

from . import routes  # noqa: E402,F401
