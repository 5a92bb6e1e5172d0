//! One bounded retry policy for every Kubernetes API request.
//!
//! kube's default client retries 15 times, backs off up to 1000 s and sleeps any `Retry-After`
//! the server sends, so one request can outlive `--request-timeout` by hours. This layer
//! replaces it (the client is built with `default_retry = false`):
//!
//! - 429 and 503 mean the API server did not run the request: retried for every verb.
//! - 504 and a connection lost after the request was sent (reset, dropped mid-response) are
//!   ambiguous: retried only for requests that are safe to repeat (reads, server-side apply,
//!   access and token reviews, `dryRun=All`). A create or delete that may have landed is left
//!   to the caller (a re-run converges: writes are server-side applies).
//! - A connection that never opened, a TLS failure or a timeout is not retried: the user's
//!   `--request-timeout` is already spent, and a wrong address fails at once.
//! - Backoff is exponential with jitter; `Retry-After` is honoured up to [`RetryPolicy::max_retry_after`]
//!   (a longer wait stops the command and says so); every request has at most
//!   [`RetryPolicy::max_attempts`], and a command (one client) waits at most
//!   [`RetryPolicy::wait_budget`] in all and retries at most [`RetryPolicy::retry_budget`] times.
//!
//! Giving up is a [`GaveUp`] error, which the CLI reports as exit 4 (unreachable).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use kube::client::{Body, DynBody};
use tower::{BoxError, Layer, Service, ServiceExt as _};

/// The limits of retrying. [`RetryPolicy::DEFAULT`] is what every plugin uses; the
/// `--request-timeout` help text states these numbers (a test keeps them in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles per retry (with jitter) up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one stops the command.
    pub max_retry_after: Duration,
    /// Total time one client spends waiting between retries.
    pub wait_budget: Duration,
    /// Total retries one client makes.
    pub retry_budget: u32,
}

impl RetryPolicy {
    pub const DEFAULT: Self = Self {
        max_attempts: 8,
        base_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(10),
        wait_budget: Duration::from_secs(30),
        retry_budget: 50,
    };

    /// The backoff before retry number `retry` (1-based): exponential, capped, and "equal
    /// jitter" (half fixed, half random) so that concurrent clients spread out.
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_backoff);
        let half = exp / 2;
        half + half.mul_f64(jitter())
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A number in `0..1`, different on every call (no dependency on a random crate for this).
fn jitter() -> f64 {
    use std::hash::{BuildHasher as _, RandomState};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bits = RandomState::new().hash_one(n) >> 11;
    #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 exactly
    let value = bits as f64 / (1u64 << 53) as f64;
    value
}

/// Why the layer stopped retrying; shown to the user (exit 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    /// `GET /api/v1/namespaces/x`: method and path, never a query or header.
    pub request: String,
    /// The last failure: `503 Service Unavailable`, `connection dropped: ...`.
    pub fault: String,
    pub attempts: u32,
    pub reason: GaveUpReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaveUpReason {
    /// Every attempt of this request failed.
    Attempts,
    /// The command's total waiting or retry budget is spent.
    Budget,
    /// The server asked for a longer wait than we honour.
    RetryAfterTooLong(Duration),
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = RetryPolicy::DEFAULT;
        let Self {
            request,
            fault,
            attempts,
            ..
        } = self;
        match &self.reason {
            GaveUpReason::Attempts => write!(
                f,
                "{request}: gave up after {attempts} attempts, the last one failed with {fault} \
                 (at most {} attempts per request)",
                p.max_attempts
            ),
            GaveUpReason::Budget => write!(
                f,
                "{request}: gave up after {attempts} attempts ({fault}): this command's retry \
                 budget is spent ({} s of waiting, {} retries)",
                p.wait_budget.as_secs(),
                p.retry_budget
            ),
            GaveUpReason::RetryAfterTooLong(wait) => write!(
                f,
                "{request}: the API server answered {fault} and asked to retry after {} s, \
                 longer than the {} s this command waits",
                wait.as_secs(),
                p.max_retry_after.as_secs()
            ),
        }?;
        f.write_str(
            "; the API server is overloaded or the connection is unreliable: re-run the command \
             when it recovers (re-running is safe: it applies what is missing)",
        )
    }
}

impl std::error::Error for GaveUp {}

/// Installs [`RetryService`]; one budget is shared by every request of the client.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
    budget: Arc<Mutex<Spent>>,
}

#[derive(Debug, Default)]
struct Spent {
    waited: Duration,
    retries: u32,
}

impl RetryLayer {
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            budget: Arc::default(),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner: Arc::new(tokio::sync::Mutex::new(inner)),
            policy: self.policy,
            budget: self.budget.clone(),
        }
    }
}

