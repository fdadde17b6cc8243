//! Customer identity and access over HTTP, as a browser would use it
//! (ACC-01 … ACC-11): registration with a demo contract's facts, the
//! verification link and SMS codes read from the outbox, sign-in,
//! throttling, sessions, freezing and closing.

use carfin_app::demo::DEMO_PASSWORD;
use carfin_app::outbox;
use carfin_app::Clock;
use carfin_store::repo::customers::{self, Personal};
use carfin_testkit::{Client, Demo, TestApp, TestResponse};
use sqlx::Row;
use std::time::Instant;

/// A demo customer who has not registered: facts to register with.
struct Facts {
    customer_id: i64,
    contract_id: i64,
    contract_number: String,
    birth: String,
    postcode: String,
}

async fn unregistered_person(t: &TestApp) -> Facts {
    let rows = sqlx::query(
        "SELECT cu.id, c.id, c.contract_number FROM customers cu \
         JOIN contract_parties p ON p.customer_id = cu.id JOIN contracts c ON c.id = p.contract_id \
         WHERE cu.kind = 'person' AND c.status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = cu.id) ORDER BY cu.id DESC",
    )
    .fetch_all(t.app.db().reader())
    .await
    .unwrap();
    for row in rows {
        let customer_id: i64 = row.try_get(0).unwrap();
        let record = customers::get(t.app.db(), t.app.keys(), customer_id)
            .await
            .unwrap()
            .unwrap();
        let Personal::Known(p) = record.personal else {
            continue;
        };
        let mobile = p
            .phone
            .as_deref()
            .and_then(|p| carfin_domain::PhoneNumber::parse(p).ok())
            .is_some_and(|p| p.is_mobile());
        if mobile {
            return Facts {
                customer_id,
                contract_id: row.try_get(1).unwrap(),
                contract_number: row.try_get(2).unwrap(),
                birth: p.date_of_birth.unwrap(),
                postcode: p.postcode,
            };
        }
    }
    panic!("the demo has no unregistered person with a mobile number");
}

/// The e-mail addresses of the demo's registered customers.
async fn demo_logins(t: &TestApp) -> Vec<String> {
    carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("demo customer: "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

async fn customer_of_email(t: &TestApp, email: &str) -> i64 {
    let bidx = t
        .app
        .blind_index()
        .index(carfin_store::repo::identity::ACCOUNT_EMAIL_INDEX, email);
    carfin_store::repo::identity::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap()
        .customer_id
}

/// The newest message to a customer whose kind is `kind`.
async fn message(t: &TestApp, customer_id: i64, kind: &str) -> outbox::OutboxView {
    let mut all = outbox::messages_for(&t.app, customer_id).await.unwrap();
    all.sort_by_key(|m| std::cmp::Reverse(m.id));
    all.into_iter()
        .find(|m| m.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} message"))
}

async fn count_messages(t: &TestApp, customer_id: i64, kind: &str) -> usize {
    outbox::messages_for(&t.app, customer_id)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == kind)
        .count()
}

/// The path of the first link into the portal in a message.
fn link_path(t: &TestApp, text: &str, prefix: &str) -> String {
    let base = t.url("");
    let start = text
        .find(&format!("{base}{prefix}"))
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    url.trim_start_matches(&base).to_string()
}

fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_string()
}

/// What stays of a page when the per-request values are blanked out.
fn normalized(page: &TestResponse) -> String {
    let mut text = page.text.clone();
    for token in [page.form_token(), page.request_id().map(String::from)]
        .into_iter()
        .flatten()
    {
        text = text.replace(&token, "");
    }
    text
}

async fn login(c: &Client, email: &str, password: &str) -> TestResponse {
    c.get("/login").await;
    c.post_form("/login", &[("email", email), ("password", password)])
        .await
}

