"""`gridwatch plan`: the per-camera cost arithmetic (table-tested against hand-worked figures of the built-in
costs) and the command line on small hand-written sites and the generated full-size one."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from camera_config.generate import generate_site
from camera_config.stream_settings import DecodeMode, DetectSettings
from camera_config.types import Camera, CameraLevel
from core.errors import InvalidInput
from gridwatch.capacity import DECODE_MS, CostModel, Profile, moving_load, nodes_needed, plan_site, profile, quiet_load
from tests.camera_config.sites import camera, site
from tests.support.cli import Gridwatch

FIXED = CostModel(
    read_core_per_camera=0.002,
    decode_ms={"360p": 1.5, "720p": 4.0, "1080p": 10.0},
    gate_ms=0.3,
    inference_ms=6.0,
    still_ms=0.5,
    events_ms=0.2,
)
"""Round figures for the arithmetic tables (the built-in ones are measured and change with the machine)."""


def cam(cid: str = "C1", *, sub: bool = True, compound: str | None = "K1", **detect: Any) -> Camera:
    return Camera(
        id=cid,
        name=cid,
        level=CameraLevel.COMPOUND,
        grid_id="G1",
        main_url=f"rtsp://10.0.0.1/{cid}/main",
        sub_url=f"rtsp://10.0.0.1/{cid}/sub" if sub else None,
        compound_id=compound,
        detect=DetectSettings(**detect),
    )


# --- the arithmetic ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("camera_", "expected"),
    [
        (cam(), Profile("360p", DecodeMode.AUTO, 1.0, 1.0)),  # default fps 5, capped by 1 keyframe a second
        (cam(sub=False), Profile("1080p", DecodeMode.AUTO, 1.0, 1.0)),
        (cam(mode="keyframe", fps=0.5), Profile("360p", DecodeMode.KEYFRAME, 0.5, 0.5)),
        (cam(mode="keyframe", fps=10), Profile("360p", DecodeMode.KEYFRAME, 1.0, 1.0)),
        (cam(mode="sampled", fps=5), Profile("360p", DecodeMode.SAMPLED, 25.0, 5.0)),  # decodes all 25 fps
        (cam(mode="full", fps=2), Profile("360p", DecodeMode.FULL, 25.0, 2.0)),
        (cam(mode="full", fps=40), Profile("360p", DecodeMode.FULL, 25.0, 25.0)),  # never more than the input
    ],
)
def test_profile_of_a_camera(camera_: Camera, expected: Profile) -> None:
    assert profile(camera_) == expected


def test_the_resolution_classes_can_be_overridden() -> None:
    assert profile(cam(), sub_resolution="720p").resolution == "720p"
    assert profile(cam(sub=False), main_resolution="720p").resolution == "720p"


@pytest.mark.parametrize(
    ("camera_", "gpu", "cpu", "gpu_share"),
    [
        # read 0.002 + decode 1.5 ms + gate 0.3 ms + inference 6 ms + events 0.2 ms, once a second
        (cam(), False, 0.0100, 0.0),
        (cam(sub=False), False, 0.0185, 0.0),  # decode 10 ms at 1080p
        # 25 frames decoded and gated (1.8 ms each), 5 analysed (6.2 ms each)
        (cam(mode="sampled", fps=5), False, 0.002 + 25 * 0.0018 + 5 * 0.0062, 0.0),
        # the GPU takes the model, the CPU keeps the rules (0.5 ms)
        (cam(), True, 0.0045, 0.001),
    ],
)
def test_a_moving_camera(camera_: Camera, gpu: bool, cpu: float, gpu_share: float) -> None:
    load = moving_load(profile(camera_), FIXED, gpu=gpu)
    assert load.cpu == pytest.approx(cpu)
    assert load.gpu == pytest.approx(gpu_share)


@pytest.mark.parametrize(
    ("camera_", "cpu"),
    [
        (cam(), 0.002 + (1.5 + 0.3 + 0.5 + 0.2) / 10_000),  # decode, gate, rules and events once per 10 s
        (cam(sub=False), 0.002 + (10 + 0.3 + 0.5 + 0.2) / 10_000),
        (cam(mode="full", fps=25), 0.002 + (1.5 + 0.3 + 0.5 + 0.2) / 10_000),  # quiet is quiet in any mode
    ],
)
def test_a_quiet_camera(camera_: Camera, cpu: float) -> None:
    load = quiet_load(profile(camera_), FIXED)
    assert load.cpu == pytest.approx(cpu)
    assert load.inference == 0.0


@pytest.mark.parametrize(
    ("cores", "node_cores", "nodes"),
    [
        (0.0, 2, 0),
        (1.4, 2, 1),  # a 2-core node: 2 × 0.8 − 0.2 = 1.4 usable
        (1.41, 2, 2),
        (2.8, 2, 2),  # exactly two nodes, whatever the float rounding says
        (7.33, 2, 6),
        (7.33, 8, 2),  # 8 × 0.8 − 0.2 = 6.2 usable
    ],
)
def test_nodes_needed(cores: float, node_cores: float, nodes: int) -> None:
    model = FIXED
    assert nodes_needed(cores, node_cores * model.usable_share - model.node_reserve_cores) == nodes


def test_the_expected_load_mixes_moving_and_quiet_cameras_by_the_motion_share() -> None:
    cameras = [cam(f"C{i}") for i in range(4)]
    for share in (0.0, 0.25, 1.0):
        costs = FIXED.with_motion_share(share, "test")
        plan = plan_site(cameras, costs, node_cores=2)
        moving, quiet = plan.profiles[0].moving.cpu, plan.profiles[0].quiet.cpu
        assert plan.cores == pytest.approx(4 * (share * moving + (1 - share) * quiet))


def test_doubling_the_cameras_doubles_the_cores() -> None:
    mixed = [cam("A"), cam("B", sub=False), cam("C", mode="sampled", fps=4), cam("D", compound=None)]
    doubled = mixed + [cam(f"{c.id}2", sub=c.sub_url is not None, **c.detect.model_dump()) for c in mixed]
    one, two = (plan_site(cs, FIXED, node_cores=2) for cs in (mixed, doubled))
    assert two.cores == pytest.approx(2 * one.cores)
    assert two.nodes >= one.nodes
    assert two.moving_frames_per_s == pytest.approx(2 * one.moving_frames_per_s)


def test_disabled_cameras_do_not_count() -> None:
    enabled = [cam("A"), cam("B")]
    plan = plan_site([*enabled, replace(cam("C"), enabled=False)], FIXED, node_cores=2)
    assert (plan.cameras, plan.disabled) == (2, 1)
    assert plan.cores == pytest.approx(plan_site(enabled, FIXED, node_cores=2).cores)


def test_gpu_moves_the_model_off_the_cpu_nodes_and_counts_gpu_nodes() -> None:
    cameras = [cam(f"C{i}", mode="sampled", fps=5) for i in range(400)]
    cpu = plan_site(cameras, FIXED, node_cores=8)
    gpu = plan_site(cameras, FIXED, node_cores=8, gpu=True)
    assert gpu.cores < cpu.cores
    assert gpu.nodes < cpu.nodes
    assert gpu.moving_frames_per_s == pytest.approx(400 * 5 * 0.25)  # 500 frames/s with motion
    assert gpu.gpu_nodes == 2  # 400 frames/s per GPU node
    assert cpu.gpu_nodes == 0


@pytest.mark.parametrize(
    ("cameras", "per_process", "processes"),
    [
        (0, 150.0, 0),  # nothing to watch: no node, no process
        (100, 150.0, 1),
        (150, 150.0, 1),
        (151, 150.0, 2),  # one camera past what a process holds
        (300, 150.0, 2),
        (300, 100.0, 3),  # a costs file that measured fewer per process
    ],
)
def test_a_node_runs_a_worker_process_per_share_of_its_cameras(
    cameras: int, per_process: float, processes: int
) -> None:
    costs = replace(FIXED, process_cameras=per_process)
    plan = plan_site([cam(f"C{i}") for i in range(cameras)], costs, node_cores=64)  # one node holds them all
    assert plan.nodes == (1 if cameras else 0)
    assert plan.processes_per_node == processes


def test_compounds_biggest_first_with_the_cameras_outside_any() -> None:
    cameras = [cam("A", compound="K1"), cam("B", compound="K2"), cam("C", compound="K2"), cam("D", compound=None)]
    plan = plan_site(cameras, FIXED, node_cores=2, compound_names={"K1": "One", "K2": "Two"})
    assert [(c.compound_id, c.name, c.cameras) for c in plan.compounds] == [
        ("K2", "Two", 2),
        (None, "(no compound)", 1),
        ("K1", "One", 1),
    ]
    assert sum(c.cores for c in plan.compounds) == pytest.approx(plan.cores)


def test_an_unknown_resolution_class_or_a_node_too_small_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        plan_site([cam()], FIXED, node_cores=0.25, sub_resolution="4k")
    assert [i.where for i in refused.value.issues] == ["--sub-resolution", "--node-cores"]
    assert "'4k'" in str(refused.value)


# --- the costs file ---------------------------------------------------------------------------------------------


def test_a_costs_file_sets_some_figures_and_the_rest_stay_assumed(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"gate_ms": 0.4, "decode_ms": {"360p": 2.0}, "usable_share": 0.7}), encoding="utf-8")
    model = CostModel.from_json(path)
    assert (model.gate_ms, model.usable_share) == (0.4, 0.7)
    assert dict(model.decode_ms) == {"360p": 2.0, "720p": DECODE_MS["720p"], "1080p": DECODE_MS["1080p"]}
    assert model.source("gate_ms") == "costs.json"
    assert model.source("decode_ms.360p") == "costs.json"
    assumed = model.assumed()
    assert "gate_ms" not in assumed
    assert "decode_ms.360p" not in assumed
    assert {"decode_ms.1080p", "inference_ms", "motion_share"} <= set(assumed)
    assert len(assumed) == len(FIXED.assumed()) - 3


@pytest.mark.parametrize(
    ("doc", "messages"),
    [
        ({"gate_mss": 0.3}, ["costs.json gate_mss: unknown key (expected one of: read_core_per_camera"]),
        ({"gate_ms": -1}, ["costs.json gate_ms: must not be negative, got -1"]),
        ({"inference_ms": "fast"}, ['costs.json inference_ms: must be a number, got "fast"']),
        ({"still_ms": True}, ["costs.json still_ms: must be a number, got true"]),
        ({"motion_share": 1.5}, ["costs.json motion_share: is a share: must be between 0 and 1, got 1.5"]),
        ({"quiet_check_s": 0}, ["costs.json quiet_check_s: must be more than 0, got 0"]),
        ({"decode_ms": {"360p": -2}}, ["costs.json decode_ms.360p: must be a number of ms ≥ 0, got -2"]),
        ({"decode_ms": 3}, ["costs.json decode_ms: must be an object of resolution class → ms"]),
        (
            {"gate_ms": None, "bogus": 1, "events_ms": 0.1},
            ["costs.json gate_ms: must be a number, got null", "costs.json bogus: unknown key"],
        ),
        ([1, 2], ["costs.json: a costs file must be a JSON object, got list"]),
    ],
)
def test_a_bad_costs_file_names_every_bad_key(tmp_path: Path, doc: Any, messages: list[str]) -> None:
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        CostModel.from_json(path)
    issues = [str(i) for i in refused.value.issues]
    assert len(issues) == len(messages)
    for issue, message in zip(issues, messages, strict=True):
        assert issue.startswith(message)


def test_a_costs_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    path.write_text('{"gate_ms": 0.3,\n}', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"costs.json line 2: not valid JSON"):
        CostModel.from_json(path)


# --- the command line -------------------------------------------------------------------------------------------


def site_file(tmp_path: Path, cameras: int, *, compounds: int = 3, name: str = "site.yaml", **over: Any) -> Path:
    """A valid site of ``cameras`` cameras spread over ``compounds`` compounds, one grid each."""
    ids = [f"K{i + 1}" for i in range(compounds)]
    doc = site(
        compounds=[{"id": k, "name": f"Compound {k}", "property_company": "PC1"} for k in ids],
        grids=[{"id": f"G-{k}", "name": f"Grid {k}", "community": "CM1", "compounds": [k]} for k in ids],
        people=[],
        cameras=[camera(f"C{i}", **{"compound": ids[i % compounds], **copy.deepcopy(over)}) for i in range(cameras)],
    )
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.fixture
def round_costs(tmp_path: Path) -> str:
    """A costs file with the FIXED figures, so that the command's sums are the tables' round numbers."""
    path = tmp_path / "round.json"
    figures = {
        k: getattr(FIXED, k) for k in ("read_core_per_camera", "gate_ms", "inference_ms", "still_ms", "events_ms")
    }
    path.write_text(json.dumps({**figures, "decode_ms": dict(FIXED.decode_ms)}), encoding="utf-8")
    return str(path)


def plan_json(gridwatch: Gridwatch, *args: str) -> dict[str, Any]:
    res = gridwatch("plan", *args, "--json")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def test_plan_prints_the_nodes_the_split_and_what_is_assumed(
    tmp_path: Path, gridwatch: Gridwatch, round_costs: str
) -> None:
    path = site_file(tmp_path, 300)
    res = gridwatch("plan", "--site", str(path), "--costs", round_costs)
    assert res.returncode == 0, res.stderr
    assert f"{path}: 300 enabled cameras (300 with a sub stream, 0 main stream only)" in res.stdout
    # 300 × (0.25 × 1.0 % + 0.75 × 0.225 %) = 1.256 cores; 1.4 usable on a 2-core node
    assert "site total: 1.26 cores (expected, 25% of cameras moving)" in res.stdout
    assert "node: 2 cores × 80% usable − 0.2 reserved = 1.40 cores for cameras" in res.stdout
    assert "nodes needed: 1" in res.stdout
    assert "worker processes per node: 2 (`gridwatch worker --shard K/N`; one process holds up to 150" in res.stdout
    assert "GPU nodes" not in res.stdout
    for stage in ("read", "decode", "gate", "inference", "rules", "events"):
        assert f"│ {stage}" in res.stdout
    assert re.search(r"│ total\s+│\s+1\.000 │\s+0\.225 │\s+0\.419 │", res.stdout)  # % of a core: moving, quiet, mean
    assert "assumed (built-in, not from a --costs file): quiet_check_s, motion_share, usable_share" in res.stdout
    assert "motion share: 25% (assumed: set it with --motion-share)" in res.stdout
    assert "Compound K1" in res.stdout
    assert res.stderr == ""


def test_plan_json_has_the_same_figures(tmp_path: Path, gridwatch: Gridwatch, round_costs: str) -> None:
    doc = plan_json(gridwatch, "--site", str(site_file(tmp_path, 300)), "--costs", round_costs)
    assert doc["nodes"] == 1
    assert doc["gpu_nodes"] is None
    assert doc["cores"] == pytest.approx(1.256, abs=1e-3)
    assert doc["node"] == {
        "cores": 2.0,
        "usable_share": 0.8,
        "reserve_cores": 0.2,
        "usable_cores": 1.4,
        "worker_processes": 2,  # 300 cameras on the node, 150 a process
        "cameras_per_process": 150.0,
    }
    assert doc["cameras"] == {"enabled": 300, "disabled": 0, "with_sub_stream": 300, "main_only": 0}
    [kind] = doc["per_camera"]
    assert (kind["cameras"], kind["resolution"], kind["mode"], kind["analysed_fps_moving"]) == (300, "360p", "auto", 1)
    assert kind["moving"]["cpu"] == pytest.approx(0.01)
    assert [c["id"] for c in doc["compounds"]] == ["K1", "K2", "K3"]
    assert sum(c["cameras"] for c in doc["compounds"]) == 300
    assert "motion_share" in doc["assumed"]
    assert doc["sources"]["gate_ms"] == "round.json"
    assert doc["sources"]["quiet_check_s"] == "built-in"


def test_doubling_the_cameras_doubles_the_cores_and_the_nodes_follow(
    tmp_path: Path, gridwatch: Gridwatch, round_costs: str
) -> None:
    one = plan_json(gridwatch, "--site", str(site_file(tmp_path, 500, name="one.yaml")), "--costs", round_costs)
    two = plan_json(gridwatch, "--site", str(site_file(tmp_path, 1000, name="two.yaml")), "--costs", round_costs)
    assert two["cores"] == pytest.approx(2 * one["cores"], rel=1e-3)
    assert (one["nodes"], two["nodes"]) == (2, 3)  # 2.09 and 4.19 cores, 1.4 a node


def test_main_only_cameras_and_disabled_ones(tmp_path: Path, gridwatch: Gridwatch) -> None:
    path = site_file(tmp_path, 4, streams={"main": "rtsp://10.0.0.1/main"})
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["cameras"][0]["enabled"] = False
    doc["cameras"][1]["streams"]["sub"] = "rtsp://10.0.0.1/sub"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    res = gridwatch("plan", "--site", str(path))
    assert res.returncode == 0, res.stderr
    assert "3 enabled cameras (1 with a sub stream, 2 main stream only), 1 disabled (not counted)" in res.stdout
    assert "2 cameras, 1080p auto, 1 fps analysed" in res.stdout
    assert "1 cameras, 360p auto, 1 fps analysed" in res.stdout


def test_gpu_lowers_the_cpu_nodes_and_reports_gpu_nodes(tmp_path: Path, gridwatch: Gridwatch, round_costs: str) -> None:
    path = site_file(tmp_path, 400, detect={"mode": "sampled", "fps": 10})
    cpu = plan_json(gridwatch, "--site", str(path), "--costs", round_costs)
    gpu = plan_json(gridwatch, "--site", str(path), "--gpu", "--costs", round_costs)
    assert (cpu["nodes"], gpu["nodes"]) == (9, 5)  # 11.6 and 6.1 cores: decoding 25 fps stays on the CPU
    assert gpu["gpu_nodes"] == 3  # 400 × 10 fps × 25 % = 1000 frames/s, 400 a GPU node
    assert gpu["moving_frames_per_s"] == pytest.approx(1000)
    res = gridwatch("plan", "--site", str(path), "--gpu", "--costs", round_costs)
    assert "GPU nodes needed: 3 (1000.0 frames with motion a second, 400 per GPU node)" in res.stdout
    assert "% of a GPU" in res.stdout


def test_a_costs_file_shrinks_the_assumed_list(tmp_path: Path, gridwatch: Gridwatch) -> None:
    path = site_file(tmp_path, 10)
    costs = tmp_path / "measured.json"
    costs.write_text(json.dumps({"gate_ms": 0.4, "inference_ms": 9.0, "decode_ms": {"360p": 2.0}}), encoding="utf-8")
    before = plan_json(gridwatch, "--site", str(path))
    after = plan_json(gridwatch, "--site", str(path), "--costs", str(costs))
    assert set(after["assumed"]) == set(before["assumed"]) - {"gate_ms", "inference_ms", "decode_ms.360p"}
    assert after["sources"]["inference_ms"] == "measured.json"
    assert after["cores"] != before["cores"]
    res = gridwatch("plan", "--site", str(path), "--costs", str(costs))
    assumed_line = next(line for line in res.stdout.splitlines() if line.startswith("assumed"))
    assumed = assumed_line.split(": ", 1)[1].split(", ")
    assert "inference_ms" not in assumed
    assert "decode_ms.360p" not in assumed
    assert {"decode_ms.1080p", "gpu_inference_ms", "motion_share"} <= set(assumed)


def test_motion_share_from_the_option(tmp_path: Path, gridwatch: Gridwatch, round_costs: str) -> None:
    path = site_file(tmp_path, 100)
    still = plan_json(gridwatch, "--site", str(path), "--motion-share", "0", "--costs", round_costs)
    busy = plan_json(gridwatch, "--site", str(path), "--motion-share", "1", "--costs", round_costs)
    assert still["cores"] == pytest.approx(100 * 0.00225)
    assert busy["cores"] == pytest.approx(100 * 0.01)
    assert "motion_share" not in busy["assumed"]
    assert busy["sources"]["motion_share"] == "--motion-share"
    res = gridwatch("plan", "--site", str(path), "--motion-share", "0.5")
    assert "motion share: 50% (from --motion-share)" in res.stdout


def test_the_biggest_ten_compounds_and_a_line_for_the_rest(tmp_path: Path, gridwatch: Gridwatch) -> None:
    res = gridwatch("plan", "--site", str(site_file(tmp_path, 26, compounds=12)))
    assert res.returncode == 0, res.stderr
    shown = [line for line in res.stdout.splitlines() if "Compound K" in line]
    assert len(shown) == 10
    assert "K1 " in shown[0]  # K1 and K2 have three cameras, the others two
    assert "K2 " in shown[1]
    assert "the other 2 compounds" in res.stdout


def test_a_resolution_class_a_costs_file_adds(tmp_path: Path, gridwatch: Gridwatch) -> None:
    path = site_file(tmp_path, 10)
    refused = gridwatch("plan", "--site", str(path), "--sub-resolution", "4k")
    assert refused.returncode == 1
    assert "--sub-resolution: no decode cost for '4k' (known: 360p, 720p, 1080p" in refused.stderr
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"decode_ms": {"4k": 30.0}}), encoding="utf-8")
    doc = plan_json(gridwatch, "--site", str(path), "--sub-resolution", "4k", "--costs", str(costs))
    assert doc["per_camera"][0]["resolution"] == "4k"


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        (["--node-cores", "0"], ["--node-cores: must be more than 0, got 0"]),
        (["--motion-share", "1.5"], ["--motion-share: is a share: must be between 0 and 1, got 1.5"]),
        (
            ["--node-cores", "-2", "--motion-share", "-0.1"],
            [
                "--node-cores: must be more than 0, got -2",
                "--motion-share: is a share: must be between 0 and 1, got -0.1",
            ],
        ),
        (["--node-cores", "0.25"], ["--node-cores: 0.25 cores × 0.8 usable − 0.2 reserved leaves nothing for cameras"]),
    ],
)
def test_bad_options_name_the_option_and_value(
    tmp_path: Path, gridwatch: Gridwatch, args: list[str], errors: list[str]
) -> None:
    res = gridwatch("plan", "--site", str(site_file(tmp_path, 2)), *args)
    assert res.returncode == 1
    assert res.stdout == ""
    for error in errors:
        assert f"error {error}" in res.stderr
    assert f"{len(errors)} error(s)" in res.stderr


def test_a_bad_costs_file_on_the_command_line(tmp_path: Path, gridwatch: Gridwatch) -> None:
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"gate": 0.3, "still_ms": -1}), encoding="utf-8")
    res = gridwatch("plan", "--site", str(site_file(tmp_path, 2)), "--costs", str(costs))
    assert res.returncode == 1
    assert "error costs.json gate: unknown key" in res.stderr
    assert "error costs.json still_ms: must not be negative, got -1" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_missing_or_invalid_site(tmp_path: Path, gridwatch: Gridwatch) -> None:
    missing = gridwatch("plan", "--site", str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 1
    assert "nowhere.yaml: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = site_file(tmp_path, 2, compound="K9")
    invalid = gridwatch("plan", "--site", str(bad))
    assert invalid.returncode == 1
    assert 'cameras[0].compound: compound "K9" does not exist' in invalid.stderr
    assert invalid.stdout == ""


def test_help_names_every_option_and_where_costs_come_from(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridwatch.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    shown = capsys.readouterr().out
    assert "bench/capacity.py --write-costs FILE" in " ".join(shown.split())
    for option in ("--site", "--node-cores", "--gpu", "--costs", "--motion-share", "--json"):
        assert option in shown


@pytest.mark.slow
def test_the_generated_full_size_site(tmp_path: Path, gridwatch: Gridwatch, round_costs: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(generate_site(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    doc = plan_json(gridwatch, "--site", str(path), "--costs", round_costs)
    assert doc["cameras"]["enabled"] == 1751
    assert doc["cores"] == pytest.approx(1751 * 0.0041875, rel=1e-4)  # 7.33 cores
    assert doc["nodes"] == 6
    assert doc["node"]["worker_processes"] == 2  # 292 cameras a node
    assert len(doc["compounds"]) == 59  # 58 compounds and the road cameras


def test_a_raycluster_manifest_is_sized_from_the_plan(tmp_path: Path, gridwatch: Gridwatch, round_costs: str) -> None:
    path, manifest = site_file(tmp_path, 300), tmp_path / "raycluster.yaml"
    args = ["--site", str(path), "--costs", round_costs, "--node-cores", "4", "--raycluster", str(manifest)]
    res = gridwatch("plan", *args, "--image", "registry.example/gridwatch:1", "--api", "http://10.0.0.5:8000")
    assert res.returncode == 0, res.stderr
    assert f"RayCluster manifest: {manifest} (1 worker pod(s))" in res.stdout
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    assert (doc["apiVersion"], doc["kind"], doc["spec"]["rayVersion"]) == ("ray.io/v1", "RayCluster", "2.60.0")
    assert doc["spec"]["headGroupSpec"]["rayStartParams"] == {"num-cpus": "0"}  # the head runs no shard
    [group] = doc["spec"]["workerGroupSpecs"]
    # 1.256 cores fit one 4-core node (3 usable); 300 cameras on it: two shards of 1.5 CPU each
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (1, 1, 1)
    assert group["rayStartParams"] == {"num-cpus": "4"}
    [container] = group["template"]["spec"]["containers"]
    assert container["resources"]["requests"] == {"cpu": "4", "memory": f"{2 * 2048 + 1024}Mi"}
    assert container["image"] == "registry.example/gridwatch:1"
    token = next(e for e in container["env"] if e["name"] == "GRIDWATCH_WORKER_TOKEN")
    assert token["valueFrom"] == {"secretKeyRef": {"name": "gridwatch-worker-token", "key": "token"}}
    up = doc["metadata"]["annotations"]["gridwatch/cluster-up"]
    assert "--shards 2 --num-cpus 1.5 --memory-mb 2048" in up
    assert "--api http://10.0.0.5:8000" in up


def test_a_raycluster_needs_an_image_and_an_api_url(tmp_path: Path, gridwatch: Gridwatch) -> None:
    manifest = tmp_path / "raycluster.yaml"
    res = gridwatch("plan", "--site", str(site_file(tmp_path, 3)), "--raycluster", str(manifest), "--api", "10.0.0.5")
    assert res.returncode != 0
    assert "--image" in res.stderr
    assert "the API's http(s) URL is needed for --raycluster, got '10.0.0.5'" in res.stderr
    assert not manifest.exists()


def test_a_raycluster_with_gpus_adds_the_shared_detectors_nodes(
    tmp_path: Path, gridwatch: Gridwatch, round_costs: str
) -> None:
    path, manifest = site_file(tmp_path, 300), tmp_path / "raycluster.yaml"
    args = ["--site", str(path), "--costs", round_costs, "--gpu", "--raycluster", str(manifest)]
    res = gridwatch("plan", *args, "--image", "registry.example/gridwatch:1", "--api", "http://10.0.0.5:8000", "--json")
    assert res.returncode == 0, res.stderr
    gpus = json.loads(res.stdout)["gpu_nodes"]
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    cameras, detector = doc["spec"]["workerGroupSpecs"]
    assert cameras["groupName"] == "cameras"
    assert (detector["groupName"], detector["replicas"], detector["rayStartParams"]["num-gpus"]) == (
        "detector",
        gpus,
        "1",
    )
    [container] = detector["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    notes = doc["metadata"]["annotations"]
    assert "--detector-service gridwatch-detector" in notes["gridwatch/cluster-up"]
    assert (
        f"gridwatch cluster detector --address gridwatch-head-svc:6379 --app gridwatch-detector --replicas {gpus}"
        in (notes["gridwatch/detector-up"])
    )
    for group in (doc["spec"]["headGroupSpec"], cameras, detector):  # Ray's token auth on every pod
        [pod] = group["template"]["spec"]["containers"]
        env = {e["name"]: e for e in pod["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "gridwatch-ray-token"
    [head] = doc["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert {e["name"]: e.get("value") for e in head["env"]}["RAY_health_check_failure_threshold"] == "3"
