//! Benchmarks and load tools for MechaFil-rs. See `benches/README.md`.
