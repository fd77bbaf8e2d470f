//! Unit tests of `file`.

use super::*;
use crate::error::StoreFault;
use crate::store::AuditLog as _;

fn publication(run: &str) -> Publication {
    let mut fields = BTreeMap::from([("run_id".to_owned(), run.to_owned())]);
    fields.insert(
        field::POLICY_HASH.into(),
        crate::policy::policy_hash(&fields),
    );
    Publication {
        policy: Policy::from_fields(fields),
        audit: BTreeMap::from([("run_id".to_owned(), run.to_owned())]),
        event: BTreeMap::new(),
    }
}

#[test]
fn publish_is_a_compare_and_swap() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileStore::new(dir.path().to_owned());
    let first = publication("a");
    store.publish(&first, None).unwrap();
    let first_hash = first.policy.get(field::POLICY_HASH);
    // a run that read "no policy" must not overwrite the one published since
    let err = store.publish(&publication("b"), None).unwrap_err();
    assert_eq!(err.fault, StoreFault::Conflict, "{err}");
    assert!(err.message.contains("another generator"), "{err}");
    store.publish(&publication("c"), first_hash).unwrap();
    let runs: Vec<String> = store
        .audit_trail()
        .unwrap()
        .iter()
        .map(|r| r.fields["run_id"].clone())
        .collect();
    assert_eq!(runs, ["a", "c"]);
    assert_eq!(
        store.load_policy().unwrap().unwrap().get("run_id"),
        Some("c")
    );
}

#[test]
fn a_failed_policy_write_takes_its_audit_line_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileStore::new(dir.path().to_owned());
    let first = publication("a");
    store.publish(&first, None).unwrap();
    let audit_before = fs::read(dir.path().join(AUDIT_FILE)).unwrap();
    // the temp file cannot be created where a folder stands: the write fails after
    // the audit line was appended
    let temp = dir
        .path()
        .join(format!(".{POLICY_FILE}.{}.tmp", std::process::id()));
    fs::create_dir_all(temp.join("blocker")).unwrap();
    let err = store
        .publish(&publication("b"), first.policy.get(field::POLICY_HASH))
        .unwrap_err();
    assert!(err.message.contains("writing"), "{err}");
    assert_eq!(fs::read(dir.path().join(AUDIT_FILE)).unwrap(), audit_before);
    assert_eq!(
        store.load_policy().unwrap().unwrap().get("run_id"),
        Some("a")
    );
}
