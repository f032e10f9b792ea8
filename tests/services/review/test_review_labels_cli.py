"""``freelunch labels aggregate`` and ``next-round``: vote files in, labels and asks out."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from freelunch.cli.labels import labels

GOOD = (0.9, 0.88)


def run(*args):
    return CliRunner().invoke(labels, [str(a) for a in args])


def read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def simulated_files(tmp_path: Path, n_images=400, votes=5, seed=3):
    """votes.csv and gold.csv of two classes voted on by good workers and two always-yes clickers;
    every tenth image is a control. Returns the paths and the truth per (image, class)."""
    rng = np.random.default_rng(seed)
    workers = [f"good{i}" for i in range(12)] + ["yes1", "yes2"]
    truth, vote_rows, gold_rows = {}, [], []
    for n in range(n_images):
        key = (f"img{n:04d}.jpg", f"n0{n % 2}")
        truth[key] = bool(rng.random() < 0.4)
        if n % 10 == 0:
            gold_rows.append((*key, int(truth[key])))
        for w in rng.choice(len(workers), votes, replace=False):
            name = workers[w]
            if name.startswith("yes"):
                selected = True
            else:
                right = rng.random() < (GOOD[0] if truth[key] else GOOD[1])
                selected = truth[key] if right else not truth[key]
            vote_rows.append((*key, name, int(selected)))
    votes_path, gold_path = tmp_path / "votes.csv", tmp_path / "gold.csv"
    with votes_path.open("w", newline="") as f:
        csv.writer(f).writerows([("image", "class", "worker", "selected"), *vote_rows])
    with gold_path.open("w", newline="") as f:
        csv.writer(f).writerows([("image", "class", "label"), *gold_rows])
    return votes_path, gold_path, truth


def test_aggregate_labels_every_image_with_dawid_skene(tmp_path):
    votes, gold, truth = simulated_files(tmp_path)
    out = tmp_path / "labels.csv"
    result = run("aggregate", "--votes", votes, "--gold", gold, "--target-precision", "0.95", "-o", out)
    assert result.exit_code == 0, result.output
    rows = read(out)
    assert list(rows[0]) == ["image", "class", "n_votes", "p_yes", "decision"]
    assert len(rows) == len(truth) and {r["decision"] for r in rows} <= {"yes", "no", "open"}
    assert all(r["n_votes"] == "5" for r in rows)
    yes = [r for r in rows if r["decision"] == "yes"]
    decided = [r for r in rows if r["decision"] != "open"]
    assert len(decided) > 0.8 * len(rows)
    precision = sum(truth[(r["image"], r["class"])] for r in yes) / len(yes)
    assert precision >= 0.95
    accuracy = sum(truth[(r["image"], r["class"])] == (r["decision"] == "yes") for r in decided) / len(decided)
    assert accuracy > 0.96
    controls = {(r["image"], r["class"]): r for r in rows if int(r["image"][3:7]) % 10 == 0}
    assert all(
        r["decision"] == ("yes" if truth[k] else "no") and float(r["p_yes"]) == truth[k] for k, r in controls.items()
    )
    assert "labels" in result.output and "(ds)" in result.output


def test_aggregate_writes_each_workers_rates_and_flags_the_clickers(tmp_path):
    """--workers: what the fit thinks of each worker (the dashboard's Workers figures), so a caller can see
    who was down-weighted; the two always-yes clickers are flagged, the good workers not."""
    votes, gold, _ = simulated_files(tmp_path)
    out, workers = tmp_path / "labels.csv", tmp_path / "workers.csv"
    result = run("aggregate", "--votes", votes, "--gold", gold, "-o", out, "--workers", workers)
    assert result.exit_code == 0, result.output
    rows = read(workers)
    assert list(rows[0]) == ["worker", "votes", "control_votes", "sensitivity", "specificity", "flag"]
    flag = {r["worker"]: r["flag"] for r in rows}
    assert flag == {**{f"good{i}": "" for i in range(12)}, "yes1": "always-yes", "yes2": "always-yes"}
    by_name = {r["worker"]: r for r in rows}
    assert float(by_name["yes1"]["specificity"]) < 0.1 < 0.8 < float(by_name["good0"]["specificity"])
    assert sum(int(r["votes"]) for r in rows) == sum(1 for _ in read(votes))


def test_selection_frequency_is_the_other_model(tmp_path):
    votes = tmp_path / "votes.csv"
    votes.write_text(
        "image,class,worker,selected\n"
        + "".join(f"a,c,w{i},{int(i < 7)}\n" for i in range(10))
        + "".join(f"b,c,w{i},{int(i < 6)}\n" for i in range(10))
    )
    out = tmp_path / "labels.csv"
    assert run("aggregate", "--votes", votes, "--model", "mv", "-o", out).exit_code == 0
    assert [(r["image"], r["n_votes"], r["p_yes"], r["decision"]) for r in read(out)] == [
        ("a", "10", "0.700000", "yes"),
        ("b", "10", "0.600000", "no"),
    ]
    assert run("aggregate", "--votes", votes, "--model", "mv", "--threshold", "0.6", "-o", out).exit_code == 0
    assert [r["decision"] for r in read(out)] == ["yes", "yes"]


def test_form_is_read_liberally(tmp_path):
    """A byte order mark, CRLF, spaces around cells and headers, another column order, extra columns and
    blank lines: the same votes."""
    plain, odd = tmp_path / "plain.csv", tmp_path / "odd.csv"
    plain.write_text("image,class,worker,selected\na,c,w1,1\na,c,w2,0\nb,c,w1,0\n")
    odd.write_bytes(
        "\ufeff Worker , SELECTED,note, Image ,class\r\n w1 ,1,x, a ,c\r\n\r\nw2, 0,,a,c\r\nw1,0,y,b, c\r\n".encode(
            "utf-8"
        )
    )
    for name in (plain, odd):
        assert run("aggregate", "--votes", name, "-o", tmp_path / f"{name.stem}.out").exit_code == 0
    assert (tmp_path / "plain.out").read_text() == (tmp_path / "odd.out").read_text()


@pytest.mark.parametrize(
    "content, message",
    [
        ("image,class,selected\na,c,1\n", "votes.csv, line 1: the header has no column worker"),
        (
            "image,class,worker,selected\na,c,w1,1\na,c,w2,yes\n",
            "votes.csv, line 3: selected is 'yes'; it must be 0 or 1.",
        ),
        ("image,class,worker,selected\na,c,w1,1\n\nb,c,,0\n", "votes.csv, line 4: worker is empty."),
        ("image,class,worker,selected\na,c,w1\n", "votes.csv, line 2: has 3 cells; the header has 4."),
        ("image,class,worker,selected\n", "votes.csv: has a header but no votes."),
        ("", "votes.csv: is empty"),
        ("image,class,worker,selected,worker\na,c,w,1,w\n", "votes.csv, line 1: the header names worker twice."),
    ],
)
def test_a_malformed_vote_file_names_its_line_and_writes_nothing(tmp_path, content, message):
    votes, out = tmp_path / "votes.csv", tmp_path / "labels.csv"
    votes.write_text(content)
    out.write_text("an earlier result\n")
    for command in (["aggregate"], ["next-round", "--target-precision", "0.99"]):
        result = run(*command, "--votes", votes, "-o", out)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
        assert out.read_text() == "an earlier result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "votes.csv"]  # no temporary left


def test_repeated_votes_count_each_on_a_control_and_the_last_on_a_candidate(tmp_path):
    votes, gold, out = tmp_path / "votes.csv", tmp_path / "gold.csv", tmp_path / "labels.csv"
    votes.write_text(
        "image,class,worker,selected\n"
        "cand,c,w1,1\n"  # line 2: w1 changes their mind on a candidate (lines 2, 5): line 5 counts
        "cand,c,w2,0\n"
        "ctrl,c,w1,1\n"  # a control seen three times by w1: every answer counts
        "cand,c,w1,0\n"
        "ctrl,c,w1,1\n"
        "ctrl,c,w1,0\n"
    )
    gold.write_text("image,class,label\nctrl,c,1\n")
    for command in (["aggregate", "--model", "mv"], ["next-round", "--target-precision", "0.99"]):
        result = run(*command, "--votes", votes, "--gold", gold, "-o", out)
        assert result.exit_code == 0, result.output
        assert (
            "votes.csv, lines 2, 5: worker 'w1' voted 2 times on image 'cand' for class 'c'; "
            "the last vote (line 5) counts." in result.output
        )
        assert "votes.csv: 2 repeated votes on controls, each counted" in result.output
    run("aggregate", "--model", "mv", "--votes", votes, "--gold", gold, "-o", out)
    assert [(r["image"], r["n_votes"], r["p_yes"]) for r in read(out)] == [
        ("cand", "2", "0.000000"),  # w1's last (0) and w2's (0)
        ("ctrl", "3", "1.000000"),  # a control carries its known label, with all three votes
    ]


def test_many_repeated_votes_are_named_up_to_a_limit(tmp_path):
    votes, out = tmp_path / "votes.csv", tmp_path / "labels.csv"
    votes.write_text("image,class,worker,selected\n" + "".join(f"i{n},c,w,1\ni{n},c,w,0\n" for n in range(25)))
    result = run("aggregate", "--votes", votes, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output.count("counts.") == 21  # 20 named, then one line for the other 5
    assert "votes.csv: 5 more times a worker voted more than once on a candidate" in result.output
    assert all(r["n_votes"] == "1" for r in read(out))


def test_a_malformed_gold_file_or_unreadable_bytes_are_refused(tmp_path):
    votes, gold, out = tmp_path / "votes.csv", tmp_path / "gold.csv", tmp_path / "labels.csv"
    votes.write_text("image,class,worker,selected\na,c,w1,1\n")
    gold.write_text("image,class,label\na,c,1\na,c,0\n")
    result = run("aggregate", "--votes", votes, "--gold", gold, "-o", out)
    assert "gold.csv, line 3: image 'a' for class 'c' has label 1 on line 2." in result.output
    gold.write_text("image,class,label\na,c,2\n")
    assert "gold.csv, line 2: label is '2'" in run("aggregate", "--votes", votes, "--gold", gold, "-o", out).output
    votes.write_bytes(b"image,class,worker,selected\na,c,w1,1\n\xff\xfe,c,w2,1\n")
    assert "votes.csv, line 3: is not UTF-8 text." in run("aggregate", "--votes", votes, "-o", out).output
    assert "cannot be read" in run("aggregate", "--votes", tmp_path / "missing.csv", "-o", out).output
    assert not out.exists()


def test_next_round_asks_only_the_open_images_under_the_cap(tmp_path):
    votes, gold, truth = simulated_files(tmp_path, votes=2)
    out = tmp_path / "open.csv"
    result = run(
        "next-round", "--votes", votes, "--gold", gold, "--target-precision", "0.99", "--max-votes", "4", "-o", out
    )
    assert result.exit_code == 0, result.output
    asked = {(r["image"], r["class"]): int(r["more_votes"]) for r in read(out)}
    labels_out = tmp_path / "labels.csv"
    run("aggregate", "--votes", votes, "--gold", gold, "--target-precision", "0.99", "-o", labels_out)
    decisions = {(r["image"], r["class"]): r["decision"] for r in read(labels_out)}
    assert asked and set(asked) == {k for k, d in decisions.items() if d == "open"}
    assert set(asked.values()) <= {1, 2}  # at most the step, at least one
    assert not any(int(k[0][3:7]) % 10 == 0 for k in asked)  # controls are never asked
    # with the cap at the votes they have, nothing is asked
    assert (
        run("next-round", "--votes", votes, "--target-precision", "0.99", "--max-votes", "2", "-o", out).exit_code == 0
    )
    assert read(out) == []


def test_the_installed_command_runs_without_a_database(tmp_path):
    votes, gold, _ = simulated_files(tmp_path, n_images=50)
    out = tmp_path / "labels.csv"
    freelunch = Path(sys.executable).with_name("freelunch")
    done = subprocess.run(
        [str(freelunch), "labels", "aggregate", "--votes", str(votes), "--gold", str(gold), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert len(read(out)) == 50
