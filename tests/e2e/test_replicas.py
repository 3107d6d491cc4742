"""Many replicas, one backfill: `run` processes of one plan sharing a PostgreSQL journal.

Proved from the simulator's own record: every (job, day) rerun exactly once and none
missing, and the RerunJob arrivals of all replicas together within the plan's rate (plus
its burst of one) in every second, although one replica was SIGKILLed mid-run (its
leases expire and the survivors reconcile what it held in flight).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from datetime import date, datetime

import psycopg
import pytest
import yaml

from rerun_orchestrator._pg_server import ThrowawayServer

pytestmark = pytest.mark.slow

START, DAYS, JOBS = date(2024, 1, 1), 12, list(range(301, 307))  # 6 jobs, 36 chunks of 2
RATE = 12  # per second, the plan's and the simulator's quota
LEASE = {"RERUN_ORCHESTRATOR_LEASE_SECONDS": "2"}


def rerun_arrivals(sim) -> list[float]:
    with urllib.request.urlopen(sim.url + "/_simulator/requests", timeout=10) as response:
        rows = json.loads(response.read())
    return sorted(row["at"] for row in rows if row["action"] == "RerunJob")


def finish(proc, who: str, seconds: float = 50) -> tuple[str, str]:
    """Its output once it exits; if it hangs, kill it and fail with what it printed."""
    try:
        return proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{who} hung:\n{out[-2000:]}\n{err[-6000:]}") from None


def finish_all(replicas: list, seconds: float = 90) -> list[tuple[str, str]]:
    """Every replica's output (killing those still running if one hangs); each exited 0."""
    try:
        outputs = [finish(proc, f"replica {n}", seconds) for n, proc in enumerate(replicas)]
    finally:
        for proc in replicas:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, (out, err) in zip(replicas, outputs, strict=True):
        assert proc.returncode == 0, out + err
    return outputs


def wait_until(condition, seconds: float = 60) -> None:
    """Poll an outside process's progress (the simulator's record, the database)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the replicas made no progress"
        time.sleep(0.02)


def leases_of(url: str, pid: int) -> list[int]:
    """The jobs whose lease the replica of process `pid` holds (or held when it died)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT job FROM rerun_leases WHERE owner LIKE %s", (f"%:{pid}:%",)
        ).fetchall()
    return [json.loads(job)[-1] for (job,) in rows]


def most_in_a_second(times: list[float]) -> int:
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def test_three_replicas_one_killed_every_day_once_within_the_rate(e2e, postgres_url) -> None:
    config = e2e.base_config(JOBS, quota={"RerunJob": f"{RATE}/s", "GetJobInstanceList": "200/s"})
    sim = e2e.simulator(config)
    plan = e2e.plan(
        "replicas", JOBS, start=START, days=DAYS, chunk_days=2, rate=f"{RATE}/s", concurrency=3
    )
    args = e2e.run_args(plan, sim.url, postgres_url)  # type: ignore[arg-type]
    # The first replica starts alone, so that it holds leases when it is killed; the
    # other two join while it works.
    replicas = [e2e.launch(*args, env=LEASE)]
    try:
        victim = replicas[0]
        wait_until(lambda: len(sim.calls()) >= 3 and bool(leases_of(postgres_url, victim.pid)))
        replicas += [e2e.launch(*args, env=LEASE) for _ in range(2)]
        wait_until(lambda: len(sim.calls()) >= 10 and bool(leases_of(postgres_url, victim.pid)))
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        held = leases_of(postgres_url, victim.pid)  # never released: it was killed
        done_at_kill = e2e.rerun_days(sim, JOBS)
        outputs = [proc.communicate(timeout=120) for proc in replicas]
    finally:
        for proc in replicas:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert replicas[0].returncode == -signal.SIGKILL
    for proc, (out, err) in zip(replicas[1:], outputs[1:], strict=True):
        assert proc.returncode == 0, out + err
        assert "replica " in out  # the summary says which replica did what
    taken = sum(int(out.split("took over ")[1].split()[0]) for out, _ in outputs[1:])
    # Which replica did what: the survivors settled at least what was left at the kill.
    settled = sum(int(out.split(" chunks (")[1].split()[0]) for out, _ in outputs[1:])
    left = len(JOBS) * DAYS - sum(done_at_kill.values())
    assert left <= settled <= len(JOBS) * DAYS, (settled, left)
    unfinished = [
        j for j in held if sum(n for (job, _), n in done_at_kill.items() if job == j) < DAYS
    ]
    if unfinished:  # the killed replica's unfinished jobs went to the survivors
        assert taken >= 1, f"no survivor took over the killed replica's jobs {unfinished}"
    e2e.assert_exactly_once(sim, JOBS, START, DAYS)
    arrivals = rerun_arrivals(sim)
    assert most_in_a_second(arrivals) <= RATE + 1, "the replicas together exceeded the rate"
    status = e2e.run("status", "--journal", postgres_url, "--format", "json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["journal"].startswith("postgresql://")
    counts = data["counts"]
    assert counts["succeeded"] == counts["total"] > 0, counts
    days = {(d["job_id"], d["day"]) for d in data["days"] if d["status"] == "succeeded"}
    assert len(days) == len(JOBS) * DAYS


def test_a_single_run_on_postgres_resumes_after_kill_9(e2e, postgres_url, tmp_path) -> None:
    sim = e2e.simulator(e2e.base_config(JOBS))
    plan = e2e.plan("single", JOBS, start=START, days=DAYS, chunk_days=3, concurrency=2)
    args = e2e.run_args(plan, sim.url, postgres_url)  # type: ignore[arg-type]
    killed = e2e.run(*args, failpoints="request_written=5", env=LEASE)
    assert killed.returncode != 0
    resumed = e2e.run(*args, env=LEASE)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "journal: postgresql://" in resumed.stdout
    e2e.assert_exactly_once(sim, JOBS, START, DAYS)
    # `status --journal URL` from another machine: no plan, no local state, no access
    # key; the URL's password never shown.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "HOME": str(elsewhere),
        "RERUN_ORCHESTRATOR_HOME": str(elsewhere / "state"),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "",
    }
    url = postgres_url.replace("postgres@", "postgres:s3cret@", 1)  # trust: any password
    status = e2e.run("status", "--journal", url, "--format", "json", env=env, cwd=elsewhere)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["counts"]["succeeded"] == data["counts"]["total"] > 0
    assert "s3cret" not in status.stdout + status.stderr
    assert data["journal"].startswith("postgresql://postgres:***@127.0.0.1:")
    assert list(elsewhere.iterdir()) == []  # it wrote nothing here


