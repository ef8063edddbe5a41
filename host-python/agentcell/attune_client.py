"""The Attuned clients; kept for imports written before `agentcell.attune.client`."""

from .attune.client import AttunedClient, SyncAttunedClient

__all__ = ["AttunedClient", "SyncAttunedClient"]
