"""Every validation error, each asserted with its position and its message."""

# Expected diagnostics are whole lines, exactly as users read them: no wrapping.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from rerun_orchestrator.plan import (
    Diagnostic,
    PlanError,
    check_plan,
    check_plan_text,
    load_plan,
)

BASE = """\
version: 1
name: t
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows:
      - {start: 2024-01-01, end: 2024-01-31}
"""


def edit(changes: dict[int, str | None], base: str = BASE) -> str:
    """BASE with 1-based lines replaced (None deletes; text may hold several lines)."""
    lines = base.splitlines()
    out = [changes.get(i, line) for i, line in enumerate(lines, 1)]
    out += [changes[i] for i in sorted(changes) if i > len(lines)]  # appended lines
    return "\n".join(line for line in out if line is not None) + "\n"


def errors(text: str, **kwargs: int) -> list[str]:
    plan, diagnostics = check_plan_text(text, "p.yaml", **kwargs)
    assert plan is None
    assert diagnostics, "an invalid plan must say why"
    return [str(d) for d in diagnostics]


def test_the_base_plan_is_valid() -> None:
    plan, diagnostics = check_plan_text(BASE, "p.yaml")
    assert diagnostics == []
    assert plan is not None
    assert plan.count_chunks() == 5


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {7: 'data_time: "10:00:00'},
            "p.yaml:12:1: YAML syntax error: found unexpected end of stream while scanning a"
            " quoted scalar (which began at line 7, column 12)",
            id="unterminated-quote",
        ),
        pytest.param(
            {11: "      - {start: 2024-01-01, end: 2024-01-31"},
            "p.yaml:12:1: YAML syntax error: expected ',' or '}', but got '<stream end>' while"
            " parsing a flow mapping (which began at line 11, column 9)",
            id="unclosed-flow-mapping",
        ),
        pytest.param(
            {2: "name: t\n\tbad: tab"},
            "p.yaml:3:1: YAML syntax error: found character '\\t' that cannot start any token"
            " while scanning for the next token",
            id="tab",
        ),
    ],
)
def test_yaml_syntax_errors(changes: dict[int, str | None], expected: str) -> None:
    assert errors(edit(changes)) == [expected]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({2: "name: [a]"}, "p.yaml:2:7: name must be a string, not a list"),
        (
            {2: "name: bad name"},
            "p.yaml:2:7: name 'bad name' is not valid: use letters, digits, '.', '_' and '-' only",
        ),
        ({2: "name: .."}, "p.yaml:2:7: name '..' is not valid: not only dots, at most 128 chars"),
        ({1: "version: 2"}, "p.yaml:1:10: unsupported plan version '2': this tool reads version 1"),
        (
            {1: 'version: "1"'},
            "p.yaml:1:10: unsupported plan version '1': this tool reads version 1",
        ),
        (
            {4: "region: Hangzhou"},
            "p.yaml:4:9: region 'Hangzhou' is not valid: expected a region id such as cn-hangzhou",
        ),
        ({5: "namespace: {a: 1}"}, "p.yaml:5:12: namespace must be a string, not a mapping"),
        (
            {5: "namespace: yes"},
            "p.yaml:5:12: namespace must be a string, not the boolean 'yes'; quote it",
        ),
        (
            {5: 'namespace: "a b"'},
            "p.yaml:5:12: namespace 'a b' is not valid: no spaces or control characters",
        ),
        ({6: 'group: ""'}, "p.yaml:6:8: group must not be empty"),
        ({6: "group: 1.5"}, "p.yaml:6:8: group must be a string, not the number '1.5'; quote it"),
        (
            {8: "targets: {jobs: [1]}", 9: None, 10: None, 11: None},
            "p.yaml:8:10: targets must be a non-empty list of targets (jobs x windows)",
        ),
        (
            {8: "targets: []", 9: None, 10: None, 11: None},
            "p.yaml:8:10: targets must be a non-empty list of targets (jobs x windows)",
        ),
        (
            {9: "  - 42", 10: None, 11: None},
            "p.yaml:9:5: a target must be a mapping with jobs and windows",
        ),
        (
            {9: "  - jobs: 1"},
            'p.yaml:9:11: jobs must be a non-empty list of job ids and "A-B" ranges',
        ),
        (
            {10: "    windows: 2024-01-01", 11: None},
            "p.yaml:10:14: windows must be a non-empty list of {start, end} dates",
        ),
        (
            {11: "      - [2024-01-01, 2024-01-31]"},
            "p.yaml:11:9: a window must be a mapping {start: YYYY-MM-DD, end: YYYY-MM-DD}",
        ),
        (
            {11: "      - {start: 2024-01-01, end: 2024-01-31 10:00:00}"},
            "p.yaml:11:34: end must be a date without a time, not '2024-01-31 10:00:00'",
        ),
        (
            {11: "      - {start: 2024-02-30, end: 2024-03-01}"},
            "p.yaml:11:17: start '2024-02-30' is not a valid date",
        ),
        (
            {11: '      - {start: "2024-13-01", end: 2024-12-01}'},
            "p.yaml:11:17: start '2024-13-01' is not a valid date",
        ),
        (
            {11: '      - {start: "1/1/2024", end: 2024-12-01}'},
            "p.yaml:11:17: start must be a date YYYY-MM-DD, not '1/1/2024'",
        ),
        (
            {11: "      - {start: 20240101, end: 2024-12-01}"},
            "p.yaml:11:17: start must be a date YYYY-MM-DD, not the integer '20240101'",
        ),
        (
            {12: "execution: [1]"},
            "p.yaml:12:12: execution must be a mapping (rate, concurrency, ...)",
        ),
        (
            {12: "execution: {concurrency: 0}"},
            "p.yaml:12:26: concurrency must be an integer from 1 to 1,000, not 0",
        ),
        (
            {12: "execution: {max_attempts: true}"},
            "p.yaml:12:27: max_attempts must be an integer from 1 to 100, not the boolean 'true'",
        ),
        (
            {12: "execution: {per_job_concurrency: 1.5}"},
            "p.yaml:12:34: per_job_concurrency must be an integer from 1 to 1,000, not the number '1.5'",
        ),
        (
            {12: "execution: {order: random}"},
            "p.yaml:12:20: order must be one of oldest_first, newest_first, not 'random'",
        ),
        (
            {12: "execution: {max_chunks: -1}"},
            "p.yaml:12:25: max_chunks must be an integer from 1 to 10,000,000, not -1",
        ),
    ],
)
def test_wrong_types_and_values(changes: dict[int, str | None], expected: str) -> None:
    assert errors(edit(changes)) == [expected]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "timezone: Mars/Olympus",
            "p.yaml:3:11: unknown IANA timezone 'Mars/Olympus' (e.g. Asia/Shanghai)",
        ),
        (
            "timezone: Asia/Shangai",
            "p.yaml:3:11: unknown IANA timezone 'Asia/Shangai'; did you mean 'Asia/Shanghai'?",
        ),
        (
            "timezone: ../../etc/passwd",
            "p.yaml:3:11: unknown IANA timezone '../../etc/passwd' (e.g. Asia/Shanghai)",
        ),
        ("timezone: 8", "p.yaml:3:11: unknown IANA timezone '8' (e.g. Asia/Shanghai)"),
        ("timezone: ", "p.yaml:3:10: timezone must be a string, not null; quote it"),
    ],
)
def test_unknown_timezones(line: str, expected: str) -> None:
    assert errors(edit({3: line})) == [expected]


