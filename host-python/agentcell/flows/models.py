"""`Flow` and `Execution`: typed views of the dictionaries the API answers.

The client's methods return the service's JSON as dictionaries, as the official SDK
does; `Flow.from_dict(client.get_flow(id))` and `Execution.from_dict(...)` give these
typed records, and `to_dict()` goes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["TERMINAL_STATUSES", "Execution", "Flow"]

# An execution in one of these states changes no more.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass
class Flow:
    """A flow definition: agents as nodes, edges as each node's `depends_on`."""

    flow_id: str
    name: str
    description: str
    nodes: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: str = "1.0.0"
    entry_point: str | None = None
    exit_points: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flow:
        return cls(
            flow_id=data["flow_id"],
            name=data.get("name", data["flow_id"]),
            description=data.get("description", ""),
            nodes=list(data.get("nodes", [])),
            metadata=data.get("metadata"),
            created_at=_when(data.get("created_at")),
            updated_at=_when(data.get("updated_at")),
            version=data.get("version", "1.0.0"),
            entry_point=data.get("entry_point"),
            exit_points=list(data.get("exit_points", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        """The definition as `create_flow` takes it."""
        data: dict[str, Any] = {
            "flow_id": self.flow_id,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "nodes": self.nodes,
            "exit_points": self.exit_points,
        }
        if self.entry_point is not None:
            data["entry_point"] = self.entry_point
        if self.metadata:
            data["metadata"] = self.metadata
        for key, value in (("created_at", self.created_at), ("updated_at", self.updated_at)):
            if value is not None:
                data[key] = _iso(value)
        return data


@dataclass
class Execution:
    """One run of a flow."""

    execution_id: str
    flow_id: str
    status: str  # pending, running, completed, failed, cancelled
    input_data: dict[str, Any]
    output_data: dict[str, Any] | None = None
    error_message: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the execution has ended (completed, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Execution:
        return cls(
            execution_id=data["execution_id"],
            flow_id=data.get("flow_id", ""),
            status=data["status"],
            input_data=dict(data.get("input_data") or {}),
            output_data=data.get("output_data"),
            error_message=data.get("error_message"),
            created_at=_when(data.get("created_at")),
            updated_at=_when(data.get("updated_at")),
            completed_at=_when(data.get("completed_at")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "flow_id": self.flow_id,
            "status": self.status,
            "input_data": self.input_data,
            "output_data": self.output_data,
            "error_message": self.error_message,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "completed_at": _iso(self.completed_at),
        }
