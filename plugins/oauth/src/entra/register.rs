//! The Graph part of `register entra`, in the documented order, and the dates of passwords.

use oc_mcp_common::{Error, Result, kube_args::Secret};
use serde_json::Value;

use super::graph::Graph;
use super::{
    API_SCOPE, GRAPH_SCOPES, Tenant,
    bodies::{Desired, GraphScopes, application_body, contained, expose_api_body, requests},
    report::{StepResult, step},
};
use crate::settings::EntraSettings;

/// A fresh client secret from Graph.
pub(super) struct NewPassword {
    pub(super) value: Secret,
    pub(super) key_id: String,
    pub(super) end: String,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// What the cluster holds before the run.
#[derive(Debug, Clone, Default)]
pub(super) struct ClusterState {
    pub(super) stored: Option<Secret>,
    pub(super) settings: Option<EntraSettings>,
}

/// The outcome of the Graph part.
#[derive(Debug)]
pub(super) struct GraphOutcome {
    pub(super) tenant_id: String,
    pub(super) app_id: String,
    pub(super) object_id: String,
    pub(super) steps: Vec<StepResult>,
    /// The secret for the cluster Secret: kept or new (`None` in a server dry run needing one).
    pub(super) secret: Option<Secret>,
    pub(super) new_password: Option<NewPassword>,
    pub(super) key_id: Option<String>,
    pub(super) secret_end: Option<String>,
}

/// The Graph part of the registration, in the documented order.
pub(super) async fn register(
    graph: &Graph,
    desired: &Desired,
    state: &ClusterState,
    write: bool,
) -> Result<GraphOutcome> {
    let mut run = Steps {
        graph,
        write,
        done: Vec::new(),
    };
    let tenant_id = run.check_tenant(&desired.tenant).await?;
    let scopes = run.graph_scopes().await?;
    let app = run.upsert_application(desired, &scopes).await?;
    let (object_id, app_id) = ids_of(app.as_ref(), write)?;
    run.expose_api(desired, &object_id, &app_id, app.as_ref())
        .await?;
    let principal = run.service_principal(&app_id, app.is_some()).await?;
    let secret = run
        .client_secret(desired, state, app.as_ref(), &object_id, &app_id)
        .await?;
    run.admin_consent(desired, &principal, &scopes).await?;
    Ok(GraphOutcome {
        tenant_id,
        app_id,
        object_id,
        steps: run.done,
        secret: secret.value,
        new_password: secret.new_password,
        key_id: secret.key_id,
        secret_end: secret.end,
    })
}

/// The requests of one run, whether they are sent, and what each step did.
struct Steps<'a> {
    graph: &'a Graph,
    write: bool,
    done: Vec<StepResult>,
}

/// The app's service principal: its id, and whether it existed before this run.
struct ServicePrincipal {
    id: String,
    existed: bool,
}

/// The client secret for the cluster Secret, and the password Graph added for it, if any.
struct ClientSecret {
    value: Option<Secret>,
    new_password: Option<NewPassword>,
    key_id: Option<String>,
    end: Option<String>,
}

/// The application's object id and appId; placeholders when a dry run did not create it.
fn ids_of(app: Option<&Value>, write: bool) -> Result<(String, String)> {
    let (object_id, app_id) = match app {
        Some(a) => (
            a["id"].as_str().unwrap_or_default().to_owned(),
            a["appId"].as_str().unwrap_or_default().to_owned(),
        ),
        None => (
            "{application-object-id}".to_owned(),
            "{application-client-id}".to_owned(),
        ),
    };
    if write && (object_id.is_empty() || app_id.is_empty()) {
        return Err(Error::failed(
            "Microsoft Graph did not return the application's id and appId",
        ));
    }
    Ok((object_id, app_id))
}

