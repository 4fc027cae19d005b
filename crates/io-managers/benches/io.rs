//! IO manager benchmarks (written in the next commit).

fn main() {}
