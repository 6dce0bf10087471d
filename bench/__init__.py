"""Benchmarks: search quality and suggestion latency against peers, loop and store overhead."""
