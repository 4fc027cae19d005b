# Everyday commands (CI does not need `just`: it runs .ci/run).

# Validate the example repository and list its assets.
example:
    cargo run -q --bin strata -- check && cargo run -q --bin strata -- assets

# Every test, as CI runs them.
test:
    bash tests/run.sh

# Format, lint, test.
ready:
    cargo fmt --all
    cargo clippy --workspace --all-targets -- -D warnings
    bash tests/run.sh

# Partition benchmarks (release build of crates/core only).
bench:
    cargo bench -p strata-core --bench partitions

# Regenerate the Dagster reference vectors (needs the venv described in crates/core/tests/dagster/README.md).
vectors:
    .venv-dagster/bin/python crates/core/tests/dagster/generate_vectors.py
