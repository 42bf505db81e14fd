"""The Lua scripts of the Redis backend, each loaded with the shared prelude in front."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis
from redis.commands.core import Script

LUA_DIR = Path(__file__).with_name("lua")
PRELUDE = "common"


@dataclass(frozen=True)
class Scripts:
    """One registered script per backend step; redis-py reloads any on NOSCRIPT."""

    claim: Script
    report: Script
    requeue: Script
    assign: Script
    fail_pending: Script
    note_pending: Script
    cancel: Script
    node_lost: Script
    heartbeat: Script
    set_draining: Script
    nodes: Script
    due: Script
    expire: Script
    lease: Script
    count: Script
    scheduler_seen: Script


def script_source(name: str) -> str:
    """The text sent to Redis for ``name``: the prelude, then the script itself."""
    prelude = (LUA_DIR / f"{PRELUDE}.lua").read_text()
    return prelude + "\n" + (LUA_DIR / f"{name}.lua").read_text()


def load_scripts(client: redis.Redis) -> Scripts:
    """Register every script; nothing is sent to Redis until a script first runs."""
    names = Scripts.__dataclass_fields__
    return Scripts(**{name: client.register_script(script_source(name)) for name in names})