def test_status_of_a_database_without_a_journal_is_refused(e2e, postgres_url) -> None:
    done = e2e.run("status", "--journal", postgres_url)
    assert done.returncode == 2
    assert "no journal at postgresql://" in done.stderr


@pytest.fixture
def own_server(postgres_server):
    """A server of this test's own, to restart under a run (the session's stays up)."""
    server = ThrowawayServer.create()
    server.start()
    try:
        yield server
    finally:
        server.remove()


def test_a_database_restart_mid_run_is_waited_out(e2e, own_server) -> None:
    jobs = list(range(321, 325))
    config = e2e.base_config(jobs, quota={"RerunJob": "20/s", "GetJobInstanceList": "200/s"})
    sim = e2e.simulator(config)
    plan = e2e.plan("restart", jobs, start=START, days=DAYS, chunk_days=1, rate="10/s")
    run = e2e.launch(*e2e.run_args(plan, sim.url, own_server.url))  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 60
        while len(sim.calls()) < 8 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        sent_before = len(sim.calls())
        own_server.restart()  # every connection dropped at once, as in a crash
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert 8 <= sent_before < len(jobs) * DAYS, "the restart did not fall mid-run"
    assert run.returncode == 0, out + err
    assert "rerun.journal.unreachable" in err  # it did wait for the database
    e2e.assert_exactly_once(sim, jobs, START, DAYS)


def test_a_replica_paused_past_its_leases_wakes_and_writes_nothing_twice(e2e, postgres_url) -> None:
    jobs = list(range(341, 345))
    sim = e2e.simulator(e2e.base_config(jobs))
    plan = e2e.plan("paused", jobs, start=START, days=DAYS, chunk_days=1, rate="20/s")
    args = e2e.run_args(plan, sim.url, postgres_url)  # type: ignore[arg-type]
    paused = e2e.launch(*args, env=LEASE)
    survivor = None
    try:
        deadline = time.monotonic() + 60
        while len(sim.calls()) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        paused.send_signal(signal.SIGSTOP)
        survivor = e2e.launch(*args, env=LEASE)  # takes the jobs over once the leases expire
        out, err = finish(survivor, "the survivor")
        assert survivor.returncode == 0, out + err
        e2e.assert_exactly_once(sim, jobs, START, DAYS)
        calls = len(sim.calls())
        paused.send_signal(signal.SIGCONT)
        out, err = finish(paused, "the woken replica")
    finally:
        for proc in (paused, survivor):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.communicate()
    assert paused.returncode == 0, out + err
    assert len(sim.calls()) == calls  # the woken replica sent nothing more
    e2e.assert_exactly_once(sim, jobs, START, DAYS)


def test_a_groups_cap_holds_across_replicas(e2e, postgres_url) -> None:
    """Two replicas, one group of 6 jobs, ``max_active_per_group: 3`` and
    ``max_active_per_job: 2``: the simulator's peaks of active rerun instances never
    above them (the group's counted per replica, two replicas could run 6), and every
    day once."""
    jobs = list(range(361, 367))
    config = e2e.base_config(jobs, instance_wait_seconds=0, instance_run_seconds=0.4)
    sim = e2e.simulator(config)
    path = e2e.plan("group-cap", jobs, start=START, days=6, chunk_days=2, concurrency=4)
    plan = yaml.safe_load(path.read_text())
    plan["execution"].update(max_active_per_group=3, max_active_per_job=2)
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    args = e2e.run_args(path, sim.url, postgres_url, "--watch-poll", "0.1")  # type: ignore[arg-type]
    replicas = [e2e.launch(*args, env=LEASE) for _ in range(2)]
    outputs = finish_all(replicas)
    e2e.assert_exactly_once(sim, jobs, START, 6)
    peaks = sim._get("/_simulator/peaks?trigger_type=2")
    print(f"group peaks {peaks['groups']}")
    assert peaks["groups"]["cn-hangzhou/ns-1/g1"]["active"] <= 3, peaks["groups"]
    assert max(p["active"] for p in peaks["jobs"].values()) <= 2, peaks["jobs"]
    sent = [int(out.split(" sent ")[1].split()[0]) for out, _ in outputs]
    assert all(sent), f"a replica sent nothing: {sent}"  # both took part


