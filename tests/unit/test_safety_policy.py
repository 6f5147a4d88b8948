"""The normalizer, the term syntax and the policy format of domain.safety_text and domain.safety_policy (pure)."""

from __future__ import annotations

import time

import pytest

from imagegate.config import load_safety_policy
from imagegate.domain.safety_policy import AccountSafety, PolicyError, SafetyPolicy
from imagegate.domain.safety_text import fold, fold_unicode, normalize

BASE = {
    "lists": {"colour": {"terms": ["crimson", "scarlet"]}},
    "categories": {
        "foxes": {"label": "foxes", "action": "block", "rules": [{"terms": ["red fox*", "vulpes"]}]},
        "red_things": {"action": "flag", "rules": [{"terms": ["apple"], "all": ["colour"]}]},
        "quiet": {"action": "off", "rules": [{"terms": ["thunder"]}]},
    },
}


def blocked(policy: SafetyPolicy, prompt: str) -> str | None:
    verdict = policy.screen(prompt)
    return verdict.blocked.name if verdict.blocked else None


@pytest.mark.parametrize(
    "written",
    [
        "vulpes",
        "VULPES",
        "vúlpès",  # accents
        "vu\u200blpes",  # zero-width space
        "vu\u00adlpes",  # soft hyphen
        "v\u03c5lp\u0435s",  # Greek upsilon, Cyrillic e
        "\uff56\uff55\uff4c\uff50\uff45\uff53",  # fullwidth
        "\U0001d42f\U0001d42e\U0001d425\U0001d429\U0001d41e\U0001d42c",  # mathematical bold
        "vu1p3s".replace("1", "l"),
        "vulp3$",  # leetspeak
        "v u l p e s",  # spaced
        "v.u.l.p.e.s",
        "v-u-l-p-e-s",
        "v_u_l_p_e_s",
        "vuuuulpes",  # repeated letters
        "a sneaky v u l p e s hiding",
    ],
)
def test_obfuscations_of_a_term_are_seen_through(written: str) -> None:
    assert blocked(SafetyPolicy.from_dicts(BASE), f"a photo of {written} at dusk") == "foxes"


@pytest.mark.parametrize("innocent", ["vulpeside", "a vulpine smile", "revulpes", "red fo x"])
def test_terms_match_whole_words_only(innocent: str) -> None:
    assert blocked(SafetyPolicy.from_dicts(BASE), innocent) is None


def test_star_matches_endings_and_phrases_may_be_joined() -> None:
    policy = SafetyPolicy.from_dicts(BASE)
    assert blocked(policy, "two red foxes") == "foxes"
    assert blocked(policy, "a redfox") == "foxes"
    assert blocked(policy, "a red-fox") == "foxes"


def test_all_lists_and_flags() -> None:
    policy = SafetyPolicy.from_dicts(BASE)
    assert policy.screen("an apple").flagged == ()
    verdict = policy.screen("a crimson apple")
    assert verdict.blocked is None and [c.name for c in verdict.flagged] == ["red_things"]
    assert policy.screen("thunder").flagged == () and blocked(policy, "thunder") is None  # off


def test_unless_and_allow_patterns() -> None:
    policy = SafetyPolicy.from_dicts(
        {
            "allow": {"patterns": [r"\bfox news\b"]},
            "lists": {"zoo": {"terms": ["zoo"]}},
            "categories": {"fox": {"rules": [{"terms": ["fox"], "unless": ["zoo"]}]}},
        }
    )
    assert blocked(policy, "a fox") == "fox"
    assert blocked(policy, "a fox at the zoo") is None
    assert blocked(policy, "the fox news studio") is None
    assert blocked(policy, "fox news about a fox") == "fox"