def test_missing_timezone_and_other_required_keys_at_the_mapping_that_lacks_them() -> None:
    assert errors(edit({1: None, 3: None})) == [
        "p.yaml:1:1: missing required key 'version' (write version: 1)",
        "p.yaml:1:1: missing required key 'timezone' (the IANA zone in which days are cut, e.g. Asia/Shanghai)",
    ]
    assert errors(edit({2: None, 8: None, 9: None, 10: None, 11: None})) == [
        "p.yaml:1:1: missing required key 'name' (names the backfill: journal, logs, report)",
        "p.yaml:1:1: missing required key 'targets' (a list of {jobs, windows})",
    ]


def test_location_keys_missing_everywhere_are_reported_once_at_the_top() -> None:
    assert errors(edit({4: None})) == [
        "p.yaml:1:1: missing required key 'region' (at the top or in every target)"
    ]


def test_location_keys_missing_in_some_targets_are_reported_at_those_targets() -> None:
    text = edit(
        {
            7: None,
            11: "      - {start: 2024-01-01, end: 2024-01-31}\n"
            "    data_time: '01:00:00'\n"
            "  - jobs: [2]\n"
            "    windows: [{start: 2024-01-01, end: 2024-01-31}]",
        }
    )
    assert errors(text) == [
        "p.yaml:12:5: target is missing 'data_time' (set it here or at the top level)"
    ]


