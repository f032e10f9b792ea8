"""``make bench-quality``: label quality per paid page, fixed-10 majority vote against Dawid–Skene in rounds.

Runs every strategy on the same simulated world (bench/quality_world.py,
docs/performance.md), prints one table row per strategy, then times a refit of
144,000 images × 10 votes read from a database (SQLite; ``--database`` for
PostgreSQL) in a fresh subprocess, so its peak memory is its own. The last
line holds the figures the issue names, one each.

``--crowd weak``: instead, the weak crowd (bench/quality_world.py) at a fixed
7 votes an image, on several seeds: selection frequency against Dawid–Skene
with and without a model's scores, and against Dawid–Skene with each worker's
own rates (fixed Beta(2, 1) pseudo-counts, the model before the pooled rates).

``--crowd one-class``: 144 simulations of one class voted on by weak workers
(30-3,000 workers, 1,000-3,000 images, 5 or 7 votes, share of yes 0.3-0.5,
seeds 1-2; ``--workers`` keeps one number of workers): Dawid–Skene against
selection frequency at 0.5, the class's fitted share against its true one, and
Dawid–Skene's rates with the true share in place of the fitted one.
``--class-prior A`` (an experiment): Beta(A, A) pseudo-counts on each class's
share instead of aggregation.CLASS_PRIOR's.

Timings are wall-clock on a shared machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from quality_world import (  # noqa: E402
    CLASSES,
    ONE_CLASS_GRID,
    PAGE_CANDIDATES,
    WEAK_RATES,
    World,
    first_pages,
    make_world,
    model_scores,
    one_class_votes,
    random_scores,
)

from freelunch.services.review import aggregation, rounds  # noqa: E402

FIXED_VOTES = 10
TARGETS = {
    "ds_accuracy_at_10": 0.985,
    "rounds95_votes": 4.0,
    "rounds95_precision": 0.95,
    "rounds99_votes": 5.5,
    "rounds99_precision": 0.99,
    "rounds99_pages_ratio": 0.70,
    "fit_s_144k": 10.0,
    "fit_mb_144k": 300.0,
    "prior99_votes": 3.0,
    "prior99_precision": 0.99,
    "useless_prior99_precision": 0.99,
    "inverted_prior99_precision": 0.99,
}
MODEL_AUC = 0.95


@dataclass
class Outcome:
    name: str
    decision: np.ndarray  # per candidate: yes / no / open
    votes_per_image: float
    paid_pages: int
    rounds: int = 1

    def scores(self, truth: np.ndarray) -> dict:
        yes = self.decision == "yes"
        no = self.decision == "no"
        decided = yes | no
        return {
            "precision": float((yes & truth).sum() / max(yes.sum(), 1)),
            "recall": float((yes & truth).sum() / max(truth.sum(), 1)),
            "accuracy": float(((yes & truth) | (no & ~truth)).sum() / len(truth)),
            "open": float((~decided).mean()),
        }


def votes_of(world: World) -> aggregation.Votes:
    item, worker, selected = world.arrays()
    return aggregation.Votes(item, worker, selected, world.item_class, world.gold, len(world.activity))


def candidate_votes(world: World) -> float:
    item, _, _ = world.arrays()
    return float((item < world.n_candidates).sum() / world.n_candidates)


def fixed(seed: int, votes: int, classes: int = CLASSES, crowd: str = "standard", workers: int | None = None) -> World:
    world = make_world(seed, classes, crowd, workers)
    for c in range(world.item_class.max() + 1):
        for items in first_pages(world, c):
            world.show(c, items, votes, fill=PAGE_CANDIDATES - len(items))
    return world


def fixed_outcomes(world: World) -> list[Outcome]:
    v = votes_of(world)
    n = world.n_candidates
    mv = aggregation.fit(v, "mv")
    ds = aggregation.fit(v, "ds")
    per_image = candidate_votes(world)
    return [
        Outcome(
            "fixed-10 MV 0.5",
            aggregation.decide_frequency(mv.n_selected, mv.n_votes, 0.5)[:n],
            per_image,
            world.paid_pages,
        ),
        Outcome(
            "fixed-10 MV 0.7",
            aggregation.decide_frequency(mv.n_selected, mv.n_votes, 0.7)[:n],
            per_image,
            world.paid_pages,
        ),
        Outcome("fixed-10 DS 0.5", aggregation.decide(ds.p_yes, 0.5)[:n], per_image, world.paid_pages),
    ]


def ask_again(world: World, more: np.ndarray) -> bool:
    """Show the pages of the next round (``more`` votes per item); False when nothing is open."""
    planned = rounds.plan(world.item_class, more, PAGE_CANDIDATES)
    for page in planned.pages:
        world.show(page.item_class, np.array(page.items), page.assignments, fill=page.fill)
    return bool(planned.pages)


def in_rounds(
    seed: int,
    target: float,
    first: int = rounds.DEFAULT_FIRST_ROUND,
    cap: int = FIXED_VOTES,
    step: int | None = None,
    scores: np.ndarray | None = None,
    lean_first: bool = False,
    name: str = "rounds DS",
    classes: int = CLASSES,
) -> Outcome:
    """Round 1: every candidate ``first`` votes; then refit, re-pool the open ones by class, until none is open.

    With a model's ``scores`` every fit takes its prior from them, and with ``lean_first`` round 1 asks fewer
    votes of the images the model (calibrated on the controls) is sure about: the code that
    ``freelunch labels first-round`` and ``next-round --scores`` run. ``step`` None: the rounds' default (one
    vote a round where the model is trusted, else two)."""
    world = make_world(seed, classes)
    if scores is not None and lean_first:
        asked, _ = rounds.first_round(scores, world.item_class, world.gold, target, first)
        ask_again(world, asked)
    else:
        for c in range(world.item_class.max() + 1):
            for items in first_pages(world, c):
                world.show(c, items, first, fill=PAGE_CANDIDATES - len(items))
    n_rounds = 1
    while True:
        v = votes_of(world)
        fitted = aggregation.fit(v, "ds", scores=scores)
        if not ask_again(world, rounds.next_round(fitted, world.gold, target, cap, step)):
            break
        n_rounds += 1
    n = world.n_candidates
    return Outcome(
        f"{name} {target}",
        aggregation.decide(fitted.p_yes, target)[:n],
        candidate_votes(world),
        world.paid_pages,
        n_rounds,
    )


def deng(seed: int, target: float, cap: int = FIXED_VOTES, min_cell: int = 5, classes: int = CLASSES) -> Outcome:
    """Deng et al.'s calibration: per class, its first page gets ``cap`` votes; its majority labels give a
    table P(yes | k of m) from the first m votes; the other images are asked one vote per round until the
    table reaches the target (a cell needs ``min_cell`` calibration images to be trusted)."""
    world = make_world(seed, classes)
    n_classes = world.item_class.max() + 1
    tables = np.full((n_classes, cap + 1, cap + 1), np.nan)
    calibration = np.zeros(world.n_items, bool)
    rest = []
    for c in range(n_classes):
        pages = first_pages(world, c)
        world.show(c, pages[0], cap, fill=PAGE_CANDIDATES - len(pages[0]))
        calibration[pages[0]] = True
        rest += pages[1:]
    item, worker, selected = world.arrays()
    order = np.argsort(item, kind="stable")
    item, selected = item[order], selected[order]
    for c in range(n_classes):
        members = np.flatnonzero(calibration & (world.item_class == c))
        answers = np.array([selected[item == i] for i in members])  # cap votes each, in the order cast
        label = answers.mean(axis=1) > 0.5
        for m in range(1, cap + 1):
            k = answers[:, :m].sum(axis=1)
            for j in range(m + 1):
                cell = k == j
                if cell.sum() >= min_cell:
                    tables[c, m, j] = label[cell].mean()
    for items in rest:
        c = int(world.item_class[items[0]])
        world.show(c, items, 1, fill=PAGE_CANDIDATES - len(items))
    n_rounds = 2  # the calibration pages, then the first vote on the rest
    while True:
        item, _, selected = world.arrays()
        m = np.bincount(item, minlength=world.n_items)
        k = np.bincount(item, weights=selected, minlength=world.n_items).astype(int)
        p = tables[world.item_class, np.minimum(m, cap), np.minimum(k, cap)]
        p = np.where(calibration, (k > m / 2).astype(float), p)
        decided = aggregation.decide(np.nan_to_num(p, nan=0.5), target) != "open"
        if not ask_again(world, np.where(~decided & (m < cap) & (world.gold < 0) & ~calibration, 1, 0)):
            break
        n_rounds += 1
    n = world.n_candidates
    decision = aggregation.decide(np.nan_to_num(p, nan=0.5), target)[:n]
    return Outcome(f"Deng table {target}", decision, candidate_votes(world), world.paid_pages, n_rounds)


# --- the weak crowd ---------------------------------------------------------------

WEAK_VOTES = 7
WEAK_SEEDS = (1, 2, 3, 4, 5)


def weak_outcomes(world: World) -> list[Outcome]:
    """Fixed-k selection frequency and Dawid–Skene (pooled rates, own rates, with scores) on one world's votes."""
    v = votes_of(world)
    n = world.n_candidates
    per_image = candidate_votes(world)
    k = round(per_image)
    mv = aggregation.fit(v, "mv")
    good, _ = model_scores(world, MODEL_AUC)
    fits = {
        "DS": aggregation.fit(v, "ds"),
        "DS own rates": aggregation.fit(v, "ds", rate_prior=aggregation.RATE_PRIOR),
        "DS + scores": aggregation.fit(v, "ds", scores=good),
        "DS + useless scores": aggregation.fit(v, "ds", scores=random_scores(world)),
    }
    out = [
        Outcome(
            f"fixed-{k} MV {t}",
            aggregation.decide_frequency(mv.n_selected, mv.n_votes, t)[:n],
            per_image,
            world.paid_pages,
        )
        for t in (0.5, 0.7)
    ]
    out += [
        Outcome(f"fixed-{k} {name} 0.5", aggregation.decide(f.p_yes, 0.5)[:n], per_image, world.paid_pages)
        for name, f in fits.items()
    ]
    return out


