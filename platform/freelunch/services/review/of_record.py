"""A batch's labels of record: the one set of labels Results shows and every export that carries labels uses.

The requester chooses it explicitly (``Batch.labels_of_record``): a selection
frequency rule (services/review/labels.py) or the batch's latest label fit
(services/review/fits.py, Dawid–Skene or frequency). Until they choose, it is
the default rule, and Results says so. An export records the labels it used in
``Export.params`` (``params``) and writes them from there (``from_params``), so
the file says which labels it holds even if the choice changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...models import Batch, Candidate, Image, ImageClass, ImageLabel, LabelFit
from ..errors import RequesterError
from . import fits, labels

MODEL_NAMES = {"ds": "Dawid–Skene", "mv": "selection frequency"}


class RecordError(RequesterError):
    """The labels asked for are not there (any more); the message says what to do."""


@dataclass(frozen=True)
class Record:
    source: str  # "rule" or "fit"
    rule: labels.Rule | None = None
    fit: LabelFit | None = None
    chosen: bool = True  # False: the default rule, nobody chose yet

    def rule_used(self) -> labels.Rule:
        """The rule of a record without a fit (a record has one or the other)."""
        assert self.rule is not None, "a record of labels has a rule or a fit"
        return self.rule

    def describe(self) -> str:
        """In a requester's words, as Results, the Exports tab and the files say it."""
        if self.fit is not None:
            fit = self.fit
            at = f"target precision {fit.target_precision:g}" if fit.model == "ds" else f"threshold {fit.threshold:g}"
            rounds = f" of {len(fit.batch_ids)} rounds" if len(fit.batch_ids) > 1 else ""
            finished = fit.finished_at.strftime("%Y-%m-%d %H:%M") if fit.finished_at else "not finished"
            # Named by its model, settings and time (a row id would mean nothing to a requester).
            return f"{MODEL_NAMES[fit.model]} label fit at {at}{rounds} (fitted {finished} UTC)"
        rule = self.rule_used()
        bar = f", control accuracy bar {rule.min_accuracy:g}" if rule.min_accuracy else ""
        return (
            f"selection frequency rule: threshold {rule.threshold:g}, at least {rule.min_annotations} "
            f"annotation{'' if rule.min_annotations == 1 else 's'}{bar}"
        )

    def params(self) -> dict:
        """What an export records (``Export.params``): which labels, exactly, and how its row names them."""
        if self.fit is not None:
            return {"labels_of_record": "fit", "fit": self.fit.id, "labels": self.describe()}
        return {"labels_of_record": "rule", **self.rule_used().as_dict(), "labels": self.describe()}


def of(batch: Batch) -> Record:
    """The batch's labels of record now."""
    chosen = batch.labels_of_record or {}
    if chosen.get("source") == "fit":
        fit = fits.latest(batch)
        if fit is not None:
            return Record("fit", fit=fit)
    if chosen.get("source") == "rule":
        return Record("rule", rule=labels.Rule(*(chosen[k] for k in ("threshold", "min_annotations", "min_accuracy"))))
    return Record("rule", rule=labels.default_rule(batch), chosen=False)


def choose_rule(batch: Batch, rule: labels.Rule) -> None:
    batch.labels_of_record = {"source": "rule", **rule.as_dict()}
    batch.save(only=[Batch.labels_of_record])


def choose_fit(batch: Batch) -> None:
    """The latest fit (and each one after it) becomes the labels of record; refused without a finished fit."""
    if fits.latest(batch) is None:
        raise RecordError("Fit a label model first: there is no finished fit to make the labels of record.")
    batch.labels_of_record = {"source": "fit"}
    batch.save(only=[Batch.labels_of_record])


def from_params(batch: Batch, params: dict) -> Record:
    """The labels an export recorded (``Record.params``); the batch's labels of record for old exports."""
    if params.get("labels_of_record") == "fit":
        fit = LabelFit.get_or_none(LabelFit.id == params.get("fit"), LabelFit.batch == batch, LabelFit.state == "done")
        if fit is None:
            raise RecordError("The label fit this export was asked for has been replaced by a newer one: export again.")
        return Record("fit", fit=fit)
    if params.get("labels_of_record") == "rule" or "threshold" in params:
        return Record("rule", rule=labels.Rule(params["threshold"], params["min_annotations"], params["min_accuracy"]))
    return of(batch)


@dataclass
class Label:
    """One image and class under the labels of record."""

    image_class: ImageClass
    image: Image
    role: str
    votes: int
    selected: int
    decision: str  # yes, no, or open (a rule's "undecided")
    p_yes: float | None = None  # a fit's posterior (its frequency for a selection frequency fit)

    @property
    def frequency(self) -> float:
        return self.selected / self.votes if self.votes else 0.0


def rows(batch: Batch, record: Record) -> Iterator[Label]:
    """Every label of record, in class and image order, one class at a time."""
    if record.fit is None:
        for row in labels.stream(batch, record.rule_used()):
            decision = "open" if row.decision == "undecided" else row.decision
            yield Label(row.image_class, row.image, row.role, row.seen, row.selected, decision)
        return
    class_ids = (
        ImageLabel.select(ImageLabel.image_class)
        .distinct()
        .where(ImageLabel.fit == record.fit.id)
        .order_by(ImageLabel.image_class)
    )
    for (class_id,) in class_ids.tuples():
        image_class = ImageClass.get_by_id(class_id)
        found = list(
            ImageLabel.select(ImageLabel, Image)
            .join(Image)
            .where(ImageLabel.fit == record.fit.id, ImageLabel.image_class == class_id)
            .order_by(ImageLabel.image)
        )
        roles = dict(
            Candidate.select(Candidate.image, Candidate.role)
            .where(Candidate.image_class == class_id, Candidate.image.in_([f.image_id for f in found]))
            .tuples()
        )
        for f in found:
            role = roles.get(f.image_id, "candidate")
            yield Label(image_class, f.image, role, f.votes, f.selected, f.decision, f.p_yes)


def count(batch: Batch, record: Record) -> int:
    if record.fit is not None:
        return record.fit.images
    return labels.count(batch, record.rule_used())


def decisions(batch: Batch, record: Record, wait: bool = True) -> dict[str, int]:
    """How many labels of record are yes, no and open. Unless ``wait``, a rule's counts with many votes left out are
    left to a job, as on Results: raises labels.Counting."""
    if record.fit is not None:
        return {"yes": record.fit.yes, "no": record.fit.no, "open": record.fit.open}
    found = labels.summary(batch, record.rule_used(), wait=wait).decisions
    return {"yes": found["yes"], "no": found["no"], "open": found["undecided"]}


def yes_set(batch: Batch, record: Record) -> labels.YesImages:
    """(class id, image id) of every image the labels of record call yes."""
    if record.fit is not None:
        return labels.YesImages(
            ImageLabel.select(ImageLabel.image_class, ImageLabel.image)
            .where(ImageLabel.fit == record.fit.id, ImageLabel.decision == "yes")
            .order_by(ImageLabel.image_class, ImageLabel.image)
            .tuples()
            .iterator()
        )
    return labels.yes_keys(batch, record.rule_used())
