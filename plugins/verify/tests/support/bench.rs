//! The bench most tests share: a sandbox with the release deployed and serving, the
//! OAuthClient `oc mcp-oauth register openshift` makes, oidc mode, and a verify run with a
//! member's token for the MCP checks and an outsider's for the denial.

use oc_mcp_common::server_config::{OidcSettings, ServerConfig};
use oc_mcp_sandbox::SandboxConfig;
use serde_json::json;

use super::{App, Env, Outcome};

/// The OAuthClient's name, as `oc mcp-oauth register openshift` names it.
pub const OAUTH_CLIENT: &str = "kubernetes-mcp-server";

/// What a member's token proves on a correct deployment.
pub const MCP_PASSES: [&str; 4] = [
    "mcp.initialize",
    "mcp.tools",
    "passthrough.user",
    "passthrough.denied",
];

/// The endpoint's answers without a token, then [`MCP_PASSES`].
pub const UNAUTH_PASSES: [&str; 3] = ["endpoint.health", "unauth.no-token", "unauth.garbage-token"];

/// A member's token and an outsider's, given to verify as `--token-env MEMBER_TOKEN
/// --denied-token-env OUTSIDER_TOKEN`.
pub struct Tokens {
    pub member: String,
    pub outsider: String,
}

impl Tokens {
    const ARGS: [&'static str; 4] = [
        "--token-env",
        "MEMBER_TOKEN",
        "--denied-token-env",
        "OUTSIDER_TOKEN",
    ];

    pub fn env(&self) -> [(&'static str, &str); 2] {
        [
            ("MEMBER_TOKEN", &self.member),
            ("OUTSIDER_TOKEN", &self.outsider),
        ]
    }
}

impl Env {
    /// A default sandbox with `app` deployed and serving.
    pub async fn serving(app: App) -> (Env, App) {
        let env = Env::start(SandboxConfig::default()).await;
        env.deploy_serving(&[&app]).await;
        (env, app)
    }

    /// Deploy every app, then wait until each is ready and served through its Route; the
    /// Routes' names, in order.
    pub async fn deploy_serving(&self, apps: &[&App]) -> Vec<String> {
        for app in apps {
            self.deploy(app).await;
        }
        for app in apps {
            self.wait_ready(app).await;
        }
        let mut routes = Vec::new();
        for app in apps {
            routes.push(self.wait_route(app).await);
            self.wait_serving(app).await;
        }
        routes
    }

    /// The OAuthClient `oc mcp-oauth register openshift` creates for `app`; its redirect URI.
    pub async fn register_oauth_client(&self, app: &App) -> String {
        let redirect = format!("https://{}/oauth/callback", app.host(self.sb.apps_domain()));
        self.oauth_client(OAUTH_CLIENT, std::slice::from_ref(&redirect), &app.role())
            .await;
        redirect
    }

    /// The sandbox's member's and outsider's tokens.
    pub fn tokens(&self) -> Tokens {
        Tokens {
            member: self.token("member"),
            outsider: self.token("outsider"),
        }
    }

    /// The plugin with both tokens and `args`; the report is complete and holds no token.
    pub fn verify_tokens(&self, app: &App, tokens: &Tokens, args: &[&str]) -> Outcome {
        self.verify_tokens_env(app, tokens, args, &[])
    }

    /// [`Env::verify_tokens`] with more environment.
    pub fn verify_tokens_env(
        &self,
        app: &App,
        tokens: &Tokens,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Outcome {
        let args: Vec<&str> = Tokens::ARGS.iter().chain(args).copied().collect();
        let vars: Vec<(&str, &str)> = tokens
            .env()
            .into_iter()
            .chain(env.iter().copied())
            .collect();
        let out = self.verify(app, &args, &vars);
        out.assert_complete();
        out.assert_no_secrets(&[&tokens.member, &tokens.outsider]);
        out
    }

    /// What a cluster with external OIDC shows for `issuer` (the sandbox's own seed says
    /// IntegratedOAuth).
    pub async fn trust_oidc(&self, provider: &str, issuer: &str, audience: &str) {
        let auth: kube::Api<oc_mcp_common::openshift::AuthenticationConfig> =
            kube::Api::all(self.admin().await);
        auth.patch(
            "cluster",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"type": "OIDC", "oidcProviders": [
                {"name": provider, "issuer": {"issuerURL": issuer, "audiences": [audience]}}]}})),
        )
        .await
        .expect("authentication config");
    }
}

impl App {
    /// The server in oidc mode behind its Route for `issuer` and `audience`, trusting the
    /// issuer's CA (mounted from a ConfigMap); `edit` changes the config further.
    pub fn oidc(
        env: &Env,
        issuer: &str,
        audience: &str,
        issuer_ca: &str,
        edit: impl FnOnce(&mut ServerConfig),
    ) -> App {
        let mut app = App::default();
        let settings = OidcSettings::new(issuer, audience)
            .with_scopes(&["openid", "profile", "groups"])
            .with_route_host(app.host(env.sb.apps_domain()));
        let mut config = ServerConfig::oidc::<&str>(&settings, &[]);
        config.certificate_authority = Some("/etc/mcp-issuer-ca/ca.crt".into());
        edit(&mut config);
        app.config = config.to_toml_string();
        app.extra_files.push((
            "/etc/mcp-issuer-ca".into(),
            "mcp-issuer-ca".into(),
            "ca.crt".into(),
            issuer_ca.to_owned(),
        ));
        app
    }
}
