//! The verify run: flags -> cluster facts -> endpoint probes -> report -> exit code.

use std::io::Write;

use oc_mcp_common::{
    Error, ExitCode, ReadOnlyGlobalArgs, Result, cli, defaults, server_config::AuthMode,
};

use crate::{
    args::{VerifyArgs, endpoint_url},
    audience,
    checks::{CheckId, Selection},
    cluster::{self, Facts, Scope},
    cluster_rows::{self, Context},
    http::Http,
    identity, login, portforward,
    probes::{self, Probe, Via},
    report::{FailureClass, Report, Row, Target},
    role,
    token::{self, Token},
};

const ENDPOINT_GROUPS: &[&str] = &[
    "endpoint",
    "unauth",
    "discovery",
    "mcp",
    "passthrough",
    "login",
];

fn endpoint_ids() -> impl Iterator<Item = CheckId> {
    CheckId::ALL
        .iter()
        .copied()
        .filter(|c| ENDPOINT_GROUPS.contains(&c.group()))
}

/// What the cluster phase learnt.
struct ClusterPhase {
    kube: Option<kube::Config>,
    client: Option<kube::Client>,
    facts: Option<Facts>,
    /// The MCP role and its bindings.
    role: Option<role::RoleFacts>,
}

pub async fn run(global: &ReadOnlyGlobalArgs, args: &VerifyArgs) -> Result<ExitCode> {
    args.validate()?;
    let selection = Selection::new(&args.only, &args.skip)?;
    // Tokens first: reading stdin must not wait behind network calls.
    let explicit = args
        .token
        .source()
        .map(|s| token::read(&s, "the token"))
        .transpose()?;
    let denied = args
        .denied_token
        .source()
        .map(|s| token::read(&s, "the denied token"))
        .transpose()?;
    // Every token in play, to scrub from the report (the checks never put one there).
    let mut secrets: Vec<String> = explicit
        .iter()
        .chain(denied.iter())
        .map(|t| t.secret.expose().to_owned())
        .collect();
    let http = http_settings(args)?;

    let mut rows: Vec<Row> = Vec::new();
    let mut target = Target {
        release: args.release.clone(),
        ..Target::default()
    };
    let cluster = Box::pin(cluster_phase(
        global,
        args,
        &selection,
        &mut rows,
        &mut target,
    ))
    .await?;
    let facts = cluster.facts.as_ref();
    let mode = args.auth_mode.or_else(|| {
        facts
            .and_then(Facts::parsed_config)
            .map(|p| p.config.auth_mode())
    });
    target.auth_mode = mode.map(|m| m.as_str().to_owned());

    // 5-9. The endpoint.
    if selection.any(&endpoint_ids().collect::<Vec<_>>()) {
        let mut forward = None;
        match resolve_endpoint(args, facts, cluster.client.as_ref(), &mut forward).await {
            Ok((url, via)) => {
                target.url = Some(url.to_string());
                target.via = Some(via.as_str().to_owned());
                let user_token = user_token(explicit, cluster.kube.as_ref(), mode).await;
                if let Ok(t) = &user_token {
                    target.token_source = Some(t.source.clone());
                    secrets.push(t.secret.expose().to_owned());
                }
                let probe = Probe {
                    http: &http,
                    url,
                    via,
                    mode,
                    config: facts.and_then(Facts::parsed_config).map(|p| &p.config),
                    public_host: facts.and_then(Facts::host),
                    token: user_token,
                    denied: denied.clone(),
                    cert_min_days: args.cert_min_days,
                    selection: &selection,
                };
                let mut endpoint_rows = Box::pin(probes::run(&probe)).await?;
                as_whom(args, &cluster, &probe, &mut endpoint_rows, &mut target).await;
                rows.extend(endpoint_rows);
                rows.extend(Box::pin(client_login(args, &probe, &mut secrets)).await);
            }
            Err(first) => {
                // The reason goes on the first selected endpoint check, the rest are skipped.
                let mut ids = endpoint_ids().filter(|id| selection.contains(*id));
                if let Some(id) = ids.next() {
                    rows.push(first_with_id(first, id));
                }
                for id in ids {
                    rows.push(Row::skip(id, "no endpoint to probe"));
                }
            }
        }
        drop(forward);
    }

    let mut report = Report::new(target, finish(rows, &selection), args.strict);
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    report.redact(&secret_refs);
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit())
            .map_err(|e| Error::io(format!("writing --junit {}", path.display()), e))?;
    }
    let mut stdout = std::io::stdout().lock();
    report.write(global.output.output, &mut stdout)?;
    stdout.flush().map_err(|e| Error::io("writing output", e))?;
    Ok(report.exit_code())
}

