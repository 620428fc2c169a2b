//! The vocabulary of the published schema: the formats of values, the shapes of keys, the rules,
//! and `code_enum!` for closed sets of codes. Each document kind describes its keys with it;
//! [`super::schema`] puts the kinds together.

use automerge::ScalarValue;
use serde::Serialize;

use super::SchemaVersion;
use super::access::{Field as FieldValue, FieldError, UnixMillis};
use super::issue::Severity;
use crate::id_number::Sex;
use crate::identity::MaskedId;
use crate::ids::{AccountId, BlobHash, DocumentId, DocumentKind, EntryId, MemberId};

/// The automerge type of a scalar value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmType {
    /// A scalar string (`ScalarValue::Str`), never a Text object.
    Str,
    /// A signed 64-bit integer (`ScalarValue::Int`); an unsigned one (`Uint`) is refused.
    Int,
    /// A 64-bit float (`ScalarValue::F64`), even when the value is whole.
    F64,
    Bool,
    /// Milliseconds since the Unix epoch, UTC (`ScalarValue::Timestamp`), not an integer.
    Timestamp,
    /// A byte string (`ScalarValue::Bytes`).
    Bytes,
}

impl AmType {
    pub fn as_str(self) -> &'static str {
        match self {
            AmType::Str => "str",
            AmType::Int => "int",
            AmType::F64 => "f64",
            AmType::Bool => "bool",
            AmType::Timestamp => "timestamp",
            AmType::Bytes => "bytes",
        }
    }
}

/// What the scalar values of a key look like: the automerge type, the form of the value, and for
/// codes every value with its Chinese label. Checked with the typed views' own conversion.
#[derive(Debug)]
pub struct Format {
    pub name: &'static str,
    pub automerge: AmType,
    pub about: &'static str,
    /// For codes: each stored value and the Chinese label it shows as.
    pub codes: &'static [(&'static str, &'static str)],
    /// What a reader says it expected, in its "wrong type" errors.
    pub(crate) expected: &'static str,
    check: fn(&ScalarValue) -> Result<(), FieldError>,
    example: fn() -> ScalarValue,
}

fn check_as<F: FieldValue>(v: &ScalarValue) -> Result<(), FieldError> {
    F::from_scalar(v).map(drop)
}

impl Format {
    /// A format whose values are those the typed views' `F` reads.
    pub(crate) const fn of<F: FieldValue>(
        name: &'static str,
        automerge: AmType,
        about: &'static str,
        example: fn() -> ScalarValue,
    ) -> Format {
        Format {
            name,
            automerge,
            about,
            codes: &[],
            expected: F::EXPECTED,
            check: check_as::<F>,
            example,
        }
    }

    /// The format of a closed set of codes (`code_enum!`).
    pub(crate) const fn codes<F: FieldValue>(
        name: &'static str,
        codes: &'static [(&'static str, &'static str)],
        example: fn() -> ScalarValue,
    ) -> Format {
        Format {
            codes,
            ..Format::of::<F>(name, AmType::Str, "", example)
        }
    }

    /// Check a stored value as the typed views read it.
    pub(crate) fn check(&self, v: &ScalarValue) -> Result<(), FieldError> {
        (self.check)(v)
    }

    /// A valid value of this format.
    pub fn example(&self) -> ScalarValue {
        (self.example)()
    }

    pub fn is_code(&self) -> bool {
        !self.codes.is_empty()
    }
}

fn str_example(s: &str) -> ScalarValue {
    ScalarValue::Str(s.into())
}

/// A string that reads as a grid code or anything else: its form is checked by a rule.
struct AnyStr;

impl FieldValue for AnyStr {
    const EXPECTED: &'static str = "a string";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str("".into())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        String::from_scalar(v).map(|_| AnyStr)
    }
}

/// The document kind named at the root, read as the header reader reads it.
impl FieldValue for DocumentKind {
    const EXPECTED: &'static str = "a string";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.as_str().into())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        DocumentKind::parse(&String::from_scalar(v)?).map_err(|_| FieldError::Invalid {
            code: "kind.unknown",
            reason: "unknown document kind".to_owned(),
        })
    }
}

/// The schema version at the root, read as the header reader reads it.
impl FieldValue for SchemaVersion {
    const EXPECTED: &'static str = "a string";
    fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Str(self.to_string().into())
    }
    fn from_scalar(v: &ScalarValue) -> Result<Self, FieldError> {
        SchemaVersion::parse(&String::from_scalar(v)?).ok_or_else(|| FieldError::Invalid {
            code: "schema.format",
            reason: "expected major.minor".to_owned(),
        })
    }
}