/// See the module documentation.
pub struct RetryService<S> {
    // kube's client puts a buffer in front of us, so calls arrive one at a time; the lock is
    // held only while the inner service accepts a request, never while it is answered.
    inner: Arc<tokio::sync::Mutex<S>>,
    policy: RetryPolicy,
    budget: Arc<Mutex<Spent>>,
}

impl<S> fmt::Debug for RetryService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S> Clone for RetryService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy,
            budget: self.budget.clone(),
        }
    }
}

type Resp = Response<Box<DynBody>>;

impl<S> Service<Request<Body>> for RetryService<S>
where
    S: Service<Request<Body>, Response = Resp, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Resp;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Resp, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness of the inner service is awaited per attempt, under the lock.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.run(req).await })
    }
}

/// What kind of request this is, for deciding what may be repeated.
#[derive(Debug, Clone, Copy)]
struct Kind {
    /// Repeating it after it may have run changes nothing.
    repeatable: bool,
    /// The answer is a stream (watch, follow, upgrade, proxy): never buffered.
    streaming: bool,
}

impl Kind {
    fn of(req: &Request<Body>) -> Self {
        let path = req.uri().path();
        let query = req.uri().query().unwrap_or_default();
        let has = |key: &str| {
            query
                .split('&')
                .any(|kv| kv == format!("{key}=true") || kv == format!("{key}=1"))
        };
        let dry_run = query.split('&').any(|kv| kv == "dryRun=All");
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let method = req.method();
        let repeatable = dry_run
            || matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            // Server-side apply states the whole intent: applying it twice is applying it once.
            || (*method == Method::PATCH && content_type.starts_with("application/apply-patch"))
            // Access and token reviews are answered, not stored.
            || (*method == Method::POST && path.ends_with("reviews"));
        let streaming = has("watch")
            || has("follow")
            || req.headers().contains_key(header::UPGRADE)
            || ["/exec", "/attach", "/portforward", "/proxy"]
                .iter()
                .any(|s| path.ends_with(s) || path.contains(&format!("{s}/")));
        Self {
            repeatable,
            streaming,
        }
    }
}

/// One failed attempt.
struct Failure {
    fault: String,
    retry_after: Option<Duration>,
    may_retry: bool,
}

impl<S> RetryService<S>
where
    S: Service<Request<Body>, Response = Resp, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    async fn run(self, mut req: Request<Body>) -> Result<Resp, BoxError> {
        let kind = Kind::of(&req);
        let what = format!("{} {}", req.method(), req.uri().path());
        let mut attempt = 1;
        loop {
            let again = clone_request(&req);
            let result = self.attempt(req, kind).await;
            let failure = match &result {
                Ok(resp) => status_failure(resp, kind),
                Err(err) => Some(transport_failure(err.as_ref(), kind)),
            };
            let Some(failure) = failure.filter(|f| f.may_retry) else {
                return result;
            };
            let Some(next) = again else {
                return result;
            };
            let gave_up = |reason| GaveUp {
                request: what.clone(),
                fault: failure.fault.clone(),
                attempts: attempt,
                reason,
            };
            if attempt >= self.policy.max_attempts {
                return Err(gave_up(GaveUpReason::Attempts).into());
            }
            let wait = match failure.retry_after {
                Some(wait) if wait > self.policy.max_retry_after => {
                    return Err(gave_up(GaveUpReason::RetryAfterTooLong(wait)).into());
                }
                Some(wait) => wait,
                None => self.policy.backoff(attempt),
            };
            if !self.spend(wait) {
                return Err(gave_up(GaveUpReason::Budget).into());
            }
            tracing::info!(
                "{what}: {}; retry {attempt} of {} in {} ms",
                failure.fault,
                self.policy.max_attempts - 1,
                wait.as_millis()
            );
            tokio::time::sleep(wait).await;
            req = next;
            attempt += 1;
        }
    }

    /// Send once; a non-streaming answer is read whole, so a connection dropped mid-body is
    /// seen here (and can be retried) rather than by the caller.
    async fn attempt(&self, req: Request<Body>, kind: Kind) -> Result<Resp, BoxError> {
        let future = {
            let mut inner = self.inner.lock().await;
            inner.ready().await?;
            inner.call(req)
        };
        let resp = future.await?;
        if kind.streaming {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await?.to_bytes();
        let body = http_body_util::Full::new(bytes).map_err(|never| -> BoxError { match never {} });
        Ok(Response::from_parts(parts, Box::new(body) as Box<DynBody>))
    }

    /// Take `wait` and one retry from the command's budget; false when it is spent.
    fn spend(&self, wait: Duration) -> bool {
        let mut spent = self
            .budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if spent.retries >= self.policy.retry_budget
            || spent.waited + wait > self.policy.wait_budget
        {
            return false;
        }
        spent.retries += 1;
        spent.waited += wait;
        true
    }
}

