from suanli.scheduling.decisions import PoolReason, ReasonCode
from suanli.service.scheduler import summarise


def reason(pool: str, code: ReasonCode, message: str) -> PoolReason:
    return PoolReason(f"id-{pool}", "c", pool, code, message)


def test_summary_leads_with_what_blocks_the_pools_that_could_run_the_job():
    reasons = [
        reason("npu", ReasonCode.MODEL_MISMATCH, "pool has Ascend910B; the job needs A100"),
        reason("a100", ReasonCode.INSUFFICIENT_CAPACITY, "pool busy: 0 of 2 node(s) have room now"),
        reason("cpu", ReasonCode.STACK_MISMATCH, "CPU pool; the job needs A100"),
    ]
    assert summarise(reasons) == "c/a100: pool busy: 0 of 2 node(s) have room now (2 other pools cannot run it)"


def test_summary_groups_identical_messages():
    reasons = [reason(p, ReasonCode.CENTRE_OFFLINE, "centre c is offline") for p in ("a", "b")]
    assert summarise(reasons) == "centre c is offline (2 pools)"


def test_summary_of_a_job_no_pool_can_run_names_the_mismatches():
    reasons = [reason("npu", ReasonCode.MODEL_MISMATCH, "pool has Ascend910B; the job needs A100")]
    assert summarise(reasons) == "c/npu: pool has Ascend910B; the job needs A100"
