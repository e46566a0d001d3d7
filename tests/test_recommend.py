"""`edgecnn recommend`: choice, Pareto front and impossible bounds on hand-made rows (expected values by hand)."""
from __future__ import annotations

import json

import pytest

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.recommend import Bounds, dominates, pareto_front, recommend

PNG = b"\x89PNG\r\n\x1a\n"


def _row(model: str, accuracy: float, latency_ms: float, size_mb: float, fully_int8: bool = False,
         variant: str = "int8") -> dict:
    return {"config": "small", "model": model, "variant": variant, "width": 1.0, "accuracy": accuracy,
            "latency_ms": latency_ms, "size_bytes": int(size_mb * 1e6), "fully_int8": fully_int8,
            "reproduce": [f"edgecnn train {model} -o runs/{model}-bench",
                          f"edgecnn convert runs/{model}-bench --int8 -o {model}_{variant}.tflite"]}


# Hand-built: C is beaten by B on all three; D ties A on accuracy and size but is slower; G equals B exactly
# (neither is strictly better, so both stay); E is the fastest, F the most accurate, H the smallest.
ROWS = [_row("a", 0.90, 2.0, 4.0), _row("b", 0.88, 1.0, 1.0, fully_int8=True), _row("c", 0.85, 1.5, 2.0),
        _row("d", 0.90, 2.5, 4.0), _row("e", 0.70, 0.5, 3.0, fully_int8=True), _row("f", 0.95, 10.0, 50.0),
        _row("g", 0.88, 1.0, 1.0), _row("h", 0.80, 3.0, 0.5, fully_int8=True),
        {**_row("canonical", 0.0, 0.1, 0.1), "config": "canonical", "accuracy": None}]
BY = {r["model"]: r for r in ROWS}


def test_pareto_front_of_a_hand_built_set():
    front = pareto_front([r for r in ROWS if r["accuracy"] is not None])
    assert [r["model"] for r in front] == ["e", "b", "g", "a", "h", "f"]  # fastest first
    assert dominates(BY["b"], BY["c"]) and dominates(BY["a"], BY["d"])
    assert not dominates(BY["b"], BY["g"]) and not dominates(BY["g"], BY["b"])


def test_choice_is_the_most_accurate_row_inside_the_bounds():
    # inside latency ≤ 2 ms, size ≤ 5 MB, accuracy ≥ 85 %: a (90 %), b, c, g (88, 85, 88 %) → a
    rec = recommend(ROWS, Bounds(max_latency_ms=2.0, max_size_mb=5.0, min_accuracy=0.85))
    assert rec.choice is BY["a"] and rec.nearest is None
    # tighter latency: only b and g (88 %, 1 ms, 1 MB) and e (70 %) are left; e misses the accuracy bound
    assert recommend(ROWS, Bounds(max_latency_ms=1.2, min_accuracy=0.85)).choice["model"] == "b"
    # no accuracy bound, 0.6 MB: only h fits
    assert recommend(ROWS, Bounds(max_size_mb=0.6)).choice is BY["h"]
    assert any("without a measured accuracy" in note for note in rec.notes)  # the canonical row is left out


def test_edgetpu_takes_fully_int8_rows_only_and_says_why():
    rec = recommend(ROWS, Bounds(max_latency_ms=2.0, min_accuracy=0.85, target="edgetpu"))
    assert rec.choice is BY["b"]  # a is more accurate but not fully int8
    assert {r["model"] for r in rec.candidates} == {"b", "e", "h"}
    assert any("only fully-int8 rows qualify" in note for note in rec.notes)


def test_impossible_bounds_name_the_nearest_row():
    # relative overshoot of latency ≤ 0.1 ms and accuracy ≥ 99 %: e 4 + 0.29, b/g 9 + 0.11, a 19 + 0.09, … → e
    rec = recommend(ROWS, Bounds(max_latency_ms=0.1, min_accuracy=0.99))
    assert rec.choice is None and rec.nearest is BY["e"]
    assert rec.bounds.misses(BY["e"]) == ["0.5 ms is 5.0× the 0.1 ms bound", "70.0% is 29.0 points below 99.0%"]


def test_bounds_are_checked():
    assert Bounds.accuracy(85) == 0.85 and Bounds.accuracy(0.85) == 0.85
    with pytest.raises(UsageError, match="--max-latency-ms must be positive"):
        Bounds(max_latency_ms=0)
    with pytest.raises(UsageError, match="--min-accuracy"):
        Bounds(min_accuracy=1.5)
    with pytest.raises(EdgecnnError, match="no measured row"):
        recommend([ROWS[-1]], Bounds())


def _write(tmp_path):
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({"schema": 2, "rows": ROWS, "failures": [], "sessions": {}}))
    return path