impl Steps<'_> {
    fn would(&self, done: &str) -> String {
        if self.write {
            done.to_owned()
        } else {
            format!("{done} (dry run: not sent)")
        }
    }

    fn step(&mut self, name: &str, result: impl Into<String>) {
        step(&mut self.done, name, result);
    }

    /// 1. The tenant of the token must be the one given.
    async fn check_tenant(&mut self, tenant: &Tenant) -> Result<String> {
        let org = self
            .graph
            .get_opt(&requests::organization())
            .await?
            .unwrap_or(Value::Null);
        let org = org["value"].get(0).cloned().unwrap_or(Value::Null);
        let tenant_id = org["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        let domains: Vec<String> = org["verifiedDomains"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str().map(str::to_ascii_lowercase))
            .collect();
        let matches = match tenant {
            Tenant::Id(id) => *id == tenant_id,
            Tenant::Domain(d) => domains.contains(d),
        };
        if tenant_id.is_empty() || !matches {
            return Err(Error::Failed {
                message: format!(
                    "the Microsoft Graph token belongs to tenant {}, not {}",
                    if tenant_id.is_empty() {
                        "(unknown)"
                    } else {
                        &tenant_id
                    },
                    tenant.as_str()
                ),
                hint: Some(format!(
                    "sign in to the right tenant: `az login --tenant {}`",
                    tenant.as_str()
                )),
            });
        }
        self.step("tenant", format!("{tenant_id} (token checked)"));
        Ok(tenant_id)
    }

    /// 2. Graph's scope ids in this tenant.
    async fn graph_scopes(&self) -> Result<GraphScopes> {
        let Some(graph_sp) = self
            .graph
            .get_opt(&requests::graph_service_principal())
            .await?
        else {
            return Err(Error::failed(
                "Microsoft Graph's service principal is missing from the tenant",
            ));
        };
        GraphScopes::from_graph(&graph_sp)
    }

    /// 3. The application, upserted by unique name.
    async fn upsert_application(
        &mut self,
        desired: &Desired,
        scopes: &GraphScopes,
    ) -> Result<Option<Value>> {
        let get = requests::get_application(&desired.unique_name);
        let existing = self.graph.get_opt(&get).await?;
        let body = application_body(desired, scopes, existing.as_ref());
        if let Some(have) = &existing
            && contained(&body, have)
        {
            self.step("application", "unchanged");
            return Ok(existing);
        }
        let mut app = existing.clone();
        if self.write {
            let upsert = requests::upsert_application(&desired.unique_name, body);
            let answer = self.graph.send(&upsert, false).await?;
            if answer.status == 201 {
                app = answer.body;
            }
            if app.is_none() {
                app = self.graph.get_opt(&get).await?;
            }
        }
        let done = if existing.is_none() {
            "created"
        } else {
            "configured"
        };
        self.step("application", self.would(done));
        Ok(app)
    }

    /// 4. The exposed API.
    async fn expose_api(
        &mut self,
        desired: &Desired,
        object_id: &str,
        app_id: &str,
        app: Option<&Value>,
    ) -> Result<()> {
        let body = expose_api_body(desired, app_id, app);
        if app.is_some_and(|a| contained(&body, a)) {
            self.step("exposed API", "unchanged");
            return Ok(());
        }
        if self.write {
            self.graph
                .send(&requests::expose_api(object_id, body), false)
                .await?;
        }
        let done = self.would(&format!("api://{app_id}/{API_SCOPE}, v2 access tokens"));
        self.step("exposed API", done);
        Ok(())
    }

    /// 5. The service principal.
    async fn service_principal(
        &mut self,
        app_id: &str,
        app_exists: bool,
    ) -> Result<ServicePrincipal> {
        let existing = if app_exists {
            self.graph
                .get_opt(&requests::get_service_principal(app_id))
                .await?
        } else {
            None
        };
        if let Some(id) = existing.as_ref().and_then(|s| s["id"].as_str()) {
            self.step("service principal", "unchanged");
            return Ok(ServicePrincipal {
                id: id.to_owned(),
                existed: true,
            });
        }
        let mut id = "{service-principal-id}".to_owned();
        if self.write {
            let answer = self
                .graph
                .send(&requests::create_service_principal(app_id), false)
                .await?;
            answer
                .body
                .as_ref()
                .and_then(|b| b["id"].as_str())
                .unwrap_or_default()
                .clone_into(&mut id);
        }
        self.step("service principal", self.would("created"));
        Ok(ServicePrincipal { id, existed: false })
    }

    /// 6. The client secret: keep the stored one while Entra still has it.
    async fn client_secret(
        &mut self,
        desired: &Desired,
        state: &ClusterState,
        app: Option<&Value>,
        object_id: &str,
        app_id: &str,
    ) -> Result<ClientSecret> {
        if let Some((key_id, end)) = keepable(app, app_id, state) {
            self.step(
                "client secret",
                format!("kept (key id {key_id}, expires {end})"),
            );
            return Ok(ClientSecret {
                value: state.stored.clone(),
                new_password: None,
                key_id: Some(key_id),
                end: Some(end),
            });
        }
        if !self.write {
            self.step("client secret", self.would("added"));
            return Ok(ClientSecret {
                value: None,
                new_password: None,
                key_id: None,
                end: None,
            });
        }
        let end = end_after_days(desired.secret_days);
        let add = requests::add_password(object_id, &desired.secret_label, &end);
        let body = self
            .graph
            .send(&add, false)
            .await?
            .body
            .unwrap_or(Value::Null);
        let (Some(text), Some(key_id)) = (body["secretText"].as_str(), body["keyId"].as_str())
        else {
            return Err(Error::failed("addPassword returned no secretText/keyId"));
        };
        let end = body["endDateTime"].as_str().unwrap_or(&end).to_owned();
        self.step(
            "client secret",
            format!("added (key id {key_id}, expires {end})"),
        );
        let password = NewPassword {
            value: Secret::new(text),
            key_id: key_id.to_owned(),
            end: end.clone(),
        };
        tracing::debug!(key_id = %password.key_id, end = %password.end, "client secret added");
        Ok(ClientSecret {
            value: Some(password.value.clone()),
            new_password: Some(password),
            key_id: Some(key_id.to_owned()),
            end: Some(end),
        })
    }

    /// 7. Admin consent.
    async fn admin_consent(
        &mut self,
        desired: &Desired,
        principal: &ServicePrincipal,
        scopes: &GraphScopes,
    ) -> Result<()> {
        if !desired.admin_consent {
            self.step("admin consent", "not requested (--admin-consent)");
            return Ok(());
        }
        let scope_text = GRAPH_SCOPES.join(" ");
        let graph_sp = &scopes.service_principal_id;
        let grant = if principal.existed {
            self.graph
                .get_opt(&requests::get_grant(&principal.id, graph_sp))
                .await?
                .and_then(|g| g["value"].get(0).cloned())
        } else {
            None
        };
        let (request, done) = match grant {
            Some(g) if same_scopes(g["scope"].as_str().unwrap_or_default(), &scope_text) => {
                self.step("admin consent", "unchanged");
                return Ok(());
            }
            Some(g) => (
                requests::update_grant(g["id"].as_str().unwrap_or_default(), &scope_text),
                format!("updated ({scope_text})"),
            ),
            None => (
                requests::create_grant(&principal.id, graph_sp, &scope_text),
                format!("granted ({scope_text})"),
            ),
        };
        if self.write {
            self.graph.send(&request, false).await?;
        }
        self.step("admin consent", self.would(&done));
        Ok(())
    }
}

