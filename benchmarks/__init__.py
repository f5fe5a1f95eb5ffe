"""The performance harness: ``python -m benchmarks`` (docs/performance.md)."""
