//! The ConfigMap `mcp-oauth-settings`: what `register entra` registered (tenant, client id,
//! issuer, audience, scope), for `oc mcp-install --auth entra`. Never the secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, api::ObjectMeta};
use oc_mcp_common::Result;
use serde::Serialize;

use crate::target::Target;

pub const SETTINGS_CONFIGMAP: &str = "mcp-oauth-settings";

/// The key that says which provider the settings are for (`entra`).
pub const PROVIDER_KEY: &str = "provider";
/// The key naming the Secret's key that holds the client secret.
pub const SECRET_KEY_KEY: &str = "client_secret_key";

/// What an Entra registration leaves for the other plugins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub object_id: String,
    pub unique_name: String,
    pub issuer_url: String,
    pub audience: String,
    /// Space-separated scopes a client asks for.
    pub scopes: String,
    pub secret_name: String,
    /// The Entra key id of the password stored in the Secret (not the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_expires: Option<String>,
}

/// The text fields and their keys in the ConfigMap (stable: `oc mcp-install --auth entra`
/// reads them), one table for writing and reading.
fn text_fields(s: &mut EntraSettings) -> [(&'static str, &mut String); 8] {
    [
        ("tenant_id", &mut s.tenant_id),
        ("client_id", &mut s.client_id),
        ("application_object_id", &mut s.object_id),
        ("application_unique_name", &mut s.unique_name),
        ("issuer_url", &mut s.issuer_url),
        ("audience", &mut s.audience),
        ("scopes", &mut s.scopes),
        ("client_secret_name", &mut s.secret_name),
    ]
}

/// The fields written only when known, and their keys.
fn optional_fields(s: &mut EntraSettings) -> [(&'static str, &mut Option<String>); 2] {
    [
        ("client_secret_key_id", &mut s.secret_key_id),
        ("client_secret_expires", &mut s.secret_expires),
    ]
}

impl EntraSettings {
    pub fn to_data(&self) -> BTreeMap<String, String> {
        let mut fields = self.clone();
        let mut data = BTreeMap::from([
            (PROVIDER_KEY.to_owned(), "entra".to_owned()),
            (
                SECRET_KEY_KEY.to_owned(),
                crate::names::SECRET_KEY.to_owned(),
            ),
        ]);
        for (key, value) in text_fields(&mut fields) {
            data.insert(key.to_owned(), std::mem::take(value));
        }
        for (key, value) in optional_fields(&mut fields) {
            if let Some(value) = value.take() {
                data.insert(key.to_owned(), value);
            }
        }
        data
    }

    /// Settings read back; `None` unless the ConfigMap says provider `entra`.
    pub fn from_data(data: &BTreeMap<String, String>) -> Option<Self> {
        if data.get(PROVIDER_KEY).map(String::as_str) != Some("entra") {
            return None;
        }
        let mut settings = Self::default();
        for (key, value) in text_fields(&mut settings) {
            data.get(key).unwrap_or(&String::new()).clone_into(value);
        }
        for (key, value) in optional_fields(&mut settings) {
            *value = data.get(key).cloned();
        }
        Some(settings)
    }

    pub fn to_configmap(&self, namespace: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(SETTINGS_CONFIGMAP.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            data: Some(self.to_data()),
            ..ConfigMap::default()
        }
    }
}

/// The settings ConfigMap's data, when it exists.
pub async fn read(target: &Target) -> Result<Option<BTreeMap<String, String>>> {
    let api: Api<ConfigMap> = Api::namespaced(target.client.clone(), &target.namespace);
    Ok(api
        .get_opt(SETTINGS_CONFIGMAP)
        .await?
        .map(|cm| cm.data.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_hold_no_secret() {
        let settings = EntraSettings {
            tenant_id: "t".into(),
            client_id: "c".into(),
            secret_key_id: Some("k".into()),
            ..EntraSettings::default()
        };
        let data = settings.to_data();
        assert_eq!(data["provider"], "entra");
        assert_eq!(data["client_secret_key"], "sts_client_secret");
        // The keys are what other plugins read: they stay as they are.
        assert_eq!(
            data.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "application_object_id",
                "application_unique_name",
                "audience",
                "client_id",
                "client_secret_key",
                "client_secret_key_id",
                "client_secret_name",
                "issuer_url",
                "provider",
                "scopes",
                "tenant_id"
            ]
        );
        assert_eq!(EntraSettings::from_data(&data), Some(settings));
        assert_eq!(EntraSettings::from_data(&BTreeMap::new()), None);
    }
}
