"""chainwatch's benchmark suite: ``python -m benchmarks [--quick] [NAME ...]``.

Each ``benchmarks/bench_<name>.py`` module exposes ``run(quick: bool) -> list[BenchRow]``;
the runner prints one table with every row. Performance targets live here, not in
timed unit tests.
"""
