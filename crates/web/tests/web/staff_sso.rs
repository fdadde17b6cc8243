//! Staff single sign-on over HTTP (BOF-01) through a real OpenID provider:
//! the npm `oidc-provider` library run with Node on loopback
//! (tools/oidc-provider/server.js, installed by .ci/run). The test drives
//! both sides like a browser: carfin with the test client, the provider's
//! pages with a reqwest client keeping the provider's cookies.

use carfin_app::staff::{auth, Role};
use carfin_testkit::{Client, Demo, TestApp, TestResponse};
use serde_json::json;
use sqlx::Row;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "carfin-back-office";
const CLIENT_SECRET: &str = "a test client secret";

/// The provider's Node process, stopped on drop.
struct Provider {
    child: Child,
    issuer: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn accounts() -> serde_json::Value {
    json!([
        {"sub": "agent-1", "email": "Ann.Agent@corp.example", "name": "Ann Agent", "roles": ["cs-agents", "marketing"]},
        {"sub": "sales-1", "email": "sam.sales@corp.example", "name": "Sam Sales", "roles": ["marketing"]},
    ])
}

/// Starts the provider on `port` for carfin at `base` (its callback).
/// `id_token_claims`: false puts e-mail, name and roles at userinfo only.
fn start_provider(port: u16, base: &str, id_token_claims: bool) -> Provider {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/oidc-provider");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "the OpenID provider is missing: run `npm ci --prefix tools/oidc-provider` (.ci/run does)"
    );
    let issuer = format!("http://127.0.0.1:{port}");
    let mut child = Command::new("node")
        .arg("server.js")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("ISSUER", &issuer)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", format!("{base}/staff/sso/callback"))
        .env("ACCOUNTS", accounts().to_string())
        .env("ID_TOKEN_CLAIMS", if id_token_claims { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for this test");
    let stderr = Arc::new(Mutex::new(String::new()));
    if let Some(mut pipe) = child.stderr.take() {
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
    }
    let stdout = child.stdout.take().unwrap();
    let mut provider = Provider {
        child,
        issuer,
        stderr,
    };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    if line.trim() != format!("listening {port}") {
        let _ = provider.child.wait();
        panic!("the provider did not start: {line:?}\n{}", provider.log());
    }
    provider
}

/// carfin configured for the provider that will listen on `port`, and
/// the provider (started second: it needs carfin's callback address).
async fn spawn_with_provider(id_token_claims: bool) -> (TestApp, Provider) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let t = TestApp::builder()
        .demo(Demo::Reference)
        .config(move |c| {
            c.staff_sso.issuer = issuer;
            c.staff_sso.client_id = CLIENT_ID.into();
            c.staff_sso.client_secret = carfin_app::config::Secret::new(CLIENT_SECRET);
            c.staff_sso.role_map = vec!["cs-agents=customer_service".into()];
        })
        .spawn()
        .await;
    // The provider signs with the real time; carfin checks with its clock.
    t.clock.set(chrono::Utc::now());
    let provider = start_provider(port, &t.url(""), id_token_claims);
    (t, provider)
}

/// A browser's view of the provider: keeps its cookies, follows nothing.
fn idp_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

fn absolute(provider: &Provider, location: &str) -> String {
    if location.starts_with("http") {
        location.to_string()
    } else {
        format!("{}{location}", provider.issuer)
    }
}

async fn redirect_of(response: reqwest::Response, provider: &Provider) -> String {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match location {
        Some(l) if (300..400).contains(&status) => absolute(provider, &l),
        _ => panic!(
            "expected a redirect, got {status}: {}\n{}",
            response.text().await.unwrap_or_default(),
            provider.log()
        ),
    }
}

/// Starts at carfin, signs `login` in at the provider, and answers the
/// URL the provider sends the browser back to (carfin's callback).
async fn through_provider(c: &Client, provider: &Provider, login: &str) -> String {
    let r = c.get("/staff/sso/start").await;
    assert_eq!(r.status, 303, "{}", r.text);
    let authorize = r.location().unwrap().to_string();
    assert!(
        authorize.starts_with(&format!("{}/", provider.issuer)),
        "{authorize}"
    );
    for part in [
        "response_type=code",
        &format!("client_id={CLIENT_ID}"),
        "code_challenge_method=S256",
        "scope=openid+email+profile",
        "nonce=",
        "state=",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let idp = idp_browser();
    let interaction = redirect_of(idp.get(&authorize).send().await.unwrap(), provider).await;
    let form = idp.get(&interaction).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("name=\"login\""));
    let resume = redirect_of(
        idp.post(format!("{interaction}/login"))
            .form(&[("login", login)])
            .send()
            .await
            .unwrap(),
        provider,
    )
    .await;
    redirect_of(idp.get(&resume).send().await.unwrap(), provider).await
}

/// The path and query of a carfin URL.
fn path_of<'a>(t: &TestApp, url: &'a str) -> &'a str {
    let base = t.url("");
    assert!(
        url.starts_with(&format!("{base}/staff/sso/callback?")),
        "{url}"
    );
    &url[base.len()..]
}