def test_target_and_window_missing_keys() -> None:
    text = edit({9: "  - jobz: [1]", 11: "      - {start: 2024-01-01}"})
    assert errors(text) == [
        "p.yaml:9:5: unknown key 'jobz' in a target; did you mean 'jobs'?",
        "p.yaml:9:5: target is missing 'jobs'",
        "p.yaml:11:9: window is missing 'end'",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'data_time: "25:00:00"',
            "p.yaml:7:12: data_time '25:00:00' is not a time of day (00:00:00-23:59:59)",
        ),
        (
            'data_time: "10:60:00"',
            "p.yaml:7:12: data_time '10:60:00' is not a time of day (00:00:00-23:59:59)",
        ),
        (
            "data_time: 10:00",
            'p.yaml:7:12: data_time must be a time of day "HH:MM:SS" such as "10:00:00", not \'10:00\'',
        ),
        (
            "data_time: 36000",
            'p.yaml:7:12: data_time must be a time of day "HH:MM:SS" such as "10:00:00", not \'36000\'',
        ),
        (
            'data_time: "10am"',
            'p.yaml:7:12: data_time must be a time of day "HH:MM:SS" such as "10:00:00", not \'10am\'',
        ),
        (
            "data_time: true",
            'p.yaml:7:12: data_time must be a time of day "HH:MM:SS" such as "10:00:00", not the boolean \'true\'',
        ),
    ],
)
def test_bad_data_time(line: str, expected: str) -> None:
    assert errors(edit({7: line})) == [expected]


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("data_time: 10:00:00", "10:00:00"),
        ("data_time: '9:05:01'", "09:05:01"),
        ("data_time: 00:00:00", "00:00:00"),
    ],
)
def test_data_time_unquoted_means_the_time_written(line: str, value: str) -> None:
    plan, diagnostics = check_plan_text(edit({7: line}))
    assert diagnostics == []
    assert plan is not None
    assert {c.data_time for c in plan.chunks()} == {value}


def test_end_before_start() -> None:
    assert errors(edit({11: "      - {start: 2024-03-01, end: 2024-01-31}"})) == [
        "p.yaml:11:34: window end 2024-01-31 is before its start 2024-03-01"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("chunk_days: 0", "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not 0"),
        ("chunk_days: -3", "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not -3"),
        ('chunk_days: "7"', "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not '7'"),
        (
            "chunk_days: 1.5",
            "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not the number '1.5'",
        ),
    ],
)
def test_chunk_days_below_one_or_not_an_integer(line: str, expected: str) -> None:
    assert errors(edit({8: f"{line}\ntargets:"})) == [expected]


