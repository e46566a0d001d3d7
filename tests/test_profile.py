"""`edgecnn profile`: real measurements on the tiny test models, output formats, and one-line errors."""
from __future__ import annotations

import csv
import io
import json
import os
import time

import numpy as np
import pytest

from edgecnn.errors import EdgecnnError, UsageError
from edgecnn.profile import profile
from edgecnn.profile_options import ProfileOptions

FLOAT = "tiny_cnn_float32.tflite"
INT8 = "tiny_cnn_int8.tflite"


def _check_latency(lat: dict) -> None:
    assert set(lat) == {"mean", "std", "min", "p50", "p90", "p99", "max"}
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert lat["min"] <= lat["mean"] <= lat["max"] and lat["std"] >= 0


def test_profile_two_models_real_numbers(tests_data):
    results = profile([tests_data / FLOAT, tests_data / INT8], num_threads=1, num_runs=30, warmup_runs=2)
    assert [r["name"] for r in results] == [FLOAT, INT8]
    for r in results:
        _check_latency(r["latency_ms"])
        assert r["size_bytes"] == os.path.getsize(tests_data / r["name"])
        assert r["timing"]["rounds"] == 30 and r["runs"] == 30 * r["timing"]["burst"]  # 30 turns, each a burst
        assert r["warmup_runs"] == 2 and r["num_threads"] == 1
        assert r["init_ms"] == pytest.approx(r["load_ms"] + r["allocate_ms"]) and r["init_ms"] > 0
        assert r["first_inference_ms"] > 0
        assert r["throughput_per_s"] == pytest.approx(1000 / r["latency_ms"]["mean"])
        assert r["params"] == 474 and r["macs"] == 53_472
        assert r["memory"]["peak_rss_bytes"] > 10_000_000  # Python + numpy + LiteRT
        assert r["memory"]["activation_bytes"] > 0
        assert r["machine"]["runtime"] == "ai-edge-litert" and r["machine"]["arch"]
        ops = {row["op"]: row for row in r["ops"]}
        assert ops["CONV_2D"]["count"] == 2 and ops["CONV_2D"]["macs"] == 39_200
        assert sum(row["mac_share"] for row in r["ops"]) == pytest.approx(1.0)
        assert all(row["time_ms"] is None for row in r["ops"])  # not requested
        assert "per-op time unavailable" in r["op_timing"]
    assert results[0]["delegate"] == {"requested": "xnnpack", "delegate_nodes": 1, "ops_delegated": 7, "ops_total": 7,
                                      "delegated": list(range(7))}
    assert results[1]["delegate"]["ops_delegated"] == 6  # int8 SOFTMAX stays on builtin kernels
    assert results[1]["fully_int8"] and not results[0]["fully_int8"]
    assert results[0]["vs_first"] == {"speedup": 1.0, "size_ratio": 1.0}
    assert results[1]["vs_first"]["size_ratio"] == pytest.approx(
        os.path.getsize(tests_data / INT8) / os.path.getsize(tests_data / FLOAT))
    assert results[1]["vs_first"]["speedup"] == pytest.approx(
        results[0]["latency_ms"]["p50"] / results[1]["latency_ms"]["p50"])


def test_max_secs_stops_early(tests_data):
    (r,) = profile(tests_data / FLOAT, num_runs=10_000_000, max_secs=0.2, warmup_runs=0, num_threads=1)
    assert 1 <= r["runs"] < 10_000_000


def test_op_profiling_builtin_kernels_names_every_op(tests_data):
    (r,) = profile(tests_data / INT8, num_runs=20, op_profiling=True, delegate="none", num_threads=1)
    assert r["op_timing"].startswith("measured: LiteRT profiler, builtin kernels")
    timed = {row["op"]: row for row in r["ops"]}
    assert set(timed) == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MEAN", "SOFTMAX"}
    assert all(row["time_ms"] is not None and row["time_ms"] >= 0 for row in r["ops"])
    assert timed["CONV_2D"]["time_ms"] > 0  # two convolutions cannot take under a microsecond each
    assert sum(row["time_share"] for row in r["ops"]) == pytest.approx(1.0)
    assert r["delegate"]["ops_delegated"] == 0


def test_op_profiling_xnnpack_attributes_operators_to_tflite_ops(tests_data):
    (r,) = profile(tests_data / INT8, num_runs=20, op_profiling=True, num_threads=1)
    assert "XNNPACK operators attributed to the TFLite ops" in r["op_timing"]
    rows = {row["op"]: row for row in r["ops"]}
    assert set(rows) == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MEAN", "SOFTMAX"}
    assert all(row["time_ms"] is not None for row in rows.values())
    assert rows["CONV_2D"]["time_ms"] > 0 and rows["CONV_2D"]["macs"] == 39_200


