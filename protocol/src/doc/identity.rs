//! Identity numbers (身份证号) in documents: where they are, how they are written, the checks
//! that need the clear number, and the one-time rewrite of documents written in clear.
//!
//! A person's number is an `identity` value object (a household member's, a supporter's, a
//! visit's added member's; a discovery report's `target_person_identity`) holding the masked
//! form and the sealed number ([`SealedId`], `crate::identity`). It is replaced whole, so a
//! merge never pairs one phone's masked form with another phone's sealed number.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::access::{DocError, MapWriter};
use super::discovery::{self, Target};
use super::household;
use super::issue::Issue;
pub use super::sealed::key;
use super::visit;
use super::{Content, key as root_key};
use crate::id_number::IdNumber;
use crate::identity::{OpenError, SealKey, SealedId};
use crate::ids::MemberId;

/// One place a document holds a person's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder<'a> {
    /// Names the person within the document, as the sync response's `identities` do:
    /// `members.<member_id>`, `supporters.<entry_id>`, `members_added.<member_id>`,
    /// `target_person`.
    pub entry: String,
    /// The field path of the value object, from `content.`.
    pub path: String,
    pub id: &'a SealedId,
    /// A current member of a household (what household search finds).
    pub current_member: bool,
}

/// The birth dates a household's clear numbers give, per member: the `members.<id>` entries of
/// `numbers` (entry → number, the entries [`holders`] names), for the age rules of an assessment
/// (`rules::assessment::Context::birth_dates`). Supporters' numbers are not members' and are left
/// out; the numbers themselves are not returned.
pub fn member_birth_dates(
    numbers: &BTreeMap<String, IdNumber>,
) -> BTreeMap<MemberId, chrono::NaiveDate> {
    let prefix = format!("{}.", household::key::MEMBERS);
    numbers
        .iter()
        .filter_map(|(entry, n)| {
            let id = MemberId::parse(entry.strip_prefix(&prefix)?).ok()?;
            Some((id, n.birth_date()))
        })
        .collect()
}

/// Every number a document's content holds.
pub fn holders<'a>(content: &'a Content) -> Vec<Holder<'a>> {
    let mut out = Vec::new();
    let mut push = |entry: String, path: String, id: Option<&'a SealedId>, current| {
        if let Some(id) = id {
            out.push(Holder {
                entry,
                path,
                id,
                current_member: current,
            });
        }
    };
    match content {
        Content::Household(h) => {
            for (id, m) in &h.members {
                let entry = format!("{}.{id}", household::key::MEMBERS);
                let path = format!("{entry}.{}", household::key::member::IDENTITY);
                push(entry, path, m.identity.as_ref(), m.is_current());
            }
            for (id, s) in &h.supporters {
                let entry = format!("{}.{id}", household::key::SUPPORTERS);
                let path = format!("{entry}.{}", household::key::supporter::IDENTITY);
                push(entry, path, s.identity.as_ref(), false);
            }
        }
        Content::Visit(v) => {
            for (id, m) in &v.members_added {
                let entry = format!("{}.{id}", visit::key::MEMBERS_ADDED);
                let path = format!("{entry}.{}", household::key::member::IDENTITY);
                push(entry, path, m.identity.as_ref(), false);
            }
        }
        Content::DiscoveryReport(r) => {
            if let Some(Target::Person { identity, .. }) = &r.target {
                push(
                    TARGET_PERSON.to_owned(),
                    discovery::key::TARGET_PERSON_IDENTITY.to_owned(),
                    identity.as_ref(),
                    false,
                );
            }
        }
    }
    out
}

/// The entry of a discovery report's person.
pub const TARGET_PERSON: &str = "target_person";

/// What opening a document's numbers gives: each holder's number, by entry, and the problems.
#[derive(Debug, Default)]
pub struct Opened {
    pub numbers: Vec<(String, IdNumber)>,
    /// Paths from `content.`.
    pub issues: Vec<Issue>,
}