async fn register(c: &Client, f: &Facts, email: &str, birth: &str) -> TestResponse {
    c.get("/register").await;
    c.post_form(
        "/register",
        &[
            ("holder", "person"),
            ("contract_number", &f.contract_number),
            ("date_of_birth", birth),
            ("company_number", ""),
            ("postcode", &f.postcode),
            ("email", email),
            ("password", "a long enough passphrase 2026"),
            ("accept_terms", "on"),
        ],
    )
    .await
}

// ACC-01, ACC-11, ACC-03: register with a demo contract's facts, open the
// verification link from the outbox, log in, activate the contract with the
// SMS code from the outbox, and see its details.
#[tokio::test]
async fn acc01_acc03_register_verify_login_activate_and_see_details() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let f = unregistered_person(&t).await;
    let c = t.client();
    // The postcode typed with a space and in lower case still matches.
    let typed = Facts {
        postcode: format!("{} {}", &f.postcode[..4], f.postcode[4..].to_lowercase()),
        ..f
    };
    let page = register(&c, &typed, "new.customer@example.test", &typed.birth).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mail = message(&t, typed.customer_id, "mail.verify_email").await;
    assert_eq!(mail.to, "new.customer@example.test");
    assert!(mail
        .html
        .as_deref()
        .unwrap_or("")
        .contains("/register/verify/"));
    let verify = link_path(&t, &mail.text, "/register/verify/");

    // Not before the address is verified.
    let early = login(
        &c,
        "new.customer@example.test",
        "a long enough passphrase 2026",
    )
    .await;
    assert_eq!(early.status, 403);

    let page = c.get(&verify).await;
    assert_eq!(page.status, 200);
    let done = c.post_form(&verify, &[]).await;
    assert_eq!(done.status, 200, "{}", done.text);
    // Single use.
    assert_eq!(c.post_form(&verify, &[]).await.status, 410);

    let signed_in = login(
        &c,
        "NEW.customer@example.test",
        "a long enough passphrase 2026",
    )
    .await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.location(), Some("/my"));
    // The terms version accepted at registration is on record (ACC-11).
    let accepted: i64 = sqlx::query("SELECT COUNT(*) FROM terms_acceptances WHERE customer_id = $1 AND version = '2026-01' AND context = 'registration'")
        .bind(typed.customer_id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(accepted, 1);

    // The list shows the contract, its details stay hidden (ACC-03).
    let my = c.get("/my").await;
    assert_eq!(my.status, 200);
    assert!(my.text.contains(&typed.contract_number));
    let details = c.get(&format!("/my/contracts/{}", typed.contract_id)).await;
    assert_eq!(details.status, 303);
    let activate = format!("/my/contracts/{}/activate", typed.contract_id);
    let page = c.get(&activate).await;
    assert!(
        page.text.contains("•••"),
        "masked number shown: {}",
        page.text
    );
    let sent = c.post_form(&format!("{activate}/send"), &[]).await;
    assert_eq!(sent.status, 200);
    let sms = message(&t, typed.customer_id, "sms.activation_code").await;
    assert!(sms.to.starts_with('+'));
    let code = six_digits(&sms.text);
    let activated = c.post_form(&activate, &[("code", &code)]).await;
    assert_eq!(activated.status, 303, "{}", activated.text);
    let details = c.get(&format!("/my/contracts/{}", typed.contract_id)).await;
    assert_eq!(details.status, 200);
    assert!(details.text.contains(&typed.contract_number));
    // Every attempt is audited.
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'contract.activated' AND subject_id = $1",
    )
    .bind(typed.customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert_eq!(audited, 1);
    t.cleanup().await;
}

