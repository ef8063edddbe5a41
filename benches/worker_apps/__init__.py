"""Apps the worker benchmark runs in separate processes: agentcell handlers, and the
same handlers as Huey tasks."""