def test_xnnpack_attribution_refuses_what_does_not_line_up(tests_data):
    from edgecnn.profile import attribute_xnnpack
    from edgecnn.tflite_file import read_tflite

    model = read_tflite(tests_data / INT8)
    names = ["Convolution (NHWC, QC8) IGEMM", "Convolution (NHWC, QC8) DWConv", "Fully Connected (NC, QS8, QC8W) GEMM",
             "Max Pooling (NHWC, S8)", "Mean (ND) Reduce", "Static Reshape (NC)", "Fully Connected (NC, QS8, QC8W) GEMM"]
    nodes = [{"node": i, "op": f"xnn: {n}", "ms": 0.001 * (i + 1), "xnnpack_node": True} for i, n in enumerate(names)]
    nodes.append({"node": 6, "op": "SOFTMAX", "ms": 0.5, "xnnpack_node": False})
    times = attribute_xnnpack(model, [0, 1, 2, 3, 4, 5], nodes)
    assert times == pytest.approx({"CONV_2D": 0.001 + 0.003, "DEPTHWISE_CONV_2D": 0.002, "MAX_POOL_2D": 0.004,
                                   "MEAN": 0.005, "FULLY_CONNECTED": 0.006 + 0.007, "SOFTMAX": 0.5})
    swapped = nodes[:1] + [nodes[3]] + nodes[2:3] + [nodes[1]] + nodes[4:]  # DWConv where MAX_POOL belongs
    assert attribute_xnnpack(model, [0, 1, 2, 3, 4, 5], swapped) is None
    assert attribute_xnnpack(model, [0, 1, 2, 3, 4, 5], nodes[:-2] + nodes[-1:]) is None  # an op left over


def test_input_npy_and_image(tests_data, tmp_path):
    good = tmp_path / "x.npy"
    np.save(good, np.zeros((28, 28, 1), np.float32))  # batch dimension added
    (r,) = profile(tests_data / INT8, input=str(good), num_runs=5, num_threads=1)  # float → quantised
    assert r["input"] == {"source": str(good), "kind": "npy"}
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 3), np.float32))
    with pytest.raises(EdgecnnError, match=r"does not match the model input \[1, 28, 28, 1\]"):
        profile(tests_data / FLOAT, input=str(bad))
    from PIL import Image

    Image.fromarray(np.full((40, 30), 200, np.uint8)).save(tmp_path / "img.png")
    (r,) = profile(tests_data / FLOAT, input=str(tmp_path / "img.png"), num_runs=5, num_threads=1)
    assert r["input"]["kind"] == "image"
    with pytest.raises(EdgecnnError, match="not a readable image"):
        (tmp_path / "junk.png").write_bytes(b"not an image")
        profile(tests_data / FLOAT, input=str(tmp_path / "junk.png"))


def test_bad_options():
    with pytest.raises(UsageError, match="--num-runs"):
        profile("x.tflite", num_runs=0)
    with pytest.raises(UsageError, match="--num-threads"):
        profile("x.tflite", num_threads=0)
    with pytest.raises(UsageError, match="unknown profile option"):
        profile("x.tflite", runs=3)


# ---- the command ------------------------------------------------------------------------------------

def test_cli_json_is_the_only_stdout(cli, tests_data):
    one = cli("profile", str(tests_data / INT8), "--json", "--num-runs", "10", "--num-threads", "1")
    assert one.returncode == 0, one.stderr
    doc = json.loads(one.stdout)
    assert isinstance(doc, dict) and doc["size_bytes"] == os.path.getsize(tests_data / INT8)
    _check_latency(doc["latency_ms"])
    two = cli("profile", str(tests_data / FLOAT), str(tests_data / INT8), "--json", "--num-runs", "10")
    docs = json.loads(two.stdout)
    assert isinstance(docs, list) and [d["name"] for d in docs] == [FLOAT, INT8]
    assert "speedup" in docs[1]["vs_first"]


