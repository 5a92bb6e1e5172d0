//! route.*: the Route serving the release, its TLS and admission, and whether the config's
//! server_url names it.

use kube::ResourceExt;
use oc_mcp_common::server_config::AuthMode;

use crate::{checks::CheckId, cluster::Facts, report::Row};

use super::{Context, oauth_client::oauth_redirect_row, read_failed};

pub(super) fn route_rows(facts: &Facts, ctx: &Context<'_>) -> Vec<Row> {
    let rest = [
        CheckId::RouteTls,
        CheckId::RouteInsecure,
        CheckId::RouteAdmitted,
        CheckId::RouteServerUrl,
        CheckId::RouteOAuthRedirect,
    ];
    let skip_all = |first: Row, why: &str| {
        let mut rows = vec![first];
        rows.extend(rest.iter().map(|id| Row::skip(*id, why)));
        rows
    };
    let found = CheckId::RouteFound;
    let routes = match &facts.routes {
        None => {
            return skip_all(
                Row::skip(found, "the namespace could not be read"),
                "no Route",
            );
        }
        Some(Err(e)) => return skip_all(read_failed(found, e), "the Routes could not be read"),
        Some(Ok(r)) => r,
    };
    if facts.no_route_api {
        let row = match facts.host() {
            Some(host) => Row::info(found).evidence(format!(
                "no route.openshift.io API (not OpenShift); ingress host {host}"
            )),
            None => Row::info(found).evidence("no route.openshift.io API (not OpenShift)"),
        };
        return skip_all(row, "not OpenShift: no Route");
    }
    let Some(route) = facts.route() else {
        let row = match &facts.ingress {
            Some(ingress) => Row::fail(found)
                .evidence(format!(
                    "ingress/{} exists but no Route is owned by it or named after the release",
                    ingress.name_any()
                ))
                .fix("OpenShift makes the Route from the Ingress: check the ingress class and the route.openshift.io/termination annotation, and `oc describe ingress`"),
            None if ctx.port_forward || ctx.url_given => Row::info(found)
                .evidence("no Ingress or Route: an internal deployment"),
            None => Row::warn(found)
                .evidence("no Ingress or Route for the release: an internal deployment?")
                .fix("re-run with --port-forward to check the server itself, or --url if it is exposed another way"),
        };
        return skip_all(row, "no Route");
    };
    let name = route.name_any();
    let host = facts.host().unwrap_or_default();
    let how = if route
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Ingress")
    {
        format!(
            "route/{name} (made from ingress/{}) host {host}",
            facts
                .ingress
                .as_ref()
                .map(ResourceExt::name_any)
                .unwrap_or_default()
        )
    } else {
        format!("route/{name} host {host}")
    };
    let mut found_row = Row::pass(found).evidence(how);
    if routes.len() > 1 {
        found_row.evidence.push(format!(
            "{} Routes match; checked {name}; others: {}",
            routes.len(),
            routes
                .iter()
                .map(ResourceExt::name_any)
                .filter(|n| *n != name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut rows = vec![found_row];

    rows.extend(tls_rows(route, &name, &host, &facts.namespace));
    rows.push(admitted_row(route));
    rows.push(server_url_row(facts, ctx, &host));
    rows.push(oauth_redirect_row(facts, ctx, &host));
    rows
}

fn tls_rows(
    route: &oc_mcp_common::openshift::Route,
    name: &str,
    host: &str,
    namespace: &str,
) -> [Row; 2] {
    let tls = route.spec.tls.as_ref();
    let termination = tls.map(|t| t.termination.to_ascii_lowercase());
    let tls_row = match termination.as_deref() {
        Some("edge" | "reencrypt") => Row::pass(CheckId::RouteTls)
            .evidence(format!("termination {}", termination.as_deref().unwrap_or(""))),
        Some("passthrough") => Row::warn(CheckId::RouteTls)
            .evidence("termination passthrough: the router does not terminate TLS")
            .fix("the server must then serve TLS itself (tls_cert/tls_key); prefer edge or reencrypt"),
        Some(other) => Row::fail(CheckId::RouteTls)
            .evidence(format!("unknown termination {other:?}"))
            .fix("use edge (annotation route.openshift.io/termination: edge on the Ingress)"),
        None => Row::fail(CheckId::RouteTls)
            .evidence(format!("route/{name} has no TLS: http://{host} carries tokens in clear"))
            .fix("re-run `oc mcp-install` (Ingress annotation route.openshift.io/termination: edge)"),
    };

    let policy = tls.and_then(|t| t.insecure_edge_termination_policy.clone());
    let policy_row = match (tls, policy.as_deref()) {
        (None, _) => Row::skip(CheckId::RouteInsecure, "the Route has no TLS (see route.tls)"),
        (Some(_), Some(p)) if p.eq_ignore_ascii_case("allow") => Row::fail(CheckId::RouteInsecure)
            .evidence(format!("insecureEdgeTerminationPolicy Allow: http://{host}/mcp serves the endpoint without TLS"))
            .fix(format!(
                "set it to Redirect: oc patch route/{name} -n {namespace} --type=merge -p '{{\"spec\":{{\"tls\":{{\"insecureEdgeTerminationPolicy\":\"Redirect\"}}}}}}' (and fix whatever set Allow)",
            )),
        (Some(_), p) => Row::pass(CheckId::RouteInsecure).evidence(format!(
            "insecureEdgeTerminationPolicy {}",
            p.unwrap_or("<unset>: plain HTTP is refused")
        )),
    };
    [tls_row, policy_row]
}

fn admitted_row(route: &oc_mcp_common::openshift::Route) -> Row {
    let conditions: Vec<String> = route
        .status
        .iter()
        .flat_map(|s| s.ingress.iter())
        .flat_map(|i| {
            let router_name = i.router_name.clone().unwrap_or_else(|| "?".into());
            i.conditions.iter().map(move |c| {
                format!(
                    "router {router_name}: {}={} {} {}",
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or(""),
                    c.message.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_owned()
            })
        })
        .collect();
    if route.admitted() {
        Row::pass(CheckId::RouteAdmitted).evidence_lines(conditions)
    } else if conditions.is_empty() {
        Row::fail(CheckId::RouteAdmitted)
            .evidence("no router has admitted the Route yet (empty status)")
            .fix("wait a moment; if it stays, check the router and `oc describe route`")
    } else {
        Row::fail(CheckId::RouteAdmitted)
            .evidence_lines(conditions)
            .fix("see the condition's reason (HostAlreadyClaimed: another Route has the host)")
    }
}

fn server_url_row(facts: &Facts, ctx: &Context<'_>, host: &str) -> Row {
    let id = CheckId::RouteServerUrl;
    let Some(parsed) = facts.parsed_config() else {
        return Row::skip(id, "the config could not be read");
    };
    let config = &parsed.config;
    let expected = format!("https://{host}/mcp");
    let mode = ctx.mode.unwrap_or_else(|| config.auth_mode());
    // The route's origin, or the MCP endpoint on it (what install sets, so that the metadata's
    // `resource` is the URL clients connect to).
    let matches = |url: &str| {
        let url = url.trim_end_matches('/');
        url == expected || url == format!("https://{host}")
    };
    match config.server_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(url) if matches(url) => Row::pass(id).evidence(format!("server_url = {url:?}")),
        Some(url) => {
            let why = if url.starts_with("http://") {
                "is plain http but the route serves https"
            } else {
                "is not the route's URL"
            };
            Row::fail(id)
                .evidence(format!("server_url = {url:?} {why} ({expected})"))
                .fix(format!(
                    "set server_url = {expected:?}: it is the resource URL OAuth clients are told (re-run `oc mcp-install`)"
                ))
        }
        None => match mode {
            AuthMode::Entra | AuthMode::Oidc if config.trust_proxy_headers != Some(true) => {
                Row::warn(id)
                    .evidence(format!("server_url is not set; behind the edge Route the metadata will name http://{host}"))
                    .fix(format!("set server_url = {expected:?}"))
            }
            AuthMode::Entra | AuthMode::Oidc => Row::pass(id)
                .evidence("server_url not set; trust_proxy_headers = true derives it from X-Forwarded-*"),
            _ => Row::pass(id)
                .evidence(format!("server_url not set: not needed in {mode} mode (no OAuth discovery)")),
        },
    }
}
