//! OpenShift's OAuth token scopes, as its scope authorizer applies them: a scoped token may
//! do only what its scopes' rules allow (and what RBAC allows the user). `user:*` scopes are
//! fixed rule sets; `role:<clusterrole>:<namespace>` is the ClusterRole's rules in that
//! namespace (`*`: all), without unbounded rules and without the escalating resources
//! (Secrets, OAuth tokens, ...) unless it ends in `:!`. Discovery is always allowed.

use serde_json::{Value, json};

use super::{Attributes, rule_allows, strs};
use crate::store::Store;

/// The non-resource paths every scoped token may get: version, discovery, the OpenAPI v2
/// document, `/.well-known`, and `/`.
const DISCOVERY_URLS: [&str; 19] = [
    "/version",
    "/version/*",
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/oapi",
    "/oapi/*",
    "/openapi/v2",
    "/swaggerapi",
    "/swaggerapi/*",
    "/swagger.json",
    "/swagger-2.0.0.pb-v1",
    "/osapi",
    "/osapi/",
    "/.well-known",
    "/.well-known/*",
    "/",
    "/version/",
];

/// `(group, resource)` a non-escalating `role:` scope never grants, whatever the role says.
const ESCALATING: [(&str, &str); 17] = [
    ("", "secrets"),
    ("image.openshift.io", "imagestreams/secrets"),
    ("oauth.openshift.io", "oauthauthorizetokens"),
    ("oauth.openshift.io", "oauthaccesstokens"),
    ("authorization.openshift.io", "roles"),
    ("authorization.openshift.io", "rolebindings"),
    ("authorization.openshift.io", "clusterroles"),
    ("authorization.openshift.io", "clusterrolebindings"),
    ("network.openshift.io", "service/externalips"),
    ("", "imagestreams/secrets"),
    ("", "oauthauthorizetokens"),
    ("", "oauthaccesstokens"),
    ("", "roles"),
    ("", "rolebindings"),
    ("", "clusterroles"),
    ("", "clusterrolebindings"),
    ("", "service/externalips"),
];

/// The `user:` scopes OpenShift knows (its OAuth metadata lists exactly these).
pub const USER_SCOPES: [&str; 5] = [
    "user:check-access",
    "user:full",
    "user:info",
    "user:list-projects",
    "user:list-scoped-projects",
];

/// `role:<name>:<namespace>[:!]` as `(name, namespace, escalating)`; role names may hold
/// colons, namespaces may not.
pub fn parse_role(scope: &str) -> Option<(&str, &str, bool)> {
    let rest = scope.strip_prefix("role:")?;
    let (rest, escalating) = match rest.strip_suffix(":!") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (name, namespace) = rest.rsplit_once(':')?;
    (!name.is_empty() && !namespace.is_empty()).then_some((name, namespace, escalating))
}

/// Why a requested scope is malformed, in OpenShift's words.
pub fn validate(index: usize, scope: &str) -> Result<(), String> {
    let invalid = |why: &str| format!("[{index}]: Invalid value: {scope:?}: {why}");
    if let Some(ch) = scope
        .chars()
        .find(|c| !(*c == '!' || ('#'..='[').contains(c) || (']'..='~').contains(c)))
    {
        return Err(invalid(&format!("{} not allowed", u32::from(ch))));
    }
    if scope.starts_with("user:") {
        return if USER_SCOPES.contains(&scope) {
            Ok(())
        } else {
            Err(invalid(&format!("unrecognized scope: {scope}")))
        };
    }
    if scope.starts_with("role:") {
        return parse_role(scope)
            .map(|_| ())
            .ok_or_else(|| invalid(&format!("bad format for scope {scope}")));
    }
    Err(invalid("no scope handler found"))
}

