"""The records jobrelay keeps and exchanges: requests, jobs, nodes, heartbeats, reports."""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.errors import InvalidRequest

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
LabelValue = Annotated[str, StringConstraints(max_length=200)]
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
MAX_LIST_ITEMS = 64
MAX_PAYLOAD_DEPTH = 100
M = TypeVar("M", bound=BaseModel)


class JobState(enum.StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
ACTIVE_STATES = frozenset({JobState.ASSIGNED, JobState.RUNNING})


class NodeStatus(enum.StrEnum):
    ALIVE = "alive"
    DRAINING = "draining"
    OFFLINE = "offline"


class SchedulerStatus(enum.StrEnum):
    ALIVE = "alive"
    STOPPED = "stopped"
    OFFLINE = "offline"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class JobRequest(_Strict):
    """What a producer submits. ``request_id`` is the idempotency key."""

    request_id: Identifier
    kind: Identifier
    payload: dict[str, Any] = Field(default_factory=dict)
    requires: list[Identifier] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    selector: dict[Identifier, LabelValue] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS)
    preferred_node: Identifier | None = None
    exclude_nodes: list[Identifier] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    affinity_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    timeout_s: float | None = Field(default=None, gt=0, le=7 * 86_400)
    max_attempts: int = Field(default=3, ge=1, le=100)

    def fingerprint(self) -> str:
        """A digest of the whole normalized body, stored with the request_id binding."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


class Explanation(BaseModel):
    """Why the selector chose a node, or why it found none."""

    node_id: str | None = None
    candidates: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    relaxed_exclusions: bool = False
    reason: str = ""

    def summary(self) -> str:
        if self.node_id:
            return self.reason or f"chose {self.node_id}"
        if not self.rejected:
            return "no node offers this kind of job"
        parts = sorted(self.rejected.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{count} {reason}" for reason, count in parts)


HISTORY_REASON_CHARS = 500


class Attempt(BaseModel):
    """An earlier attempt of a job, kept when the job was taken back from its node."""

    attempt: int
    node_id: str | None = None
    assigned_at: float | None = None
    started_at: float | None = None
    ended_at: float
    reason: str = ""


class Job(BaseModel):
    """The record created from a request, and its progress.

    ``history`` holds the attempts before the current one; the current attempt is the
    job's own ``attempt``, ``node_id`` and times.
    """

    model_config = ConfigDict(extra="ignore")

    job_id: str
    request_id: str
    kind: str
    state: JobState
    node_id: str | None = None
    attempt: int = 0
    created_at: float
    updated_at: float
    result: Any = None
    error: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    requires: list[str] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    preferred_node: str | None = None
    exclude_nodes: list[str] = Field(default_factory=list)
    affinity_key: str | None = None
    priority: int = 0
    timeout_s: float | None = None
    max_attempts: int = 3
    fingerprint: str = ""
    tried_nodes: list[str] = Field(default_factory=list)
    assigned_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    explanation: str | None = None
    history: list[Attempt] = Field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def request(self) -> JobRequest:
        return JobRequest.model_validate(
            {field: getattr(self, field) for field in JobRequest.model_fields}, strict=False
        )

    def public(self) -> dict[str, Any]:
        """The job as JSON, for answers to producers and the API."""
        return self.model_dump(mode="json")


class Heartbeat(_Strict):
    """What a node agent reports about itself every ``heartbeat_interval_s``.

    ``incarnation`` is new each time the agent process starts: a heartbeat with a new one
    tells the store that jobs still running under the previous one will never report.
    """

    node_id: Identifier
    capabilities: list[Identifier] = Field(default_factory=list, max_length=256)
    kinds: list[Identifier] = Field(default_factory=list, max_length=256)
    labels: dict[Identifier, LabelValue] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS)
    slots: int = Field(ge=0, le=10_000)
    running_jobs: list[str] = Field(default_factory=list, max_length=10_000)
    cpu_percent: float = Field(default=0.0, ge=0, le=100_000)
    memory_percent: float = Field(default=0.0, ge=0, le=100)
    draining: bool = False
    hostname: Annotated[str, StringConstraints(max_length=255)] = ""
    incarnation: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{0,64}$")] = ""
    sent_at: float = 0.0


class Node(BaseModel):
    """A node as the scheduler sees it."""

    node_id: str
    capabilities: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    slots: int = 0
    running: int = 0
    reserved: int = 0
    reported_running: int = 0
    status: NodeStatus = NodeStatus.ALIVE
    last_seen: float = 0.0
    cpu_percent: float = 0.0
    memory_percent: float = 0.0
    hostname: str = ""
    draining: bool = False
    incarnation: str = ""
    restarts: int = 0

    @property
    def used(self) -> int:
        """Slots in use: reserved ones, plus running ones by the store's count or the
        node's own, whichever is higher (a timed-out handler may still hold a thread)."""
        return max(self.running, self.reported_running) + self.reserved

    @property
    def free(self) -> int:
        return max(self.slots - self.used, 0)

    @property
    def load(self) -> float:
        return self.used / self.slots if self.slots else 1.0


