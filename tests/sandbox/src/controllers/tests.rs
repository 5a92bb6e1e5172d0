//! Hashes and selectors.

use super::*;

#[test]
fn hashes_and_selectors() {
    let t = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}});
    let h = template_hash(&t);
    assert_eq!(h, template_hash(&t.clone()));
    assert!(h.bytes().all(|b| ALPHABET.contains(&b)), "{h}");
    let mut t2 = t.clone();
    t2["metadata"]["annotations"] = json!({"checksum/config": "abc"});
    assert_ne!(h, template_hash(&t2));
    let sel = json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]});
    assert!(selector_matches(&sel, &json!({"app": "x"})));
    assert!(!selector_matches(&sel, &json!({"app": "x", "tier": "db"})));
    assert!(!selector_matches(&sel, &json!({"app": "y"})));
}