pub const TEXT: Format = Format::of::<String>(
    "text",
    AmType::Str,
    "any string (a scalar string: a Text object is refused)",
    || str_example("示例"),
);
pub const INT: Format = Format::of::<i64>(
    "int",
    AmType::Int,
    "a signed 64-bit integer; money is in fen (分)",
    || ScalarValue::Int(1),
);
pub const SMALL_INT: Format = Format::of::<u8>(
    "small_int",
    AmType::Int,
    "a signed integer from 0 to 255",
    || ScalarValue::Int(1),
);
pub const F64: Format = Format::of::<f64>(
    "f64",
    AmType::F64,
    "a 64-bit float; a whole number is still written as a float",
    || ScalarValue::F64(36.5),
);
pub const BOOL: Format = Format::of::<bool>("bool", AmType::Bool, "true or false", || {
    ScalarValue::Boolean(true)
});
pub const TIMESTAMP: Format = Format::of::<UnixMillis>(
    "timestamp",
    AmType::Timestamp,
    "milliseconds since 1970-01-01T00:00:00Z, as an automerge timestamp (not an integer); shown in Asia/Shanghai time",
    || ScalarValue::Timestamp(1_750_000_000_000),
);
pub const DATE: Format = Format::of::<chrono::NaiveDate>(
    "date",
    AmType::Str,
    "a calendar date `YYYY-MM-DD`, e.g. `1958-03-12`",
    || str_example("1958-03-12"),
);
pub const ID_MASKED: Format = Format::of::<MaskedId>(
    "id_masked",
    AmType::Str,
    "a masked 身份证号 (GB 11643): its first 6 digits, `****` and its last 4 characters (a digit or `X` last), e.g. `110105****002X`. Documents never hold the whole number: it travels sealed beside it",
    || str_example("110105****002X"),
);
pub const ID_SEALED: Format = Format::of::<Vec<u8>>(
    "id_sealed",
    AmType::Bytes,
    "the 18 characters of a 身份证号 (upper-case `X`) sealed to the server's public key with libsodium's anonymous sealed box (`crypto_box_seal`: X25519, XSalsa20-Poly1305; 66 bytes). The key is the login answer's `identity_key` and `GET /api/v1/identity-key` (64 hexadecimal characters). Only the server opens it",
    || ScalarValue::Bytes(vec![0x5e; 66]),
);
pub const SEX: Format = Format::codes::<Sex>("Sex", &[("male", "男"), ("female", "女")], || {
    str_example("male")
});
pub const DOCUMENT_ID: Format = Format::of::<DocumentId>(
    "document_id",
    AmType::Str,
    "a document id: 26 characters of lowercase Crockford base32 (`0-9a-z` without `i l o u`), the first `0`-`7`",
    || str_example("0h8x7kq2m4d9r6t1v3w5y7z9ab"),
);
pub const MEMBER_ID: Format = Format::of::<MemberId>(
    "member_id",
    AmType::Str,
    "a household member's id, chosen at random by whoever adds the member and never changed; same form as a document id",
    || str_example("1m2n3p4q5r6s7t8v9w0x1y2z3a"),
);
pub const ENTRY_ID: Format = Format::of::<EntryId>(
    "entry_id",
    AmType::Str,
    "an entry's id, chosen at random by whoever adds the entry; same form as a document id",
    || str_example("2b3c4d5e6f7g8h9j0k1m2n3p4q"),
);
pub const ACCOUNT_ID: Format = Format::of::<AccountId>(
    "account_id",
    AmType::Str,
    "an account's id as the server issues it (`account.id` of the login answer): 1 to 64 of `A-Za-z0-9_-`",
    || str_example("acct-1"),
);
pub const BLOB_HASH: Format = Format::of::<BlobHash>(
    "blob_hash",
    AmType::Str,
    "the SHA-256 of a blob's bytes (a photo, a signature, a receipt), 64 lowercase hexadecimal characters; the bytes go through `/api/v1/blobs` (docs/BLOBS.md)",
    || str_example("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
);
pub const KIND: Format = Format::codes::<DocumentKind>(
    "DocumentKind",
    &[
        ("household", "户"),
        ("visit", "走访"),
        ("discovery_report", "主动发现报告"),
    ],
    || str_example("household"),
);
pub const SCHEMA_VERSION: Format = Format::of::<SchemaVersion>(
    "schema_version",
    AmType::Str,
    "`major.minor`, e.g. `1.0`; a reader refuses a major version it does not know and reads every minor version of one it knows (minor versions only add keys)",
    || str_example("1.0"),
);
pub const GRID_CODE: Format = Format::of::<AnyStr>(
    "grid_code",
    AmType::Str,
    "a grid's code (网格), 1 to 32 of `A-Za-z0-9_-`, e.g. `370102001001-A`; the grid must exist on the server",
    || str_example("370102001001-A"),
);

/// How a key's value is built.
#[derive(Debug)]
pub enum Shape {
    /// One automerge scalar.
    Scalar(&'static Format),
    /// A map with these keys, created once with its parent and then changed key by key.
    Record(&'static [Key]),
    /// A map with these keys that is replaced whole whenever any of them changes (a new map put
    /// at the key), so that a merge never mixes two writers' parts.
    ValueObject(&'static [Key]),
    /// A map from keys of the format to records with these keys: a collection to which phones
    /// add concurrently (a new entry is a new key; an entry's map is created once).
    Entries(&'static Format, &'static [Key]),
    /// A map from keys of the format to `true`: a set. `false` means absent.
    Set(&'static Format),
    /// A list of maps with these keys that only grows.
    List(&'static [Key]),
    /// The root's `content`: a map with the keys of the kind named by `kind`.
    Content,
}

/// The rule that makes a structurally optional key (or a collection's entries) necessary once a
/// document's `status` is one of `statuses`.
#[derive(Debug)]
pub struct Needed {
    pub statuses: &'static [&'static str],
    /// At least this many entries (a collection) or present (a scalar: 1).
    pub min: usize,
    /// The issue code of the rule.
    pub rule: &'static str,
}

/// The values a rule allows (both ends included).
#[derive(Debug)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The issue code of a value outside.
    pub rule: &'static str,
}

/// Who writes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrittenBy {
    Phone,
    /// Only the server writes it (reviewers' decisions); a phone's change to it is refused with
    /// `sync.server_field`.
    Server,
    /// Phones write only these values; the server writes the others.
    PhoneValues(&'static [&'static str]),
}

/// One documented key of a map.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub label_zh: &'static str,
    pub about: &'static str,
    pub shape: Shape,
    /// The typed views refuse a document without it. Collections are always required (present,
    /// possibly empty).
    pub required: bool,
    pub needed: Option<Needed>,
    pub range: Option<Range>,
    pub written_by: WrittenBy,
}

impl Key {
    /// A key the typed views require.
    pub const fn req(name: &'static str, label_zh: &'static str, shape: Shape) -> Key {
        Key {
            name,
            label_zh,
            about: "",
            shape,
            required: true,
            needed: None,
            range: None,
            written_by: WrittenBy::Phone,
        }
    }

    /// A key that may be absent (or null).
    pub const fn opt(name: &'static str, label_zh: &'static str, shape: Shape) -> Key {
        Key {
            required: false,
            ..Key::req(name, label_zh, shape)
        }
    }

    pub const fn about(self, about: &'static str) -> Key {
        Key { about, ..self }
    }

    /// Necessary from these statuses on (rule `rule`): present, or at least `min` entries.
    pub const fn needed(
        self,
        statuses: &'static [&'static str],
        min: usize,
        rule: &'static str,
    ) -> Key {
        Key {
            needed: Some(Needed {
                statuses,
                min,
                rule,
            }),
            ..self
        }
    }

    pub const fn range(self, min: Option<f64>, max: Option<f64>, rule: &'static str) -> Key {
        Key {
            range: Some(Range { min, max, rule }),
            ..self
        }
    }

    pub const fn by_server(self) -> Key {
        Key {
            written_by: WrittenBy::Server,
            ..self
        }
    }

    pub const fn phone_values(self, values: &'static [&'static str]) -> Key {
        Key {
            written_by: WrittenBy::PhoneValues(values),
            ..self
        }
    }

    /// Who writes this key inside a map written by `outer`: the keys of what the server writes
    /// are the server's too.
    pub fn written_within(&self, outer: WrittenBy) -> WrittenBy {
        match outer {
            WrittenBy::Server => WrittenBy::Server,
            _ => self.written_by,
        }
    }
}

