//! Domain rules that run offline on the phone and on the server: region policy, income arithmetic,
//! the working-day calendar and re-check schedules.
//!
//! Everything here is a pure function of its inputs: no I/O, no clock, no panics on bad input.
//! Results of [`assessment`] and [`income`] are hints for the investigator, never decisions: the township and the county
//! decide (DB2021, TK2021). The rules, their sources and the choices made where the sources are silent
//! are described in `docs/RULES.md`.

pub mod assessment;
pub mod calendar;
pub mod income;
pub mod means;
pub mod policy;
pub mod schedule;

mod units;

pub use units::{Cap, Money, Rate, RateParseError, Text};
