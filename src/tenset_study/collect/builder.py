"""A MetaSchedule builder whose worker processes outlive a search round.

MetaSchedule's ``LocalBuilder`` starts a new pool of worker processes for every ``build`` call, against a
memory leak of long-lived workers, so every search round of a tuning run pays the workers' start-up
(importing TVM: about 3 s on a 2-core machine, 4.5 s on the GPU host) whatever its number of trials. With
few trials per round that start-up is most of a round's build time. :class:`PersistentBuilder` keeps one
pool for its whole life and replaces each worker after ``recycle_after`` builds instead (the leak's cure
without the start-up in every round). It builds with MetaSchedule's own build and export functions, so a
program builds the same either way.
"""

from __future__ import annotations

from collections.abc import Callable

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import BuilderInput, BuilderResult, PyBuilder

#: Builds a worker does before it is replaced by a fresh process.
RECYCLE_AFTER = 256


@derived_object
class PersistentBuilder(PyBuilder):
    """``LocalBuilder``'s builds in one pool of workers kept across ``build`` calls.

    ``f_export`` exports a built module (e.g. :func:`~.measure.export_shared_library`); ``initializer``
    runs once in each worker (default: :func:`~tenset_study.programs.tvm_setup.builder_initializer`, which
    spares every worker the 30-40 s import of TVM's tensor intrinsics that ``default_build`` would trigger). Call :meth:`close` to stop the workers (MetaSchedule's object wrapper
hides context-manager methods of derived classes).
    """

    def __init__(self, max_workers: int, timeout_sec: float, f_export: Callable, initializer: Callable | None = None,
                 recycle_after: int = RECYCLE_AFTER) -> None:
        from tvm.support.popen_pool import PopenPoolExecutor

        if max_workers < 1:
            raise ValueError(f"max_workers: a build pool needs at least one worker, got {max_workers}")
        from ..programs.tvm_setup import builder_initializer

        super().__init__()
        self.timeout_sec = timeout_sec
        self.f_export = f_export
        self.pool = PopenPoolExecutor(max_workers=max_workers, timeout=timeout_sec, initializer=initializer or builder_initializer,
                                      maximum_process_uses=recycle_after)

    def build(self, build_inputs: list[BuilderInput]) -> list[BuilderResult]:
        from tvm.s_tir.meta_schedule.builder.local_builder import _serialize_params, _worker_func

        jobs = [(None, self.f_export, one.mod, one.target, _serialize_params(one.params)) for one in build_inputs]
        return [_builder_result(outcome, self.timeout_sec)
                for outcome in self.pool.map_with_error_catching(lambda job: _worker_func(*job), jobs)]

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.shutdown()


def persistent_builder(settings) -> PersistentBuilder:
    """A :class:`PersistentBuilder` for :class:`~.measure.MeasureSettings`: its worker count, build timeout and
    export format (a linked shared library, or a tarball for RPC)."""
    return PersistentBuilder(settings.build_workers(), settings.build_timeout_s, settings.export_function())


def _builder_result(outcome, timeout_sec: float) -> BuilderResult:
    """A pool's outcome as MetaSchedule's ``BuilderResult``, with ``LocalBuilder``'s error messages."""
    from tvm.support.popen_pool import StatusKind

    if outcome.status == StatusKind.COMPLETE:
        return BuilderResult(outcome.value, None)
    if outcome.status == StatusKind.TIMEOUT:
        return BuilderResult(None, f"LocalBuilder: Timeout, killed after {timeout_sec} seconds")
    return BuilderResult(None, "LocalBuilder: An exception occurred\n" + str(outcome.value))
