//! doudi-sdk: the library the Android and iOS apps embed.
//!
//! The uniffi surface, local store and sync client land with the SDK work; the photo pipeline is
//! in [`photo`].

pub mod photo;
