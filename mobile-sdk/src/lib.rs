//! doudi-sdk: the library the Android and iOS apps embed, through uniffi bindings.
//!
//! - [`DoudiClient`]: log in, list and search households, capture visits with photos and
//!   signatures, file discovery reports, and sync with the server.
//! - The local store: SQLite (WAL), every sensitive value sealed with XChaCha20-Poly1305 under a
//!   key the app keeps in Android Keystore / iOS Keychain.
//! - [`Transport`]: HTTP is done by the host app's stack, or by [`BuiltinTransport`].
//! - [`photo`]: the photo pipeline.
//!
//! Reading, searching and capturing never touch the network.

uniffi::setup_scaffolding!();

mod blocking;
mod client;
mod crypto;
mod error;
mod means;
mod model;
mod parallel;
pub mod photo;
mod regions;
mod store;
mod summary;
mod sync;
mod transport;

pub use client::{DoudiClient, parse_enrolment_qr};
pub use error::DoudiError;
pub use means::*;
pub use model::*;
pub use transport::{
    BuiltinTransport, HttpHeader, HttpRequest, HttpResponse, Transport, TransportError, decoded,
};
