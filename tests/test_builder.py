"""The persistent MetaSchedule builder (:mod:`tenset_study.collect.builder`): real builds of a small matmul in
one pool of workers that outlives ``build`` calls, with ``LocalBuilder``'s results and error messages."""

from __future__ import annotations

import os

import pytest


def _matmul(n: int = 32):
    import tvm
    from tvm import te

    a = te.placeholder((n, n), name="A")
    b = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c])})


def _unbuildable():
    """A function that reads a variable it is never given: every build of it fails."""
    import tvm
    from tvm import tirx

    a = tirx.decl_buffer((4,), "float32", name="A")
    body = tirx.BufferStore(a, tirx.Cast("float32", tirx.Var("n", "int32")), [0])
    return tvm.IRModule({"main": tirx.PrimFunc([a], body).with_attr("global_symbol", "main")})


def test_builds_in_workers_that_outlive_a_build_call() -> None:
    from tvm.s_tir.meta_schedule.builder import BuilderInput

    from tenset_study.collect.builder import PersistentBuilder
    from tenset_study.collect.measure import export_shared_library
    from tenset_study.programs import targets

    cpu = targets.make_target(targets.cpu_target(1))
    builder = PersistentBuilder(1, 60.0, export_shared_library)
    try:
        worker = builder.pool.submit(os.getpid).result()
        first = builder.build([BuilderInput(_matmul(), cpu), BuilderInput(_matmul(16), cpu)])
        # a build that fails is an error result, and the next input is still built
        second = builder.build([BuilderInput(_unbuildable(), cpu), BuilderInput(_matmul(8), cpu)])
        assert builder.pool.submit(os.getpid).result() == worker, "the worker was replaced between build calls"
    finally:
        builder.close()
    assert worker != os.getpid()
    built = [first[0], first[1], second[1]]
    assert all(r.error_msg is None and os.path.isfile(r.artifact_path) for r in built)
    assert second[0].artifact_path is None and second[0].error_msg.startswith("LocalBuilder: An exception occurred")
    assert "(n,) are used, but are not passed in" in second[0].error_msg
    for result in built:
        os.remove(result.artifact_path)


def test_workers_are_replaced_after_their_quota_of_builds() -> None:
    from tvm.s_tir.meta_schedule.builder import BuilderInput

    from tenset_study.collect.builder import PersistentBuilder
    from tenset_study.collect.measure import export_shared_library
    from tenset_study.programs import targets

    cpu = targets.make_target(targets.cpu_target(1))
    builder = PersistentBuilder(1, 60.0, export_shared_library, recycle_after=2)
    try:
        worker = builder.pool.submit(os.getpid).result()  # one use
        (result,) = builder.build([BuilderInput(_matmul(), cpu)])  # two: the quota
        assert result.error_msg is None
        assert builder.pool.submit(os.getpid).result() != worker
    finally:
        builder.close()
    os.remove(result.artifact_path)


@pytest.mark.parametrize("workers", [0, -1])
def test_a_pool_needs_a_worker(workers: int) -> None:
    from tenset_study.collect.builder import PersistentBuilder
    from tenset_study.collect.measure import export_shared_library

    with pytest.raises(ValueError, match="max_workers: a build pool needs at least one worker"):
        PersistentBuilder(workers, 60.0, export_shared_library)


def test_a_closed_runner_has_stopped_its_workers_and_closing_again_is_harmless() -> None:
    from tenset_study.collect.measure import MeasureSettings, close_runner, make_runner

    runner = make_runner(MeasureSettings(number=1, repeat=1, min_repeat_ms=0))
    assert not runner.pool._shutdown
    close_runner(runner)
    assert runner.pool._shutdown
    close_runner(runner)
    close_runner(object())  # a runner without a local pool (RPC) has nothing to stop
