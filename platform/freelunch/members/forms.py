from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from ..models import ROLES


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r, r.capitalize()) for r in ROLES], default="requester")
