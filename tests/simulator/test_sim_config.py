"""Config: the contract's YAML, our extensions, and errors that name the bad key."""

from __future__ import annotations

import random
import textwrap
from datetime import date
from pathlib import Path

import pytest

from rerun_orchestrator.simulator import (
    CredentialSpec,
    FaultRule,
    JobSpec,
    QuotaSpec,
    SimulatorConfig,
    SimulatorConfigError,
)
from rerun_orchestrator.simulator._faults import FaultInjector
from rerun_orchestrator.simulator._quota import QuotaTable, TokenBucket, parse_rate
from rerun_orchestrator.simulator._state import Registry

CONTRACT_YAML = """\
server_timezone: Asia/Shanghai
credentials:
  - {access_key_id: testid, access_key_secret: testsecret}
  - {access_key_id: stsid, access_key_secret: stssecret, security_token: ststoken}
jobs:
  - {region: cn-hangzhou, namespace: ns-1, group: g1, job_ids: [1, 2, "10-20"],
     edition: professional}
quota: {RerunJob: 100/min, GetJobInstanceList: 100/min}   # per AccessKey
"""


def test_contract_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(CONTRACT_YAML)
    config = SimulatorConfig.from_yaml(path)
    assert config.server_timezone == "Asia/Shanghai"
    assert [c.access_key_id for c in config.credentials] == ["testid", "stsid"]
    assert config.credentials[1].security_token == "ststoken"
    assert config.jobs == (JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1), (2, 2), (10, 20))),)
    quota = config.quota_for("RerunJob")
    assert quota == QuotaSpec(100 / 60, 100 / 60)  # a burst of one second's worth, at least 1
    assert config.quota_for("GetJobInfo") == QuotaSpec(100 / 60, 100 / 60)  # the default
    assert SimulatorConfig.from_mapping({"quota": {"RerunJob": "0.5/s"}}).quota_for(
        "RerunJob"
    ) == QuotaSpec(0.5, 1.0)


