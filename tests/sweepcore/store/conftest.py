"""Fault-injection fixtures (moto) for the S3 store tests; see faults.py."""

from tests.sweepcore.store.faults import faulty_s3, moto_endpoint

__all__ = ["faulty_s3", "moto_endpoint"]