@pytest.mark.parametrize(
    ("jobs", "col", "message"),
    [
        ('"5-3"', 12, "job range '5-3' is reversed: write \"3-5\""),
        ("-4", 12, "job ids are positive integers, not '-4'"),
        ('"-4"', 12, "a job must be a job id (123) or an inclusive range (\"200-210\"), not '-4'"),
        ("0", 12, "job ids are positive integers, not '0'"),
        ('"0-5"', 12, "job ids are positive integers, not '0-5'"),
        (
            "yes",
            12,
            "a job must be a job id (123) or an inclusive range (\"200-210\"), not the boolean 'yes'",
        ),
        (
            "true",
            12,
            "a job must be a job id (123) or an inclusive range (\"200-210\"), not the boolean 'true'",
        ),
        ("abc", 12, "a job must be a job id (123) or an inclusive range (\"200-210\"), not 'abc'"),
        (
            '"1-2-3"',
            12,
            "a job must be a job id (123) or an inclusive range (\"200-210\"), not '1-2-3'",
        ),
        (
            '"1..3"',
            12,
            "a job must be a job id (123) or an inclusive range (\"200-210\"), not '1..3'",
        ),
        (
            "1.5",
            12,
            "a job must be a job id (123) or an inclusive range (\"200-210\"), not the number '1.5'",
        ),
        (
            "0x10",
            12,
            "a job must be a job id (123) or an inclusive range (\"200-210\"), not the integer '0x10'",
        ),
        ("null", 12, 'a job must be a job id (123) or an inclusive range ("200-210"), not null'),
        (
            "[1, 2]",
            12,
            'a job must be a job id (123) or an inclusive range ("200-210"), not a list',
        ),
        (
            "99999999999999999999",
            12,
            "job ids end at 9223372036854775807 (a Java long), not '99999999999999999999'",
        ),
    ],
)
def test_malformed_job_ranges(jobs: str, col: int, message: str) -> None:
    assert errors(edit({9: f"  - jobs: [{jobs}]"})) == [f"p.yaml:9:{col}: {message}"]


def test_every_bad_job_of_a_list_is_reported() -> None:
    assert errors(edit({9: '  - jobs: [1, "9-2", x, 4]'})) == [
        "p.yaml:9:15: job range '9-2' is reversed: write \"2-9\"",
        "p.yaml:9:22: a job must be a job id (123) or an inclusive range (\"200-210\"), not 'x'",
    ]


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (
            "fast",
            "rate 'fast' is not a rate: write N/s, N/min or N/h (N may be a decimal, e.g. 100/min or 1.5/s)",
        ),
        (
            "100",
            "rate '100' is not a rate: write N/s, N/min or N/h (N may be a decimal, e.g. 100/min or 1.5/s)",
        ),
        (
            "100/m",
            "rate '100/m' has an unknown unit 'm': write N/s, N/min or N/h (N may be a decimal, e.g. 100/min or 1.5/s)",
        ),
        ("0/s", "rate '0/s' must be more than zero calls"),
        (
            "-1/s",
            "rate '-1/s' is not a rate: write N/s, N/min or N/h (N may be a decimal, e.g. 100/min or 1.5/s)",
        ),
        ("[1]", "rate must be a rate such as 100/min, not a list"),
    ],
)
def test_bad_rate(rate: str, message: str) -> None:
    assert errors(
        edit({11: f"      - {{start: 2024-01-01, end: 2024-01-31}}\nexecution:\n  rate: {rate}"})
    ) == [f"p.yaml:13:9: {message}"]


def test_unknown_keys_suggest_the_closest_or_the_right_place() -> None:
    text = edit(
        {
            2: "name: t\nnmae: u\nrate: 5/s\nstart: 2024-01-01",
            9: "  - jobs: [1]\n    grup: x\n    timezone: UTC\n    frobnicate: 1",
            11: "      - {start: 2024-01-01, end: 2024-01-31, stop: 2024-02-01}\nexecution: {concurency: 3, region: x}",
        }
    )
    assert errors(text) == [
        "p.yaml:3:1: unknown key 'nmae' at the top level; did you mean 'name'?",
        "p.yaml:4:1: unknown key 'rate' at the top level (it belongs in execution)",
        "p.yaml:5:1: unknown key 'start' at the top level (it belongs in a window)",
        "p.yaml:13:5: unknown key 'grup' in a target; did you mean 'group'?",
        "p.yaml:14:5: unknown key 'timezone' in a target (it belongs at the top level)",
        "p.yaml:15:5: unknown key 'frobnicate' in a target; allowed: description, region, namespace,"
        " namespace_source, group, data_time, chunk_days, jobs, windows, execution",
        "p.yaml:17:46: unknown key 'stop' in a window; allowed: start, end",
        "p.yaml:18:13: unknown key 'concurency' in execution; did you mean 'concurrency'?",
        "p.yaml:18:28: unknown key 'region' in execution (it belongs at the top level or in a target)",
    ]