// ACC-01, ACC-05: a wrong fact and a contract that does not exist get the
// same answer as a match; ACC-10: under-16s are refused.
#[tokio::test]
async fn acc01_mismatch_answers_like_a_match_and_acc10_refuses_under_16() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let f = unregistered_person(&t).await;
    let c = t.client();
    let matched = register(&c, &f, "match@example.test", &f.birth).await;
    let wrong_birth = register(&c, &f, "other@example.test", "1901-01-01").await;
    let missing = Facts {
        contract_number: "NL99999999".into(),
        ..unregistered_person(&t).await
    };
    let unknown = register(&c, &missing, "other@example.test", &missing.birth).await;
    assert_eq!(matched.status, 200);
    assert_eq!(wrong_birth.status, matched.status);
    assert_eq!(unknown.status, matched.status);
    assert_eq!(normalized(&wrong_birth), normalized(&matched));
    assert_eq!(normalized(&unknown), normalized(&matched));
    // Only the match produced an e-mail.
    assert_eq!(
        count_messages(&t, f.customer_id, "mail.verify_email").await,
        1
    );

    let young = register(&c, &f, "young@example.test", "2015-06-01").await;
    assert_eq!(young.status, 422);
    assert!(young.text.contains("aria-invalid") || young.text.contains("field-error"));
    // What was typed stays in the form.
    assert!(young.text.contains(&f.contract_number));
    t.cleanup().await;
}

// ACC-03: five wrong codes lock the activation; the right code then fails too.
#[tokio::test]
async fn acc03_five_wrong_codes_lock_the_activation() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    // Take the activation back, as for a new customer.
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("DELETE FROM contract_activations")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let contract: i64 = sqlx::query("SELECT contract_id FROM contract_parties p JOIN contracts c ON c.id = p.contract_id WHERE p.customer_id = $1 AND c.status <> 'pending' LIMIT 1")
        .bind(customer)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let c = t.client();
    assert_eq!(login(&c, &email, DEMO_PASSWORD).await.status, 303);
    let activate = format!("/my/contracts/{contract}/activate");
    c.get(&activate).await;
    c.post_form(&format!("{activate}/send"), &[]).await;
    let code = six_digits(&message(&t, customer, "sms.activation_code").await.text);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for attempt in 1..=5 {
        let page = c.post_form(&activate, &[("code", wrong)]).await;
        assert_eq!(page.status, 422, "attempt {attempt}");
    }
    let after = c.post_form(&activate, &[("code", &code)]).await;
    assert_eq!(after.status, 422, "the right code no longer works");
    assert_eq!(
        c.get(&format!("/my/contracts/{contract}")).await.status,
        303,
        "details stay hidden"
    );
    // Resend is throttled to once a minute.
    let again = c.post_form(&format!("{activate}/send"), &[]).await;
    assert_eq!(
        count_messages(&t, customer, "sms.activation_code").await,
        1,
        "{}",
        again.text
    );
    let attempts: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE subject_id = $1 AND action LIKE 'contract.activation%'")
        .bind(customer)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(attempts >= 6, "every attempt audited: {attempts}");
    t.cleanup().await;
}

// ACC-05: wrong passwords slow down, then lock the account with an e-mail.
#[tokio::test]
async fn acc05_repeated_wrong_passwords_lock_the_account_and_send_an_email() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    let c = t.client();
    let mut last = None;
    for _ in 0..10 {
        let page = login(&c, &email, "not the password at all").await;
        last = Some(page.status.as_u16());
        t.clock.advance(chrono::Duration::seconds(61));
    }
    assert_eq!(last, Some(429));
    assert_eq!(count_messages(&t, customer, "mail.account_locked").await, 1);
    // Even the right password is refused while locked.
    let locked = login(&c, &email, DEMO_PASSWORD).await;
    assert_eq!(locked.status, 429);
    // After the lock, the right password works.
    t.clock.advance(chrono::Duration::minutes(16));
    let ok = login(&c, &email, DEMO_PASSWORD).await;
    assert_eq!(ok.status, 303);
    t.cleanup().await;
}

