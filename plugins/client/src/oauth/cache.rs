//! The token cache: one JSON file per issuer, client and scopes, readable by the owner only
//! (directory 0700, files 0600), in the user's cache directory. Like kubelogin's, it holds the
//! tokens a login returned, so the next `token` needs no browser until the refresh token
//! stops working.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use oc_mcp_common::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The environment variable that moves the cache (tests, shared machines).
pub const CACHE_DIR_ENV: &str = "OC_MCP_CACHE_DIR";

/// The format version written into each file.
const VERSION: u32 = 1;

/// What identifies a login: the issuer, the client and the scopes (in any order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl CacheKey {
    pub fn new(issuer: &str, client_id: &str, scopes: &[String]) -> Self {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            scopes,
        }
    }

    /// The file name: a hash, so no issuer URL or client id has to be a valid path.
    pub fn file_name(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.issuer.as_bytes());
        hasher.update([0]);
        hasher.update(self.client_id.as_bytes());
        hasher.update([0]);
        hasher.update(self.scopes.join(" ").as_bytes());
        let digest = hasher.finalize();
        let hex = digest.iter().take(16).fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        format!("{hex}.json")
    }
}

/// One cached login. `Debug` never shows a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub version: u32,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub access_token: String,
    /// When the access token expires (`expires_in` from the response), seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub obtained_at: u64,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("has_id_token", &self.id_token.is_some())
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Entry {
    pub fn new(key: &CacheKey, access_token: String, obtained_at: u64) -> Self {
        Self {
            version: VERSION,
            issuer: key.issuer.clone(),
            client_id: key.client_id.clone(),
            scopes: key.scopes.clone(),
            access_token,
            access_token_expires_at: None,
            id_token: None,
            refresh_token: None,
            obtained_at,
        }
    }
}

/// The cache directory: `--cache-dir`, else `$OC_MCP_CACHE_DIR`, else the platform's cache
/// directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS,
/// `%LOCALAPPDATA%` on Windows) plus `oc-mcp`.
pub fn default_dir() -> Option<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env(CACHE_DIR_ENV) {
        return Some(dir);
    }
    let home = env("HOME").or_else(|| env("USERPROFILE"));
    let base = if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library").join("Caches"))
    } else if cfg!(windows) {
        env("LOCALAPPDATA")
    } else {
        env("XDG_CACHE_HOME").or_else(|| home.map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("oc-mcp"))
}

/// The cache in one directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join("tokens"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    /// The entry for `key`; `None` when there is none or it cannot be read (a broken file is
    /// a reason to log in again, not to fail).
    pub fn load(&self, key: &CacheKey) -> Option<Entry> {
        let path = self.path(key);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str::<Entry>(&text) {
            Ok(entry)
                if entry.version == VERSION
                    && entry.issuer == key.issuer
                    && entry.client_id == key.client_id
                    && entry.scopes == key.scopes =>
            {
                Some(entry)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(
                    "ignoring the unreadable token cache {}: {e}",
                    path.display()
                );
                None
            }
        }
    }

    /// Write the entry, owner-only, atomically.
    pub fn store(&self, key: &CacheKey, entry: &Entry) -> Result<PathBuf> {
        create_private_dir(&self.dir)?;
        let path = self.path(key);
        let text = serde_json::to_string_pretty(entry)
            .map_err(|e| Error::failed(format!("cannot encode the token cache: {e}")))?;
        let temp = self
            .dir
            .join(format!(".{}.{}.tmp", key.file_name(), std::process::id()));
        let result = (|| -> std::io::Result<()> {
            use std::io::Write as _;
            let _ = std::fs::remove_file(&temp);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut file = options.open(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&temp, &path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(Error::io(
                format!("writing the token cache {}", path.display()),
                e,
            ));
        }
        Ok(path)
    }

    /// Remove one entry; whether there was one.
    pub fn remove(&self, key: &CacheKey) -> Result<bool> {
        remove_file(&self.path(key))
    }

    /// Remove every entry; how many there were.
    pub fn clear(&self) -> Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(format!("reading {}", self.dir.display()), e)),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_cache = path.extension().is_some_and(|e| e == "json" || e == "tmp");
            if is_cache && remove_file(&path)? {
                removed += usize::from(path.extension().is_some_and(|e| e == "json"));
            }
        }
        Ok(removed)
    }
}

