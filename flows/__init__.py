"""Prefect flows of prefect-sweeps: ``from flows.sweep import sweep`` (the flow named "sweep")."""
