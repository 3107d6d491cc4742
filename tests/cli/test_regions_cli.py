"""`validate` refuses regions SchedulerX does not have, offline, without the HTTP stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rerun_orchestrator._regions import KNOWN_REGIONS, suggest_region
from rerun_orchestrator.cli import _option_types as _options
from rerun_orchestrator.cli import main
from rerun_orchestrator.plan import check_plan_text
from rerun_orchestrator.schedulerx import ENDPOINT_MAP
from rerun_orchestrator.schedulerx._endpoints import is_loopback_host

PLAN = """\
version: 1
name: regions
timezone: Asia/Shanghai
region: cn-hangzou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-02}]
  - region: xx-nowhere-9
    jobs: [2]
    windows: [{start: 2024-01-01, end: 2024-01-02}]
  - region: ap-southeast-1
    jobs: [3]
    windows: [{start: 2024-01-01, end: 2024-01-02}]
"""


def test_validate_refuses_unknown_regions_at_their_positions_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "regions.yaml"
    path.write_text(PLAN)
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}:4:9: region 'cn-hangzou' is not in SchedulerX's endpoint map;"
        " did you mean 'cn-hangzhou'?",
        f"{path}:11:13: region 'xx-nowhere-9' is not in SchedulerX's endpoint map"
        " (docs/plan.md lists them; run --endpoint can reach others)",
    ]
    fixed = PLAN.replace("cn-hangzou", "cn-hangzhou").replace("xx-nowhere-9", "eu-west-1")
    path.write_text(fixed)
    assert main(["validate", str(path)]) == 0


def test_the_library_checks_regions_only_when_asked() -> None:
    plan, diagnostics = check_plan_text(PLAN)  # run --endpoint may reach any region
    assert plan is not None, diagnostics
    plan, diagnostics = check_plan_text(PLAN, known_regions=KNOWN_REGIONS)
    assert plan is None
    assert [(d.line, d.col) for d in diagnostics] == [(4, 9), (11, 13)]


def test_the_region_list_is_the_endpoint_map() -> None:
    assert frozenset(ENDPOINT_MAP) == KNOWN_REGIONS
    assert suggest_region("cn-shangai") == "cn-shanghai"
    assert suggest_region("zz") is None


@pytest.mark.slow
def test_validate_plan_and_schema_never_load_the_http_stack(tmp_path: Path) -> None:
    path = tmp_path / "regions.yaml"
    path.write_text(PLAN)
    probe = (
        "import sys\n"
        "from rerun_orchestrator.cli import main\n"
        f"main(['validate', {str(path)!r}])\n"
        f"main(['plan', {str(path)!r}])\n"
        "main(['schema'])\n"
        "heavy = sorted(m for m in ('aiohttp', 'structlog', 'rich') if m in sys.modules)\n"
        "print(heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.stderr.splitlines()[-1] == "[]", result.stderr


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "127.0.0.1", "127.9.9.9", "::1", "10.0.0.1", "example.com"]
)
def test_the_cli_loopback_rule_is_the_clients(host: str) -> None:
    assert _options._is_loopback(host) == is_loopback_host(host)
