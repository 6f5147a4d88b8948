"""The safety policy's `[output]` categories: the local detector's detections (in the shape NudeNet
returns them: `[{"class", "score", "box"}]`) and the moderation endpoint's category scores, judged
against each category's thresholds; an operator file merged over the shipped one; mistakes refused at
load with the place named. Real inference on the detector is tests/inprocess/test_local_screening.py."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from imagegate.config import load_safety_policy, load_settings
from imagegate.domain.output_policy import detector_scores
from imagegate.domain.safety_policy import AccountSafety, PolicyError, SafetyPolicy

SHIPPED = load_safety_policy()
SHIPPED_TOML = tomllib.loads(resources.files("imagegate").joinpath("safety_policy.toml").read_text("utf-8"))


def detection(name: str, score: float) -> dict[str, Any]:
    return {"class": name, "score": score, "box": [10, 20, 300, 200]}


def local(*detections: dict[str, Any], policy: SafetyPolicy = SHIPPED) -> tuple[str | None, list[str]]:
    verdict = policy.output.judge("local", detector_scores(detections))
    return (verdict.blocked.name if verdict.blocked else None), [c.name for c in verdict.flagged]


def test_a_detection_at_or_over_its_threshold_blocks_and_under_it_does_not() -> None:
    assert local(detection("FEMALE_GENITALIA_EXPOSED", 0.5)) == ("explicit_nudity", [])
    assert local(detection("FEMALE_GENITALIA_EXPOSED", 0.49)) == (None, [])
    assert local(detection("FEMALE_BREAST_EXPOSED", 0.45)) == (None, ["partial_nudity"])
    assert local(detection("FEMALE_BREAST_EXPOSED", 0.61)) == ("explicit_nudity", [])


def test_covered_parts_faces_and_feet_never_count() -> None:
    harmless = [detection(name, 0.97) for name in ("FACE_FEMALE", "FACE_MALE", "FEET_EXPOSED", "BELLY_COVERED")]
    assert local(*harmless, detection("FEMALE_BREAST_COVERED", 0.9), detection("BUTTOCKS_COVERED", 0.9)) == (None, [])
    assert local() == (None, [])


def test_the_highest_of_several_detections_of_a_class_counts() -> None:
    scores = detector_scores([detection("ANUS_EXPOSED", 0.3), detection("ANUS_EXPOSED", 0.8), detection("X", 0.2)])
    assert scores == {"ANUS_EXPOSED": 0.8, "X": 0.2}
    assert local(detection("ANUS_EXPOSED", 0.3), detection("ANUS_EXPOSED", 0.8)) == ("explicit_nudity", [])


def test_moderation_scores_use_the_moderation_thresholds_only() -> None:
    judge = SHIPPED.output.judge
    assert judge("moderation", {"sexual": 0.93, "violence": 0.01}).blocked is not None
    assert judge("moderation", {"violence/graphic": 0.7}).blocked.name == "graphic_violence"  # type: ignore[union-attr]
    assert [c.name for c in judge("moderation", {"violence": 0.6}).flagged] == ["violent_imagery"]
    assert judge("moderation", {"FEMALE_GENITALIA_EXPOSED": 0.99}).blocked is None  # a detector class: not here
    assert judge("local", {"sexual": 0.99}).blocked is None


def test_an_account_can_turn_a_flag_into_a_block_and_never_loosen() -> None:
    stricter = SHIPPED.stricter(AccountSafety(block_categories=("partial_nudity",)))
    assert local(detection("BUTTOCKS_EXPOSED", 0.7), policy=stricter) == ("partial_nudity", [])
    assert local(detection("BUTTOCKS_EXPOSED", 0.7)) == (None, ["partial_nudity"])
    assert SHIPPED.unknown_categories(["partial_nudity", "violence", "made_up"]) == ["made_up"]


def operator(text: str) -> SafetyPolicy:
    return SafetyPolicy.from_dicts(SHIPPED_TOML, tomllib.loads(text))


def test_an_operator_file_lowers_a_threshold_and_turns_a_flag_into_a_block() -> None:
    policy = operator(
        """
        [output.categories.partial_nudity]
        action = "block"
        local = { BUTTOCKS_EXPOSED = 0.3 }
        """
    )
    assert local(detection("BUTTOCKS_EXPOSED", 0.35), policy=policy) == ("partial_nudity", [])
    assert local(detection("FEMALE_BREAST_EXPOSED", 0.45), policy=policy) == ("partial_nudity", [])  # kept
    off = operator('[output.categories.explicit_nudity]\naction = "off"')
    assert local(detection("MALE_GENITALIA_EXPOSED", 0.9), policy=off) == (None, [])


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            "[output.categories.explicit_nudity]\nlocal = { ANUS_EXPOSED = 1.5 }",
            "output.categories.explicit_nudity.local.ANUS_EXPOSED",
        ),
        ("[output.categories.explicit_nudity]\nlocal = { ANUS_EXPOSED = true }", "ANUS_EXPOSED"),
        ("[output.categories.explicit_nudity]\nthreshold = 0.5", "unknown key(s) threshold"),
        ('[output.categories.explicit_nudity]\naction = "quarantine"', "action must be one of"),
        ('[output.categories.violence]\nlabel = "v"\nmoderation = { violence = 0.5 }', "already a prompt category"),
        ('[output.categories.empty]\nlabel = "nothing"', "watches no signal"),
        ("[output]\nthresholds = 1", "output: unknown key(s) thresholds"),
    ],
)
def test_mistakes_stop_the_load_naming_the_place(text: str, named: str) -> None:
    with pytest.raises(PolicyError) as raised:
        operator(text)
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IMAGEGATE_OUTPUT_SCREENING": "moderation"}, "needs IMAGEGATE_MODERATION_URL"),
        ({"IMAGEGATE_OUTPUT_SCREENING": "nudenet"}, "IMAGEGATE_OUTPUT_SCREENING must be one of off, moderation, local"),
    ],
)
def test_a_mode_that_cannot_work_stops_the_settings_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        load_settings({"IMAGEGATE_DATA_DIR": str(tmp_path), **env})
    screened = load_settings(
        {"IMAGEGATE_DATA_DIR": str(tmp_path), "IMAGEGATE_OUTPUT_SCREENING": "Local", "IMAGEGATE_MODERATION_URL": ""}
    )
    assert screened.screening.output == "local"
    assert load_settings({"IMAGEGATE_DATA_DIR": str(tmp_path)}).screening.output == "off"
