"""A model's scores as a calibrated prior (services/review/prior.py) in Dawid–Skene and the rounds."""

import csv

import numpy as np
from click.testing import CliRunner

from freelunch.cli.labels import labels
from freelunch.services.review import aggregation, prior, rounds
from freelunch.services.review.aggregation import UNKNOWN


def crowd(seed=5, classes=10, per_class=150, controls=10, votes=3, model_strength=3.0):
    """A small world: ``votes`` votes per candidate from workers right 80-90 % of the time, ``controls``
    positive and negative controls per class seen by every worker, and a model whose score is the truth's
    sign times ``model_strength`` / 2 plus N(0, 1) (AUC about 0.93 at 3). Returns the votes, the truth, the
    scores."""
    rng = np.random.default_rng(seed)
    n_cand = classes * per_class
    item_class = np.r_[np.repeat(np.arange(classes), per_class), np.repeat(np.arange(classes), 2 * controls)]
    truth = np.r_[rng.random(n_cand) < 0.4, np.tile(np.r_[np.ones(controls), np.zeros(controls)], classes)] > 0
    gold = np.r_[np.full(n_cand, UNKNOWN), truth[n_cand:].astype(int)]
    workers = 30
    right = rng.uniform(0.8, 0.9, workers)
    item, worker = [], []
    for i in range(len(item_class)):
        for w in rng.choice(workers, votes, replace=False):
            item.append(i)
            worker.append(w)
    item, worker = np.array(item), np.array(worker)
    correct = rng.random(len(item)) < right[worker]
    selected = np.where(correct, truth[item], ~truth[item])
    v = aggregation.Votes(item, worker, selected, item_class, gold, workers)
    scores = np.where(truth, 0.5, -0.5) * model_strength + rng.standard_normal(len(truth))
    return v, truth, scores


def precision(decisions, truth):
    yes = decisions == "yes"
    return (yes & truth).sum() / max(yes.sum(), 1)


def test_calibration_recovers_a_known_relation_whatever_the_scale():
    rng = np.random.default_rng(1)
    classes, per_class = 8, 400
    item_class = np.repeat(np.arange(classes), per_class)
    intercepts = np.linspace(-1.0, 1.0, classes)
    raw = rng.standard_normal(len(item_class))
    known = np.zeros(len(raw), bool)
    z = prior.standardize(raw, item_class, known)
    truth = rng.random(len(z)) < 1 / (1 + np.exp(-(intercepts[item_class] + 1.5 * z)))
    fitted = None
    for _ in range(20):
        fitted = prior.calibrate(z, truth.astype(float), item_class, classes, ~known, fitted)
    assert fitted.trusted
    assert abs(fitted.pooled_slope - 1.5) < 0.15 and fitted.pooled_se < 0.1
    assert np.all(np.abs(fitted.slope - 1.5) < 0.35)
    assert np.corrcoef(fitted.intercept, intercepts)[0, 1] > 0.9
    # only the order within a class counts: any increasing transform gives the same z
    assert np.allclose(prior.standardize(np.exp(3 * raw) * 100, item_class, known), z)
    # ties share their rank; an unscored item has none
    tied = prior.standardize(np.array([1.0, 1.0, 2.0, np.nan]), np.zeros(4, int), np.zeros(4, bool))
    assert tied[0] == tied[1] < tied[2] and np.isnan(tied[3])


def test_good_scores_decide_more_images_at_the_target_precision():
    v, truth, scores = crowd()
    n = (v.gold == UNKNOWN).sum()
    plain = aggregation.fit(v, "ds")
    scored = aggregation.fit(v, "ds", scores=scores)
    assert scored.calibration.trusted and scored.calibration.lower_bound > 0.5
    d_plain, d_scored = plain.decisions(0.99)[:n], scored.decisions(0.99)[:n]
    assert (d_scored == "open").sum() < 0.6 * (d_plain == "open").sum()
    assert precision(d_scored, truth[:n]) >= 0.98
    assert rounds.next_round(scored, v.gold, 0.99).sum() < 0.7 * rounds.next_round(plain, v.gold, 0.99).sum()


def test_random_scores_leave_the_labels_as_without():
    v, truth, _ = crowd()
    plain = aggregation.fit(v, "ds")
    for seed in range(3):
        noise = np.random.default_rng(seed).standard_normal(v.n_items)
        scored = aggregation.fit(v, "ds", scores=noise)
        assert not scored.calibration.trusted
        assert np.array_equal(scored.decisions(0.99), plain.decisions(0.99))
        assert np.allclose(scored.p_yes, plain.p_yes)


def test_inverted_scores_are_ignored():
    v, truth, scores = crowd()
    plain = aggregation.fit(v, "ds")
    inverted = aggregation.fit(v, "ds", scores=-scores)
    assert not inverted.calibration.trusted and inverted.calibration.pooled_slope < 0
    assert np.array_equal(inverted.decisions(0.99), plain.decisions(0.99))
    # and round 1 asks no fewer votes of anyone on its word
    asked, calibration = rounds.first_round(-scores, v.item_class, v.gold, 0.99)
    assert not calibration.trusted
    assert set(asked[v.gold == UNKNOWN]) == {rounds.DEFAULT_FIRST_ROUND} and not asked[v.gold != UNKNOWN].any()


