//! What the fuzz targets of doudi's crates share (this crate's and server/fuzz's).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use sha2::{Digest, Sha256};

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// libfuzzer-sys aborts at every panic, also at one the code under test catches and turns
/// into an error (`doc::untrusted`). Remember the panic instead; [`run`] reports it when it
/// escapes, with a backtrace when `DOUDI_FUZZ_BACKTRACE` is set (capturing one at every caught
/// panic slows fuzzing down). Call once, from the target's `init`.
pub fn quiet_caught_panics() {
    let backtrace = std::env::var_os("DOUDI_FUZZ_BACKTRACE").is_some();
    std::panic::set_hook(Box::new(move |info| {
        let mut message = info.to_string();
        if backtrace {
            message = format!("{message}\n{}", std::backtrace::Backtrace::force_capture());
        }
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
    }));
}

/// Run one input: a panic that escapes `body` is printed and aborts the process, which
/// libFuzzer records as a crash.
pub fn run(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        let message = LAST_PANIC.with(|p| p.borrow_mut().take());
        eprintln!("{}", message.as_deref().unwrap_or("panicked"));
        std::process::abort();
    }
}

/// The magic bytes that open every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a DEFLATE-compressed change, whose checksum is that of the inflated change.
const COMPRESSED_CHANGE: u8 = 2;

/// Set the checksum of each chunk (magic, 4-byte checksum, type, LEB128 length, data) to the
/// first 4 bytes of the SHA-256 of its type, length and data, as automerge computes it.
/// Compressed changes keep theirs.
pub fn repair_checksums(bytes: &mut [u8]) {
    let mut at = 0;
    while bytes.len() >= at + 9 && bytes[at..at + 4] == MAGIC {
        let kind = bytes[at + 8];
        let Some((len, len_bytes)) = uleb128(&bytes[at + 9..]) else {
            return;
        };
        let start = at + 9 + len_bytes;
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= bytes.len())
        else {
            return;
        };
        if kind != COMPRESSED_CHANGE {
            let mut hasher = Sha256::new();
            hasher.update([kind]);
            hasher.update(uleb128_bytes(len));
            hasher.update(&bytes[start..end]);
            let hash = hasher.finalize();
            bytes[at + 4..at + 8].copy_from_slice(&hash[..4]);
        }
        at = end;
    }
}

fn uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn uleb128_bytes(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}