/// One rule of the validators, as its issues name it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    /// The field paths of its issues, from the content map (`<member_id>` and the like stand for
    /// a key of the collection, `<n>` for a list index); empty for the whole content.
    pub paths: &'static [&'static str],
    /// When the issue is raised.
    pub when: &'static str,
}

/// One document kind.
#[derive(Debug)]
pub struct KindSchema {
    pub kind: DocumentKind,
    pub about: &'static str,
    pub content: &'static [Key],
    /// Groups of keys of which a document holds at most one; the typed view uses the first
    /// group present.
    pub alternatives: &'static [&'static [&'static str]],
    pub rules: &'static [Rule],
}

impl KindSchema {
    /// The kind's `status` key's codes, if it has one.
    pub fn statuses(&self) -> &'static [(&'static str, &'static str)] {
        self.content
            .iter()
            .find(|k| k.name == "status")
            .and_then(|k| match k.shape {
                Shape::Scalar(f) => Some(f.codes),
                _ => None,
            })
            .unwrap_or(&[])
    }
}

/// Every status of a kind but `draft`, for keys needed once a document is submitted.
pub(crate) const VISIT_NOT_DRAFT: &[&str] = &[
    "submitted",
    "returned",
    "approved",
    "rejected",
    "confirmed",
    "closed",
];
pub(crate) const REPORT_NOT_DRAFT: &[&str] = &[
    "submitted",
    "screened",
    "registered",
    "verified",
    "referred",
    "closed",
];

