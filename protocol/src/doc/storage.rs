//! Automerge's storage format read at the level of its chunks, before automerge decodes anything:
//! which kinds of chunk the bytes hold, and how much their compressed parts inflate to.
//!
//! Automerge inflates DEFLATE-compressed data as a whole (`read_to_end`), however large it
//! grows: a few kilobytes of a crafted compressed change or document column can inflate to
//! gigabytes. The readers here inflate with a bound first ([`MAX_CHANGE_BYTES`],
//! [`MAX_INFLATED_BYTES`]) and refuse what passes it.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use super::DocError;

/// The magic bytes that open every chunk of automerge's storage format.
pub const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Kinds of chunk (the byte after the checksum) that this project writes and reads: a whole
/// document, a change, a DEFLATE-compressed change. Automerge also reads bundles, which nothing
/// here writes, and decoding a crafted one can take minutes.
pub mod chunk_kind {
    pub const DOCUMENT: u8 = 0;
    pub const CHANGE: u8 = 1;
    pub const COMPRESSED_CHANGE: u8 = 2;
}

/// The most bytes one change may take, inflated when it comes compressed: as much as a sync
/// request may carry (`sync::MAX_REQUEST_BYTES`). The changes a phone writes take a few
/// kilobytes.
pub const MAX_CHANGE_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes the compressed parts of one loaded document (its compressed columns and
/// compressed changes), or of the changes of one sync request, may inflate to in all. A saved
/// household takes tens of kilobytes.
pub const MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// The header of one chunk: magic bytes, a 4-byte checksum, the kind, the data's length
/// (unsigned LEB128), then the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkHeader {
    pub kind: u8,
    /// Where the chunk starts in the bytes read.
    pub start: usize,
    /// The chunk's data.
    pub data: std::ops::Range<usize>,
}

impl ChunkHeader {
    /// The chunk's checksum: the first 4 bytes of the SHA-256 of its kind, length and data (for
    /// a compressed change, of the change inflated).
    pub fn checksum(&self) -> std::ops::Range<usize> {
        self.start + 4..self.start + 8
    }
}

/// Reads automerge's unsigned LEB128 numbers and byte runs, refusing (with `None`) what
/// automerge refuses: a number longer than 64 bits or encoded with more bytes than it needs.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn uleb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return None;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return (i == 0 || byte != 0).then_some(value);
            }
        }
        None
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.uleb()?).ok()
    }

    fn take(&mut self, n: usize) -> Option<std::ops::Range<usize>> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        let range = self.at..end;
        self.at = end;
        Some(range)
    }
}

/// The chunk headers of `bytes` in order, without decoding any chunk; `None` unless `bytes` is
/// a whole number of chunks.
pub fn chunks(bytes: &[u8]) -> Option<Vec<ChunkHeader>> {
    let mut out = Vec::new();
    let mut r = Reader { bytes, at: 0 };
    while r.at < bytes.len() {
        let start = r.at;
        let header = r.take(9)?;
        if bytes[header.start..header.start + 4] != CHUNK_MAGIC {
            return None;
        }
        let kind = bytes[header.start + 8];
        let len = r.len()?;
        let data = r.take(len)?;
        out.push(ChunkHeader { kind, start, data });
    }
    Some(out)
}

/// Refuse bytes that are not whole chunks of the kinds in `kinds`, before automerge decodes any.
pub(super) fn only_chunks(bytes: &[u8], kinds: &[u8]) -> Result<Vec<ChunkHeader>, DocError> {
    match chunks(bytes) {
        Some(found) if found.iter().all(|c| kinds.contains(&c.kind)) => Ok(found),
        _ => Err(DocError::Automerge(
            "not a document or change in automerge's format".to_owned(),
        )),
    }
}

/// Why data did not inflate.
enum Inflate {
    /// It inflates to more than the limit.
    TooLarge,
    /// It is not DEFLATE data.
    Corrupt,
}

/// Inflate the raw DEFLATE stream `data` into `out`, at most `limit` bytes; the bytes written.
fn inflate(data: &[u8], limit: usize, out: &mut impl Write) -> Result<usize, Inflate> {
    let mut decoder = flate2::bufread::DeflateDecoder::new(data).take(limit as u64 + 1);
    let written = io::copy(&mut decoder, out).map_err(|_| Inflate::Corrupt)?;
    usize::try_from(written)
        .ok()
        .filter(|&n| n <= limit)
        .ok_or(Inflate::TooLarge)
}

fn too_large(what: &str, limit: usize) -> DocError {
    DocError::Automerge(format!(
        "{what} inflates to more than {} MiB",
        limit / (1024 * 1024)
    ))
}

