//! Shared building blocks.
