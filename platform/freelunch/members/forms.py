from flask_wtf import FlaskForm
from wtforms import SelectField

from ..models import ROLES


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[(r, r.capitalize()) for r in ROLES], default="requester")
