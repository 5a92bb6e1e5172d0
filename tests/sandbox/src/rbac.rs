//! RBAC authorization with kube-apiserver semantics, evaluated from the Role/ClusterRole
//! and binding objects in the store (so changes made by clients take effect at once), behind
//! OpenShift's scope authorizer for OAuth tokens (`scopes`).

pub mod scopes;

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::authn::UserInfo;
use crate::store::Store;

/// What a request wants to do (kube's `authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    pub verb: String,
    pub resource_request: bool,
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// For non-resource requests.
    pub path: String,
}

impl Attributes {
    pub fn resource(
        user: &UserInfo,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            namespace: namespace.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    pub fn non_resource(user: &UserInfo, verb: &str, path: &str) -> Self {
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    /// The 403 text kube-apiserver uses, e.g. `clusterroles.rbac.authorization.k8s.io is
    /// forbidden: User "x" cannot list resource "clusterroles" in API group
    /// "rbac.authorization.k8s.io" at the cluster scope`.
    pub fn forbidden_message(&self) -> String {
        if !self.resource_request {
            return format!(
                "forbidden: User \"{}\" cannot {} path \"{}\"",
                self.user.name, self.verb, self.path
            );
        }
        let mut gr = self.resource.clone();
        if !self.api_group.is_empty() {
            gr = format!("{gr}.{}", self.api_group);
        }
        let subject = if self.name.is_empty() {
            gr
        } else {
            format!("{gr} \"{}\"", self.name)
        };
        let res = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        let scope = if self.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", self.namespace)
        };
        format!(
            "{subject} is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}",
            self.user.name, self.verb, self.api_group
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Like kube's RBAC reason: which binding allowed it.
    pub reason: String,
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|x| x == "*" || x == item)
}

/// Whether one PolicyRule allows the attributes (kube's `RuleAllows`).
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let verbs = strs(rule.get("verbs"));
    if !has(&verbs, &a.verb) {
        return false;
    }
    if !a.resource_request {
        let urls = strs(rule.get("nonResourceURLs"));
        return urls.iter().any(|u| {
            u == "*"
                || *u == a.path
                || (u.ends_with('*') && a.path.starts_with(u.trim_end_matches('*')))
        });
    }
    if !has(&strs(rule.get("apiGroups")), &a.api_group) {
        return false;
    }
    let resources = strs(rule.get("resources"));
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let res_ok = resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
            || (!a.subresource.is_empty() && *r == format!("{}/*", a.resource))
    });
    if !res_ok {
        return false;
    }
    let names = strs(rule.get("resourceNames"));
    names.is_empty() || names.contains(&a.name)
}