def test_cli_table_csv_and_report(cli, tests_data, tmp_path):
    table = cli("profile", str(tests_data / FLOAT), str(tests_data / INT8), "--num-runs", "10",
                "-o", str(tmp_path / "report.md"))
    assert table.returncode == 0, table.stderr
    for text in ("p50", "p99", "speed-up vs first", "xnnpack 6/7", "per-op time unavailable", "Measured on"):
        assert text in table.stdout
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# edgecnn profile") and f"`{INT8}`" in report and "| CONV_2D | 2 |" in report
    out = cli("profile", str(tests_data / INT8), "--csv", "--num-runs", "5")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 1 and int(rows[0]["size_bytes"]) == os.path.getsize(tests_data / INT8)
    assert float(rows[0]["p50_ms"]) <= float(rows[0]["p99_ms"])


def _assert_one_line_error(proc, *fragments: str, code: int = 1) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_bad_inputs_one_line_each(cli, tests_data, tmp_path):
    (tmp_path / "empty.tflite").write_bytes(b"")
    (tmp_path / "random.tflite").write_bytes(np.random.default_rng(1).bytes(4000))
    data = (tests_data / FLOAT).read_bytes()
    (tmp_path / "truncated.tflite").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[200] ^= 0xFF
    flipped[4] = ord("X")  # identifier byte
    (tmp_path / "flipped.tflite").write_bytes(bytes(flipped))
    cases = [
        ([str(tmp_path / "missing.tflite")], "no such file"),
        ([str(tmp_path)], "is a directory"),
        ([str(tmp_path / "empty.tflite")], "empty file"),
        ([str(tmp_path / "random.tflite")], "not a .tflite model"),
        ([str(tmp_path / "truncated.tflite")], "corrupt .tflite file"),
        ([str(tmp_path / "flipped.tflite")], "not a .tflite model"),
        ([str(tests_data / "tiny_cnn_custom_op.tflite")], "unresolved custom op: EdgecnnNoSuchOp"),
        ([str(tests_data / FLOAT), "--delegate", "edgetpu"], "libedgetpu"),
        ([str(tests_data / FLOAT), "--delegate", str(tmp_path / "libmissing.so")], "no such file"),
    ]
    for args, fragment in cases:
        _assert_one_line_error(cli("profile", *args, "--num-runs", "3"), fragment)
    _assert_one_line_error(cli("profile", str(tests_data / FLOAT), "--num-runs", "0"), "--num-runs", code=2)
    _assert_one_line_error(cli("profile", str(tests_data / FLOAT), "--json", "--csv"), "choose one", code=2)


def test_without_schema_profiles_with_runtime_facts_only(tests_data, monkeypatch):
    """The tflite_runtime fallback has no schema: no params/MACs, op counts from the runtime's nodes."""
    import edgecnn.tflite_file

    monkeypatch.setattr(edgecnn.tflite_file, "schema_available", lambda: False)
    (r,) = profile(tests_data / INT8, num_runs=5, num_threads=1)
    assert r["params"] is None and r["macs"] is None and r["size_bytes"] == os.path.getsize(tests_data / INT8)
    _check_latency(r["latency_ms"])
    ops = {row["op"]: row for row in r["ops"]}
    assert ops["CONV_2D"]["count"] == 2 and ops["CONV_2D"]["macs"] is None and r["num_ops"] == 7
    with pytest.raises(EdgecnnError, match="not a .tflite model"):
        profile(__file__, num_runs=1)  # a Python file is not a model


def test_cli_host_delegates_to_remote(monkeypatch, tests_data):
    """--host hands the models and the options to edgecnn.targets.remote.profile_remote; same report."""
    from click.testing import CliRunner

    import edgecnn.targets.remote as remote
    from edgecnn.cli import cli as group

    calls = []

    def fake_remote(models, options, host, identity=None, *, remote_python=None):
        calls.append((models, options, host, identity, remote_python))
        lat = {"mean": 2.0, "std": 0.1, "min": 1.9, "p50": 2.0, "p90": 2.1, "p99": 2.2, "max": 2.3}
        return [{"model": m, "name": os.path.basename(m), "size_bytes": 1000 * (i + 1), "latency_ms": lat,
                 "throughput_per_s": 500.0, "runs": 7, "num_threads": 4, "init_ms": 5.0, "first_inference_ms": 3.0,
                 "delegate": {"requested": "xnnpack", "ops_delegated": 7, "ops_total": 7}, "ops": [],
                 "op_timing": "per-op time unavailable", "memory": {},
                 "machine": {"host": "pi", "arch": "aarch64", "cpu": "Cortex-A72", "cores": 4}}
                for i, m in enumerate(models)]

    monkeypatch.setattr(remote, "profile_remote", fake_remote)
    args = ["profile", str(tests_data / FLOAT), str(tests_data / INT8), "--host", "pi@raspberrypi:2222",
            "--identity", "/tmp/key", "--remote-python", "/opt/ec/bin/python", "--num-runs", "7", "--num-threads", "4"]
    out = CliRunner().invoke(group, args)
    assert out.exit_code == 0, out.output
    (models, options, host, identity, remote_python), = calls
    assert remote_python == "/opt/ec/bin/python"
    assert models == [str(tests_data / FLOAT), str(tests_data / INT8)] and host == "pi@raspberrypi:2222"
    assert options == ProfileOptions(num_threads=4, num_runs=7) and identity == "/tmp/key"
    assert "aarch64" in out.output and "Cortex-A72" in out.output and "2.00×" in out.output  # size ratio
    bad = CliRunner().invoke(group, ["profile", str(tests_data / FLOAT), "--identity", "/tmp/key"])
    assert bad.exit_code == 2 and "need --host" in bad.output


