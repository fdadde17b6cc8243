//! Staff sign-in over HTTP (BOF-01): a password and a mandatory TOTP code,
//! a session apart from customers' with stricter limits.

use carfin_app::identity::totp::{code_at, TotpSecret};
use carfin_app::staff::auth::create_with_password;
use carfin_app::staff::Role;
use carfin_app::Clock;
use carfin_testkit::{Client, Demo, TestApp};
use chrono::Duration;
use sqlx::Row;

const PASSWORD: &str = "a long staff pass phrase";

async fn spawn() -> TestApp {
    TestApp::builder().demo(Demo::Reference).spawn().await
}

/// The current TOTP code of a base32 secret at the app's clock.
fn code(t: &TestApp, secret: &str) -> String {
    code_at(
        &TotpSecret::from_base32(secret).unwrap(),
        t.clock.now().timestamp(),
    )
}

/// Signs a new staff member with `roles` in; returns the client and secret.
async fn signed_in(t: &TestApp, email: &str, roles: &[Role]) -> (Client, String) {
    let (_, secret) = create_with_password(&t.app, email, "Test Staff", PASSWORD, roles)
        .await
        .unwrap();
    let c = t.client().with_header("accept-language", "en");
    c.get("/staff/login").await;
    let r = c
        .post_form("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    c.get("/staff/login/verify").await;
    let r = c
        .post_form("/staff/login/verify", &[("code", &code(t, &secret))])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), Some("/staff"));
    (c, secret)
}

