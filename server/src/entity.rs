//! sea-orm entities of the relational side. Times are unix milliseconds.

pub mod region {
    use sea_orm::entity::prelude::*;

    /// 行政区划 / 网格: one node of the region tree.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "regions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub parent_code: Option<String>,
        pub level: String,
        pub name: String,
        /// Materialised path `/code/code/.../code/` from the root; a subtree is a prefix match.
        pub path: String,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub username: String,
        pub display_name: String,
        pub role: String,
        pub password_hash: String,
        pub disabled: bool,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account_region {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_regions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub region_code: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod device {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "devices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub name: String,
        pub platform: String,
        pub created_at_ms: i64,
        pub last_seen_at_ms: i64,
        pub revoked_at_ms: Option<i64>,
        pub revoked_reason: Option<String>,
        /// When the device logged out (`None` while signed in): its access tokens are refused.
        pub signed_out_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod enrolment_code {
    use sea_orm::entity::prelude::*;

    /// A one-time enrolment code (手机登录码) for a field account; only its hash is stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "enrolment_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        /// SHA-256 (hex) of the code in its normal form; the code itself is never stored.
        pub code_hash: String,
        /// The administrator who made it.
        pub created_by: String,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        /// When a phone exchanged it (once).
        pub used_at_ms: Option<i64>,
        /// The device it registered.
        pub used_device_id: Option<String>,
        pub revoked_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub device_id: String,
        /// SHA-256 (hex) of the token; the token itself is never stored.
        pub token_hash: String,
        pub issued_at_ms: i64,
        pub expires_at_ms: i64,
        /// Set when the token was exchanged for a new one (rotation). Presenting it again is reuse.
        pub used_at_ms: Option<i64>,
        /// Set at logout: the session ended without suspicion.
        pub ended_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod login_attempt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub username: String,
        pub client_addr: String,
        pub at_ms: i64,
        pub success: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_log {
    use sea_orm::entity::prelude::*;

    /// Append-only audit log (the database refuses UPDATE and DELETE).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at_ms: i64,
        pub account_id: Option<String>,
        pub device_id: Option<String>,
        /// Region path of the acting account (its first bound region), for scoping who may read it.
        pub region_path: Option<String>,
        pub action: String,
        pub target: Option<String>,
        pub outcome: String,
        pub client_addr: Option<String>,
        pub detail: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod server_secret {
    use sea_orm::entity::prelude::*;

    /// Keys shared by every server process on one database (e.g. the access-token key), created
    /// once by whichever process starts first.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "server_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: String,
        pub created_at_ms: i64,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ServerSecret")
                .field("name", &self.name)
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document {
    use sea_orm::entity::prelude::*;

    /// A CRDT document: its compact automerge bytes and its place in the sync feed.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        /// Grid code.
        pub scope: String,
        /// Materialised path of the grid.
        pub region_path: String,
        /// `Automerge::save()` of the current state.
        pub snapshot: Vec<u8>,
        /// Heads, hex, comma-separated.
        pub heads: String,
        /// Feed sequence at which the document was created.
        pub created_seq: i64,
        /// Feed sequence of its latest change.
        pub seq: i64,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
        /// The change log holds the bytes of every change of this document stored after this
        /// feed sequence; older ones were compacted away (the snapshot has them).
        pub changes_from_seq: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod doc_change {
    use sea_orm::entity::prelude::*;

    /// One automerge change as received: who sent it, when, and its bytes. The document's history.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub doc_id: String,
        /// Change hash, hex.
        pub hash: String,
        pub seq: i64,
        pub device_id: String,
        pub account_id: String,
        /// Automerge actor id, hex.
        pub actor: String,
        pub at_ms: i64,
        pub bytes: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod device_sync {
    use sea_orm::entity::prelude::*;

    /// The scope a device last synced with, to notice when its account's regions change.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "device_sync")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub device_id: String,
        /// Region paths, newline-separated, sorted.
        pub scope_key: String,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod change_log_state {
    use sea_orm::entity::prelude::*;

    /// How far the change log has been compacted (one row, `id` 1; `sync::compact`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_log_state")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// Every logged change with a feed sequence up to this one has given up its bytes.
        pub compacted_seq: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod job_lease {
    use sea_orm::entity::prelude::*;

    /// Which node runs a background job, until when (`crate::jobs`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_leases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub job: String,
        pub holder: String,
        pub until_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod spot_check {
    use sea_orm::entity::prelude::*;

    /// A 特困 application the township approved, numbered in its county and month (抽查).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "spot_checks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub visit_id: String,
        /// The county's 12-digit code.
        pub county: String,
        /// `YYYY-MM` of the township's approval (China time).
        pub month: String,
        /// 1 for the county's first such approval of the month, and so on.
        pub seq: i64,
        /// The sample share in force at the approval.
        pub percent: i32,
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod calendar_day {
    use sea_orm::entity::prelude::*;

    /// A listed day of an imported working-day calendar year (`review::calendar`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_days")]
    pub struct Model {
        /// `YYYY-MM-DD`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: String,
        pub year: i32,
        /// `holiday` or `workday` (调休上班).
        pub kind: String,
        pub name: String,
        pub imported_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tasks_version {
    use sea_orm::entity::prelude::*;

    /// The version of the task table (one row, `id` 1): a trigger adds one on every insert,
    /// update or delete of a task, so a sync knows whether an account's task list may have moved.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tasks_version")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod doc_conflict {
    use sea_orm::entity::prelude::*;

    /// A field two people set concurrently; both values are kept for a reviewer.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_conflicts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub doc_id: String,
        pub path: String,
        /// JSON: the values with the actor and op of each.
        pub detail: String,
        pub detected_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod household {
    use sea_orm::entity::prelude::*;

    /// Projection of a household document (户).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "households")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_id: String,
        pub scope: String,
        pub region_path: String,
        pub address: String,
        pub hukou_type: Option<String>,
        /// Programme codes, comma-separated.
        pub programmes: String,
        pub head_name: Option<String>,
        pub member_count: i32,
        pub updated_seq: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod identity_number {
    use sea_orm::entity::prelude::*;

    /// A 身份证号 a document holds (`crate::identity`): encrypted, with keyed hashes for lookup.
    /// `Debug` shows neither the number nor its hashes.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_numbers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_id: String,
        /// `members.<member_id>`, `supporters.<entry_id>`, `members_added.<member_id>` or
        /// `target_person`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry: String,
        pub region_path: String,
        /// A current member of a household: what household search finds.
        pub searchable: bool,
        pub masked: String,
        /// Nonce and ciphertext (ChaCha20-Poly1305 under the server's key for numbers at rest).
        pub sealed: Vec<u8>,
        pub hash_full: String,
        pub hash_tail4: String,
        pub hash_tail5: String,
        pub hash_tail6: String,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("IdentityNumber")
                .field("doc_id", &self.doc_id)
                .field("entry", &self.entry)
                .field("masked", &self.masked)
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member {
    use sea_orm::entity::prelude::*;

    /// Projection of a household member; the 身份证号 only masked.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        pub name: String,
        pub id_number_masked: Option<String>,
        pub relation: String,
        pub co_resident: bool,
        pub removed: bool,
        /// The household's region path (for searches limited to regions).
        pub region_path: String,
        /// A current member of a 特困分散供养 household: the codes of the 五有 items missing,
        /// comma-separated, empty when none; `NULL` for everyone else.
        pub care_gaps: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod decision {
    use sea_orm::entity::prelude::*;

    /// Projection of one decision (审批决定) of a household document, `idx` its place in the
    /// household's list of decisions.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "decisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i32,
        pub scope: String,
        pub region_path: String,
        /// `doudi_protocol::doc::household::Programme` code.
        pub programme: Option<String>,
        /// `doudi_protocol::doc::household::DecisionOutcome` code.
        pub outcome: String,
        /// 月保障金额, fen.
        pub amount_fen: Option<i64>,
        pub household_size: Option<i32>,
        /// 起始发放日期, `YYYY-MM-DD`.
        pub effective_from: Option<String>,
        pub at_ms: i64,
        pub decided_by: String,
        pub reference: Option<String>,
        pub note: Option<String>,
        pub visit_id: Option<String>,
        pub months: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod visit {
    use sea_orm::entity::prelude::*;

    /// Projection of a visit document (走访).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "visits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_id: String,
        pub household_id: String,
        pub scope: String,
        pub region_path: String,
        pub purpose: String,
        pub status: String,
        pub mode: String,
        pub started_at_ms: Option<i64>,
        pub ended_at_ms: Option<i64>,
        pub submitted_at_ms: Option<i64>,
        pub investigator_count: i32,
        pub conclusion: Option<String>,
        pub photo_count: i32,
        pub updated_seq: i64,
        /// 申请救助类别 of an investigation (a programme code).
        pub applied_for: Option<String>,
        /// Where the visit was recorded: latitude and longitude in millionths of a degree.
        pub gps_lat_e6: Option<i64>,
        pub gps_lon_e6: Option<i64>,
        /// 受理日期 of the application (`YYYY-MM-DD`, China time).
        pub accepted_on: Option<String>,
        /// A reason for the special whole-case limit is recorded (延期说明).
        pub case_extended: bool,
        /// 近亲属备案: the county visits the household itself before confirming.
        pub kin_filing: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod report {
    use sea_orm::entity::prelude::*;

    /// Projection of a discovery report (主动发现报告).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_id: String,
        pub scope: String,
        pub region_path: String,
        pub reporter: String,
        pub channel: Option<String>,
        pub urgency: Option<String>,
        pub emergency_24h: bool,
        pub status: String,
        pub reported_at_ms: Option<i64>,
        pub updated_seq: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod policy_layer {
    use sea_orm::entity::prelude::*;

    /// One version of one region's policy layer, as JSON (`rules::policy::PolicyLayer`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_layers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// 12-digit region code; `None` for the national layer.
        pub region: Option<String>,
        /// `YYYY-MM-DD`.
        pub effective_from: String,
        pub layer: String,
        pub created_at_ms: i64,
        pub created_by: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod review_decision {
    use sea_orm::entity::prelude::*;

    /// A reviewer's decision on a visit (审核意见), also written into the visit document.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "review_decisions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub visit_id: String,
        /// Materialised path of the visit's grid.
        pub region_path: String,
        pub reviewer_id: String,
        pub device_id: String,
        /// `town` or `county`.
        pub level: String,
        /// `approve`, `return`, `reject`, `confirm` or `send_back`.
        pub decision: String,
        pub from_status: String,
        pub to_status: String,
        pub comment: Option<String>,
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task {
    use sea_orm::entity::prelude::*;

    /// Work for a field worker: a verification visit for a discovery report, or a scheduled
    /// re-check (复核) or visit (探访) of a household in benefit.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tasks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `verify_report`, `report_follow_up`, `alert_check`, `temp_aid_check`,
        /// `temp_aid_follow_up`, `recheck`, `death_recheck`, `visit` or `phase_out_end`.
        pub kind: String,
        /// Set for `verify_report`.
        pub report_id: Option<String>,
        /// Set for scheduled household tasks.
        pub household_id: Option<String>,
        pub region_path: String,
        /// `None`: nobody in the grid could be assigned yet (shown in the console).
        pub assignee_id: Option<String>,
        /// The reviewer, or `system` for the scheduler.
        pub assigned_by: String,
        /// The note (Chinese for scheduled tasks: the reason).
        pub note: Option<String>,
        /// The reason in English (scheduled tasks).
        pub note_en: Option<String>,
        /// `open`, `done` or `superseded` (a newer schedule replaced it).
        pub status: String,
        pub created_at_ms: i64,
        pub due_at_ms: Option<i64>,
        /// `household:kind:due date` for scheduled tasks: at most one task per key.
        pub schedule_key: Option<String>,
        /// Set for `temp_aid_check` and `temp_aid_follow_up`: the 临时救助 case.
        pub case_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod household_risk {
    use sea_orm::entity::prelude::*;

    /// The visit risk level of a household (高风险 / 重点 / 一般), set in the console.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "household_risk")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub household_id: String,
        /// `high`, `key` or `normal`.
        pub risk_level: String,
        pub set_by: String,
        pub set_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod report_action {
    use sea_orm::entity::prelude::*;

    /// A step of a discovery report's life: `assign`, `register` (note: the household's id),
    /// `verify` (note: the visit's id), `refer` (note: where and when, then the reviewer's note;
    /// the columns `refer_*`) or `close` (the reason).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "report_actions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub report_id: String,
        pub account_id: String,
        pub action: String,
        pub note: Option<String>,
        pub at_ms: i64,
        /// `refer` to a programme: its code (`dibao`, ...).
        pub refer_programme: Option<String>,
        /// `refer` to another department: its name.
        pub refer_department: Option<String>,
        /// `refer`: the day of the referral, `YYYY-MM-DD`.
        pub referred_on: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod console_session {
    use sea_orm::entity::prelude::*;

    /// A web console session. `id` is the SHA-256 (hex) of the cookie value; the cookie itself is
    /// never stored.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "console_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        /// The `platform=web` device row of this browser session.
        pub device_id: String,
        pub csrf_token: String,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        pub ended_at_ms: Option<i64>,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ConsoleSession")
                .field("account_id", &self.account_id)
                .field("device_id", &self.device_id)
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod blob {
    use sea_orm::entity::prelude::*;

    /// A stored blob: the object is in the blob store before this row exists.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "blobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        pub size: i64,
        pub mime: String,
        pub width: i32,
        pub height: i32,
        pub created_at_ms: i64,
        /// Last completed or deduplicated upload; the gc grace period runs from here.
        pub claimed_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod blob_ref {
    use sea_orm::entity::prelude::*;

    /// A document points at a blob; the region path is the document's scope.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "blob_refs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub document_id: String,
        pub region_path: String,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod blob_upload {
    use sea_orm::entity::prelude::*;

    /// An account uploaded the blob's bytes (the first upload, or the same bytes again).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "blob_uploads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: String,
        pub uploaded_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod monitoring_run {
    use sea_orm::entity::prelude::*;

    /// One import of another department's list (核查台账): who, when, what, and how it matched.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitoring_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The list's kind (`crate::monitoring::Source`).
        pub source: String,
        pub file_name: String,
        /// `csv` or `xlsx`.
        pub format: String,
        pub account_id: String,
        /// The importer's first region: the run is listed to readers covering it.
        pub region_path: String,
        pub at_ms: i64,
        pub row_count: i32,
        pub matched_count: i32,
        pub unmatched_count: i32,
        pub alert_count: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod monitoring_row {
    use sea_orm::entity::prelude::*;

    /// A line of an imported list: the person by keyed hash and masked number (never in
    /// clear), what the department recorded, and the member it matched, if any.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitoring_rows")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub run_id: String,
        /// The line number in the file (the header is line 1).
        pub line: i32,
        pub source: String,
        /// The keyed hash of the whole 身份证号 (`identity_numbers.hash_full`'s).
        pub id_hash: String,
        pub id_masked: String,
        pub name: String,
        /// `YYYY-MM-DD`.
        pub event_date: Option<String>,
        pub amount_fen: Option<i64>,
        pub grade: Option<i32>,
        /// The household matched (`None`: unmatched in the importer's regions).
        pub household_id: Option<String>,
        /// `members.<member_id>`.
        pub member_entry: Option<String>,
        pub region_path: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod monitoring_alert {
    use sea_orm::entity::prelude::*;

    /// A monitoring alert (预警) on a member: raised by an import, verified by a visit
    /// (预警核查), disposed by a reviewer.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitoring_alerts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub run_id: String,
        /// `crate::monitoring::Indicator`.
        pub indicator: String,
        pub household_id: String,
        pub member_entry: String,
        pub member_name: String,
        pub id_masked: String,
        pub region_path: String,
        /// What raised it, in Chinese and English.
        pub detail: String,
        pub detail_en: String,
        pub received_at_ms: i64,
        pub due_at_ms: Option<i64>,
        pub assignee_id: Option<String>,
        /// The `alert_check` task.
        pub task_id: Option<String>,
        /// The linked 预警核查 visit.
        pub visit_id: Option<String>,
        /// `open` or `disposed`.
        pub status: String,
        /// `household:member:indicator` while open (unique), `None` once disposed.
        pub open_key: Option<String>,
        pub disposition: Option<String>,
        pub disposition_note: Option<String>,
        /// The day the result was fed back, `YYYY-MM-DD`.
        pub feedback_date: Option<String>,
        /// To whom it was fed back (the department, the person).
        pub feedback_to: Option<String>,
        pub disposed_by: Option<String>,
        pub disposed_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod temp_aid_case {
    use sea_orm::entity::prelude::*;

    /// A 临时救助 case (docs/TEMPORARY_AID.md): located, and read and written, by the region
    /// where the emergency happened, not by the household's.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "temp_aid_cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `emergency` (急难型) or `expense` (支出型).
        pub kind: String,
        pub household_id: String,
        /// The member the aid is for.
        pub member_id: String,
        pub person_name: String,
        /// First 6 + `****` + last 4, from the member's projection.
        pub id_masked: Option<String>,
        /// The region where the emergency happened, and its path.
        pub region_code: String,
        pub region_path: String,
        /// Where it happened (address), and what happened.
        pub place: String,
        pub reason: String,
        /// The discovery report that opened it.
        pub report_id: Option<String>,
        pub reported_at_ms: i64,
        /// 急难: 先行救助 due (`emergency_aid_hours` after the report).
        pub aid_due_at_ms: Option<i64>,
        pub aid_given_at_ms: Option<i64>,
        /// 补办手续 due (end of the day), from the aid.
        pub paperwork_due_at_ms: Option<i64>,
        /// When the paperwork was handed in (the first request for approval).
        pub paperwork_done_at_ms: Option<i64>,
        /// `crate::temporary_aid::Status`.
        pub status: String,
        pub created_by: String,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod temp_aid_event {
    use sea_orm::entity::prelude::*;

    /// One transition of a 临时救助 case: what, from which state to which, who and when.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "temp_aid_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: String,
        pub action: String,
        pub from_status: Option<String>,
        pub to_status: String,
        pub account_id: String,
        pub at_ms: i64,
        pub amount_fen: Option<i64>,
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod temp_aid_approval {
    use sea_orm::entity::prelude::*;

    /// A request for approval (审批) of a 临时救助 amount, its route fixed when requested.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "temp_aid_approvals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_id: String,
        /// 1 for the first request, 2 for the first 跟进救助, …
        pub round: i32,
        pub amount_fen: i64,
        /// The household's yearly total the route was computed against.
        pub received_before_fen: i64,
        /// `township`, `county` or `meeting` (一事一议 at the county).
        pub route: String,
        pub cap_fen: Option<i64>,
        /// `pending`, `approved` or `refused`.
        pub status: String,
        pub requested_by: String,
        pub requested_at_ms: i64,
        pub decided_by: Option<String>,
        pub decided_at_ms: Option<i64>,
        /// The decision's reason, or the 一事一议 meeting's record.
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod temp_aid_payment {
    use sea_orm::entity::prelude::*;

    /// A 临时救助 payment made (已发放): 先行救助 or a stage of an approved amount.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "temp_aid_payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_id: String,
        pub household_id: String,
        /// The approval it pays; `None` for 先行救助 until an approval covers it.
        pub approval_id: Option<String>,
        /// `advance` (先行救助) or `staged` (分阶段发放).
        pub stage: String,
        pub amount_fen: i64,
        /// The day it was paid, `YYYY-MM-DD` (China): the year it counts in.
        pub paid_on: String,
        pub recorded_by: String,
        pub recorded_at_ms: i64,
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
