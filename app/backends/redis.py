"""The Redis backend: state shared by every scheduler instance, on any host.

Each step is one Lua script (see ``lua/``), so it is atomic without locks or retry loops
and costs one round trip. Redis errors that mean "the store did not answer" become
``BackendUnavailable`` in ``redis_connection.guarded``, the one boundary with redis-py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from app.backends.base import (
    FORGET_SCHEDULER_S,
    BackendOptions,
    Beat,
    Claim,
    ClaimOutcome,
    ClaimSpec,
    JobPage,
    JobQuery,
    Stats,
    Transition,
    TransitionOutcome,
)
from app.backends.redis_codec import (
    dump_json,
    job_from_hash,
    new_job_hash,
    node_from_hash,
    pairs,
)
from app.backends.redis_connection import connect, describe_address, guarded
from app.backends.redis_keys import Keys
from app.backends.scripts import load_scripts
from app.errors import ConfigurationError, NodeNotFound
from app.models import Heartbeat, Job, JobState, Node, Report, SchedulerWorker

log = logging.getLogger(__name__)

Arg = str | int | float
EXPIRE_BATCH = 500
LIST_BATCH = 200


def _num(value: float) -> str:
    # Milliseconds are precise enough for every time jobrelay keeps, and shorter to store.
    return repr(round(float(value), 3))


def _transition(reply: Sequence[Any]) -> Transition:
    outcome, detail, flat = reply
    job = job_from_hash(pairs(flat)) if flat else None
    return Transition(TransitionOutcome(outcome), job, detail)


def _claim(reply: Sequence[Any], job: Job, now: float) -> Claim:
    """The claim's answer: the bound job as stored, or the new job as the script placed it."""
    outcome = ClaimOutcome(reply[0])
    if outcome is not ClaimOutcome.CREATED:
        return Claim(outcome, job_from_hash(pairs(reply[2])))
    node_id = reply[2] or None
    created = job.model_copy(
        update={
            "state": JobState(reply[1]),
            "node_id": node_id,
            "attempt": int(reply[3]),
            "created_at": round(now, 3),
            "updated_at": round(now, 3),
            "assigned_at": round(now, 3) if node_id else None,
        }
    )
    return Claim(outcome, created)


def _matches(job: Job, query: JobQuery) -> bool:
    wanted = (
        (query.state, job.state),
        (query.node_id, job.node_id),
        (query.kind, job.kind),
    )
    if any(want is not None and want != have for want, have in wanted):
        return False
    if query.before is not None and job.job_id >= query.before:
        return False
    return query.search is None or query.search in (job.job_id, job.request_id)


