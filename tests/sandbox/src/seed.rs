//! What a fresh sandbox cluster contains.

use serde_json::{Value, json};

use crate::flavour::Flavour;
use crate::resources;
use crate::store::{Key, Store};

/// Users every sandbox has: name, groups.
pub const SEED_USERS: &[(&str, &[&str])] = &[
    ("admin", &["system:cluster-admins"]),
    ("member", &["mcp-users"]),
    ("outsider", &[]),
];

fn put(store: &mut Store, group: &str, resource: &str, obj: Value) {
    let Some(def) = resources::find(group, "v1", resource) else {
        return;
    };
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Seeding into an empty store cannot collide.
    let _ = store.create(Key::new(def, &ns, &name), obj);
}

/// Store one object as given, before the sandbox serves: no admission, validation or
/// defaulting, only the system metadata a create stamps (uid, resourceVersion, ...).
/// Namespaced objects without a namespace go to `default`. For large fixtures (`--preload`).
pub fn preload(store: &mut Store, mut obj: Value) -> Result<(), String> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let def = resources::by_kind(api_version, &kind)
        .ok_or_else(|| format!("the sandbox does not serve {api_version:?} {kind:?}"))?;
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("metadata.name is missing")?
        .to_string();
    let mut ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if def.namespaced && ns.is_empty() {
        ns = "default".into();
        crate::store::ensure_meta(&mut obj).insert("namespace".into(), Value::from("default"));
    }
    store
        .create(Key::new(def, &ns, &name), obj)
        .map(|_| ())
        .map_err(|e| format!("{kind} {name}: {e}"))
}

/// Objects the namespace controllers create in every new namespace.
pub fn namespace_contents(store: &mut Store, ns: &str, ca_pem: &str) {
    put(
        store,
        "",
        "serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}),
    );
    put(
        store,
        "",
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
        "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
        "data": {"ca.crt": ca_pem}}),
    );
}

pub fn seed(store: &mut Store, apps_domain: &str) {
    seed_with_ca(store, apps_domain, "");
}

/// `seed`, with the cluster CA in every namespace's `kube-root-ca.crt`.
pub fn seed_with_ca(store: &mut Store, apps_domain: &str, ca_pem: &str) {
    seed_flavour(store, apps_domain, ca_pem, Flavour::OpenShift);
}

/// What a fresh cluster of `flavour` contains. The Kubernetes flavour has no OpenShift
/// namespace, User or config object, and no bootstrap rule for an OpenShift group; it has
/// the ingress controller's IngressClasses (`sandbox`, the default, and `nginx`).
pub fn seed_flavour(store: &mut Store, apps_domain: &str, ca_pem: &str, flavour: Flavour) {
    let namespaces: &[&str] = match flavour {
        Flavour::OpenShift => &[
            "default",
            "kube-system",
            "kube-public",
            "kube-node-lease",
            "openshift",
            "openshift-config",
            "openshift-ingress",
        ],
        Flavour::Kubernetes => &[
            "default",
            "kube-system",
            "kube-public",
            "kube-node-lease",
            "ingress-nginx",
        ],
    };
    for &ns in namespaces {
        put(
            store,
            "",
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        );
        namespace_contents(store, ns, ca_pem);
    }
    put(
        store,
        "",
        "services",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default",
        "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": "172.30.0.1", "clusterIPs": ["172.30.0.1"], "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}, "status": {"loadBalancer": {}}}),
    );
    for mut obj in crate::rbac::bootstrap_policy() {
        if !flavour.is_openshift() && !kubernetes_policy(&mut obj) {
            continue;
        }
        let res = if obj["kind"] == "ClusterRole" {
            "clusterroles"
        } else {
            "clusterrolebindings"
        };
        put(store, "rbac.authorization.k8s.io", res, obj);
    }
    if !flavour.is_openshift() {
        for (name, default) in [("sandbox", true), ("nginx", false)] {
            put(
                store,
                "networking.k8s.io",
                "ingressclasses",
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": name, "annotations": {
                    "ingressclass.kubernetes.io/is-default-class": default.to_string()}},
                "spec": {"controller": crate::ingress::CONTROLLER}}),
            );
        }
        return;
    }
    for (name, _) in SEED_USERS {
        put(
            store,
            "user.openshift.io",
            "users",
            json!({"apiVersion": "user.openshift.io/v1", "kind": "User",
            "metadata": {"name": name}, "identities": [format!("sandbox:{name}")]}),
        );
    }
    put(
        store,
        "config.openshift.io",
        "ingresses",
        json!({"apiVersion": "config.openshift.io/v1", "kind": "Ingress",
        "metadata": {"name": "cluster"}, "spec": {"domain": apps_domain}, "status": {}}),
    );
    put(
        store,
        "config.openshift.io",
        "authentications",
        json!({"apiVersion": "config.openshift.io/v1", "kind": "Authentication",
        "metadata": {"name": "cluster"}, "spec": {"type": "IntegratedOAuth", "oauthMetadata": {"name": ""}, "serviceAccountIssuer": ""},
        "status": {"integratedOAuthMetadata": {"name": "oauth-openshift"}}}),
    );
}