# ---- interleaving and typed options -----------------------------------------------------------------

def test_interleaved_timing_alternates_and_stops_at_a_round_end():
    from edgecnn.profile import interleaved_timing

    calls: list[str] = []
    runners = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    turns: list[tuple[str, int]] = []
    times = interleaved_timing(runners, rounds=4, warmup=1, burst=2, listener=lambda key, r: turns.append((key, r)))
    assert calls == ["a", "b", "c"] + ["a", "a", "b", "b", "c", "c"] * 4  # warm-up round, then bursts in turn
    assert turns == [(k, r) for r in range(4) for k in ("a", "b", "c")]
    assert {k: len(v) for k, v in times.items()} == {"a": 8, "b": 8, "c": 8}
    assert all((v >= 0).all() for v in times.values())
    # a deadline already passed: the first round still completes, for every runner alike
    calls.clear()
    times = interleaved_timing(runners, rounds=1000, max_secs=1e-9)
    assert calls == ["a", "b", "c"] and {len(v) for v in times.values()} == {1}


def test_interleaved_timing_takes_a_burst_per_runner():
    from edgecnn.profile import interleaved_timing

    calls: list[str] = []
    runners = {name: (lambda name=name: calls.append(name)) for name in ("a", "b")}
    times = interleaved_timing(runners, rounds=2, burst={"a": 3, "b": 1})
    assert calls == ["a", "a", "a", "b"] * 2
    assert {k: len(v) for k, v in times.items()} == {"a": 6, "b": 2}


def _busy(ms: float):
    def run() -> None:
        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            pass
    return run


def test_turn_bursts_fill_a_turn_of_min_turn_ms():
    """ceil(5 ms / fastest call): a 0.25 ms call gets 20 (a little less if it overruns), a 6 ms call 1;
    the default turn is 20 ms."""
    from edgecnn.profile import MAX_BURST, turn_bursts

    calls: list[str] = []
    runners = {"fast": _busy(0.25), "slow": _busy(6.0), "noop": lambda: calls.append("noop")}
    bursts = turn_bursts(runners, warmup=3, min_turn_ms=5.0)
    assert 15 <= bursts["fast"] <= 20 and bursts["slow"] == 1
    assert bursts["noop"] == MAX_BURST  # ~0.1 µs a call: capped
    assert len(calls) == 3 + MAX_BURST  # warm-up: 3 calls, then up to 5 ms of them, at most max_burst more
    assert turn_bursts(runners, warmup=0) == {"fast": 1, "slow": 1, "noop": 1}  # nothing to size from
    assert 60 <= turn_bursts({"fast": _busy(0.25)}, warmup=3)["fast"] <= 80


def test_interleaved_timing_names_the_failing_runner():
    from edgecnn.profile import InvokeError, interleaved_timing

    def broken():
        raise RuntimeError("boom")

    with pytest.raises(InvokeError) as err:
        interleaved_timing({"ok": lambda: None, "bad": broken}, rounds=3)
    assert err.value.key == "bad" and "boom" in str(err.value)


def test_measure_models_invokes_real_models_in_turn(tests_data):
    """The child's timing loop on two real interpreters: the listener sees float32, int8, float32, int8, …"""
    from edgecnn.profile import measure_models

    turns: list[int] = []
    results = measure_models([str(tests_data / FLOAT), str(tests_data / INT8)], num_threads=1, warmup_runs=1,
                             num_runs=6, listener=lambda key, r: turns.append(key))
    assert turns == [0, 1] * 6
    # Each invoke of these tiny models takes microseconds, far below a 20 ms turn: each turn is a burst.
    assert all(r["timing"]["burst"] > 1 and r["runs"] == 6 * r["timing"]["burst"] for r in results)
    assert all({k: v for k, v in r["timing"].items() if k != "burst"}
               == {"interleaved": True, "models": 2, "rounds": 6, "min_turn_ms": 20.0, "max_secs": 120.0}
               for r in results)
    assert results[1]["delegate"]["ops_delegated"] == 6 and results[0]["delegate"]["ops_delegated"] == 7


