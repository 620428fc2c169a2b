//! doudi-server: HTTP API, sync, console and storage.