def test_the_first_round_asks_fewer_votes_only_where_the_model_is_sure():
    v, truth, scores = crowd(model_strength=4.0)
    asked, calibration = rounds.first_round(scores, v.item_class, v.gold, 0.99)
    candidates = v.gold == UNKNOWN
    assert calibration.trusted and 0 < calibration.pooled_slope < 10
    assert 0.2 < (asked[candidates] == 1).mean() < 0.9 and set(asked[candidates]) == {1, 2}
    # the model is right far more often on the images it is sure about
    right = (scores > 0) == truth
    assert right[candidates & (asked == 1)].mean() > 0.97 > right[candidates & (asked == 2)].mean()
    # controls that a model separates perfectly do not make it infinitely sure
    separable = np.where(truth, 100.0, -100.0) + scores
    assert rounds.first_round(separable, v.item_class, v.gold, 0.99)[1].pooled_slope < 100


def write(path, header, rows):
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def vote_files(tmp_path, v, scores, truth):
    name = [f"img{i}" for i in range(v.n_items)]
    write(
        tmp_path / "votes.csv",
        ("image", "class", "worker", "selected"),
        [(name[i], f"c{v.item_class[i]}", f"w{w}", int(s)) for i, w, s in zip(v.item, v.worker, v.selected)],
    )
    write(
        tmp_path / "gold.csv",
        ("image", "class", "label"),
        [(name[i], f"c{v.item_class[i]}", int(g)) for i, g in enumerate(v.gold) if g != UNKNOWN],
    )
    write(
        tmp_path / "scores.csv",
        ("Image", "CLASS", "Score"),
        [(name[i], f"c{v.item_class[i]}", s) for i, s in enumerate(scores)],
    )
    return {(name[i], f"c{v.item_class[i]}"): bool(truth[i]) for i in range(v.n_items)}


def run(*args):
    return CliRunner().invoke(labels, [str(a) for a in args])


