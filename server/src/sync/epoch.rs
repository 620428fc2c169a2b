//! The server's sync epoch (docs/PROTOCOL.md section 5, "Epoch"): a random non-zero 64-bit
//! number stored with the database (`sync_epoch`, migration 29) and renewed when the database
//! is restored from a backup (`doudi restore`, `doudi epoch renew`). Every node of a database
//! reads it once as it starts: a restore needs every node stopped.
//!
//! A phone sends back the epoch it last received. One that synced with this database's history
//! after the point it was restored to holds a cursor beyond the restored feed and changes it
//! was told were accepted that are gone: it is sent its scope again from 0 and told to push
//! every change of its own again ([`Epoch::stale`]).
//!
//! A database recovered to an earlier point without a renewal (`doudi epoch renew` forgotten
//! after a point-in-time recovery, a file copy put back by hand) still gives itself away while
//! its feed has not grown back past the cursors phones hold: a cursor beyond the end of the feed
//! is one this history never gave ([`FeedEnd`]), and that device is answered the same way.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

/// The statement that renews the epoch to `new` (the signed integer of its bits), keeping the
/// epoch it replaces and where the feed ends: run by `doudi restore` on the restored SQLite
/// file and by `doudi epoch renew` on any database. Both backends read it alike.
pub fn renew_statement(new: i64) -> String {
    format!(
        "UPDATE sync_epoch SET previous_epoch = epoch, \
         restored_seq = (SELECT seq FROM sync_feed WHERE id = 1), epoch = {new} WHERE id = 1"
    )
}

/// The epoch of this database, as read when the server started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// Sent to phones; never 0.
    pub current: u64,
    /// The epoch the last renewal replaced: the database's epoch at the point it was restored to.
    pub previous: Option<u64>,
    /// The end of the sync feed when the epoch was renewed: where the restored history ends.
    pub restored_seq: u64,
}

impl Epoch {
    /// Read the epoch of `db` (migrated).
    pub async fn load(db: &DatabaseConnection) -> Result<Epoch, DbErr> {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT epoch, previous_epoch, restored_seq FROM sync_epoch WHERE id = 1",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("sync_epoch row missing".into()))?;
        let epoch: i64 = row.try_get_by_index(0)?;
        let previous: Option<i64> = row.try_get_by_index(1)?;
        let restored: Option<i64> = row.try_get_by_index(2)?;
        Ok(Epoch {
            current: epoch as u64,
            previous: previous.map(|p| p as u64),
            restored_seq: restored.unwrap_or(0).max(0) as u64,
        })
    }

    /// Whether a request of a device that says it last received `epoch`, stands at `cursor`
    /// and continues a pull (`resumed`) may come from a device that holds changes this database
    /// acknowledged and lost, or documents beyond its feed: it then pulls again from 0 and pushes
    /// everything of its own again.
    ///
    /// Not so: a device that names no epoch (a new device, or a client that keeps none), one
    /// that names this one, and one that names the epoch the database had at the point it was
    /// restored to, whose last finished pull ended there or before and that is not in the middle
    /// of one. The answer that acknowledges a push ends a pull at or after the push's place in
    /// the feed (the device's own write lies in its scope), or continues a pull; so such a device
    /// was acknowledged nothing after that point.
    ///
    /// A device whose cursor lies `beyond_feed` is stale whatever epoch it names: the database
    /// lost history without a renewal.
    pub fn stale(&self, epoch: Option<u64>, cursor: u64, resumed: bool, beyond_feed: bool) -> bool {
        match epoch {
            None => beyond_feed,
            Some(e) if e == self.current => beyond_feed,
            Some(e) => !(Some(e) == self.previous && !resumed && cursor <= self.restored_seq),
        }
    }

    /// The epoch to send with an answer to a device that says it holds `epoch`: this one, when
    /// that is not it.
    pub fn to_send(&self, epoch: Option<u64>) -> Option<u64> {
        (epoch != Some(self.current)).then_some(self.current)
    }
}

/// The highest end of the sync feed this process knows of: read from the database, or a cursor
/// it answered (every cursor an answer gives lies within the feed). The feed only grows but for
/// a restore, which needs every node stopped, so a cursor at or below it lies within the feed,
/// and the database is read only for one beyond: a device that last synced with another node.
#[derive(Debug, Default)]
pub struct FeedEnd(AtomicU64);

impl FeedEnd {
    /// Whether `cursor` lies beyond the end of the feed of `db`.
    pub async fn passed_by<C: ConnectionTrait>(&self, db: &C, cursor: u64) -> Result<bool, DbErr> {
        if cursor <= self.0.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT seq FROM sync_feed WHERE id = 1",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("sync_feed row missing".into()))?;
        let end = row.try_get_by_index::<i64>(0)?.max(0) as u64;
        self.saw(end);
        Ok(cursor > end)
    }

    /// A place in the feed that exists: a cursor this process answered.
    pub fn saw(&self, seq: u64) {
        self.0.fetch_max(seq, Ordering::Relaxed);
    }
}

/// Give the database a new epoch (after a point-in-time recovery; `doudi restore` does it on
/// its own): the new one.
pub async fn renew(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let new = doudi_migrations::random_epoch();
    db.execute_unprepared(&renew_statement(new)).await?;
    Ok(new as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_device_that_may_hold_lost_history_is_stale() {
        let fresh = Epoch {
            current: 7,
            previous: None,
            restored_seq: 0,
        };
        assert!(!fresh.stale(None, 0, false, false));
        assert!(!fresh.stale(Some(7), 90, true, false));
        assert!(fresh.stale(Some(5), 0, false, false));
        // A cursor beyond the feed: history lost without a renewal.
        assert!(fresh.stale(Some(7), 90, false, true));
        assert!(fresh.stale(None, 90, true, true));
        let restored = Epoch {
            current: 9,
            previous: Some(7),
            restored_seq: 100,
        };
        assert!(!restored.stale(Some(9), 150, false, false));
        // Last finished a pull at or before the restored end, and nothing in progress.
        assert!(!restored.stale(Some(7), 100, false, false));
        assert!(!restored.stale(Some(7), 0, false, false));
        // Beyond it, or in the middle of a pull (its pushes may have been acknowledged).
        assert!(restored.stale(Some(7), 101, false, false));
        assert!(restored.stale(Some(7), 40, true, false));
        // An epoch of another history altogether.
        assert!(restored.stale(Some(3), 10, false, false));
        // Restored again by hand to before the renewal's end, the renewal forgotten.
        assert!(restored.stale(Some(9), 150, false, true));
        assert_eq!(restored.to_send(Some(9)), None);
        assert_eq!(restored.to_send(Some(7)), Some(9));
        assert_eq!(restored.to_send(None), Some(9));
    }
}
