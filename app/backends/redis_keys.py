"""Names of the Redis keys of one jobrelay namespace.

Every key starts with ``{<key_prefix>}:``: the braces make the prefix the Cluster hash tag,
so all keys of a namespace live in one slot and a Lua script may touch any of them.
"""

from __future__ import annotations


class Keys:
    """Key names for one ``key_prefix``; the Lua scripts build the same names."""

    def __init__(self, prefix: str) -> None:
        self.namespace = f"{{{prefix}}}:"

    def job(self, job_id: str) -> str:
        return f"{self.namespace}job:{job_id}"

    def binding(self, request_id: str) -> str:
        return f"{self.namespace}req:{request_id}"

    def node_jobs(self, node_id: str) -> str:
        return f"{self.namespace}node:{node_id}:jobs"

    def state(self, state: str) -> str:
        return f"{self.namespace}state:{state}"

    @property
    def jobs(self) -> str:
        """Every retained job id, score 0, so that lexical order is ULID (time) order."""
        return f"{self.namespace}jobs"

    @property
    def backlog(self) -> str:
        return f"{self.namespace}backlog"

    @property
    def stats(self) -> str:
        return f"{self.namespace}stats"

    @property
    def schedulers(self) -> str:
        return f"{self.namespace}schedulers"

    @property
    def pattern(self) -> str:
        """A SCAN pattern that matches every key of the namespace."""
        return f"{self.namespace}*"
