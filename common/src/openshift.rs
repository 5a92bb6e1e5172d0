//! The OpenShift kinds the plugins read and write, as typed `kube::Resource`s, and OpenShift
//! detection from discovery.
//!
//! Only the fields the plugins use are typed; everything else is kept in `extra` so a
//! read-modify-write never drops a field.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use serde::{Deserialize, Serialize};

/// Declare an OpenShift kind: the struct with `apiVersion`, `kind` and `metadata` followed by
/// the given fields, its `k8s_openapi::Resource` and `Metadata` (and so `kube::Resource`), and
/// `named`.
macro_rules! openshift_resource {
    (
        $(#[doc = $doc:literal])*
        $ty:ident in $group:literal / $version:literal, kind $kind:literal, plural $plural:literal,
        $scope:ident { $($fields:tt)* }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $ty {
            #[serde(default)]
            pub api_version: String,
            #[serde(default)]
            pub kind: String,
            #[serde(default)]
            pub metadata: ObjectMeta,
            $($fields)*
        }
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }
        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
        impl $ty {
            /// An empty object with `apiVersion` and `kind` set and the given name.
            pub fn named(name: &str) -> Self {
                Self {
                    api_version: <Self as k8s_openapi::Resource>::API_VERSION.into(),
                    kind: <Self as k8s_openapi::Resource>::KIND.into(),
                    metadata: ObjectMeta {
                        name: Some(name.into()),
                        ..ObjectMeta::default()
                    },
                    ..Self::default()
                }
            }
        }
    };
}

type Extra = BTreeMap<String, serde_json::Value>;

// ---- route.openshift.io/v1 Route ----

openshift_resource! {
    Route in "route.openshift.io" / "v1", kind "Route", plural "routes", NamespaceResourceScope {
        #[serde(default)]
        pub spec: RouteSpec,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<RouteStatus>,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub to: RouteTargetReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<RoutePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard_policy: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTargetReference {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutePort {
    /// A port name or number on the Service.
    #[serde(rename = "targetPort")]
    pub target_port: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// `edge`, `passthrough` or `reencrypt`.
    pub termination: String,
    /// `Allow`, `Redirect` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_edge_termination_policy: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    #[serde(default)]
    pub ingress: Vec<RouteIngress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_name: Option<String>,
    #[serde(default)]
    pub conditions: Vec<RouteIngressCondition>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngressCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Route {
    /// Admitted by at least one router.
    pub fn admitted(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            s.ingress.iter().any(|i| {
                i.conditions
                    .iter()
                    .any(|c| c.type_ == "Admitted" && c.status == "True")
            })
        })
    }
}

// ---- oauth.openshift.io/v1 OAuthClient (fields at the top level, not under spec) ----

openshift_resource! {
    OAuthClient in "oauth.openshift.io" / "v1", kind "OAuthClient",
    plural "oauthclients", ClusterResourceScope {
        /// The client secret. Never log or print this object without redacting it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub secret: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub additional_secrets: Vec<String>,
        #[serde(
            default,
            rename = "redirectURIs",
            skip_serializing_if = "Vec::is_empty"
        )]
        pub redirect_uris: Vec<String>,
        /// `auto` or `prompt`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub grant_method: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub access_token_max_age_seconds: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub respond_with_challenges: Option<bool>,
        /// Which scopes the OAuth server lets this client ask for (none: any scope).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub scope_restrictions: Vec<ScopeRestriction>,
        #[serde(flatten)]
        pub extra: Extra,
    }
}

/// One entry of `scopeRestrictions`: exact scopes, or `role:` scopes of named ClusterRoles.
/// A requested scope must match at least one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeRestriction {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub literals: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_role: Option<ClusterRoleScopeRestriction>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRoleScopeRestriction {
    #[serde(default)]
    pub role_names: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub allow_escalation: bool,
}

/// The scope that carries every right of the user.
pub const SCOPE_USER_FULL: &str = "user:full";

/// The scopes an MCP login asks for besides `role:<role>:*`: `user:info` (who am I,
/// `users/~`) and `user:check-access` (SelfSubjectAccessReviews, which the MCP server makes
/// before listing across namespaces; without it, it falls back to one namespace).
pub const MCP_LITERAL_SCOPES: [&str; 2] = ["user:info", "user:check-access"];

/// The scopes of an MCP login: the token can do only what `role` grants in every namespace
/// (never escalating: no `:!`, so no Secrets), and say who it is and what it may do.
pub fn mcp_login_scopes(role: &str) -> Vec<String> {
    let mut scopes: Vec<String> = MCP_LITERAL_SCOPES.map(str::to_owned).to_vec();
    scopes.push(format!("role:{role}:*"));
    scopes
}