/// The root map of every document.
pub const ROOT: &[Key] = {
    use super::key;
    &[
        Key::req(key::KIND, "文档类型", Shape::Scalar(&KIND))
            .about("the kind of document; never changes"),
        Key::req(key::SCHEMA, "版本", Shape::Scalar(&SCHEMA_VERSION))
            .about("the schema version the document was written with: `1.0`"),
        Key::req(key::SCOPE, "所属网格", Shape::Scalar(&GRID_CODE)).about(
            "the grid the document belongs to: the unit of access (only accounts whose regions cover it read or write it); never changes",
        ),
        Key::req(key::ID, "文档编号", Shape::Scalar(&DOCUMENT_ID))
            .about("the document's id, chosen at random by its creator; never changes"),
        Key::req(key::CONTENT, "内容", Shape::Content)
            .about("the keys of the kind, below"),
    ]
};

/// Rules about the root.
pub const ROOT_RULES: &[Rule] = &[Rule {
    code: "scope.invalid",
    severity: Severity::Error,
    paths: &["scope"],
    when: "`scope` is not a grid code (1 to 32 of `A-Za-z0-9_-`)",
}];

/// The issue codes of a document whose keys do not read: the same for every kind.
pub const STRUCTURE_CODES: &[(&str, &str)] = &[
    (
        "doc.missing",
        "a required key is absent or null (or a set's value is null)",
    ),
    (
        "doc.wrong_type",
        "a value of another automerge type than documented (an integer for a timestamp, a Text object for a string, a list for a map...)",
    ),
    (
        "code.unknown",
        "a string that is none of the key's codes (or a set key that is none of the set's codes)",
    ),
    (
        "key.format",
        "a key of a keyed collection of the wrong form",
    ),
    ("id.format", "an id or hash of the wrong form"),
    ("date.format", "a date that is not `YYYY-MM-DD`"),
    ("value.range", "an integer out of the range of its format"),
    (
        "id_number.masked_format",
        "a masked 身份证号 that is not 6 digits, `****`, 3 digits and a digit or `X`",
    ),
    ("kind.unknown", "`kind` is not a document kind"),
    ("schema.format", "`schema` is not `major.minor`"),
    (
        "schema.unknown_major",
        "`schema` has a major version this reader does not know: update the app",
    ),
];

/// Declares a closed set of codes (an enum stored as a stable lowercase string) with the Chinese
/// label each code shows as.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $zh:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in documents.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The Chinese name shown to users.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The codes as the published schema lists them.
            pub const FORMAT: $crate::doc::format::Format =
                $crate::doc::format::Format::codes::<$name>(
                    stringify!($name),
                    &[$(($code, $zh)),+],
                    || automerge::ScalarValue::Str([$($code),+][0].into()),
                );
        }

        impl $crate::doc::access::Field for $name {
            const EXPECTED: &'static str = concat!("a code of ", stringify!($name));
            fn to_scalar(&self) -> automerge::ScalarValue {
                automerge::ScalarValue::Str(self.as_str().into())
            }
            fn from_scalar(
                v: &automerge::ScalarValue,
            ) -> Result<Self, $crate::doc::access::FieldError> {
                match v {
                    automerge::ScalarValue::Str(s) => $name::parse(s).ok_or_else(|| {
                        $crate::doc::access::FieldError::Invalid {
                            code: "code.unknown",
                            reason: format!(concat!("unknown ", stringify!($name), " {:?}"), s),
                        }
                    }),
                    _ => Err($crate::doc::access::FieldError::WrongType),
                }
            }
        }

        impl $crate::doc::access::MapKey for $name {
            fn to_key(&self) -> String {
                self.as_str().to_owned()
            }
            fn from_key(s: &str) -> Option<Self> {
                $name::parse(s)
            }
        }
    };
}
pub(crate) use code_enum;