fn status_failure(resp: &Resp, kind: Kind) -> Option<Failure> {
    let status = resp.status();
    let may_retry = match status {
        // Rejected before it ran (priority and fairness, or an unavailable server).
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => true,
        // A proxy gave up waiting: the request may have run.
        StatusCode::GATEWAY_TIMEOUT => kind.repeatable,
        _ => return None,
    };
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Some(Failure {
        fault: format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_owned(),
        retry_after,
        may_retry,
    })
}

fn transport_failure(err: &(dyn std::error::Error + 'static), kind: Kind) -> Failure {
    let mut never_sent = false;
    let mut timed_out = false;
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(client) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            never_sent |= client.is_connect();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        timed_out |= e.is::<tokio::time::error::Elapsed>();
        source = e.source();
    }
    Failure {
        fault: format!("connection dropped: {}", crate::error::describe_chain(err)),
        retry_after: None,
        // A connection that never opened (wrong address, TLS) will not open on retry; a
        // timeout has spent the user's `--request-timeout`.
        may_retry: kind.repeatable && !never_sent && !timed_out,
    }
}

fn clone_request(req: &Request<Body>) -> Option<Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_states_the_retry_budget_in_force() {
        // The README's common-flags section is where `--request-timeout`'s retries are documented.
        let readme = include_str!("../../README.md").replace('\n', " ");
        let p = RetryPolicy::DEFAULT;
        for fact in [
            format!("at most {} attempts per request", p.max_attempts),
            format!(
                "`Retry-After` is honoured up to {} s",
                p.max_retry_after.as_secs()
            ),
            format!(
                "at most {} s of waiting and {} retries per command",
                p.wait_budget.as_secs(),
                p.retry_budget
            ),
        ] {
            assert!(readme.contains(&fact), "README.md does not say {fact:?}");
        }
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy::DEFAULT;
        for retry in 1..=10 {
            let full = p
                .base_backoff
                .saturating_mul(1 << (retry - 1))
                .min(p.max_backoff);
            let wait = p.backoff(retry);
            assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait:?}");
        }
        assert!(p.backoff(30) <= p.max_backoff);
    }

    #[test]
    fn only_requests_safe_to_repeat_are_repeatable() {
        let req = |method: Method, uri: &str, content_type: &str| {
            let mut r = Request::new(Body::empty());
            *r.method_mut() = method;
            *r.uri_mut() = uri.parse().expect("uri");
            if !content_type.is_empty() {
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, content_type.parse().expect("header"));
            }
            Kind::of(&r)
        };
        let cm = "/api/v1/namespaces/x/configmaps/c";
        assert!(req(Method::GET, cm, "").repeatable);
        assert!(req(Method::PATCH, cm, "application/apply-patch+yaml").repeatable);
        assert!(!req(Method::PATCH, cm, "application/json-patch+json").repeatable);
        assert!(!req(Method::DELETE, cm, "").repeatable);
        assert!(req(Method::DELETE, &format!("{cm}?dryRun=All"), "").repeatable);
        assert!(!req(Method::POST, "/api/v1/namespaces", "").repeatable);
        assert!(
            req(
                Method::POST,
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                ""
            )
            .repeatable
        );
        assert!(req(Method::GET, "/api/v1/pods?watch=true", "").streaming);
        assert!(
            req(
                Method::GET,
                "/api/v1/namespaces/x/pods/p/log?follow=true",
                ""
            )
            .streaming
        );
        assert!(!req(Method::GET, cm, "").streaming);
    }

    #[test]
    fn the_message_names_the_fault_and_what_to_do() {
        let text = GaveUp {
            request: "GET /api/v1/namespaces/x".into(),
            fault: "503 Service Unavailable".into(),
            attempts: 8,
            reason: GaveUpReason::Attempts,
        }
        .to_string();
        assert!(text.contains("503 Service Unavailable"), "{text}");
        assert!(text.contains("gave up after 8 attempts"), "{text}");
        assert!(text.contains("re-run"), "{text}");
        let text = GaveUp {
            request: "GET /x".into(),
            fault: "429 Too Many Requests".into(),
            attempts: 1,
            reason: GaveUpReason::RetryAfterTooLong(Duration::from_secs(120)),
        }
        .to_string();
        assert!(text.contains("retry after 120 s"), "{text}");
    }
}
