//! docs/SCHEMA.md, made from the schema.

use super::{
    AmType, Format, Key, KindSchema, Rule, SCHEMA, STRUCTURE_CODES, Schema, Shape, WrittenBy,
};

/// The text of docs/SCHEMA.md.
pub fn markdown() -> String {
    let s: &Schema = &SCHEMA;
    let mut out = String::new();
    let w = &mut out;
    line(w, &format!("# Document schema, version {}", s.version));
    line(w, "");
    line(
        w,
        "<!-- Made from protocol/src/doc/schema and the typed views' keys: do not edit by hand. After a change there, run\n     DOUDI_WRITE_SCHEMA=1 cargo test -p doudi-protocol --lib schema::tests::docs_schema_md_is_what_the_schema_says -->",
    );
    line(w, "");
    w.push_str(INTRO);
    line(w, "");
    line(w, "## Root");
    line(w, "");
    key_table(w, s.root);
    line(w, "");
    rule_table(w, s.root_rules, "");
    for k in s.kinds {
        kind_section(w, k);
    }
    line(w, "");
    line(w, "## Formats");
    line(w, "");
    line(w, "| format | automerge type | values |");
    line(w, "|---|---|---|");
    let formats = s.formats();
    for f in formats.iter().filter(|f| !f.is_code()) {
        line(
            w,
            &format!(
                "| `{}` | `{}` | {} |",
                f.name,
                f.automerge.as_str(),
                f.about
            ),
        );
    }
    line(w, "");
    line(w, "## Codes");
    line(w, "");
    line(
        w,
        "A code is stored as its value (a scalar string); the Chinese label is what forms and the console show.",
    );
    for f in formats.iter().filter(|f| f.is_code()) {
        line(w, "");
        line(w, &format!("### `{}`", f.name));
        line(w, "");
        line(w, "| value | 中文 |");
        line(w, "|---|---|");
        for (code, zh) in f.codes {
            line(w, &format!("| `{code}` | {zh} |"));
        }
    }
    line(w, "");
    line(w, "## Issues of keys that do not read");
    line(w, "");
    line(
        w,
        "A document whose keys do not read as above gets these issues, at the path of each key (every one of them at once), and then the rules' issues of the parts that do read:",
    );
    line(w, "");
    line(w, "| code | when |");
    line(w, "|---|---|");
    for (code, when) in STRUCTURE_CODES {
        line(w, &format!("| `{code}` | {when} |"));
    }
    out
}

const INTRO: &str = "Every record is an [automerge](https://automerge.org) document of one of three kinds: `household` (户), `visit` (走访) and `discovery_report` (主动发现报告). This page lists every key of each, with its automerge type, whether it is required, its values, who writes it and the rules it must meet. The same description is served as JSON by `GET /api/v1/schema` (docs/API.md), and the typed views of `protocol/src/doc` are tested against it. How documents travel (actors, changes, sync) is in docs/PROTOCOL.md.

## Writing a document