// ACC-05: the progressive delay answers within the window without checking.
#[tokio::test]
async fn acc05_third_failure_starts_a_delay() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let c = t.client();
    for _ in 0..3 {
        assert_eq!(login(&c, &email, "wrong password here").await.status, 401);
    }
    let waiting = login(&c, &email, DEMO_PASSWORD).await;
    assert_eq!(waiting.status, 429);
    t.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(login(&c, &email, DEMO_PASSWORD).await.status, 303);
    t.cleanup().await;
}

// ACC-05, OPS-08: a login POST without the form's CSRF token is refused;
// an unknown account and a wrong password get the same response, in
// similar time.
#[tokio::test]
async fn acc05_unknown_account_and_wrong_password_answer_alike() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let c = t.client();
    c.get("/login").await;
    let no_token = c
        .post_form_raw("/login", &[("email", &email), ("password", DEMO_PASSWORD)])
        .await;
    assert_eq!(no_token.status, 403);

    let mut known = Vec::new();
    let mut unknown = Vec::new();
    let mut pages = Vec::new();
    for i in 0..4 {
        // Fresh clients and spaced attempts: no throttling in the way.
        t.clock.advance(chrono::Duration::minutes(10));
        let a = t.client();
        let started = Instant::now();
        let wrong = login(&a, &email, "wrong password number x").await;
        known.push(started.elapsed());
        let b = t.client();
        let started = Instant::now();
        let missing = login(
            &b,
            &format!("nobody{i}@example.test"),
            "wrong password number x",
        )
        .await;
        unknown.push(started.elapsed());
        pages.push((wrong, missing));
    }
    for (wrong, missing) in &pages {
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.status, missing.status);
        // The page keeps what was typed: blank the addresses out.
        let a = normalized(wrong).replace(&email, "");
        let b = normalized(missing);
        let b = (0..4).fold(b, |b, i| b.replace(&format!("nobody{i}@example.test"), ""));
        assert_eq!(a, b);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[2].as_secs_f64(), unknown[2].as_secs_f64());
    // Both pay for one Argon2id verification; medians within a factor 2.
    assert!(
        k < 2.0 * u && u < 2.0 * k,
        "known {k:.3}s vs unknown {u:.3}s"
    );
    t.cleanup().await;
}

// ACC-06: the session cookie's attributes, a new id at login, idle and
// absolute expiry by the injected clock, "sign out everywhere".
#[tokio::test]
async fn acc06_sessions_expire_and_can_be_ended() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let a = t.client();
    let page = login(&a, &email, DEMO_PASSWORD).await;
    let cookie = page
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("__Host-carfin-session="))
        .expect("session cookie")
        .to_string();
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let first = a.cookie("__Host-carfin-session").unwrap();
    // A new id at every login.
    let again = login(&a, &email, DEMO_PASSWORD).await;
    assert_eq!(again.status, 303);
    assert_ne!(a.cookie("__Host-carfin-session").unwrap(), first);
    assert_eq!(a.get("/my").await.status, 200);

    // Idle: 15 minutes without a request.
    t.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(a.get("/my").await.status, 200);
    t.clock.advance(chrono::Duration::minutes(15));
    let expired = a.get("/my").await;
    assert_eq!(expired.status, 303);
    assert_eq!(expired.location(), Some("/login"));

    // Absolute: 12 hours, however active.
    assert_eq!(login(&a, &email, DEMO_PASSWORD).await.status, 303);
    for _ in 0..(12 * 6) {
        t.clock.advance(chrono::Duration::minutes(10));
        a.get("/my").await;
    }
    assert_eq!(a.get("/my").await.status, 303);

    // Sign out everywhere: the other browser is signed out, this one not.
    let b = t.client();
    assert_eq!(login(&a, &email, DEMO_PASSWORD).await.status, 303);
    assert_eq!(login(&b, &email, DEMO_PASSWORD).await.status, 303);
    let security = a.get("/my/security").await;
    assert!(
        security.text.contains("Firefox") || security.text.contains("/ ?"),
        "device shown"
    );
    assert_eq!(
        a.post_form("/my/security/sessions/end-others", &[])
            .await
            .status,
        303
    );
    assert_eq!(b.get("/my").await.status, 303);
    assert_eq!(a.get("/my").await.status, 200);
    t.cleanup().await;
}

