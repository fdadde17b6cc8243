//! The Adyen-compatible provider simulator (PAY-05) over real HTTP: the
//! Checkout API through carfin's real Adyen client, the hosted payment page
//! through a browser-like client, and notifications delivered to a fake
//! webhook started by each test (`server.public_url` points at it, so the
//! simulator's `{public_url}/webhooks/adyen` is that server). carfin's own
//! webhook is tested with the checkout, not here.
// Test code: helpers may panic like the tests they serve.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use axum::http::HeaderMap;
use carfin_app::config::{Config, Secret};
use carfin_app::payments::adyen::{
    verify, Checkout, NotificationItem, NotificationRequest, ProviderError, SessionAmount,
    SessionRequest, SessionResponse,
};
use carfin_app::Clock;
use carfin_testkit::{Demo, TestApp};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API_KEY: &str = "simulator-test-api-key";
const MERCHANT: &str = "CarfinSimulatorTest";
const HMAC_KEY: &str = "2E4FD3400833B3504145184EB82FB44F41F173680B637050C46D6617374FD1A0";
const WEBHOOK_USER: &str = "simulator";
const WEBHOOK_PASSWORD: &str = "s3cret-pass";
/// `Basic ` + base64("simulator:s3cret-pass").
const BASIC_AUTH: &str = "Basic c2ltdWxhdG9yOnMzY3JldC1wYXNz";

/// One request the fake webhook received.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    authorization: Option<String>,
    body: String,
}

impl Received {
    fn item(&self) -> NotificationItem {
        let request: NotificationRequest = serde_json::from_str(&self.body).unwrap();
        assert_eq!(request.live, "false");
        assert_eq!(request.items.len(), 1, "{}", self.body);
        request.items.into_iter().next().unwrap().item
    }
}

