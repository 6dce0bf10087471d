"""Session-wide fixtures: a real S3-compatible server (tests/s3fixtures.py) and Prefect."""

pytest_plugins = ["tests.s3fixtures", "tests.prefectfixtures"]