def test_duplicate_keys_are_errors() -> None:
    assert errors(edit({4: "region: cn-hangzhou\nregion: cn-beijing"})) == [
        "p.yaml:5:1: duplicate key 'region' (first at line 4)"
    ]


def test_overlapping_windows() -> None:
    text = edit(
        {
            11: "      - {start: 2024-01-01, end: 2024-01-31}\n      - {start: 2024-01-20, end: 2024-02-10}"
        }
    )
    assert errors(text) == [
        "p.yaml:12:9: job 1 on 2024-01-20..2024-01-31 would be rerun twice in cn-hangzhou/ns/g:"
        " already planned at p.yaml:11:9 (overlapping windows)"
    ]


def test_overlapping_job_ranges_report_each_collision() -> None:
    assert errors(edit({9: '  - jobs: ["1-10", 12, "8-12"]'})) == [
        "p.yaml:9:24: jobs 8-10 on 2024-01-01..2024-01-31 would be rerun twice in cn-hangzhou/ns/g:"
        " already planned at p.yaml:9:12 (overlapping job ranges)",
        "p.yaml:9:24: job 12 on 2024-01-01..2024-01-31 would be rerun twice in cn-hangzhou/ns/g:"
        " already planned at p.yaml:9:20 (overlapping job ranges)",
    ]


def test_the_same_job_listed_twice() -> None:
    assert errors(edit({9: "  - jobs: [7, 7]"})) == [
        "p.yaml:9:15: job 7 on 2024-01-01..2024-01-31 would be rerun twice in cn-hangzhou/ns/g:"
        " already planned at p.yaml:9:12 (overlapping job ranges)",
    ]


def test_two_targets_reaching_the_same_days() -> None:
    text = edit(
        {
            11: "      - {start: 2024-01-01, end: 2024-01-31}\n"
            "  - group: other\n"  # another group: no clash
            "    jobs: [1]\n"
            "    windows: [{start: 2024-01-01, end: 2024-01-31}]\n"
            '  - jobs: ["1-3"]\n'
            "    data_time: '11:00:00'\n"  # another data_time is still the same day
            "    windows: [{start: 2024-01-31, end: 2024-02-29}]"
        }
    )
    assert errors(text) == [
        "p.yaml:15:12: job 1 on 2024-01-31 would be rerun twice in cn-hangzhou/ns/g:"
        " already planned at p.yaml:9:12 (targets 1 and 3 overlap)"
    ]


def test_touching_windows_and_ranges_do_not_overlap() -> None:
    text = edit(
        {
            9: '  - jobs: ["1-5", "6-9"]',
            11: "      - {start: 2024-01-01, end: 2024-01-31}\n      - {start: 2024-02-01, end: 2024-02-29}",
        }
    )
    plan, diagnostics = check_plan_text(text)
    assert diagnostics == []
    assert plan is not None


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("access_key_id: x", "access_key_id"),
        ("AccessKeySecret: x", "AccessKeySecret"),
        ("accesskeyid: x", "accesskeyid"),
        ("security-token: x", "security-token"),
        ("sts_token: x", "sts_token"),
        ("Password: x", "Password"),
        ("secret: x", "secret"),
        ("credentials: {id: x}", "credentials"),
    ],
)
def test_credential_keys_are_errors_and_values_are_never_echoed(line: str, key: str) -> None:
    secret_value = "LTAI5tSuperSecretValue0042"
    result = errors(edit({2: f"name: t\n{line.replace(': x', ': ' + secret_value)}"}))
    assert len(result) in (1, 2)  # the key, and the AccessKey-shaped value
    assert result[0].startswith(
        f"p.yaml:3:1: key {key!r} looks like a credential: plans live in Git"
    )
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in result[0]
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in result[0]
    assert all(secret_value not in r for r in result)


