"""What every dashboard page needs to draw its navigation."""

from flask import Flask
from flask_login import current_user

from ..models import Membership, Organization
from ..tenancy import can_write, current_membership


def register(app: Flask) -> None:
    @app.context_processor
    def _navigation():
        if not current_user.is_authenticated:
            return {}
        organizations = (
            Organization.select(Organization, Membership.role)
            .join(Membership)
            .where(Membership.user == current_user.id)
            .order_by(Organization.name)
        )
        return {
            "membership": current_membership(),
            "organizations": organizations,
            "can_write": can_write(),
        }