def weak_main(seeds: list[int], classes: int, workers: int | None) -> None:
    """One table per seed, then DS against selection frequency at 0.5 (accuracy), seed by seed."""
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    gaps: dict[str, list[float]] = {}
    for seed in seeds:
        world = fixed(seed, WEAK_VOTES, classes, "weak", workers)
        truth = world.truth[: world.n_candidates]
        active = np.bincount(world.arrays()[1], minlength=len(world.activity)) > 0
        print(
            f"seed {seed}: {world.n_candidates:,} candidates, {classes} classes, {active.sum():,} of "
            f"{len(world.activity):,} workers voted, rates uniform {WEAK_RATES[0]}-{WEAK_RATES[1]}"
        )
        print(f"  {'strategy':<32} {'precision':>9} {'recall':>7} {'accuracy':>8}")
        rows = {}
        for o in weak_outcomes(world):
            rows[o.name] = s = o.scores(truth)
            print(f"  {o.name:<32} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['accuracy']:>8.4f}")
        majority = next(s for name, s in rows.items() if name.endswith("MV 0.5"))
        for name, s in rows.items():
            if " DS" in name:
                gaps.setdefault(name.split(" ", 1)[1], []).append(s["accuracy"] - majority["accuracy"])
    print(f"accuracy minus selection frequency's at 0.5, seeds {', '.join(map(str, seeds))}:")
    for name, values in gaps.items():
        print(f"  {name:<25} " + " ".join(f"{g:+.4f}" for g in values) + f"  (worst {min(values):+.4f})")
    print(f"simulation took {time.perf_counter() - started:.1f} s")
    figures = {
        "weak_ds_minus_mv_worst": min(gaps["DS 0.5"]),
        "weak_own_rates_minus_mv_worst": min(gaps["DS own rates 0.5"]),
        "weak_scores_minus_mv_worst": min(gaps["DS + scores 0.5"]),
        "weak_useless_minus_mv_worst": min(gaps["DS + useless scores 0.5"]),
    }
    print(" ".join(f"{k}={v:.4f}" for k, v in figures.items()))