def test_a_groups_cap_survives_a_replica_killed_mid_run(e2e, postgres_url) -> None:
    """A replica SIGKILLed while it holds slots of a capped group: its slots stop counting
    once its leases expire, the survivor finishes (no wait for slots nobody gives back),
    every day once, and the group's peak within the cap."""
    jobs = list(range(381, 385))
    config = e2e.base_config(jobs, instance_wait_seconds=0, instance_run_seconds=0.3)
    sim = e2e.simulator(config)
    path = e2e.plan("group-kill", jobs, start=START, days=6, chunk_days=1, concurrency=4)
    plan = yaml.safe_load(path.read_text())
    plan["execution"]["max_active_per_group"] = 2
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    args = e2e.run_args(path, sim.url, postgres_url, "--watch-poll", "0.1")  # type: ignore[arg-type]
    victim = e2e.launch(*args, env=LEASE)
    survivor = None
    try:
        wait_until(lambda: len(sim.calls()) >= 4 and bool(leases_of(postgres_url, victim.pid)))
        survivor = e2e.launch(*args, env=LEASE)
        wait_until(lambda: len(sim.calls()) >= 8)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
        sent_at_kill = len(sim.calls())
        held = leases_of(postgres_url, victim.pid)  # never released: it was killed
        out, err = finish(survivor, "the survivor", 90)
    finally:
        for proc in (victim, survivor):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert held, "the victim held no lease when killed"
    assert sent_at_kill < len(jobs) * 6, "the kill did not fall mid-run"
    assert survivor.returncode == 0, out + err
    e2e.assert_exactly_once(sim, jobs, START, 6)
    peaks = sim._get("/_simulator/peaks?trigger_type=2")
    print(f"group peaks {peaks['groups']}")
    assert peaks["groups"]["cn-hangzhou/ns-1/g1"]["active"] <= 2, peaks["groups"]


def test_two_replicas_rerun_every_day_once_more_after_the_separation(e2e, postgres_url) -> None:
    """A deliberate rerun (`--rerun-succeeded`, generation 1) of days generation 0 has just
    rerun, shared by two replicas launched together: each day gets exactly one more rerun
    instance (none missing, none doubled: once per generation), and each no sooner than
    the separation after the day's first one, whichever replica sent it (the check made
    under the job's lock with the mark in flight). Proved from the simulator's instances."""
    jobs = list(range(311, 317))  # concurrency 1 each: the replicas take turns on the jobs
    config = e2e.base_config(jobs, quota={"RerunJob": "8/s", "GetJobInstanceList": "200/s"})
    sim = e2e.simulator(config)
    plan = e2e.plan(
        "generations", jobs, start=START, days=8, chunk_days=2, rate="8/s", concurrency=1
    )
    skew = 3.0  # the separation: 2 x 3 + the 0.3 s settle time + 2 = 8.3 s
    args = e2e.run_args(plan, sim.url, postgres_url, "--clock-skew", f"{skew:g}")  # type: ignore[arg-type]
    first = e2e.run(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    e2e.assert_exactly_once(sim, jobs, START, 8)
    again = [*args, "--rerun-succeeded"]
    # launched together, as a deployment's replicas are: they start one generation, not
    # two (Journal.start_generation's `seen`), and its jobs wait out the separation
    replicas = [e2e.launch(*again), e2e.launch(*again)]
    finish_all(replicas)
    assert generation_of(postgres_url, "generations") == 1
    scheduled: dict[tuple[int, str], list[str]] = {}
    for row in sim.instances():
        if row["trigger_type"] == 2 and row["job_id"] in jobs:
            scheduled.setdefault((row["job_id"], row["data_time"][:10]), []).append(
                row["schedule_time"]
            )
    assert len(scheduled) == len(jobs) * 8
    assert {len(times) for times in scheduled.values()} == {2}  # once per generation
    separation = 2 * skew + 0.3 + 2
    for day, times in scheduled.items():
        earlier, later = sorted(datetime.fromisoformat(t) for t in times)
        # whole seconds, on the server's clock (the same machine's)
        assert (later - earlier).total_seconds() >= separation - 1, (day, times)


def generation_of(url: str, plan: str) -> int | None:
    """The rerun generation the journal's plan entry is at (None before it has one)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT rerun_generation FROM rerun_plans WHERE name = %s", (plan,))
        found = row.fetchone()
    return None if found is None else int(found[0])
