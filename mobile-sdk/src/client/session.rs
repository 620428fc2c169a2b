//! The session: logging in and out, the tokens (refreshed once when refused) and every
//! authenticated request.

use super::http::server_error;
use super::*;

/// Tokens and account of the logged-in user (sealed in the store).
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Session {
    pub(super) access: String,
    pub(super) refresh: String,
    pub(super) account: AccountInfo,
}

pub(super) const META_SESSION: &str = "session";

pub(super) const META_DEVICE: &str = "device_id";

/// The server's public key for 身份证号 (hexadecimal), from the login answer.
pub(super) const META_IDENTITY_KEY: &str = "identity_key";

pub(super) fn platform() -> &'static str {
    if cfg!(target_os = "android") {
        "android"
    } else if cfg!(target_os = "ios") {
        "ios"
    } else {
        "desktop"
    }
}

#[derive(Deserialize)]
pub(super) struct RegionRef {
    code: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    parent_code: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct AccountView {
    id: String,
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    regions: Vec<RegionRef>,
}

#[derive(Deserialize)]
pub(super) struct TokenResponse {
    access_token: String,
    refresh_token: String,
    device_id: String,
    account: AccountView,
    #[serde(default)]
    identity_key: Option<String>,
}

impl TokenResponse {
    pub(super) fn session(self) -> Session {
        Session {
            access: self.access_token,
            refresh: self.refresh_token,
            account: AccountInfo {
                id: self.account.id,
                username: self.account.username,
                display_name: self.account.display_name,
                role: self.account.role,
                regions: self.account.regions.into_iter().map(|r| r.code).collect(),
                device_id: self.device_id,
            },
        }
    }
}

impl Inner {
    pub(super) fn session(&self) -> Result<Session> {
        self.store()
            .meta::<Session>(META_SESSION)?
            .ok_or(DoudiError::NotLoggedIn)
    }

    /// An authenticated call: on a refused access token, refresh once and retry; on
    /// revocation, wipe the store.
    pub(super) fn authed(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse> {
        let mut refreshed = false;
        loop {
            let session = self.session()?;
            let req = self.request(
                method,
                path,
                content_type,
                body.clone(),
                Some(&session.access),
            );
            let resp = self.send_retrying(&req)?;
            if (200..300).contains(&resp.status) {
                return Ok(resp);
            }
            let err = server_error(&resp);
            match &err {
                DoudiError::Unauthorized { error_code, .. }
                    if !refreshed
                        && matches!(
                            error_code.as_str(),
                            "auth.token_expired" | "auth.token_invalid" | "auth.token_missing"
                        ) =>
                {
                    self.refresh(&session)?;
                    refreshed = true;
                }
                DoudiError::Revoked => {
                    self.store().wipe()?;
                    return Err(DoudiError::Revoked);
                }
                _ => return Err(err),
            }
        }
    }

    /// Exchange the refresh token for a new pair and persist it at once (a refresh token works
    /// only once; losing the new one would end the session).
    pub(super) fn refresh(&self, session: &Session) -> Result<()> {
        let body = serde_json::to_vec(&serde_json::json!({ "refresh_token": session.refresh }))
            .map_err(DoudiError::internal)?;
        let req = self.request(
            "POST",
            "/api/v1/auth/refresh",
            "application/json",
            body,
            None,
        );
        let resp = self.send_retrying(&req)?;
        if resp.status != 200 {
            let err = server_error(&resp);
            if err == DoudiError::Revoked {
                self.store().wipe()?;
            }
            return Err(err);
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&resp.body).map_err(DoudiError::internal)?;
        let new = tokens.session();
        self.store().put_meta(META_SESSION, Some(&new))?;
        Ok(())
    }

    pub(super) fn login(
        &self,
        username: &str,
        password: &str,
        device_name: &str,
    ) -> Result<AccountInfo> {
        let credentials = serde_json::json!({ "username": username, "password": password });
        self.sign_in("/api/v1/auth/login", credentials, device_name)
    }

    /// Log in with a one-time enrolment code instead of a password.
    pub(super) fn enrol(&self, code: &str, device_name: &str) -> Result<AccountInfo> {
        let code = code.trim();
        if code.is_empty() || code.len() > 64 {
            return Err(DoudiError::invalid(
                "登录码",
                "请输入管理员给出的 16 位登录码，或扫描二维码",
                "enter the 16-character code the administrator gave, or scan the QR code",
            ));
        }
        self.sign_in(
            "/api/v1/auth/enrol",
            serde_json::json!({ "code": code }),
            device_name,
        )
    }

    /// A login at `path` with `credentials` (an object) and this phone: on success the session,
    /// the device id and the account's regions are kept; another account's data is cleared.
    fn sign_in(
        &self,
        path: &str,
        mut credentials: serde_json::Value,
        device_name: &str,
    ) -> Result<AccountInfo> {
        let device_id: Option<String> = self.store().meta(META_DEVICE)?;
        let mut device = serde_json::json!({ "name": device_name, "platform": platform() });
        if let Some(id) = &device_id {
            device["id"] = serde_json::json!(id);
        }
        credentials["device"] = device;
        let body = serde_json::to_vec(&credentials).map_err(DoudiError::internal)?;
        let req = self.request("POST", path, "application/json", body, None);
        let resp = self.send_retrying(&req)?;
        if resp.status != 200 {
            return Err(match server_error(&resp) {
                // A revoked phone id: forget it and let the user log in as a new phone.
                DoudiError::Revoked => {
                    self.store().wipe()?;
                    DoudiError::Revoked
                }
                e => e,
            });
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&resp.body).map_err(DoudiError::internal)?;
        let identity_key = tokens
            .identity_key
            .clone()
            .filter(|k| SealKey::parse_hex(k).is_some());
        let regions = crate::regions::PolicyRegions::of_account(
            tokens
                .account
                .regions
                .iter()
                .map(|r| (r.code.as_str(), r.level.as_str(), r.parent_code.as_deref())),
        );
        let session = tokens.session();
        let mut store = self.store();
        let previous: Option<Session> = store.meta(META_SESSION)?;
        let last_account: Option<String> = store.meta("account_id")?;
        let other_account = last_account.is_some_and(|a| a != session.account.id)
            || previous.is_some_and(|p| p.account.id != session.account.id);
        if other_account {
            // Another person's data never stays on the phone of the next one.
            store.clear_data()?;
        }
        store.write(|w| {
            w.put_meta(META_SESSION, Some(&session))?;
            w.put_meta(META_DEVICE, Some(&session.account.device_id))?;
            w.put_meta(crate::regions::META_POLICY_REGIONS, Some(&regions))?;
            if let Some(k) = &identity_key {
                w.put_meta(META_IDENTITY_KEY, Some(k))?;
            }
            w.put_meta("account_id", Some(&session.account.id))
        })?;
        Ok(session.account)
    }

    pub(super) fn logout(&self) -> Result<()> {
        if let Ok(session) = self.session() {
            let req = self.request(
                "POST",
                "/api/v1/auth/logout",
                "application/json",
                Vec::new(),
                Some(&session.access),
            );
            // Best effort: offline, the session simply ends locally.
            let _ = self.transport.send(req);
        }
        self.store().put_meta::<Session>(META_SESSION, None)
    }
}

#[uniffi::export]
impl DoudiClient {
    /// Log in; registers this phone on first login and keeps its device id afterwards.
    pub async fn login(
        &self,
        username: String,
        password: String,
        device_name: String,
    ) -> Result<AccountInfo> {
        let inner = self.inner.clone();
        blocking::spawn(None, move || {
            inner.login(&username, &password, &device_name)
        })
        .await
    }

