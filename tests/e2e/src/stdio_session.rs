//! An MCP client over stdio, as a desktop app drives the servers of its configuration:
//! newline-delimited JSON-RPC to a child's stdin, responses from its stdout.

use std::time::Duration;

use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

/// An MCP client over stdio (newline-delimited JSON-RPC), as a desktop app drives the
/// servers of its `mcpServers`: the child is killed when this is dropped.
#[derive(Debug)]
pub struct StdioSession {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    next_id: u64,
    /// What came on stdout besides the responses (notifications, requests, noise).
    pub other: Vec<String>,
}

impl StdioSession {
    pub fn spawn(mut command: Command, what: &str) -> Self {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
            text
        });
        Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            stderr,
            next_id: 1,
            other: Vec::new(),
        }
    }

    /// Send a request and wait (at most `limit`) for the response with its id.
    pub async fn request(
        &mut self,
        method: &str,
        params: serde_json::Value,
        limit: Duration,
    ) -> Result<serde_json::Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + limit;
        // Bounded by the deadline, and by the output: the child's stdout ends when it exits.
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .map_err(|_| format!("no response to {method} within {limit:?}"))?
                .map_err(|e| format!("reading the client's stdout: {e}"))?
                .ok_or_else(|| format!("the client exited before answering {method}"))?;
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(message) if message["id"] == id && message.get("method").is_none() => {
                    return Ok(message);
                }
                _ => self.other.push(line),
            }
        }
    }

    /// Send a notification.
    pub async fn notify(&mut self, method: &str, params: serde_json::Value) -> Result<(), String> {
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    async fn send(&mut self, message: &serde_json::Value) -> Result<(), String> {
        let mut bytes = message.to_string().into_bytes();
        bytes.push(b'\n');
        self.stdin
            .write_all(&bytes)
            .await
            .map_err(|e| format!("writing to the client: {e}"))?;
        self.stdin
            .flush()
            .await
            .map_err(|e| format!("writing to the client: {e}"))
    }

    /// `initialize` then `notifications/initialized`, as every MCP host starts.
    pub async fn initialize(&mut self, limit: Duration) -> Result<serde_json::Value, String> {
        let response = self
            .request(
                "initialize",
                serde_json::json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "oc-mcp-e2e", "version": "0"}
                }),
                limit,
            )
            .await?;
        self.notify("notifications/initialized", serde_json::json!({}))
            .await?;
        Ok(response)
    }

    /// Stop the client (stdin closed, then killed after a grace period) and return its stderr.
    pub async fn close(mut self) -> String {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        tokio::time::timeout(Duration::from_secs(5), self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}