class RedisBackend:
    """The backend of cross-instance mode. ``client`` must decode responses to str."""

    def __init__(self, client: redis.Redis, options: BackendOptions) -> None:
        if not client.get_connection_kwargs().get("decode_responses"):
            raise ConfigurationError(
                "the Redis client of the backend needs decode_responses=True; "
                "build it with RedisBackend.from_url"
            )
        self._client = client
        self._options = options
        self._keys = Keys(options.key_prefix)
        self._scripts = load_scripts(client)
        self.address = describe_address(client)

    @classmethod
    def from_url(cls, url: str, options: BackendOptions, timeout_s: float = 5.0) -> RedisBackend:
        """A backend on the Redis at ``url``, giving up on a call after ``timeout_s``."""
        backend = cls(connect(url, timeout_s), options)
        log.debug("backend: Redis at %s, key prefix %s", backend.address, options.key_prefix)
        return backend

    @property
    def shared(self) -> bool:
        return True

    def close(self) -> None:
        self._client.close()

    # calls

    def _argv(self, now: float, *args: Arg) -> list[Arg]:
        head = (now, self._options.retention_s, self._options.dispatch_timeout_s)
        return [*map(_num, head), *args]

    def _run(self, script: Script, now: float, *args: Arg) -> Any:
        return script(keys=[self._keys.namespace], args=self._argv(now, *args))

    def _batch(self, script: Script, argvs: Sequence[list[Arg]]) -> list[Any]:
        """Run ``script`` once per argv in one pipelined round trip (no SCRIPT EXISTS)."""
        replies = self._evalsha_each(script, argvs)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # Redis restarted or its script cache was flushed: load once, redo those.
            script.sha = self._client.script_load(script.script)
            redone = self._evalsha_each(script, [argvs[i] for i in missing])
            for index, reply in zip(missing, redone, strict=True):
                replies[index] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def _evalsha_each(self, script: Script, argvs: Sequence[list[Arg]]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for argv in argvs:
            pipe.evalsha(script.sha, 1, self._keys.namespace, *argv)
        return list(pipe.execute(raise_on_error=False))

    def _fetch(self, job_ids: Sequence[str]) -> list[Job]:
        """The jobs with these ids, in order, skipping any that expired meanwhile."""
        if not job_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(self._keys.job(job_id))
        return [job_from_hash(fields) for fields in pipe.execute() if fields]

    # creation

    def _claim_argv(
        self, job: Job, candidates: Sequence[str], now: float, counters: Mapping[str, float]
    ) -> list[Arg]:
        # The hash goes as one JSON argument: redis-py encodes each argument in Python,
        # which costs more than the script's decoding of one.
        fields = dump_json(new_job_hash(job, now))
        head: list[Arg] = [job.job_id, job.request_id, job.fingerprint, job.priority, fields]
        added = [item for name, amount in counters.items() for item in (name, _num(amount))]
        return self._argv(now, *head, len(counters), *added, *candidates)

    @guarded
    def claim(
        self,
        job: Job,
        candidates: Sequence[str],
        now: float,
        counters: Mapping[str, float] | None = None,
    ) -> Claim:
        argv = self._claim_argv(job, candidates, now, counters or {})
        return _claim(self._scripts.claim(keys=[self._keys.namespace], args=argv), job, now)

    @guarded
    def claim_many(self, specs: Sequence[ClaimSpec], now: float) -> list[Claim]:
        argvs = [self._claim_argv(s.job, s.candidates, now, s.counters) for s in specs]
        replies = self._batch(self._scripts.claim, argvs) if argvs else []
        return [_claim(reply, s.job, now) for reply, s in zip(replies, specs, strict=True)]

    # reads

    @guarded
    def get_job(self, job_id: str) -> Job | None:
        fields = cast(dict[str, str], self._client.hgetall(self._keys.job(job_id)))
        return job_from_hash(fields) if fields else None

    @guarded
    def list_jobs(self, query: JobQuery) -> JobPage:
        if query.search is not None:
            found = [job for job in self._search(query.search) if _matches(job, query)]
        else:
            found = self._scan_index(query)
        page = found[: query.limit]
        more = len(found) > query.limit
        return JobPage(jobs=page, next=page[-1].job_id if more else None)

    def _search(self, text: str) -> list[Job]:
        job = self.get_job(text)
        if job is None:
            bound = cast(str | None, self._client.get(self._keys.binding(text)))
            job = self.get_job(bound.split(" ", 1)[0]) if bound else None
        return [job] if job else []

    def _scan_index(self, query: JobQuery) -> list[Job]:
        """Up to limit + 1 matching jobs, newest first, from the narrowest index.

        NOTE: filters by node and kind are applied while walking the state (or all-jobs)
        index, so a rare node or kind costs a walk over many ids.
        """
        index = self._keys.state(query.state) if query.state else self._keys.jobs
        plain = query.node_id is None and query.kind is None
        batch = query.limit + 1 if plain else max(query.limit + 1, LIST_BATCH)
        found: list[Job] = []
        cursor = query.before
        while len(found) <= query.limit:
            top = f"({cursor}" if cursor else "+"
            ids = cast(list[str], self._client.zrevrangebylex(index, top, "-", 0, batch))
            found += [job for job in self._fetch(ids) if _matches(job, query)]
            if len(ids) < batch:
                break
            cursor = ids[-1]
        return found

    @guarded
    def stats(self) -> Stats:
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(self._keys.stats)
        for state in JobState:
            pipe.zcard(self._keys.state(state.value))
        pipe.zcard(self._keys.backlog)
        counters, *sizes, backlog = pipe.execute()
        return Stats(
            states={state.value: size for state, size in zip(JobState, sizes, strict=True)},
            counters={name: float(value) for name, value in counters.items()},
            backlog=backlog,
        )

    @guarded
    def count(self, counters: dict[str, float]) -> None:
        if counters:
            flat = [item for name, amount in counters.items() for item in (name, _num(amount))]
            self._run(self._scripts.count, 0.0, *flat)

    @guarded
    def backlog(self, limit: int) -> list[Job]:
        ids = cast(list[str], self._client.zrange(self._keys.backlog, 0, limit - 1))
        return self._fetch(ids)

    @guarded
    def due(self, now: float, limit: int) -> list[tuple[str, int, str]]:
        found = self._run(self._scripts.due, now, limit)
        return [(job_id, int(attempt), reason) for job_id, attempt, reason in found]

    @guarded
    def node_jobs(self, node_id: str) -> list[str]:
        return sorted(cast(set[str], self._client.smembers(self._keys.node_jobs(node_id))))

    # nodes

    @guarded
    def heartbeat(self, heartbeat: Heartbeat, now: float) -> Beat:
        node, taken_back = self._run(
            self._scripts.heartbeat,
            now,
            heartbeat.node_id,
            dump_json(heartbeat.capabilities),
            dump_json(heartbeat.kinds),
            dump_json(heartbeat.labels),
            heartbeat.slots,
            _num(heartbeat.cpu_percent),
            _num(heartbeat.memory_percent),
            heartbeat.hostname,
            "1" if heartbeat.draining else "0",
            dump_json(heartbeat.running_jobs),
            heartbeat.incarnation,
        )
        return Beat(node_from_hash(pairs(node)), [_transition(step) for step in taken_back])

    @guarded
    def nodes(self) -> list[Node]:
        replies = self._run(self._scripts.nodes, 0.0)
        return sorted((node_from_hash(pairs(flat)) for flat in replies), key=lambda n: n.node_id)

    @guarded
    def set_draining(self, node_id: str, draining: bool, now: float) -> Node:
        reply = self._run(self._scripts.set_draining, now, node_id, "1" if draining else "0")
        if not reply:
            raise NodeNotFound(f"node {node_id} is not known; check `jobrelay nodes`")
        return node_from_hash(pairs(reply))

    @guarded
    def node_lost(self, node_id: str, now: float) -> list[Transition]:
        return [_transition(reply) for reply in self._run(self._scripts.node_lost, now, node_id)]

    # lifecycle

    @guarded
    def report(self, report: Report, now: float) -> Transition:
        reply = self._run(
            self._scripts.report,
            now,
            report.job_id,
            report.attempt,
            report.node_id,
            report.event,
            dump_json(report.result),
            report.error or "",
            "1" if report.retryable else "0",
            "" if report.started_at is None else _num(report.started_at),
        )
        return _transition(reply)

    @guarded
    def requeue(self, job_id: str, attempt: int, reason: str, now: float) -> Transition:
        return _transition(self._run(self._scripts.requeue, now, job_id, attempt, reason))

    @guarded
    def assign(self, job_id: str, candidates: Sequence[str], now: float) -> Transition:
        return _transition(self._run(self._scripts.assign, now, job_id, *candidates))

    @guarded
    def fail_pending(self, job_id: str, reason: str, now: float) -> Transition:
        return _transition(self._run(self._scripts.fail_pending, now, job_id, reason))

    @guarded
    def note_pending(self, job_id: str, explanation: str, now: float) -> None:
        self._run(self._scripts.note_pending, now, job_id, explanation)

    @guarded
    def cancel(self, job_id: str, now: float) -> Transition:
        return _transition(self._run(self._scripts.cancel, now, job_id))

    # housekeeping

    @guarded
    def expire(self, now: float) -> int:
        dropped = 0
        while True:
            batch = int(self._run(self._scripts.expire, now, EXPIRE_BATCH))
            dropped += batch
            if batch < EXPIRE_BATCH:
                return dropped

    @guarded
    def scheduler_seen(self, worker: SchedulerWorker, now: float) -> None:
        described = worker.model_dump_json()
        self._run(self._scripts.scheduler_seen, now, worker.name, described, FORGET_SCHEDULER_S)

    @guarded
    def schedulers(self) -> list[SchedulerWorker]:
        found = cast(dict[str, str], self._client.hgetall(self._keys.schedulers))
        return [SchedulerWorker.model_validate_json(found[name]) for name in sorted(found)]

    @guarded
    def try_lease(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        return bool(self._run(self._scripts.lease, now, name, owner, _num(ttl_s)))