ReportEvent = Literal["accepted", "started", "succeeded", "failed"]


class Report(_Strict):
    """A node's word about one attempt of a job."""

    job_id: Identifier
    attempt: int = Field(ge=1)
    node_id: Identifier
    event: ReportEvent
    result: Any = None
    error: Annotated[str, StringConstraints(max_length=8192)] | None = None
    retryable: bool = False
    # When the handler began, by the node's clock: an end can overtake its ``started``
    # report (schedulers take messages concurrently), and the job's timings still hold.
    started_at: float | None = Field(default=None, ge=0)


class SchedulerWorker(BaseModel):
    """A scheduler worker as it last described itself (every sweep interval)."""

    name: str
    hostname: str
    pid: int
    mode: str
    pool: str
    concurrency: int
    started_at: float
    last_seen: float
    sweeping: bool = False
    stopped: bool = False

    def status_at(self, now: float, offline_after_s: float) -> SchedulerStatus:
        """``alive``, ``stopped`` (it said so) or ``offline`` (silent too long)."""
        if self.stopped:
            return SchedulerStatus.STOPPED
        if now - self.last_seen > offline_after_s:
            return SchedulerStatus.OFFLINE
        return SchedulerStatus.ALIVE


class Created(BaseModel):
    """The answer to a creation: the job, and whether this call created it."""

    job: Job
    created: bool

    def public(self) -> dict[str, Any]:
        return {"job": self.job.public(), "created": self.created}


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """Turn pydantic's error list into one sentence that names the fields."""
    problems = []
    for error in exc.errors()[:5]:
        field = ".".join(str(part) for part in error["loc"]) or what
        problems.append(f"{field}: {error['msg']}")
    more = len(exc.errors()) - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"invalid {what}: " + "; ".join(problems) + suffix


def parse_model(model: type[M], data: object, what: str) -> M:
    """Validate ``data`` as ``model`` or raise ``InvalidRequest`` naming the fields."""
    if not isinstance(data, dict):
        raise InvalidRequest(f"invalid {what}: expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(exc, what)) from exc


def nesting_depth(value: object, limit: int) -> int:
    """How deep lists and objects nest in ``value``, counting no further than ``limit + 1``."""
    deepest, level = 0, [value]
    while level and deepest <= limit:
        children: list[object] = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
            elif isinstance(item, list):
                children.extend(item)
        deepest += bool(children) or any(isinstance(i, dict | list) for i in level)
        level = children
    return deepest


def parse_request(data: object, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> JobRequest:
    """Validate a request dict, including the size and nesting of its payload."""
    request = parse_model(JobRequest, data, "request")
    # Deeper payloads would pass JSON encoding but fail later, when the job is serialized.
    if nesting_depth(request.payload, MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH:
        raise InvalidRequest(
            f"invalid request: payload nests deeper than {MAX_PAYLOAD_DEPTH} levels of "
            "objects and lists; flatten it"
        )
    try:
        size = len(json.dumps(request.payload, separators=(",", ":")).encode())
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidRequest("invalid request: payload is not serializable as JSON") from exc
    if size > max_payload_bytes:
        raise InvalidRequest(
            f"invalid request: payload is {size} bytes of JSON, over the limit of "
            f"{max_payload_bytes} (JOBRELAY_MAX_PAYLOAD_BYTES)"
        )
    return request


class RunOrder(_Strict):
    """What the scheduler sends a node to run one attempt of a job."""

    job_id: Identifier
    attempt: int = Field(ge=1)
    node_id: Identifier
    kind: Identifier
    payload: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)
