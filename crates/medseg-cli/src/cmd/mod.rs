//! One module per subcommand: parse, validate, call the library, print.

pub mod bench;
pub mod data;
pub mod demo;
pub mod eval;
pub mod export;
pub mod info;
pub mod predict;
pub mod score;
pub mod synth;
pub mod train;