def read(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_cli_reads_scores_and_asks_fewer_votes(tmp_path):
    v, truth, scores = crowd(votes=2)
    truth_of = vote_files(tmp_path, v, scores, truth)
    files = ["--votes", tmp_path / "votes.csv", "--gold", tmp_path / "gold.csv"]
    out = tmp_path / "out.csv"
    plain = run("next-round", *files, "--target-precision", "0.99", "-o", out)
    assert plain.exit_code == 0, plain.output
    asked_plain = sum(int(r["more_votes"]) for r in read(out))
    scored = run("next-round", *files, "--scores", tmp_path / "scores.csv", "--target-precision", "0.99", "-o", out)
    assert scored.exit_code == 0, scored.output
    asked_scored = sum(int(r["more_votes"]) for r in read(out))
    assert asked_scored < 0.7 * asked_plain
    assert "Model scores used as each image's prior" in scored.output
    assert f"{asked_plain} more votes." in scored.output.split("Without the scores:")[1]
    # the same fit as aggregate's, and the same as calling the label model directly
    result = run("aggregate", *files, "--scores", tmp_path / "scores.csv", "-o", out)
    assert result.exit_code == 0, result.output
    rows = read(out)
    direct = aggregation.fit(v, "ds", scores=scores)
    assert np.allclose([float(r["p_yes"]) for r in rows], direct.p_yes, atol=1e-6)
    yes = [truth_of[(r["image"], r["class"])] for r in rows if r["decision"] == "yes"]
    assert sum(yes) / len(yes) >= 0.98


def test_the_cli_says_when_it_ignores_scores_and_refuses_bad_ones(tmp_path):
    v, truth, scores = crowd(votes=2)
    vote_files(tmp_path, v, -scores, truth)
    files = ["--votes", tmp_path / "votes.csv", "--gold", tmp_path / "gold.csv", "-o", tmp_path / "out.csv"]
    result = run("aggregate", *files, "--scores", tmp_path / "scores.csv")
    assert result.exit_code == 0 and "Model scores not used" in result.output
    with (tmp_path / "scores.csv").open("a") as f:
        f.write("elsewhere,c0,1.5\n")
    assert (
        "1 rows name images nobody voted on (ignored)"
        in run("aggregate", *files, "--scores", tmp_path / "scores.csv").output
    )
    for bad, message in [
        ("image,class,score\nimg0,c0,high\n", "scores.csv, line 2: score is 'high'; it must be a finite number."),
        ("image,class,score\nimg0,c0,nan\n", "scores.csv, line 2: score is 'nan'"),
        (
            "image,class,score\nimg0,c0,1\nimg0,c0,2\n",
            "scores.csv, line 3: image 'img0' for class 'c0' has score 1 on line 2.",
        ),
        ("image,class\nimg0,c0\n", "scores.csv, line 1: the header has no column score"),
    ]:
        (tmp_path / "scores.csv").write_text(bad)
        result = run("next-round", *files, "--target-precision", "0.99", "--scores", tmp_path / "scores.csv")
        assert result.exit_code == 1 and message in result.output, result.output
    result = run("aggregate", *files, "--model", "mv", "--scores", tmp_path / "scores.csv")
    assert result.exit_code == 1 and "--scores is read by Dawid–Skene" in result.output


def test_the_cli_reads_a_scores_file_the_dashboard_imports(tmp_path):
    """docs/import-formats.md's scores file (its header image_id, class_key or wnid, any case) is the CLI's
    scores.csv too: the same scores, the same labels and first round."""
    v, truth, scores = crowd(votes=2)
    vote_files(tmp_path, v, scores, truth)
    rows = (tmp_path / "scores.csv").read_text().splitlines()[1:]
    files = ["--votes", tmp_path / "votes.csv", "--gold", tmp_path / "gold.csv"]
    run("aggregate", *files, "--scores", tmp_path / "scores.csv", "-o", tmp_path / "plain.csv")
    run(
        "first-round",
        "--scores",
        tmp_path / "scores.csv",
        "--gold",
        tmp_path / "gold.csv",
        "--target-precision",
        "0.99",
        "-o",
        tmp_path / "plain_first.csv",
    )
    for header in ("image_id,class_key,score", "ImageID,wnid,Score"):
        (tmp_path / "dashboard.csv").write_text("\n".join([header, *rows]) + "\n")
        result = run("aggregate", *files, "--scores", tmp_path / "dashboard.csv", "-o", tmp_path / "alias.csv")
        assert result.exit_code == 0 and "Model scores used" in result.output, result.output
        assert (tmp_path / "alias.csv").read_text() == (tmp_path / "plain.csv").read_text()
        result = run(
            "first-round",
            "--scores",
            tmp_path / "dashboard.csv",
            "--gold",
            tmp_path / "gold.csv",
            "--target-precision",
            "0.99",
            "-o",
            tmp_path / "alias_first.csv",
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / "alias_first.csv").read_text() == (tmp_path / "plain_first.csv").read_text()


def test_the_cli_says_plainly_when_the_scores_cannot_be_checked(tmp_path):
    """No scored control for first-round, no scored image to label or scores all equal for a fit: a
    sentence saying so, not a slope of "0.00 ± inf"."""
    v, truth, scores = crowd(votes=2)
    vote_files(tmp_path, v, scores, truth)
    first = ["first-round", "--scores", tmp_path / "scores.csv", "--target-precision", "0.99", "-o", tmp_path / "f.csv"]
    result = run(*first)  # no --gold: no control to check the model on
    assert result.exit_code == 0 and "inf" not in result.output, result.output
    assert "no control in --gold has a score" in result.output and "(0 fewer than 2 each)" in result.output
    files = ["--votes", tmp_path / "votes.csv", "--gold", tmp_path / "gold.csv", "-o", tmp_path / "out.csv"]
    rows = (tmp_path / "scores.csv").read_text().splitlines()
    name = [f"img{i}" for i in range(v.n_items)]
    controls = {name[i] for i in np.flatnonzero(v.gold != UNKNOWN)}
    for content, said in [
        ([r for r in rows[1:] if r.split(",")[0] in controls], "no image to label has a score"),
        ([",".join([*r.split(",")[:2], "0.5"]) for r in rows[1:]], "the scores are all equal"),
    ]:
        (tmp_path / "some.csv").write_text("\n".join([rows[0], *content]) + "\n")
        result = run("aggregate", *files, "--scores", tmp_path / "some.csv")
        assert result.exit_code == 0 and "inf" not in result.output, result.output
        assert f"Model scores not used: {said}" in result.output, result.output
    first[2] = tmp_path / "some.csv"  # the scores all equal
    result = run(*first, "--gold", tmp_path / "gold.csv")
    assert result.exit_code == 0 and "the controls' scores are all equal" in result.output, result.output


def test_the_cli_plans_a_lean_first_round_from_scores_and_controls(tmp_path):
    v, truth, scores = crowd(model_strength=4.0)
    vote_files(tmp_path, v, scores, truth)
    out = tmp_path / "first.csv"
    args = ["--scores", tmp_path / "scores.csv", "--gold", tmp_path / "gold.csv", "--target-precision", "0.99"]
    result = run("first-round", *args, "-o", out)
    assert result.exit_code == 0, result.output
    rows = read(out)
    asked, _ = rounds.first_round(scores, v.item_class, v.gold, 0.99)
    candidates = v.gold == UNKNOWN
    assert len(rows) == candidates.sum()  # controls get no row
    assert [int(r["votes"]) for r in rows] == list(asked[candidates])
    saved = 2 * candidates.sum() - asked.sum()
    assert saved > 0 and f"({saved} fewer than 2 each)" in result.output and "trusted" in result.output
    # a model the controls do not vouch for changes nothing
    vote_files(tmp_path, v, np.random.default_rng(0).standard_normal(v.n_items), truth)
    result = run("first-round", *args, "-o", out)
    assert result.exit_code == 0 and "(0 fewer than 2 each)" in result.output and "not trusted" in result.output
    assert {r["votes"] for r in read(out)} == {"2"}
