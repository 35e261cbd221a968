//! Shared helpers for the integration tests (being written).
