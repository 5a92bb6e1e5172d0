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
#[allow(clippy::too_many_lines)] // the documented order of Graph requests, in one place
pub(super) async fn register(
    graph: &Graph,
    desired: &Desired,
    state: &ClusterState,
    write: bool,
) -> Result<GraphOutcome> {
    let would = |done: &str| {
        if write {
            done.to_owned()
        } else {
            format!("{done} (dry run: not sent)")
        }
    };
    let mut steps = Vec::new();

    // 1. The tenant of the token must be the one given.
    let org = graph
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
    let matches = match &desired.tenant {
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
                desired.tenant.as_str()
            ),
            hint: Some(format!(
                "sign in to the right tenant: `az login --tenant {}`",
                desired.tenant.as_str()
            )),
        });
    }
    step(&mut steps, "tenant", format!("{tenant_id} (token checked)"));

    // 2. Graph's scope ids in this tenant.
    let Some(graph_sp) = graph.get_opt(&requests::graph_service_principal()).await? else {
        return Err(Error::failed(
            "Microsoft Graph's service principal is missing from the tenant",
        ));
    };
    let scopes = GraphScopes::from_graph(&graph_sp)?;

    // 3. The application, upserted by unique name.
    let existing = graph
        .get_opt(&requests::get_application(&desired.unique_name))
        .await?;
    let body = application_body(desired, &scopes, existing.as_ref());
    let mut app = existing.clone();
    match &existing {
        Some(have) if contained(&body, have) => step(&mut steps, "application", "unchanged"),
        _ => {
            let created = existing.is_none();
            if write {
                let answer = graph
                    .send(
                        &requests::upsert_application(&desired.unique_name, body.clone()),
                        false,
                    )
                    .await?;
                if answer.status == 201 {
                    app = answer.body;
                }
                if app.is_none() {
                    app = graph
                        .get_opt(&requests::get_application(&desired.unique_name))
                        .await?;
                }
            }
            step(
                &mut steps,
                "application",
                would(if created { "created" } else { "configured" }),
            );
        }
    }
    let (object_id, app_id) = match &app {
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

    // 4. The exposed API.
    let api_body = expose_api_body(desired, &app_id, app.as_ref());
    if app.as_ref().is_some_and(|a| contained(&api_body, a)) {
        step(&mut steps, "exposed API", "unchanged");
    } else {
        if write {
            graph
                .send(&requests::expose_api(&object_id, api_body), false)
                .await?;
        }
        step(
            &mut steps,
            "exposed API",
            would(&format!("api://{app_id}/{API_SCOPE}, v2 access tokens")),
        );
    }

    // 5. The service principal.
    let sp = if app.is_some() {
        graph
            .get_opt(&requests::get_service_principal(&app_id))
            .await?
    } else {
        None
    };
    let sp_id = if let Some(id) = sp.as_ref().and_then(|s| s["id"].as_str()) {
        step(&mut steps, "service principal", "unchanged");
        id.to_owned()
    } else {
        let mut id = "{service-principal-id}".to_owned();
        if write {
            let answer = graph
                .send(&requests::create_service_principal(&app_id), false)
                .await?;
            answer
                .body
                .as_ref()
                .and_then(|b| b["id"].as_str())
                .unwrap_or_default()
                .clone_into(&mut id);
        }
        step(&mut steps, "service principal", would("created"));
        id
    };

    // 6. The client secret: keep the stored one while Entra still has it.
    let kept = keepable(app.as_ref(), &app_id, state);
    let (secret, new_password, key_id, secret_end) = if let Some((key_id, end)) = kept {
        step(
            &mut steps,
            "client secret",
            format!("kept (key id {key_id}, expires {end})"),
        );
        (state.stored.clone(), None, Some(key_id), Some(end))
    } else {
        let end = end_after_days(desired.secret_days);
        if write {
            let answer = graph
                .send(
                    &requests::add_password(&object_id, &desired.secret_label, &end),
                    false,
                )
                .await?;
            let body = answer.body.unwrap_or(Value::Null);
            let (Some(text), Some(key_id)) = (body["secretText"].as_str(), body["keyId"].as_str())
            else {
                return Err(Error::failed("addPassword returned no secretText/keyId"));
            };
            let end = body["endDateTime"].as_str().unwrap_or(&end).to_owned();
            let password = NewPassword {
                value: Secret::new(text),
                key_id: key_id.to_owned(),
                end: end.clone(),
            };
            step(
                &mut steps,
                "client secret",
                format!("added (key id {key_id}, expires {end})"),
            );
            (
                Some(password.value.clone()),
                Some(password),
                Some(key_id.to_owned()),
                Some(end),
            )
        } else {
            step(&mut steps, "client secret", would("added"));
            (None, None, None, None)
        }
    };
    if let Some(p) = &new_password {
        tracing::debug!(key_id = %p.key_id, end = %p.end, "client secret added");
    }

    // 7. Admin consent.
    let scope_text = GRAPH_SCOPES.join(" ");
    if desired.admin_consent {
        let grant = if sp.is_some() {
            graph
                .get_opt(&requests::get_grant(&sp_id, &scopes.service_principal_id))
                .await?
                .and_then(|g| g["value"].get(0).cloned())
        } else {
            None
        };
        match grant {
            Some(g) if same_scopes(g["scope"].as_str().unwrap_or_default(), &scope_text) => {
                step(&mut steps, "admin consent", "unchanged");
            }
            Some(g) => {
                if write {
                    let id = g["id"].as_str().unwrap_or_default();
                    graph
                        .send(&requests::update_grant(id, &scope_text), false)
                        .await?;
                }
                step(
                    &mut steps,
                    "admin consent",
                    would(&format!("updated ({scope_text})")),
                );
            }
            None => {
                if write {
                    graph
                        .send(
                            &requests::create_grant(
                                &sp_id,
                                &scopes.service_principal_id,
                                &scope_text,
                            ),
                            false,
                        )
                        .await?;
                }
                step(
                    &mut steps,
                    "admin consent",
                    would(&format!("granted ({scope_text})")),
                );
            }
        }
    } else {
        step(
            &mut steps,
            "admin consent",
            "not requested (--admin-consent)",
        );
    }
    Ok(GraphOutcome {
        tenant_id,
        app_id,
        object_id,
        steps,
        secret,
        new_password,
        key_id,
        secret_end,
    })
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
