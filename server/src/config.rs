//! Configuration: defaults, then an optional TOML file, then `DOUDI_*` environment variables, then
//! command-line flags. Secrets are wrapped in [`Secret`] so that Debug output never shows them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value that must never reach a log. Debug prints `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The file name of the embedded SQLite database in the data directory (and in a backup made by
/// `doudi backup`).
pub const SQLITE_FILE: &str = "doudi.db";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database and generated keys.
    pub data_dir: PathBuf,
    /// `postgres://…` for deployments; unset means SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// HMAC key for access tokens. Unset: a random key is created once in `data_dir/jwt.key`.
    /// Several server processes behind one load balancer must share it.
    pub jwt_secret: Option<Secret>,
    /// The secret the server's identity-number keys derive from (the key pair phones seal
    /// 身份证号 to, the key of numbers at rest, the keyed hash). Unset: created once in the
    /// database. Every server process of one database must share it, and it must never change.
    pub identity_secret: Option<Secret>,
    /// Lifetime of an access token (seconds).
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token (days).
    pub refresh_token_ttl_days: u64,
    /// Largest JSON or CSV request body the API accepts (bytes).
    pub max_body_bytes: usize,
    /// Failed logins per account within the window before the account is held.
    pub login_max_failures_per_account: u32,
    /// Failed logins per client address within the window before the address is held.
    pub login_max_failures_per_addr: u32,
    /// Rate-limit window (seconds).
    pub login_window_secs: u64,
    /// How long a phone enrolment code (手机登录码) stays valid after an administrator makes it
    /// (seconds; default 24 hours). Unused codes are refused after it.
    pub enrolment_code_ttl_secs: u64,
    /// The address phones reach the server at (`https://doudi.example.gov.cn`), put in the
    /// enrolment QR code. Unset: the scheme and host the console was opened with.
    pub public_url: Option<String>,
    /// Requests taking longer are cut with 408 (seconds).
    pub request_timeout_secs: u64,
    /// A department list's import (API or console) is cut with 408 after this long instead
    /// (seconds): a province's list of a million lines takes minutes.
    pub import_timeout_secs: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// Largest number of rows a region CSV import accepts.
    pub max_region_import_rows: usize,
    /// Largest department list (CSV or XLSX) an import accepts (bytes; docs/MONITORING.md).
    pub max_import_bytes: usize,
    /// Largest number of data lines a department list may have.
    pub max_import_rows: usize,
    /// Photos and signatures: storage and limits (`[blobs]` in the TOML file).
    pub blobs: BlobSettings,
    /// Share of township-approved 特困 visits the county spot-checks (percent, 30–100; TK2021
    /// asks for at least 30). Values below 30 are raised to 30.
    pub spot_check_percent: u32,
    /// The review queue counts matching visits exactly up to this many; beyond, it says "more
    /// than" this many and offers the pages up to it (docs/REVIEW.md, "Queue size").
    pub queue_count_cap: u64,
    /// Lifetime of a web console session (hours).
    pub console_session_hours: u64,
    /// How often `doudi serve` runs the re-check and visit scheduler (minutes; 0 = never, then
    /// run `doudi tasks schedule` from cron instead).
    pub task_schedule_minutes: u64,
    /// Days a stored change keeps its bytes in the change log for incremental pulls; older ones
    /// are compacted every hour (the snapshot holds them; a device that old gets the snapshot).
    /// 0 = never compact.
    pub change_log_days: u64,
    /// Who may read `/metrics`; unset: off for `doudi serve`, loopback for `doudi demo`.
    pub metrics: Option<MetricsAccess>,
    /// The bearer token `/metrics` asks for when `metrics = "token"`.
    pub metrics_token: Option<Secret>,
    /// Log lines as text (default) or as one JSON object each.
    pub log_format: LogFormat,
    /// On shutdown, how long requests already begun (a sync in flight) may take to finish
    /// before they are cut (seconds).
    pub shutdown_grace_secs: u64,
}

