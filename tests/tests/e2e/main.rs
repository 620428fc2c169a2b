//! doudi's end-to-end tests, one binary (faster to link than one per file): the real server on
//! 127.0.0.1:0, real SQLite and PostgreSQL (when `DOUDI_TEST_PG_URL` is set), real HTTP, the real
//! SDK. Run one file's tests with `cargo test -p doudi-tests --test e2e <file>::`.

mod access;
mod admin_console;
mod api_contract;
mod auth;
mod backup;
mod blobs;
mod enrolment;
mod exports;
mod faults;
mod identity;
mod input;
mod jobs;
mod layers;
mod means;
mod metrics;
mod model;
mod monitoring;
mod nodes;
mod policy;
mod policy_rules;
mod quarterly;
mod report_life;
mod review;
mod schema;
mod sdk_e2e;
mod search;
mod sync;
mod tekun_care;
mod temporary_aid;