fn staff_cookie_name(t: &TestApp) -> &'static str {
    carfin_web::staff::cookie_name(t.app.config().server.secure_cookies)
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

#[track_caller]
fn assert_page(r: &TestResponse, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.is_html(), "{:?}", r.headers);
    assert!(r.text.contains(text), "{text:?} not in {}", r.text);
    assert!(r.text.contains("href=\"/staff/login\""), "{}", r.text);
}

// BOF-01: a staff member signs in through the company's OpenID provider
// (code flow with PKCE); roles come from the mapped claim; the account is
// made and the sign-in audited; the state cannot be used again.
#[tokio::test]
async fn bof01_staff_sign_in_through_a_real_openid_provider() {
    let (t, provider) = spawn_with_provider(true).await;
    let c = t.client().with_header("accept-language", "en");
    let login = c.get("/staff/login").await;
    assert!(login.text.contains("href=\"/staff/sso/start\""));

    let back = through_provider(&c, &provider, "agent-1").await;
    let callback = path_of(&t, &back).to_string();
    assert!(
        callback.contains("code=") && callback.contains("state="),
        "{callback}"
    );
    // Another browser cannot use this callback (login CSRF): refused, and
    // the sign-in stays open for the browser that started it.
    let other = t.client().with_header("accept-language", "en");
    let r = other.get(&callback).await;
    assert_page(&r, 400, "This sign-in is no longer valid");
    assert!(other.cookie(staff_cookie_name(&t)).is_none());

    let r = c.get(&callback).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text, provider.log());
    assert!(r
        .text
        .contains("You are signed in with your company account."));
    assert!(r.text.contains("href=\"/staff\""));
    // The staff cookie is SameSite=Strict: the page itself moves on.
    assert_eq!(r.header("refresh"), Some("0; url=/staff"));
    let token = c.cookie(staff_cookie_name(&t)).expect("staff cookie");
    let home = c.get("/staff").await;
    assert_eq!(home.status, 200, "{}", home.text);
    assert!(home.text.contains("Ann Agent"), "{}", home.text);
    assert!(home.text.contains("Customer service"), "{}", home.text);

    // The account: the mapped role only ("marketing" maps to nothing).
    let session = auth::current(&t.app, &token).await.unwrap().unwrap();
    assert_eq!(session.roles, vec![Role::CustomerService]);
    assert_eq!(session.method, "sso");
    assert_eq!(session.email, "ann.agent@corp.example");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM staff_accounts").await, 1);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'staff.signed_in_sso' \
             AND actor_kind = 'staff' AND role = 'customer_service'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM staff_sso_attempts").await,
        0
    );

    // The same callback again: the state cookie is gone, and even with it
    // back the attempt was used up.
    let state = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .unwrap()
        .to_string();
    let again = t.client().with_header("accept-language", "en");
    assert_page(
        &again.get(&callback).await,
        400,
        "This sign-in is no longer valid",
    );
    for name in ["carfin-staff-sso", "__Host-carfin-staff-sso"] {
        again.set_cookie(name, &state);
    }
    assert_page(
        &again.get(&callback).await,
        400,
        "This sign-in is no longer valid",
    );
    assert!(again.cookie(staff_cookie_name(&t)).is_none());

    // Signing in again finds the same account.
    let c2 = t.client().with_header("accept-language", "en");
    let back = through_provider(&c2, &provider, "agent-1").await;
    assert_eq!(c2.get(path_of(&t, &back)).await.status, 200);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM staff_accounts").await, 1);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'staff.signed_in_sso'"
        )
        .await,
        2
    );
    t.cleanup().await;
}