/// One change chunk as automerge is to decode it: a compressed change inflated here, at most
/// [`MAX_CHANGE_BYTES`], and given as the uncompressed change chunk it stands for (the same
/// checksum and hash; automerge compresses it again to store or send it).
pub(super) fn change_chunk(bytes: &[u8]) -> Result<Cow<'_, [u8]>, DocError> {
    use chunk_kind::*;
    let found = only_chunks(bytes, &[CHANGE, COMPRESSED_CHANGE])?;
    let [chunk] = found.as_slice() else {
        return Err(DocError::Automerge(
            "expected one change, found several chunks".to_owned(),
        ));
    };
    if chunk.kind == CHANGE {
        if chunk.data.len() > MAX_CHANGE_BYTES {
            return Err(too_large("the change", MAX_CHANGE_BYTES));
        }
        return Ok(Cow::Borrowed(bytes));
    }
    let mut inflated = Vec::new();
    inflate(&bytes[chunk.data.clone()], MAX_CHANGE_BYTES, &mut inflated).map_err(|e| match e {
        Inflate::TooLarge => too_large("the compressed change", MAX_CHANGE_BYTES),
        Inflate::Corrupt => DocError::Automerge("the compressed change does not inflate".into()),
    })?;
    let mut out = Vec::with_capacity(inflated.len() + 20);
    out.extend_from_slice(&CHUNK_MAGIC);
    out.extend_from_slice(&bytes[chunk.checksum()]);
    out.push(CHANGE);
    let mut len = inflated.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&inflated);
    Ok(Cow::Owned(out))
}

/// The data ranges of the DEFLATE-compressed columns of a document chunk's data (`data`: the
/// chunk's data range in `bytes`), laid out as automerge reads it: the actors, the heads, the
/// change columns' and then the operation columns' specifications and lengths, then the columns'
/// data in that order. A column is compressed when bit 3 of its specification is set. `None`
/// when the layout does not read (automerge refuses the chunk then).
fn compressed_columns(
    bytes: &[u8],
    data: std::ops::Range<usize>,
) -> Option<Vec<std::ops::Range<usize>>> {
    const DEFLATE: u64 = 0b1000;
    let mut r = Reader {
        bytes: &bytes[..data.end],
        at: data.start,
    };
    for _ in 0..r.uleb()? {
        let len = r.len()?;
        r.take(len)?;
    }
    let heads = r.len()?;
    r.take(heads.checked_mul(32)?)?;
    let mut columns = Vec::new();
    for _ in 0..2 {
        for _ in 0..r.uleb()? {
            let spec = r.uleb().filter(|&s| s <= u64::from(u32::MAX))?;
            columns.push((spec & DEFLATE != 0, r.len()?));
        }
    }
    let mut compressed = Vec::new();
    for (deflated, len) in columns {
        let range = r.take(len)?;
        if deflated {
            compressed.push(range);
        }
    }
    Some(compressed)
}

/// How many bytes `bytes` take once their compressed parts are inflated (the data of compressed
/// changes, the compressed columns of documents), counted by inflating without keeping anything,
/// at most `limit`: `None` when more. Bytes that are not whole chunks, and parts that do not
/// inflate, count as they are: the readers refuse them.
pub fn inflated_size(bytes: &[u8], limit: usize) -> Option<usize> {
    let Some(found) = chunks(bytes) else {
        return (bytes.len() <= limit).then_some(bytes.len());
    };
    let mut size = 0usize;
    for chunk in found {
        let whole = chunk.data.end - chunk.start;
        let parts = match chunk.kind {
            chunk_kind::COMPRESSED_CHANGE => vec![chunk.data.clone()],
            chunk_kind::DOCUMENT => {
                compressed_columns(bytes, chunk.data.clone()).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        size = size.checked_add(whole).filter(|&s| s <= limit)?;
        for part in parts {
            // The inflated bytes stand in for the compressed ones.
            let rest = size - part.len();
            match inflate(&bytes[part], limit - rest, &mut io::sink()) {
                Ok(n) => size = rest + n,
                Err(Inflate::TooLarge) => return None,
                Err(Inflate::Corrupt) => {}
            }
        }
    }
    Some(size)
}

/// Refuse `bytes` to be loaded when their compressed parts inflate to more than
/// [`MAX_INFLATED_BYTES`].
pub(super) fn check_inflated_size(bytes: &[u8]) -> Result<(), DocError> {
    match inflated_size(bytes, MAX_INFLATED_BYTES) {
        Some(_) => Ok(()),
        None => Err(too_large("the document", MAX_INFLATED_BYTES)),
    }
}
