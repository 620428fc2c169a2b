//! Demo case data: households, submitted visits and discovery reports in the demo grid, written
//! as documents by a demo device of the grid worker through the server's storage path (as if
//! synced), so the console has something to show.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, Automerge};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, Target, TargetGroup, Urgency};
use doudi_protocol::doc::household::{
    Decision, DecisionOutcome, DisabilityKind, Expenditure, ExpenditureKind, Health, HukouType,
    IncomeClass, IncomeItem, IncomeKind, IncomeSource, Member, Period, Programme, Relation,
    Supporter, WorkCapacity,
};
use doudi_protocol::doc::visit::{
    Conclusion, Investigator, LivingConditions, MemberCheck, Purpose, ReviewDecision, Signature,
    SignerRole, VisitStatus,
};
use doudi_protocol::doc::{
    self, DiscoveryReport, DocumentContent, GeoPoint, Household, Photo, PhotoCategory, UnixMillis,
    Visit,
};
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, EntryId, MemberId};

use super::DemoError;
use crate::accounts;
use crate::auth::now_ms;
use crate::documents::{self, Writer};
use crate::entity::{device, document, region};
use crate::error::ApiError;
use crate::identity::IdentityKeys;
use crate::review::deadlines;
use crate::sync;

pub(super) const GRID: &str = "370102002002-G01";
const DEVICE_ID: &str = "00000000000000000000000000de0001";

