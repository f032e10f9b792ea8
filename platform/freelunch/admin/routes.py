from flask import render_template
from peewee import JOIN, fn

from ..models import Membership, Organization, User
from . import bp


@bp.get("/")
def index():
    organizations = (
        Organization.select(Organization, fn.COUNT(Membership.id).alias("member_count"))
        .join(Membership, on=(Membership.organization == Organization.id), join_type=JOIN.LEFT_OUTER)
        .group_by(Organization.id)
        .order_by(Organization.name)
    )
    users = User.select().order_by(User.email)
    return render_template("admin/index.html", organizations=organizations, users=users)