// BOF-01: whoever the provider knows but whose claim maps to no role is
// refused; so are a tampered or expired state, a cancelled sign-in and an
// ID token whose nonce is not the one carfin sent.
#[tokio::test]
async fn bof01_sso_refusals() {
    let (t, provider) = spawn_with_provider(true).await;

    // No mapped role: 403, no session, no account.
    let c = t.client().with_header("accept-language", "en");
    let back = through_provider(&c, &provider, "sales-1").await;
    let r = c.get(path_of(&t, &back)).await;
    assert_page(&r, 403, "Your account has no back-office role");
    assert!(c.cookie(staff_cookie_name(&t)).is_none());
    let r = c.get("/staff").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/staff/login"));
    assert_eq!(count(&t, "SELECT COUNT(*) FROM staff_accounts").await, 0);

    // Localized.
    let c = t.client().with_header("accept-language", "nl");
    let back = through_provider(&c, &provider, "sales-1").await;
    assert_page(
        &c.get(path_of(&t, &back)).await,
        403,
        "Uw account heeft geen backofficerol",
    );

    // A tampered state.
    let c = t.client().with_header("accept-language", "en");
    let back = through_provider(&c, &provider, "agent-1").await;
    let tampered = path_of(&t, &back).replace("state=", "state=x");
    assert_page(
        &c.get(&tampered).await,
        400,
        "This sign-in is no longer valid",
    );
    let r = c.get("/staff/sso/callback").await;
    assert_page(&r, 400, "This sign-in is no longer valid");

    // Too slow: the attempt lasts 10 minutes.
    let c = t.client().with_header("accept-language", "en");
    let back = through_provider(&c, &provider, "agent-1").await;
    t.clock.advance(chrono::Duration::minutes(11));
    assert_page(
        &c.get(path_of(&t, &back)).await,
        400,
        "This sign-in is no longer valid",
    );
    t.clock.set(chrono::Utc::now());

    // Cancelled at the provider.
    let c = t.client().with_header("accept-language", "en");
    let r = c.get("/staff/sso/start").await;
    let idp = idp_browser();
    let interaction = redirect_of(
        idp.get(r.location().unwrap()).send().await.unwrap(),
        &provider,
    )
    .await;
    let resume = redirect_of(
        idp.get(format!("{interaction}/abort"))
            .send()
            .await
            .unwrap(),
        &provider,
    )
    .await;
    let back = redirect_of(idp.get(&resume).send().await.unwrap(), &provider).await;
    assert!(back.contains("error=access_denied"), "{back}");
    assert_page(
        &c.get(path_of(&t, &back)).await,
        400,
        "Sign-in with the company account did not finish",
    );

    // The ID token's nonce is not the one this attempt sent.
    let c = t.client().with_header("accept-language", "en");
    let back = through_provider(&c, &provider, "agent-1").await;
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("UPDATE staff_sso_attempts SET nonce = 'another nonce'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_page(
        &c.get(path_of(&t, &back)).await,
        403,
        "The company sign-in could not be verified",
    );
    assert!(c.cookie(staff_cookie_name(&t)).is_none());

    assert_eq!(count(&t, "SELECT COUNT(*) FROM staff_accounts").await, 0);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'staff.signed_in_sso'"
        )
        .await,
        0
    );
    t.cleanup().await;
}

// BOF-01: a provider that keeps the ID token small (only `sub`) has the
// e-mail address, name and roles read from its userinfo endpoint.
#[tokio::test]
async fn bof01_sso_reads_userinfo_when_the_id_token_is_thin() {
    let (t, provider) = spawn_with_provider(false).await;
    let c = t.client().with_header("accept-language", "en");
    let back = through_provider(&c, &provider, "agent-1").await;
    let r = c.get(path_of(&t, &back)).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text, provider.log());
    let token = c.cookie(staff_cookie_name(&t)).unwrap();
    let session = auth::current(&t.app, &token).await.unwrap().unwrap();
    assert_eq!(session.roles, vec![Role::CustomerService]);
    assert_eq!(session.display_name, "Ann Agent");
    t.cleanup().await;
}

// BOF-01: without single sign-on configured there is nothing to start.
#[tokio::test]
async fn bof01_sso_is_off_unless_configured() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let c = t.client().with_header("accept-language", "en");
    assert!(!c
        .get("/staff/login")
        .await
        .text
        .contains("/staff/sso/start"));
    assert_eq!(c.get("/staff/sso/start").await.status, 404);
    assert_eq!(
        c.get("/staff/sso/callback?code=x&state=y").await.status,
        404
    );
    t.cleanup().await;
}

// BOF-01: a provider that cannot be reached gives a page saying so.
#[tokio::test]
async fn bof01_sso_provider_unreachable() {
    let port = free_port();
    let t = TestApp::builder()
        .demo(Demo::Reference)
        .config(move |c| {
            c.staff_sso.issuer = format!("http://127.0.0.1:{port}");
            c.staff_sso.client_id = CLIENT_ID.into();
            c.staff_sso.timeout_secs = 2;
        })
        .spawn()
        .await;
    let c = t.client().with_header("accept-language", "en");
    let r = c.get("/staff/sso/start").await;
    assert_page(&r, 503, "The company sign-in is not available");
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM staff_sso_attempts").await,
        0
    );
    t.cleanup().await;
}