def test_operator_file_extends_lists_adds_categories_and_changes_actions() -> None:
    operator = {
        "lists": {"colour": {"terms": ["ruby"]}},
        "categories": {
            "red_things": {"action": "block"},
            "owls": {"label": "owls", "rules": [{"patterns": [r"\bowl(?:s|et)?\b"]}]},
        },
    }
    policy = SafetyPolicy.from_dicts(BASE, operator)
    assert blocked(policy, "a ruby apple") == "red_things"
    assert blocked(policy, "a crimson apple") == "red_things"  # extended, not replaced
    assert blocked(policy, "an owlet") == "owls"
    assert blocked(policy, "vulpes") == "foxes"
    replaced = SafetyPolicy.from_dicts(BASE, {"lists": {"colour": {"terms": ["ruby"], "replace": True}}})
    assert replaced.screen("a crimson apple").flagged == ()


def test_account_additions_are_only_ever_stricter() -> None:
    policy = SafetyPolicy.from_dicts(BASE)
    strict = policy.stricter(AccountSafety(block_terms=("blue jay",), block_categories=("red_things", "quiet")))
    assert blocked(strict, "a b l u e j a y") == "account_policy"
    assert blocked(strict, "a crimson apple") == "red_things"
    assert blocked(strict, "thunder") == "quiet"
    assert blocked(strict, "vulpes") == "foxes"
    assert blocked(policy, "a crimson apple") is None  # the deployment's policy is unchanged


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"categories": {"x": {"rules": [{"terms": ["a"]}], "action": "maybe"}}}, "action must be one of"),
        ({"categories": {"x": {"rules": []}}}, "has no rules"),
        ({"categories": {"x": {"rules": [{"all": ["nope"]}]}}}, "unknown list"),
        ({"categories": {"x": {"rules": [{"patterns": ["("]}]}}}, "not a valid regular expression"),
        ({"categories": {"x": {"rules": [{"terms": ["a"], "colour": 1}]}}}, "unknown key"),
        ({"lists": {"l": {"terms": "not-a-list"}}}, "must be a list of strings"),
        ({"categorys": {}}, "unknown key"),
    ],
)
def test_malformed_policies_are_refused_with_the_place_named(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PolicyError, match=message):
        SafetyPolicy.from_dicts(data)


def test_normalized_views() -> None:
    text = normalize("A 12-year-old's N4K3D-looking 3d render")
    assert text.views[0] == "a 12 year old s n4k3d looking 3d render"
    assert "naked" in text.views[1].split()


def test_shipped_policy_loads_and_has_the_issues_categories() -> None:
    names = {c.name for c in load_safety_policy(None).categories}
    assert {
        "sexual_minors",
        "sexual_deepfake",
        "graphic_gore",
        "self_harm",
        "hate_symbols",
        "weapons_manufacture",
    } <= names


@pytest.mark.parametrize(
    "prompt",
    [" ".join("a" for _ in range(16_000)), "a" * 32_000, " ".join(["s e l f"] * 4_000), "n" * 10_000 + "a" * 22_000],
)
def test_screening_a_hostile_32k_prompt_stays_cheap(prompt: str) -> None:
    """Letter runs are collapsed and terms share one prefix-factored regex, so a 32k-character
    prompt built to make the matcher backtrack costs well under a second (it once took 6 s)."""
    policy = load_safety_policy(None)
    started = time.perf_counter()
    policy.screen(prompt)
    assert time.perf_counter() - started < 3  # a stall guard, far above the ~0.2 s measured


@pytest.mark.parametrize(
    "text",
    [
        "".join(chr(c) for c in range(128)),  # every ASCII character, controls included
        "A WaterColor FOX in the snooooow!!! 85mm, f/1.8 -- n a k e d?",
        "k1ll th3 b0ss; N*de; s.e.x; \t\n\x00",
    ],
)
def test_an_ascii_prompt_folds_exactly_as_the_unicode_steps_fold_it(text: str) -> None:
    """`fold` skips the Unicode steps for ASCII text: that short cut must change no verdict."""
    assert fold(text) == fold_unicode(text)