# --- one class, weak workers ------------------------------------------------------


def one_class_main(workers: int | None) -> None:
    """The one-class grid (quality_world.ONE_CLASS_GRID): per run DS minus MV in accuracy at 0.5 (candidates
    only), the fitted and the true share, and DS minus MV with the fitted rates and the true share."""
    print(f"load average at start: {os.getloadavg()[0]:.2f}; class prior Beta{aggregation.CLASS_PRIOR}")
    started = time.perf_counter()
    grid = [g for g in itertools.product(*ONE_CLASS_GRID) if workers is None or g[0] == workers]
    if not grid:
        raise SystemExit(f"--workers: one of {', '.join(map(str, ONE_CLASS_GRID[0]))} for --crowd one-class")
    rows = []
    for w, images, k, share, seed in grid:
        item, worker, selected, gold, truth = one_class_votes(w, images, k, share, seed)
        v = aggregation.Votes(item, worker, selected, np.zeros(images, np.int64), gold, w)
        unknown = gold == aggregation.UNKNOWN
        ds = aggregation.fit(v, "ds")
        mv = aggregation.fit(v, "mv")
        true_share = float(truth[unknown].mean())
        with_true = aggregation.posterior(v, ds.sensitivity, ds.specificity, np.array([true_share]), ~unknown)
        mv_accuracy = ((mv.p_yes > 0.5) == truth)[unknown].mean()
        rows.append(
            (
                (w, images, k, share, seed),
                true_share,
                float(ds.class_prior[0]),
                float(((ds.p_yes >= 0.5) == truth)[unknown].mean() - mv_accuracy),
                float(((with_true >= 0.5) == truth)[unknown].mean() - mv_accuracy),
            )
        )
    gaps = np.array([r[3] for r in rows])
    true_gaps = np.array([r[4] for r in rows])
    share_errors = np.array([abs(r[2] - r[1]) for r in rows])
    print(f"{len(rows)} runs; DS minus MV in accuracy at 0.5, the runs more than 0.01 under MV:")
    print(f"  {'workers, images, votes, share, seed':<36} {'true':>5} {'fitted':>6} {'DS-MV':>7} {'true share':>10}")
    for key, true_share, fitted, gap, true_gap in sorted(rows, key=lambda r: r[3]):
        if gap < -0.01:
            print(f"  {str(key):<36} {true_share:>5.3f} {fitted:>6.3f} {gap:>+7.4f} {true_gap:>+10.4f}")
    print(f"simulation took {time.perf_counter() - started:.1f} s")
    figures = {
        "one_class_runs": len(rows),
        "one_class_under_mv": int((gaps < -0.01).sum()),
        "one_class_mean": float(gaps.mean()),
        "one_class_worst": float(gaps.min()),
        "one_class_true_share_under_mv": int((true_gaps < -0.01).sum()),
        "one_class_share_error_mean": float(share_errors.mean()),
        "one_class_share_error_max": float(share_errors.max()),
    }
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