/// A fake webhook: answers 500 to its first `failures` requests, then
/// `[accepted]`, and records every request.
struct Hook {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Hook {
    async fn start(failures: usize) -> Hook {
        use axum::http::StatusCode;
        use axum::routing::post;
        let received = Arc::new(Mutex::new(Vec::<Received>::new()));
        let seen = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/webhooks/adyen",
            post(move |headers: HeaderMap, body: String| {
                let seen = Arc::clone(&seen);
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Received {
                        at: Instant::now(),
                        authorization: headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(String::from),
                        body,
                    });
                    if seen.len() <= failures {
                        (StatusCode::INTERNAL_SERVER_ERROR, "try again".to_string())
                    } else {
                        (StatusCode::OK, "[accepted]".to_string())
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hook {
            base: format!("http://{address}"),
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests arrived (at most 20 s).
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} notifications, got {received:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// carfin with the simulator, its webhook being `hook`.
async fn spawn(hook: &Hook, configure: impl FnOnce(&mut Config) + Send + 'static) -> TestApp {
    let public_url = hook.base.clone();
    TestApp::builder()
        .demo(Demo::Reference)
        .config(move |c| {
            c.payments.provider = "simulator".into();
            c.payments.api_key = Secret::new(API_KEY);
            c.payments.merchant_account = MERCHANT.into();
            c.payments.hmac_key = Secret::new(HMAC_KEY);
            c.server.public_url = public_url;
            configure(c);
        })
        .spawn()
        .await
}

/// The real Adyen client, pointed at the simulator by its base URL.
fn checkout(t: &TestApp, api_key: &str) -> Checkout {
    let base = t.app.config().payments.checkout_base(&t.url(""));
    assert_eq!(base, t.url("/simulator/adyen/checkout/v71"));
    Checkout::new(&base, api_key, Duration::from_secs(10)).unwrap()
}

fn session_request(t: &TestApp, reference: &str, locale: &str, country: &str) -> SessionRequest {
    SessionRequest {
        merchant_account: MERCHANT.into(),
        amount: SessionAmount {
            currency: "EUR".into(),
            value: 12345,
        },
        reference: reference.into(),
        return_url: t.url("/my/payments/return?payment=42"),
        shopper_locale: locale.into(),
        country_code: country.into(),
        mode: "hosted".into(),
        expires_at: (t.clock.now() + chrono::Duration::hours(1)).to_rfc3339(),
        shopper_statement: "Carfin invoice".into(),
    }
}

/// The path of a session's page (its URL is under `server.public_url`,
/// here the fake webhook's address).
fn page_path(hook: &Hook, session: &SessionResponse) -> String {
    session
        .url
        .strip_prefix(&hook.base)
        .unwrap_or_else(|| panic!("page URL {} not under {}", session.url, hook.base))
        .to_string()
}

/// A raw HTTP/1.1 request (JSON body, any headers) → status and body.
async fn raw(
    t: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let address = t.address;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        String::from_utf8(answer).unwrap()
    })
    .await
    .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn hmac_key() -> Vec<u8> {
    (0..HMAC_KEY.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&HMAC_KEY[i..i + 2], 16).unwrap())
        .collect()
}

/// The session's redirect query after acting: (sessionId, sessionResult).
fn redirect_query<'a>(location: &'a str, return_url: &str) -> (&'a str, &'a str) {
    let query = location
        .strip_prefix(return_url)
        .unwrap_or_else(|| panic!("{location} does not start with {return_url}"))
        .strip_prefix('&')
        .unwrap_or_else(|| panic!("no & in {location}"));
    let mut id = None;
    let mut result = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sessionId", v)) => id = Some(v),
            Some(("sessionResult", v)) => result = Some(v),
            _ => panic!("unexpected {pair} in {location}"),
        }
    }
    (id.unwrap(), result.unwrap())
}

// PAY-05: carfin's real Adyen client creates a session at the simulator and
// its URL serves the hosted page, marked as a simulator and written in the
// shopper's language; the API key is required and bad requests are refused
// with Adyen's error shapes.
#[tokio::test]
async fn pay05_sessions_via_the_real_client_and_the_hosted_page() {
    let hook = Hook::start(0).await;
    let t = spawn(&hook, |_| {}).await;
    let client = checkout(&t, API_KEY);

    let session = client
        .create_session(&session_request(&t, "INV-2026-0001", "en-GB", "GB"), "k-1")
        .await
        .unwrap();
    assert!(session.id.starts_with("CS"), "{session:?}");
    assert_eq!(
        session.url,
        format!("{}/simulator/adyen/pay/{}", hook.base, session.id)
    );
    assert_eq!(session.reference, "INV-2026-0001");
    assert!(!session.session_data.is_empty());
    assert!(!session.expires_at.is_empty());
    let status = client.session_status(&session.id, "").await.unwrap();
    assert_eq!(status.status, "active");

    let browser = t.client();
    let page = browser.get(&page_path(&hook, &session)).await;
    assert_eq!(page.status, 200);
    assert!(page.is_html());
    let html = &page.text;
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("Payment simulator — no real money"));
    assert_eq!(html.matches("<h1").count(), 1);
    assert!(html.contains(MERCHANT));
    assert!(html.contains("INV-2026-0001"));
    assert!(html.contains("€123.45"));
    assert!(html.contains("name=\"csrf_token\""));
    for (id, label) in [
        ("method-ideal", "iDEAL"),
        ("method-bcmc", "Bancontact"),
        ("method-visa", "Visa card"),
    ] {
        assert!(
            html.contains(&format!("<label for=\"{id}\">{label}</label>")),
            "{id}"
        );
    }
    assert!(html.contains("value=\"visa\" checked"), "GB pays by card");
    for action in ["pay", "refuse", "cancel"] {
        assert!(html.contains(&format!("name=\"action\" value=\"{action}\"")));
    }
    assert!(html.contains(">Pay €123.45</button>"));

