"""`edgecnn benchmark`: the variant registry, resume planning, the report, and a --quick run end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgecnn.benchmark import Results, Settings
from edgecnn.benchmark.report import write_report
from edgecnn.benchmark.results import load_results, plan_jobs, save_results
from edgecnn.benchmark.variants import VARIANTS, Variant, parse_variants, register_variant
from edgecnn.errors import EdgecnnError, UsageError

PNG = b"\x89PNG\r\n\x1a\n"


def _row(model: str, variant: str, *, config: str = "small", latency: float = 1.0, size: int = 1_000_000,
         accuracy: float | None = 0.9, file: str | None = None, session: str = "s1", fingerprint=None, **extra):
    return {"config": config, "model": model, "family": model.rstrip("0123456789"), "width": 1.0, "input_shape": [28, 28, 1],
            "params": 250_000, "macs": 12_500_000, "variant": variant, "accuracy": accuracy,
            "agreement_with_float32": 1.0, "size_bytes": size, "gzip_bytes": size // 2, "latency_ms": latency,
            "p90_ms": latency * 1.1, "loadavg": 0.5, "measured_at": "2026-12-01 10:00:00 UTC", "fully_int8":
            variant.endswith("int8"), "ops_delegated": "7/7", "file": file, "session": session,
            "train": {"images": 8000, "epochs": 3, "seconds": 42.4, "cpu_seconds": 60.0, "keras_test_accuracy": 0.9},
            "fingerprint": fingerprint, "job_seconds": 120.0, **extra}


# ---- variants ------------------------------------------------------------------------------------------------

def test_each_variant_says_the_same_as_python_keywords_and_as_convert_flags():
    """The flags recommend prints, parsed by the real `edgecnn convert`, ask for what the benchmark ran."""
    from edgecnn.cli.convert import convert_command

    precision_param = {"float32": "v_float32", "float16": "v_fp16", "dynamic": "v_dynamic", "int8": "v_int8",
                       "uint8": "v_uint8"}
    for variant in VARIANTS.values():
        ctx = convert_command.make_context("convert", ["runs/x", *variant.convert_flags])
        params = ctx.params
        chosen = [p for p in precision_param.values() if params[p]]
        assert chosen == [precision_param[variant.precision]], variant.name
        for key, value in variant.recipe.items():  # a convert() keyword is the click parameter of its flag
            assert params[key] == value, (variant.name, key)
        for key in {"prune", "prune_pattern", "qat", "edgetpu"} - set(variant.recipe):
            assert not params[key], (variant.name, key)


def test_variant_registry_parsing_and_registration():
    assert parse_variants(None)[:6] == ["float32", "float16", "dynamic", "int8", "qat_int8", "pruned_int8"]
    assert parse_variants("int8, float32") == ["float32", "int8"]  # registry order
    assert parse_variants("all") == list(VARIANTS)
    with pytest.raises(UsageError, match="unknown variant 'int9'.*did you mean int8"):
        parse_variants("int9")
    with pytest.raises(ValueError, match="registered already"):
        register_variant(Variant("int8", "again", "int8"))
    with pytest.raises(ValueError, match="unknown precision"):
        Variant("x", "x", "int4")
    assert VARIANTS["qat_int8"].convert_flags == ["--int8", "--qat"]
    assert VARIANTS["pruned_int8"].recipe_key != VARIANTS["int8"].recipe_key == VARIANTS["float16"].recipe_key


# ---- resume planning -----------------------------------------------------------------------------------------

def test_plan_jobs_skips_measured_rows_and_keeps_files_of_the_rest(tmp_path):
    settings = Settings.quick_run()
    fp = settings.fingerprint("small", None)
    made = tmp_path / "lenet_int8.tflite"
    made.write_bytes(b"x")
    results = Results(rows=[
        _row("lenet5", "float32", fingerprint=fp, file=str(tmp_path / "gone.tflite")),
        _row("lenet5", "int8", fingerprint=fp, file=str(made)),
        _row("simple_cnn", "float32", fingerprint=fp, file=str(made)),
        _row("simple_cnn", "int8", fingerprint=fp, file=str(made)),
        _row("resnet18", "float32", fingerprint={**fp, "threads": 4}, file=str(made)),  # other settings
    ])
    models = [("lenet5", "lenet"), ("simple_cnn", "simple"), ("resnet18", "resnet"), ("vgg11", "vgg")]
    jobs, done = plan_jobs(results, models, ["small"], ["float32", "int8", "pruned_int8"], settings)
    assert done == []
    by_model = {j.model: j for j in jobs}
    # lenet5: int8 is kept (its file exists) and re-timed; float32's file is gone, so it is made again
    assert by_model["lenet5"].convert == ["float32", "pruned_int8"] and list(by_model["lenet5"].keep) == ["int8"]
    assert by_model["lenet5"].variants == ["float32", "int8", "pruned_int8"]
    assert by_model["simple_cnn"].convert == ["pruned_int8"] and set(by_model["simple_cnn"].keep) == {"float32", "int8"}
    assert by_model["resnet18"].convert == ["float32", "int8", "pruned_int8"] and by_model["resnet18"].keep == {}
    # heavy families get width 0.5 in the small config, and it is part of what a row depends on
    assert by_model["resnet18"].width == 0.5 and by_model["vgg11"].fingerprint["width"] == 0.5
    assert by_model["lenet5"].width is None

    jobs, done = plan_jobs(results, [("simple_cnn", "simple")], ["small"], ["float32", "int8"], settings)
    assert jobs == [] and done == ["small/simple_cnn"]
    jobs, _ = plan_jobs(results, [("simple_cnn", "simple")], ["small"], ["float32", "int8"], settings, force=True)
    assert jobs[0].convert == ["float32", "int8"] and jobs[0].keep == {}
    # random-weight models have no data to fine-tune on: no QAT or pruned rows in the canonical config
    jobs, _ = plan_jobs(Results(), [("lenet5", "lenet")], ["canonical"], ["int8", "qat_int8", "pruned_int8"], settings)
    assert jobs[0].convert == ["int8"] and jobs[0].width is None


def test_results_file_round_trip_and_refusals(tmp_path):
    results = Results(rows=[_row("lenet5", "int8")], failures=[{"config": "small", "model": "vgg11",
                                                                "variant": None, "error": "boom"}])
    save_results(tmp_path / "benchmarks.json", results)
    again, note = load_results(tmp_path / "benchmarks.json")
    assert note is None and again.rows == results.rows and again.failures == results.failures
    assert load_results(tmp_path / "none.json") == (Results(), None)
    (tmp_path / "old.json").write_text(json.dumps({"schema": 1, "small": {}, "canonical": {}}))
    fresh, note = load_results(tmp_path / "old.json")
    assert fresh.rows == [] and "former tools/benchmark_zoo.py" in note
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(EdgecnnError, match="not readable JSON"):
        load_results(tmp_path / "bad.json")
    results.merge("small", "lenet5", ["int8"], [_row("lenet5", "int8", latency=2.0)], [])
    assert [r["latency_ms"] for r in results.rows] == [2.0] and results.failures[0]["model"] == "vgg11"


def test_run_resumes_without_measuring_again(tmp_path, monkeypatch):
    """Rows measured with the same settings are not measured again: no child process is started."""
    import edgecnn.child
    from edgecnn.benchmark import run

    settings = Settings.quick_run()
    fp = settings.fingerprint("small", None)
    rows = [_row("lenet5", v, fingerprint=fp, latency=ms) for v, ms in (("float32", 0.3), ("int8", 0.2))]
    save_results(tmp_path / "benchmarks.json", Results(rows=rows))

    def no_child(*args, **kwargs):
        raise AssertionError("a measured row was measured again")

    monkeypatch.setattr(edgecnn.child, "run_in_child", no_child)
    log: list[str] = []
    run(["lenet5"], out=tmp_path, work=tmp_path / "work", quick=True, variants="float32,int8", log=log.append)
    assert "small/lenet5: measured already with these settings, skipped" in log
    saved, _ = load_results(tmp_path / "benchmarks.json")
    assert [r["latency_ms"] for r in saved.rows] == [0.3, 0.2] and len(saved.sessions) == 1
    assert "| lenet5 | float32 | 90.0% |" in (tmp_path / "BENCHMARKS.md").read_text()


def test_choose_models_by_name_alias_family_and_glob():
    from edgecnn.benchmark import choose_models

    every = choose_models(None)
    assert len(every) == 16 and {"vgg16", "resnet34", "resnet50", "mobilenet_v1", "mobilenet_v3_small",
                                 "mobilenet_v3_large"} <= {m for m, _ in every}
    assert choose_models(None, quick=True) == [("lenet5", "lenet")]
    assert choose_models(["mobilenet"]) == [("mobilenet_v2", "mobilenet")]  # the alias wins over the family
    assert choose_models(["resnet"]) == [("resnet18", "resnet"), ("resnet34", "resnet"), ("resnet50", "resnet")]
    assert [m for m, _ in choose_models(["mobilenet_v3*", "vgg_a"])] == ["mobilenet_v3_large", "mobilenet_v3_small",
                                                                          "vgg11"]
    with pytest.raises(UsageError, match="lenet5"):
        choose_models(["lenet4"])


# ---- report ----------------------------------------------------------------------------------------------

def test_report_tables_provenance_and_plots(tmp_path):
    rows = [_row("resnet18", "float32", latency=3.0, size=11_190_000, accuracy=0.875, width=0.5),
            _row("resnet18", "int8", latency=2.0, size=2_840_000, accuracy=0.876, width=0.5),
            _row("lenet5", "float32", latency=0.06, size=250_000, accuracy=0.762, session="s2",
                 measured_at="2026-12-02 11:00:00 UTC", loadavg=1.5),
            _row("vgg16", "float32", config="canonical", accuracy=None, latency=106.0, size=531_400_000,
                 published_params=138_357_544, published_macs=15_470_000_000)]
    results = Results(rows=rows, failures=[{"config": "small", "model": "vgg11", "variant": "qat_int8",
                                            "error": "cannot convert"}],
                      sessions={"s1": {"command": "edgecnn benchmark -o docs", "settings": Settings().to_json(),
                                       "environment": {"cpu": "TestCPU", "cpu_flags": {"avx2": True, "avx512f": False},
                                                       "cores": 2, "versions": {"ai-edge-litert": "2.3.0"}}},
                                "s2": {"command": "edgecnn benchmark lenet5 -o docs"}})
    md = write_report(results, tmp_path).read_text()
    assert "| resnet18 (width 0.5) | resnet | 28×28×1 | 250.00 k | 12.50 M | 8000 × 3, 42 s (60 CPU s) | 90.0% |" in md
    # 3.0 ms / 2.0 ms = 1.50× faster than float32, measured in the same loop
    assert "| resnet18 (width 0.5) | int8 (post-training) | 87.6% | 100.0% | 2.84 MB | 1.42 MB | 2.00 | 2.20 | 1.50× | yes | 7/7 |" in md
    assert "| vgg16 | float32 | 531.40 MB | 265.70 MB | 106 | 117 | 1.00× | no | 7/7 |" in md  # no accuracy column
    assert "(138.36 M)" in md and "(15.47 G)" in md
    # two runs made the small rows: no "one run" claim there; the canonical section was one run
    assert "The rows of this section come from 2 runs of `edgecnn benchmark`" in md
    assert "All rows of this section were measured in one run of `edgecnn benchmark` (`edgecnn benchmark -o docs`)" in md
    assert "load average while timing was 0.5–1.5" in md
    assert "small/vgg11 qat_int8: cannot convert" in md and "TestCPU" in md and "CPU flags: avx2;" in md
    for name in ("accuracy_vs_latency.png", "size_per_variant.png", "canonical_latency.png"):
        assert (tmp_path / "img" / name).read_bytes()[:8] == PNG


def test_report_says_how_the_rows_were_turned():
    from edgecnn.benchmark.report import turns_text

    old = [{"latency_ms": 1.0}, {"latency_ms": 2.0, "min_turn_ms": None}]
    assert turns_text(old) == "one invoke of each in turn"
    assert turns_text([{"latency_ms": 1.0, "min_turn_ms": 20.0}]) == \
        "a turn of each in turn: back-to-back invokes filling 20 ms, or one invoke of a slower file"
    assert "(or one invoke, for rows timed before turns)" in turns_text(old + [{"latency_ms": 1.0, "min_turn_ms": 20.0}])


# ---- end to end ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_quick_benchmark_end_to_end_then_resume_retime_and_recommend(cli, tmp_path):
    """LeNet-5, --quick, three variants: train → convert → evaluate → time, then a resumed and a re-timed run."""
    out, work = tmp_path / "out", tmp_path / "work"
    args = ["benchmark", "lenet5", "--quick", "--variants", "float32,int8,pruned_int8", "-o", str(out),
            "--work", str(work)]
    first = cli(*args, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    doc = json.loads((out / "benchmarks.json").read_text())
    assert doc["failures"] == []
    rows = {r["variant"]: r for r in doc["rows"]}
    assert set(rows) == {"float32", "int8", "pruned_int8"}
    for r in rows.values():
        assert r["model"] == "lenet5" and r["input_shape"] == [28, 28, 1] and r["params"] == 61_706
        assert r["train"]["images"] == 1000 and r["train"]["epochs"] == 2 and r["test_images"] == 200
        assert Path(r["file"]).stat().st_size == r["size_bytes"]
        assert r["latency_ms"] > 0 and r["p90_ms"] >= r["latency_ms"] and r["runs"] >= 1
        assert r["min_turn_ms"] == 20.0 and r["runs"] % r["burst"] == 0
        assert r["interleaved_with"] == 2 and r["threads"] == 2
        assert 0.2 < r["accuracy"] <= 1.0  # 10 classes: well above chance
    assert rows["float32"]["fully_int8"] is False and rows["int8"]["fully_int8"] is True
    assert rows["int8"]["size_bytes"] < 0.5 * rows["float32"]["size_bytes"]
    assert rows["pruned_int8"]["gzip_bytes"] < rows["int8"]["gzip_bytes"]  # half the weights are zero
    # the row keeps how its fine-tune was taught: pruning distils from the dense model unless told otherwise
    finetune = rows["pruned_int8"]["finetune"]
    assert finetune["prune_distill"] == 1.0 and "finetune" not in rows["int8"]
    # one epoch planned, then, if more than 1 point below the dense model on validation, again over 2 epochs
    assert finetune["prune_attempts"] in ([1], [1, 2])
    assert len(finetune["prune_val_drops"]) == len(finetune["prune_attempts"])
    assert (finetune["prune_val_drops"][0] <= 1.0) == (finetune["prune_attempts"] == [1])
    kept = finetune["prune_attempts"].index(finetune["prune_epochs"])
    assert finetune["prune_val_drops"][kept] == min(finetune["prune_val_drops"])
    assert rows["pruned_int8"]["reproduce"] == [
        "edgecnn train lenet5 --epochs 2 --limit 1000 -o runs/lenet5-bench",
        "edgecnn convert runs/lenet5-bench --int8 --prune 0.5 -o lenet5_pruned_int8.tflite"]
    md = (out / "BENCHMARKS.md").read_text()
    assert "| lenet5 | lenet | 28×28×1 | 61.71 k | 416.52 k | 1000 × 2," in md and "ai-edge-litert 2.3.0" in md
    assert "All rows of this section were measured in one run of `edgecnn benchmark`" in md
    for name in ("accuracy_vs_latency.png", "size_per_variant.png"):
        assert (out / "img" / name).read_bytes()[:8] == PNG

    second = cli(*args, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "small/lenet5: measured already with these settings, skipped" in second.stderr
    assert json.loads((out / "benchmarks.json").read_text())["rows"] == doc["rows"]

    retimed = cli(*args, "--retime", timeout=300)
    assert retimed.returncode == 0, retimed.stderr[-3000:]
    again = {r["variant"]: r for r in json.loads((out / "benchmarks.json").read_text())["rows"]}
    for variant, r in again.items():
        assert r["session"] != rows[variant]["session"] and r["accuracy"] == rows[variant]["accuracy"]
        assert r["file"] == rows[variant]["file"] and r["latency_ms"] > 0

    best = max(again.values(), key=lambda r: (r["accuracy"], -r["latency_ms"], -r["size_bytes"]))
    rec = cli("recommend", "--from", str(out / "benchmarks.json"), "--plot", str(tmp_path / "front.png"), "--json")
    assert rec.returncode == 0, rec.stderr
    choice = json.loads(rec.stdout)["choice"]
    assert (choice["variant"], choice["file"]) == (best["variant"], best["file"])
    assert (tmp_path / "front.png").read_bytes()[:8] == PNG


def test_cli_refuses_bad_requests_in_one_line(cli, tmp_path):
    cases = [(["--force", "--retime"], "choose one of --force, --retime and --report-only", 2),
             (["--variants", "int9"], "unknown variant 'int9'", 2),
             (["lenet4"], "lenet5", 2),
             (["--report-only"], "no rows in", 1)]
    for args, fragment, code in cases:
        out = cli("benchmark", *args, "-o", str(tmp_path / "out"), "--work", str(tmp_path / "work"))
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert out.returncode == code and len(lines) == 1 and lines[0].startswith("Error: "), (args, out.stderr)
        assert fragment in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "work").exists()  # refused before any work


@pytest.mark.slow
def test_canonical_config_random_weights_timing_and_size_only(cli, tmp_path):
    """LeNet-5 at the paper's 32×32×1 with random weights: convert's conversion step, no data, no accuracy."""
    out = cli("benchmark", "lenet5", "--canonical", "--quick", "--variants", "float32,int8,qat_int8", "-o",
              str(tmp_path / "out"), "--work", str(tmp_path / "work"), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {r["variant"]: r for r in json.loads((tmp_path / "out" / "benchmarks.json").read_text())["rows"]}
    assert set(rows) == {"float32", "int8"}  # QAT needs training data: not a canonical variant
    for r in rows.values():
        assert r["config"] == "canonical" and r["input_shape"] == [32, 32, 1] and r["accuracy"] is None
        assert r["params"] == r["published_params"] == 61_706  # LeCun et al. 1998, as the registry records it
        assert r["latency_ms"] > 0 and r["reproduce"] == [] and r["interleaved_with"] == 1
    assert rows["int8"]["fully_int8"] is True and rows["int8"]["size_bytes"] < 0.5 * rows["float32"]["size_bytes"]
    assert "## Canonical (paper) input size, random weights" in (tmp_path / "out" / "BENCHMARKS.md").read_text()
    rec = cli("recommend", "--from", str(tmp_path / "out" / "benchmarks.json"), "--plot", str(tmp_path / "p.png"))
    assert rec.returncode == 1 and "no measured row with accuracy" in rec.stderr


@pytest.mark.slow
def test_an_interrupted_training_run_is_continued_not_restarted(tmp_path):
    """A benchmark killed while training (a session's end) resumes from the last finished epoch."""
    from edgecnn._tf import keras
    from edgecnn import runs
    from edgecnn.benchmark.measure import trained_run
    from edgecnn.train import train

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt  # what Ctrl-C or a kill does: the epoch's checkpoint is already written

    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train("lenet5", epochs=2, limit=200, out_dir=run_dir, verbose=False, callbacks=[StopAfterFirstEpoch()])
    assert not runs.is_complete(run_dir)
    log: list[str] = []
    assert trained_run("lenet5", Settings(epochs=2, train_images=200), None, run_dir, log.append) == run_dir
    assert log == [f"resuming the interrupted training run {run_dir}"]
    metrics = runs.read_metrics(run_dir)
    assert metrics["epochs_run"] == 2 and len(metrics["epoch_seconds"]) == 2  # one epoch before, one after
    log.clear()
    trained_run("lenet5", Settings(epochs=2, train_images=200), None, run_dir, log.append)
    assert log == [f"reusing the training run {run_dir}"]


def test_a_model_that_fails_keeps_its_earlier_rows(tmp_path, monkeypatch):
    """A crash while adding a variant records the failure and leaves the rows measured before untouched."""
    import edgecnn.child
    from edgecnn.benchmark import run

    settings = Settings.quick_run()
    made = tmp_path / "f32.tflite"
    made.write_bytes(b"x")
    old = _row("lenet5", "float32", fingerprint=settings.fingerprint("small", None), file=str(made))
    save_results(tmp_path / "benchmarks.json", Results(rows=[old]))
    calls = []

    def crash(function, kwargs, *, label, limits):
        calls.append((function, kwargs["job"]["convert"], list(kwargs["job"]["keep"]), label))
        assert limits.timeout == settings_timeout and limits.memory_setting == "EDGECNN_CONVERT_MEMORY"
        raise EdgecnnError(f"{label}: the runtime crashed on this model (signal 11, SIGSEGV)")

    settings_timeout = 10800.0  # run()'s default per-model timeout
    monkeypatch.setattr(edgecnn.child, "run_in_child", crash)
    run(["lenet5"], out=tmp_path, work=tmp_path / "work", quick=True, variants="float32,int8", log=lambda m: None)
    assert calls == [("edgecnn.benchmark.measure:measure_model", ["int8"], ["float32"], "small/lenet5")]
    saved, _ = load_results(tmp_path / "benchmarks.json")
    assert saved.rows == [old]
    (failure,) = saved.failures
    assert failure["model"] == "lenet5" and failure["variant"] is None and "SIGSEGV" in failure["error"]
    assert "- small/lenet5: the runtime crashed on this model (signal 11, SIGSEGV) (log: " in (
        tmp_path / "BENCHMARKS.md").read_text()


def test_targets_count_points_exactly_at_the_budget():
    """The targets table judges drops in points of N-image accuracies: 0.709375 - 0.704375 is exactly 0.5 points
    (8 of 1600 images), which is within `--max-drop 0.5`; 1.6 points of pruning loss is not within 1.5; QAT that
    loses more than post-training int8 does not meet QAT >= PTQ (all by hand)."""
    from edgecnn.benchmark.report import targets_section

    rows = [_row("mobilenet_v2", "float32", accuracy=0.709375, latency=1.0),
            _row("mobilenet_v2", "int8", accuracy=0.704375, latency=0.8),
            _row("mobilenet_v2", "planned", accuracy=0.704375, latency=0.8, plan_precision="int8",
                 plan_float_layers=[], plan_val_drop_points=0.125),
            _row("mobilenet_v2", "pruned_int8", accuracy=0.693375, latency=0.8),
            _row("mobilenet_v2", "qat_int8", accuracy=0.700000, latency=0.8)]
    line = next(line for line in targets_section(rows) if line.startswith("| mobilenet_v2"))
    assert "plan ✓" in line and "pruned ✗" in line and "QAT ≥ PTQ ✗" in line, line
    assert "1.25×" in line  # 1.0 ms / 0.8 ms


def test_plan_rows_show_their_validation_sigma_and_say_how_the_budget_was_judged():
    from edgecnn.benchmark.report import targets_section

    rows = [_row("resnet18", "float32", accuracy=0.88), _row("lenet5", "float32", accuracy=0.75),
            _row("resnet18", "planned", accuracy=0.88, plan_precision="int8", plan_float_layers=[],
                 plan_val_drop_points=0.125, plan_val_sigma_points=0.21, plan_margin_sigmas=1.0),
            _row("lenet5", "planned", accuracy=0.75, plan_precision="int8", plan_float_layers=[],
                 plan_val_drop_points=0.3)]
    lines = targets_section(rows)
    assert "| -0.1 (σ 0.2) → +0.0 |" in next(line for line in lines if line.startswith("| resnet18"))
    assert "| +0.0 → +0.0 |" not in next(line for line in lines if line.startswith("| lenet5"))
    assert "| -0.3 → +0.0 |" in next(line for line in lines if line.startswith("| lenet5"))
    legend = next(line for line in lines if line.startswith("The plan counts a file within the budget"))
    assert "plus 1 σ" in legend and "without a σ were planned before" in legend
    assert not any(line.startswith("The plan counts") for line in targets_section(rows[:2] + rows[3:]))


def test_a_missed_target_says_by_how_much_and_whether_that_is_noise():
    """σ of a paired difference is at most sqrt(disagreement / n): 1 % disagreement on 1600 images gives
    100·sqrt(0.01/1600) = 0.25 points; 4 % gives 0.5 (by hand)."""
    from edgecnn.benchmark.report import paired_sigma_points, targets_section

    assert paired_sigma_points({"agreement_with_float32": 0.99, "test_images": 1600}) == pytest.approx(0.25)
    assert paired_sigma_points({"agreement_with_float32": 0.96, "test_images": 1600}) == pytest.approx(0.5)
    assert paired_sigma_points({"agreement_with_float32": None, "test_images": 1600}) is None
    rows = [_row("resnet18", "float32", accuracy=0.879375, test_images=1600),
            # 1.75 points below float32 (28 of 1600 images): 0.25 over the budget. Its agreement is against the
            # pruned model's own float32 (what convert --prune measures), so it says nothing about σ here.
            _row("resnet18", "pruned_int8", accuracy=0.861875, agreement_with_float32=0.99, test_images=1600),
            # QAT 3 points below, PTQ 0.5: 2.5 points worse, σ 0.5 + 0.25 = 0.75, so beyond 2σ
            _row("resnet18", "int8", accuracy=0.874375, agreement_with_float32=0.99, test_images=1600),
            _row("resnet18", "qat_int8", accuracy=0.849375, agreement_with_float32=0.96, test_images=1600)]
    line = next(line for line in targets_section(rows) if line.startswith("| resnet18"))
    assert "pruned ✗ by 0.25 pt QAT" in line, line  # no σ claimed for the pruned file
    assert "QAT ≥ PTQ ✗ by 2.50 pt, σ 0.75 |" in line, line


def test_pruned_rows_fine_tuned_on_labels_are_marked():
    """Rows measured before pruning distilled by default carry no ``finetune`` record: the targets table marks
    them († and a legend) so that a column does not silently mix two recipes."""
    from edgecnn.benchmark.report import targets_section

    rows = [_row("lenet5", "float32", accuracy=0.75), _row("lenet5", "pruned_int8", accuracy=0.74),
            _row("vgg11", "float32", accuracy=0.8),
            _row("vgg11", "pruned_int8", accuracy=0.8, finetune={"prune_distill": 1.0})]
    lines = targets_section(rows)
    lenet = next(line for line in lines if line.startswith("| lenet5"))
    vgg = next(line for line in lines if line.startswith("| vgg11"))
    assert "-1.0 † |" in lenet and "†" not in vgg
    assert any(line.startswith("† the pruned file was fine-tuned on the labels alone") for line in lines)
    assert not any(line.startswith("†") for line in targets_section(rows[2:]))


def test_each_model_names_the_kind_of_cpu_that_timed_it():
    """int8 beats float32 in XNNPACK mostly where the CPU has int8 dot products (VNNI); rows timed on two hosts
    must say which host timed which model, and the section must warn when they differ."""
    from edgecnn.benchmark.report import models_table, provenance
    from edgecnn.profile import cpu_class

    vnni = {"environment": {"cpu_flags": {"avx2": True, "avx512f": True, "avx512_vnni": True}}}
    avx2 = {"environment": {"cpu_flags": {"sse4_1": True, "avx2": True, "avx512f": False, "avx512_vnni": False}}}
    pi5 = {"environment": {"cpu_flags": {"asimd": True, "asimddp": True}}}
    flags = [s["environment"]["cpu_flags"] for s in (vnni, avx2, pi5)]
    assert (*map(cpu_class, flags), cpu_class(None)) == (
        "AVX-512 VNNI", "AVX2", "Arm dot product", "–")
    sessions = {"a": vnni, "b": avx2}
    rows = [_row("lenet5", "float32", session="a"), _row("vgg11", "float32", session="b")]
    table = models_table(rows, "small", sessions)
    assert "| 2026-12-01 10:00 | AVX-512 VNNI | 0.5 |" in next(l for l in table.splitlines() if l.startswith("| lenet5"))
    assert "| 2026-12-01 10:00 | AVX2 | 0.5 |" in next(l for l in table.splitlines() if l.startswith("| vgg11"))
    assert "more than one kind of CPU (AVX-512 VNNI, AVX2" in provenance(rows, sessions)
    assert "kind of CPU" not in provenance(rows[1:], sessions)


def test_a_plan_slower_than_float32_says_whether_that_is_timing_noise():
    """Timing noise is read off the table itself: float16-weight files run float32's kernels, so their distance
    from float32 is noise. Here |1 − 1.0/1.02| = 1.96 % and |1 − 1.0/0.99| = 1.01 %: median 1.49 % (by hand).
    A plan at 1.0/1.01 = 0.990× float32 (0.99 % slower) is within it; one at 0.80× is not."""
    from edgecnn.benchmark.report import targets_section, timing_noise

    plan = {"plan_precision": "float16", "plan_float_layers": [], "plan_val_drop_points": 0.0}
    rows = [_row("lenet5", "float32", latency=1.0), _row("lenet5", "float16", latency=1.02),
            _row("lenet5", "planned", latency=1.01, **plan),
            _row("vgg11", "float32", latency=1.0), _row("vgg11", "float16", latency=0.99),
            _row("vgg11", "planned", latency=1.25, **plan)]
    assert timing_noise(rows) == pytest.approx((1 - 1 / 1.02 + 1 / 0.99 - 1) / 2)
    lines = targets_section(rows)
    assert "plan ✗ (0.99× float32, within timing noise)" in next(l for l in lines if l.startswith("| lenet5"))
    vgg = next(l for l in lines if l.startswith("| vgg11"))
    assert "plan ✗ (0.80× float32)" in vgg and "timing noise" not in vgg
    assert "no more than 1.5 % is marked within timing noise" in " ".join(lines)
    assert timing_noise(rows[2:3]) is None


def test_pruned_rows_say_when_pruning_was_retried():
    """A pruned row whose first fine-tune was over budget says whether the retry from the dense model made the file
    ("re-pruned") or not; rows from before the retry existed (no ``prune_epochs`` in their record) bring a legend
    that says they had exactly one epoch."""
    from edgecnn.benchmark.report import targets_section

    retried = {"prune_distill": 1.0, "prune_epochs": 2, "prune_attempts": [1, 2], "prune_val_drops": [1.06, 0.2]}
    not_better = {"prune_distill": 1.0, "prune_epochs": 1, "prune_attempts": [1, 2], "prune_val_drops": [1.5, 2.0]}
    rows = [_row("resnet50", "float32", accuracy=0.8575),
            _row("resnet50", "pruned_int8", accuracy=0.8569, finetune=retried),
            _row("vgg11", "float32", accuracy=0.8),
            _row("vgg11", "pruned_int8", accuracy=0.8, finetune={"prune_distill": 1.0, "prune_epochs": 1,
                                                                  "prune_attempts": [1], "prune_val_drops": [0.3]}),
            _row("vgg16", "float32", accuracy=0.8),
            _row("vgg16", "pruned_int8", accuracy=0.79, finetune=not_better),
            _row("lenet5", "float32", accuracy=0.75),
            _row("lenet5", "pruned_int8", accuracy=0.74, finetune={"prune_distill": 1.0})]
    lines = targets_section(rows)
    assert "| -0.1 (re-pruned, 2 epochs) |" in next(l for l in lines if l.startswith("| resnet50"))
    assert "| +0.0 |" in next(l for l in lines if l.startswith("| vgg11"))
    assert "| -1.0 (retry not better) |" in next(l for l in lines if l.startswith("| vgg16"))
    assert "| -1.0 |" in next(l for l in lines if l.startswith("| lenet5"))
    assert any("prunes again from the dense model over 2 epochs" in line for line in lines)
    legend = "Pruned rows without a record of it were measured before the retry existed"
    assert any(legend in line for line in lines)
    assert not any(legend in line for line in targets_section(rows[:6]))