def test_credentials_nested_anywhere_are_found() -> None:
    text = edit({9: "  - jobs: [1]\n    x: {auth: {access_key_secret: abc}}"})
    result = errors(text)
    assert (
        result[0] == "p.yaml:10:5: unknown key 'x' in a target; allowed: description, region,"
        " namespace, namespace_source, group, data_time, chunk_days, jobs, windows, execution"
    )
    assert result[1].startswith("p.yaml:10:16: key 'access_key_secret' looks like a credential")
    assert "abc" not in "".join(result)


def test_access_key_shaped_values_are_errors() -> None:
    result = errors(edit({6: "group: STS.NUvK8aYFZq2LpE1bX4"}))
    assert result == [
        "p.yaml:6:8: this value looks like an AccessKey ID or STS token: plans live in Git, so they"
        " never hold credentials; set ALIBABA_CLOUD_ACCESS_KEY_ID and"
        " ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS) in the"
        " environment instead"
    ]


def test_size_limit_reports_the_count() -> None:
    text = edit(
        {
            9: '  - jobs: ["1-1000"]',
            11: "      - {start: 2024-01-01, end: 2024-12-31}\nchunk_days: 1",
        }
    )
    assert errors(text, max_chunks=366_000 - 1) == [
        "p.yaml:8:1: the plan expands to 366,000 chunks (RerunJob calls), more than the limit of"
        " 365,999: split it, or raise the limit with --max-chunks or execution.max_chunks"
    ]
    plan, _ = check_plan_text(text, max_chunks=366_000)
    assert plan is not None


def test_default_size_limit_is_a_million_and_the_plan_can_raise_it() -> None:
    big = edit(
        {
            9: '  - jobs: ["1-3000"]',
            11: "      - {start: 2024-01-01, end: 2024-12-31}\nchunk_days: 1",
        }
    )
    assert "the plan expands to 1,098,000 chunks" in errors(big)[0]
    assert "more than the limit of 1,000,000" in errors(big)[0]
    raised, diagnostics = check_plan_text(big + "execution: {max_chunks: 2000000}\n")
    assert diagnostics == []
    assert raised is not None
    assert raised.execution.max_chunks == 2_000_000


def test_cn_region_in_a_zone_not_at_utc8_is_a_warning_only() -> None:
    plan, diagnostics = check_plan_text(edit({3: "timezone: Europe/London"}), "p.yaml")
    assert plan is not None
    assert [str(d) for d in diagnostics] == [
        "p.yaml:4:9: warning: region cn-hangzhou cuts days in Asia/Shanghai time (UTC+8) but the"
        " plan's timezone Europe/London is at UTC+01:00: its midnight falls on a later hour of"
        " the same day; use timezone: Asia/Shanghai unless you know the server's zone differs"
    ]
    tokyo, diagnostics = check_plan_text(edit({3: "timezone: Asia/Tokyo"}), "p.yaml")
    assert tokyo is not None
    assert "UTC+09:00: its midnight falls on the server's previous day" in diagnostics[0].message
    for zone in ("Asia/Shanghai", "Asia/Singapore", "Asia/Taipei"):
        assert check_plan_text(edit({3: f"timezone: {zone}"}))[1] == []


def test_cn_warning_points_at_the_target_that_sets_the_region() -> None:
    text = edit(
        {
            3: "timezone: UTC",
            4: "region: us-west-1",
            9: "  - jobs: [1]\n    region: cn-beijing",
        }
    )
    plan, diagnostics = check_plan_text(text, "p.yaml")
    assert plan is not None
    assert [(d.line, d.col, d.severity) for d in diagnostics] == [(10, 13, "warning")]


def test_errors_come_before_warnings_and_plan_error_lists_them() -> None:
    text = edit({3: "timezone: Europe/London", 9: "  - jobs: [x]"})
    plan, diagnostics = check_plan_text(text, "p.yaml")
    assert plan is None
    assert [d.severity for d in diagnostics] == ["error"]  # no plan, so no zone warning
    error = PlanError([Diagnostic("a", 2, 1, "w", "warning"), Diagnostic("a", 9, 1, "e")])
    assert [d.severity for d in error.diagnostics] == ["error", "warning"]
    assert str(error) == "invalid plan (1 error)\na:9:1: e\na:2:1: warning: w"