/// Open every number of `content` with `open` (the server's key, or a phone's record of the
/// numbers it holds) and check what only the clear numbers show: that each opens to a valid
/// number of its masked form, and that no two current members of a household share one.
pub fn open_all(
    content: &Content,
    open: impl Fn(&SealedId) -> Result<IdNumber, OpenError>,
) -> Opened {
    let mut opened = Opened::default();
    let mut seen: HashMap<String, ()> = HashMap::new();
    for h in holders(content) {
        match open(h.id) {
            Ok(n) => {
                if h.current_member && seen.insert(n.expose().to_owned(), ()).is_some() {
                    opened.issues.push(Issue::error(
                        h.path.clone(),
                        "member.duplicate_id_number",
                        "身份证号与其他成员重复",
                        "the ID number is the same as another member's",
                    ));
                }
                opened.numbers.push((h.entry, n));
            }
            Err(e) => opened.issues.push(Issue::error(
                h.path,
                e.code(),
                e.message_zh(),
                e.message_en(),
            )),
        }
    }
    opened
}

/// Keys of documents written before numbers were sealed: the number in clear.
mod legacy {
    pub const ID_NUMBER: &str = "id_number";
    pub const TARGET_PERSON_ID_NUMBER: &str = "target_person_id_number";
}

/// The places a document written before numbers were sealed holds one in clear: the map, its
/// clear key, the key of the identity that replaces it, and the number.
fn clear_sites<R: ReadDoc>(
    doc: &R,
) -> Result<Vec<(ObjId, &'static str, &'static str, IdNumber)>, DocError> {
    let Some((Value::Object(ObjType::Map), content)) =
        doc.get(automerge::ROOT, root_key::CONTENT)?
    else {
        return Ok(Vec::new());
    };
    let kind = match doc.get(automerge::ROOT, root_key::KIND)? {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(k) => k.to_string(),
            _ => return Ok(Vec::new()),
        },
        _ => return Ok(Vec::new()),
    };
    let mut maps = Vec::new();
    let collections: &[&str] = match kind.as_str() {
        "household" => &[household::key::MEMBERS, household::key::SUPPORTERS],
        "visit" => &[visit::key::MEMBERS_ADDED],
        _ => &[],
    };
    for &coll in collections {
        let Some((Value::Object(ObjType::Map), coll)) = doc.get(&content, coll)? else {
            continue;
        };
        for e in doc.keys(&coll) {
            if let Some((Value::Object(ObjType::Map), entry)) = doc.get(&coll, e.as_str())? {
                maps.push((entry, legacy::ID_NUMBER, household::key::member::IDENTITY));
            }
        }
    }
    if kind == "discovery_report" {
        maps.push((
            content,
            legacy::TARGET_PERSON_ID_NUMBER,
            discovery::key::TARGET_PERSON_IDENTITY,
        ));
    }
    let mut sites = Vec::new();
    for (obj, clear_key, identity_key) in maps {
        if let Some((Value::Scalar(s), _)) = doc.get(&obj, clear_key)?
            && let ScalarValue::Str(t) = s.as_ref()
            && let Ok(n) = IdNumber::parse(t)
        {
            sites.push((obj, clear_key, identity_key, n));
        }
    }
    Ok(sites)
}

/// How many numbers a document still holds in clear at the keys earlier versions wrote.
pub fn clear_numbers_held<R: ReadDoc>(doc: &R) -> Result<usize, DocError> {
    Ok(clear_sites(doc)?.len())
}

/// Rewrite a document written before numbers were sealed: each number held in clear at the
/// keys earlier versions wrote it (`id_number` of members, supporters and added members,
/// `target_person_id_number` of a discovery report) becomes an `identity` sealed to `key`, and a
/// `birth_date` beside it goes (with the masked form it would give the whole number back).
/// Returns how many numbers were sealed; nothing is written when there are none. The history
/// keeps the clear values: only the current state changes.
pub fn seal_clear_numbers<T: Transactable>(doc: &mut T, key: &SealKey) -> Result<usize, DocError> {
    let sites = clear_sites(&*doc)?;
    let sealed = sites.len();
    for (obj, clear_key, identity_key, number) in sites {
        let id = key.seal(&number);
        super::sealed::write_opt(
            Some(&id),
            &mut MapWriter::at(doc, obj.clone()),
            identity_key,
        )?;
        doc.delete(&obj, clear_key)?;
        if doc.get(&obj, household::key::member::BIRTH_DATE)?.is_some() {
            doc.delete(&obj, household::key::member::BIRTH_DATE)?;
        }
    }
    Ok(sealed)
}
