//! The tfe runtime.
pub mod net;
pub mod prg;
pub mod ring;