def test_merge_keys_and_anchors_are_understood() -> None:
    text = edit(
        {
            2: "name: t\nx-defaults: &d {region: cn-shanghai, group: other}",
            9: "  - <<: *d\n    jobs: [1]",
        }
    )
    plan, diagnostics = check_plan_text(text)
    assert diagnostics == []
    assert plan is not None
    assert (plan.targets[0].region, plan.targets[0].group_id) == ("cn-shanghai", "other")


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = edit(
        {2: "name: a b", 3: "timezone: Nowhere", 7: "data_time: 99", 9: '  - jobs: ["3-1"]'}
    )
    assert [d.split(":")[1] for d in errors(text)] == ["2", "3", "7", "9"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "p.yaml:1:1: the plan is empty: expected a mapping with version, name, timezone, ..."),
        (
            "# just a comment\n",
            "p.yaml:1:1: the plan is empty: expected a mapping with version, name, timezone, ...",
        ),
        (
            "- a\n",
            "p.yaml:1:1: a plan is a mapping of keys (version, name, timezone, targets, ...)",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "p.yaml:2:1: YAML syntax error: expected a single document in the stream, but found another document (which began at line 1, column 1)",
        ),
        (
            "version: 1\nname: \x01\n",
            "p.yaml:2:7: YAML error: character U+0001 is not allowed in a YAML file",
        ),
        ("? [a]\n: 1\n", "p.yaml:1:3: keys must be strings, not a list"),
    ],
)
def test_documents_that_are_not_plans(text: str, expected: str) -> None:
    assert expected in errors(text)


def test_files_unreadable_or_not_utf8(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    plan, diagnostics = check_plan(missing)
    assert plan is None
    assert [str(d) for d in diagnostics] == [
        f"{missing}:1:1: cannot read the plan: No such file or directory"
    ]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    plan, diagnostics = check_plan(latin)
    assert plan is None
    assert str(diagnostics[0]).startswith(f"{latin}:1:1: cannot read the plan: 'utf-8' codec")


def test_load_plan_raises_with_every_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(edit({2: "name: a b", 3: "timezone: Nowhere"}))
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert [d.line for d in caught.value.diagnostics] == [2, 3]
    assert str(caught.value).startswith("invalid plan (2 errors)\n")
    good = tmp_path / "good.yaml"
    good.write_text(edit({3: "timezone: Europe/London"}))  # a warning alone does not raise
    plan = load_plan(good)
    assert plan.path == str(good)
    assert plan.name == "t"


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            "{start: 1969-12-31, end: 2024-01-31}",
            "p.yaml:11:17: start 1969-12-31 is out of range: dates run from 1970-01-01 to 2999-12-31",
        ),
        (
            "{start: 2024-01-01, end: 9999-12-31}",
            "p.yaml:11:34: end 9999-12-31 is out of range: dates run from 1970-01-01 to 2999-12-31",
        ),
    ],
)
def test_dates_out_of_range(window: str, expected: str) -> None:
    assert errors(edit({11: f"      - {window}"})) == [expected]


def test_asia_shanghai_never_warns_even_in_its_dst_years() -> None:
    text = edit({11: "      - {start: 1988-01-01, end: 1988-12-31}"})
    assert check_plan_text(text)[1] == []
    singapore = check_plan_text(text.replace("Asia/Shanghai", "Asia/Singapore"))[1]
    assert [d.severity for d in singapore] == ["warning"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'chunk_days: !!int ""',
            "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not ''",
        ),
        (
            "chunk_days: !!int abc",
            "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not 'abc'",
        ),
        (
            "chunk_days: !custom 3",
            "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not '3'",
        ),
        (
            "chunk_days: !!python/object:os.system ls",
            "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not 'ls'",
        ),
    ],
)
def test_explicit_tags_are_values_like_any_other(line: str, expected: str) -> None:
    assert errors(edit({8: f"{line}\ntargets:"})) == [expected]
