"""The embedded default as a newcomer uses it: `suanli up`, then the CLI against it, with the examples."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from suanli.billing.budget import CITY_TIME
from suanli.cli.credentials import credentials_path
from tests.e2e.harness import Proc, cli, env_for, free_port, kill_runners, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Proc(["up", "--port", str(port)], env_for(home), home / "up.log")
    try:
        wait_ready(url, proc)
        yield home, url
    finally:
        proc.stop()
        kill_runners(home)


def test_up_seeds_three_centres_and_saves_the_demo_token(embedded):
    home, url = embedded
    creds = credentials_path(home).read_text()
    assert url in creds and "sl_" in creds
    assert oct(credentials_path(home).stat().st_mode & 0o777) == "0o600"
    out = cli(home, "centres")
    assert out.returncode == 0, out.stderr
    for name in ("qingdao-ai", "west-coast-gpu", "qingdao-hpc", "Ascend910B", "A100", "CPU-X86"):
        assert name in out.stdout
    assert "3/3 centres online" in out.stdout


def test_train_example_succeeds_and_its_logs_are_kept(embedded):
    home, _ = embedded
    out = cli(home, "submit", "examples/train.yaml", "--wait")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "test accuracy" in out.stdout
    job_id = out.stdout.split("submitted ")[1].split()[0]
    logs = cli(home, "logs", job_id)
    assert logs.returncode == 0 and "epoch   1" in logs.stdout and "test accuracy" in logs.stdout
    why = cli(home, "why", job_id)
    assert "qingdao-hpc/cpu" in why.stdout and "finishes in" in why.stdout
    listing = cli(home, "jobs")
    assert job_id in listing.stdout and "succeeded" in listing.stdout


def test_gang_example_runs_both_ranks_together(embedded):
    home, _ = embedded
    out = cli(home, "submit", "examples/gang.yaml", "--wait")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rank 0: the whole gang is here: ['rank1:0,1,2,3,4,5,6,7']" in out.stdout


def test_failing_and_overrunning_examples_end_failed(embedded):
    home, _ = embedded
    failing = cli(home, "submit", "examples/fail.yaml", "--wait")
    assert failing.returncode == 1
    assert "input shard 7 is missing" in failing.stdout
    assert "failed" in failing.stderr and "exited with code 3" in failing.stderr
    overrun = cli(home, "submit", "examples/timeout.yaml", "--wait")
    assert overrun.returncode == 1
    assert "exceeded max_runtime of 5s" in overrun.stderr
    assert "tick 3" in overrun.stdout and "tick 30" not in overrun.stdout


def test_ascend_and_batch_inference_examples_get_their_devices(embedded):
    home, _ = embedded
    npu = cli(home, "submit", "examples/finetune-ascend.yaml", "--wait")
    assert npu.returncode == 0 and "NPUs 0,1,2,3 (Ascend910B)" in npu.stdout
    gpu = cli(home, "submit", "examples/batch-infer.yaml", "--wait")
    assert gpu.returncode == 0 and "accelerator A100 ids 0" in gpu.stdout and "scored 6 inputs" in gpu.stdout


def test_usage_is_charged_and_the_books_check_out(embedded, tmp_path: Path):
    home, _ = embedded
    spec = tmp_path / "paid.yaml"  # 8 A100 for about 3 s at 18.00 an accelerator-hour: about 0.12 CNY
    spec.write_text("name: paid\nproject: vision\nresources:\n  accelerators: A100:8\nrun: sleep 3\n")
    assert cli(home, "submit", str(spec), "--wait").returncode == 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the agent reports usage just after a job ends; it is charged on arrival
        account = cli(home, "account")
        if "charged: 0.00" not in account.stdout:
            break
    assert account.returncode == 0 and "balance owed:" in account.stdout and "charged: 0.00" not in account.stdout
    entries = cli(home, "ledger", "entries", "--kind", "usage")
    assert entries.returncode == 0 and "tenant:" in entries.stdout and "provider:" in entries.stdout
    verify = cli(home, "ledger", "verify", "--direct")
    assert verify.returncode == 0 and "ledger ok" in verify.stdout, verify.stdout + verify.stderr
    assert cli(home, "ledger", "verify").returncode == 1  # a tenant's token may not run the whole-city check
    month = datetime.now(CITY_TIME).strftime("%Y-%m")
    invoice = cli(home, "invoice", month)
    assert invoice.returncode == 0 and "A100" in invoice.stdout and "balance due" in invoice.stdout, invoice.stderr
    saved = tmp_path / "invoice.csv"
    assert cli(home, "invoice", month, "--format", "csv", "-o", str(saved)).returncode == 0
    assert saved.read_text().startswith("section,time,entry") and "\ncharge," in saved.read_text()
    assert cli(home, "invoice", "2026-13").returncode != 0
    # the paid job's centre: the invoice also lists what earlier tests' jobs cost (the Ascend example's few seconds
    # come to 0.01 when a loaded machine makes it run long), in the order they were charged
    rows = csv.DictReader(io.StringIO(saved.read_text()))
    centre = next(row["centre"] for row in rows if row["section"] == "charge" and row["model"] == "A100")
    admin = (home / "admin-token").read_text().strip()
    statement = cli(home, "settlement", month, "--centre", centre, "--token", admin)
    assert statement.returncode == 0 and "A100" in statement.stdout and "owed" in statement.stdout, statement.stderr
    assert cli(home, "settlement", month, "--centre", centre).returncode == 1  # not the tenant's to see
    capped = cli(home, "budget", "--project", "vision", "--set", "500")
    assert capped.returncode == 0 and "project vision: monthly budget 500.00 CNY" in capped.stdout, capped.stderr
    listed = cli(home, "budget", "--projects")
    assert "project vision" in listed.stdout and "charged 0.00" not in listed.stdout  # the job above was charged


def test_cli_reports_bad_specs_clearly(embedded, tmp_path: Path):
    home, _ = embedded
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nresources:\n  accelerators: A100:64\nrun: echo\n")
    out = cli(home, "submit", str(bad))
    assert out.returncode == 1 and "error:" in out.stderr and "8 A100 per node; the job needs 64" in out.stderr
    bad.write_text("name: x\nrun: [\n")
    out = cli(home, "submit", str(bad))
    assert out.returncode == 1 and "malformed YAML" in out.stderr


def test_cancel_a_running_job_from_the_cli(embedded, tmp_path: Path):
    home, _ = embedded
    spec = tmp_path / "long.yaml"
    spec.write_text("name: long\nrun: |\n  echo begin\n  sleep 120\n")
    job_id = cli(home, "submit", str(spec)).stdout.split("submitted ")[1].split()[0]
    for _ in range(100):
        if "running" in cli(home, "jobs", "--state", "running").stdout:
            break
    out = cli(home, "cancel", job_id)
    assert out.returncode == 0
    for _ in range(60):
        shown = cli(home, "job", job_id).stdout
        if "cancelled" in shown.splitlines()[0]:
            break
    assert "cancelled at the tenant's request" in shown
    assert cli(home, "cancel", job_id).returncode == 1  # finished: 409


def test_voucher_programmes_and_a_refused_application_from_the_cli(embedded):
    home, _ = embedded
    listed = cli(home, "vouchers", "programmes")
    assert listed.returncode == 0 and "qingdao-2026" in listed.stdout and "deduct-example-2026" in listed.stdout
    shown = cli(home, "vouchers", "show", "qingdao-2026")
    assert shown.returncode == 0 and "per_entity_year: '1000000.00'" in shown.stdout
    unpledged = cli(home, "vouchers", "apply", "qingdao-2026", "--contract", "C-1")
    assert unpledged.returncode != 0 and "pledge" in unpledged.stderr + unpledged.stdout
    # the demo tenant is a university: Qingdao's programme admits enterprises, and nothing was paid yet
    refused = cli(home, "vouchers", "apply", "qingdao-2026", "--contract", "C-1", "--pledge")
    said = refused.stderr + refused.stdout
    assert refused.returncode != 0 and "rules.kind" in said and "rules.min_paid" in said, said
    admin = (home / "admin-token").read_text().strip()
    report = cli(home, "vouchers", "report", "qingdao-2026", "--token", admin)
    assert report.returncode == 0 and "budget 20000000.00" in report.stdout and "reconciles" in report.stdout
    saved = home / "report.html"
    assert (
        cli(
            home, "vouchers", "report", "qingdao-2026", "--token", admin, "--format", "html", "-o", str(saved)
        ).returncode
        == 0
    )
    assert "算力券专项资金报告" in saved.read_text()
    assert cli(home, "vouchers", "report", "qingdao-2026").returncode == 1  # a tenant may not read the city's report