// ACC-08: reporting freezes the account, ends its sessions, blocks login,
// and the confirmation e-mail carries the report's time.
#[tokio::test]
async fn acc08_report_freezes_the_account_and_confirms_with_its_time() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    let a = t.client();
    let b = t.client();
    assert_eq!(login(&a, &email, DEMO_PASSWORD).await.status, 303);
    assert_eq!(login(&b, &email, DEMO_PASSWORD).await.status, 303);
    a.get("/my/security").await;
    let reported = a.post_form("/my/security/report", &[]).await;
    assert_eq!(reported.status, 200);
    // 2026-03-02 09:00 UTC is 10:00 CET in Amsterdam and Brussels.
    let mail = message(&t, customer, "mail.access_reported").await;
    assert!(mail.text.contains("10:00:00 CET"), "{}", mail.text);
    assert!(reported.text.contains("10:00:00 CET"));
    assert_eq!(b.get("/my").await.status, 303, "all sessions ended");
    let refused = login(&a, &email, DEMO_PASSWORD).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.text.contains("10:00:00 CET"),
        "the customer sees why"
    );
    t.cleanup().await;
}

// ACC-07, ACC-08: a reset link works once within 30 minutes, ends every
// session, and the notice carries a link that freezes the account.
#[tokio::test]
async fn acc07_reset_link_is_single_use_and_the_notice_can_freeze() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    let c = t.client();
    c.get("/password/forgot").await;
    let known = c.post_form("/password/forgot", &[("email", &email)]).await;
    let unknown = c
        .post_form("/password/forgot", &[("email", "nobody@example.test")])
        .await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(normalized(&known), normalized(&unknown));
    let reset = link_path(
        &t,
        &message(&t, customer, "mail.reset_password").await.text,
        "/password/reset/",
    );
    assert_eq!(c.get(&reset).await.status, 200);
    let weak = c
        .post_form(&reset, &[("new_password", "password1234")])
        .await;
    assert_eq!(weak.status, 422, "common passwords are refused");
    let done = c
        .post_form(&reset, &[("new_password", "a completely new passphrase")])
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let used = c
        .post_form(&reset, &[("new_password", "yet another new passphrase")])
        .await;
    assert_eq!(used.status, 422);
    assert_eq!(
        login(&c, &email, "a completely new passphrase")
            .await
            .status,
        303
    );
    // The notice after the change carries the report link.
    let notice = message(&t, customer, "mail.password_changed").await;
    let report = link_path(&t, &notice.text, "/report/");
    let d = t.client();
    assert_eq!(d.get(&report).await.status, 200);
    assert_eq!(d.post_form(&report, &[]).await.status, 200);
    assert_eq!(c.get("/my").await.status, 303, "frozen: sessions ended");

    // A reset link older than 30 minutes no longer works.
    let other = demo_logins(&t).await.remove(1);
    let other_customer = customer_of_email(&t, &other).await;
    c.get("/password/forgot").await;
    c.post_form("/password/forgot", &[("email", &other)]).await;
    let link = link_path(
        &t,
        &message(&t, other_customer, "mail.reset_password")
            .await
            .text,
        "/password/reset/",
    );
    t.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(c.get(&link).await.status, 410);
    t.cleanup().await;
}

