//! The sync protocol: wire types ([`wire`]), the client engine ([`engine`]) and an in-memory replica ([`replica`]) that a phone or a
//! test client drives over any transport. The exact specification is docs/PROTOCOL.md.

pub mod engine;
pub mod replica;
pub mod wire;

pub use engine::SyncOutcome;
pub use replica::{Replica, ReplicaError};
pub use wire::*;
