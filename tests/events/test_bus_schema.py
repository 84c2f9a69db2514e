"""The bus's published contract: committed schemas are the generated ones, and real messages fit them."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from core.clock import FakeClock
from events.bus_schema import file_name, main, render, schema, stale, write
from events.messages import Topic
from events.service import EventsService
from tests.events.bus_scenario import run_scenario
from tests.events.conftest import Recorder

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bus"


def test_the_committed_schemas_are_the_generated_ones() -> None:
    assert stale(DOCS) == [], "run: python -m events.bus_schema --write docs/bus"
    assert sorted(p.name for p in DOCS.glob("*.schema.json")) == sorted(file_name(t) for t in Topic)


def test_messages_the_service_publishes_fit_their_topics_schema(
    service: EventsService, bus_log: Recorder, clock: FakeClock
) -> None:
    run_scenario(service, clock)
    validators = {t: Draft202012Validator(schema(t), format_checker=Draft202012Validator.FORMAT_CHECKER) for t in Topic}
    for t in Topic:
        Draft202012Validator.check_schema(schema(t))
    assert set(bus_log.topics) == set(Topic)
    for d in bus_log.messages:
        wire = json.loads(json.dumps(dict(d.payload)))
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validators[d.topic].iter_errors(wire)]
        assert errors == [], f"{d.topic}: {errors}"


def test_a_payload_that_lost_a_field_does_not_fit() -> None:
    validator = Draft202012Validator(schema(Topic.CASE_ACCEPTED))
    errors = list(validator.iter_errors({"action": "accept"}))
    assert [e.message for e in errors] == ["'case' is a required property"]


def test_the_generator_writes_checks_and_prunes(tmp_path: Path) -> None:
    (tmp_path / "alert.renamed.schema.json").write_text("{}")
    assert main(["--check", str(tmp_path)]) == 1
    assert len(write(tmp_path)) == len(Topic)
    assert not (tmp_path / "alert.renamed.schema.json").exists()
    assert main(["--check", str(tmp_path)]) == 0
    assert write(tmp_path) == []
    (tmp_path / file_name(Topic.CASE_COMMENT)).write_text(render(Topic.CASE_COMMENT).replace("case_id", "case"))
    assert stale(tmp_path) == [file_name(Topic.CASE_COMMENT)]
