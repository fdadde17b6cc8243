//! Reconciliation in the back office (PAY-06): the settlement detail report
//! uploaded by contract administration, its refused lines by number, the
//! differences listed; other roles get 404.

use carfin_app::identity::totp::{code_at, TotpSecret};
use carfin_app::staff::auth::create_with_password;
use carfin_app::staff::Role;
use carfin_app::Clock;
use carfin_testkit::{Client, Demo, TestApp};
use sqlx::Row;

const PASSWORD: &str = "a long staff pass phrase";

async fn signed_in(t: &TestApp, email: &str, role: Role) -> Client {
    let (_, secret) = create_with_password(&t.app, email, "Test Staff", PASSWORD, &[role])
        .await
        .unwrap();
    let c = t.client().with_header("accept-language", "en");
    c.get("/staff/login").await;
    c.post_form("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    c.get("/staff/login/verify").await;
    let code = code_at(
        &TotpSecret::from_base32(&secret).unwrap(),
        t.clock.now().timestamp(),
    );
    let r = c.post_form("/staff/login/verify", &[("code", &code)]).await;
    assert_eq!(r.status, 303);
    c
}

/// Posts `content` as the `file` part of a multipart form, like a browser.
async fn upload(t: &TestApp, c: &Client, content: &str) -> (u16, String) {
    let token = c.last_form_token().unwrap();
    let boundary = "----carfinSettlement42";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"settlement.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    let cookie = ["__Host-carfin-csrf", "__Host-carfin-staff"]
        .iter()
        .filter_map(|n| c.cookie(n).map(|v| format!("{n}={v}")))
        .collect::<Vec<_>>()
        .join("; ");
    let r = reqwest::Client::new()
        .post(t.url(&format!("/staff/reconciliation?csrf_token={token}")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("cookie", cookie)
        .header("origin", t.url("").trim_end_matches('/'))
        .header("sec-fetch-site", "same-origin")
        .header("accept-language", "en")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

const HEADER: &str = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,\
Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),\
Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),\
Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number";

// PAY-06: the settlement report imported through the back office; a bad
// line reported by number, the good one kept and listed as a settlement
// without a booked payment; the same file again changes nothing.
#[tokio::test]
async fn pay06_settlement_report_uploaded_and_reconciled_in_the_back_office() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let c = signed_in(&t, "ca@staff.example", Role::ContractAdministration).await;
    let page = c.get("/staff/reconciliation").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("enctype=\"multipart/form-data\""));
    let today = t.clock.today();
    let file = format!(
        "{HEADER}\n\
         CarfinCo,CarfinTest,SETTLE0000000001,unknown-ref,ideal,{today} 10:00:00,CET,Settled,mod1,EUR,,123.45,1,EUR,,123.10,0.35,,,,ideal,,7\n\
         CarfinCo,CarfinTest,SETTLE0000000002,42,ideal,{today} 10:00:00,CET,Settled,mod2,EUR,,12.3x4,1,EUR,,12.00,0.34,,,,ideal,,7\n"
    );
    let (status, text) = upload(&t, &c, &file).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("1 line(s) imported"), "{text}");
    assert!(
        text.contains("<td class=\"num\">3</td>"),
        "line 3 refused: {text}"
    );
    assert!(text.contains("SETTLE0000000001"), "listed as a difference");
    assert!(text.contains("€123.45"), "{text}");
    let stored: i64 = sqlx::query("SELECT COUNT(*) FROM settlement_lines")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
    c.get("/staff/reconciliation").await;
    let (status, again) = upload(&t, &c, &file).await;
    assert_eq!(status, 200);
    assert!(again.contains("This file was imported before"), "{again}");
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'staff.settlement_report_imported'",
    )
    .fetch_one(t.app.db().reader())
    .await
    .unwrap()
    .get(0);
    assert_eq!(audited, 2);

    // Customer service neither reads nor imports.
    let cs = signed_in(&t, "cs@staff.example", Role::CustomerService).await;
    assert_eq!(cs.get("/staff/reconciliation").await.status, 404);
    cs.get("/staff").await;
    let (status, _) = upload(&t, &cs, &file).await;
    assert_eq!(status, 404);
}
