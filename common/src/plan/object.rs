//! One object of a plan: the typed object made dynamic, what planning read of it, and the
//! permissions applying it needs.

use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ApiResource, DynamicObject},
};
use serde::Serialize;

use super::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::{
    error::{Error, Result},
    preflight::Permission,
};

/// One object the plan will server-side apply.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    pub resource: ApiResource,
    pub namespaced: bool,
    pub object: DynamicObject,
    /// Take over fields owned by another manager (`--force`).
    pub force: bool,
    /// The live object, when planning already read it: `Some(None)` means it does not exist.
    /// Applying then reports created/configured/unchanged without reading it again.
    pub live: Option<Option<DynamicObject>>,
}

impl PlannedObject {
    /// Plan a typed object; the managed-by label is added.
    pub fn from_typed<K>(object: &K) -> Result<Self>
    where
        K: Resource<DynamicType = ()> + Serialize,
        K::Scope: Scope,
    {
        let resource = ApiResource::erase::<K>(&());
        let value = serde_json::to_value(object)
            .map_err(|e| Error::failed(format!("cannot encode {}: {e}", K::kind(&()))))?;
        let mut object: DynamicObject = serde_json::from_value(value)
            .map_err(|e| Error::failed(format!("cannot encode {}: {e}", K::kind(&()))))?;
        object.types = Some(kube::core::TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
        object
            .labels_mut()
            .insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
        Ok(Self {
            resource,
            namespaced: K::Scope::NAMESPACED,
            object,
            force: false,
            live: None,
        })
    }

    /// Record what planning read of this object, so applying does not read it again.
    #[must_use]
    pub fn with_live<K: Serialize>(mut self, live: Option<&K>) -> Self {
        self.live = Some(live.and_then(|k| serde_json::to_value(k).ok()).map(|v| {
            serde_json::from_value(v)
                .unwrap_or_else(|_| DynamicObject::new(&self.name(), &self.resource))
        }));
        self
    }

    #[must_use]
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    pub fn kind(&self) -> &str {
        &self.resource.kind
    }

    pub fn name(&self) -> String {
        self.object.name_any()
    }

    pub fn namespace(&self) -> Option<String> {
        self.object.namespace()
    }

    pub(super) fn api(&self, client: &Client) -> Api<DynamicObject> {
        match (self.namespaced, self.object.namespace()) {
            (true, Some(ns)) => Api::namespaced_with(client.clone(), &ns, &self.resource),
            (true, None) => Api::default_namespaced_with(client.clone(), &self.resource),
            (false, _) => Api::all_with(client.clone(), &self.resource),
        }
    }

    /// What applying needs: `get` (to report created/configured/unchanged), `patch` (server-side
    /// apply), and `create` when the object may not exist.
    pub fn required_permissions(&self) -> Vec<Permission> {
        ["get", "create", "patch"]
            .into_iter()
            .map(|verb| Permission {
                verb: verb.into(),
                group: self.resource.group.clone(),
                resource: self.resource.plural.clone(),
                namespace: if self.namespaced {
                    self.object.namespace()
                } else {
                    None
                },
                name: None,
            })
            .collect()
    }
}

/// Whether a `kube::Resource` scope is namespaced, as a constant.
pub trait Scope {
    const NAMESPACED: bool;
}
impl Scope for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl Scope for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}
