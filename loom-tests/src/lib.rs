//! Loom models of sigring's protocols live in `tests/`; this library is empty.
//!
//! Run them with `RUSTFLAGS="--cfg sigring_loom" cargo test -p loom-tests --release`.