/// The restrictions `oc mcp-oauth register openshift` sets: exactly the MCP login's scopes.
pub fn mcp_scope_restrictions(role: &str) -> Vec<ScopeRestriction> {
    vec![
        ScopeRestriction {
            literals: MCP_LITERAL_SCOPES.map(str::to_owned).to_vec(),
            cluster_role: None,
        },
        ScopeRestriction {
            literals: Vec::new(),
            cluster_role: Some(ClusterRoleScopeRestriction {
                role_names: vec![role.to_owned()],
                namespaces: vec!["*".to_owned()],
                allow_escalation: false,
            }),
        },
    ]
}

impl OAuthClient {
    /// What the client may ask for beyond a read-only token scoped to `role`: one sentence
    /// per problem, empty when the restrictions allow only the MCP login's scopes.
    pub fn scope_problems(&self, role: &str) -> Vec<String> {
        if self.scope_restrictions.is_empty() {
            return vec![
                "no scopeRestrictions: it may ask for any scope, user:full included".into(),
            ];
        }
        let mut problems = Vec::new();
        for r in &self.scope_restrictions {
            for literal in &r.literals {
                if literal == SCOPE_USER_FULL {
                    problems.push("literals allow user:full (every right of the user)".into());
                } else if literal.starts_with("role:") && literal.ends_with(":!") {
                    problems.push(format!(
                        "literals allow {literal} (escalating: Secrets too)"
                    ));
                } else if let Some(other) = literal
                    .strip_prefix("role:")
                    .and_then(|rest| rest.rsplit_once(':'))
                    .map(|(name, _)| name)
                    .filter(|name| *name != role)
                {
                    problems.push(format!(
                        "literals allow {literal} (role {other}, not {role})"
                    ));
                }
            }
            if let Some(c) = &r.cluster_role {
                if c.allow_escalation {
                    problems.push("a clusterRole restriction has allowEscalation: true (role:...:! tokens read Secrets)".into());
                }
                for name in c.role_names.iter().filter(|n| n.as_str() != role) {
                    problems.push(format!(
                        "a clusterRole restriction allows role {name:?}, not only {role:?}"
                    ));
                }
            }
        }
        problems
    }
}

// ---- project.openshift.io/v1 Project and ProjectRequest ----

