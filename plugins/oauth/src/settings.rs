//! The ConfigMap `mcp-oauth-settings`: what `register entra` registered (tenant, client id,
//! issuer, audience, scope), for `oc mcp-install --auth entra`. Never the secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, api::ObjectMeta};
use oc_mcp_common::Result;
use serde::Serialize;

use crate::names::Target;

pub const SETTINGS_CONFIGMAP: &str = "mcp-oauth-settings";

/// The keys of the ConfigMap (stable: other plugins read them).
pub mod keys {
    pub const PROVIDER: &str = "provider";
    pub const TENANT_ID: &str = "tenant_id";
    pub const CLIENT_ID: &str = "client_id";
    pub const OBJECT_ID: &str = "application_object_id";
    pub const UNIQUE_NAME: &str = "application_unique_name";
    pub const ISSUER_URL: &str = "issuer_url";
    pub const AUDIENCE: &str = "audience";
    pub const SCOPES: &str = "scopes";
    pub const SECRET_NAME: &str = "client_secret_name";
    pub const SECRET_KEY: &str = "client_secret_key";
    pub const SECRET_KEY_ID: &str = "client_secret_key_id";
    pub const SECRET_EXPIRES: &str = "client_secret_expires";
}

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

impl EntraSettings {
    pub fn to_data(&self) -> BTreeMap<String, String> {
        let mut data = BTreeMap::from([
            (keys::PROVIDER.to_owned(), "entra".to_owned()),
            (keys::TENANT_ID.to_owned(), self.tenant_id.clone()),
            (keys::CLIENT_ID.to_owned(), self.client_id.clone()),
            (keys::OBJECT_ID.to_owned(), self.object_id.clone()),
            (keys::UNIQUE_NAME.to_owned(), self.unique_name.clone()),
            (keys::ISSUER_URL.to_owned(), self.issuer_url.clone()),
            (keys::AUDIENCE.to_owned(), self.audience.clone()),
            (keys::SCOPES.to_owned(), self.scopes.clone()),
            (keys::SECRET_NAME.to_owned(), self.secret_name.clone()),
            (
                keys::SECRET_KEY.to_owned(),
                crate::names::SECRET_KEY.to_owned(),
            ),
        ]);
        if let Some(id) = &self.secret_key_id {
            data.insert(keys::SECRET_KEY_ID.to_owned(), id.clone());
        }
        if let Some(end) = &self.secret_expires {
            data.insert(keys::SECRET_EXPIRES.to_owned(), end.clone());
        }
        data
    }

    /// Settings read back; `None` unless the ConfigMap says provider `entra`.
    pub fn from_data(data: &BTreeMap<String, String>) -> Option<Self> {
        if data.get(keys::PROVIDER).map(String::as_str) != Some("entra") {
            return None;
        }
        let get = |k: &str| data.get(k).cloned().unwrap_or_default();
        Some(Self {
            tenant_id: get(keys::TENANT_ID),
            client_id: get(keys::CLIENT_ID),
            object_id: get(keys::OBJECT_ID),
            unique_name: get(keys::UNIQUE_NAME),
            issuer_url: get(keys::ISSUER_URL),
            audience: get(keys::AUDIENCE),
            scopes: get(keys::SCOPES),
            secret_name: get(keys::SECRET_NAME),
            secret_key_id: data.get(keys::SECRET_KEY_ID).cloned(),
            secret_expires: data.get(keys::SECRET_EXPIRES).cloned(),
        })
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
        assert_eq!(EntraSettings::from_data(&data), Some(settings));
        assert_eq!(EntraSettings::from_data(&BTreeMap::new()), None);
    }
}