/// Say as whom the MCP checks ran, and judge whether `passthrough.user` proves anything.
async fn as_whom(
    args: &VerifyArgs,
    cluster: &ClusterPhase,
    probe: &Probe<'_>,
    rows: &mut [Row],
    target: &mut Target,
) {
    let wanted = [
        CheckId::McpInitialize,
        CheckId::PassthroughUser,
        CheckId::PassthroughDenied,
    ];
    let Some(kube) = cluster.kube.as_ref() else {
        return;
    };
    if !probe.selection.any(&wanted) {
        return;
    }
    let judge = |secret: oc_mcp_common::kube_args::Secret| async move {
        let (identity, can_write) = identity::review(kube, &secret).await;
        identity::Judged {
            identity,
            can_write,
        }
    };
    let user = match &probe.token {
        Ok(t) => Some(judge(t.secret.clone()).await),
        Err(_) => None,
    };
    let denied = match &probe.denied {
        Some(t) => Some(judge(t.secret.clone()).await),
        None => None,
    };
    let bound = cluster.role.as_ref().map_or_else(
        || Err("the role was not read".to_owned()),
        role::RoleFacts::subjects,
    );
    target.identity = user.as_ref().and_then(|j| j.identity.clone().ok());
    target.denied_identity = denied.as_ref().and_then(|j| j.identity.clone().ok());
    identity::annotate(rows, &args.role, user.as_ref(), denied.as_ref(), &bound);
}

/// `discovery.audience` (static) and, with `--login`, `login.pkce`.
async fn client_login(args: &VerifyArgs, probe: &Probe<'_>, secrets: &mut Vec<String>) -> Vec<Row> {
    let mut rows = Vec::new();
    let oauth = matches!(probe.mode, Some(AuthMode::Entra | AuthMode::Oidc));
    let selection = probe.selection;
    let want_login = selection.contains(CheckId::LoginPkce);
    if !oauth {
        let why = match probe.mode {
            Some(m) => format!("{m} mode: clients are handed a token, they do not log in"),
            None => "the auth mode is unknown".to_owned(),
        };
        rows.push(audience::row(probe.mode, probe.config, &Err(why.clone())));
        rows.push(match probe.mode {
            Some(_) => Row::info(CheckId::LoginPkce).evidence(why),
            None => Row::skip(CheckId::LoginPkce, why),
        });
        return rows;
    }
    let login_wanted = want_login && args.login.login;
    if !(selection.contains(CheckId::DiscoveryAudience) || login_wanted) {
        return rows;
    }
    let discovered = audience::discover(probe.http, &probe.url).await;
    rows.push(audience::row(probe.mode, probe.config, &discovered));
    if !want_login {
        return rows;
    }
    if !args.login.login {
        rows.push(Row::skip(
            CheckId::LoginPkce,
            "pass --login to log in as an MCP client does (it opens a browser)",
        ));
        return rows;
    }
    let config = probe.config;
    let login_args = login::LoginArgs {
        client_id: args
            .login
            .login_client_id
            .clone()
            .or_else(|| config.and_then(|c| c.oauth_audience.clone()))
            .unwrap_or_else(|| defaults::OAUTH_CLIENT.to_owned()),
        scopes: config
            .and_then(|c| c.oauth_scopes.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["openid".to_owned()]),
        login_hint: args.login.login_hint.clone(),
        audience: config.and_then(|c| c.oauth_audience.clone()),
    };
    rows.push(login::row(probe.http, &probe.url, &discovered, &login_args, secrets).await);
    rows
}