openshift_resource! {
    Project in "project.openshift.io" / "v1", kind "Project",
    plural "projects", ClusterResourceScope {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub spec: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<ProjectStatus>,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

openshift_resource! {
    ProjectRequest in "project.openshift.io" / "v1", kind "ProjectRequest",
    plural "projectrequests", ClusterResourceScope {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub display_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
    }
}

// ---- config.openshift.io/v1 Ingress and Authentication (singletons named `cluster`) ----

openshift_resource! {
    IngressConfig in "config.openshift.io" / "v1", kind "Ingress",
    plural "ingresses", ClusterResourceScope {
        #[serde(default)]
        pub spec: IngressConfigSpec,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressConfigSpec {
    /// The apps domain, e.g. `apps.<cluster>.<region>.aroapp.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

openshift_resource! {
    AuthenticationConfig in "config.openshift.io" / "v1", kind "Authentication",
    plural "authentications", ClusterResourceScope {
        #[serde(default)]
        pub spec: AuthenticationConfigSpec,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationConfigSpec {
    /// `IntegratedOAuth` (default, OpenShift OAuth server), `OIDC` (external issuer) or `None`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oidc_providers: Vec<OidcProvider>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub issuer: OidcIssuer,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcIssuer {
    #[serde(default, rename = "issuerURL")]
    pub issuer_url: String,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl AuthenticationConfig {
    /// Whether the API server trusts JWTs from `issuer` for `audience`.
    pub fn trusts_issuer(&self, issuer: &str, audience: &str) -> bool {
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        self.spec.type_.as_deref() == Some("OIDC")
            && self.spec.oidc_providers.iter().any(|p| {
                trim(&p.issuer.issuer_url) == trim(issuer)
                    && (p.issuer.audiences.is_empty()
                        || p.issuer.audiences.iter().any(|a| a == audience))
            })
    }
}

// ---- user.openshift.io/v1 Group ----

openshift_resource! {
    Group in "user.openshift.io" / "v1", kind "Group", plural "groups", ClusterResourceScope {
        #[serde(default)]
        pub users: Vec<String>,
    }
}

/// What discovery says about the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClusterFlavor {
    /// Serves `route.openshift.io` and `project.openshift.io`.
    pub openshift: bool,
    /// Serves `config.openshift.io` (OpenShift 4).
    pub openshift_config: bool,
    /// Serves `oauth.openshift.io` (the integrated OAuth server).
    pub openshift_oauth: bool,
}

impl ClusterFlavor {
    pub fn from_groups<'a>(groups: impl IntoIterator<Item = &'a str>) -> Self {
        let groups: Vec<&str> = groups.into_iter().collect();
        let has = |g: &str| groups.contains(&g);
        Self {
            openshift: has("route.openshift.io") && has("project.openshift.io"),
            openshift_config: has("config.openshift.io"),
            openshift_oauth: has("oauth.openshift.io"),
        }
    }
}

/// Detect OpenShift from the API groups the server lists (one request: `GET /apis`).
pub async fn detect(client: &Client) -> crate::Result<ClusterFlavor> {
    let groups = client.list_api_groups().await?;
    Ok(ClusterFlavor::from_groups(
        groups.groups.iter().map(|g| g.name.as_str()),
    ))
}

#[cfg(test)]
mod tests {
    use kube::Resource;

    use super::*;

    #[test]
    fn types_resolve_to_the_openshift_urls() {
        assert_eq!(
            Route::url_path(&(), Some("mcp-server")),
            "/apis/route.openshift.io/v1/namespaces/mcp-server/routes"
        );
        assert_eq!(
            OAuthClient::url_path(&(), None),
            "/apis/oauth.openshift.io/v1/oauthclients"
        );
        assert_eq!(
            IngressConfig::url_path(&(), None),
            "/apis/config.openshift.io/v1/ingresses"
        );
        assert_eq!(
            ProjectRequest::url_path(&(), None),
            "/apis/project.openshift.io/v1/projectrequests"
        );
        assert_eq!(
            Group::url_path(&(), None),
            "/apis/user.openshift.io/v1/groups"
        );
    }

    #[test]
    fn oauth_client_uses_openshift_field_names_and_keeps_unknown_fields() {
        let json = serde_json::json!({
            "apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
            "metadata": {"name": "kubernetes-mcp-server"},
            "secret": "s", "redirectURIs": ["https://h/oauth/callback"], "grantMethod": "auto",
            "scopeRestrictions": [{"literals": ["user:full"]}]
        });
        let client: OAuthClient = serde_json::from_value(json.clone()).expect("decode");
        assert_eq!(client.redirect_uris, ["https://h/oauth/callback"]);
        assert_eq!(serde_json::to_value(&client).expect("encode"), json);
        assert_eq!(
            client.scope_problems("mcp-readonly"),
            ["literals allow user:full (every right of the user)"]
        );
    }

    #[test]
    fn the_mcp_restrictions_allow_only_the_read_only_role() {
        let mut client = OAuthClient::named("c");
        assert_eq!(
            client.scope_problems("mcp-readonly").len(),
            1,
            "none at all"
        );
        client.scope_restrictions = mcp_scope_restrictions("mcp-readonly");
        assert!(client.scope_problems("mcp-readonly").is_empty());
        assert_eq!(
            serde_json::to_value(&client.scope_restrictions).expect("json"),
            serde_json::json!([{"literals": ["user:info", "user:check-access"]},
                {"clusterRole": {"roleNames": ["mcp-readonly"], "namespaces": ["*"], "allowEscalation": false}}])
        );
        assert_eq!(
            mcp_login_scopes("mcp-readonly"),
            ["user:info", "user:check-access", "role:mcp-readonly:*"]
        );
        assert_eq!(client.scope_problems("other").len(), 1, "another role");
        if let Some(c) = client.scope_restrictions[1].cluster_role.as_mut() {
            c.allow_escalation = true;
        }
        client.scope_restrictions[0]
            .literals
            .push("role:edit:*:!".into());
        assert_eq!(client.scope_problems("mcp-readonly").len(), 2);
    }

    #[test]
    fn route_admission_and_flavor_detection() {
        let route: Route = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "r"},
            "spec": {"host": "h", "to": {"kind": "Service", "name": "s"}, "tls": {"termination": "edge"}},
            "status": {"ingress": [{"host": "h", "conditions": [{"type": "Admitted", "status": "True"}]}]}
        }))
        .expect("route");
        assert!(route.admitted());
        let flavor =
            ClusterFlavor::from_groups(["apps", "route.openshift.io", "project.openshift.io"]);
        assert!(flavor.openshift && !flavor.openshift_config);
        assert!(!ClusterFlavor::from_groups(["apps", "rbac.authorization.k8s.io"]).openshift);
    }

    #[test]
    fn external_oidc_trust() {
        let auth: AuthenticationConfig = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cluster"},
            "spec": {"type": "OIDC", "oidcProviders": [{"name": "entra",
                "issuer": {"issuerURL": "https://login.microsoftonline.com/t/v2.0", "audiences": ["app"]}}]}
        }))
        .expect("auth");
        assert!(auth.trusts_issuer("https://login.microsoftonline.com/t/v2.0/", "app"));
        assert!(!auth.trusts_issuer("https://login.microsoftonline.com/t/v2.0", "other"));
        assert!(!AuthenticationConfig::default().trusts_issuer("https://x", "app"));
    }
}
