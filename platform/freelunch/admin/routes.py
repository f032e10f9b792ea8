from flask import render_template
from peewee import JOIN, fn

from ..models import Membership, MTurkAccount, Organization, ServerAccountGrant, User
from ..services.mturk import budget
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
    own_keys = {org_id for (org_id,) in MTurkAccount.select(MTurkAccount.organization).tuples()}
    grants = {g.organization_id: g for g in ServerAccountGrant.select().where(ServerAccountGrant.revoked_at.is_null())}
    return render_template(
        "admin/index.html",
        organizations=organizations,
        users=users,
        own_keys=own_keys,
        grants=grants,
        default_limit=budget.default_limit(),
    )