/// Who may read `/metrics` (docs/OPERATIONS.md, "Monitoring").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Not served: `/metrics` answers 404.
    Off,
    /// Served to requests with `Authorization: Bearer <metrics_token>`.
    Token,
    /// Served to requests from this machine (a loopback peer) that came through no proxy.
    Loopback,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Where blobs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobStoreKind {
    /// A directory under `data_dir` (the embedded default).
    Local,
    /// S3-compatible object storage (`[blobs.s3]`).
    S3,
}

/// Blob storage and upload limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobSettings {
    pub store: BlobStoreKind,
    /// Required when `store = "s3"`.
    pub s3: Option<S3Settings>,
    /// Largest blob (bytes).
    pub max_blob_bytes: u64,
    /// Largest chunk of one upload request (bytes).
    pub max_chunk_bytes: usize,
    /// Largest width or height of an uploaded image (pixels).
    pub max_image_side: u32,
    /// Largest width × height of an uploaded image.
    pub max_image_pixels: u64,
    /// Most bytes the image decoder may allocate while checking one upload.
    pub max_decode_alloc_bytes: u64,
    /// Unreferenced blobs and abandoned partial uploads younger than this are kept by `doudi blobs gc`.
    pub gc_grace_hours: u64,
}

impl Default for BlobSettings {
    fn default() -> Self {
        BlobSettings {
            store: BlobStoreKind::Local,
            s3: None,
            max_blob_bytes: 20 * 1024 * 1024,
            max_chunk_bytes: 1024 * 1024,
            max_image_side: 10_000,
            max_image_pixels: 40_000_000,
            max_decode_alloc_bytes: 256 * 1024 * 1024,
            gc_grace_hours: 7 * 24,
        }
    }
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// `https://…`; unset means AWS itself (from `region`).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    /// Key prefix inside the bucket (e.g. `doudi/`), so that one bucket can serve several
    /// deployments.
    pub prefix: String,
    /// Allow a plain `http://` endpoint. Loopback endpoints (127.0.0.1, ::1, localhost) are
    /// always allowed.
    pub allow_http: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            jwt_secret: None,
            identity_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            max_body_bytes: 1024 * 1024,
            login_max_failures_per_account: 5,
            login_max_failures_per_addr: 30,
            login_window_secs: 15 * 60,
            enrolment_code_ttl_secs: 24 * 3600,
            public_url: None,
            request_timeout_secs: 30,
            import_timeout_secs: 900,
            trust_forwarded_for: false,
            max_region_import_rows: 200_000,
            max_import_bytes: 32 * 1024 * 1024,
            max_import_rows: 200_000,
            blobs: BlobSettings::default(),
            spot_check_percent: 30,
            queue_count_cap: 10_000,
            console_session_hours: 8,
            task_schedule_minutes: 60,
            change_log_days: 30,
            metrics: None,
            metrics_token: None,
            log_format: LogFormat::Text,
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then the TOML file (if given), then `DOUDI_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.into(),
                    message: e.to_string(),
                })?
            }
            None => Settings::default(),
        };
        s.apply_env(|name| std::env::var(name).ok())?;
        s.check()?;
        Ok(s)
    }

    /// Settings that cannot work together.
    pub fn check(&self) -> Result<(), ConfigError> {
        let token = self.metrics_token.as_ref().map_or("", |t| t.expose());
        if self.metrics == Some(MetricsAccess::Token) && token.len() < 16 {
            return Err(ConfigError::Invalid(
                "metrics = \"token\" needs metrics_token (DOUDI_METRICS_TOKEN) of at least 16 characters".into(),
            ));
        }
        Ok(())
    }

    /// Who may read `/metrics`: the setting, or off.
    pub fn metrics_access(&self) -> MetricsAccess {
        self.metrics.unwrap_or(MetricsAccess::Off)
    }

    /// Apply `DOUDI_*` overrides read through `get` (the environment in production).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.parse().map_err(|e: T::Err| ConfigError::Env {
                name: name.to_string(),
                message: e.to_string(),
            })
        }
        // A setting of a few names (as in the TOML file).
        fn parse_name<T: serde::de::DeserializeOwned>(
            name: &str,
            v: &str,
        ) -> Result<T, ConfigError> {
            use serde::de::value::{Error, StrDeserializer};
            T::deserialize(StrDeserializer::<Error>::new(v)).map_err(|e| ConfigError::Env {
                name: name.to_string(),
                message: e.to_string(),
            })
        }
        if let Some(v) = get("DOUDI_LISTEN") {
            self.listen = parse("DOUDI_LISTEN", &v)?;
        }
        if let Some(v) = get("DOUDI_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("DATABASE_URL").or_else(|| get("DOUDI_DATABASE_URL"))
            && !v.is_empty()
        {
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = get("DOUDI_JWT_SECRET") {
            self.jwt_secret = Some(Secret::new(v));
        }
        if let Some(v) = get("DOUDI_IDENTITY_SECRET") {
            self.identity_secret = Some(Secret::new(v));
        }
        if let Some(v) = get("DOUDI_METRICS") {
            self.metrics = Some(parse_name("DOUDI_METRICS", &v)?);
        }
        if let Some(v) = get("DOUDI_METRICS_TOKEN") {
            self.metrics_token = Some(Secret::new(v));
        }
        if let Some(v) = get("DOUDI_PUBLIC_URL") {
            self.public_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("DOUDI_LOG_FORMAT") {
            self.log_format = parse_name("DOUDI_LOG_FORMAT", &v)?;
        }
        let b = &mut self.blobs;
        if let Some(v) = get("DOUDI_BLOB_STORE") {
            b.store = match v.as_str() {
                "local" => BlobStoreKind::Local,
                "s3" => BlobStoreKind::S3,
                _ => {
                    return Err(ConfigError::Env {
                        name: "DOUDI_BLOB_STORE".into(),
                        message: "expected local or s3".into(),
                    });
                }
            };
        }
        let s3_vars = [
            "DOUDI_S3_ENDPOINT",
            "DOUDI_S3_BUCKET",
            "DOUDI_S3_REGION",
            "DOUDI_S3_ACCESS_KEY_ID",
            "DOUDI_S3_SECRET_ACCESS_KEY",
            "DOUDI_S3_PREFIX",
            "DOUDI_S3_ALLOW_HTTP",
        ];
        if s3_vars.iter().any(|n| get(n).is_some()) {
            let s3 = b.s3.get_or_insert_with(S3Settings::default);
            if let Some(v) = get("DOUDI_S3_ENDPOINT") {
                s3.endpoint = Some(v);
            }
            if let Some(v) = get("DOUDI_S3_BUCKET") {
                s3.bucket = v;
            }
            if let Some(v) = get("DOUDI_S3_REGION") {
                s3.region = v;
            }
            if let Some(v) = get("DOUDI_S3_ACCESS_KEY_ID") {
                s3.access_key_id = Some(Secret::new(v));
            }
            if let Some(v) = get("DOUDI_S3_SECRET_ACCESS_KEY") {
                s3.secret_access_key = Some(Secret::new(v));
            }
            if let Some(v) = get("DOUDI_S3_PREFIX") {
                s3.prefix = v;
            }
            if let Some(v) = get("DOUDI_S3_ALLOW_HTTP") {
                s3.allow_http = parse("DOUDI_S3_ALLOW_HTTP", &v)?;
            }
        }
        // Every other setting: a number or a flag, parsed as its type.
        macro_rules! parsed {
            ($($name:literal => $field:expr),+ $(,)?) => {$(
                if let Some(v) = get($name) {
                    $field = parse($name, &v)?;
                }
            )+};
        }
        parsed! {
            "DOUDI_ACCESS_TOKEN_TTL_SECS" => self.access_token_ttl_secs,
            "DOUDI_REFRESH_TOKEN_TTL_DAYS" => self.refresh_token_ttl_days,
            "DOUDI_MAX_BODY_BYTES" => self.max_body_bytes,
            "DOUDI_LOGIN_MAX_FAILURES_PER_ACCOUNT" => self.login_max_failures_per_account,
            "DOUDI_LOGIN_MAX_FAILURES_PER_ADDR" => self.login_max_failures_per_addr,
            "DOUDI_LOGIN_WINDOW_SECS" => self.login_window_secs,
            "DOUDI_ENROLMENT_CODE_TTL_SECS" => self.enrolment_code_ttl_secs,
            "DOUDI_REQUEST_TIMEOUT_SECS" => self.request_timeout_secs,
            "DOUDI_IMPORT_TIMEOUT_SECS" => self.import_timeout_secs,
            "DOUDI_TRUST_FORWARDED_FOR" => self.trust_forwarded_for,
            "DOUDI_MAX_REGION_IMPORT_ROWS" => self.max_region_import_rows,
            "DOUDI_MAX_IMPORT_BYTES" => self.max_import_bytes,
            "DOUDI_MAX_IMPORT_ROWS" => self.max_import_rows,
            "DOUDI_SPOT_CHECK_PERCENT" => self.spot_check_percent,
            "DOUDI_QUEUE_COUNT_CAP" => self.queue_count_cap,
            "DOUDI_CONSOLE_SESSION_HOURS" => self.console_session_hours,
            "DOUDI_TASK_SCHEDULE_MINUTES" => self.task_schedule_minutes,
            "DOUDI_CHANGE_LOG_DAYS" => self.change_log_days,
            "DOUDI_SHUTDOWN_GRACE_SECS" => self.shutdown_grace_secs,
            "DOUDI_BLOB_MAX_BYTES" => self.blobs.max_blob_bytes,
            "DOUDI_BLOB_MAX_CHUNK_BYTES" => self.blobs.max_chunk_bytes,
            "DOUDI_BLOB_MAX_IMAGE_SIDE" => self.blobs.max_image_side,
            "DOUDI_BLOB_MAX_IMAGE_PIXELS" => self.blobs.max_image_pixels,
            "DOUDI_BLOB_MAX_DECODE_ALLOC_BYTES" => self.blobs.max_decode_alloc_bytes,
            "DOUDI_BLOB_GC_GRACE_HOURS" => self.blobs.gc_grace_hours,
        }
        Ok(())
    }

    /// The database URL in force: the configured one or SQLite under the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(SQLITE_FILE).display()
            ),
        }
    }

    /// The root of the local blob store (`blobs.store = "local"`) and of the upload staging area.
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut s = Settings::default();
        s.apply_env(|n| match n {
            "DATABASE_URL" => Some("postgres://doudi:hunter2@db/doudi".into()),
            "DOUDI_JWT_SECRET" => Some("very-secret-key".into()),
            "DOUDI_S3_SECRET_ACCESS_KEY" => Some("s3-secret-value".into()),
            "DOUDI_S3_ACCESS_KEY_ID" => Some("s3-key-id-value".into()),
            "DOUDI_METRICS_TOKEN" => Some("metrics-token-value".into()),
            _ => None,
        })
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(!dbg.contains("very-secret-key"), "{dbg}");
        assert!(!dbg.contains("s3-secret-value"), "{dbg}");
        assert!(!dbg.contains("s3-key-id-value"), "{dbg}");
        assert!(!dbg.contains("metrics-token-value"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert_eq!(s.database_url(), "postgres://doudi:hunter2@db/doudi");
    }

    /// Every setting a number or a flag has its environment variable (README.md lists them).
    #[test]
    fn every_setting_has_an_environment_variable() {
        let mut s = Settings::default();
        s.apply_env(|n| match n {
            "DOUDI_TRUST_FORWARDED_FOR" => Some("true".into()),
            "DOUDI_BLOB_STORE" | "DOUDI_LISTEN" | "DOUDI_DATA_DIR" => None,
            "DOUDI_METRICS" => Some("loopback".into()),
            "DOUDI_LOG_FORMAT" => Some("json".into()),
            "DOUDI_METRICS_TOKEN" | "DOUDI_PUBLIC_URL" => None,
            n if n.starts_with("DOUDI_S3_") => None,
            n if n.starts_with("DOUDI_") => Some("7".into()),
            _ => None,
        })
        .unwrap();
        let b = &s.blobs;
        assert!(s.trust_forwarded_for);
        assert_eq!(s.metrics, Some(MetricsAccess::Loopback));
        assert_eq!(s.log_format, LogFormat::Json);
        let numbers: [(&str, u64); 24] = [
            ("access_token_ttl_secs", s.access_token_ttl_secs),
            ("refresh_token_ttl_days", s.refresh_token_ttl_days),
            ("max_body_bytes", s.max_body_bytes as u64),
            (
                "login_max_failures_per_account",
                s.login_max_failures_per_account.into(),
            ),
            (
                "login_max_failures_per_addr",
                s.login_max_failures_per_addr.into(),
            ),
            ("login_window_secs", s.login_window_secs),
            ("enrolment_code_ttl_secs", s.enrolment_code_ttl_secs),
            ("request_timeout_secs", s.request_timeout_secs),
            ("import_timeout_secs", s.import_timeout_secs),
            ("max_region_import_rows", s.max_region_import_rows as u64),
            ("max_import_bytes", s.max_import_bytes as u64),
            ("max_import_rows", s.max_import_rows as u64),
            ("spot_check_percent", s.spot_check_percent.into()),
            ("queue_count_cap", s.queue_count_cap),
            ("console_session_hours", s.console_session_hours),
            ("task_schedule_minutes", s.task_schedule_minutes),
            ("change_log_days", s.change_log_days),
            ("shutdown_grace_secs", s.shutdown_grace_secs),
            ("blobs.max_blob_bytes", b.max_blob_bytes),
            ("blobs.max_chunk_bytes", b.max_chunk_bytes as u64),
            ("blobs.max_image_side", b.max_image_side.into()),
            ("blobs.max_image_pixels", b.max_image_pixels),
            ("blobs.max_decode_alloc_bytes", b.max_decode_alloc_bytes),
            ("blobs.gc_grace_hours", b.gc_grace_hours),
        ];
        for (name, value) in numbers {
            assert_eq!(value, 7, "{name}");
        }
    }

    #[test]
    fn metrics_by_token_needs_a_token() {
        let mut s = Settings::default();
        assert_eq!(s.metrics_access(), MetricsAccess::Off);
        s.apply_env(|n| (n == "DOUDI_METRICS").then(|| "token".into()))
            .unwrap();
        assert!(matches!(s.check(), Err(ConfigError::Invalid(_))));
        s.metrics_token = Some(Secret::new("0123456789abcdef"));
        s.check().unwrap();
        let err = s.apply_env(|n| (n == "DOUDI_METRICS").then(|| "open".into()));
        assert!(matches!(err, Err(ConfigError::Env { .. })));
    }

    #[test]
    fn bad_env_value_is_an_error() {
        let mut s = Settings::default();
        let err = s.apply_env(|n| (n == "DOUDI_LISTEN").then(|| "not-an-address".into()));
        assert!(matches!(err, Err(ConfigError::Env { .. })));
    }

    #[test]
    fn toml_file_overrides_defaults_and_rejects_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("doudi-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("doudi.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nlogin_window_secs = 60\n").unwrap();
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.login_window_secs, 60);
        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        assert!(matches!(
            Settings::load(Some(&path)),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
