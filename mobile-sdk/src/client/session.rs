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
        let device_id: Option<String> = self.store().meta(META_DEVICE)?;
        let mut device = serde_json::json!({ "name": device_name, "platform": platform() });
        if let Some(id) = &device_id {
            device["id"] = serde_json::json!(id);
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "username": username, "password": password, "device": device,
        }))
        .map_err(DoudiError::internal)?;
        let req = self.request("POST", "/api/v1/auth/login", "application/json", body, None);
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
