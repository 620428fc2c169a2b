//! 动态监测预警 (JC2024; docs/MONITORING.md): another department's list comes in as a batch, is
//! kept as a 核查台账 run, and is matched by 身份证号 to the household members of the importer's
//! regions; the region's rules turn the matches into alerts (预警); each alert becomes an
//! `alert_check` task on the phone of the household's grid worker, is verified by a home visit
//! (预警核查), and is disposed by a reviewer (纳入救助 / 转介 / 无需救助 / 持续关注) with the day
//! and the recipient of the feedback.
//!
//! - [`parse`] reads a CSV or XLSX file into checked lines: one bad line refuses the whole file,
//!   every bad line named.
//! - [`import`] matches the lines through the keyed hashes of `identity_numbers` (never opening a
//!   stored number), stores the run, its lines and the alerts with their tasks in one
//!   transaction.
//! - [`alerts`] lists runs and alerts, links a submitted 预警核查 visit to the household's open
//!   alerts (closing their tasks) and records dispositions.
//! - [`compare`] compares a 乡村振兴 list with the 低保 and 特困 members (双纳入).
//!
//! Every read and write asks the access module (`import_department_data`, `read_review_lists`,
//! `review_visit`) and is audited.

pub mod alerts;
pub mod compare;
pub mod import;
pub mod parse;

pub use alerts::{
    AlertFilter, AlertShown, AlertView, DisposeRequest, RunDetail, RunView, alert, dispose,
    link_visits, list_alerts, list_runs, run,
};
pub use compare::{Compared, Comparison, Standing, compare};
pub use import::{ImportReport, UnmatchedRow, import};
pub use parse::{BadLine, FileFormat, Line};

/// Audit action of an import.
pub const AUDIT_IMPORT: &str = "monitoring.import";
/// Audit action of a disposition.
pub const AUDIT_DISPOSE: &str = "monitoring.dispose";

/// The task kind of an alert's verification visit.
pub const TASK_KIND: &str = "alert_check";

/// A kind of department list (数据来源).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 医保: out-of-pocket medical costs after insurance (个人自付), per settlement.
    Medical,
    /// 残联: disability registrations with their grade (1–4).
    Disability,
    /// 公安 / 卫健: deaths.
    Death,
    /// 人社: unemployment registrations.
    Unemployment,
    /// 教育: school enrolment.
    School,
    /// 乡村振兴: the 防返贫监测 list.
    RuralMonitoring,
}

/// The columns of a list besides 身份证号 and 姓名.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The header of the date column.
    pub date: &'static str,
    /// The header of the amount column (yuan), if the list has one.
    pub amount: Option<&'static str>,
    /// The header of the disability grade column, if the list has one.
    pub grade: Option<&'static str>,
}

/// The header of the 身份证号 column, in every list.
pub const COL_ID: &str = "身份证号";
/// The header of the name column, in every list.
pub const COL_NAME: &str = "姓名";

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Medical,
        Source::Disability,
        Source::Death,
        Source::Unemployment,
        Source::School,
        Source::RuralMonitoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Medical => "medical",
            Source::Disability => "disability",
            Source::Death => "death",
            Source::Unemployment => "unemployment",
            Source::School => "school",
            Source::RuralMonitoring => "rural_monitoring",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The source a request names, or `request.invalid` (`details.field`: `source`).
    pub fn named(s: &str) -> crate::error::ApiResult<Source> {
        Source::parse(s).ok_or_else(|| {
            crate::error::ApiError::new(crate::error::Code::InvalidRequest)
                .with_message(
                    "请选择数据来源：medical、disability、death、unemployment、school 或 rural_monitoring。",
                    "source must be medical, disability, death, unemployment, school or rural_monitoring.",
                )
                .with_details(serde_json::json!({ "field": "source" }))
        })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Source::Medical => "医疗费用个人自付（医保）",
            Source::Disability => "残疾人登记（残联）",
            Source::Death => "死亡登记（公安、卫健）",
            Source::Unemployment => "失业登记（人社）",
            Source::School => "在校学生（教育）",
            Source::RuralMonitoring => "防返贫监测对象（乡村振兴）",
        }
    }

    /// The list's columns (docs/MONITORING.md, "Files").
    pub fn layout(self) -> Layout {
        let dated = |date| Layout {
            date,
            amount: None,
            grade: None,
        };
        match self {
            Source::Medical => Layout {
                date: "结算日期",
                amount: Some("自付金额"),
                grade: None,
            },
            Source::Disability => Layout {
                date: "登记日期",
                amount: None,
                grade: Some("残疾等级"),
            },
            Source::Death => dated("死亡日期"),
            Source::Unemployment => dated("登记日期"),
            Source::School => dated("入学日期"),
            Source::RuralMonitoring => dated("纳入日期"),
        }
    }
}

/// What an alert is about (预警指标).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Indicator {
    /// 大额医疗支出: 12 months' out-of-pocket costs above the region's threshold.
    MedicalCost,
    /// 新增重度残疾: a new grade 1 or 2 disability registration.
    SevereDisability,
    /// 家庭成员死亡.
    Death,
    /// 失业登记.
    Unemployment,
    /// 退出低保特困不满两年: new department data on a member of a household that left 低保 or
    /// 特困 less than two years ago (JC2024 counts them among the low-income population).
    RecentlyLeft,
}

impl Indicator {
    pub const ALL: [Indicator; 5] = [
        Indicator::MedicalCost,
        Indicator::SevereDisability,
        Indicator::Death,
        Indicator::Unemployment,
        Indicator::RecentlyLeft,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::MedicalCost => "medical_cost",
            Indicator::SevereDisability => "severe_disability",
            Indicator::Death => "death",
            Indicator::Unemployment => "unemployment",
            Indicator::RecentlyLeft => "recently_left",
        }
    }

    pub fn parse(s: &str) -> Option<Indicator> {
        Indicator::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Indicator::MedicalCost => "大额医疗支出",
            Indicator::SevereDisability => "新增重度残疾",
            Indicator::Death => "家庭成员死亡",
            Indicator::Unemployment => "失业登记",
            Indicator::RecentlyLeft => "退出低保特困不满两年",
        }
    }
}

/// How an alert was handled (处置结果).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// 纳入救助: brought under a programme.
    Enrolled,
    /// 转介: referred to another programme or department.
    Referred,
    /// 无需救助: no aid needed.
    NoAidNeeded,
    /// 持续关注: keep watching.
    KeepWatching,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::Enrolled,
        Disposition::Referred,
        Disposition::NoAidNeeded,
        Disposition::KeepWatching,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Enrolled => "enrolled",
            Disposition::Referred => "referred",
            Disposition::NoAidNeeded => "no_aid_needed",
            Disposition::KeepWatching => "keep_watching",
        }
    }

    pub fn parse(s: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Disposition::Enrolled => "纳入救助",
            Disposition::Referred => "转介",
            Disposition::NoAidNeeded => "无需救助",
            Disposition::KeepWatching => "持续关注",
        }
    }
}

/// The Chinese label of a stored code of [`Indicator`], [`Disposition`] or [`Source`].
pub fn label_zh(code: &str) -> &'static str {
    Indicator::parse(code)
        .map(Indicator::label_zh)
        .or_else(|| Disposition::parse(code).map(Disposition::label_zh))
        .or_else(|| Source::parse(code).map(Source::label_zh))
        .unwrap_or("未知")
}