fn subject_matches(subject: &Value, user: &UserInfo, binding_ns: &str) -> bool {
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match subject.get("kind").and_then(Value::as_str).unwrap_or("") {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn labels_match(obj: &Value, selector: &Value) -> bool {
    let labels = obj.pointer("/metadata/labels");
    selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_some_and(|m| {
            !m.is_empty()
                && m.iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
}

/// The effective rules of a ClusterRole, following `aggregationRule` the way the
/// aggregation controller would (computed on read, so it is always current).
pub fn cluster_role_rules(store: &Store, name: &str) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    collect_cluster_role(store, name, &mut seen, &mut out);
    out
}

fn collect_cluster_role(
    store: &Store,
    name: &str,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<Value>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let key = crate::store::Key {
        gr: "rbac.authorization.k8s.io/clusterroles".into(),
        namespace: String::new(),
        name: name.into(),
    };
    let Some(role) = store.get(&key) else { return };
    out.extend(
        role.get("rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    if let Some(selectors) = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
    {
        let matching: Vec<String> = store
            .list("rbac.authorization.k8s.io/clusterroles", None)
            .into_iter()
            .filter(|(_, r)| selectors.iter().any(|s| labels_match(r, s)))
            .map(|(k, _)| k.name.clone())
            .collect();
        for m in matching {
            collect_cluster_role(store, &m, seen, out);
        }
    }
}

fn role_ref_rules(store: &Store, role_ref: &Value, binding_ns: &str) -> Vec<Value> {
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    match role_ref.get("kind").and_then(Value::as_str) {
        Some("ClusterRole") => cluster_role_rules(store, name),
        Some("Role") => {
            let key = crate::store::Key {
                gr: "rbac.authorization.k8s.io/roles".into(),
                namespace: binding_ns.into(),
                name: name.into(),
            };
            store
                .get(&key)
                .and_then(|r| r.get("rules"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Every rule that applies to the user in `namespace` ("" = cluster-wide rules only),
/// each with the binding that granted it.
pub fn rules_for(store: &Store, user: &UserInfo, namespace: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, b) in store.list("rbac.authorization.k8s.io/clusterrolebindings", None) {
        if b.get("subjects")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| subject_matches(s, user, "")))
        {
            let role = b.get("roleRef").cloned().unwrap_or_default();
            for r in role_ref_rules(store, &role, "") {
                out.push((
                    format!(
                        "ClusterRoleBinding \"{}\" of ClusterRole \"{}\"",
                        k.name,
                        role.get("name").and_then(Value::as_str).unwrap_or("")
                    ),
                    r,
                ));
            }
        }
    }
    if !namespace.is_empty() {
        for (k, b) in store.list("rbac.authorization.k8s.io/rolebindings", Some(namespace)) {
            if b.get("subjects")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|s| subject_matches(s, user, namespace)))
            {
                let role = b.get("roleRef").cloned().unwrap_or_default();
                for r in role_ref_rules(store, &role, namespace) {
                    out.push((
                        format!(
                            "RoleBinding \"{}/{}\" of {} \"{}\"",
                            namespace,
                            k.name,
                            role.get("kind").and_then(Value::as_str).unwrap_or(""),
                            role.get("name").and_then(Value::as_str).unwrap_or("")
                        ),
                        r,
                    ));
                }
            }
        }
    }
    out
}

pub fn authorize(store: &Store, a: &Attributes) -> Decision {
    // OpenShift runs the scope authorizer first: a scoped token is denied what its scopes
    // do not allow, whatever RBAC would grant the user.
    if let Err(reason) = scopes::check(store, a) {
        return Decision {
            allowed: false,
            reason,
        };
    }
    let ns = if a.resource_request {
        a.namespace.as_str()
    } else {
        ""
    };
    for (why, rule) in rules_for(store, &a.user, ns) {
        if rule_allows(&rule, a) {
            return Decision {
                allowed: true,
                reason: format!("RBAC: allowed by {why}"),
            };
        }
    }
    Decision {
        allowed: false,
        reason: String::new(),
    }
}

/// The default roles and bindings of a fresh cluster (kube bootstrap policy plus the
/// OpenShift roles the plugins rely on).
pub fn bootstrap_policy() -> Vec<Value> {
    let cr = |name: &str, labels: Value, rules: Value| {
        json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
            "metadata":{"name":name,"labels":labels,"annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},"rules":rules})
    };
    let agg = |name: &str, labels: Value, selector: &str| {
        json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
            "metadata":{"name":name,"labels":labels,"annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
            "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{selector:"true"}}]},"rules":[]})
    };
    let crb = |name: &str, role: &str, subjects: Value| {
        json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
            "metadata":{"name":name,"labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},"annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":role},"subjects":subjects})
    };
    let group = |g: &str| json!({"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":g});
    let boot = json!({"kubernetes.io/bootstrapping":"rbac-defaults"});
    let read = json!(["get", "list", "watch"]);
    let write = json!(["create", "delete", "deletecollection", "patch", "update"]);
    vec![
        cr(
            "cluster-admin",
            boot.clone(),
            json!([
            {"apiGroups":["*"],"resources":["*"],"verbs":["*"]},
            {"nonResourceURLs":["*"],"verbs":["*"]}]),
        ),
        cr(
            "system:discovery",
            boot.clone(),
            json!([{"nonResourceURLs":[
            "/api","/api/*","/apis","/apis/*","/healthz","/livez","/openapi","/openapi/*","/readyz","/version","/version/"],"verbs":["get"]}]),
        ),
        cr(
            "system:public-info-viewer",
            boot.clone(),
            json!([{"nonResourceURLs":[
            "/healthz","/livez","/readyz","/version","/version/"],"verbs":["get"]}]),
        ),
        cr(
            "system:basic-user",
            boot.clone(),
            json!([
            {"apiGroups":["authorization.k8s.io"],"resources":["selfsubjectaccessreviews","selfsubjectrulesreviews"],"verbs":["create"]},
            {"apiGroups":["authentication.k8s.io"],"resources":["selfsubjectreviews"],"verbs":["create"]},
            {"apiGroups":["user.openshift.io"],"resources":["users"],"resourceNames":["~"],"verbs":["get"]},
            {"apiGroups":["project.openshift.io"],"resources":["projectrequests"],"verbs":["list"]},
            {"apiGroups":["project.openshift.io"],"resources":["projects"],"verbs":["list","watch"]}]),
        ),
        cr(
            "self-provisioner",
            json!({}),
            json!([
            {"apiGroups":["project.openshift.io"],"resources":["projectrequests"],"verbs":["create"]}]),
        ),
        agg(
            "admin",
            json!({"kubernetes.io/bootstrapping":"rbac-defaults"}),
            "rbac.authorization.k8s.io/aggregate-to-admin",
        ),
        agg(
            "edit",
            json!({"kubernetes.io/bootstrapping":"rbac-defaults","rbac.authorization.k8s.io/aggregate-to-admin":"true"}),
            "rbac.authorization.k8s.io/aggregate-to-edit",
        ),
        agg(
            "view",
            json!({"kubernetes.io/bootstrapping":"rbac-defaults","rbac.authorization.k8s.io/aggregate-to-edit":"true"}),
            "rbac.authorization.k8s.io/aggregate-to-view",
        ),
        cr(
            "system:aggregate-to-view",
            json!({"rbac.authorization.k8s.io/aggregate-to-view":"true"}),
            json!([
            {"apiGroups":[""],"resources":["configmaps","endpoints","persistentvolumeclaims","persistentvolumeclaims/status","pods","pods/log","pods/status","replicationcontrollers","services","services/status","serviceaccounts","events","namespaces","namespaces/status","limitranges","resourcequotas","bindings"],"verbs":read},
            {"apiGroups":["apps"],"resources":["deployments","deployments/scale","deployments/status","replicasets","replicasets/scale","replicasets/status","statefulsets","daemonsets"],"verbs":read},
            {"apiGroups":["networking.k8s.io"],"resources":["ingresses","ingresses/status","networkpolicies"],"verbs":read},
            {"apiGroups":["route.openshift.io"],"resources":["routes","routes/status"],"verbs":read},
            {"apiGroups":["project.openshift.io"],"resources":["projects"],"verbs":["get"]}]),
        ),
        cr(
            "system:aggregate-to-edit",
            json!({"rbac.authorization.k8s.io/aggregate-to-edit":"true"}),
            json!([
            {"apiGroups":[""],"resources":["pods","pods/attach","pods/exec","pods/portforward","pods/proxy","configmaps","endpoints","persistentvolumeclaims","replicationcontrollers","secrets","services","services/proxy","serviceaccounts"],"verbs":write},
            {"apiGroups":[""],"resources":["secrets"],"verbs":read},
            {"apiGroups":[""],"resources":["serviceaccounts"],"verbs":["impersonate"]},
            {"apiGroups":["apps"],"resources":["deployments","deployments/scale","replicasets","replicasets/scale","statefulsets","daemonsets"],"verbs":write},
            {"apiGroups":["networking.k8s.io"],"resources":["ingresses","networkpolicies"],"verbs":write},
            {"apiGroups":["route.openshift.io"],"resources":["routes","routes/custom-host"],"verbs":write}]),
        ),
        cr(
            "system:aggregate-to-admin",
            json!({"rbac.authorization.k8s.io/aggregate-to-admin":"true"}),
            json!([
            {"apiGroups":["authorization.k8s.io"],"resources":["localsubjectaccessreviews"],"verbs":["create"]},
            {"apiGroups":["rbac.authorization.k8s.io"],"resources":["rolebindings","roles"],"verbs":["create","delete","deletecollection","get","list","patch","update","watch"]},
            {"apiGroups":["project.openshift.io"],"resources":["projects"],"verbs":["delete","patch","update"]}]),
        ),
        crb(
            "cluster-admin",
            "cluster-admin",
            json!([group("system:masters")]),
        ),
        crb(
            "cluster-admins",
            "cluster-admin",
            json!([group("system:cluster-admins")]),
        ),
        crb(
            "system:discovery",
            "system:discovery",
            json!([group("system:authenticated")]),
        ),
        crb(
            "system:basic-user",
            "system:basic-user",
            json!([group("system:authenticated")]),
        ),
        crb(
            "system:public-info-viewer",
            "system:public-info-viewer",
            json!([
                group("system:authenticated"),
                group("system:unauthenticated")
            ]),
        ),
        crb(
            "self-provisioners",
            "self-provisioner",
            json!([group("system:authenticated:oauth")]),
        ),
    ]
}
