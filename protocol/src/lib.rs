//! doudi-protocol: what the phone and the server share.
//!
//! Pure data and rules, no I/O, so that it compiles for Android and iOS and runs offline.

pub mod access;
pub mod doc;
pub mod id_number;
pub mod identity;
pub mod ids;
pub mod region;
pub mod role;
pub mod rules;
pub mod sync;
