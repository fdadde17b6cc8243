//! The outbox: enqueue in the caller's transaction, delivery over real SMTP and HTTP (OPS-05).

use axum::http::{HeaderMap, StatusCode};
use carfin_app::outbox::{self, Channel, DeliveryReport, Message};
use carfin_app::Clock;
use carfin_testkit::{Demo, SmtpServer, TestApp};
use sqlx::Row;
use std::sync::{Arc, Mutex};

/// A demo customer and its entity.
async fn customer(t: &TestApp) -> (i64, i64) {
    let row = sqlx::query("SELECT id, entity_id FROM customers ORDER BY id LIMIT 1")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
    (row.try_get(0).unwrap(), row.try_get(1).unwrap())
}

fn email(subject_id: i64, entity_id: i64, to: &str) -> Message {
    Message {
        channel: Channel::Email,
        entity_id,
        subject_id,
        kind: "account.verify_email".into(),
        to: to.into(),
        from_name: "Autolease Test".into(),
        subject: Some("Bevestig je e-mailadres".into()),
        text: "Open https://portal.example.test/verify?t=abc123 om te bevestigen.".into(),
        html: Some(
            "<p>Open <a href=\"https://portal.example.test/verify?t=abc123\">deze link</a>.</p>"
                .into(),
        ),
    }
}

fn sms(subject_id: i64, entity_id: i64) -> Message {
    Message {
        channel: Channel::Sms,
        entity_id,
        subject_id,
        kind: "account.activation_code".into(),
        to: "+31612345678".into(),
        from_name: String::new(),
        subject: None,
        text: "Je code is 493817".into(),
        html: None,
    }
}

