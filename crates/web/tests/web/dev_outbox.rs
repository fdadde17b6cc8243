//! The demo's development outbox pages (OPS-05).

use carfin_app::outbox::{self, Channel, Message};
use carfin_testkit::{Demo, TestApp};
use sqlx::Row;

async fn enqueue_both(t: &TestApp) -> (i64, i64) {
    let row = sqlx::query("SELECT id, entity_id FROM customers ORDER BY id LIMIT 1")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
    let (subject_id, entity_id): (i64, i64) = (row.try_get(0).unwrap(), row.try_get(1).unwrap());
    let mut tx = t.app.db().begin_write().await.unwrap();
    let email = outbox::enqueue(
        &mut tx,
        &t.app,
        &Message {
            channel: Channel::Email,
            entity_id,
            subject_id,
            kind: "account.verify_email".into(),
            to: "dev.outbox@example.test".into(),
            from_name: "Autolease Test".into(),
            subject: Some("Confirm your address".into()),
            text: "Open https://portal.example.test/verify?t=tok123 to confirm.".into(),
            html: Some("<p>Confirm</p>".into()),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A second later, so the order newest first is certain.
    t.clock.advance(chrono::Duration::seconds(1));
    let mut tx = t.app.db().begin_write().await.unwrap();
    let sms = outbox::enqueue(
        &mut tx,
        &t.app,
        &Message {
            channel: Channel::Sms,
            entity_id,
            subject_id,
            kind: "account.activation_code".into(),
            to: "+31612345678".into(),
            from_name: String::new(),
            subject: None,
            text: "Your code is 493817".into(),
            html: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (email, sms)
}

// OPS-05: with dev.outbox on, /dev/outbox lists every message with its
// links clickable, and /dev/outbox.json gives the documented fields.
#[tokio::test]
async fn dev_outbox_lists_messages_as_html_and_json() {
    let t = TestApp::builder()
        .demo(Demo::Full)
        .config(|c| c.dev.outbox = true)
        .spawn()
        .await;
    enqueue_both(&t).await;
    let client = t.client();

    let page = client.get("/dev/outbox").await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert!(page.is_html());
    for needle in [
        "dev.outbox@example.test",
        "Confirm your address",
        "+31612345678",
        "Your code is 493817",
        "<pre>Open https://portal.example.test/verify?t=tok123 to confirm.</pre>",
        "<a href=\"https://portal.example.test/verify?t=tok123\">",
        "pending",
        "2026-03-02T09:00:00Z",
    ] {
        assert!(page.text.contains(needle), "{needle} missing in the page");
    }
    // Newest first: the SMS before the e-mail.
    let sms_at = page.text.find("Your code is").unwrap();
    let email_at = page.text.find("Confirm your address").unwrap();
    assert!(sms_at < email_at);

    let json = client.get("/dev/outbox.json").await;
    assert_eq!(json.status.as_u16(), 200);
    assert!(json
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let items: serde_json::Value = serde_json::from_str(&json.text).unwrap();
    assert_eq!(
        items,
        serde_json::json!([
            {
                "channel": "sms",
                "to": "+31612345678",
                "subject": null,
                "body": "Your code is 493817",
                "created_at": "2026-03-02T09:00:01Z",
                "status": "pending",
                "kind": "account.activation_code",
            },
            {
                "channel": "email",
                "to": "dev.outbox@example.test",
                "subject": "Confirm your address",
                "body": "Open https://portal.example.test/verify?t=tok123 to confirm.",
                "created_at": "2026-03-02T09:00:00Z",
                "status": "pending",
                "kind": "account.verify_email",
            },
        ])
    );
    t.cleanup().await;
}

// OPS-05: without dev.outbox (the default) neither path exists.
#[tokio::test]
async fn dev_outbox_is_absent_unless_configured() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    enqueue_both(&t).await;
    let client = t.client();
    for path in ["/dev/outbox", "/dev/outbox.json"] {
        let response = client.get(path).await;
        assert_eq!(response.status.as_u16(), 404, "{path}");
        assert!(!response.text.contains("493817"));
    }
    t.cleanup().await;
}
