//! Documents as phones write them, for tests that need a case to review or a report to read.

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, TargetGroup, Urgency};
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::doc::visit::{
    Conclusion, Investigator, Purpose, Signature, SignerRole, VisitStatus,
};
use doudi_protocol::doc::{DiscoveryReport, Household, Photo, PhotoCategory, UnixMillis, Visit};
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, MemberId};

/// A household whose head is 王建国, at `address`.
pub fn household(address: &str) -> Household {
    let mut h = Household {
        address: address.into(),
        ..Default::default()
    };
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("王建国", Relation::Head),
    );
    h
}

/// A re-check visit to `household`, submitted just now by two investigators (account id, name),
/// each with a signature (whose blobs are not uploaded).
pub fn submitted_visit(household: DocumentId, investigators: [(&str, &str); 2]) -> Visit {
    let mut v = Visit::new(household, Purpose::Recheck);
    v.started_at = Some(UnixMillis(1_763_800_000_000));
    v.ended_at = Some(UnixMillis(1_763_801_800_000));
    for (n, (acct, name)) in investigators.iter().enumerate() {
        let acct = AccountId::parse(acct).unwrap();
        v.investigators.insert(
            acct.clone(),
            Investigator {
                name: name.to_string(),
            },
        );
        v.signatures.insert(
            BlobHash::from_bytes([n as u8 + 1; 32]),
            Signature {
                signer_name: name.to_string(),
                role: SignerRole::Investigator,
                account: Some(acct),
                signed_at: v.ended_at,
            },
        );
    }
    v.conclusion = Some(Conclusion::Accurate);
    v.status = VisitStatus::Submitted;
    v.submitted_at = Some(UnixMillis(doudi_server::auth::now_ms()));
    v
}

/// A discovery report filed just now by `reporter`, of an elderly person who needs care, with
/// photos of the given blob hashes.
pub fn report_with_photos(reporter: &str, photos: &[&str]) -> DiscoveryReport {
    let mut r = DiscoveryReport::new(AccountId::parse(reporter).unwrap());
    r.reported_at = Some(UnixMillis(doudi_server::auth::now_ms()));
    r.urgency = Some(Urgency::NeedsCare);
    r.status = DiscoveryStatus::Submitted;
    r.channel = Some(Channel::Visit);
    r.target_groups.insert(TargetGroup::Elderly);
    r.target = Some(doudi_protocol::doc::discovery::Target::Person {
        name: "李大娘".into(),
        identity: None,
        address: Some("一村 12 号".into()),
        phone: None,
    });
    for h in photos {
        r.photos.insert(
            BlobHash::parse(h).unwrap(),
            Photo {
                category: PhotoCategory::DwellingOutside,
                caption: None,
                captured_at: UnixMillis(1_763_800_000_000),
                gps: None,
            },
        );
    }
    r
}