// BOF-01: the back office is out of reach without both factors; the code
// step gives a new session id; the cookie is the staff one, strict.
#[tokio::test]
async fn bof01_staff_need_password_and_totp() {
    let t = spawn().await;
    let (_, secret) = create_with_password(
        &t.app,
        "Agent.Smith@staff.example",
        "Agent Smith",
        PASSWORD,
        &[Role::CustomerService],
    )
    .await
    .unwrap();
    let c = t.client().with_header("accept-language", "en");
    let r = c.get("/staff").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/staff/login"));

    // Wrong password and unknown address: the same answer.
    c.get("/staff/login").await;
    let wrong = c
        .post_form(
            "/staff/login",
            &[
                ("email", "agent.smith@staff.example"),
                ("password", "not it at all"),
            ],
        )
        .await;
    let unknown = c
        .post_form(
            "/staff/login",
            &[("email", "nobody@staff.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert!(wrong
        .text
        .contains("The e-mail address or password is not right."));
    assert!(unknown
        .text
        .contains("The e-mail address or password is not right."));
    assert!(
        wrong.text.contains("agent.smith@staff.example"),
        "typed address kept"
    );

    // Password right: only the code step, nothing else.
    let r = c
        .post_form(
            "/staff/login",
            &[
                ("email", "agent.smith@staff.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/staff/login/verify"));
    let cookies = r.header_all("set-cookie").join("\n");
    assert!(cookies.contains("__Host-carfin-staff="), "{cookies}");
    assert!(cookies.contains("HttpOnly") && cookies.contains("Secure"));
    assert!(cookies.contains("SameSite=Strict"), "{cookies}");
    let half = c.cookie("__Host-carfin-staff").unwrap();
    for path in [
        "/staff",
        "/staff/customers",
        "/staff/queues",
        "/staff/access-review",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 303, "{path} without the code");
        assert_eq!(r.location(), Some("/staff/login"), "{path}");
    }
    // The half session survives the redirects above only as long as the
    // extractor does not end it: sign in again to the code step.
    c.get("/staff/login").await;
    c.post_form(
        "/staff/login",
        &[
            ("email", "agent.smith@staff.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let page = c.get("/staff/login/verify").await;
    assert_eq!(page.status, 200);
    let bad = c
        .post_form("/staff/login/verify", &[("code", "000000")])
        .await;
    assert_eq!(bad.status, 401);
    assert!(bad.text.contains("That code is not right"));
    let right = code(&t, &secret);
    let ok = c
        .post_form("/staff/login/verify", &[("code", &right)])
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location(), Some("/staff"));
    let full = c.cookie("__Host-carfin-staff").unwrap();
    assert_ne!(full, half, "a new session id after the second factor");
    let home = c.get("/staff").await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("Signed in as Agent Smith."));
    assert!(home.text.contains("Customer service"));
    let audited: i64 =
        sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.signed_in'")
            .fetch_one(t.app.db().reader())
            .await
            .unwrap()
            .get(0);
    assert_eq!(audited, 1);

    // The same code again (a replay) is refused on a new sign-in.
    let other = t.client().with_header("accept-language", "en");
    other.get("/staff/login").await;
    other
        .post_form(
            "/staff/login",
            &[
                ("email", "agent.smith@staff.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    other.get("/staff/login/verify").await;
    let replay = other
        .post_form("/staff/login/verify", &[("code", &right)])
        .await;
    assert_eq!(replay.status, 401, "a used code is refused");

    // Sign-out ends the session.
    c.get("/staff").await;
    let out = c.post_form("/staff/logout", &[]).await;
    assert_eq!(out.status, 303);
    c.set_cookie("__Host-carfin-staff", &full);
    assert_eq!(c.get("/staff").await.status, 303);
}

// BOF-01: staff sessions end after 10 idle minutes and after 8 hours in
// any case; customer and staff sessions do not open each other's doors.
#[tokio::test]
async fn bof01_staff_sessions_are_strict_and_separate() {
    let t = spawn().await;
    let (c, _) = signed_in(&t, "idle@staff.example", &[Role::SecurityOfficer]).await;
    t.clock.advance(Duration::minutes(9));
    assert_eq!(c.get("/staff").await.status, 200);
    t.clock.advance(Duration::minutes(10));
    let r = c.get("/staff").await;
    assert_eq!(r.status, 303, "idle for 10 minutes");

    let (c, _) = signed_in(&t, "long@staff.example", &[Role::SecurityOfficer]).await;
    for _ in 0..48 {
        t.clock.advance(Duration::minutes(9));
        c.get("/staff").await;
    }
    // 7 h 12 min of activity: still in; past 8 h: out.
    assert_eq!(c.get("/staff").await.status, 200);
    t.clock.advance(Duration::minutes(9));
    for _ in 0..6 {
        t.clock.advance(Duration::minutes(9));
        c.get("/staff").await;
    }
    assert_eq!(c.get("/staff").await.status, 303, "absolute 8 hours");

    // A staff cookie is not a customer session, and the other way round.
    let (c, _) = signed_in(&t, "apart@staff.example", &[Role::Administrator]).await;
    let my = c.get("/my").await;
    assert_eq!(my.status, 303);
    assert_eq!(my.location(), Some("/login"));
    let customer = t.client();
    let token = c.cookie("__Host-carfin-staff").unwrap();
    customer.set_cookie("__Host-carfin-session", &token);
    let r = customer.get("/staff").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/staff/login"));
}

// BOF-01: the roles are the seven of the requirement, shown in three
// languages.
#[tokio::test]
async fn bof01_roles_in_three_languages() {
    let t = spawn().await;
    let (c, _) = signed_in(&t, "all@staff.example", &Role::ALL).await;
    let en = c.get("/staff").await;
    for role in [
        "Customer service",
        "Contract administration",
        "Collections",
        "Privacy officer",
        "Security officer",
        "Administrator",
        "Auditor",
    ] {
        assert!(en.text.contains(role), "{role}");
    }
    let r = c
        .post_form("/language", &[("lang", "fr"), ("next", "/staff")])
        .await;
    let fr = c.follow(&r).await;
    assert!(fr.text.contains("<html lang=\"fr\">"));
    assert!(fr.text.contains("Recouvrement"));
    let r = c
        .post_form("/language", &[("lang", "nl"), ("next", "/staff")])
        .await;
    let nl = c.follow(&r).await;
    assert!(nl.text.contains("Contractadministratie"));
}
