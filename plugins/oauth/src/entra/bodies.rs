//! What the app must look like in Graph: the scope ids, the desired registration, the request
//! and body for each step, and the comparison that decides whether a step changes anything.

use oc_mcp_common::{Error, Result};
use serde_json::{Value, json};
use sha2::Digest;

use super::graph::GraphRequest;
use super::{API_SCOPE, GRAPH_APP_ID, GRAPH_SCOPES, Tenant, WELL_KNOWN_SCOPE_IDS};

/// A stable id for the exposed scope, so every run sends the same one: a version-4-shaped
/// UUID from a hash of the app's unique name.
pub(super) fn scope_id(unique_name: &str) -> String {
    let digest = sha2::Sha256::digest(format!("oc-mcp/{unique_name}/{API_SCOPE}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// `want` is contained in `have`: objects compare the keys `want` names; arrays compare as
/// multisets (every wanted element matches a different element of the same-length array).
pub fn contained(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| {
            h.get(k).is_some_and(|hv| contained(v, hv)) || (v.is_null() && !h.contains_key(k))
        }),
        (Value::Array(w), Value::Array(h)) => {
            if w.len() != h.len() {
                return false;
            }
            let mut used = vec![false; h.len()];
            w.iter().all(|wv| {
                let found = h
                    .iter()
                    .enumerate()
                    .find(|(i, hv)| !used[*i] && contained(wv, hv));
                if let Some((i, _)) = found {
                    used[i] = true;
                    true
                } else {
                    false
                }
            })
        }
        _ => want == have,
    }
}

/// Microsoft Graph's service principal in this tenant and the ids of the scopes we need.
#[derive(Debug, Clone)]
pub struct GraphScopes {
    pub service_principal_id: String,
    pub ids: Vec<(String, String)>,
}

impl GraphScopes {
    pub(super) fn placeholder() -> Self {
        Self {
            service_principal_id: "{graph-service-principal-id}".into(),
            ids: WELL_KNOWN_SCOPE_IDS
                .iter()
                .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
                .collect(),
        }
    }

    pub(super) fn from_graph(sp: &Value) -> Result<Self> {
        let id = sp["id"].as_str().unwrap_or_default().to_owned();
        let scopes = sp["oauth2PermissionScopes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut ids = Vec::new();
        for name in GRAPH_SCOPES {
            let found = scopes
                .iter()
                .find(|s| s["value"].as_str() == Some(name))
                .and_then(|s| s["id"].as_str());
            let Some(scope_id) = found else {
                return Err(Error::failed(format!(
                    "Microsoft Graph's service principal does not offer the delegated scope {name}"
                )));
            };
            ids.push((name.to_owned(), scope_id.to_owned()));
        }
        if id.is_empty() {
            return Err(Error::failed(
                "Microsoft Graph's service principal has no id",
            ));
        }
        Ok(Self {
            service_principal_id: id,
            ids,
        })
    }
}

/// What the user asked for, validated.
#[derive(Debug, Clone)]
pub struct Desired {
    pub tenant: Tenant,
    pub unique_name: String,
    pub display_name: String,
    pub web: Vec<String>,
    pub public: Vec<String>,
    pub admin_consent: bool,
    pub secret_days: u32,
    pub secret_label: String,
}

pub(super) const APP_SELECT: &str = "id,appId,displayName,signInAudience,web,publicClient,requiredResourceAccess,api,identifierUris,optionalClaims,passwordCredentials";

/// The requests, built the same way for printing and for sending.
pub mod requests {
    use super::{APP_SELECT, GRAPH_APP_ID, GraphRequest, Value, json};

    pub fn organization() -> GraphRequest {
        GraphRequest::get(
            "read the tenant id of the signed-in account",
            "/organization?$select=id,verifiedDomains",
        )
    }

    pub fn graph_service_principal() -> GraphRequest {
        GraphRequest::get(
            "find Microsoft Graph's service principal and its delegated scope ids",
            format!("/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,oauth2PermissionScopes"),
        )
    }

    pub fn get_application(unique: &str) -> GraphRequest {
        GraphRequest::get(
            "read the application, if it exists",
            format!("/applications(uniqueName='{unique}')?$select={APP_SELECT}"),
        )
    }

    pub fn upsert_application(unique: &str, body: Value) -> GraphRequest {
        GraphRequest::with_body(
            "create the application, or update it (idempotent upsert by unique name)",
            "PATCH",
            format!("/applications(uniqueName='{unique}')"),
            body,
        )
        .header("Prefer", "create-if-missing")
    }

    pub fn expose_api(object_id: &str, body: Value) -> GraphRequest {
        GraphRequest::with_body(
            "expose the API: identifier URI, the access_as_user scope, v2 access tokens",
            "PATCH",
            format!("/applications/{object_id}"),
            body,
        )
    }

    pub fn get_service_principal(app_id: &str) -> GraphRequest {
        GraphRequest::get(
            "read the application's service principal, if it exists",
            format!("/servicePrincipals(appId='{app_id}')?$select=id"),
        )
    }

    pub fn create_service_principal(app_id: &str) -> GraphRequest {
        GraphRequest::with_body(
            "create the application's service principal",
            "POST",
            "/servicePrincipals",
            json!({"appId": app_id}),
        )
    }

    pub fn add_password(object_id: &str, label: &str, end: &str) -> GraphRequest {
        GraphRequest::with_body(
            "add a client secret (secretText is returned once; it goes straight into the cluster Secret)",
            "POST",
            format!("/applications/{object_id}/addPassword"),
            json!({"passwordCredential": {"displayName": label, "endDateTime": end}}),
        )
    }

    pub fn get_grant(client_sp: &str, graph_sp: &str) -> GraphRequest {
        GraphRequest::get(
            "read the tenant-wide consent, if any",
            format!(
                "/oauth2PermissionGrants?$filter=clientId%20eq%20'{client_sp}'%20and%20consentType%20eq%20'AllPrincipals'%20and%20resourceId%20eq%20'{graph_sp}'"
            ),
        )
    }

    pub fn create_grant(client_sp: &str, graph_sp: &str, scope: &str) -> GraphRequest {
        GraphRequest::with_body(
            "grant tenant-wide admin consent for the delegated scopes",
            "POST",
            "/oauth2PermissionGrants",
            json!({"clientId": client_sp, "consentType": "AllPrincipals", "resourceId": graph_sp, "scope": scope}),
        )
    }

    pub fn update_grant(grant_id: &str, scope: &str) -> GraphRequest {
        GraphRequest::with_body(
            "update the tenant-wide consent's scopes",
            "PATCH",
            format!("/oauth2PermissionGrants/{grant_id}"),
            json!({"scope": scope}),
        )
    }
}

/// The upsert body: what the app must have, merged with what it has (other APIs' permissions
/// and other optional claims are kept).
pub fn application_body(
    desired: &Desired,
    scopes: &GraphScopes,
    existing: Option<&Value>,
) -> Value {
    let ours: Vec<Value> = scopes
        .ids
        .iter()
        .map(|(_, id)| json!({"id": id, "type": "Scope"}))
        .collect();
    let mut access: Vec<Value> = Vec::new();
    let mut graph_entry = json!({"resourceAppId": GRAPH_APP_ID, "resourceAccess": ours});
    for entry in existing
        .and_then(|a| a["requiredResourceAccess"].as_array())
        .into_iter()
        .flatten()
    {
        if entry["resourceAppId"].as_str() == Some(GRAPH_APP_ID) {
            let mut merged = entry["resourceAccess"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for want in ours_iter(&graph_entry) {
                if !merged
                    .iter()
                    .any(|m| m["id"] == want["id"] && m["type"] == want["type"])
                {
                    merged.push(want);
                }
            }
            graph_entry["resourceAccess"] = Value::Array(merged);
        } else {
            access.push(entry.clone());
        }
    }
    access.insert(0, graph_entry);
    let mut id_claims: Vec<Value> = existing
        .and_then(|a| a.pointer("/optionalClaims/idToken"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in ["email", "preferred_username"] {
        if !id_claims.iter().any(|c| c["name"].as_str() == Some(name)) {
            id_claims.push(json!({"name": name, "essential": false}));
        }
    }
    let mut claims = json!({"idToken": id_claims});
    for other in ["accessToken", "saml2Token"] {
        if let Some(list) = existing.and_then(|a| a.pointer(&format!("/optionalClaims/{other}"))) {
            claims[other] = list.clone();
        }
    }
    json!({
        "displayName": desired.display_name,
        "signInAudience": "AzureADMyOrg",
        "web": {"redirectUris": desired.web},
        "publicClient": {"redirectUris": desired.public},
        "requiredResourceAccess": access,
        "optionalClaims": claims,
    })
}

pub(super) fn ours_iter(graph_entry: &Value) -> Vec<Value> {
    graph_entry["resourceAccess"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The expose-API body: identifier URI `api://<appId>` (others kept), our scope (others kept),
/// v2 access tokens (so the issuer is the v2.0 one and the audience the client id).
pub fn expose_api_body(desired: &Desired, app_id: &str, existing: Option<&Value>) -> Value {
    let identifier = format!("api://{app_id}");
    let mut uris: Vec<Value> = existing
        .and_then(|a| a["identifierUris"].as_array())
        .cloned()
        .unwrap_or_default();
    if !uris.iter().any(|u| u.as_str() == Some(&identifier)) {
        uris.push(Value::String(identifier));
    }
    let existing_scopes: Vec<Value> = existing
        .and_then(|a| a.pointer("/api/oauth2PermissionScopes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let id = existing_scopes
        .iter()
        .find(|s| s["value"].as_str() == Some(API_SCOPE))
        .and_then(|s| s["id"].as_str())
        .map_or_else(|| scope_id(&desired.unique_name), str::to_owned);
    let mut scopes: Vec<Value> = existing_scopes
        .into_iter()
        .filter(|s| s["value"].as_str() != Some(API_SCOPE))
        .collect();
    scopes.push(json!({
        "id": id,
        "value": API_SCOPE,
        "type": "User",
        "isEnabled": true,
        "adminConsentDisplayName": "Use the Kubernetes MCP Server as the signed-in user",
        "adminConsentDescription": "Lets the application call the Kubernetes MCP Server with the signed-in user's identity.",
        "userConsentDisplayName": "Use the Kubernetes MCP Server as you",
        "userConsentDescription": "Lets the application call the Kubernetes MCP Server with your identity.",
    }));
    json!({
        "identifierUris": uris,
        "api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": scopes},
    })
}