// ACC-04: TOTP as a second factor, and a recovery code that works once.
#[tokio::test]
async fn acc04_totp_second_factor_and_recovery_codes() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let c = t.client();
    assert_eq!(login(&c, &email, DEMO_PASSWORD).await.status, 303);
    let setup = c.get("/my/security/two-factor/totp").await;
    assert!(
        setup.text.contains("data:image/svg+xml;base64,"),
        "QR code rendered"
    );
    let secret: String = setup
        .text
        .split("<code class=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let secret = carfin_app::identity::totp::TotpSecret::from_base32(&secret).unwrap();
    let now = t.clock.now().timestamp();
    let code = carfin_app::identity::totp::code_at(&secret, now);
    let on = c
        .post_form("/my/security/two-factor/totp", &[("code", &code)])
        .await;
    assert_eq!(on.status, 200);
    let recovery: Vec<String> = on
        .text
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    let d = t.client();
    let step = login(&d, &email, DEMO_PASSWORD).await;
    assert_eq!(step.location(), Some("/login/verify"));
    let half = d.cookie("__Host-carfin-session").unwrap();
    assert_eq!(
        d.get("/my").await.status,
        303,
        "not signed in before the second step"
    );
    d.get("/login/verify").await;
    t.clock.advance(chrono::Duration::seconds(30));
    let code = carfin_app::identity::totp::code_at(&secret, t.clock.now().timestamp());
    let passed = d.post_form("/login/verify", &[("code", &code)]).await;
    assert_eq!(passed.location(), Some("/my"));
    assert_ne!(
        d.cookie("__Host-carfin-session").unwrap(),
        half,
        "a new id at step-up"
    );
    assert_eq!(d.get("/my").await.status, 200);

    let e = t.client();
    login(&e, &email, DEMO_PASSWORD).await;
    e.get("/login/verify").await;
    let passed = e
        .post_form("/login/verify", &[("code", &recovery[0])])
        .await;
    assert_eq!(passed.location(), Some("/my"));
    let f = t.client();
    login(&f, &email, DEMO_PASSWORD).await;
    f.get("/login/verify").await;
    let reused = f
        .post_form("/login/verify", &[("code", &recovery[0])])
        .await;
    assert_eq!(reused.status, 422, "a recovery code works once");
    t.cleanup().await;
}

// ACC-09: closing needs the password, takes effect at once, removes the
// portal-only data and keeps the contract records.
#[tokio::test]
async fn acc09_closing_the_account_removes_portal_data_only() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    let c = t.client();
    login(&c, &email, DEMO_PASSWORD).await;
    c.get("/my/security").await;
    let wrong = c
        .post_form("/my/account/close", &[("password", "not my password")])
        .await;
    assert_eq!(wrong.status, 422);
    let closed = c
        .post_form("/my/account/close", &[("password", DEMO_PASSWORD)])
        .await;
    assert_eq!(closed.status, 200);
    let count = |sql: &'static str| {
        let db = t.app.db().clone();
        async move {
            sqlx::query(sql)
                .bind(customer)
                .fetch_one(db.reader())
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM accounts WHERE customer_id = $1").await,
        0
    );
    assert!(count("SELECT COUNT(*) FROM contract_parties WHERE customer_id = $1").await > 0);
    assert!(count("SELECT COUNT(*) FROM terms_acceptances WHERE customer_id = $1").await > 0);
    assert_eq!(count_messages(&t, customer, "mail.account_closed").await, 1);
    assert_eq!(login(&c, &email, DEMO_PASSWORD).await.status, 401);
    t.cleanup().await;
}

// Authorisation: another customer's contract ids give 404 with no data.
#[tokio::test]
async fn another_customers_contract_gives_404() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    let (other_id, other_number): (i64, String) = {
        let row = sqlx::query("SELECT c.id, c.contract_number FROM contracts c JOIN contract_parties p ON p.contract_id = c.id WHERE p.customer_id <> $1 LIMIT 1")
            .bind(customer)
            .fetch_one(t.app.db().reader())
            .await
            .unwrap();
        (row.try_get(0).unwrap(), row.try_get(1).unwrap())
    };
    let c = t.client();
    login(&c, &email, DEMO_PASSWORD).await;
    for path in [
        format!("/my/contracts/{other_id}"),
        format!("/my/contracts/{other_id}/activate"),
    ] {
        let page = c.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.text.contains(&other_number));
    }
    let page = c
        .post_form(&format!("/my/contracts/{other_id}/activate/send"), &[])
        .await;
    assert_eq!(page.status, 404);
    t.cleanup().await;
}