def test_extensions_load() -> None:
    config = SimulatorConfig.from_mapping(
        {
            "credentials": [
                {"access_key_id": "a", "access_key_secret": "s", "account": "acme"},
                {"access_key_id": "b", "access_key_secret": "s", "account": "acme"},
            ],
            "jobs": [
                {
                    "region": "cn-shanghai",
                    "namespace": "n",
                    "group": "g",
                    "job_ids": ["1-100000"],
                    "max_concurrency": 3,
                    "history": {"start": date(2024, 1, 1), "end": "2024-01-31"},
                    "history_time": 3600,  # YAML 1.1 reads an unquoted 01:00:00 as 3600
                    "namespace_source": "schedulerx",
                }
            ],
            "quota": {"RerunJob": {"rate": "5/s", "burst": 10}, "GetJobInfo": None},
            "default_quota": "1/s",
            "faults": [{"kind": "throttle", "probability": 0.5, "budget": 3}],
            "instance_list_filter": "data_time",
            "instance_list_order": "oldest_first",
            "business_error_codes": {"job_not_found": 404},
            "seed": 7,
        }
    )
    assert config.credentials[0].owner == config.credentials[1].owner == "acme"
    job = config.jobs[0]
    assert job.history == (date(2024, 1, 1), date(2024, 1, 31))
    assert job.history_time == "01:00:00"
    assert config.quota_for("RerunJob") == QuotaSpec(5.0, 10.0)
    assert config.quota_for("GetJobInfo") is None
    assert config.quota_for("GetJobInstanceList") == QuotaSpec(100 / 60, 100 / 60)  # kept
    assert config.quota_for("ListJobs") == QuotaSpec(1.0, 1.0)
    assert config.faults == (FaultRule("throttle", probability=0.5, budget=3),)
    assert config.business_code("job_not_found") == 404
    assert config.business_code("group_not_found") == 500


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bogus": 1}, "bogus: unknown key; allowed: "),
        ({"server_timezone": "Mars/Base"}, "server_timezone"),
        ({"credentials": []}, "at least one"),
        ({"credentials": [{"access_key_id": "a"}]}, r"credentials\[0\]"),
        (
            {"credentials": [{"access_key_id": "a", "access_key_secret": "x"}] * 2},
            "unique",
        ),
        ({"jobs": [{"region": "r", "namespace": "n", "group": "g"}]}, r"jobs\[0\].*job_ids"),
        (
            {"jobs": [{"region": "r", "namespace": "n", "group": "g", "job_ids": ["9-3"]}]},
            "bad job id range",
        ),
        (
            {"jobs": [{"region": "r", "namespace": "n", "group": "g", "job_ids": ["x"]}]},
            r"jobs\[0\]\.job_ids\[0\]",
        ),
        (
            {
                "jobs": [
                    {"region": "r", "namespace": "n", "group": "g", "job_ids": ["1-10"]},
                    {"region": "r", "namespace": "n", "group": "h", "job_ids": [10]},
                ]
            },
            r"jobs\[1\]: job id 10 in r is also declared by jobs\[0\]",
        ),
        (
            {
                "jobs": [
                    {
                        "region": "r",
                        "namespace": "n",
                        "group": "g",
                        "job_ids": [1],
                        "edition": "gold",
                    }
                ]
            },
            "edition",
        ),
        ({"quota": {"RerunJob": "fast"}}, r"quota\.RerunJob"),
        ({"quota": {"RerunJob": "0/s"}}, "positive"),
        ({"faults": [{"kind": "explode"}]}, r"faults\[0\].*unknown fault kind"),
        ({"faults": [{"kind": "throttle", "probability": 2}]}, r"faults\[0\]"),
        ({"instance_list_order": "random"}, "instance_list_order"),
        ({"failure_rate": "high"}, "failure_rate"),
        ({"business_error_codes": {"nope": 1}}, "nope"),
    ],
)
def test_invalid_configs_name_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(SimulatorConfigError, match=message):
        SimulatorConfig.from_mapping(data)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("jobs: [{region: r}]\n"))
    with pytest.raises(SimulatorConfigError, match=r"bad\.yaml:1:8: jobs\[0\]"):
        SimulatorConfig.from_yaml(path)
    with pytest.raises(SimulatorConfigError, match=r"missing\.yaml"):
        SimulatorConfig.from_yaml(tmp_path / "missing.yaml")
    deep = tmp_path / "deep.yaml"
    deep.write_text("jobs: " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(SimulatorConfigError, match=r"deep\.yaml: cannot read config: nested"):
        SimulatorConfig.from_yaml(deep)


def test_secrets_never_in_reprs() -> None:
    credential = CredentialSpec("id", "s3cr3t-value", security_token="t0k3n-value")
    config = SimulatorConfig(credentials=(credential,))
    for text in (repr(credential), repr(config), str(config)):
        assert "s3cr3t-value" not in text
        assert "t0k3n-value" not in text


def test_registry_bisects_ranges_without_expanding_them() -> None:
    specs = (
        JobSpec("r", "n", "g", ((1, 100_000_000),)),
        JobSpec("r", "n", "h", ((200_000_000, 200_000_000),)),
        JobSpec("s", "n", "g", ((5, 5),)),
    )
    registry = Registry(specs)
    assert registry.find("r", 1) is specs[0]
    assert registry.find("r", 100_000_000) is specs[0]
    assert registry.find("r", 100_000_001) is None
    assert registry.find("r", 200_000_000) is specs[1]
    assert registry.find("r", 5) is specs[0]
    assert registry.find("s", 5) is specs[2]
    assert registry.find("s", 6) is None
    assert registry.find("t", 5) is None


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("100/min", 100 / 60), ("1.5/s", 1.5), ("3600/h", 1.0), (" 5 / sec ", 5.0)],
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


