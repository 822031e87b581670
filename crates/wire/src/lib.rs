//! ringfence's JSON form of commands and instants, shared by every edge that takes them in:
//! `ringfence import` (JSON Lines) and the HTTP API (request bodies). One parser, so a line of
//! an import file and an API request body mean exactly the same thing.

pub mod clock;
pub mod files;
pub mod input;
pub mod schema;
pub mod views;
