"""Service lifecycle: idempotent, lock-guarded, failures recorded, resources released; the registry."""

from __future__ import annotations

import asyncio

import pytest

from dashboard.core.lifecycle import Service, ServiceError, ServiceRegistry


class Counting(Service):
    def __init__(self, fail: bool = False, **params):
        super().__init__(**params)
        self.fail = fail
        self.starts = 0
        self.stops = 0
        self.released: list[str] = []

    async def _initialize(self) -> None:
        self.starts += 1
        await asyncio.sleep(0.01)  # give a concurrent caller the chance to race
        self.resources.add("handle", object(), lambda: self.released.append("handle"))
        if self.fail:
            raise OSError("port in use")

    async def _shutdown(self) -> None:
        self.stops += 1


async def test_initialize_is_idempotent_under_concurrency():
    svc = Counting()
    await asyncio.gather(svc.initialize(), svc.initialize(), svc.initialize())
    assert svc.starts == 1
    assert svc.state == "running" and svc.running
    await svc.shutdown()


async def test_shutdown_releases_resources_and_is_idempotent():
    svc = Counting()
    await svc.initialize()
    assert svc.resources.keys() == ["handle"]
    await asyncio.gather(svc.shutdown(), svc.shutdown())
    assert svc.stops == 1 and svc.released == ["handle"]
    assert svc.state == "stopped" and not svc.running
    assert len(svc.resources) == 0


async def test_restart_after_shutdown():
    svc = Counting()
    await svc.initialize()
    await svc.shutdown()
    await svc.initialize()
    assert svc.starts == 2 and svc.running
    await svc.shutdown()


async def test_failed_start_is_recorded_and_cleaned_up():
    svc = Counting(fail=True, name="web")
    with pytest.raises(OSError, match="port in use"):
        await svc.initialize()
    assert svc.state == "failed"
    assert svc.error == "OSError: port in use"
    assert svc.released == ["handle"], "what the hook acquired before failing is released"
    with pytest.raises(ServiceError, match="web failed to start"):
        await svc.initialize()
    await svc.shutdown()
    svc.fail = False
    await svc.initialize()
    assert svc.running and svc.error is None
    await svc.shutdown()


async def test_async_with():
    async with Counting() as svc:
        assert svc.running
    assert svc.state == "stopped"


async def test_state_is_a_param_widgets_can_watch():
    svc = Counting()
    seen: list[str] = []
    svc.param.watch(lambda e: seen.append(e.new), "state")
    await svc.initialize()
    await svc.shutdown()
    assert seen == ["starting", "running", "stopping", "stopped"]


async def test_registry_creates_and_initializes_by_name():
    registry = ServiceRegistry()
    registry.register("counting")(Counting)
    svc = await registry.create("counting", name="c1")
    assert isinstance(svc, Counting) and svc.running and svc.name == "c1"
    await svc.shutdown()
    with pytest.raises(KeyError, match=r"no service registered as 'nope' \(known: counting\)"):
        registry.build("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("counting")(Service)


def test_default_registry_knows_builtins():
    import dashboard.service  # noqa: F401  (registers the built-ins)

    assert {"metrics", "system"} <= set(ServiceRegistry.default().names())
