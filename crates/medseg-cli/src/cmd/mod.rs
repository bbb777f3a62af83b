//! One module per subcommand: parse, validate, call the library, print.

pub mod data;
pub mod info;
pub mod score;
pub mod synth;
