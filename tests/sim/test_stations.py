"""The demo's simulated stations: answers drawn from the notice id and the seed alone, in the
shares the module promises."""

from __future__ import annotations

from collections import Counter

from pipeline.sim.stations import MINUTE, station_answers


def _band(answers) -> str:
    if not answers:
        return "never"
    receipt = answers[0].at_ms
    return "in time" if receipt <= 5 * MINUTE else "late" if receipt < 30 * MINUTE else "escalated"


def test_most_within_five_minutes_some_late_a_few_after_the_escalation_or_never():
    bands = Counter(_band(station_answers(f"ntc-0-{i:016x}", 0, seed=7)) for i in range(4000))
    shares = {band: n / 4000 for band, n in bands.items()}
    assert abs(shares["in time"] - 0.75) < 0.03 and abs(shares["late"] - 0.15) < 0.02
    assert abs(shares["escalated"] - 0.05) < 0.015 and abs(shares["never"] - 0.05) < 0.015


def test_answers_are_in_time_order_after_the_issue_and_the_same_for_the_same_notice():
    for i in range(500):
        nid = f"ntc-1-{i:016x}"
        answers = station_answers(nid, 10 * MINUTE, seed=3)
        assert answers == station_answers(nid, 10 * MINUTE, seed=3)
        times = [a.at_ms for a in answers]
        assert times == sorted(times) and all(t > 10 * MINUTE for t in times)
        assert [a.action for a in answers] in (
            [],
            ["received", "arrived"],
            ["received", "arrived", "false_alarm"],
        )
        assert all((a.reason is not None) == (a.action == "false_alarm") for a in answers)
    other_seed = [station_answers(f"ntc-1-{i:016x}", 0, seed=4) for i in range(50)]
    assert other_seed != [station_answers(f"ntc-1-{i:016x}", 0, seed=3) for i in range(50)]
