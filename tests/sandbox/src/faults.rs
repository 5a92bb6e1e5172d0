//! Fault injection for reliability tests: added latency, 500/503, 429 with `Retry-After`,
//! and connections dropped mid-response, per path pattern and verb, on the API server and/or
//! the router. Every rule is bounded (`max` injections, latency at most 30 s) and every
//! injection is logged (the audit entry's `fault` field, and a tracing line).
//!
//! Spec syntax (`serve --faults`, [`parse`]): rules separated by `;`, each a list of
//! `key=value` separated by `,`:
//! `kind=latency|500|503|409|429|drop`, `ms=` (latency), `retry_after=` (seconds, 429),
//! `path=` (glob, `*` any characters; default any), `verb=` (HTTP methods or kube verbs,
//! `|`-separated; default any), `share=` (0..1 of matching requests; default 1),
//! `max=` (default 100), `target=api|router|all` (default api).
//! Example: `kind=503,share=0.5,path=/api/v1/namespaces/*/pods*,verb=list,max=10`.

use std::sync::Mutex;
use std::time::Duration;

const MAX_LATENCY: Duration = Duration::from_secs(30);
const DEFAULT_MAX: u64 = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Delay the response.
    Latency(Duration),
    /// Answer with this status (500, 503, or 409 "the object has been modified") and a
    /// `Status` body.
    Status(u16),
    /// 429 with `Retry-After: <seconds>`.
    TooManyRequests { retry_after: u64 },
    /// Send the headers and part of the body, then close the connection.
    Drop,
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultKind::Latency(d) => write!(f, "latency {}ms", d.as_millis()),
            FaultKind::Status(c) => write!(f, "status {c}"),
            FaultKind::TooManyRequests { retry_after } => {
                write!(f, "status 429 retry-after {retry_after}s")
            }
            FaultKind::Drop => f.write_str("dropped connection"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Api,
    Router,
    All,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// Path glob (`*` matches anything); empty or `*`: every path.
    pub path: String,
    /// HTTP methods (`GET`) or kube verbs (`list`); empty: every verb.
    pub verbs: Vec<String>,
    /// Share of matching requests, 0..=1.
    pub share: f64,
    /// At most this many injections.
    pub max: u64,
    pub target: Target,
}

impl FaultRule {
    pub fn new(kind: FaultKind) -> Self {
        FaultRule {
            kind,
            path: String::new(),
            verbs: Vec::new(),
            share: 1.0,
            max: DEFAULT_MAX,
            target: Target::Api,
        }
    }

    #[must_use]
    pub fn path(mut self, glob: &str) -> Self {
        self.path = glob.into();
        self
    }

    #[must_use]
    pub fn verbs(mut self, verbs: &[&str]) -> Self {
        self.verbs = verbs.iter().map(ToString::to_string).collect();
        self
    }

    #[must_use]
    pub fn share(mut self, share: f64) -> Self {
        self.share = share.clamp(0.0, 1.0);
        self
    }

    #[must_use]
    pub fn max(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    #[must_use]
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    fn applies(&self, target: Target, method: &str, verb: &str, path: &str) -> bool {
        let t = self.target == Target::All || self.target == target;
        let p = self.path.is_empty() || crate::kubelet::glob(&self.path, path);
        let v = self.verbs.is_empty()
            || self
                .verbs
                .iter()
                .any(|x| x.eq_ignore_ascii_case(method) || x.eq_ignore_ascii_case(verb));
        t && p && v
    }
}

/// Parse a `--faults` spec.
pub fn parse(spec: &str) -> Result<Vec<FaultRule>, String> {
    let mut out = Vec::new();
    for rule in spec.split(';').map(str::trim).filter(|r| !r.is_empty()) {
        let mut kind = None;
        let mut ms = 0u64;
        let mut retry_after = 1u64;
        let mut r = FaultRule::new(FaultKind::Drop);
        for kv in rule.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{kv:?} is not key=value (in {rule:?})"))?;
            let num = |v: &str| -> Result<u64, String> {
                v.parse().map_err(|_| format!("{k}={v}: not a number"))
            };
            match k {
                "kind" => kind = Some(v.to_string()),
                "ms" => ms = num(v)?,
                "retry_after" => retry_after = num(v)?,
                "path" => r.path = v.into(),
                "verb" | "verbs" => r.verbs = v.split('|').map(String::from).collect(),
                "share" => {
                    let s: f64 = v.parse().map_err(|_| format!("share={v}: not a number"))?;
                    if !(0.0..=1.0).contains(&s) {
                        return Err(format!("share={v}: must be between 0 and 1"));
                    }
                    r.share = s;
                }
                "max" => r.max = num(v)?,
                "target" => {
                    r.target = match v {
                        "api" => Target::Api,
                        "router" => Target::Router,
                        "all" => Target::All,
                        _ => return Err(format!("target={v}: use api, router or all")),
                    }
                }
                _ => return Err(format!("unknown key {k:?} in {rule:?}")),
            }
        }
        r.kind = match kind.as_deref() {
            Some("latency") => {
                let d = Duration::from_millis(ms);
                if d > MAX_LATENCY {
                    return Err(format!("ms={ms}: at most {} ms", MAX_LATENCY.as_millis()));
                }
                FaultKind::Latency(d)
            }
            Some("500") => FaultKind::Status(500),
            Some("503") => FaultKind::Status(503),
            // A concurrent writer changed the object between read and write.
            Some("409") => FaultKind::Status(409),
            Some("429") => FaultKind::TooManyRequests {
                retry_after: retry_after.min(60),
            },
            Some("drop") => FaultKind::Drop,
            Some(other) => {
                return Err(format!(
                    "kind={other}: use latency, 500, 503, 409, 429 or drop"
                ));
            }
            None => return Err(format!("rule {rule:?} has no kind=")),
        };
        out.push(r);
    }
    Ok(out)
}

