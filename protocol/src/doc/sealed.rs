//! The `identity` value object of a document (身份证号): its keys, its published schema, how it
//! is read and written, and the rules the server applies to it. Where documents hold one, and
//! the checks that need the clear number, are [`super::identity`]'s.

use automerge::transaction::Transactable;

use super::access::{DocError, Field, MapReader, MapWriter};
use super::format::Key as SchemaKey;
use super::format::Shape::{Scalar, ValueObject};
use super::format::{ID_MASKED, ID_SEALED, Rule};
use super::issue::Severity;
use crate::identity::{MaskedId, SealedId};

/// Keys of an `identity` value object.
pub mod key {
    pub const MASKED: &str = "masked";
    pub const SEALED: &str = "sealed";
}

/// The published schema of an `identity` value object at `key`.
pub(crate) const fn identity_key(key: &'static str, label_zh: &'static str) -> SchemaKey {
    SchemaKey::opt(key, label_zh, ValueObject(IDENTITY)).about(
        "the person's 身份证号, masked and sealed to the server (never in clear: a document holding a clear number anywhere is refused with `sync.clear_id_number`); replaced whole when it changes",
    )
}

const IDENTITY: &[SchemaKey] = &[
    SchemaKey::req(key::MASKED, "身份证号（掩码）", Scalar(&ID_MASKED))
        .about("first 6 + `****` + last 4 of the number sealed beside it"),
    SchemaKey::req(key::SEALED, "身份证号（密文）", Scalar(&ID_SEALED)),
];

pub(crate) fn read_opt(parent: &MapReader<'_>, key: &str) -> Result<Option<SealedId>, DocError> {
    let Some(m) = parent.opt_map(key)? else {
        return Ok(None);
    };
    Ok(Some(SealedId {
        masked: m.req::<MaskedId>(key::MASKED)?,
        sealed: m.req(key::SEALED)?,
    }))
}

pub(crate) fn write_opt<T: Transactable>(
    id: Option<&SealedId>,
    parent: &mut MapWriter<'_, T>,
    key: &str,
) -> Result<(), DocError> {
    let fields = id.map(|id| {
        [
            (key::MASKED, id.masked.to_scalar()),
            (key::SEALED, id.sealed.to_scalar()),
        ]
    });
    parent.value_object(key, fields.as_ref().map(|f| &f[..]))
}

/// The rules the server applies when it opens the numbers at `paths`.
pub(crate) const fn sealed_rules(paths: &'static [&'static str]) -> [Rule; 2] {
    [
        Rule {
            code: "id_number.sealed_invalid",
            severity: Severity::Error,
            paths,
            when: "the `sealed` number does not open with the server's key to a valid 身份证号 (checked by the server)",
        },
        Rule {
            code: "id_number.masked_mismatch",
            severity: Severity::Error,
            paths,
            when: "the `masked` form is not that of the number sealed beside it (checked by the server)",
        },
    ]
}