/// Why an OAuthClient's `scopeRestrictions` refuse a scope, in OpenShift's words;
/// `None` when they allow it (or there are none).
pub fn restriction_refuses(client: &Value, scope: &str) -> Option<String> {
    let restrictions = client
        .get("scopeRestrictions")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())?;
    let mut errors = Vec::new();
    for r in restrictions {
        let literals = strs(r.get("literals"));
        if !literals.is_empty() {
            if literals.iter().any(|l| l == scope) {
                return None;
            }
            errors.push(format!("{scope} not found in [{}]", literals.join(" ")));
            continue;
        }
        let Some(role) = r.get("clusterRole") else {
            continue;
        };
        let Some((name, namespace, escalating)) = parse_role(scope) else {
            continue;
        };
        let any = |list: Vec<String>, want: &str| list.iter().any(|x| x == "*" || x == want);
        if !any(strs(role.get("roleNames")), name) {
            errors.push(format!("{scope} does not use an approved name"));
        } else if !any(strs(role.get("namespaces")), namespace) {
            errors.push(format!("{scope} does not use an approved namespace"));
        } else if escalating
            && !role
                .get("allowEscalation")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        {
            errors.push(format!("{scope} is not allowed to escalate"));
        } else {
            return None;
        }
    }
    if errors.is_empty() {
        errors.push(format!("{scope} did not match any scope restriction"));
    }
    Some(errors.join(", "))
}

fn user_scope_rules(scope: &str) -> Vec<Value> {
    match scope {
        "user:info" => vec![
            json!({"verbs": ["get"], "apiGroups": ["user.openshift.io", ""], "resources": ["users"], "resourceNames": ["~"]}),
        ],
        "user:check-access" => vec![
            json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"]}),
            json!({"verbs": ["create"], "apiGroups": ["authorization.openshift.io", ""], "resources": ["selfsubjectrulesreviews"]}),
        ],
        "user:list-scoped-projects" => vec![
            json!({"verbs": ["list", "watch"], "apiGroups": ["project.openshift.io", ""], "resources": ["projects"]}),
        ],
        "user:list-projects" => vec![
            json!({"verbs": ["list", "watch"], "apiGroups": ["project.openshift.io", ""], "resources": ["projects"]}),
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["namespaces"]}),
        ],
        "user:full" => vec![
            json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
            json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
        ],
        _ => Vec::new(),
    }
}

fn role_scope_rules(store: &Store, scope: &str, namespace: &str) -> Vec<Value> {
    let Some((name, scope_ns, escalating)) = parse_role(scope) else {
        return Vec::new();
    };
    if scope_ns != "*" && scope_ns != namespace {
        return Vec::new();
    }
    let mut out = Vec::new();
    for mut rule in super::cluster_role_rules(store, name) {
        if escalating {
            out.push(rule);
            continue;
        }
        let unbounded = |k: &str| strs(rule.get(k)).iter().any(|x| x == "*");
        if unbounded("verbs") || unbounded("resources") || unbounded("apiGroups") {
            continue;
        }
        let groups = strs(rule.get("apiGroups"));
        let kept: Vec<String> = strs(rule.get("resources"))
            .into_iter()
            .filter(|r| {
                !ESCALATING
                    .iter()
                    .any(|(g, e)| e == r && groups.iter().any(|x| x == g))
            })
            .collect();
        if rule.get("resources").is_some() {
            rule["resources"] = json!(kept);
        }
        out.push(rule);
    }
    out
}

/// The rules a token's scopes allow in `namespace`, discovery first.
pub fn rules(store: &Store, scopes: &[String], namespace: &str) -> Vec<Value> {
    let mut out = vec![json!({"verbs": ["get"], "nonResourceURLs": DISCOVERY_URLS})];
    for scope in scopes {
        if scope.starts_with("role:") {
            out.extend(role_scope_rules(store, scope, namespace));
        } else {
            out.extend(user_scope_rules(scope));
        }
    }
    out
}