async fn enqueue(t: &TestApp, message: &Message) -> i64 {
    let mut tx = t.app.db().begin_write().await.unwrap();
    let id = outbox::enqueue(&mut tx, &t.app, message).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// status, attempts, next_attempt_at, last_error of a message.
async fn state(t: &TestApp, id: i64) -> (String, i64, i64, Option<String>) {
    let row = sqlx::query(
        "SELECT status, attempts, next_attempt_at, last_error FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap();
    (
        row.try_get(0).unwrap(),
        row.try_get(1).unwrap(),
        row.try_get(2).unwrap(),
        row.try_get(3).unwrap(),
    )
}

async fn count(t: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM outbox")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A local SMS gateway: answers each request with the next scripted status
/// (then 200) and records the requests' headers and bodies.
struct Gateway {
    url: String,
    requests: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Gateway {
    async fn start(script: Vec<u16>) -> Gateway {
        let requests: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
        let recorded = requests.clone();
        let script = Arc::new(Mutex::new(script.into_iter()));
        let handler = move |headers: HeaderMap, body: String| {
            let recorded = recorded.clone();
            let script = script.clone();
            async move {
                recorded.lock().unwrap().push((headers, body));
                let status = script.lock().unwrap().next().unwrap_or(200);
                (StatusCode::from_u16(status).unwrap(), "{}")
            }
        };
        let router = axum::Router::new().route("/v1/messages", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Gateway {
            url,
            requests,
            server,
        }
    }

    fn requests(&self) -> Vec<(HeaderMap, serde_json::Value)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| (h.clone(), serde_json::from_str(b).unwrap()))
            .collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn spawn_with_gateway(gateway: &Gateway, max_attempts: u32) -> TestApp {
    let url = gateway.url.clone();
    TestApp::builder()
        .demo(Demo::Full)
        .config(move |c| {
            c.sms.gateway_url = url;
            c.sms.api_token = carfin_app::config::Secret::new("gw-token-123");
            c.sms.sender = "Carfin".into();
            c.outbox.max_attempts = max_attempts;
        })
        .spawn()
        .await
}

// OPS-05: a message is written in the caller's transaction: rolled back,
// nothing; committed, one pending message whose contents are sealed.
#[tokio::test]
async fn enqueue_follows_the_transaction_and_seals_the_contents() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let (subject_id, entity_id) = customer(&t).await;
    let message = email(subject_id, entity_id, "jan.jansen@example.test");

    let mut tx = t.app.db().begin_write().await.unwrap();
    outbox::enqueue(&mut tx, &t.app, &message).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&t).await, 0, "a rolled-back enqueue left a message");

    let id = enqueue(&t, &message).await;
    assert_eq!(count(&t).await, 1);
    let (status, attempts, _, _) = state(&t, id).await;
    assert_eq!((status.as_str(), attempts), ("pending", 0));
    let row = sqlx::query(
        "SELECT recipient, subject, body_text, body_html, idempotency_key, kind, channel FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap();
    let recipient: Vec<u8> = row.try_get(0).unwrap();
    let subject: Vec<u8> = row.try_get(1).unwrap();
    let text: Vec<u8> = row.try_get(2).unwrap();
    let html: Vec<u8> = row.try_get(3).unwrap();
    assert!(!contains(&recipient, "jan.jansen"));
    assert!(!contains(&subject, "Bevestig"));
    assert!(!contains(&text, "abc123") && !contains(&text, "bevestigen"));
    assert!(!contains(&html, "abc123"));
    assert_eq!(row.try_get::<String, _>(4).unwrap(), format!("outbox-{id}"));
    assert_eq!(row.try_get::<String, _>(5).unwrap(), "account.verify_email");
    assert_eq!(row.try_get::<String, _>(6).unwrap(), "email");

    // Opened again through the key: the same contents.
    let mine = outbox::messages_for(&t.app, subject_id).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].to, "jan.jansen@example.test");
    assert_eq!(mine[0].subject.as_deref(), Some("Bevestig je e-mailadres"));
    assert_eq!(mine[0].text, message.text);
    assert_eq!(mine[0].html, message.html);
    assert_eq!(mine[0].channel, Channel::Email);

    // No transport configured: a pass leaves it pending.
    assert_eq!(
        outbox::deliver_due(&t.app).await.unwrap(),
        DeliveryReport::default()
    );
    assert_eq!(state(&t, id).await.0, "pending");
    t.cleanup().await;
}

// OPS-05: e-mail over a real SMTP server with STARTTLS (a private CA) and
// AUTH: text and HTML parts, the idempotency key in the Message-ID; a
// recipient refused with 550 fails at once.
#[tokio::test]
async fn email_is_delivered_over_smtp_with_starttls_and_auth() {
    let smtp = SmtpServer::start().await;
    let (url, ca) = (smtp.url(), smtp.ca_file.clone());
    let t = TestApp::builder()
        .demo(Demo::Full)
        .config(move |c| {
            c.email.smtp_url = carfin_app::config::Secret::new(url);
            c.email.smtp_ca_file = Some(ca);
            c.email.from = "noreply@autolease.example".into();
            c.email.timeout_secs = 10;
        })
        .spawn()
        .await;
    let (subject_id, entity_id) = customer(&t).await;
    let id = enqueue(&t, &email(subject_id, entity_id, "jan.jansen@example.test")).await;
    let rejected = enqueue(&t, &email(subject_id, entity_id, "reject@example.test")).await;

    let report = outbox::deliver_due(&t.app).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            sent: 1,
            retried: 0,
            failed: 1
        }
    );
    let (status, attempts, _, error) = state(&t, id).await;
    assert_eq!((status.as_str(), attempts, error), ("sent", 1, None));
    let sent_at: Option<i64> = sqlx::query("SELECT sent_at FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(sent_at, Some(t.clock.now().timestamp()));
    let (status, attempts, _, error) = state(&t, rejected).await;
    assert_eq!(
        (status.as_str(), attempts, error.as_deref()),
        ("failed", 1, Some("smtp_550"))
    );

    let received = smtp.messages();
    assert_eq!(received.len(), 1, "{received:?}");
    let m: serde_json::Value = serde_json::from_str(&received[0]).unwrap();
    assert_eq!(m["tls"], true);
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["mail_from"], "noreply@autolease.example");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["jan.jansen@example.test"])
    );
    assert_eq!(m["subject"], "Bevestig je e-mailadres");
    assert_eq!(m["from"], "Autolease Test <noreply@autolease.example>");
    assert_eq!(m["content_type"], "multipart/alternative");
    assert!(m["text"]
        .as_str()
        .unwrap()
        .contains("https://portal.example.test/verify?t=abc123"));
    assert!(m["html"]
        .as_str()
        .unwrap()
        .contains("<a href=\"https://portal.example.test/verify?t=abc123\">"));
    assert_eq!(
        m["message_id"],
        format!("<outbox-{id}@autolease.example>").as_str()
    );

    // Sent messages are not sent again.
    assert_eq!(
        outbox::deliver_due(&t.app).await.unwrap(),
        DeliveryReport::default()
    );
    assert_eq!(smtp.messages().len(), 1);
    t.cleanup().await;
}