    // Dutch and French shoppers get their language and their usual method.
    let nl = client
        .create_session(&session_request(&t, "INV-NL", "nl-NL", "NL"), "k-nl")
        .await
        .unwrap();
    let html = browser.get(&page_path(&hook, &nl)).await.text;
    assert!(html.contains("<html lang=\"nl\">"));
    assert!(html.contains("Betaalsimulator — geen echt geld"));
    assert!(html.contains("€ 123,45 betalen"));
    assert!(html.contains("value=\"ideal\" checked"));
    let fr = client
        .create_session(&session_request(&t, "INV-FR", "fr-BE", "BE"), "k-fr")
        .await
        .unwrap();
    let html = browser.get(&page_path(&hook, &fr)).await.text;
    assert!(html.contains("<html lang=\"fr\">"));
    assert!(html.contains("Simulateur de paiement — pas d’argent réel"));
    assert!(html.contains("Payer 123,45\u{a0}€"));
    assert!(html.contains("value=\"bcmc\" checked"));

    // An unknown session has no page and no status.
    assert_eq!(
        browser
            .get("/simulator/adyen/pay/CSNOSUCHSESSION")
            .await
            .status,
        404
    );
    let (status, body) = raw(
        &t,
        "GET",
        "/simulator/adyen/checkout/v71/sessions/CSNOSUCHSESSION?sessionResult=x",
        &[("X-API-Key", API_KEY)],
        "",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(parse(&body)["status"], 404);

    // Without the right API key: 401, Adyen's body.
    let wrong = checkout(&t, "not-the-key");
    assert_eq!(
        wrong
            .create_session(&session_request(&t, "INV-X", "en-GB", "GB"), "k-x")
            .await,
        Err(ProviderError::Refused(401))
    );
    assert_eq!(
        wrong.session_status(&session.id, "").await,
        Err(ProviderError::Refused(401))
    );
    let body = serde_json::to_string(&session_request(&t, "INV-X", "en-GB", "GB")).unwrap();
    for headers in [vec![], vec![("X-API-Key", "not-the-key")]] {
        let (status, answer) = raw(
            &t,
            "POST",
            "/simulator/adyen/checkout/v71/sessions",
            &headers,
            &body,
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            parse(&answer),
            json!({"status":401,"errorCode":"000","message":"HTTP Status Response - Unauthorized","errorType":"security"})
        );
    }

    // Invalid bodies: 422 with Adyen's validation shape.
    let mut zero = session_request(&t, "INV-0", "en-GB", "GB");
    zero.amount.value = 0;
    assert_eq!(
        client.create_session(&zero, "k-zero").await,
        Err(ProviderError::Refused(422))
    );
    let good: Value = serde_json::from_str(&body).unwrap();
    for (field, bad) in [
        ("merchantAccount", json!("SomebodyElse")),
        ("amount", json!({"value": 100, "currency": "euro"})),
        ("reference", json!("")),
        ("returnUrl", json!("javascript:alert(1)")),
    ] {
        let mut request = good.clone();
        request[field] = bad;
        let (status, answer) = raw(
            &t,
            "POST",
            "/simulator/adyen/checkout/v71/sessions",
            &[("X-API-Key", API_KEY)],
            &request.to_string(),
        )
        .await;
        assert_eq!(status, 422, "{field}: {answer}");
        let answer = parse(&answer);
        assert_eq!(answer["status"], 422);
        assert_eq!(answer["errorType"], "validation");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    t.cleanup().await;
}

// PAY-05, PAY-04: a retried session request with the same Idempotency-Key
// gets the same session back (no second one); the key with another request
// is refused.
#[tokio::test]
async fn pay05_pay04_idempotency_key_gives_the_same_session() {
    let hook = Hook::start(0).await;
    let t = spawn(&hook, |_| {}).await;
    let client = checkout(&t, API_KEY);
    let request = session_request(&t, "INV-IDEM", "en-GB", "GB");

    let first = client.create_session(&request, "idem-1").await.unwrap();
    let again = client.create_session(&request, "idem-1").await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.url, first.url);
    assert_eq!(again, first);
    let other = client.create_session(&request, "idem-2").await.unwrap();
    assert_ne!(other.id, first.id, "a new key is a new session");

    let mut changed = request.clone();
    changed.amount.value += 1;
    assert_eq!(
        client.create_session(&changed, "idem-1").await,
        Err(ProviderError::Refused(422))
    );
    // The session of the key is untouched: still its amount, still open.
    let html = t.client().get(&page_path(&hook, &first)).await.text;
    assert!(html.contains("€123.45"));
    assert_eq!(
        client.session_status(&first.id, "").await.unwrap().status,
        "active"
    );
    t.cleanup().await;
}

// PAY-05: pay, refuse and cancel on the hosted page send the browser back
// to the returnUrl with sessionId and sessionResult; the session's status
// tells the outcome; acting twice is refused; paying and refusing send a
// signed AUTHORISATION, cancelling sends nothing.
#[tokio::test]
async fn pay05_pay_refuse_and_cancel_redirect_back_and_notify() {
    let hook = Hook::start(0).await;
    let t = spawn(&hook, |_| {}).await;
    let client = checkout(&t, API_KEY);
    let browser = t.client();
    let key = hmac_key();

    let mut results = Vec::new();
    for (reference, action, method, expected) in [
        ("INV-PAY", "pay", "ideal", "completed"),
        ("INV-REFUSE", "refuse", "visa", "refused"),
        ("INV-CANCEL", "cancel", "bcmc", "canceled"),
    ] {
        let request = session_request(&t, reference, "en-GB", "GB");
        let session = client.create_session(&request, reference).await.unwrap();
        let path = page_path(&hook, &session);
        let open = browser.get(&path).await;
        // The form needs its CSRF token like every other form.
        let forged = browser
            .post_form_raw(&path, &[("action", action), ("method", method)])
            .await;
        assert_eq!(forged.status, 403);
        assert_eq!(
            client.session_status(&session.id, "").await.unwrap().status,
            "active"
        );

        let answer = browser
            .post_form(&path, &[("action", action), ("method", method)])
            .await;
        assert_eq!(answer.status, 303, "{action}: {}", answer.text);
        let location = answer.location().unwrap();
        let (id, result) = redirect_query(location, &request.return_url);
        assert_eq!(id, session.id);
        assert!(result.len() >= 20, "an opaque sessionResult: {result}");
        results.push(result.to_string());
        let status = client.session_status(&session.id, result).await.unwrap();
        assert_eq!(status.id, session.id);
        assert_eq!(status.status, expected, "{action}");

        // Acting again (say, from a second tab) is refused; the page says
        // the session is finished.
        let token = open.form_token().unwrap();
        let twice = browser
            .post_form_raw(
                &path,
                &[
                    ("action", "pay"),
                    ("method", "visa"),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(twice.status, 409, "{action} twice");
        assert!(twice.text.contains("This payment session is finished"));
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("This payment session is finished"));
        assert!(!page.text.contains("name=\"action\""));
        assert_eq!(
            client
                .session_status(&session.id, result)
                .await
                .unwrap()
                .status,
            expected,
            "unchanged"
        );
    }
    assert_ne!(results[0], results[1]);

    // Exactly two notifications: the payment and the refusal.
    let received = hook.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received_now = hook.received();
    assert_eq!(
        received_now.len(),
        2,
        "cancel sends nothing: {received_now:?}"
    );
    let mut items: Vec<NotificationItem> = received.iter().map(Received::item).collect();
    items.sort_by(|a, b| a.merchant_reference.cmp(&b.merchant_reference));
    let (paid, refused) = (&items[0], &items[1]);
    for item in [paid, refused] {
        assert_eq!(verify(&key, item), Ok(()), "signed with the HMAC key");
        assert_eq!(item.event_code, "AUTHORISATION");
        assert_eq!(item.merchant_account_code, MERCHANT);
        assert_eq!(item.amount.as_ref().unwrap().value, Some(12345));
        assert_eq!(item.amount.as_ref().unwrap().currency, "EUR");
        assert_eq!(item.event_date, "2026-03-02T09:00:00+00:00");
        assert_eq!(item.psp_reference.len(), 16);
        assert!(item
            .psp_reference
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    }
    assert_eq!(paid.merchant_reference, "INV-PAY");
    assert_eq!(paid.success, "true");
    assert_eq!(paid.payment_method, "ideal");
    assert_eq!(refused.merchant_reference, "INV-REFUSE");
    assert_eq!(refused.success, "false");
    assert_eq!(refused.reason, "Refused");
    assert_ne!(paid.psp_reference, refused.psp_reference);
    // Without Basic credentials configured, none are sent.
    assert!(received.iter().all(|r| r.authorization.is_none()));
    t.cleanup().await;
}

// PAY-05: a session not acted on before its expiresAt is expired: the page
// says so instead of offering the buttons, and acting is refused.
#[tokio::test]
async fn pay05_expired_session_offers_nothing() {
    let hook = Hook::start(0).await;
    let t = spawn(&hook, |_| {}).await;
    let client = checkout(&t, API_KEY);
    let session = client
        .create_session(&session_request(&t, "INV-LATE", "nl-BE", "BE"), "late")
        .await
        .unwrap();
    let path = page_path(&hook, &session);
    let browser = t.client();
    let token = browser.get(&path).await.form_token().unwrap();
    t.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        client.session_status(&session.id, "").await.unwrap().status,
        "expired"
    );
    let page = browser.get(&path).await;
    assert!(page.text.contains("Deze betaalsessie is verlopen"));
    assert!(!page.text.contains("name=\"action\""));
    let late = browser
        .post_form_raw(
            &path,
            &[
                ("action", "pay"),
                ("method", "bcmc"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(late.status, 409);
    assert!(late.text.contains("Deze betaalsessie is verlopen"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hook.received().is_empty());
    t.cleanup().await;
}

// PAY-05: a webhook that fails gets the notification again with growing
// pauses until it answers [accepted]; every attempt is signed with the
// HMAC key and carries the configured Basic credentials.
#[tokio::test]
async fn pay05_delivery_retries_until_accepted() {
    let hook = Hook::start(2).await;
    let t = spawn(&hook, |c| {
        c.payments.webhook_username = WEBHOOK_USER.into();
        c.payments.webhook_password = Secret::new(WEBHOOK_PASSWORD);
    })
    .await;
    let client = checkout(&t, API_KEY);
    let session = client
        .create_session(&session_request(&t, "INV-RETRY", "en-GB", "GB"), "retry")
        .await
        .unwrap();
    let path = page_path(&hook, &session);
    let browser = t.client();
    browser.get(&path).await;
    let started = Instant::now();
    let answer = browser
        .post_form(&path, &[("action", "pay"), ("method", "visa")])
        .await;
    assert_eq!(answer.status, 303);
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "the redirect does not wait for the delivery"
    );

    let received = hook.wait_for(3).await;
    // Accepted at the third attempt: no fourth.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.received().len(), 3);
    let key = hmac_key();
    for attempt in &received {
        assert_eq!(attempt.authorization.as_deref(), Some(BASIC_AUTH));
        let item = attempt.item();
        assert_eq!(verify(&key, &item), Ok(()));
        assert_eq!(item.event_code, "AUTHORISATION");
        assert_eq!(item.merchant_reference, "INV-RETRY");
        assert_eq!(item.payment_method, "visa");
    }
    assert_eq!(received[0].body, received[1].body, "the same notification");
    assert_eq!(received[1].body, received[2].body);
    let first_pause = received[1].at - received[0].at;
    let second_pause = received[2].at - received[1].at;
    assert!(first_pause >= Duration::from_millis(450), "{first_pause:?}");
    assert!(
        second_pause >= Duration::from_millis(950),
        "{second_pause:?}"
    );
    t.cleanup().await;
}

// PAY-05: refunds and cancels (Adyen's Checkout endpoints) and the
// simulator's chargebacks answer `received` and send REFUND, CANCELLATION
// and CHARGEBACK notifications naming the payment.
#[tokio::test]
async fn pay05_refunds_cancels_and_chargebacks_notify() {
    let hook = Hook::start(0).await;
    let t = spawn(&hook, |_| {}).await;
    let client = checkout(&t, API_KEY);
    let session = client
        .create_session(&session_request(&t, "INV-MOD", "en-GB", "GB"), "mod")
        .await
        .unwrap();
    let path = page_path(&hook, &session);
    let browser = t.client();
    browser.get(&path).await;
    browser
        .post_form(&path, &[("action", "pay"), ("method", "ideal")])
        .await;
    let payment = hook.wait_for(1).await[0].item();
    let psp = payment.psp_reference.clone();
    let key = hmac_key();
    let auth = [("X-API-Key", API_KEY)];

    let refund = json!({"merchantAccount": MERCHANT, "amount": {"value": 2345, "currency": "EUR"}, "reference": "REFUND-1"}).to_string();
    let refunds = format!("/simulator/adyen/checkout/v71/payments/{psp}/refunds");
    let (status, body) = raw(&t, "POST", &refunds, &auth, &refund).await;
    assert_eq!(status, 201, "{body}");
    let answer = parse(&body);
    assert_eq!(answer["status"], "received");
    assert_eq!(answer["paymentPspReference"], psp.as_str());
    let refund_psp = answer["pspReference"].as_str().unwrap().to_string();
    assert_ne!(refund_psp, psp);
    let item = hook.wait_for(2).await[1].item();
    assert_eq!(verify(&key, &item), Ok(()));
    assert_eq!(item.event_code, "REFUND");
    assert_eq!(item.success, "true");
    assert_eq!(item.psp_reference, refund_psp);
    assert_eq!(item.original_reference, psp);
    assert_eq!(item.merchant_reference, "INV-MOD");
    assert_eq!(item.amount.as_ref().unwrap().value, Some(2345));

    let cancels = format!("/simulator/adyen/checkout/v71/payments/{psp}/cancels");
    let cancel = json!({"merchantAccount": MERCHANT, "reference": "CANCEL-1"}).to_string();
    let (status, body) = raw(&t, "POST", &cancels, &auth, &cancel).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(parse(&body)["paymentPspReference"], psp.as_str());
    let item = hook.wait_for(3).await[2].item();
    assert_eq!(verify(&key, &item), Ok(()));
    assert_eq!(item.event_code, "CANCELLATION");
    assert_eq!(item.original_reference, psp);
    assert_eq!(item.merchant_reference, "INV-MOD");

    let chargebacks = format!("/simulator/adyen/checkout/v71/chargebacks/{psp}");
    let (status, body) = raw(&t, "POST", &chargebacks, &auth, "").await;
    assert_eq!(status, 201, "{body}");
    let item = hook.wait_for(4).await[3].item();
    assert_eq!(verify(&key, &item), Ok(()));
    assert_eq!(item.event_code, "CHARGEBACK");
    assert_eq!(item.success, "true");
    assert_eq!(item.original_reference, psp);
    assert_eq!(item.merchant_reference, "INV-MOD");
    assert_eq!(
        item.amount.as_ref().unwrap().value,
        Some(12345),
        "the full amount"
    );
    let partial = json!({"amount": {"value": 1000, "currency": "EUR"}}).to_string();
    let (status, _) = raw(&t, "POST", &chargebacks, &auth, &partial).await;
    assert_eq!(status, 201);
    let item = hook.wait_for(5).await[4].item();
    assert_eq!(item.amount.as_ref().unwrap().value, Some(1000));

    // Unknown payments, and no API key.
    for path in [
        "/simulator/adyen/checkout/v71/payments/NOSUCHPAYMENT000/refunds",
        "/simulator/adyen/checkout/v71/payments/NOSUCHPAYMENT000/cancels",
        "/simulator/adyen/checkout/v71/chargebacks/NOSUCHPAYMENT000",
    ] {
        let body = if path.ends_with("refunds") {
            &refund
        } else {
            &cancel
        };
        let (status, answer) = raw(&t, "POST", path, &auth, body).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert_eq!(parse(&answer)["status"], 404);
    }
    let (status, _) = raw(&t, "POST", &refunds, &[], &refund).await;
    assert_eq!(status, 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.received().len(), 5, "refused calls notify nothing");
    t.cleanup().await;
}
