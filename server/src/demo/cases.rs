//! Demo case data: households, submitted visits and discovery reports in the demo grid, written
//! as documents by a demo device of the grid worker through the server's storage path (as if
//! synced), so the console has something to show.

use std::collections::BTreeMap;

use automerge::{ActorId, Automerge};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, Target, TargetGroup, Urgency};
use doudi_protocol::doc::household::{
    Health, HukouType, IncomeClass, IncomeItem, IncomeKind, IncomeSource, Member, Period,
    Programme, Relation,
};
use doudi_protocol::doc::visit::{
    Conclusion, Investigator, LivingConditions, Purpose, Signature, SignerRole, VisitStatus,
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
use crate::entity::{device, document, region};
use crate::identity::IdentityKeys;
use crate::sync::{self, Writer};

const GRID: &str = "370102002002-G01";
const DEVICE_ID: &str = "00000000000000000000000000de0001";

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
        let write = sync::prepare(
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
        let stored = sync::store(self.db, &write)
            .await
            .map_err(|e| err(e.body().message_en))?;
        if !stored {
            return Err(err("document id collision"));
        }
        Ok(id)
    }
}

/// Seed the demo cases once (nothing happens when the demo grid already holds documents).
pub async fn seed_cases(db: &DatabaseConnection, keys: &IdentityKeys) -> Result<(), DemoError> {
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

    // 1. A 低保 household: a couple, the husband seriously ill, a schoolchild.
    let (head1, m1) = member(
        keys,
        "王建国",
        Relation::Head,
        "37010219620315001",
        Some(Health::SeriouslyIll),
    );
    let (_, m2) = member(keys, "李秀英", Relation::Spouse, "37010219650822002", None);
    let (_, m3) = member(keys, "王小明", Relation::Child, "37010220120901003", None);
    let wife = MemberId::generate().map_err(err)?;
    let mut h1 = Household {
        address: "济南市历下区千佛山街道 建新社区 3 号楼 2 单元 101".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h1.programmes.insert(Programme::Dibao);
    h1.members = BTreeMap::from([(head1, m1), (wife, m2)]);
    h1.members.insert(MemberId::generate().map_err(err)?, m3);
    h1.income = BTreeMap::from([
        income(
            Some(wife),
            IncomeClass::Wages,
            IncomeKind::General,
            1_500_00,
            Period::Month,
        ),
        income(
            None,
            IncomeClass::Transfer,
            IncomeKind::General,
            2_000_00,
            Period::Year,
        ),
    ]);
    let hh1 = s.put(&h1).await?;

    // 2. A 特困 household: an elderly man living alone.
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
    h2.programmes.insert(Programme::TekunDispersed);
    h2.members.insert(head2, m);
    h2.income = BTreeMap::from([income(
        Some(head2),
        IncomeClass::Transfer,
        IncomeKind::General,
        180_00,
        Period::Month,
    )]);
    let hh2 = s.put(&h2).await?;

    // 3. A household under monitoring after a disability.
    let (head3, m) = member(
        keys,
        "孙桂兰",
        Relation::Head,
        "37010219780520005",
        Some(Health::SeverelyDisabled),
    );
    let mut h3 = Household {
        address: "济南市历下区千佛山街道 建新社区 12 号楼 1 单元 302".into(),
        hukou_type: Some(HukouType::Urban),
        ..Default::default()
    };
    h3.programmes.insert(Programme::Monitored);
    h3.members.insert(head3, m);
    let hh3 = s.put(&h3).await?;

    let investigators = [
        (worker.id.as_str(), worker.display_name.as_str()),
        (assistant.id.as_str(), assistant.display_name.as_str()),
    ];
    let mk_visit = |hh: DocumentId,
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
        v.signatures.insert(
            BlobHash::from_bytes([0xaf; 32]),
            Signature {
                signer_name: "户主".into(),
                role: SignerRole::Family,
                account: None,
                member: None,
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
        Purpose::Recheck,
        2,
        "家庭情况与申报一致，医疗支出较大",
    )?)
    .await?;
    s.put(&mk_visit(
        hh2,
        Purpose::CareVisit,
        5,
        "独居，生活基本能自理，需定期探访",
    )?)
    .await?;
    s.put(&mk_visit(
        hh3,
        Purpose::AlertCheck,
        25,
        "新增重度残疾，收入明显下降",
    )?)
    .await?;

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
        identity: None,
        address: Some("建新社区 15 号平房".into()),
        phone: None,
    });
    r1.status = DiscoveryStatus::Submitted;
    r1.channel = Some(Channel::Visit);
    r1.target_groups.insert(TargetGroup::DisasterHit);
    s.put(&r1).await?;
    let mut r2 = DiscoveryReport::new(reporter);
    r2.reported_at = Some(UnixMillis(now - 3 * day));
    r2.urgency = Some(Urgency::NeedsCare);
    r2.notes = Some("高龄老人独居，子女在外地".into());
    r2.target = Some(Target::Household(hh2));
    r2.status = DiscoveryStatus::Submitted;
    r2.channel = Some(Channel::Hotline);
    r2.target_groups.insert(TargetGroup::Elderly);
    s.put(&r2).await?;
    Ok(())
}
