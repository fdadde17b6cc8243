//! Contract administration over HTTP (BOF-04): the upload of an import
//! file with its report, the invoice run, and contract amendments that
//! add a version the customer sees in the portal.

use carfin_app::identity::totp::{code_at, TotpSecret};
use carfin_app::staff::auth::create_with_password;
use carfin_app::staff::Role;
use carfin_app::Clock;
use carfin_domain::{NlPlate, Vin};
use carfin_testkit::{Client, Demo, TestApp};
use chrono::{Datelike, Months};
use sqlx::Row;

const PASSWORD: &str = "a long staff pass phrase";

/// Signs a new staff member with `roles` in (English pages).
async fn staff(t: &TestApp, email: &str, roles: &[Role]) -> Client {
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
    let code = code_at(
        &TotpSecret::from_base32(&secret).unwrap(),
        t.clock.now().timestamp(),
    );
    let r = c.post_form("/staff/login/verify", &[("code", &code)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    c
}

/// Posts `content` as the `file` of the upload form, as a browser sends a
/// multipart form: the token in the form and the query; the header too,
/// which is what the CSRF check reads today for non-urlencoded bodies.
async fn upload(t: &TestApp, c: &Client, file_name: &str, content: &str) -> (u16, String) {
    let token = c.last_form_token().expect("a page with a form first");
    let boundary = "----carfinBoundary7MA4YWxkTrZu0gW";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    let cookie = ["__Host-carfin-csrf", "__Host-carfin-staff"]
        .iter()
        .filter_map(|n| c.cookie(n).map(|v| format!("{n}={v}")))
        .collect::<Vec<_>>()
        .join("; ");
    let base = t.url("");
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(t.url(&format!("/staff/imports?csrf_token={token}")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("cookie", cookie)
        .header("origin", base.trim_end_matches('/'))
        .header("sec-fetch-site", "same-origin")
        .header("accept-language", "en")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn count(t: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .get(0)
}

fn import_file() -> String {
    let vin = Vin::generate("WVW", 42).unwrap();
    let plate = NlPlate::generate(9, 42).unwrap();
    format!(
        "record;customer_number;entity;kind;surname;date_of_birth;street;house_number;postcode;city;email;\
         contract_number;brand;contract_type;status;start_date;end_date;term_months;financed_amount;\
         nominal_rate_bp;apr_bp;monthly_instalment;vin;licence_plate;make;model;fuel;first_registration;\
         invoice_number;period;issue_date;due_date;amount\n\
         customer;K-W1;carfin-nederland;person;De Vries;1970-01-31;Molenweg;7;1234AB;Breda;anna.devries@example.net;;;;;;;;;;;;;;;;;;;;;;\n\
         contract;K-W1;;;;;;;;;;C-W1;autovia;financial_lease;active;2025-03-01;2030-03-01;60;25000.00;\
         450;470;466.08;{};{};Skoda;Octavia Combi;diesel;2025-02-20;;;;;\n\
         invoice;;;instalment;;;;;;;;C-W1;;;;;;;;;;;;;;;;;I-W1;2025-03;2025-02-01;2025-03-01;466.08\n\
         invoice;;;fee;;;;;;;;C-W1;;;;;;;;;;;;;;;;;I-W2;;2025-02-01;2025-03-01;twelve\n",
        vin.as_str(),
        plate.as_str()
    )
}

// BOF-04: contract administration uploads a file in the back office; the
// page shows the report with the rejected row's number and reason; the
// good rows are imported (audited as the staff member); the same upload
// again changes nothing. Customer service cannot reach the page.
#[tokio::test]
async fn bof04_upload_shows_the_report() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let c = staff(
        &t,
        "admin.contracts@staff.example",
        &[Role::ContractAdministration],
    )
    .await;
    let page = c.get("/staff/imports").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("enctype=\"multipart/form-data\""));
    assert!(page.text.contains("Import a file from the core system"));

    let (status, html) = upload(&t, &c, "export.csv", &import_file()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("export.csv imported: 4 rows, 3 imported, 0 unchanged, 1 rejected."),
        "{html}"
    );
    assert!(html.contains("<h3>Rejected rows</h3>"), "{html}");
    let rejected = html.split("<table class=\"rejections\">").nth(1).unwrap();
    assert!(
        rejected.contains("<td class=\"num\">4</td><td class=\"num\">5</td><td>invoice</td><td>I-W2</td><td>amount &#34;twelve&#34; is not valid")
            || rejected.contains("<td class=\"num\">4</td><td class=\"num\">5</td><td>invoice</td><td>I-W2</td><td>amount &quot;twelve&quot; is not valid"),
        "{rejected}"
    );
    assert!(rejected.contains("<code>invalid_value</code>"));
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM invoices WHERE invoice_number = 'I-W1'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM customers WHERE customer_number = 'K-W1' AND email IS NOT NULL AND email_bidx IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'import.run' AND actor_kind = 'staff' \
             AND role = 'contract_administration' AND actor_id IS NOT NULL"
        )
        .await,
        1
    );

    let (status, html) = upload(&t, &c, "export.csv", &import_file()).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("export.csv imported: 4 rows, 0 imported, 3 unchanged, 1 rejected."),
        "{html}"
    );
    assert!(html.contains("export.csv"), "the recent runs list it");

    // Not a file at all.
    c.get("/staff/imports").await;
    let (status, html) = upload(&t, &c, "notes.csv", "colour,size\nred,3\n").await;
    assert_eq!(status, 422);
    assert!(
        html.contains("notes.csv was not imported: The header names a column the format does not know: colour."),
        "{html}"
    );

    // Customer service: not there.
    let cs = staff(&t, "service.desk@staff.example", &[Role::CustomerService]).await;
    assert_eq!(cs.get("/staff/imports").await.status, 404);
    cs.get("/staff").await;
    let (status, _) = upload(&t, &cs, "export.csv", &import_file()).await;
    assert_eq!(status, 404);
    // Two runs: the refused file and customer service's upload are none.
    assert_eq!(count(&t, "SELECT COUNT(*) FROM import_runs").await, 2);
    t.cleanup().await;
}