- **Create** a document in one change: the root keys and a `content` map holding every required key of its kind, with an empty map for each collection (and, for a visit, the `living` map). A map, once created, is reused: change its keys, never put a new map at its place (that replaces the whole record, and a concurrent edit of the old one is lost). The exception is a *value object* (a GPS fix), which is replaced whole whenever it changes, so that a merge never pairs one phone's latitude with another's longitude.
- **Scalars** are written with the exact automerge type of their format: a scalar string (`str`; a Text object is refused), a signed integer (`int`; an unsigned one is refused), a float (`f64`, also for whole numbers), a boolean, or a timestamp (`timestamp`: milliseconds since the Unix epoch as automerge's timestamp type, not an integer). Money is an integer number of fen (分).
- **Optional** keys may be absent or null; to clear one, delete the key. Keys not listed here are ignored, and kept.
- **Collections** (members, income items, photos...) are maps keyed by a stable id that whoever adds the entry chooses at random (128 bits: the number in base32, `0-9a-z` without `i l o u`, most significant digit first, 26 digits), or by the blob's SHA-256, never lists: two phones adding entries at the same time both keep theirs. Deleting an entry's key deletes the entry.
- **Sets** (programmes, target groups, receipts) are maps from each member to `true`; a key set to `false` is not a member.
- **Lists** (decisions, reviews) only grow, and only the server writes them.
- **Blobs** (photos, signatures, receipts) are named by the SHA-256 of their bytes, 64 lowercase hexadecimal characters: that hash is the key of the photo or signature in its map, or the member of the receipts set. The bytes are uploaded through `/api/v1/blobs` (docs/BLOBS.md), before or after the document is synced.
- **Written by the server**: keys marked *server* below, and the statuses other than a kind's phone values, are set by reviewers' decisions. A pushed change to them is refused with `sync.server_field`.
- **Required** (*yes*) keys must be present for the document to read at all. Some optional keys and collections are *needed* once the document's `status` leaves `draft`: the rule named beside them then reports their absence.
- **Checks**: the phone checks a document before saving it and the server before accepting it (docs/PROTOCOL.md section 4). Issues of severity *error* refuse the document (`sync.validation_failed`, with every issue in `issues`: each key that does not read, then each rule broken by the parts that do); *warnings* are shown but accepted. Issue paths start with `content.` for the content keys; `<member_id>`, `<entry_id>`, `<account_id>` and `<blob_hash>` below stand for a key of the collection, `<n>` for a list index.
";

fn line(w: &mut String, s: &str) {
    w.push_str(s);
    w.push('\n');
}

fn kind_section(w: &mut String, k: &KindSchema) {
    line(w, "");
    line(
        w,
        &format!(
            "## `{}` ({}): the keys of `content`",
            k.kind.as_str(),
            k.kind.label_zh()
        ),
    );
    line(w, "");
    line(w, k.about);
    if !k.alternatives.is_empty() {
        line(w, "");
        let groups: Vec<String> = k
            .alternatives
            .iter()
            .map(|g| {
                g.iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        line(
            w,
            &format!(
                "A document holds the keys of one of these groups at most: {}. When it holds more, the first group present is used and the others are ignored (their values are still checked).",
                groups.join("; or ")
            ),
        );
    }
    line(w, "");
    key_table(w, k.content);
    line(w, "");
    line(w, "Rules:");
    line(w, "");
    rule_table(w, k.rules, "content.");
}

fn key_table(w: &mut String, keys: &'static [Key]) {
    line(w, "| key | 中文 | type | required | written by | meaning |");
    line(w, "|---|---|---|---|---|---|");
    rows(w, keys, "", WrittenBy::Phone);
}

/// The rows of `keys` and the keys inside them; `by` is who writes the map that holds them.
fn rows(w: &mut String, keys: &'static [Key], prefix: &str, by: WrittenBy) {
    for k in keys {
        let path = format!("{prefix}{}", k.name);
        let by = k.written_within(by);
        line(
            w,
            &format!(
                "| `{path}` | {} | {} | {} | {} | {} |",
                k.label_zh,
                type_cell(&k.shape),
                required_cell(k),
                written_cell(by),
                meaning_cell(k),
            ),
        );
        match &k.shape {
            Shape::Record(inner) | Shape::ValueObject(inner) => {
                rows(w, inner, &format!("{path}."), by)
            }
            Shape::Entries(f, inner) => rows(w, inner, &format!("{path}.<{}>.", f.name), by),
            Shape::List(inner) => rows(w, inner, &format!("{path}[<n>]."), by),
            Shape::Scalar(_) | Shape::Set(_) | Shape::Content => {}
        }
    }
}

fn format_ref(f: &Format) -> String {
    if f.is_code() {
        format!("code [`{}`](#{})", f.name, f.name.to_lowercase())
    } else if f.automerge == AmType::Str && f.name != "text" {
        format!("`{}`", f.name)
    } else {
        String::new()
    }
}

fn type_cell(shape: &Shape) -> String {
    match shape {
        Shape::Scalar(f) => {
            let r = format_ref(f);
            match r.is_empty() {
                true => format!("`{}`", f.automerge.as_str()),
                false => format!("`{}`: {r}", f.automerge.as_str()),
            }
        }
        Shape::Record(_) | Shape::Content => "map".to_owned(),
        Shape::ValueObject(_) => "map, replaced whole".to_owned(),
        Shape::Entries(f, _) => format!("map: `<{}>` → map", f.name),
        Shape::Set(f) => format!("map: {} → `true`", set_member(f)),
        Shape::List(_) => "list of maps".to_owned(),
    }
}

fn set_member(f: &Format) -> String {
    match f.is_code() {
        true => format!("code [`{}`](#{})", f.name, f.name.to_lowercase()),
        false => format!("`<{}>`", f.name),
    }
}

fn required_cell(k: &Key) -> String {
    let base = if k.required { "yes" } else { "no" };
    let Some(n) = &k.needed else {
        return base.to_owned();
    };
    let statuses = if is_all_but_draft(n.statuses) {
        "`status` is not `draft`".to_owned()
    } else {
        format!(
            "`status` is {}",
            n.statuses
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let what = match (&k.shape, n.min) {
        (Shape::Scalar(_), _) => "needed".to_owned(),
        (_, 1) => "at least one entry".to_owned(),
        (_, m) => format!("at least {m} entries"),
    };
    format!("{base}; {what} when {statuses} (`{}`)", n.rule)
}

/// Whether the statuses are those of [`super::VISIT_NOT_DRAFT`] or [`super::REPORT_NOT_DRAFT`].
fn is_all_but_draft(statuses: &[&str]) -> bool {
    [super::VISIT_NOT_DRAFT, super::REPORT_NOT_DRAFT].contains(&statuses)
}

fn written_cell(w: WrittenBy) -> String {
    match w {
        WrittenBy::Phone => "phone".to_owned(),
        WrittenBy::Server => "*server*".to_owned(),
        WrittenBy::PhoneValues(v) => format!(
            "phone: {}; *server*: the others",
            v.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn meaning_cell(k: &Key) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !k.about.is_empty() {
        parts.push(capitalised(k.about));
    }
    if let Some(r) = &k.range {
        let text = match (r.min, r.max) {
            (Some(lo), Some(hi)) => format!("from {} to {}", num(lo), num(hi)),
            (Some(lo), None) => format!("at least {}", num(lo)),
            (None, Some(hi)) => format!("at most {}", num(hi)),
            (None, None) => String::new(),
        };
        parts.push(format!("Values {text} (`{}`)", r.rule));
    }
    let mut s = parts.join(". ");
    if !s.is_empty() && !s.ends_with('.') {
        s.push('.');
    }
    s
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn rule_table(w: &mut String, rules: &[Rule], prefix: &str) {
    line(w, "| issue code | severity | path | when |");
    line(w, "|---|---|---|---|");
    for r in rules {
        let paths: Vec<String> = r.paths.iter().map(|p| format!("`{prefix}{p}`")).collect();
        line(
            w,
            &format!(
                "| `{}` | {} | {} | {} |",
                r.code,
                r.severity.as_str(),
                paths.join(", "),
                r.when
            ),
        );
    }
}