# --- the 144k refit from a database ------------------------------------------------


def fit_child(database_url: str, batch_id: int) -> None:
    """In a fresh process: read the batch's votes from the database and fit; print seconds and peak MB."""
    import resource

    from freelunch import create_app
    from freelunch.models import Batch
    from freelunch.services.review import fits

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "WORKER_ID_KEY": "bench",
            "INSTANCE_PATH": tempfile.mkdtemp(),
        }
    )
    with app.app_context():
        batch = Batch.get_by_id(batch_id)
        cpu = time.process_time()
        start = time.perf_counter()
        loaded = fits.load_votes([batch.id])
        read_s = time.perf_counter() - start
        fitted = aggregation.fit(loaded.votes, "ds")
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": total,
                "cpu_seconds": cpu,
                "read_seconds": read_s,
                "mb": peak_mb,
                "items": loaded.votes.n_items,
                "votes": len(loaded.votes.item),
                "iterations": fitted.iterations,
            }
        )
    )


def time_fit(database_url: str | None, images: int, votes: int) -> dict:
    import seed_votes

    # One folder for the SQLite file and both apps' instance folders (the child's mkdtemp goes under its TMPDIR),
    # removed at the end.
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        url = database_url or f"sqlite:///{tmp}/bench-quality.db"
        start = time.perf_counter()
        batch_id = seed_votes.seed(url, images, votes, instance=tmp)
        seeded = time.perf_counter() - start
        out = subprocess.run(
            [sys.executable, __file__, "--fit-child", url, str(batch_id)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": tmp},
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["seed_seconds"] = seeded
    result["database"] = url.split(":")[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--database", help="PostgreSQL URL for the 144k refit (default: a fresh SQLite file)")
    parser.add_argument("--fit-images", type=int, default=144_000)
    parser.add_argument(
        "--classes", type=int, default=CLASSES, help="the simulated world's classes (fewer: a quick run, not figures)"
    )
    parser.add_argument(
        "--crowd",
        choices=("standard", "weak", "one-class"),
        default="standard",
        help="weak: the weak crowd's report instead; one-class: one class of weak workers, 144 runs",
    )
    parser.add_argument(
        "--seeds",
        default=",".join(map(str, WEAK_SEEDS)),
        help="the weak crowd's seeds, comma-separated (default %(default)s)",
    )
    parser.add_argument("--workers", type=int, help="the weak crowd's workers (default 3,000; one-class: all)")
    parser.add_argument(
        "--class-prior", type=float, help="an experiment: Beta(A, A) pseudo-counts on each class's share of yes"
    )
    parser.add_argument("--fit-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit_child:
        fit_child(args.fit_child[0], int(args.fit_child[1]))
        return
    if args.class_prior is not None:
        if not args.class_prior > 0:
            parser.error(f"--class-prior: a positive number of pseudo-counts, not {args.class_prior}")
        aggregation.CLASS_PRIOR = (args.class_prior, args.class_prior)
    if args.crowd == "one-class":
        one_class_main(args.workers)
        return
    if args.crowd == "weak":
        try:
            seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
        except ValueError:
            parser.error(f"--seeds: comma-separated integers, not {args.seeds!r}")
        weak_main(seeds or list(WEAK_SEEDS), args.classes, args.workers)
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared; timings are noisy)")
    started = time.perf_counter()
    world = fixed(args.seed, FIXED_VOTES, args.classes)
    truth = world.truth[: world.n_candidates]
    fixed_pages = world.paid_pages
    outcomes = fixed_outcomes(world)
    outcomes += [
        in_rounds(args.seed, 0.95, classes=args.classes),
        in_rounds(args.seed, 0.99, classes=args.classes),
        deng(args.seed, 0.99, classes=args.classes),
    ]
    # the scored worlds: the same world's votes, a model's scores beside them
    good, model_auc = model_scores(world, MODEL_AUC)
    useless = random_scores(world)
    for name, scores in (("prior", good), ("useless prior", useless), ("inverted prior", -good)):
        for target in (0.95, 0.99) if name == "prior" else (0.99,):
            outcomes.append(
                in_rounds(args.seed, target, scores=scores, lean_first=True, name=f"{name} DS", classes=args.classes)
            )
    outcomes.append(
        in_rounds(
            args.seed, 0.99, scores=good, step=rounds.DEFAULT_STEP, name="prior k0=2,step=2", classes=args.classes
        )
    )
    print(
        f"world: {world.n_candidates:,} candidates, {args.classes} classes, 600 workers; "
        f"fixed-10 = {fixed_pages:,} paid pages"
    )
    print(f"model scores: AUC {model_auc:.3f} (prior), 0.5 (useless prior), {1 - model_auc:.3f} (inverted prior)")
    print(
        f"{'strategy':<26} {'votes/img':>9} {'pages':>7} {'ratio':>6} {'rounds':>6} {'precision':>9} "
        f"{'recall':>7} {'accuracy':>8} {'open':>6}"
    )
    scores = {}
    for o in outcomes:
        s = o.scores(truth)
        scores[o.name] = (o, s)
        print(
            f"{o.name:<26} {o.votes_per_image:>9.2f} {o.paid_pages:>7,} {o.paid_pages / fixed_pages:>6.3f} "
            f"{o.rounds:>6} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['accuracy']:>8.4f} {s['open']:>6.3f}"
        )
    print(f"simulation took {time.perf_counter() - started:.1f} s")
    fit = time_fit(args.database, args.fit_images, FIXED_VOTES)
    print(
        f"refit of {fit['items']:,} items x {fit['votes'] / fit['items']:.1f} votes from {fit['database']}: "
        f"{fit['seconds']:.2f} s ({fit['read_seconds']:.2f} s reading; {fit['cpu_seconds']:.2f} s of this process's "
        f"CPU, the database's own work aside), peak {fit['mb']:.0f} MB, "
        f"{fit['iterations']} EM iterations; load average {os.getloadavg()[0]:.2f}"
    )
    mv07, ds10 = scores["fixed-10 MV 0.7"], scores["fixed-10 DS 0.5"]
    r95, r99 = scores["rounds DS 0.95"], scores["rounds DS 0.99"]
    p95, p99 = scores["prior DS 0.95"], scores["prior DS 0.99"]
    useless99, inverted99 = scores["useless prior DS 0.99"], scores["inverted prior DS 0.99"]
    figures = {
        "mv07_precision": mv07[1]["precision"],
        "mv07_recall": mv07[1]["recall"],
        "ds_accuracy_at_10": ds10[1]["accuracy"],
        "rounds95_votes": r95[0].votes_per_image,
        "rounds95_precision": r95[1]["precision"],
        "rounds99_votes": r99[0].votes_per_image,
        "rounds99_precision": r99[1]["precision"],
        "rounds99_recall": r99[1]["recall"],
        "rounds99_pages_ratio": r99[0].paid_pages / fixed_pages,
        "fit_s_144k": fit["seconds"],
        "fit_mb_144k": fit["mb"],
        "prior95_votes": p95[0].votes_per_image,
        "prior99_votes": p99[0].votes_per_image,
        "prior99_precision": p99[1]["precision"],
        "prior99_recall": p99[1]["recall"],
        "useless_prior99_votes": useless99[0].votes_per_image,
        "useless_prior99_precision": useless99[1]["precision"],
        "inverted_prior99_precision": inverted99[1]["precision"],
    }
    lower_is_better = {
        "rounds95_votes",
        "rounds99_votes",
        "rounds99_pages_ratio",
        "fit_s_144k",
        "fit_mb_144k",
        "prior99_votes",
    }
    for name, target in TARGETS.items():
        ok = figures[name] <= target if name in lower_is_better else figures[name] >= target
        print(
            f"  {name}: {figures[name]:.4f} (target {'<=' if name in lower_is_better else '>='} {target}) "
            f"{'ok' if ok else 'MISSED'}"
        )
    recall_ok = figures["rounds99_recall"] >= figures["mv07_recall"]
    print(f"  rounds99_recall >= mv07_recall: {'ok' if recall_ok else 'MISSED'}")
    prior_recall_ok = figures["prior99_recall"] >= figures["mv07_recall"]
    print(f"  prior99_recall >= mv07_recall: {'ok' if prior_recall_ok else 'MISSED'}")
    useless_ratio = figures["useless_prior99_votes"] / figures["rounds99_votes"]
    print(f"  useless_prior99_votes / rounds99_votes: {useless_ratio:.4f} (within 5 %: ", end="")
    print("ok)" if abs(useless_ratio - 1) <= 0.05 else "MISSED)")
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