def test_profile_several_models_share_one_interleaved_process(tests_data):
    results = profile([tests_data / FLOAT, tests_data / INT8, tests_data / FLOAT], num_threads=1, num_runs=12,
                      warmup_runs=0)
    assert [r["runs"] for r in results] == [12, 12, 12]  # same rounds; no warm-up, so no bursts to size
    assert {r["timing"]["models"] for r in results} == {3} and all(r["timing"]["interleaved"] for r in results)
    assert {r["memory"]["peak_rss_bytes"] for r in results} != {None}
    assert len({r["memory"]["peak_rss_bytes"] for r in results}) == 1  # one process held all three
    (single,) = profile(tests_data / INT8, num_threads=1, num_runs=5)
    assert single["timing"]["interleaved"] is False and "vs_first" not in single


def test_profile_names_the_model_that_fails_among_several(tests_data):
    with pytest.raises(EdgecnnError, match=r"tiny_cnn_custom_op\.tflite.*EdgecnnNoSuchOp"):
        profile([tests_data / FLOAT, tests_data / "tiny_cnn_custom_op.tflite"], num_runs=3)


def test_min_turn_ms_zero_times_one_invoke_a_turn(cli, tests_data):
    (result,) = profile(tests_data / INT8, num_threads=1, num_runs=7, min_turn_ms=0)
    assert result["runs"] == 7 and result["timing"]["burst"] == 1
    bad = cli("profile", str(tests_data / INT8), "--min-turn-ms", "-2")
    assert bad.returncode == 2 and "--min-turn-ms must be between 0 and 1000, got -2.0" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_says_the_models_were_interleaved(cli, tests_data):
    out = cli("profile", str(tests_data / FLOAT), str(tests_data / INT8), "--num-runs", "8", "--num-threads", "1")
    assert out.returncode == 0, out.stderr
    assert ("The 2 models were timed interleaved in one process (a turn of each in turn, 8 rounds; a model faster "
            "than 20 ms ran back to back for 20 ms a turn)") in " ".join(out.stdout.split())


@pytest.mark.parametrize("options", [
    ProfileOptions(),
    ProfileOptions(num_threads=3, num_runs=7),
    ProfileOptions(warmup_runs=0, max_secs=2.5, delegate="none", op_profiling=True),
    ProfileOptions(min_turn_ms=0.0, num_runs=3),
    ProfileOptions(delegate="/opt/lib/libdelegate.so", input="x.npy", num_runs=1),
])
def test_options_round_trip_through_the_command_line_flags(options):
    """What profile_remote sends is what the remote's `edgecnn profile` parses back (the same click options)."""
    args = options.to_cli_args()
    assert ProfileOptions.from_cli_args(args) == options
    assert args.count("--num-runs") == (options.num_runs != 100)  # defaults are not sent


def test_options_flags_written_by_hand():
    assert ProfileOptions(num_runs=50, op_profiling=True).to_cli_args() == ["--num-runs", "50", "--op-profiling"]
    assert ProfileOptions(max_secs=0.5).to_cli_args(remote=True) == ["--max-secs", "0.5"]
    with pytest.raises(UsageError, match="--input is not supported with --host"):
        ProfileOptions(input="x.npy").to_cli_args(remote=True)
    assert ProfileOptions.from_kwargs(num_runs=None, warmup_runs=2) == ProfileOptions(warmup_runs=2)
    assert ProfileOptions.from_kwargs(ProfileOptions(num_runs=9), warmup_runs=1) == ProfileOptions(num_runs=9,
                                                                                                   warmup_runs=1)
    for bad, flag in (({"num_runs": 0}, "--num-runs"), ({"warmup_runs": -1}, "--warmup-runs"),
                      ({"max_secs": 0.0}, "--max-secs"), ({"num_threads": 2.5}, "--num-threads"),
                      ({"min_turn_ms": -1.0}, "--min-turn-ms"), ({"min_turn_ms": float("nan")}, "--min-turn-ms")):
        with pytest.raises(UsageError, match=flag):
            ProfileOptions(**bad)
    with pytest.raises(UsageError, match="--num-runs"):
        ProfileOptions.from_cli_args(["--num-runs", "x"])