/// A picture standing in for the photo of a 民主评议's signed record: a sheet with ruled lines
/// and a column of signatures.
fn signed_record_png() -> Result<Vec<u8>, image::ImageError> {
    let (w, h) = (480u32, 640u32);
    let sheet = image::GrayImage::from_fn(w, h, |x, y| {
        let ruled = y > 60 && y % 40 == 0 && (40..w - 40).contains(&x);
        let signed = y > 80
            && (y / 40) % 2 == 1
            && (300..300 + (y * 7 % 120)).contains(&x)
            && (y % 40).abs_diff(20) < 3;
        image::Luma([if ruled || signed { 40 } else { 245 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    sheet.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

fn err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Cases(e.to_string())
}

/// An 18-character 身份证号 from its first 17 digits (the check character computed).
fn id_number(first17: &str) -> Option<IdNumber> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    IdNumber::parse(&format!("{first17}{}", C[(sum % 11) as usize] as char)).ok()
}

fn member(
    keys: &IdentityKeys,
    name: &str,
    rel: Relation,
    id17: &str,
    health: Option<Health>,
) -> (MemberId, Member) {
    let mut m = Member::new(name, rel);
    m.identity = id_number(id17).map(|n| keys.seal_key().seal(&n));
    m.health = health;
    (
        MemberId::generate().unwrap_or(MemberId::from_bytes([7; 16])),
        m,
    )
}

fn income(
    member: Option<MemberId>,
    class: IncomeClass,
    kind: IncomeKind,
    fen: i64,
    period: Period,
) -> (EntryId, IncomeItem) {
    (
        EntryId::generate().unwrap_or(EntryId::from_bytes([9; 16])),
        IncomeItem {
            member,
            class,
            kind,
            amount_fen: fen,
            period,
            evidence: None,
            source: IncomeSource::Observed,
        },
    )
}

/// A decision approving `hh` for `programme` at `at` by the demo county approver, written by
/// the server as decisions are: only decisions put a household in a programme.
async fn approve(
    db: &DatabaseConnection,
    county: Option<&crate::entity::account::Model>,
    hh: DocumentId,
    programme: Programme,
    at: i64,
) -> Result<(), DemoError> {
    let Some(county) = county else {
        return Ok(());
    };
    let by = AccountId::parse(&county.id).map_err(err)?;
    let writer = Writer {
        account_id: &county.id,
        device_id: DEVICE_ID,
        client_addr: None,
        audit_action: "demo.decision",
        audit_detail: Some(serde_json::json!({ "via": "demo" })),
    };
    documents::server_write(db, &writer, &hh.to_string(), |am, _| {
        let (_, mut h) = doc::read::<Household, _>(&*am).map_err(ApiError::internal)?;
        h.record_decision(Decision {
            at: UnixMillis(at),
            programme: Some(programme),
            outcome: DecisionOutcome::Approved,
            amount_fen_per_month: None,
            by: by.clone(),
            reference: Some("演示".into()),
            note: None,
            effective_from: None,
            visit: None,
            household_size: None,
            notice_date: None,
            months: None,
        });
        doc::write(am, &h).map_err(ApiError::internal)?;
        Ok(((), Vec::new()))
    })
    .await
    .map_err(|e| err(e.body().message_en))
}

struct Seeder<'a> {
    db: &'a DatabaseConnection,
    keys: &'a IdentityKeys,
    grid: region::Model,
    writer: Writer<'a>,
    actor: ActorId,
}

impl Seeder<'_> {
    async fn put<C: DocumentContent>(&self, content: &C) -> Result<DocumentId, DemoError> {
        let id = DocumentId::generate().map_err(err)?;
        let mut am = doc::create(id, GRID, content, Some(self.actor.clone())).map_err(err)?;
        let changes = am.get_changes(&[]);
        let mut after: Automerge = am.document().clone();
        let header = doc::read_header(&after).map_err(err)?;
        let heads = after.get_heads();
        let tree = doc::tree(&after).map_err(err)?;
        let (_, read) = doc::read_any(&tree).map_err(err)?;
        let identities =
            crate::identity::rows(self.keys, &id.to_string(), &self.grid.path, Some(&read))
                .map_err(|issues| err(format!("{issues:?}")))?;
        let write = documents::prepare(
            &self.writer,
            None,
            &header,
            &self.grid.path,
            &mut after,
            &tree,
            Some(&read),
            &changes,
            &heads,
            Vec::new(),
        )
        .map_err(|e| err(e.body().message_en))?
        .with_identities(identities);
        let stored = documents::store(self.db, &write)
            .await
            .map_err(|e| err(e.body().message_en))?;
        if !stored {
            return Err(err("document id collision"));
        }
        Ok(id)
    }
}

/// Seed the demo cases once (nothing happens when the demo grid already holds documents).
pub async fn seed_cases(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    blobs: &crate::blobs::BlobService,
) -> Result<(), DemoError> {
    if document::Entity::find()
        .filter(document::Column::Scope.eq(GRID))
        .count(db)
        .await?
        > 0
    {
        return Ok(());
    }
    let Some(grid) = region::Entity::find_by_id(GRID.to_string()).one(db).await? else {
        return Ok(());
    };
    let (Some(worker), Some(assistant)) = (
        accounts::find_by_username(db, "demo-grid").await?,
        accounts::find_by_username(db, "demo-assistant").await?,
    ) else {
        return Ok(());
    };
    let now = now_ms();
    if device::Entity::find_by_id(DEVICE_ID.to_string())
        .one(db)
        .await?
        .is_none()
    {
        device::Entity::insert(device::ActiveModel {
            id: Set(DEVICE_ID.to_string()),
            account_id: Set(worker.id.clone()),
            name: Set("演示数据".to_string()),
            platform: Set("desktop".to_string()),
            created_at_ms: Set(now),
            last_seen_at_ms: Set(now),
            revoked_at_ms: Set(None),
            revoked_reason: Set(None),
            signed_out_at_ms: Set(None),
        })
        .exec(db)
        .await?;
    }
    let actor_bytes = hex::decode(DEVICE_ID).map_err(err)?;
    let s = Seeder {
        db,
        keys,
        grid,
        writer: Writer {
            account_id: &worker.id,
            device_id: DEVICE_ID,
            client_addr: None,
            audit_action: sync::AUDIT_ACCEPT,
            audit_detail: Some(serde_json::json!({ "via": "demo" })),
        },
        actor: ActorId::from(actor_bytes.as_slice()),
    };
    let day = 86_400_000i64;
    let gps = GeoPoint {
        lat: 36.6512,
        lon: 117.1201,
        accuracy_m: Some(12.0),
    };

    // One household for each indicator of the assessment, under the demo policy (低保 1,000 a
    // month in the city: super::DEMO_POLICY).
    let county = accounts::find_by_username(db, "demo-county").await?;
    let approve = |hh: DocumentId, programme: Programme, days_ago: i64| {
        approve(db, county.as_ref(), hh, programme, now - days_ago * day)
    };

    // 1. 低保: a couple, the husband seriously ill, a schoolchild; the wife's wages and some
    // help from relatives: 555.56 per person per month.
    let (head1, m1) = member(
        keys,
        "王建国",
        Relation::Head,
        "37010219620315001",
        Some(Health::SeriouslyIll),
    );
    let (wife, m2) = member(keys, "李秀英", Relation::Spouse, "37010219650822002", None);
    let (child1, m3) = member(keys, "王小明", Relation::Child, "37010220120901003", None);
    let mut h1 = Household {
        address: "济南市历下区千佛山街道 建新社区 3 号楼 2 单元 101".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h1.members = BTreeMap::from([(head1, m1), (wife, m2), (child1, m3)]);
    h1.income = BTreeMap::from([
        income(
            Some(wife),
            IncomeClass::Wages,
            IncomeKind::General,
            150_000,
            Period::Month,
        ),
        income(
            None,
            IncomeClass::Transfer,
            IncomeKind::General,
            200_000,
            Period::Year,
        ),
    ]);
    let hh1 = s.put(&h1).await?;
    approve(hh1, Programme::Dibao, 200).await?;

    // 2. 特困: an elderly man living alone on a small pension, no supporter able to help.
    let (head2, m) = member(
        keys,
        "赵德福",
        Relation::Head,
        "37010219460108004",
        Some(Health::Fair),
    );
    let mut h2 = Household {
        address: "济南市历下区千佛山街道 建新社区 7 号平房".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    // Assessed at enrolment (two activities not managed: 部分丧失), a fall reported three days
    // ago waits for a re-assessment (a task once the schedule runs); the 五有 checklist has the
    // care agreement and the visit plan, three items still missing (五有缺项).
    let mut m = m;
    {
        use doudi_protocol::doc::household::{
            CareAgreement, CarePlan, DailyActivity, SelfCareAssessment, VisitPlan,
        };
        let date = |ms: i64| UnixMillis(ms).china_date().ok_or_else(|| err("no date"));
        m.self_care_assessments.push(SelfCareAssessment {
            assessed_on: date(now - 300 * day)?,
            assessor: "刘协理".into(),
            not_managed: [DailyActivity::Bathing, DailyActivity::Transferring]
                .into_iter()
                .collect(),
        });
        m.self_care_change_reported_on = Some(date(now - 3 * day)?);
        m.care_plan = Some(CarePlan {
            agreement: Some(CareAgreement {
                caregiver: "赵小军".into(),
                starts_on: date(now - 300 * day)?,
                ends_on: date(now + 65 * day)?,
            }),
            visit_plan: Some(VisitPlan::Monthly),
            ..Default::default()
        });
    }
    h2.members.insert(head2, m);
    h2.income = BTreeMap::from([income(
        Some(head2),
        IncomeClass::Transfer,
        IncomeKind::General,
        18_000,
        Period::Month,
    )]);
    h2.supporters.insert(
        EntryId::generate().map_err(err)?,
        Supporter {
            name: "赵小军".into(),
            relation: "侄子".into(),
            identity: None,
            able_to_support: Some(false),
            unable_reason: Some("非法定赡养义务人，本人亦为低收入".into()),
            support_paid_fen: None,
            support_paid_period: None,
        },
    );
    let hh2 = s.put(&h2).await?;
    approve(hh2, Programme::TekunDispersed, 300).await?;

    // 3. A household under monitoring after a disability (no income recorded yet).
    let (head3, mut m) = member(
        keys,
        "孙桂兰",
        Relation::Head,
        "37010219780520005",
        Some(Health::SeverelyDisabled),
    );
    m.disability_kind = Some(DisabilityKind::Physical);
    m.disability_grade = Some(1);
    m.work_capacity = Some(WorkCapacity::FullyLost);
    let mut h3 = Household {
        address: "济南市历下区千佛山街道 建新社区 12 号楼 1 单元 302".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h3.members.insert(head3, m);
    let hh3 = s.put(&h3).await?;
    approve(hh3, Programme::Monitored, 40).await?;

    // 4. 低保边缘 (1,400 per person, under 1.5 × 1,000), with a daughter disabled grade 1 who
    // may apply alone (参照单人户).
    let (head4, m) = member(keys, "周建华", Relation::Head, "37010219700101006", None);
    let (daughter, mut d) = member(
        keys,
        "周小梅",
        Relation::Child,
        "37010219980315007",
        Some(Health::SeverelyDisabled),
    );
    d.disability_kind = Some(DisabilityKind::Intellectual);
    d.disability_grade = Some(1);
    d.work_capacity = Some(WorkCapacity::FullyLost);
    let mut h4 = Household {
        address: "济南市历下区千佛山街道 建新社区 5 号楼 3 单元 201".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h4.members = BTreeMap::from([(head4, m), (daughter, d)]);
    h4.income = BTreeMap::from([income(
        Some(head4),
        IncomeClass::Wages,
        IncomeKind::General,
        280_000,
        Period::Month,
    )]);
    s.put(&h4).await?;

    // 5. 刚性支出困难: 2,000 per person a month, above the 边缘 line, but 40,000 of dialysis
    // costs out of pocket in the last year, more than 60 % of the 48,000 income.
    let (head5, m) = member(
        keys,
        "吴国庆",
        Relation::Head,
        "37010219680808008",
        Some(Health::SeriouslyIll),
    );
    let (spouse5, m2) = member(keys, "郑丽", Relation::Spouse, "37010219700606009", None);
    let mut h5 = Household {
        address: "济南市历下区千佛山街道 建新社区 9 号楼 1 单元 502".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h5.members = BTreeMap::from([(head5, m), (spouse5, m2)]);
    h5.income = BTreeMap::from([income(
        Some(spouse5),
        IncomeClass::Wages,
        IncomeKind::General,
        400_000,
        Period::Month,
    )]);
    let today = deadlines::local_date(now).ok_or_else(|| err("no local date"))?;
    for (months_ago, fen) in [(2, 2_000_000), (7, 2_000_000)] {
        h5.expenditures.insert(
            EntryId::generate().map_err(err)?,
            Expenditure {
                kind: ExpenditureKind::Medical,
                member: Some(head5),
                description: Some("血液透析，医保报销后自付".into()),
                amount_fen: fen,
                incurred_on: today.checked_sub_months(chrono::Months::new(months_ago)),
                receipts: BTreeSet::new(),
            },
        );
    }
    s.put(&h5).await?;

    // 6. No longer eligible: two wages, 3,500 per person a month, no rigid spending. The
    // household was in 低保 before both found work: the county decided a phase-out (渐退期, below).
    let (head6, m) = member(keys, "钱志强", Relation::Head, "37010219800202001", None);
    let (spouse6, m2) = member(keys, "刘芳", Relation::Spouse, "37010219820404002", None);
    let mut h6 = Household {
        address: "济南市历下区千佛山街道 建新社区 1 号楼 1 单元 101".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h6.members = BTreeMap::from([(head6, m), (spouse6, m2)]);
    h6.income = BTreeMap::from([
        income(
            Some(head6),
            IncomeClass::Wages,
            IncomeKind::General,
            400_000,
            Period::Month,
        ),
        income(
            Some(spouse6),
            IncomeClass::Wages,
            IncomeKind::General,
            300_000,
            Period::Month,
        ),
    ]);
    let hh6 = s.put(&h6).await?;
    approve(hh6, Programme::Dibao, 400).await?;

    let investigators = [
        (worker.id.as_str(), worker.display_name.as_str()),
        (assistant.id.as_str(), assistant.display_name.as_str()),
    ];
    let mk_visit = |hh: DocumentId,
                    head: (MemberId, &str),
                    purpose: Purpose,
                    days_ago: i64,
                    notes: &str|
     -> Result<Visit, DemoError> {
        let start = now - days_ago * day;
        let mut v = Visit::new(hh, purpose);
        v.started_at = Some(UnixMillis(start));
        v.ended_at = Some(UnixMillis(start + 2_400_000));
        for (n, (acct, name)) in investigators.iter().enumerate() {
            let acct = AccountId::parse(acct).map_err(err)?;
            v.investigators.insert(
                acct.clone(),
                Investigator {
                    name: name.to_string(),
                },
            );
            v.signatures.insert(
                BlobHash::from_bytes([0xa0 + n as u8; 32]),
                Signature {
                    signer_name: name.to_string(),
                    role: SignerRole::Investigator,
                    account: Some(acct),
                    member: None,
                    signed_at: v.ended_at,
                },
            );
        }
        // The head was present and signed (DB2021 art. 16).
        v.member_checks.insert(
            head.0,
            MemberCheck {
                present: true,
                confirmed: true,
                ..MemberCheck::default()
            },
        );
        v.signatures.insert(
            BlobHash::from_bytes([0xaf; 32]),
            Signature {
                signer_name: head.1.into(),
                role: SignerRole::Family,
                account: None,
                member: Some(head.0),
                signed_at: v.ended_at,
            },
        );
        for (i, cat) in [PhotoCategory::DwellingOutside, PhotoCategory::Kitchen]
            .into_iter()
            .enumerate()
        {
            v.photos.insert(
                BlobHash::from_bytes([0xb0 + i as u8 + days_ago as u8; 32]),
                Photo {
                    category: cat,
                    caption: None,
                    captured_at: UnixMillis(start + 600_000),
                    gps: Some(gps),
                },
            );
        }
        v.living = LivingConditions {
            food: Some("粮油充足，冰箱内有蔬菜".into()),
            clothing: Some("冬衣齐全".into()),
            housing: Some("楼房，约 50 平方米，无漏雨".into()),
            daily_goods: Some("家电陈旧，无贵重物品".into()),
        };
        v.gps = Some(gps);
        v.conclusion = Some(Conclusion::Accurate);
        v.conclusion_notes = Some(notes.into());
        v.status = VisitStatus::Submitted;
        v.submitted_at = Some(UnixMillis(start + 3_600_000));
        Ok(v)
    };
    s.put(&mk_visit(
        hh1,
        (head1, "王建国"),
        Purpose::Recheck,
        2,
        "家庭情况与申报一致，医疗支出较大",
    )?)
    .await?;
    s.put(&mk_visit(
        hh2,
        (head2, "赵德福"),
        Purpose::CareVisit,
        5,
        "独居，生活基本能自理，需定期探访",
    )?)
    .await?;
    s.put(&mk_visit(
        hh3,
        (head3, "孙桂兰"),
        Purpose::AlertCheck,
        25,
        "新增重度残疾，收入明显下降",
    )?)
    .await?;
    // The household then applied for 低保: the application's investigation goes through the
    // township and on to the county (the visits above are closed by the township).
    let mut dibao_application = mk_visit(
        hh3,
        (head3, "孙桂兰"),
        Purpose::Investigation,
        12,
        "申请低保入户调查：丈夫重度残疾后无劳动收入，家庭人均收入低于当地低保标准",
    )?;
    dibao_application.applied_for = Some(Programme::Dibao);
    // Accepted two days before the visit; the husband's brother is a village cadre (近亲属备案),
    // so the county visits the household itself before confirming.
    dibao_application.application = Some(application(now - 14 * day, true)?);
    s.put(&dibao_application).await?;

    // 赵德福's 特困 case, investigated again on application and approved by the township: the
    // county's first such approval of the month, so in its spot-check sample (县级抽查).
    let tekun_case = s
        .put(
            &mk_visit(
                hh2,
                (head2, "赵德福"),
                Purpose::Investigation,
                8,
                "特困供养申请入户调查：无劳动能力、无收入来源、无法定赡养人",
            )
            .and_then(|mut v| {
                v.applied_for = Some(Programme::TekunDispersed);
                v.application = Some(application(now - 10 * day, false)?);
                Ok(v)
            })?,
        )
        .await?;
    if let Some(town) = accounts::find_by_username(db, "demo-town").await?
        && let Some(subject) = accounts::subject_of(db, &town).await?
    {
        let reviewer = crate::access::Actor {
            subject,
            account: town,
            device_id: DEVICE_ID.to_string(),
            client_addr: "demo".to_string(),
        };
        let approve = crate::review::DecisionRequest {
            kind: ReviewDecision::Approve,
            comment: Some("情况属实，同意纳入特困供养，报县级审核确认"),
            override_conflicts: false,
            award: Default::default(),
        };
        crate::review::decide_visit(
            db,
            &reviewer,
            &tekun_case.to_string(),
            &approve,
            crate::review::spot_check::MIN_PERCENT,
        )
        .await
        .map_err(|e| err(e.body().message_en))?;
        // A neighbour objected during the 公示; the village held a 民主评议 on it, whose signed
        // record the township photographed.
        use crate::review::notice::{self, Entry};
        let record_photo = blobs
            .keep_whole(db, &reviewer.account.id, signed_record_png().map_err(err)?)
            .await
            .map_err(|e| err(e.body().message_en))?;
        let held_on = deadlines::local_date(now).ok_or_else(|| err("no date"))?;
        for entry in [
            Entry::Objection {
                objector: "同村村民周某".into(),
                detail: "反映其侄子在县城务工，有赡养能力".into(),
            },
            Entry::Appraisal {
                held_on,
                participants: 11,
                votes_for: 10,
                votes_against: 1,
                record_photo,
            },
        ] {
            notice::record(db, &reviewer, &tekun_case.to_string(), entry)
                .await
                .map_err(|e| err(e.body().message_en))?;
        }
    }

    // The county's phase-out of household 6 (渐退期, 3 months from next month): its end is a
    // task of the grid worker's once the schedule runs.
    if let Some(county) = county.clone()
        && let Some(subject) = accounts::subject_of(db, &county).await?
    {
        let actor = crate::access::Actor {
            subject,
            account: county,
            device_id: DEVICE_ID.to_string(),
            client_addr: "demo".to_string(),
        };
        crate::review::benefit::decide(
            db,
            &actor,
            &hh6.to_string(),
            crate::review::benefit::Change::PhaseOut {
                months: 3,
                amount_fen_per_month: Some(30_000),
            },
            None,
            Some("夫妻二人均已就业，家庭人均收入超过低保标准，按规定给予渐退期"),
        )
        .await
        .map_err(|e| err(e.body().message_en))?;
    }

    // Discovery reports: an emergency filed 30 hours ago and an ordinary one.
    let reporter = AccountId::parse(&worker.id).map_err(err)?;
    let mut r1 = DiscoveryReport::new(reporter.clone());
    r1.reporter_name = Some(worker.display_name.clone());
    r1.reported_at = Some(UnixMillis(now - 30 * 3_600_000));
    r1.emergency_24h = true;
    r1.urgency = Some(Urgency::Urgent);
    r1.notes = Some("夜间火灾，房屋受损，一家三口暂住亲戚家".into());
    r1.target = Some(Target::Person {
        name: "周大海".into(),
        identity: id_number("37010219580707010").map(|n| keys.seal_key().seal(&n)),
        address: Some("建新社区 15 号平房".into()),
        phone: None,
    });
    r1.status = DiscoveryStatus::Submitted;
    r1.channel = Some(Channel::Visit);
    r1.target_groups.insert(TargetGroup::DisasterHit);
    // The reporter's photos of the damage and where the report was made, for its page.
    for (i, (category, caption)) in [
        (PhotoCategory::DwellingOutside, "屋顶烧毁"),
        (PhotoCategory::DwellingInside, "室内过火，家具损毁"),
    ]
    .into_iter()
    .enumerate()
    {
        r1.photos.insert(
            BlobHash::from_bytes([0xd1 + i as u8; 32]),
            Photo {
                category,
                caption: Some(caption.into()),
                captured_at: UnixMillis(now - 30 * 3_600_000 - 600_000),
                gps: Some(gps),
            },
        );
    }
    r1.gps = Some(gps);
    s.put(&r1).await?;
    let mut r2 = DiscoveryReport::new(reporter.clone());
    r2.reported_at = Some(UnixMillis(now - 3 * day));
    r2.urgency = Some(Urgency::NeedsCare);
    r2.notes = Some("高龄老人独居，子女在外地".into());
    r2.target = Some(Target::Household(hh2));
    r2.status = DiscoveryStatus::Submitted;
    r2.channel = Some(Channel::Hotline);
    r2.target_groups.insert(TargetGroup::Elderly);
    let r2 = s.put(&r2).await?;
    // Two more, found by matching data and by a neighbour, for reports in every state.
    let mut r3 = DiscoveryReport::new(reporter.clone());
    r3.reported_at = Some(UnixMillis(now - 20 * day));
    r3.urgency = Some(Urgency::SafetyNet);
    r3.notes = Some("丈夫新增重度残疾，家庭失去主要收入".into());
    r3.target = Some(Target::Household(hh3));
    r3.status = DiscoveryStatus::Submitted;
    r3.channel = Some(Channel::DataMatch);
    r3.target_groups.insert(TargetGroup::Disabled);
    let r3 = s.put(&r3).await?;
    let mut check = mk_visit(
        hh3,
        (head3, "孙桂兰"),
        Purpose::DiscoveryCheck,
        1,
        "核实属实：家庭人均收入低于低保标准，建议转介申请低保",
    )?;
    check.report = Some(r3);
    let check = s.put(&check).await?;
    let mut r4 = DiscoveryReport::new(reporter);
    r4.reported_at = Some(UnixMillis(now - 10 * day));
    r4.urgency = Some(Urgency::KeepWatching);
    r4.notes = Some("邻居反映老人近期无人照料".into());
    r4.target = Some(Target::Person {
        name: "陈秀英".into(),
        identity: None,
        address: Some("建新社区 3 号楼".into()),
        phone: None,
    });
    r4.status = DiscoveryStatus::Submitted;
    r4.channel = Some(Channel::SelfReport);
    r4.target_groups.insert(TargetGroup::Elderly);
    let r4 = s.put(&r4).await?;
    super::reports::walk(
        db,
        super::reports::Walk {
            registered: r2.to_string(),
            referred: r3.to_string(),
            check: check.to_string(),
            closed: r4.to_string(),
        },
    )
    .await?;
    Ok(())
}

/// An application accepted in writing at `accepted_ms`, with the pledge and the data-check
/// authorisation signed (申请受理).
fn application(
    accepted_ms: i64,
    kin_filing: bool,
) -> Result<doudi_protocol::doc::visit::Application, DemoError> {
    use doudi_protocol::doc::visit::{Application, ApplicationChannel};
    Ok(Application {
        accepted_on: UnixMillis(accepted_ms)
            .china_date()
            .ok_or_else(|| err("no date"))?,
        channel: ApplicationChannel::InPerson,
        proxy_name: None,
        authorisation: None,
        pledge_signed: true,
        data_check_authorised: true,
        kin_filing,
    })
}
