//! The sync protocol: wire types ([`wire`]) and a sans-I/O replica ([`replica`]) that a phone or a
//! test client drives over any transport. The exact specification is docs/PROTOCOL.md.

pub mod replica;
pub mod wire;

pub use replica::{Replica, ReplicaError, SyncOutcome};
pub use wire::*;