def test_cli_prints_the_choice_the_front_and_the_commands(cli, tmp_path):
    path = _write(tmp_path)
    out = cli("recommend", "--from", str(path), "--max-latency-ms", "2", "--max-size-mb", "5", "--min-accuracy", "85",
              "--plot", str(tmp_path / "front.png"))
    assert out.returncode == 0, out.stderr
    assert "Chosen for latency ≤ 2 ms, size ≤ 5 MB, accuracy ≥ 85.0%: a int8: accuracy 90.0%, 2 ms, 4 MB" in out.stdout
    assert "edgecnn train a -o runs/a-bench" in out.stdout and "edgecnn convert runs/a-bench --int8 -o a_int8.tflite" in out.stdout
    assert "Pareto front: 6 of 8 candidates" in out.stdout
    assert (tmp_path / "front.png").read_bytes()[:8] == PNG
    doc = json.loads(cli("recommend", "--from", str(path), "--max-size-mb", "0.6", "--json",
                         "--plot", str(tmp_path / "front.png")).stdout)
    assert doc["choice"]["model"] == "h" and [r["model"] for r in doc["front"]] == ["e", "b", "g", "a", "h", "f"]


def test_cli_impossible_bounds_exit_non_zero_with_one_line(cli, tmp_path):
    out = cli("recommend", "--from", str(_write(tmp_path)), "--max-latency-ms", "0.1", "--min-accuracy", "0.99",
              "--plot", str(tmp_path / "front.png"))
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: nothing meets latency ≤ 0.1 ms, accuracy ≥ 99.0%; "
                                                   "nearest: e int8: accuracy 70.0%, 0.5 ms, 3 MB")
    missing = cli("recommend", "--from", str(tmp_path / "none.json"))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_cli_host_times_the_candidates_on_the_device(cli, tmp_path):
    """With --host the latency bound is checked against fresh measurements there (a real sshd on loopback).

    The rows say 1000 ms, so on their own nothing meets 100 ms; the tiny test models take far less than
    that on any machine, so after re-timing over SSH both fit and the more accurate one is chosen.
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sshd import LoopbackSSHD, why_unavailable

    reason = why_unavailable()
    if reason:
        pytest.fail(f"no loopback sshd: {reason}")  # CI has one (tools/setup.sh installs openssh-server)
    data = Path(__file__).resolve().parent / "data"
    rows = [{**_row("tiny_f32", 0.80, 1000.0, 0.01, variant="float32"), "file": str(data / "tiny_cnn_float32.tflite")},
            {**_row("tiny_i8", 0.82, 1000.0, 0.01, fully_int8=True), "file": str(data / "tiny_cnn_int8.tflite")},
            {**_row("elsewhere", 0.99, 1000.0, 0.01), "file": str(tmp_path / "not_here.tflite")}]
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({"schema": 2, "rows": rows, "failures": [], "sessions": {}}))
    bounds = ["--max-latency-ms", "100", "--plot", str(tmp_path / "front.png")]
    local = cli("recommend", "--from", str(path), *bounds)
    assert local.returncode == 1 and "nothing meets latency ≤ 100 ms" in local.stderr
    with LoopbackSSHD(tmp_path / "sshd") as sshd:
        remote = cli("recommend", "--from", str(path), *bounds, "--host", sshd.target, "--identity",
                     str(sshd.user_key), "--remote-python", sys.executable, "--json", timeout=180)
    assert remote.returncode == 0, remote.stderr
    doc = json.loads(remote.stdout)
    assert doc["choice"]["model"] == "tiny_i8" and doc["choice"]["latency_ms"] < 100
    assert doc["choice"]["latency_source"] == f"measured on {sshd.target}"
    assert doc["choice"]["measured_on"]["host"] == sshd.target
    assert any("not on this machine" in note for note in doc["notes"])  # "elsewhere" could not be sent


def test_cli_chooses_among_several_benchmarks(cli, tmp_path):
    """One benchmark per width (or machine): --from twice puts their rows side by side."""
    narrow, wide = tmp_path / "narrow.json", tmp_path / "wide.json"
    narrow.write_text(json.dumps({"schema": 2, "rows": [{**_row("resnet18", 0.86, 2.0, 3.0), "width": 0.5}]}))
    wide.write_text(json.dumps({"schema": 2, "rows": [{**_row("resnet18", 0.89, 6.0, 11.0), "width": 1.0}]}))
    common = ["--from", str(narrow), "--from", str(wide), "--plot", str(tmp_path / "p.png"), "--json"]
    assert json.loads(cli("recommend", *common).stdout)["choice"]["width"] == 1.0
    assert json.loads(cli("recommend", *common, "--max-latency-ms", "5").stdout)["choice"]["width"] == 0.5
