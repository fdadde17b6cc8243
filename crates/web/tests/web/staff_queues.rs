//! Work queues over HTTP (BOF-02) with their first users: the review of an
//! account frozen after a report of unauthorised access (ACC-08), and
//! payment notifications that need review (PAY-02).

use carfin_app::audit::{self, VerifyReport};
use carfin_app::demo::DEMO_PASSWORD;
use carfin_app::identity::totp::{code_at, TotpSecret};
use carfin_app::payments::adyen::{
    Amount, NotificationItem, NotificationItemWrapper, NotificationRequest,
};
use carfin_app::payments::notifications;
use carfin_app::staff::auth::create_with_password;
use carfin_app::staff::Role;
use carfin_app::{outbox, Clock};
use carfin_testkit::{Client, TestApp};
use chrono::{Duration, TimeZone, Utc};
use sqlx::Row;

const PASSWORD: &str = "a long staff pass phrase";

/// A staff account with `roles`; returns its e-mail address and TOTP secret.
async fn staff(t: &TestApp, email: &str, roles: &[Role]) -> (String, String) {
    let (_, secret) = create_with_password(&t.app, email, "Queue Tester", PASSWORD, roles)
        .await
        .unwrap();
    (email.to_string(), secret)
}

/// Signs a staff member in (password, then the TOTP code at the app's
/// clock), in English.
async fn staff_client(t: &TestApp, (email, secret): &(String, String)) -> Client {
    let c = t.client().with_header("accept-language", "en");
    c.get("/staff/login").await;
    let r = c
        .post_form("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    c.get("/staff/login/verify").await;
    let code = code_at(
        &TotpSecret::from_base32(secret).unwrap(),
        t.clock.now().timestamp(),
    );
    let r = c.post_form("/staff/login/verify", &[("code", &code)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    c
}

/// The first demo customer's sign-in address and customer id.
async fn demo_customer(t: &TestApp) -> (String, i64) {
    let email: String = carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("demo customer: "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .next()
        .unwrap();
    let bidx = t
        .app
        .blind_index()
        .index(carfin_store::repo::identity::ACCOUNT_EMAIL_INDEX, &email);
    let account = carfin_store::repo::identity::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap();
    (email, account.customer_id)
}

async fn customer_login(t: &TestApp, email: &str) -> (Client, u16) {
    let c = t.client();
    c.get("/login").await;
    let r = c
        .post_form("/login", &[("email", email), ("password", DEMO_PASSWORD)])
        .await;
    (c, r.status.as_u16())
}

/// The customer reports unauthorised access from the portal (ACC-08).
async fn report(t: &TestApp, email: &str) {
    let (c, status) = customer_login(t, email).await;
    assert_eq!(status, 303);
    c.get("/my/security").await;
    let r = c.post_form("/my/security/report", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// (id, status, due_at) of the customer's account-freeze request.
async fn freeze_request(t: &TestApp, customer_id: i64) -> (i64, String, i64) {
    let row = sqlx::query(
        "SELECT id, status, due_at FROM requests WHERE kind = 'account_freeze' AND customer_id = $1",
    )
    .bind(customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn account_status(t: &TestApp, customer_id: i64) -> String {
    sqlx::query("SELECT status FROM accounts WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

async fn mail_kinds(t: &TestApp, customer_id: i64) -> Vec<String> {
    outbox::messages_for(&t.app, customer_id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect()
}

async fn audit_actions(t: &TestApp, subject: Option<i64>) -> Vec<String> {
    let rows =
        match subject {
            Some(id) => {
                sqlx::query(
                    "SELECT action FROM audit_log WHERE subject_id = $1 AND actor_kind = 'staff' \
                 ORDER BY seq",
                )
                .bind(id)
                .fetch_all(t.app.db().reader())
                .await
            }
            None => sqlx::query(
                "SELECT action FROM audit_log WHERE subject_id IS NULL AND actor_kind = 'staff' \
                 ORDER BY seq",
            )
            .fetch_all(t.app.db().reader())
            .await,
        };
    rows.unwrap().iter().map(|r| r.get(0)).collect()
}

async fn chain_intact(t: &TestApp) {
    assert!(matches!(
        audit::verify(&t.app).await.unwrap(),
        VerifyReport::Intact { .. }
    ));
}

// BOF-02, ACC-08: a report on Friday at 16:00 CET puts an account-freeze
// request in the security officer's queue, due after 4 working hours:
// Monday 11:00 CET. Customer service cannot see that queue or the request.
// On Monday afternoon it is overdue (text and icon). The officer takes it,
// a status change is e-mailed to the customer, and lifting the freeze lets
// the customer sign in again, resolves the request, e-mails the customer
// and is audited in an intact chain.
#[tokio::test]
async fn bof02_acc08_freeze_is_due_in_working_hours_and_the_officer_lifts_it() {
    let t = TestApp::spawn().await;
    // Friday 6 March 2026, 15:00 UTC = 16:00 CET.
    t.clock
        .set(Utc.with_ymd_and_hms(2026, 3, 6, 15, 0, 0).single().unwrap());
    let (email, customer_id) = demo_customer(&t).await;
    report(&t, &email).await;
    let (id, status, due_at) = freeze_request(&t, customer_id).await;
    assert_eq!(status, "open");
    // 1.5 working hours on Friday, 2.5 on Monday from 08:30: 11:00 CET.
    let monday_11_cet = Utc.with_ymd_and_hms(2026, 3, 9, 10, 0, 0).single().unwrap();
    assert_eq!(due_at, monday_11_cet.timestamp());

    let officer = staff(&t, "officer@staff.example", &[Role::SecurityOfficer]).await;
    let desk = staff(&t, "desk@staff.example", &[Role::CustomerService]).await;
    let o = staff_client(&t, &officer).await;
    let overview = o.get("/staff/queues").await;
    assert_eq!(overview.status, 200);
    assert!(overview
        .text
        .contains("href=\"/staff/queues/account_freeze\""));
    assert!(overview
        .text
        .contains("<td class=\"num\" data-open=\"account_freeze\">1</td>"));
    assert!(
        !overview.text.contains("unknown_payment"),
        "not the officer's queue"
    );
    let queue = o.get("/staff/queues/account_freeze").await;
    assert_eq!(queue.status, 200);
    assert!(queue
        .text
        .contains(&format!("href=\"/staff/requests/{id}\"")));
    assert!(
        queue.text.contains("4:00 working hours left"),
        "{}",
        queue.text
    );
    assert!(queue.text.contains("9 March 2026 11:00:00 CET"));

    // Customer service: not their queue, not their request.
    let d = staff_client(&t, &desk).await;
    assert!(!d.get("/staff/queues").await.text.contains("account_freeze"));
    assert_eq!(d.get("/staff/queues/account_freeze").await.status, 404);
    assert_eq!(d.get(&format!("/staff/requests/{id}")).await.status, 404);
    let lift = d
        .post_form(
            &format!("/staff/requests/{id}/freeze"),
            &[("decision", "lift")],
        )
        .await;
    assert_eq!(lift.status, 404);
    assert_eq!(account_status(&t, customer_id).await, "frozen");

    // Monday 13:00 CET: two working hours past due.
    t.clock
        .set(Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).single().unwrap());
    let o = staff_client(&t, &officer).await;
    let overview = o.get("/staff/queues").await;
    assert!(overview
        .text
        .contains("data-overdue=\"account_freeze\"><strong class=\"attention\"><span aria-hidden=\"true\">⚠ </span>1</strong>"));
    let queue = o.get("/staff/queues/account_freeze").await;
    assert!(
        queue
            .text
            .contains("<span aria-hidden=\"true\">⚠ </span>Overdue by 2:00 working hours"),
        "{}",
        queue.text
    );
    // The request page: no personal data, a way to the customer's file
    // with this request as the purpose.
    let page = o.get(&format!("/staff/requests/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&format!(
        "href=\"/staff/customers/{customer_id}/open?purpose=request&amp;reference={id}\""
    )));
    assert!(!page.text.contains(&email), "no customer e-mail address");

    let r = o
        .post_form(&format!("/staff/requests/{id}/assign"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some(format!("/staff/requests/{id}").as_str()));
    let r = o
        .post_form(
            &format!("/staff/requests/{id}/status"),
            &[("status", "in_progress"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(mail_kinds(&t, customer_id)
        .await
        .contains(&"mail.request_status".to_string()));
    // A freeze closes only by a decision.
    let refused = o
        .post_form(
            &format!("/staff/requests/{id}/status"),
            &[("status", "resolved"), ("note", "done")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.text.contains("by lifting or keeping the freeze"));

    let r = o
        .post_form(
            &format!("/staff/requests/{id}/freeze"),
            &[
                ("decision", "lift"),
                ("note", "Customer confirmed by phone."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let (_, status, _) = freeze_request(&t, customer_id).await;
    assert_eq!(status, "resolved");
    assert_eq!(account_status(&t, customer_id).await, "active");
    let (_, signed_in) = customer_login(&t, &email).await;
    assert_eq!(signed_in, 303, "the customer can sign in again");
    let unfrozen = outbox::messages_for(&t.app, customer_id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.kind == "mail.account_unfrozen")
        .expect("the customer is e-mailed");
    assert!(unfrozen.text.contains("/report/"), "a security notice");
    let page = o.get(&format!("/staff/requests/{id}")).await;
    assert!(page.text.contains("Freeze lifted"));
    assert!(page.text.contains("Customer confirmed by phone."));
    assert!(!page.text.contains("id=\"freeze-form\""), "closed");
    let actions = audit_actions(&t, Some(customer_id)).await;
    for action in [
        "staff.request_viewed",
        "staff.request_assigned",
        "staff.request_status",
        "staff.request_freeze_lifted",
    ] {
        assert!(
            actions.contains(&action.to_string()),
            "{action}: {actions:?}"
        );
    }
    chain_intact(&t).await;
    t.cleanup().await;
}

// ACC-08, BOF-02: keeping the freeze resolves the request, the account
// stays frozen and the customer is told how to reach customer service;
// administrators work every queue.
#[tokio::test]
async fn acc08_bof02_keeping_the_freeze_tells_the_customer_how_to_reach_us() {
    let t = TestApp::spawn().await;
    let (email, customer_id) = demo_customer(&t).await;
    report(&t, &email).await;
    let (id, _, _) = freeze_request(&t, customer_id).await;
    let admin = staff(&t, "admin@staff.example", &[Role::Administrator]).await;
    let a = staff_client(&t, &admin).await;
    let overview = a.get("/staff/queues").await;
    assert!(overview.text.contains("/staff/queues/account_freeze"));
    assert!(overview.text.contains("/staff/queues/unknown_payment"));
    assert_eq!(a.get(&format!("/staff/requests/{id}")).await.status, 200);
    let r = a
        .post_form(
            &format!("/staff/requests/{id}/freeze"),
            &[("decision", "keep"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let (_, status, _) = freeze_request(&t, customer_id).await;
    assert_eq!(status, "resolved");
    assert_eq!(account_status(&t, customer_id).await, "frozen");
    let (_, refused) = customer_login(&t, &email).await;
    assert_eq!(refused, 403, "still frozen");
    let kept = outbox::messages_for(&t.app, customer_id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.kind == "mail.freeze_kept")
        .expect("the customer is e-mailed");
    let directory = t.app.directory().await.unwrap();
    let phones: Vec<&str> = directory
        .entities
        .iter()
        .map(|e| e.service_phone.as_str())
        .collect();
    assert!(
        phones.iter().any(|p| kept.text.contains(p)),
        "how to reach customer service: {}",
        kept.text
    );
    // Closed: no second decision.
    let again = a
        .post_form(
            &format!("/staff/requests/{id}/freeze"),
            &[("decision", "lift")],
        )
        .await;
    assert_eq!(again.status, 422);
    assert_eq!(account_status(&t, customer_id).await, "frozen");
    assert!(audit_actions(&t, Some(customer_id))
        .await
        .contains(&"staff.request_freeze_kept".to_string()));
    chain_intact(&t).await;
    t.cleanup().await;
}

const HMAC_KEY: &str = "5A1C9E7B3D2F4A6C8E0B1D3F5A7C9E1B3D5F7A9C1E3B5D7F9A1C3E5B7D9F1A3C";

/// A signed notification request with one item.
fn signed_notification(psp: &str, reference: &str, cents: i64) -> String {
    let mut item = NotificationItem {
        psp_reference: psp.into(),
        merchant_account_code: "CarfinTest".into(),
        merchant_reference: reference.into(),
        amount: Some(Amount {
            currency: "EUR".into(),
            value: Some(cents),
        }),
        event_code: "AUTHORISATION".into(),
        success: "true".into(),
        payment_method: "ideal".into(),
        ..Default::default()
    };
    item.sign(&hex::decode(HMAC_KEY).unwrap());
    serde_json::to_string(&NotificationRequest {
        live: "false".into(),
        items: vec![NotificationItemWrapper { item }],
    })
    .unwrap()
}

/// Waits until every stored notification is processed (the webhook
/// processes new ones right after answering).
async fn wait_processed(t: &TestApp) {
    for _ in 0..200 {
        notifications::process_pending(&t.app, 100).await.unwrap();
        let left: i64 =
            sqlx::query("SELECT COUNT(*) FROM payment_notifications WHERE processed_at IS NULL")
                .fetch_one(t.app.db().reader())
                .await
                .unwrap()
                .get(0);
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("notifications left unprocessed");
}

async fn post_webhook(t: &TestApp, body: &str) -> u16 {
    reqwest::Client::new()
        .post(t.url("/webhooks/adyen"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

// PAY-02, BOF-02: a signed notification with a merchant reference that no
// payment has is stored, acknowledged and put in the payments queue as one
// unknown_payment request, however often the provider retries it. Staff
// see the notification's fields and resolve it with a note; the security
// officer and customer service do not see it.
#[tokio::test]
async fn pay02_bof02_unknown_payment_notification_becomes_one_request() {
    let t = TestApp::spawn_with(|c| {
        c.payments.provider = "simulator".into();
        c.payments.api_key = carfin_app::config::Secret::new("test-api-key");
        c.payments.merchant_account = "CarfinTest".into();
        c.payments.hmac_key = carfin_app::config::Secret::new(HMAC_KEY);
    })
    .await;
    let body = signed_notification("PSPUNKNOWN000001", "NOT-OURS-4711", 12_345);
    assert_eq!(post_webhook(&t, &body).await, 200);
    wait_processed(&t).await;
    // Adyen retries the same notification.
    t.clock.advance(Duration::minutes(5));
    assert_eq!(post_webhook(&t, &body).await, 200);
    wait_processed(&t).await;
    let rows = sqlx::query(
        "SELECT r.id, r.subject_ref, n.id, r.customer_id FROM requests r \
         JOIN payment_notifications n ON CAST(n.id AS TEXT) = r.subject_ref \
         WHERE r.kind = 'unknown_payment' AND n.psp_reference = 'PSPUNKNOWN000001'",
    )
    .fetch_all(t.app.db().reader())
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "exactly one request");
    let id: i64 = rows[0].get(0);
    assert_eq!(rows[0].get::<Option<i64>, _>(3), None, "no customer");
    let all: i64 = sqlx::query("SELECT COUNT(*) FROM requests WHERE kind = 'unknown_payment'")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(all, 1);

    let officer = staff(&t, "sec@staff.example", &[Role::SecurityOfficer]).await;
    let s = staff_client(&t, &officer).await;
    assert_eq!(s.get("/staff/queues/unknown_payment").await.status, 404);
    assert_eq!(s.get(&format!("/staff/requests/{id}")).await.status, 404);

    let collections = staff(&t, "coll@staff.example", &[Role::Collections]).await;
    let c = staff_client(&t, &collections).await;
    let queue = c.get("/staff/queues/unknown_payment").await;
    assert_eq!(queue.status, 200);
    assert!(queue
        .text
        .contains(&format!("href=\"/staff/requests/{id}\"")));
    // 16 working hours from Monday 10:00 CET, five minutes of them gone.
    assert!(
        queue.text.contains("15:55 working hours left"),
        "{}",
        queue.text
    );
    let page = c.get(&format!("/staff/requests/{id}")).await;
    assert_eq!(page.status, 200);
    for shown in [
        "PSPUNKNOWN000001",
        "NOT-OURS-4711",
        "AUTHORISATION",
        "123.45",
        "No payment with this reference",
    ] {
        assert!(page.text.contains(shown), "{shown} on the request page");
    }
    assert!(!page.text.contains("/staff/customers/"), "no customer file");
    // Resolving needs a note saying what was done.
    let refused = c
        .post_form(
            &format!("/staff/requests/{id}/status"),
            &[("status", "resolved"), ("note", "  ")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.text.contains("Write a note: what was done?"));
    let r = c
        .post_form(
            &format!("/staff/requests/{id}/status"),
            &[
                ("status", "resolved"),
                ("note", "Refunded to the payer via the provider."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = c.get(&format!("/staff/requests/{id}")).await;
    assert!(page
        .text
        .contains("Refunded to the payer via the provider."));
    assert!(page
        .text
        .contains("<dd id=\"request-status\">Resolved</dd>"));
    // The note is sealed at rest, under a key of the request's own.
    let sealed: Vec<u8> = sqlx::query("SELECT body FROM request_notes WHERE request_id = $1")
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("Refunded"));
    assert!(matches!(
        t.app.keys().get(id).await.unwrap(),
        carfin_store::keystore::KeyState::Live(_)
    ));
    let actions = audit_actions(&t, None).await;
    assert!(
        actions.contains(&"staff.request_status".to_string()),
        "{actions:?}"
    );
    chain_intact(&t).await;
    t.cleanup().await;
}
