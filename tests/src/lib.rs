//! Test harness: start the real server on 127.0.0.1:0 with a fresh database.