/// A bootstrap object as plain Kubernetes has it: without rules for OpenShift groups;
/// `false` for OpenShift's own roles and bindings (self-provisioning), which it lacks.
fn kubernetes_policy(obj: &mut Value) -> bool {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if matches!(name, "self-provisioner" | "self-provisioners") {
        return false;
    }
    if let Some(rules) = obj.get_mut("rules").and_then(Value::as_array_mut) {
        rules.retain(|r| {
            r.get("apiGroups")
                .and_then(Value::as_array)
                .is_none_or(|gs| {
                    gs.iter()
                        .filter_map(Value::as_str)
                        .any(|g| Flavour::Kubernetes.serves_group(g, false))
                })
        });
    }
    true
}

/// The cert-manager stand-in's issuer: a `ClusterIssuer` backed by the sandbox CA.
pub fn cert_manager(store: &mut Store) {
    put(
        store,
        crate::flavour::CERT_MANAGER,
        "clusterissuers",
        json!({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": {"name": crate::ingress::CLUSTER_ISSUER},
        "spec": {"ca": {"secretName": "sandbox-ca"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KeyPairVerified",
            "message": "Signing CA verified", "observedGeneration": 1}]}}),
    );
}

/// What `authentications.config.openshift.io/cluster` shows when the API server trusts an
/// external OIDC issuer (OpenShift's direct external OIDC): `type: OIDC` and the provider,
/// its CA in a ConfigMap in `openshift-config`.
pub fn external_oidc(store: &mut Store, o: &crate::authn::OidcConfig) {
    let Some(def) = resources::find("config.openshift.io", "v1", "authentications") else {
        return;
    };
    let key = Key::new(def, "", "cluster");
    let Some(mut auth) = store.get(&key).cloned() else {
        return;
    };
    let mut issuer = json!({"issuerURL": o.issuer_url, "audiences": [o.audience]});
    if let Some(ca) = &o.ca_pem {
        put(
            store,
            "",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "sandbox-oidc-ca", "namespace": "openshift-config"},
            "data": {"ca-bundle.crt": ca}}),
        );
        issuer["issuerCertificateAuthority"] = json!({"name": "sandbox-oidc-ca"});
    }
    let username = if o.username_prefix.is_empty() {
        json!({"claim": o.username_claim, "prefixPolicy": "NoPrefix"})
    } else {
        json!({"claim": o.username_claim, "prefixPolicy": "Prefix", "prefix": {"prefixString": o.username_prefix}})
    };
    let mut groups = json!({"claim": o.groups_claim});
    if !o.groups_prefix.is_empty() {
        groups["prefix"] = json!(o.groups_prefix);
    }
    auth["spec"] = json!({"type": "OIDC", "oidcProviders": [{"name": "sandbox-oidc", "issuer": issuer,
        "claimMappings": {"username": username, "groups": groups}}]});
    auth["status"] = json!({});
    let _ = store.update(&key, auth);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_stores_objects_as_given_and_refuses_what_the_sandbox_does_not_serve() {
        let mut store = Store::new();
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "b1"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "g1"}]});
        preload(&mut store, binding.clone()).expect("preload");
        let stored = store.list("rbac.authorization.k8s.io/clusterrolebindings", None);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].1["subjects"], binding["subjects"]);
        assert!(stored[0].1.pointer("/metadata/uid").is_some());
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        preload(&mut store, cm).expect("preload");
        assert_eq!(store.list("/configmaps", Some("default")).len(), 1);
        assert!(preload(&mut store, binding).is_err_and(|e| e.contains("already exists")));
        let unknown =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        assert!(preload(&mut store, unknown).is_err_and(|e| e.contains("does not serve")));
    }
}
