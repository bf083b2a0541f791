"""A headless run that only a signal ends (used by the signal-handling test)."""
import asyncio
import sys

from engine.events import EventBus
from engine.headless import run_headless
from engine.wiring import build_engine
from tests.engine.support import NO_SECRETS, make_config


async def main() -> int:
    engine = build_engine(make_config(sim={"speed": 100}), NO_SECRETS, EventBus())
    return await run_headless(engine)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
