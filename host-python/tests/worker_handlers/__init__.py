"""Handlers for the registry's discovery test, written as for upstream's tasker_core."""