fn http_settings(args: &VerifyArgs) -> Result<Http> {
    let extra_ca_pem = args
        .endpoint_ca
        .as_ref()
        .map(|path| {
            std::fs::read(path).map_err(|e| {
                Error::usage(format!("cannot read --endpoint-ca {}: {e}", path.display()))
            })
        })
        .transpose()?;
    if args.endpoint_insecure {
        cli::warn(
            "--endpoint-insecure: the MCP endpoint's certificate is NOT checked; anyone in between can read the token",
        );
    }
    Ok(Http {
        extra_ca_pem,
        insecure: args.endpoint_insecure,
        timeout: args.timeout(),
        resolve: args.resolve.clone(),
        connect_to: args.connect_to.clone(),
    })
}

/// 1-4: read the cluster and add its rows. Without a kubeconfig only `--url` can go on.
async fn cluster_phase(
    global: &ReadOnlyGlobalArgs,
    args: &VerifyArgs,
    selection: &Selection,
    rows: &mut Vec<Row>,
    target: &mut Target,
) -> Result<ClusterPhase> {
    let config = match global.kube.config().await {
        Ok(config) => config,
        Err(e) if args.url.is_some() => {
            for id in CheckId::ALL
                .iter()
                .copied()
                .filter(|c| !ENDPOINT_GROUPS.contains(&c.group()))
            {
                rows.push(Row::skip(id, format!("no cluster access: {e}")));
            }
            return Ok(ClusterPhase {
                kube: None,
                client: None,
                facts: None,
                role: None,
            });
        }
        Err(e) => return Err(e),
    };
    let namespace = global
        .kube
        .namespace_or(&config, defaults::NAMESPACE)
        .to_owned();
    target.namespace = Some(namespace.clone());
    let client = oc_mcp_common::kube_args::client_from_config(config.clone())?;
    let scope = Scope {
        namespace,
        release: args.release.clone(),
        oauth_client: args.oauth_client.clone(),
        logs: selection.any(&[CheckId::LogsStartup, CheckId::ClusterPods]),
        exposure: CheckId::ALL
            .iter()
            .any(|c| c.group() == "exposure" && selection.contains(*c)),
    };
    let facts = Box::pin(cluster::inspect(&client, &scope)).await;
    let ctx = Context {
        release: &args.release,
        oauth_client: &args.oauth_client,
        role: &args.role,
        mode: args.auth_mode,
        port_forward: args.port_forward,
        url_given: args.url.is_some(),
    };
    rows.extend(cluster_rows::rows(
        &facts,
        &ctx,
        selection.contains(CheckId::LogsStartup),
    ));
    // The role matters to the rbac checks and to whether passthrough.user proves anything.
    let role = if selection.any(&[
        CheckId::RbacBindings,
        CheckId::RbacRole,
        CheckId::PassthroughUser,
        CheckId::PassthroughDenied,
    ]) && !matches!(&facts.namespace_found, Some(Err(e)) if e.class != FailureClass::Check)
    {
        let read = role::read(&client, &args.role, facts.bindings.as_ref()).await;
        rows.extend(role::rows(&read));
        Some(read)
    } else {
        None
    };
    Ok(ClusterPhase {
        kube: Some(config),
        client: Some(client),
        facts: Some(facts),
        role,
    })
}

/// A placeholder row carrying why there is no endpoint, re-labelled as `id`.
fn first_with_id(row: Row, id: CheckId) -> Row {
    Row {
        id: id.id(),
        title: id.title(),
        ..row
    }
}

