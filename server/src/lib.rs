//! doudi-server: HTTP API, sync, console and storage.
//!
//! Start it with [`app::launch`] (settings, a bound listener, a shutdown future), so that tests bind
//! 127.0.0.1:0 and drive the real server over HTTP.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod config;
pub mod console;
pub mod db;
pub mod demo;
pub mod documents;
pub mod entity;
pub mod error;
pub mod exports;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod metrics;
pub mod monitoring;
pub mod policies;
pub mod quarterly;
pub mod regions;
pub mod review;
pub mod search;
pub mod sync;
pub mod temporary_aid;
