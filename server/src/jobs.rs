//! Background jobs that run once per period across all the nodes on one database.
//!
//! Several `doudi serve` processes may share a database (docs/OPERATIONS.md, "Several nodes").
//! Each runs the same periodic jobs (the task scheduler, change-log compaction); a lease in
//! `job_leases` decides which node runs a job: a node takes a free or expired lease for one period
//! and keeps it by running again before it ends, so every period sees one run, and when the
//! holder stops, another node takes over one period later at most. Taking the lease is one
//! statement, atomic on SQLite and PostgreSQL alike.

use std::future::Future;
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::entity::job_lease;

/// Take (or keep) the lease of `job` for `holder` until `now_ms + ttl_ms`: `true` when `holder`
/// now holds it, `false` while another holder's lease runs.
pub async fn lease<C: ConnectionTrait>(
    db: &C,
    job: &str,
    holder: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<bool, DbErr> {
    use job_lease::Column as C;
    let until = now_ms.saturating_add(ttl_ms);
    let insert = Query::insert()
        .into_table(job_lease::Entity)
        .columns([C::Job, C::Holder, C::UntilMs])
        .values_panic([job.into(), holder.into(), until.into()])
        .on_conflict(OnConflict::column(C::Job).do_nothing().to_owned())
        .to_owned();
    if db.execute(&insert).await?.rows_affected() == 1 {
        return Ok(true);
    }
    let update = Query::update()
        .table(job_lease::Entity)
        .value(C::Holder, holder)
        .value(C::UntilMs, until)
        .and_where(Expr::col(C::Job).eq(job))
        .and_where(
            Expr::col(C::UntilMs)
                .lt(now_ms)
                .or(Expr::col(C::Holder).eq(holder)),
        )
        .to_owned();
    Ok(db.execute(&update).await?.rows_affected() == 1)
}

/// This process's name as a lease holder: random, new at every start.
pub fn node_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(crate::auth::new_id)
}

/// Run `job` every `period` (the first tick right away) on whichever node holds its lease, until
/// the process ends. `run` gives a line for the log, or an error that is logged and retried at
/// the next period.
pub fn spawn_periodic<F, Fut>(db: DatabaseConnection, job: &'static str, period: Duration, run: F)
where
    F: Fn(DatabaseConnection) -> Fut + Send + 'static,
    Fut: Future<Output = Result<String, String>> + Send,
{
    let ttl_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match lease(&db, job, node_id(), crate::auth::now_ms(), ttl_ms).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(job, "another node holds the job's lease");
                    continue;
                }
                Err(e) => {
                    tracing::error!(job, error = %e, "job lease unavailable");
                    continue;
                }
            }
            match run(db.clone()).await {
                Ok(done) => tracing::info!(job, %done, "job ran"),
                Err(e) => tracing::error!(job, error = %e, "job failed"),
            }
        }
    });
}