// OPS-05: SMS through the HTTP gateway: a 503 is retried after the backoff,
// not before; every attempt carries the same idempotency key and the
// documented JSON.
#[tokio::test]
async fn sms_is_retried_with_backoff_and_one_idempotency_key() {
    let gateway = Gateway::start(vec![503]).await;
    let t = spawn_with_gateway(&gateway, 10).await;
    let (subject_id, entity_id) = customer(&t).await;
    let id = enqueue(&t, &sms(subject_id, entity_id)).await;
    let start = t.clock.now().timestamp();

    let report = outbox::deliver_due(&t.app).await.unwrap();
    assert_eq!(report.retried, 1, "{report:?}");
    let (status, attempts, next, error) = state(&t, id).await;
    assert_eq!(
        (status.as_str(), attempts, error.as_deref()),
        ("pending", 1, Some("http_503"))
    );
    assert_eq!(next, start + 30, "first retry after 30 s");

    // Before the backoff: nothing goes out.
    t.clock.advance(chrono::Duration::seconds(29));
    assert_eq!(
        outbox::deliver_due(&t.app).await.unwrap(),
        DeliveryReport::default()
    );
    assert_eq!(gateway.requests().len(), 1);

    t.clock.advance(chrono::Duration::seconds(1));
    let report = outbox::deliver_due(&t.app).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let (status, attempts, _, error) = state(&t, id).await;
    assert_eq!((status.as_str(), attempts, error), ("sent", 2, None));

    let requests = gateway.requests();
    assert_eq!(requests.len(), 2);
    for (headers, body) in &requests {
        assert_eq!(
            headers["idempotency-key"].to_str().unwrap(),
            format!("outbox-{id}")
        );
        assert_eq!(
            headers["authorization"].to_str().unwrap(),
            "Bearer gw-token-123"
        );
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(
            body,
            &serde_json::json!({
                "to": "+31612345678",
                "from": "Carfin",
                "text": "Je code is 493817",
                "reference": format!("outbox-{id}"),
            })
        );
    }
    t.cleanup().await;
}

// OPS-05: a worker that claimed a message and died: once its lease runs
// out, the next pass delivers the message.
#[tokio::test]
async fn a_crashed_workers_claim_is_delivered_after_its_lease() {
    let gateway = Gateway::start(vec![]).await;
    let t = spawn_with_gateway(&gateway, 10).await;
    let (subject_id, entity_id) = customer(&t).await;
    let id = enqueue(&t, &sms(subject_id, entity_id)).await;
    // The dead worker's claim, as `claim` leaves it.
    let now = t.clock.now().timestamp();
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query(
        "UPDATE outbox SET status = 'sending', attempts = 1, lease_until = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now + outbox::LEASE_SECS)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // While the lease holds, nobody else sends it.
    assert_eq!(
        outbox::deliver_due(&t.app).await.unwrap(),
        DeliveryReport::default()
    );
    assert!(gateway.requests().is_empty());

    t.clock
        .advance(chrono::Duration::seconds(outbox::LEASE_SECS + 1));
    let report = outbox::deliver_due(&t.app).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let (status, attempts, _, _) = state(&t, id).await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));
    assert_eq!(gateway.requests().len(), 1);
    t.cleanup().await;
}

// OPS-05: transient failures stop after outbox.max_attempts (failed); a
// permanent 4xx fails at once; an erased subject's message fails as erased.
#[tokio::test]
async fn failures_end_in_failed() {
    let gateway = Gateway::start(vec![500, 502, 503, 422]).await;
    let t = spawn_with_gateway(&gateway, 3).await;
    let (subject_id, entity_id) = customer(&t).await;
    let id = enqueue(&t, &sms(subject_id, entity_id)).await;
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(outbox::deliver_due(&t.app).await.unwrap());
        t.clock.advance(chrono::Duration::hours(1));
    }
    assert_eq!(reports[0].retried, 1);
    assert_eq!(reports[1].retried, 1);
    assert_eq!(reports[2].failed, 1, "{reports:?}");
    let (status, attempts, _, error) = state(&t, id).await;
    assert_eq!(
        (status.as_str(), attempts, error.as_deref()),
        ("failed", 3, Some("http_503"))
    );
    // Failed messages are not picked up again.
    assert_eq!(
        outbox::deliver_due(&t.app).await.unwrap(),
        DeliveryReport::default()
    );
    assert_eq!(gateway.requests().len(), 3);

    // 422: refused for good on the first attempt.
    let refused = enqueue(&t, &sms(subject_id, entity_id)).await;
    let report = outbox::deliver_due(&t.app).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let (status, attempts, _, error) = state(&t, refused).await;
    assert_eq!(
        (status.as_str(), attempts, error.as_deref()),
        ("failed", 1, Some("http_422"))
    );

    // Erased subject: the message can never be opened, so never sent.
    let erased = enqueue(&t, &sms(subject_id, entity_id)).await;
    t.app
        .keys()
        .shred(subject_id, t.clock.now().timestamp())
        .await
        .unwrap();
    let report = outbox::deliver_due(&t.app).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let (status, _, _, error) = state(&t, erased).await;
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("failed", Some("erased"))
    );
    assert_eq!(gateway.requests().len(), 4, "an erased message was sent");
    t.cleanup().await;
}

// OPS-05: the backoff doubles from 30 s and stops at one hour.
#[test]
fn backoff_schedule() {
    let schedule: Vec<i64> = (1..=9).map(outbox::backoff_secs).collect();
    assert_eq!(schedule, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
}
