//! Work in progress: see the issue for `sigring::signal`.
