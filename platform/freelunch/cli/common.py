"""What the commands share: finding the batch or organization they name, and showing a long action's progress."""

from __future__ import annotations

import click

from ..models import Batch, Dataset, Organization
from ..parsing import ID_MAX, whole_number


def batch_or_fail(batch_id: int) -> Batch:
    """The batch, or a one-line error (exit code 1) when there is none."""
    # An id past what a column holds is no row's: the database would refuse the query itself (OverflowError).
    batch = Batch.get_or_none(Batch.id == batch_id) if 0 < batch_id <= ID_MAX else None
    if batch is None:
        raise click.ClickException(f"There is no batch {batch_id}.")
    return batch


def dataset_or_fail(dataset_id: int) -> Dataset:
    """The dataset, or a one-line error (exit code 1) when there is none."""
    dataset = Dataset.get_or_none(Dataset.id == dataset_id) if 0 < dataset_id <= ID_MAX else None
    if dataset is None:
        raise click.ClickException(f"There is no dataset {dataset_id}.")
    return dataset


def echo_progress(fraction: float, message: str = "") -> None:
    """A job's progress callback for the foreground: one line on stderr per step."""
    click.echo(f"  {fraction:4.0%}  {message}", err=True)


def organization_or_fail(ref: str) -> Organization:
    """An organization by id or exact name (organizations have no slug)."""
    number = whole_number(ref)
    found = Organization.get_or_none(Organization.id == number) if number is not None else None
    found = found or Organization.get_or_none(Organization.name == ref)
    if found is None:
        raise click.ClickException(f"There is no organization {ref!r} (give its id or its exact name).")
    return found