def test_token_bucket_burst_throttle_and_refill() -> None:
    bucket = TokenBucket(QuotaSpec.parse("5/s"), now=0.0)
    assert [bucket.try_take(0.0) for _ in range(5)] == [None] * 5
    # The sixth call in the same instant waits for a fifth of a second.
    assert bucket.try_take(0.0) == 200
    assert bucket.try_take(0.1) == 100
    assert bucket.try_take(0.2) is None
    assert bucket.try_take(0.2) == 200
    # Idle time refills, but never beyond the burst.
    assert [bucket.try_take(100.0) for _ in range(6)] == [None] * 5 + [200]


def test_default_quota_allows_100_per_minute() -> None:
    bucket = TokenBucket(QuotaSpec.parse("100/min"), now=0.0)
    granted = sum(bucket.try_take(t * 0.01) is None for t in range(6000))  # 60 s, 100 tries/s
    assert granted in (100, 101)  # the full first token plus 0.6 s per call


def test_quota_is_per_api_and_per_account() -> None:
    table = QuotaTable({"RerunJob": QuotaSpec(1.0, 1.0), "GetJobInfo": None}, QuotaSpec(1.0, 2.0))
    assert table.take("RerunJob", "acme", 0.0) is None
    assert table.take("RerunJob", "acme", 0.0) == 1000
    assert table.take("RerunJob", "other", 0.0) is None
    assert table.take("GetJobInstanceList", "acme", 0.0) is None  # its own bucket (default)
    assert all(table.take("GetJobInfo", "acme", 0.0) is None for _ in range(50))  # unlimited


def test_fault_budget_every_nth_and_actions() -> None:
    injector = FaultInjector(
        [
            FaultRule("unavailable", every_nth=3, actions=("RerunJob",)),
            FaultRule("throttle", budget=2),
        ],
        random.Random(0),
    )
    kinds = [getattr(injector.draw("RerunJob"), "kind", None) for _ in range(9)]
    # Throttle fires twice then its budget is spent; every third RerunJob is a 503.
    assert kinds == [
        "throttle",
        "throttle",
        "unavailable",
        None,
        None,
        "unavailable",
        None,
        None,
        "unavailable",
    ]
    assert injector.draw("GetJobInfo") is None  # budget spent, and not a RerunJob
    snapshot = {entry["kind"]: entry for entry in injector.snapshot()}
    assert snapshot["throttle"]["fired"] == 2
    assert snapshot["throttle"]["remaining"] == 0
    assert snapshot["unavailable"]["seen"] == 9


def test_fault_probability_is_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        injector = FaultInjector([FaultRule("unavailable", probability=0.3)], random.Random(seed))
        return [injector.draw("RerunJob") is not None for _ in range(200)]

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 30 <= sum(pattern(1)) <= 90


def test_every_problem_of_a_yaml_config_is_reported_at_its_position(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            server_timezone: Asia/Shanghai
            colour: blue
            credentials:
              - {access_key_id: a, access_key_secret: s}
              - {access_key_id: b}
            jobs:
              - {region: r, namespace: n, group: g, job_ids: [1, "x"]}
              - {region: r, namespace: n, group: g, job_ids: [2], max_concurrency: many}
            faults:
              - {kind: explode}
            failure_rate: high
            """
        )
    )
    with pytest.raises(SimulatorConfigError) as caught:
        SimulatorConfig.from_yaml(path)
    lines = [line.replace(str(path), "many.yaml") for line in caught.value.problems]
    assert [line.split(": ")[0] for line in lines] == [
        "many.yaml:2:1",  # colour
        "many.yaml:11:15",  # failure_rate
        "many.yaml:5:5",  # credentials[1]
        "many.yaml:7:54",  # jobs[0].job_ids[1]
        "many.yaml:8:72",  # jobs[1].max_concurrency
        "many.yaml:10:5",  # faults[0]
    ]
    assert lines[0].startswith("many.yaml:2:1: colour: unknown key; allowed: [")
    assert lines[3] == (
        "many.yaml:7:54: jobs[0].job_ids[1]: a job id is an integer or an 'A-B' range, got 'x'"
    )
    assert str(caught.value) == "\n".join(caught.value.problems)
