use super::*;

#[test]
fn scrub_hides_tokens_in_log_lines() {
    let line = r#"I1126 "Authorization" header="Bearer sha256~abcdefghijkl" jwt=eyJhbGciOi.eyJzdWIiOi.c2ln ok"#;
    let out = scrub(line);
    assert!(!out.contains("sha256~abcdefghijkl"), "{out}");
    assert!(!out.contains("eyJzdWIiOi"), "{out}");
    assert!(out.contains("ok"));
    assert_eq!(
        scrub("Bearer xyz123 and more"),
        "Bearer <redacted> and more"
    );
}