/// The active rules and how often each fired.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<(FaultRule, u64)>>,
    total: std::sync::atomic::AtomicU64,
}

impl Faults {
    pub fn new(rules: Vec<FaultRule>) -> Self {
        Faults {
            rules: Mutex::new(rules.into_iter().map(|r| (r, 0)).collect()),
            total: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(FaultRule, u64)>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add(&self, rule: FaultRule) {
        self.lock().push((rule, 0));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many faults have been injected in all (cleared rules included).
    pub fn injected(&self) -> u64 {
        self.total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The fault for a request, if a rule fires (first matching rule with budget left).
    pub fn pick(&self, target: Target, method: &str, verb: &str, path: &str) -> Option<FaultKind> {
        let mut rules = self.lock();
        for (rule, count) in rules.iter_mut() {
            if *count >= rule.max || !rule.applies(target, method, verb, path) {
                continue;
            }
            if rule.share < 1.0 && rand::random::<f64>() >= rule.share {
                continue;
            }
            *count += 1;
            self.total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                "fault injected: {} on {method} {path} ({}/{})",
                rule.kind,
                count,
                rule.max
            );
            return Some(rule.kind.clone());
        }
        None
    }
}

/// The response with its headers and part of its first chunk, then a failure: hyper closes
/// the connection mid-response.
pub async fn dropped(resp: axum::response::Response) -> axum::response::Response {
    use futures::StreamExt as _;
    let (mut parts, body) = resp.into_parts();
    let first = tokio::time::timeout(Duration::from_secs(2), body.into_data_stream().next())
        .await
        .ok()
        .flatten()
        .and_then(Result::ok)
        .unwrap_or_default();
    let half = first.slice(..first.len() / 2);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let stream = futures::stream::iter(vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injected: connection dropped",
        )),
    ]);
    axum::response::Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_pick() {
        let rules =
            parse("kind=503,share=1,path=/api/v1/*,verb=list,max=2; kind=latency,ms=5,target=all")
                .expect("valid");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].kind, FaultKind::Status(503));
        assert_eq!(rules[1].kind, FaultKind::Latency(Duration::from_millis(5)));
        let f = Faults::new(rules);
        assert_eq!(
            f.pick(Target::Api, "GET", "list", "/api/v1/pods"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            f.pick(Target::Api, "GET", "list", "/api/v1/pods"),
            Some(FaultKind::Status(503))
        );
        // Budget spent: the next rule applies.
        assert_eq!(
            f.pick(Target::Api, "GET", "list", "/api/v1/pods"),
            Some(FaultKind::Latency(Duration::from_millis(5)))
        );
        assert_eq!(
            f.pick(Target::Router, "GET", "get", "/mcp"),
            Some(FaultKind::Latency(Duration::from_millis(5)))
        );
        assert_eq!(f.injected(), 4);
        assert_eq!(
            parse("kind=409,verb=patch").expect("409")[0].kind,
            FaultKind::Status(409)
        );
        assert!(parse("kind=boom").is_err());
        assert!(parse("kind=latency,ms=999999").is_err());
        assert!(parse("share=2,kind=500").is_err());
        assert!(parse("path=/x").is_err());
    }
}