// BOF-04, CON-01: contract administration amends a demo customer's lease:
// a new version with the new terms, the old ones kept; a refusal keeps
// what was typed; the customer's contract page shows every version; the
// invoice run button creates a month's invoices once.
#[tokio::test]
async fn bof04_amendment_adds_a_version_the_portal_shows() {
    let t = TestApp::builder().demo(Demo::Full).spawn().await;
    let email = carfin_app::demo::login_lines(&t.app)
        .await
        .unwrap()
        .iter()
        .find_map(|l| l.strip_prefix("demo customer: "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .unwrap();
    let bidx = t
        .app
        .blind_index()
        .index(carfin_store::repo::identity::ACCOUNT_EMAIL_INDEX, &email);
    let account = carfin_store::repo::identity::account_by_email(t.app.db(), &bidx)
        .await
        .unwrap()
        .unwrap();
    let row = sqlx::query(
        "SELECT c.id, c.contract_number, c.current_version FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id WHERE p.customer_id = $1 \
         AND c.status = 'active' AND c.contract_type <> 'consumer_credit' ORDER BY c.id LIMIT 1",
    )
    .bind(account.customer_id)
    .fetch_one(t.app.db().reader())
    .await
    .unwrap();
    let (id, number, version): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
    let versions = |t: &TestApp| {
        let db = t.app.db().clone();
        async move {
            sqlx::query(
                "SELECT version, km_per_year, change_reason FROM contract_versions \
                 WHERE contract_id = $1 ORDER BY version",
            )
            .bind(id)
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<i64, _>(0),
                    r.get::<Option<i64>, _>(1),
                    r.get::<String, _>(2),
                )
            })
            .collect::<Vec<_>>()
        }
    };
    let before = versions(&t).await;
    assert_eq!(before.len() as i64, version);

    let c = staff(
        &t,
        "amend.contracts@staff.example",
        &[Role::ContractAdministration],
    )
    .await;
    c.get("/staff/imports").await;
    let found = c
        .get(&format!("/staff/imports/contract?number={number}"))
        .await;
    assert_eq!(found.status, 303);
    let path = format!("/staff/contracts/{id}/amend");
    assert_eq!(found.location(), Some(path.as_str()));
    let form = c.get(&path).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(form.text.contains(&format!("Contract {number}")));

    // Refused: the typed values stay.
    let from = t
        .clock
        .today()
        .with_day(1)
        .unwrap()
        .checked_add_months(Months::new(1))
        .unwrap()
        .to_string();
    let refused = c
        .post_form(
            &path,
            &[
                ("valid_from", &from),
                ("monthly_instalment", ""),
                ("km_per_year", "lots"),
                ("excess_km_price", ""),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.text.contains("value=\"lots\""), "{}", refused.text);
    assert!(refused
        .text
        .contains("Enter a whole number of kilometres per year."));
    assert!(refused.text.contains("Choose a reason."));
    assert_eq!(versions(&t).await, before, "nothing stored");

    let km = before.last().unwrap().1.unwrap() + 10_000;
    let saved = c
        .post_form(
            &path,
            &[
                ("valid_from", &from),
                ("monthly_instalment", ""),
                ("km_per_year", &km.to_string()),
                ("excess_km_price", ""),
                ("reason", "mileage_change"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let new_version = version + 1;
    assert_eq!(
        saved.location(),
        Some(format!("{path}?version={new_version}").as_str())
    );
    let shown = c.follow(&saved).await;
    assert!(shown
        .text
        .contains(&format!("Saved as version {new_version}.")));
    let after = versions(&t).await;
    assert_eq!(&after[..before.len()], &before[..], "the old versions stay");
    assert_eq!(
        after.last().unwrap(),
        &(new_version, Some(km), "mileage_change".to_string())
    );
    assert_eq!(
        count(
            &t,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'contract.amend' AND actor_kind = 'staff' \
                 AND subject_id = {} AND purpose = 'perform_contract'",
                account.customer_id
            )
        )
        .await,
        1
    );

    // The customer's contract page shows every version.
    let customer = t.client().with_header("accept-language", "en");
    customer.get("/login").await;
    let r = customer
        .post_form(
            "/login",
            &[
                ("email", &email),
                ("password", carfin_app::demo::DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = customer.get(&format!("/my/contracts/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    for v in 1..=new_version {
        assert!(
            page.text.contains(&format!("id=\"version-{v}\"")),
            "version {v} on the portal page"
        );
    }
    assert!(page.text.contains("Change of yearly kilometres"));

    // Customer service cannot amend.
    let cs = staff(&t, "desk@staff.example", &[Role::CustomerService]).await;
    assert_eq!(cs.get(&path).await.status, 404);

    // The invoice run button: a month's invoices once.
    let month = t
        .clock
        .today()
        .with_day(1)
        .unwrap()
        .checked_add_months(Months::new(3))
        .unwrap();
    let period = format!("{:04}-{:02}", month.year(), month.month());
    c.get("/staff/imports").await;
    let first = c
        .post_form("/staff/imports/invoice-run", &[("period", &period)])
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let created = count(
        &t,
        &format!("SELECT COUNT(*) FROM invoices WHERE kind = 'instalment' AND period = '{period}'"),
    )
    .await;
    assert!(created > 0);
    assert!(
        first.text.contains(&format!(
            "Invoice run for {period}: {created} invoices created, 0 were there already."
        )),
        "{}",
        first.text
    );
    let second = c
        .post_form("/staff/imports/invoice-run", &[("period", &period)])
        .await;
    assert!(second.text.contains(&format!(
        "Invoice run for {period}: 0 invoices created, {created} were there already."
    )));
    t.cleanup().await;
}

// BOF-04 on both engines: a file of a few thousand rows (look-ups and
// inserts in chunks) imports its good rows, reports its bad ones, and
// imports as unchanged the second time; the scheduled invoice run bills
// the imported contract's current month once.
#[tokio::test]
async fn bof04_chunked_import_and_scheduled_run() {
    use carfin_app::staff::import::{import_file, Actor, NoProgress};
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let today = t.clock.today();
    let start = today
        .with_day(1)
        .unwrap()
        .checked_sub_months(Months::new(2))
        .unwrap();
    let end = start.checked_add_months(Months::new(24)).unwrap();
    let mut file = format!(
        "record,customer_number,entity,kind,company_name,company_number,street,house_number,postcode,city,\
         contract_number,brand,contract_type,status,start_date,end_date,term_months,financed_amount,\
         nominal_rate_bp,apr_bp,monthly_instalment,km_per_year,excess_km_price,vin,licence_plate,make,model,fuel,\
         first_registration,invoice_number,issue_date,due_date,amount\n\
         customer,K-B1,carfin-nederland,company,Polder Logistiek B.V.,12345678,Havenweg,1,3011AA,Rotterdam,,,,,,,,,,,,,,,,,,,,,,,\n\
         contract,K-B1,,,,,,,,,C-B1,carfin-lease,operational_lease,active,{start},{end},24,40000.00,500,520,\
         1234.56,20000,0.10,{},{},Ford,Transit Custom,diesel,{start},,,,\n",
        Vin::generate("WF0", 7).unwrap().as_str(),
        NlPlate::generate(11, 7).unwrap().as_str()
    );
    for i in 0..3_000 {
        let amount = if i % 100 == 7 {
            "-1.00".to_string()
        } else {
            format!("{}.50", 20 + i % 7)
        };
        file.push_str(&format!(
            "invoice,,,fee,,,,,,,C-B1,,,,,,,,,,,,,,,,,,,B{i:05},2025-01-01,2025-01-15,{amount}\n"
        ));
    }
    let report = import_file(
        &t.app,
        Actor::System,
        "bulk.csv",
        file.as_bytes(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.rows,
            report.imported,
            report.unchanged,
            report.rejected.len()
        ),
        (3_002, 2_972, 0, 30)
    );
    assert_eq!(report.rejected[0].row, 10);
    assert_eq!(report.rejected[0].code, "invalid_value");
    let again = import_file(
        &t.app,
        Actor::System,
        "bulk.csv",
        file.as_bytes(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        (again.imported, again.unchanged, again.rejected.len()),
        (0, 2_972, 30)
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'invoice'"
        )
        .await,
        2_970
    );

    // The scheduled job: this month's instalment, once.
    let period = format!("{:04}-{:02}", today.year(), today.month());
    let billed = format!(
        "SELECT COUNT(*) FROM invoices WHERE kind = 'instalment' AND period = '{period}' \
         AND amount_cents = 123456 AND due_date = '{period}-01'"
    );
    let job = carfin_jobs::job("invoice_run").unwrap();
    assert!(carfin_jobs::run_if_due(&t.app, job, "node-a")
        .await
        .unwrap());
    assert_eq!(count(&t, &billed).await, 1);
    t.clock.advance(chrono::Duration::days(1));
    assert!(carfin_jobs::run_if_due(&t.app, job, "node-a")
        .await
        .unwrap());
    assert_eq!(count(&t, &billed).await, 1, "once per period");
    assert_eq!(
        count(&t, &format!("SELECT COUNT(*) FROM invoice_runs WHERE period = '{period}' AND finished_at IS NOT NULL")).await,
        2
    );
    t.cleanup().await;
}
