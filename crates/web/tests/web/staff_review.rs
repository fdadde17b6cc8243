//! The access review (BOF-06) and the auditor's read-only audit log view
//! (PRV-15) over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use carfin_app::audit::VerifyReport;
use carfin_app::identity::totp::{code_at, TotpSecret};
use carfin_app::staff::auth::create_with_password;
use carfin_app::staff::review::sha256_hex;
use carfin_app::staff::Role;
use carfin_app::Clock;
use carfin_testkit::{Client, Demo, TestApp, TestResponse};
use chrono::{TimeZone, Utc};
use sqlx::Row;

const PASSWORD: &str = "a long staff pass phrase";

/// A staff account; returns its id and TOTP secret.
async fn account(t: &TestApp, email: &str, name: &str, roles: &[Role]) -> (i64, String) {
    create_with_password(&t.app, email, name, PASSWORD, roles)
        .await
        .unwrap()
}

/// Signs an existing account in (password, then TOTP) in English.
async fn sign_in(t: &TestApp, email: &str, secret: &str) -> Client {
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
    assert_eq!(r.location(), Some("/staff"));
    c
}

async fn exec(t: &TestApp, sql: &str, binds: Vec<i64>, text: Option<&str>) {
    let mut tx = t.app.db().begin_write().await.unwrap();
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b);
    }
    if let Some(text) = text {
        q = q.bind(text.to_string());
    }
    q.execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// A customer file opened by `staff_id` at `at` (unix) for `purpose`.
async fn opened(t: &TestApp, staff_id: i64, customer_id: i64, at: i64, purpose: &str) {
    exec(
        t,
        "INSERT INTO staff_file_accesses (id, staff_id, customer_id, opened_at, expires_at, purpose, reference) \
         VALUES ($1, $2, $3, $4, $5, $6, 'REF-1')",
        vec![t.app.ids().next(), staff_id, customer_id, at, at + 1800],
        Some(purpose),
    )
    .await;
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .timestamp()
}

/// The `<tr>` of the report table that holds `needle`.
fn row<'a>(page: &'a str, needle: &str) -> &'a str {
    page.split("<tr>")
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle} in\n{page}"))
}

/// The numbers of a row's `class="num"` cells, in order.
fn numbers(row: &str) -> Vec<i64> {
    row.split("<td class=\"num\">")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].trim().parse().unwrap())
        .collect()
}

/// A CSV line split into cells (RFC 4180 quotes).
fn cells(line: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == sep && !quoted => out.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    out.push(cell);
    out
}