/// The scope authorizer: `Err` with OpenShift's reason when the token's scopes forbid the
/// request; an unscoped user is not limited.
pub fn check(store: &Store, a: &Attributes) -> Result<(), String> {
    let scopes = a.user.scopes();
    if scopes.is_empty() {
        return Ok(());
    }
    let ns = if a.resource_request {
        a.namespace.as_str()
    } else {
        ""
    };
    if rules(store, scopes, ns).iter().any(|r| rule_allows(r, a)) {
        return Ok(());
    }
    Err(format!("scopes [{}] prevent this action", scopes.join(" ")))
}

fn both(a: &[String], b: &[String]) -> Vec<String> {
    if a.iter().any(|x| x == "*") {
        return b.to_vec();
    }
    if b.iter().any(|x| x == "*") {
        return a.to_vec();
    }
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

fn url_covers(pattern: &str, url: &str) -> bool {
    pattern == "*"
        || pattern == url
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| url.starts_with(prefix))
}

/// What two rules both allow, as one rule (for SelfSubjectRulesReview of a scoped token):
/// `None` when nothing.
pub fn intersect(a: &Value, b: &Value) -> Option<Value> {
    let verbs = both(&strs(a.get("verbs")), &strs(b.get("verbs")));
    if verbs.is_empty() {
        return None;
    }
    let (ua, ub) = (
        strs(a.get("nonResourceURLs")),
        strs(b.get("nonResourceURLs")),
    );
    if a.get("nonResourceURLs").is_some() || b.get("nonResourceURLs").is_some() {
        let mut urls: Vec<String> = ua
            .iter()
            .filter(|u| ub.iter().any(|p| url_covers(p, u)))
            .chain(ub.iter().filter(|u| ua.iter().any(|p| url_covers(p, u))))
            .cloned()
            .collect();
        urls.sort();
        urls.dedup();
        return (!urls.is_empty()).then(|| json!({"verbs": verbs, "nonResourceURLs": urls}));
    }
    let groups = both(&strs(a.get("apiGroups")), &strs(b.get("apiGroups")));
    let resources = both(&strs(a.get("resources")), &strs(b.get("resources")));
    if groups.is_empty() || resources.is_empty() {
        return None;
    }
    let (na, nb) = (strs(a.get("resourceNames")), strs(b.get("resourceNames")));
    let names = match (na.is_empty(), nb.is_empty()) {
        (true, _) => nb,
        (_, true) => na,
        _ => {
            let n: Vec<String> = na.into_iter().filter(|x| nb.contains(x)).collect();
            if n.is_empty() {
                return None;
            }
            n
        }
    };
    let mut rule = json!({"verbs": verbs, "apiGroups": groups, "resources": resources});
    if !names.is_empty() {
        rule["resourceNames"] = json!(names);
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::{SCOPES_KEY, UserInfo};

    fn scoped(scopes: &[&str]) -> UserInfo {
        let mut u = UserInfo::new("admin", &["system:cluster-admins"]);
        u.extra.insert(
            SCOPES_KEY.into(),
            scopes.iter().map(ToString::to_string).collect(),
        );
        u
    }

    fn store_with_role() -> Store {
        let mut store = Store::new();
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "reader"}, "rules": [
                {"apiGroups": [""], "resources": ["pods", "secrets", "namespaces"], "verbs": ["get", "list"]},
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
        let key = crate::store::Key {
            gr: "rbac.authorization.k8s.io/clusterroles".into(),
            namespace: String::new(),
            name: "reader".into(),
        };
        store.create(key, role).expect("role");
        store
    }

    #[test]
    fn role_scopes_parse_like_openshift() {
        assert_eq!(parse_role("role:view:*"), Some(("view", "*", false)));
        assert_eq!(parse_role("role:a:b:ns:!"), Some(("a:b", "ns", true)));
        assert_eq!(parse_role("role:view"), None);
        assert_eq!(parse_role("role::*"), None);
        assert!(validate(0, "user:full").is_ok() && validate(0, "role:x:*").is_ok());
        assert_eq!(
            validate(1, "openid").expect_err("openid is no OpenShift scope"),
            "[1]: Invalid value: \"openid\": no scope handler found"
        );
        assert!(validate(0, "user:everything").is_err());
        assert!(validate(0, "role:x:*\"").is_err(), "a quote is not allowed");
    }

    #[test]
    fn restrictions_refuse_what_they_do_not_name() {
        let client = json!({"scopeRestrictions": [{"literals": ["user:info"]},
            {"clusterRole": {"roleNames": ["reader"], "namespaces": ["*"], "allowEscalation": false}}]});
        assert_eq!(restriction_refuses(&client, "user:info"), None);
        assert_eq!(restriction_refuses(&client, "role:reader:*"), None);
        assert_eq!(restriction_refuses(&client, "role:reader:ns1"), None);
        assert_eq!(
            restriction_refuses(&client, "user:full").as_deref(),
            Some("user:full not found in [user:info]")
        );
        assert!(
            restriction_refuses(&client, "role:reader:*:!")
                .is_some_and(|e| e.contains("is not allowed to escalate"))
        );
        assert!(
            restriction_refuses(&client, "role:admin:*")
                .is_some_and(|e| e.contains("does not use an approved name"))
        );
        assert_eq!(
            restriction_refuses(&json!({}), "user:full"),
            None,
            "unrestricted"
        );
    }

    #[test]
    fn a_role_scope_allows_only_the_roles_safe_rules() {
        let store = store_with_role();
        let user = scoped(&["role:reader:*"]);
        let can = |verb: &str, res: &str, ns: &str| {
            check(&store, &Attributes::resource(&user, verb, "", res, ns, "")).is_ok()
        };
        assert!(can("list", "pods", "") && can("get", "pods", "default"));
        assert!(
            !can("create", "configmaps", "default"),
            "the * rule is dropped"
        );
        assert!(!can("get", "secrets", "default"), "Secrets are escalating");
        let ssar = Attributes::resource(
            &user,
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
            "",
        );
        assert_eq!(
            check(&store, &ssar).expect_err("not in the role"),
            "scopes [role:reader:*] prevent this action"
        );
        assert!(
            check(
                &store,
                &Attributes::non_resource(&user, "get", "/apis/apps/v1")
            )
            .is_ok()
        );
        let one_ns = scoped(&["role:reader:team", "user:check-access"]);
        let in_ns = |ns: &str| {
            check(
                &store,
                &Attributes::resource(&one_ns, "list", "", "pods", ns, ""),
            )
            .is_ok()
        };
        assert!(in_ns("team") && !in_ns("other") && !in_ns(""));
        assert!(
            check(
                &store,
                &Attributes::resource(
                    &one_ns,
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    "",
                    ""
                )
            )
            .is_ok()
        );
        let escalating = scoped(&["role:reader:*:!"]);
        assert!(
            check(
                &store,
                &Attributes::resource(&escalating, "delete", "", "secrets", "x", "")
            )
            .is_ok()
        );
        let full = scoped(&["user:full"]);
        assert!(
            check(
                &store,
                &Attributes::resource(&full, "delete", "", "secrets", "x", "")
            )
            .is_ok()
        );
    }

    #[test]
    fn rules_intersect() {
        let a = json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]});
        let b = json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]});
        assert_eq!(intersect(&a, &b), Some(b.clone()));
        let c = json!({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]});
        assert_eq!(intersect(&b, &c), None);
        let names = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"]});
        assert_eq!(intersect(&b, &names), Some(names.clone()));
        let urls = json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]});
        let any = json!({"verbs": ["*"], "nonResourceURLs": ["*"]});
        assert_eq!(
            intersect(&any, &urls),
            Some(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}))
        );
        assert_eq!(intersect(&urls, &b), None);
    }
}
