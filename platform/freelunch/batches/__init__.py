from flask import Blueprint

from ..tenancy import protect
from ..web.batch_tabs import TABS

bp = Blueprint("batches", __name__, url_prefix="/batches")
protect(bp)
bp.add_app_template_global(TABS, "batch_tabs")  # the review pages draw the batch's tabs too

from . import routes  # noqa: E402,F401
