"""The events policy: defaults, partial YAML over them, and errors at their exact place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from core.errors import InvalidInput
from detectors.types import HazardType, Severity
from events.policy import Policy, load_policy, parse_policy
from events.types import Level, TriageClass
from tests.support.paths import REPO


def test_defaults_cover_every_hazard_and_severity() -> None:
    policy = Policy()
    assert set(policy.hazards) == set(HazardType)
    assert set(policy.deadline_h) == set(Severity)
    assert policy.hazard(HazardType.STRUCTURE).triage is TriageClass.COLLECTIVE
    assert policy.deadline(Severity.CRITICAL) == timedelta(hours=2)
    assert policy.auto_case(HazardType.CROWD, Severity.HIGH)
    assert not policy.auto_case(HazardType.CROWD, Severity.MEDIUM)
    assert not policy.auto_case(HazardType.LOITERING, Severity.CRITICAL)
    assert [policy.next_step(lv) for lv in Level][-1] is None
    assert policy.next_step(Level.GRID) is not None
    assert policy.next_step(Level.GRID).to is Level.COMMUNITY  # type: ignore[union-attr]


def test_every_field_is_described() -> None:
    def walk(model: type[object]) -> None:
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            assert info.description, f"{model.__name__}.{name} has no description"

    from events import policy as mod

    classes = (mod.Policy, mod.HazardPolicy, mod.EscalationStep, mod.AttachmentPolicy, mod.EvidencePolicy)
    for cls in (*classes, mod.RetentionPolicy, mod.DiskPolicy):
        walk(cls)


def test_a_yaml_file_changes_only_what_it_lists(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "hazards:\n  crowd:\n    triage: collective\n    deadline_h: 1.5\n"
        "deadline_h:\n  low: 100\n"
        "escalation:\n  - {to: street, deadline_h: 12}\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    crowd = policy.hazard(HazardType.CROWD)
    assert (crowd.triage, crowd.deadline_h, crowd.title) == (TriageClass.COLLECTIVE, 1.5, "Crowd gathering")
    assert policy.deadline(Severity.LOW, HazardType.CROWD) == timedelta(hours=1.5)
    assert policy.deadline(Severity.LOW) == timedelta(hours=100)
    assert policy.deadline(Severity.HIGH) == timedelta(hours=8)
    assert policy.hazard(HazardType.FALLEN_PERSON) == Policy().hazard(HazardType.FALLEN_PERSON)
    assert policy.next_step(Level.GRID).to is Level.STREET  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("doc", "where", "message"),
    [
        ({"hazards": {"crowd": {"triage": "nobody"}}}, "hazards.crowd.triage", "public"),
        ({"hazards": {"crowd": {"colour": "red"}}}, "hazards.crowd.colour", "unknown key"),
        ({"hazards": {"smoke": {"triage": "public"}}}, "hazards.smoke", ""),
        ({"deadline_h": {"high": 0}}, "deadline_h.high", "greater than 0"),
        ({"escalation": [{"to": "street", "deadline_h": 1}, {"to": "community", "deadline_h": 1}]}, "", "go up"),
        ({"escalation": [{"to": "grid", "deadline_h": 1}]}, "", "starts at the grid"),
        ({"attachments": {"max_bytes": 10}}, "attachments.max_bytes", "1024"),
        ({"surprise": 1}, "surprise", "unknown key"),
        ({"retention": {"alert_evidence_days": 0}}, "retention.alert_evidence_days", "greater than or equal to 1"),
        ({"retention": {"dismissed_evidence_days": 1.5}}, "retention.dismissed_evidence_days", "integer"),
        ({"retention": {"case_files_days_after_close": -3}}, "retention.case_files_days_after_close", "1"),
        ({"retention": {"keep_forever": True}}, "retention.keep_forever", "unknown key"),
        ({"disk": {"data_quota_mb": 0}}, "disk.data_quota_mb", "greater than or equal to 1"),
        ({"disk": {"min_free_mb": -1}}, "disk.min_free_mb", "0"),
    ],
)
def test_errors_name_their_place(doc: dict[str, object], where: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_policy(doc)
    places = [(i.where, i.message) for i in err.value.issues]
    assert any(w.startswith(where) and message in m for w, m in places), places


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("hazards: [\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"p\.yaml line \d+: not valid YAML"):
        load_policy(bad)
    with pytest.raises(InvalidInput, match="no such file"):
        load_policy(tmp_path / "missing.yaml")
    other = tmp_path / "q.yaml"
    other.write_text("deadline_h: {critical: -1}\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"q\.yaml\.deadline_h\.critical"):
        load_policy(other)


def test_the_readme_example_is_a_valid_policy() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("The policy is configuration with defaults", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    policy = parse_policy(yaml.safe_load(example))
    assert policy.hazard(HazardType.CROWD).deadline_h == 1
    assert policy.auto_case(HazardType.LOITERING, Severity.CRITICAL)
    assert (policy.retention.alert_evidence_days, policy.retention.dismissed_evidence_days) == (30, 7)
    assert policy.retention.case_files_days_after_close == 365
    assert (policy.disk.min_free_mb, policy.disk.data_quota_mb) == (1024, None)


def test_retention_lists_only_what_it_changes() -> None:
    policy = parse_policy({"retention": {"dismissed_evidence_days": 3}, "disk": {"data_quota_mb": 500}})
    assert (policy.retention.dismissed_evidence_days, policy.retention.alert_evidence_days) == (3, 30)
    assert (policy.retention.audit_days, policy.retention.batch_size) == (365, 500)
    assert (policy.disk.data_quota_mb, policy.disk.min_free_mb) == (500, 1024)
