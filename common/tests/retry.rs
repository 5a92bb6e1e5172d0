//! The retry policy against a local API server that fails on purpose: what is retried, what
//! is not, how long it waits, and what the user is told when it gives up.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{Api, api::PostParams};
use oc_mcp_common::{
    Error, ExitCode,
    kube_args::client_with_retry,
    retry::{GaveUp, RetryPolicy},
};

/// What the server does for one request; requests past the script are answered normally.
#[derive(Debug, Clone, Copy)]
enum Step {
    Status(u16),
    TooMany {
        retry_after: u64,
    },
    /// Headers and half the body, then the connection is closed.
    Drop,
}

#[derive(Clone)]
struct Server {
    script: Arc<Mutex<Vec<Step>>>,
    requests: Arc<AtomicU32>,
}

const CONFIG_MAP: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"x","resourceVersion":"1"},"data":{"k":"v"}}"#;
const NAMESPACE: &str =
    r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","resourceVersion":"1"}}"#;

async fn handle(State(server): State<Server>, method: Method) -> Response {
    server.requests.fetch_add(1, Ordering::SeqCst);
    let step = {
        let mut script = server.script.lock().expect("script");
        (!script.is_empty()).then(|| script.remove(0))
    };
    let ok = if method == Method::POST {
        NAMESPACE
    } else {
        CONFIG_MAP
    };
    match step {
        None => ([(header::CONTENT_TYPE, "application/json")], ok).into_response(),
        Some(Step::Status(code)) => {
            let status = StatusCode::from_u16(code).expect("status");
            let reason = if code == 404 {
                "NotFound"
            } else {
                "InternalError"
            };
            let body = format!(
                r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected","reason":"{reason}","code":{code}}}"#
            );
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Some(Step::TooMany { retry_after }) => {
            let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","code":429}"#;
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after.to_string()).expect("header"),
            );
            resp
        }
        Some(Step::Drop) => {
            let half = ok[..ok.len() / 2].to_owned();
            let stream = futures::stream::iter(vec![
                Ok(axum::body::Bytes::from(half)),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped on purpose",
                )),
            ]);
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
    }
}

impl Server {
    async fn start(script: Vec<Step>) -> (Self, kube::Config) {
        let server = Self {
            script: Arc::new(Mutex::new(script)),
            requests: Arc::default(),
        };
        let app = Router::new().fallback(handle).with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url: http::Uri = format!("http://{addr}").parse().expect("url");
        let mut config = kube::Config::new(url);
        config.default_namespace = "x".into();
        (server, config)
    }

    fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The default limits with short backoffs, so the tests do not sleep for long.
fn quick() -> RetryPolicy {
    RetryPolicy {
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        ..RetryPolicy::DEFAULT
    }
}

fn config_maps(config: kube::Config, policy: RetryPolicy) -> Api<ConfigMap> {
    Api::default_namespaced(client_with_retry(config, policy).expect("client"))
}

/// GET `c` with the quick policy, expecting the retries to give up.
async fn get_c_gives_up(config: kube::Config) -> Error {
    config_maps(config, quick())
        .get("c")
        .await
        .expect_err("gives up")
        .into()
}

/// GET `c` with the quick policy: the retries end with the object the server holds.
async fn assert_gets_c_after_retries(config: kube::Config) {
    let cm = config_maps(config, quick())
        .get("c")
        .await
        .expect("retried");
    assert_eq!(cm.data.unwrap_or_default()["k"], "v");
}

#[tokio::test]
async fn a_429_is_retried_after_the_servers_retry_after() {
    let (server, config) = Server::start(vec![Step::TooMany { retry_after: 1 }]).await;
    let started = Instant::now();
    assert_gets_c_after_retries(config).await;
    assert_eq!(server.requests(), 2);
    // A lower bound only: our own backoff is at most 4 ms here, so waiting a whole second
    // can only come from the server's Retry-After.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_retry_after_longer_than_the_cap_stops_at_once_and_says_so() {
    let (server, config) = Server::start(vec![Step::TooMany { retry_after: 3600 }]).await;
    let err = get_c_gives_up(config).await;
    assert_eq!(server.requests(), 1);
    assert_eq!(err.exit_code(), ExitCode::Unreachable);
    let text = err.to_string();
    assert!(text.contains("429 Too Many Requests"), "{text}");
    assert!(text.contains("retry after 3600 s"), "{text}");
    assert!(text.contains("re-run"), "{text}");
}

#[tokio::test]
async fn a_server_that_keeps_failing_exhausts_the_attempts_and_exits_4() {
    let (server, config) = Server::start(vec![Step::Status(503); 100]).await;
    let err = get_c_gives_up(config).await;
    assert_eq!(server.requests(), RetryPolicy::DEFAULT.max_attempts);
    assert_eq!(err.exit_code(), ExitCode::Unreachable);
    let text = err.to_string();
    assert!(text.contains("503 Service Unavailable"), "{text}");
    assert!(
        text.contains("GET /api/v1/namespaces/x/configmaps/c"),
        "{text}"
    );
    assert!(text.contains("gave up after 8 attempts"), "{text}");
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn the_waiting_budget_is_shared_by_every_request_of_a_command() {
    // Each wait is at least 2 ms (half the 4 ms cap); 5 ms of budget allows few retries.
    let policy = RetryPolicy {
        base_backoff: Duration::from_millis(4),
        wait_budget: Duration::from_millis(5),
        ..quick()
    };
    let (server, config) = Server::start(vec![Step::Status(503); 100]).await;
    let api = config_maps(config, policy);
    let first = api.get("c").await.expect_err("budget");
    let after_first = server.requests();
    assert!(after_first < policy.max_attempts, "{after_first}");
    let chain = oc_mcp_common::error::describe_chain(&first);
    assert!(chain.contains("retry budget is spent"), "{chain}");
    // The budget is spent: the next request is tried once and not retried.
    api.get("c").await.expect_err("no budget left");
    assert_eq!(server.requests(), after_first + 1);
}

#[tokio::test]
async fn a_dropped_get_is_retried() {
    let (server, config) = Server::start(vec![Step::Drop, Step::Drop]).await;
    assert_gets_c_after_retries(config).await;
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_dropped_server_side_apply_is_retried() {
    let (server, config) = Server::start(vec![Step::Drop]).await;
    let api = config_maps(config, quick());
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    api.patch(
        "c",
        &kube::api::PatchParams::apply("oc-mcp"),
        &kube::api::Patch::Apply(&body),
    )
    .await
    .expect("retried");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn a_dropped_create_is_not_repeated_because_it_may_have_landed() {
    let (server, config) = Server::start(vec![Step::Drop]).await;
    let namespaces: Api<Namespace> = Api::all(client_with_retry(config, quick()).expect("client"));
    let err: Error = namespaces
        .create(&PostParams::default(), &Namespace::default())
        .await
        .expect_err("not retried")
        .into();
    assert_eq!(server.requests(), 1);
    assert_eq!(err.exit_code(), ExitCode::Unreachable, "{err}");
}

#[tokio::test]
async fn a_503_on_a_create_is_retried_because_the_server_did_not_run_it() {
    let (server, config) = Server::start(vec![Step::Status(503)]).await;
    let namespaces: Api<Namespace> = Api::all(client_with_retry(config, quick()).expect("client"));
    namespaces
        .create(&PostParams::default(), &Namespace::default())
        .await
        .expect("retried");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn errors_that_retrying_cannot_fix_are_returned_at_once() {
    let (server, config) = Server::start(vec![Step::Status(500), Step::Status(404)]).await;
    let api = config_maps(config, quick());
    let err: Error = api.get("c").await.expect_err("500").into();
    assert_eq!(err.exit_code(), ExitCode::Failed);
    assert_eq!(server.requests(), 1);
    assert!(api.get_opt("c").await.expect("404 is None").is_none());
    assert_eq!(server.requests(), 2);
}

#[test]
fn gave_up_is_an_error_the_cli_reports() {
    let gave_up = GaveUp {
        request: "GET /x".into(),
        fault: "503 Service Unavailable".into(),
        attempts: 8,
        reason: oc_mcp_common::retry::GaveUpReason::Attempts,
    };
    let err: Error = kube::Error::Service(Box::new(gave_up)).into();
    assert_eq!(err.exit_code().code(), 4);
}