/// An exclusive claim on one cache entry while it is refreshed or logged in: a second `token`
/// (clients start several at once) waits, then finds the new token in the cache instead of
/// spending the refresh token a second time. Released on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Cache {
    /// Take the lock of `key`, waiting at most `wait`; a lock older than `stale_after` (or,
    /// on Linux, whose process is gone) is broken.
    pub async fn lock(
        &self,
        key: &CacheKey,
        wait: Duration,
        stale_after: Duration,
    ) -> Result<Lock> {
        create_private_dir(&self.dir)?;
        let stem = key.file_name();
        let stem = stem.trim_end_matches(".json");
        let path = self.dir.join(format!("{stem}.lock"));
        let start = Instant::now();
        loop {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(mut file) => {
                    use std::io::Write as _;
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if lock_is_stale(&path, stale_after) {
                        tracing::warn!("breaking the stale lock {}", path.display());
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if start.elapsed() > wait {
                        return Err(Error::Failed {
                            message: format!(
                                "another `token` is logging in with this client ({} is held)",
                                path.display()
                            ),
                            hint: Some(
                                "finish that login, or remove the lock file if none is running"
                                    .into(),
                            ),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(Error::io(format!("creating {}", path.display()), e));
                }
            }
        }
    }
}

fn lock_is_stale(path: &Path, stale_after: Duration) -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(text) = std::fs::read_to_string(path)
        && let Ok(pid) = text.trim().parse::<u32>()
        && !Path::new(&format!("/proc/{pid}")).exists()
    {
        return true;
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > stale_after)
}

fn remove_file(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    #[cfg(unix)]
    {
        // An existing directory may have been made with a looser mode.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("restricting {}", dir.display()), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lock_is_exclusive_and_stale_locks_are_broken() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::new(dir.path());
        let key = CacheKey::new("https://i", "c", &[]);
        let long = Duration::from_secs(600);
        let held = cache.lock(&key, long, long).await.expect("lock");
        let second = cache.lock(&key, Duration::from_millis(300), long).await;
        assert!(second.is_err(), "the lock is held");
        drop(held);
        let again = cache
            .lock(&key, Duration::from_millis(300), long)
            .await
            .expect("free again");
        drop(again);
        // A lock left by a process that is gone does not block forever.
        let path = dir.path().join("tokens").join(format!(
            "{}.lock",
            key.file_name().trim_end_matches(".json")
        ));
        std::fs::write(&path, "").expect("leftover");
        let taken = cache
            .lock(&key, Duration::from_secs(5), Duration::from_millis(200))
            .await
            .expect("stale lock broken");
        drop(taken);
        assert!(!path.exists());
    }

    #[test]
    fn keys_ignore_scope_order_and_trailing_slashes() {
        let a = CacheKey::new("https://i/", "c", &["b".into(), "a".into()]);
        let b = CacheKey::new("https://i", "c", &["a".into(), "b".into(), "a".into()]);
        assert_eq!(a, b);
        assert_eq!(a.file_name(), b.file_name());
        let other = CacheKey::new("https://i", "c", &["a".into()]);
        assert_ne!(a.file_name(), other.file_name());
        let other = CacheKey::new("https://i", "d", &["a".into(), "b".into()]);
        assert_ne!(a.file_name(), other.file_name());
    }

    #[test]
    fn entries_round_trip_privately_and_debug_hides_tokens() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::new(dir.path());
        let key = CacheKey::new("https://i", "c", &["openid".into()]);
        assert!(cache.load(&key).is_none());
        let mut entry = Entry::new(&key, "secret-access".into(), 10);
        entry.refresh_token = Some("secret-refresh".into());
        let path = cache.store(&key, &entry).expect("store");
        assert_eq!(cache.load(&key), Some(entry.clone()));
        assert!(!format!("{entry:?}").contains("secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(cache.dir())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        // Another key never reads this entry.
        let other = CacheKey::new("https://i", "c", &["email".into()]);
        assert!(cache.load(&other).is_none());
        std::fs::write(&path, "not json").expect("corrupt");
        assert!(cache.load(&key).is_none());
        assert!(cache.remove(&key).expect("remove"));
        assert!(!cache.remove(&key).expect("remove"));
        cache.store(&key, &entry).expect("store");
        cache.store(&other, &entry).expect("store");
        assert_eq!(cache.clear().expect("clear"), 2);
        assert_eq!(cache.clear().expect("clear"), 0);
    }
}
