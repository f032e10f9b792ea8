from wtforms import SelectChoice, SelectField

from ..models import ROLES
from ..web.forms import Form


class RoleForm(Form):
    role = SelectField(
        "Role",
        choices=[SelectChoice(r, r.capitalize()) for r in ROLES],
        default="requester",
        invalid_choice_message=f"Choose a role from the list: {', '.join(r.capitalize() for r in ROLES)}.",
    )