// ACC-09: the daily job tells the customer 30 days before and closes the
// account 18 months after the last contract ended.
#[tokio::test]
async fn acc09_accounts_close_18_months_after_the_last_contract_with_notice() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = demo_logins(&t).await.remove(0);
    let customer = customer_of_email(&t, &email).await;
    // Every contract of the customer ended 17 months and 10 days ago.
    let today = carfin_app::Clock::now(t.app.clock()).date_naive();
    let ended = today
        .checked_sub_months(chrono::Months::new(18))
        .unwrap()
        .checked_add_days(chrono::Days::new(20))
        .unwrap();
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query(
        "UPDATE contracts SET status = 'ended', ended_on = $2 WHERE id IN \
         (SELECT contract_id FROM contract_parties WHERE customer_id = $1)",
    )
    .bind(customer)
    .bind(ended.to_string())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let job = carfin_jobs::job("close_expired_accounts").unwrap();
    assert!(carfin_jobs::run_if_due(&t.app, job, "test").await.unwrap());
    assert_eq!(
        count_messages(&t, customer, "mail.account_expiring").await,
        1
    );
    let c = t.client();
    assert_eq!(
        login(&c, &email, DEMO_PASSWORD).await.status,
        303,
        "still open"
    );
    // Once a day: the notice is not repeated; 21 days later it closes.
    t.clock.advance(chrono::Duration::days(1));
    carfin_jobs::run_if_due(&t.app, job, "test").await.unwrap();
    assert_eq!(
        count_messages(&t, customer, "mail.account_expiring").await,
        1
    );
    t.clock.advance(chrono::Duration::days(20));
    carfin_jobs::run_if_due(&t.app, job, "test").await.unwrap();
    assert_eq!(
        count_messages(&t, customer, "mail.account_expired").await,
        1
    );
    assert_eq!(c.get("/my").await.status, 303, "sessions ended");
    assert_eq!(login(&c, &email, DEMO_PASSWORD).await.status, 401);
    t.cleanup().await;
}

// ENT-01, ENT-02, OPS-06: messages speak the customer's language and carry
// the brand and the legal entity's details.
#[tokio::test]
async fn ent01_messages_are_localized_and_branded() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let f = unregistered_person(&t).await;
    // A French-speaking browser.
    let c = t.client().with_header("accept-language", "fr-BE,fr;q=0.9");
    c.get("/register").await;
    c.post_form(
        "/register",
        &[
            ("holder", "person"),
            ("contract_number", &f.contract_number),
            ("date_of_birth", &f.birth),
            ("postcode", &f.postcode),
            ("email", "fr.client@example.test"),
            ("password", "une phrase de passe assez longue"),
            ("accept_terms", "on"),
        ],
    )
    .await;
    let mail = message(&t, f.customer_id, "mail.verify_email").await;
    let subject = mail.subject.clone().unwrap();
    let fr = carfin_app::i18n::t(carfin_domain::Language::Fr, "mail.greeting");
    assert!(mail.text.starts_with(fr), "{}", mail.text);
    let directory = t.app.directory().await.unwrap();
    let brand = directory
        .brands
        .iter()
        .find(|b| subject.contains(&b.name))
        .unwrap_or_else(|| panic!("a brand in {subject}"));
    let entity = directory.entity_of(brand).unwrap();
    assert!(mail.text.contains(&entity.name) && mail.text.contains(&entity.service_phone));
    assert!(mail.html.unwrap().contains(&brand.name));
    t.cleanup().await;
}