async fn count(t: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

fn hidden_sha256(page: &TestResponse) -> String {
    let at = page.text.find("name=\"sha256\" value=\"").unwrap() + "name=\"sha256\" value=\"".len();
    page.text[at..at + 64].to_string()
}

// BOF-06: a security officer sees every staff account with its roles, sign-in
// methods, last sign-in and the customer files opened per purpose in the
// period (local days, ends included; outside the period not counted), with
// totals and attention flags; the CSV (BOM, formula-safe) has the same
// numbers; the sign-off records the SHA-256 of exactly that CSV with an
// audit record, and the audit chain still verifies.
#[tokio::test]
async fn bof06_access_review_report_csv_and_sign_off() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let customer: i64 = sqlx::query("SELECT id FROM customers ORDER BY id LIMIT 1")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    let (sec, sec_secret) = account(
        &t,
        "sam.security@staff.example",
        "Sam Security",
        &[Role::SecurityOfficer],
    )
    .await;
    let (cora, _) = account(
        &t,
        "cora.service@staff.example",
        "Cora Service",
        &[Role::CustomerService],
    )
    .await;
    let (colin, _) = account(
        &t,
        "colin.collect@staff.example",
        "Colin Collect",
        &[Role::Collections, Role::CustomerService],
    )
    .await;
    let (ada, _) = account(
        &t,
        "ada.admin@staff.example",
        "Ada Admin",
        &[Role::Administrator],
    )
    .await;
    let (aud, _) = account(&t, "aud.itor@staff.example", "Aud Itor", &[Role::Auditor]).await;
    account(
        &t,
        "formula@staff.example",
        "=cmd|' /C calc'!A0",
        &[Role::ContractAdministration],
    )
    .await;
    // Ada last signed in 100 days ago; the auditor is linked to SSO too.
    let now = t.clock.now().timestamp();
    exec(
        &t,
        "UPDATE staff_accounts SET last_sign_in_at = $1 WHERE id = $2",
        vec![now - 100 * 86_400, ada],
        None,
    )
    .await;
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("UPDATE staff_accounts SET oidc_subject_bidx = $1 WHERE id = $2")
        .bind(vec![42_u8; 32])
        .bind(aud)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Q4 2025 in local time: 1 Oct 00:00 CEST = 30 Sep 22:00 UTC,
    // 1 Jan 00:00 CET = 31 Dec 23:00 UTC.
    let inside_first = utc(2025, 9, 30, 22, 30); // 1 Oct 00:30 CEST
    let before = utc(2025, 9, 30, 21, 30); // 30 Sep 23:30 CEST
    let inside_last = utc(2025, 12, 31, 22, 30); // 31 Dec 23:30 CET
    let after = utc(2025, 12, 31, 23, 0); // 1 Jan 00:00 CET
    for at in [inside_first, utc(2025, 11, 15, 10, 0), inside_last, before] {
        opened(&t, cora, customer, at, "request").await;
    }
    opened(&t, cora, customer, utc(2025, 11, 3, 9, 0), "inbound_call").await;
    for at in [utc(2025, 10, 10, 12, 0), utc(2025, 12, 1, 8, 0), after] {
        opened(&t, colin, customer, at, "collection_case").await;
    }
    opened(&t, colin, customer, utc(2026, 1, 15, 9, 0), "inbound_call").await;

    let c = sign_in(&t, "sam.security@staff.example", &sec_secret).await;
    // Without a period: the last full calendar quarter (today is 2 March 2026).
    let page = c.get("/staff/access-review").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let text = &page.text;
    assert_eq!(text.matches("<h1").count(), 1);
    assert!(text.contains("<caption>Staff accounts and customer files opened, 1 October 2025 – 31 December 2025</caption>"), "{text}");
    assert!(text.contains("name=\"from\" type=\"date\" value=\"2025-10-01\""));
    let unescaped = text.replace("&#38;", "&").replace("&amp;", "&");
    assert!(unescaped.contains("href=\"/staff/access-review.csv?from=2025-10-01&to=2025-12-31\""));
    assert!(text.contains("<th scope=\"col\""));
    assert!(
        text.contains("href=\"/staff/audit\""),
        "a link to the audit log"
    );

    let cora_row = row(text, "cora.service@staff.example");
    assert!(cora_row.contains("Customer service"));
    assert!(cora_row.contains("Password and authentication code"));
    assert!(cora_row.contains("Never"));
    assert_eq!(numbers(cora_row), vec![3, 1, 0, 4]);
    assert!(!cora_row.contains("Privileged role") && !cora_row.contains("Not signed in"));
    let colin_row = row(text, "colin.collect@staff.example");
    assert!(
        colin_row.contains("Customer service, Collections"),
        "{colin_row}"
    );
    assert_eq!(numbers(colin_row), vec![0, 0, 2, 2]);
    let sam_row = row(text, "sam.security@staff.example");
    assert!(sam_row.contains("Security officer"));
    assert!(sam_row.contains("2 March 2026 10:00:00 CET"), "{sam_row}");
    assert!(sam_row.contains("Privileged role") && sam_row.contains("aria-hidden=\"true\">⚠"));
    assert_eq!(numbers(sam_row), vec![0, 0, 0, 0]);
    let ada_row = row(text, "ada.admin@staff.example");
    assert!(ada_row.contains("Administrator"));
    assert!(ada_row.contains("Privileged role") && ada_row.contains("Not signed in for 90 days"));
    let aud_row = row(text, "aud.itor@staff.example");
    assert!(aud_row.contains("Password and authentication code, Single sign-on (linked)"));
    assert!(!aud_row.contains("Privileged role"));
    let totals = row(text, "Totals");
    assert_eq!(numbers(totals), vec![3, 1, 2, 6]);

    // The CSV: BOM, header, one row per account, the same numbers.
    let csv = c
        .get("/staff/access-review.csv?from=2025-10-01&to=2025-12-31")
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("access-review-2025-10-01-2025-12-31.csv"));
    assert!(csv.bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
    let body = String::from_utf8(csv.bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    let accounts: i64 = sqlx::query("SELECT COUNT(*) FROM staff_accounts")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(lines.len() as i64, accounts + 1, "header + one row each");
    let header = cells(lines[0], ',');
    assert_eq!(header[..2], ["Name", "E-mail address"]);
    assert_eq!(header[6], "Files opened for a request");
    let csv_row = |email: &str| -> Vec<String> {
        lines
            .iter()
            .map(|l| cells(l, ','))
            .find(|c| c[1] == email)
            .unwrap_or_else(|| panic!("no CSV row for {email}"))
    };
    let cora_csv = csv_row("cora.service@staff.example");
    assert_eq!(cora_csv[0], "Cora Service");
    assert_eq!(&cora_csv[6..10], ["3", "1", "0", "4"]);
    let colin_csv = csv_row("colin.collect@staff.example");
    assert_eq!(colin_csv[2], "Customer service, Collections");
    assert_eq!(&colin_csv[6..10], ["0", "0", "2", "2"]);
    let ada_csv = csv_row("ada.admin@staff.example");
    assert!(ada_csv[10].contains("Privileged role") && ada_csv[10].contains("Not signed in"));
    // Formula injection: the cell starts with an apostrophe.
    let formula = csv_row("formula@staff.example");
    assert_eq!(formula[0], "'=cmd|' /C calc'!A0");
    assert!(lines.iter().all(|l| !l.starts_with('=')));
    // Dutch: `;` between fields.
    let nl = c
        .get_with(
            "/staff/access-review.csv?from=2025-10-01&to=2025-12-31",
            &[("accept-language", "nl")],
        )
        .await;
    assert!(String::from_utf8_lossy(&nl.bytes).contains("Naam;E-mailadres;Rollen"));

    // The page shows the SHA-256 of exactly that CSV.
    let sha = sha256_hex(&csv.bytes);
    assert_eq!(hidden_sha256(&page), sha);
    assert!(page
        .text
        .contains(&format!("id=\"report-sha256\">{sha}</code>")));

    // Sign-off: the box must be ticked; a changed report is refused.
    let fields = |confirm: bool, hash: &str| -> Vec<(String, String)> {
        let mut f = vec![
            ("from".to_string(), "2025-10-01".to_string()),
            ("to".to_string(), "2025-12-31".to_string()),
            ("sha256".to_string(), hash.to_string()),
        ];
        if confirm {
            f.push(("confirm".to_string(), "yes".to_string()));
        }
        f
    };
    let post = |f: Vec<(String, String)>| {
        let c = c.clone();
        async move {
            let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.post_form("/staff/access-review/sign-off", &refs).await
        }
    };
    let unticked = post(fields(false, &sha)).await;
    assert_eq!(unticked.status, 422);
    assert!(unticked
        .text
        .contains("Tick the box to confirm your review."));
    let stale = post(fields(true, &"0".repeat(64))).await;
    assert_eq!(stale.status, 422);
    assert!(stale
        .text
        .contains("The report changed since you opened it."));
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM access_reviews WHERE reviewer_staff_id = $1",
            sec
        )
        .await,
        0
    );

    let signed = post(fields(true, &sha)).await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let after_page = c.follow(&signed).await;
    assert!(after_page
        .text
        .contains("The access review was signed off and recorded."));
    let previous = &after_page.text[after_page.text.find("id=\"signoffs\"").unwrap()..];
    assert!(previous.contains("1 October 2025 – 31 December 2025"));
    assert!(previous.contains("Sam Security"));
    assert!(previous.contains(&format!("{}…", &sha[..16])));

    let stored = sqlx::query(
        "SELECT period_from, period_to, reviewer_staff_id, report_sha256, signed_off_at FROM access_reviews",
    )
    .fetch_all(t.app.db().reader())
    .await
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].get::<String, _>(0), "2025-10-01");
    assert_eq!(stored[0].get::<String, _>(1), "2025-12-31");
    assert_eq!(stored[0].get::<i64, _>(2), sec);
    assert_eq!(hex_of(&stored[0].get::<Vec<u8>, _>(3)), sha);
    assert_eq!(stored[0].get::<i64, _>(4), t.clock.now().timestamp());
    let audited = sqlx::query(
        "SELECT role, purpose, subject_id FROM audit_log WHERE action = 'staff.access_review_signed_off' AND actor_id = $1",
    )
    .bind(sec)
    .fetch_all(t.app.db().reader())
    .await
    .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].get::<String, _>(0), "security_officer");
    assert_eq!(audited[0].get::<String, _>(1), "protect_systems");
    assert_eq!(audited[0].get::<Option<i64>, _>(2), None);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM audit_log WHERE action = 'staff.access_review_exported' AND actor_id = $1", sec).await,
        2,
        "both CSV downloads audited"
    );
    assert!(matches!(
        carfin_app::audit::verify(&t.app).await.unwrap(),
        VerifyReport::Intact { .. }
    ));

    // A period that has not ended cannot be signed off.
    let open = c
        .get("/staff/access-review?from=2026-03-01&to=2026-03-31")
        .await;
    assert_eq!(open.status, 200);
    let open_sha = hidden_sha256(&open);
    let refused = c
        .post_form(
            "/staff/access-review/sign-off",
            &[
                ("from", "2026-03-01"),
                ("to", "2026-03-31"),
                ("sha256", &open_sha),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused
        .text
        .contains("A period can be signed off only after its last day."));
    // A reversed period is refused on the page.
    let reversed = c
        .get("/staff/access-review?from=2025-12-31&to=2025-10-01")
        .await;
    assert_eq!(reversed.status, 422);
    assert!(reversed
        .text
        .contains("The last day must not be before the first day."));
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM access_reviews WHERE reviewer_staff_id = $1",
            sec
        )
        .await,
        1
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// BOF-06, PRV-15: customer service (and every role but the officers,
// administrator and auditor) gets "not found" on the report, the CSV and
// the sign-off; the administrator and the auditor read the review but
// cannot sign it off; the auditor reads the audit log, newest first, with
// the chain's verification, and every read of the log is itself audited.
#[tokio::test]
async fn bof06_who_may_review_sign_off_and_read_the_audit_log() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let (_, cs_secret) = account(
        &t,
        "cs@staff.example",
        "Cas Service",
        &[Role::CustomerService],
    )
    .await;
    let (_, admin_secret) =
        account(&t, "admin@staff.example", "Ad Min", &[Role::Administrator]).await;
    let (aud, aud_secret) = account(
        &t,
        "auditor@staff.example",
        "Audrey Auditor",
        &[Role::Auditor],
    )
    .await;
    let (_, priv_secret) = account(
        &t,
        "privacy@staff.example",
        "Pri Vacy",
        &[Role::PrivacyOfficer],
    )
    .await;

    let cs = sign_in(&t, "cs@staff.example", &cs_secret).await;
    for path in [
        "/staff/access-review",
        "/staff/access-review?from=2025-10-01&to=2025-12-31",
        "/staff/access-review.csv?from=2025-10-01&to=2025-12-31",
        "/staff/access-review.csv",
        "/staff/audit",
        "/staff/audit?verify=1",
    ] {
        let r = cs.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.text.contains("Page not found"), "{path}");
    }
    let forged = [
        ("from", "2025-10-01"),
        ("to", "2025-12-31"),
        ("sha256", "00"),
        ("confirm", "yes"),
    ];
    cs.get("/staff").await;
    let r = cs.post_form("/staff/access-review/sign-off", &forged).await;
    assert_eq!(r.status, 404);

    // The administrator reads the review but does not sign off (nor read
    // the audit log).
    let admin = sign_in(&t, "admin@staff.example", &admin_secret).await;
    let page = admin.get("/staff/access-review").await;
    assert_eq!(page.status, 200);
    assert!(!page
        .text
        .contains("action=\"/staff/access-review/sign-off\""));
    let r = admin
        .post_form("/staff/access-review/sign-off", &forged)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(admin.get("/staff/audit").await.status, 404);

    // The auditor: the review read-only, no sign-off, the audit log.
    let auditor = sign_in(&t, "auditor@staff.example", &aud_secret).await;
    let page = auditor.get("/staff/access-review").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(
        "Only the security officer or the privacy officer can sign an access review off."
    ));
    assert!(!page
        .text
        .contains("action=\"/staff/access-review/sign-off\""));
    assert!(page.text.contains("href=\"/staff/audit\""));
    let sha = shown_sha256(&page);
    let r = auditor
        .post_form(
            "/staff/access-review/sign-off",
            &[
                ("from", "2025-10-01"),
                ("to", "2025-12-31"),
                ("sha256", &sha),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
    let reviews: i64 = sqlx::query("SELECT COUNT(*) FROM access_reviews")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(reviews, 0);

    let reads = "SELECT COUNT(*) FROM audit_log WHERE action = 'staff.audit_log_read' AND actor_id = $1 AND role = 'auditor' AND purpose = 'protect_systems'";
    assert_eq!(count(&t, reads, aud).await, 0);
    let log = auditor.get("/staff/audit").await;
    assert_eq!(log.status, 200, "{}", log.text);
    assert_eq!(log.text.matches("<h1").count(), 1);
    assert!(log.text.contains("<caption>Audit records, newest first"));
    assert!(log.text.contains("<th scope=\"col\""));
    assert_eq!(count(&t, reads, aud).await, 1, "the read is audited");
    // Newest first: the read itself heads the list, before the sign-ins.
    let first_row = log
        .text
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(first_row.contains("staff.audit_log_read"), "{first_row}");
    assert!(first_row.contains("Staff member"));
    let read_at = log.text.find("staff.audit_log_read").unwrap();
    let sign_in_at = log.text.find("staff.signed_in").unwrap();
    assert!(read_at < sign_in_at, "newest first");
    assert!(
        !log.text.contains("auditor@staff.example"),
        "no personal values in the log"
    );

    let verified = auditor.get("/staff/audit?verify=1").await;
    assert_eq!(verified.status, 200);
    assert!(
        verified.text.contains("The audit log is intact:"),
        "{}",
        verified.text
    );
    assert_eq!(count(&t, reads, aud).await, 2);

    // The privacy officer may read the log and sign off; in Dutch.
    let privacy = sign_in(&t, "privacy@staff.example", &priv_secret).await;
    let nl = privacy
        .get_with("/staff/access-review", &[("accept-language", "nl")])
        .await;
    assert_eq!(nl.status, 200);
    assert!(nl.text.contains("<h1>Toegangsreview</h1>"));
    assert!(nl.text.contains("action=\"/staff/access-review/sign-off\""));
    let log = privacy
        .get_with("/staff/audit", &[("accept-language", "fr")])
        .await;
    assert_eq!(log.status, 200);
    assert!(
        log.text.contains("<h1>Journal d&#39;audit</h1>")
            || log.text.contains("<h1>Journal d'audit</h1>")
    );
}

/// The report's hash as shown (an auditor has no sign-off form).
fn shown_sha256(page: &TestResponse) -> String {
    let marker = "id=\"report-sha256\">";
    let at = page.text.find(marker).unwrap() + marker.len();
    page.text[at..at + 64].to_string()
}

// BOF-06: the CSV and the sign-off need a signed-in staff member at all.
#[tokio::test]
async fn bof06_review_needs_a_staff_session() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let c = t.client();
    for path in [
        "/staff/access-review",
        "/staff/access-review.csv",
        "/staff/audit",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.location(), Some("/staff/login"));
    }
}
