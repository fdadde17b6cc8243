//! A browser-like HTTP client: it keeps cookies (its own small jar, which —
//! like a browser on `127.0.0.1`, a secure context — also keeps and sends
//! `Secure` and `__Host-` cookies over plain HTTP), follows no redirects
//! unless asked, sends `Origin` and `Sec-Fetch-Site` on form posts, and puts
//! the CSRF token of the last HTML page it fetched into the forms it posts.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A response, read completely.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text (lossy for binary bodies: use `bytes`).
    pub text: String,
    /// The body as received (PDF, ZIP, CSV).
    pub bytes: Vec<u8>,
}

impl TestResponse {
    /// A header's value as text (the first one).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header(LOCATION.as_str())
    }

    /// The `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.header("x-request-id")
    }

    /// The `csrf_token` of the first form on this page.
    pub fn form_token(&self) -> Option<String> {
        form_token(&self.text)
    }

    /// Whether this is an HTML page.
    pub fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|v| v.starts_with("text/html"))
    }
}

/// The value of the first `name="csrf_token"` input in `html`.
pub fn form_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\"")?;
    // The input's tag: from the `<` before the name to the `>` after it.
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value_end = value_at + tag[value_at..].find('"')?;
    Some(tag[value_at..value_end].to_string())
}

#[derive(Default)]
struct State {
    cookies: BTreeMap<String, String>,
    last_html: Option<String>,
}

/// The client. Clones share the cookie jar.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    default_headers: Vec<(HeaderName, HeaderValue)>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn header(name: &str, value: &str) -> (HeaderName, HeaderValue) {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(n), Ok(v)) => (n, v),
        _ => panic!("invalid header {name}: {value}"),
    }
}

impl Client {
    /// A client for the site at `base` (`http://127.0.0.1:1234`).
    pub fn new(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            default_headers: Vec::new(),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// Sends `name: value` with every request (e.g. `accept-language`).
    pub fn with_header(mut self, name: &str, value: &str) -> Client {
        self.default_headers.push(header(name, value));
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cookie's current value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.state().cookies.get(name).cloned()
    }

    /// Sets a cookie as if the site had set it.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.state()
            .cookies
            .insert(name.to_string(), value.to_string());
    }

    /// Forgets a cookie.
    pub fn remove_cookie(&self, name: &str) {
        self.state().cookies.remove(name);
    }

    /// The CSRF token of the last HTML page fetched.
    pub fn last_form_token(&self) -> Option<String> {
        self.state().last_html.as_deref().and_then(form_token)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, &[], None).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> TestResponse {
        self.send(Method::GET, path, headers, None).await
    }

    /// Submits a form like a browser: adds the `csrf_token` of the last HTML
    /// page fetched, and `Origin` / `Sec-Fetch-Site: same-origin`.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        self.post_form_with(path, fields, &[]).await
    }

    /// As [`Client::post_form`], with extra or overriding headers.
    pub async fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let token = self.last_form_token().unwrap_or_else(|| {
            panic!("post_form({path}): no csrf_token on the last HTML page; fetch a page first")
        });
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf_token") {
            all.push(("csrf_token", &token));
        }
        self.post_form_raw_with(path, &all, headers).await
    }

    /// Posts exactly these fields (no token added), with browser headers.
    pub async fn post_form_raw(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        self.post_form_raw_with(path, fields, &[]).await
    }

    /// As [`Client::post_form_raw`], with extra or overriding headers.
    pub async fn post_form_raw_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let origin = self.base.clone();
        let mut all: Vec<(&str, &str)> =
            vec![("origin", &origin), ("sec-fetch-site", "same-origin")];
        all.retain(|(name, _)| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        all.extend_from_slice(headers);
        self.send(Method::POST, path, &all, Some(fields)).await
    }

    /// Follows a redirect response with a GET (as a browser does after 303).
    pub async fn follow(&self, response: &TestResponse) -> TestResponse {
        let location = response.location().unwrap_or_else(|| {
            panic!("not a redirect: {} {:?}", response.status, response.headers)
        });
        let path = location
            .strip_prefix(&self.base)
            .unwrap_or(location)
            .to_string();
        self.get(&path).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> TestResponse {
        let url = format!("{}{}", self.base, path);
        let mut request = self.http.request(method.clone(), &url);
        for (name, value) in &self.default_headers {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            {
                request = request.header(name, value);
            }
        }
        for (name, value) in headers {
            let (name, value) = header(name, value);
            request = request.header(name, value);
        }
        let cookie_header = {
            let state = self.state();
            state
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !cookie_header.is_empty()
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        {
            request = request.header(COOKIE, cookie_header);
        }
        if let Some(fields) = form {
            request = request.form(fields);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: body: {e}"))
            .to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let response = TestResponse {
            status,
            headers,
            text,
            bytes,
        };
        self.remember(&response);
        response
    }

    fn remember(&self, response: &TestResponse) {
        let mut state = self.state();
        for set_cookie in response.header_all(SET_COOKIE.as_str()) {
            let mut parts = set_cookie.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let expired = parts.any(|attribute| {
                let attribute = attribute.trim().to_ascii_lowercase();
                attribute
                    .strip_prefix("max-age=")
                    .is_some_and(|v| v.trim().parse::<i64>().is_ok_and(|n| n <= 0))
            });
            if expired || value.is_empty() {
                state.cookies.remove(name.trim());
            } else {
                state
                    .cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        if response.is_html() {
            state.last_html = Some(response.text.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::form_token;

    #[test]
    fn finds_the_form_token() {
        let html = r#"<form><input type="hidden" name="csrf_token" value="abc123"><input name="x" value="y"></form>"#;
        assert_eq!(form_token(html).as_deref(), Some("abc123"));
        let reordered = r#"<input value="def" type="hidden" name="csrf_token">"#;
        assert_eq!(form_token(reordered).as_deref(), Some("def"));
        assert_eq!(form_token("<p>no form</p>"), None);
    }
}
