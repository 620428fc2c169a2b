//! Arbitrary bytes as an uploaded blob through the server's image check
//! (`blobs::image_check::check`) with the default limits of the blob settings; an image it
//! accepts is then made into a list thumbnail (`image_check::thumbnail`), as the server does
//! when the image is first asked for.
//!
//! Properties: nothing panics; an accepted image has the dimensions the check reported and
//! always gives a thumbnail.

#![no_main]

use std::sync::LazyLock;

use doudi_protocol_fuzz::{quiet_caught_panics, run};
use doudi_server::blobs::image_check::{self, ImageLimits, THUMB_EDGE};
use doudi_server::blobs::upload::Limits;
use doudi_server::config::BlobSettings;
use libfuzzer_sys::fuzz_target;

static LIMITS: LazyLock<ImageLimits> =
    LazyLock::new(|| Limits::from_settings(&BlobSettings::default()).image);

fuzz_target!(init: quiet_caught_panics(), |data: &[u8]| run(|| one(data)));

fn one(data: &[u8]) {
    let Ok(info) = image_check::check(data, *LIMITS) else {
        return;
    };
    assert!(info.width > 0 && info.height > 0);
    image_check::thumbnail(data, *LIMITS, THUMB_EDGE).expect("an accepted image gives a thumbnail");
}