pub(super) fn same_scopes(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split_whitespace().collect();
    let mut y: Vec<&str> = b.split_whitespace().collect();
    x.sort_unstable();
    y.sort_unstable();
    x.dedup();
    y.dedup();
    x == y
}

/// The stored secret can stay when the settings name a password the app still has, unexpired,
/// whose hint (its first characters) matches the stored value.
pub(super) fn keepable(
    app: Option<&Value>,
    app_id: &str,
    state: &ClusterState,
) -> Option<(String, String)> {
    let stored = state.stored.as_ref()?;
    let settings = state.settings.as_ref()?;
    if settings.client_id != app_id {
        return None;
    }
    let key_id = settings.secret_key_id.as_ref()?;
    let credential = app?["passwordCredentials"]
        .as_array()?
        .iter()
        .find(|c| c["keyId"].as_str() == Some(key_id))?;
    let end = credential["endDateTime"].as_str()?.to_owned();
    let hint_ok = credential["hint"]
        .as_str()
        .is_none_or(|h| stored.expose().starts_with(h));
    (in_future(&end) && hint_ok).then(|| (key_id.clone(), end))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (UTC), as Graph takes a password's end.
pub fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::MAX)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A password's end, `days` from now.
pub(super) fn end_after_days(days: u32) -> String {
    rfc3339(jiff::Timestamp::now().as_second() + i64::from(days) * 86_400)
}

/// Whether a Graph date-time (RFC 3339, maybe with fractions) is later than now; an
/// unreadable one is not.
pub(super) fn in_future(date_time: &str) -> bool {
    date_time
        .parse::<jiff::Timestamp>()
        .is_ok_and(|t| t > jiff::Timestamp::now())
}