    /// Log in with a one-time enrolment code (手机登录码) an administrator made for this
    /// account, typed or read from the QR code by [`parse_enrolment_qr`] (open the client with
    /// the QR code's server first). Registers this phone as `login` does. A code used already,
    /// expired or revoked is `DoudiError::Server` with `auth.enrolment_code_used`, `_expired` or
    /// `_revoked` and a message saying to ask for a new one; a wrong code
    /// `auth.enrolment_code_invalid`.
    pub async fn enrol(&self, code: String, device_name: String) -> Result<AccountInfo> {
        let inner = self.inner.clone();
        blocking::spawn(None, move || inner.enrol(&code, &device_name)).await
    }

    /// End the session (on the server too when online). Local records stay for the same user.
    pub async fn logout(&self) -> Result<()> {
        let inner = self.inner.clone();
        blocking::spawn(None, move || inner.logout()).await
    }

    /// The logged-in account, if any.
    pub fn account(&self) -> Result<Option<AccountInfo>> {
        Ok(self
            .inner
            .store()
            .meta::<Session>(META_SESSION)?
            .map(|s| s.account))
    }
}

/// What an enrolment QR code holds (`doudi://enrol?v=1&code=…&server=…`, docs/PROTOCOL.md,
/// "Enrolment"): the server and the code. Anything else is `input.invalid` with a message
/// saying it is not a doudi login code.
#[uniffi::export]
pub fn parse_enrolment_qr(payload: String) -> Result<EnrolmentQr> {
    let not_ours = || {
        DoudiError::invalid(
            "二维码",
            "这不是兜底系统的手机登录二维码，请扫描管理员在审核台生成的二维码",
            "not a doudi enrolment QR code",
        )
    };
    let query = payload
        .trim()
        .strip_prefix("doudi://enrol?")
        .ok_or_else(not_ours)?;
    // The server's address is last and unescaped: everything after `server=`.
    let (params, server) = query.split_once("server=").ok_or_else(not_ours)?;
    let mut version = None;
    let mut code = None;
    for pair in params.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("v", v)) => version = Some(v),
            Some(("code", c)) => code = Some(c),
            _ => {}
        }
    }
    if version != Some("1") {
        return Err(DoudiError::invalid(
            "二维码",
            "二维码版本不受支持，请更新应用",
            "unsupported enrolment QR code version",
        ));
    }
    let code = code.filter(|c| !c.is_empty()).ok_or_else(not_ours)?;
    let server = server.trim_end_matches('/');
    let web = server.starts_with("https://") || server.starts_with("http://");
    if !web || server.contains(char::is_whitespace) {
        return Err(not_ours());
    }
    Ok(EnrolmentQr {
        server_url: server.to_string(),
        code: code.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_qr_payloads_parse() {
        let qr = parse_enrolment_qr(
            "doudi://enrol?v=1&code=K7QM3XRT9PWDH2VB&server=https://doudi.example.gov.cn:8443/"
                .into(),
        )
        .unwrap();
        assert_eq!(qr.server_url, "https://doudi.example.gov.cn:8443");
        assert_eq!(qr.code, "K7QM3XRT9PWDH2VB");
        for bad in [
            "https://example.com",
            "doudi://enrol?v=2&code=A&server=https://x",
            "doudi://enrol?v=1&server=https://x",
            "doudi://enrol?v=1&code=A&server=ftp://x",
        ] {
            let e = parse_enrolment_qr(bad.into()).unwrap_err();
            assert_eq!(e.code(), "input.invalid", "{bad}");
            assert!(!e.message_zh().is_empty());
        }
    }
}
