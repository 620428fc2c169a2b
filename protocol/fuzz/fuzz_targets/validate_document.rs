//! Arbitrary bytes loaded as a saved automerge document (`doc::load`, as the phone loads a
//! snapshot and the server a stored state), then read and validated as each kind by the
//! protocol's readers and validators, and edited back through the typed views.
//!
//! Automerge refuses a chunk whose checksum does not match before it reads any further; the
//! input's checksums are set right first (`repair_checksums`), as anyone crafting a document
//! would, so that mutations reach the document decoder rather than the checksum test.
//!
//! Properties: nothing panics; `read_checked` gives `validate_tree`'s issues and `validate`
//! gives the same for the document; content that reads, written back with `doc::write`, reads
//! back equal and changes nothing.

#![no_main]

use automerge::AutoCommit;
use doudi_protocol::doc::{
    self, DiscoveryReport, DocumentContent, Household, Visit, conflicts, validate, validate_tree,
};
use doudi_protocol_fuzz::{quiet_caught_panics, repair_checksums, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: quiet_caught_panics(), |data: &[u8]| run(|| one(data)));

fn one(data: &[u8]) {
    let mut bytes = data.to_vec();
    repair_checksums(&mut bytes);
    let Ok(loaded) = doc::load(&bytes) else {
        return;
    };
    let _ = doc::read_header(&loaded);
    let issues = validate(&loaded);
    if let Ok(tree) = doc::tree(&loaded) {
        assert_eq!(
            issues,
            validate_tree(&tree),
            "validate and validate_tree differ"
        );
        let (read, checked) = doc::read_checked(&tree);
        assert_eq!(checked, issues, "read_checked and validate_tree differ");
        if let Some((header, content)) = &read {
            assert_eq!(doc::validate_content(header, content), issues);
        }
        if conflicts::any(&tree) {
            let _ = conflicts::conflicts(&loaded);
        }
    }
    edit_back::<Household>(&loaded);
    edit_back::<Visit>(&loaded);
    edit_back::<DiscoveryReport>(&loaded);
}

/// Read the content as `C`; if it reads, write it back as a form would after no edit: that
/// must succeed, change nothing, and read back the same.
fn edit_back<C: DocumentContent + PartialEq + std::fmt::Debug>(loaded: &AutoCommit) {
    let Ok((header, content)) = doc::read::<C, _>(loaded) else {
        return;
    };
    let mut edited = loaded.clone();
    let before = edited.get_heads();
    doc::write(&mut edited, &content).expect("content read from a document writes back");
    edited.commit();
    let (header_again, again) = doc::read::<C, _>(&edited).expect("written content reads");
    assert_eq!(
        (header_again, again),
        (header, content),
        "content changed on write-back"
    );
    assert_eq!(
        edited.get_heads(),
        before,
        "writing unchanged content made a change"
    );
}
