"""The batch page's MTurk tab: what it shows (settings, cost, spend, jobs) gathered in one place for every view that
draws it."""

from __future__ import annotations

import hashlib
import json

from flask import Response
from peewee import fn

from ..models import Batch, MTurkAccount, MTurkHit
from ..services import jobs
from ..services.mturk import access, cost, fairpay, lifecycle, publish
from ..services.mturk import settings as batch_settings
from ..web.batch_tabs import render_tab
from .forms import ExtendForm, PublishForm, SettingsForm, SurveyCheckForm


def job_scope(batch: Batch) -> str:
    return f"mturk:{batch.id}"


def settings_form(batch: Batch) -> SettingsForm:
    """The settings form filled from the batch (on GET) or from the request (on POST)."""
    chosen = batch_settings.of(batch)
    return SettingsForm(
        data={
            "environment": "sandbox" if chosen.sandbox else "production",
            "title": batch.title or batch.name,
            "description": batch.description or batch.title or batch.name,
            "keywords": chosen.keywords,
            "reward": batch.reward,
            "assignment_minutes": chosen.assignment_seconds // 60,
            "lifetime_hours": chosen.lifetime_seconds // 3600,
            "auto_approval_hours": chosen.auto_approval_seconds // 3600,
            "min_approval_rate": chosen.min_approval_rate,
            "min_approved_hits": chosen.min_approved_hits,
            "locales": ", ".join(chosen.locales),
            "soft_block": chosen.soft_block,
        }
    )


def shown(batch: Batch) -> str:
    """A fingerprint of everything publishing sends (the saved settings, title, description, reward, assignments):
    the review step carries it, so Publish publishes what the requester reviewed or nothing."""
    sent = {
        "settings": batch_settings.of(batch).as_json(),
        "text": [batch.title or batch.name, batch.description or batch.title or batch.name],
        "reward": str(batch.reward),
        "assignments": batch.assignments_per_hit,
    }
    return hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()[:32]


def published(batch: Batch) -> bool:
    """Whether any MTurk HIT exists for the batch: its HIT type (reward, title, qualifications) is then fixed."""
    return MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.state != "intended").exists()


def render(
    batch: Batch, status: int = 200, reviewing: bool = False, extend_review: dict | None = None, **forms
) -> Response:
    """The MTurk tab; ``reviewing``: with the review step before publishing (what goes to MTurk and its total);
    ``extend_review``: with the confirmation step of an extension (routes.extend)."""
    the_plan = publish.plan(batch, confirm_production=True)  # the confirmation is a box on the form, not a problem
    counts = dict(
        MTurkHit.select(MTurkHit.state, fn.COUNT(MTurkHit.id))
        .where(MTurkHit.batch == batch)
        .group_by(MTurkHit.state)
        .tuples()
    )
    return render_tab(
        "mturk",
        "batches/mturk.html",
        batch,
        status=status,
        check_form=forms.get("check_form") or SurveyCheckForm(),
        fee_step=cost.FEE_STEP_ASSIGNMENTS,
        mturk_plan=the_plan,
        mturk_spend=lifecycle.spend(batch),
        fair_pay=fairpay.estimate(batch),
        effective_pay=fairpay.effective(batch),
        mturk_counts=counts,
        mturk_published=published(batch),
        mturk_account=MTurkAccount.get_or_none(MTurkAccount.organization == batch.organization_id),
        mturk_source=access.source(batch.organization_id),
        mturk_jobs=jobs.recent(batch.organization_id, job_scope(batch)),
        settings_form=forms.get("settings_form") or settings_form(batch),
        publish_form=forms.get("publish_form") or PublishForm(data={"shown": shown(batch)}),
        reviewing=reviewing,
        extend_review=extend_review,
        extend_form=forms.get("extend_form") or ExtendForm(),
    )
