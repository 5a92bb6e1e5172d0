//! Every ClusterRoleBinding and RoleBinding, read once for the ServiceAccount check and the
//! role's bindings.

use kube::{Api, Client, api::ListParams};

use super::{Bindings, ReadError, list};

pub(super) async fn read_bindings(client: &Client) -> Result<Bindings, ReadError> {
    let crbs: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(client.clone());
    let rbs: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::all(client.clone());
    let all = ListParams::default();
    let (crbs, rbs) = futures::join!(
        list(&crbs, &all, "clusterrolebindings"),
        list(&rbs, &all, "rolebindings"),
    );
    Ok(Bindings {
        cluster: crbs?.0,
        namespaced: rbs?.0,
    })
}