/// Where the MCP endpoint is, or a row saying why it cannot be probed.
async fn resolve_endpoint(
    args: &VerifyArgs,
    facts: Option<&Facts>,
    client: Option<&kube::Client>,
    forward: &mut Option<portforward::Forward>,
) -> std::result::Result<(reqwest::Url, Via), Row> {
    let id = CheckId::EndpointTls;
    if let Some(url) = &args.url {
        return endpoint_url(url)
            .map(|u| (u, Via::Url))
            .map_err(|e| Row::fail(id).evidence(e.to_string()));
    }
    if args.port_forward {
        let (Some(facts), Some(client)) = (facts, client) else {
            return Err(Row::skip(id, "--port-forward needs cluster access"));
        };
        let Some(pod) = portforward::pick_pod(&facts.pods) else {
            return Err(Row::fail(id)
                .evidence("--port-forward: no running pod of the server")
                .fix("see cluster.pods")
                .class(FailureClass::Unreachable));
        };
        let Some(port) = portforward::target_port(facts.service(), pod) else {
            return Err(Row::fail(id).evidence(format!(
                "--port-forward: cannot tell the server's port on pod/{}",
                portforward::pod_name(pod)
            )));
        };
        return match portforward::start(
            client.clone(),
            &facts.namespace,
            &portforward::pod_name(pod),
            port,
        )
        .await
        {
            Ok(f) => {
                let url = format!("http://127.0.0.1:{}/mcp", f.local.port());
                *forward = Some(f);
                endpoint_url(&url)
                    .map(|u| (u, Via::PortForward))
                    .map_err(|e| Row::fail(id).evidence(e.to_string()))
            }
            Err(e) => {
                let class = match e.exit_code() {
                    ExitCode::Auth | ExitCode::Usage | ExitCode::Failed | ExitCode::Ok => {
                        FailureClass::Check
                    }
                    ExitCode::Unreachable => FailureClass::Unreachable,
                };
                Err(Row::fail(id)
                    .evidence(e.to_string())
                    .fix("the verifying user needs create on pods/portforward in the namespace")
                    .class(class))
            }
        };
    }
    let Some(facts) = facts else {
        return Err(Row::skip(id, "no cluster access and no --url"));
    };
    let Some(host) = facts.host() else {
        // The Route could not be read at all: the endpoint checks fail with that cause.
        let unread = match (&facts.namespace_found, &facts.routes) {
            (Some(Err(e)), _) | (_, Some(Err(e))) if !e.forbidden => Some(e),
            _ => None,
        };
        if let Some(e) = unread {
            return Err(Row::fail(id)
                .evidence(format!("the endpoint is unknown: {}", e.message))
                .fix("pass --url, or fix the cluster access (see cluster.namespace)")
                .class(e.class));
        }
        return Err(Row::skip(
            id,
            "no Route to probe: pass --port-forward (internal deployments) or --url",
        ));
    };
    let tls = facts.route().is_none_or(|r| r.spec.tls.is_some())
        && (facts.route().is_some()
            || facts
                .ingress
                .as_ref()
                .and_then(|i| i.spec.as_ref())
                .is_some_and(|s| s.tls.as_ref().is_some_and(|t| !t.is_empty()))
            || facts.ingress.as_ref().is_some_and(|i| {
                i.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("route.openshift.io/termination"))
            }));
    let scheme = if tls { "https" } else { "http" };
    endpoint_url(&format!("{scheme}://{host}/mcp"))
        .map(|u| (u, Via::Route))
        .map_err(|e| Row::fail(id).evidence(e.to_string()))
}

/// The user's token: explicit, else the kubeconfig user's (opaque tokens only make sense in
/// openshift mode; issuer modes need a JWT).
async fn user_token(
    explicit: Option<Token>,
    kube: Option<&kube::Config>,
    mode: Option<AuthMode>,
) -> std::result::Result<Token, String> {
    if let Some(t) = explicit {
        return Ok(t);
    }
    let how = "pass it with --token-stdin, --token-env VAR or --token-file FILE";
    let Some(config) = kube else {
        return Err(format!("no token: {how}"));
    };
    match token::from_kubeconfig(config).await {
        Ok(Some(t)) => match mode {
            Some(m @ (AuthMode::Entra | AuthMode::Oidc))
                if !token::looks_like_jwt(t.secret.expose()) =>
            {
                Err(format!(
                    "in {m} mode the server wants a JWT from its issuer, and the kubeconfig token is not one: {how}"
                ))
            }
            _ => Ok(t),
        },
        Ok(None) => Err(format!(
            "the kubeconfig user has no bearer token (client certificate?): {how}"
        )),
        Err(e) => Err(format!("{e}; or {how}")),
    }
}

/// Keep the selected checks, one row each (the first), in catalogue order.
fn finish(rows: Vec<Row>, selection: &Selection) -> Vec<Row> {
    let mut by_id: std::collections::HashMap<&'static str, Row> = std::collections::HashMap::new();
    for row in rows {
        by_id.entry(row.id).or_insert(row);
    }
    CheckId::ALL
        .iter()
        .copied()
        .filter(|c| selection.contains(*c))
        .map(|id| {
            by_id
                .remove(id.id())
                .unwrap_or_else(|| Row::skip(id, "not run: an earlier step did not get this far"))
        })
        .collect()
}
