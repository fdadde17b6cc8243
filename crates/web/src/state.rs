//! The router's state: the application plus what the web layer derives from
//! its configuration once, at router build. Passed through axum `State`, so
//! two differently configured apps can run in one process.

use crate::metrics::Metrics;
use axum::extract::FromRef;
use carfin_app::App;
use std::net::IpAddr;
use std::sync::Arc;

/// Shared state of every handler and middleware.
#[derive(Clone)]
pub struct AppState {
    pub(crate) app: App,
    pub(crate) web: Arc<WebSettings>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

pub(crate) struct WebSettings {
    pub(crate) secure_cookies: bool,
    pub(crate) trusted_proxies: Vec<IpAddr>,
    /// `scheme://host[:port]` of `server.public_url`, lower-case.
    pub(crate) public_origin: Option<String>,
    pub(crate) metrics: Metrics,
}

impl AppState {
    /// State for `app`.
    pub fn new(app: App) -> AppState {
        let config = app.config();
        let web = WebSettings {
            secure_cookies: config.server.secure_cookies,
            trusted_proxies: config.trusted_proxies(),
            public_origin: origin_of(&config.server.public_url),
            metrics: Metrics::new(env!("CARGO_PKG_VERSION")),
        };
        AppState {
            app,
            web: Arc::new(web),
        }
    }

    /// The application.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Whether cookies are `Secure` (and the CSRF cookie `__Host-`).
    pub fn secure_cookies(&self) -> bool {
        self.web.secure_cookies
    }

    /// The configured trusted reverse proxies.
    pub fn trusted_proxies(&self) -> &[IpAddr] {
        &self.web.trusted_proxies
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.web.metrics
    }
}

impl FromRef<AppState> for App {
    fn from_ref(state: &AppState) -> App {
        state.app.clone()
    }
}

/// `scheme://authority` of a URL, lower-case, without a path.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://Portal.Example/x?y").as_deref(),
            Some("https://portal.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("nonsense"), None);
    }
}
