//! PAY-06: `carfin payments import-settlement` and `carfin payments
//! reconcile`, driven as an operator would, on a SQLite data directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn carfin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carfin"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("CARFIN_DATABASE_URL")
        .env_remove("CARFIN_CONFIG")
        .output()
        .expect("carfin runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs statements against the SQLite database of a data directory.
fn sql(dir: &Path, statements: &[String]) {
    let url = format!("sqlite://{}", dir.join("carfin.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        for s in statements {
            sqlx::query(s).execute(&mut conn).await.unwrap();
        }
        sqlx::Connection::close(conn).await.unwrap();
    });
}

/// A booked payment of the first seeded customer (`booked_at` Unix seconds).
fn booked_payment(id: i64, amount_cents: i64, psp: &str, booked_at: i64) -> String {
    format!(
        "INSERT INTO payments (id, customer_id, entity_id, amount_cents, currency, status, language, \
         psp_reference, authorised_cents, authorised_at, booked_at, created_at, updated_at) \
         SELECT {id}, id, entity_id, {amount_cents}, 'EUR', 'booked', 'nl', '{psp}', {amount_cents}, \
         {booked_at}, {booked_at}, {booked_at}, {booked_at} FROM customers ORDER BY id LIMIT 1"
    )
}

const HEADER: &str = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,\
Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),\
Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),\
Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number,Reserved4";

/// A `Settled` line of `gross` euros.
fn settled(psp: &str, merchant_reference: &str, date: &str, gross: &str) -> String {
    format!(
        "TestCompany,TestMerchantNL,{psp},{merchant_reference},ideal,{date},CET,Settled,,EUR,,{gross},1,EUR,,{gross},0.29,,,,ideal,,7,"
    )
}

fn report(lines: &[String]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// An RFC 4180 reader good enough for the reconciliation CSV.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"), "CRLF line ends: {text:?}");
    text.split_terminator("\r\n")
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

// PAY-06: an operator imports a settlement report: the summary goes to
// stdout, each refused line to stderr as `line N: reason`, and the command
// succeeds; the same file again says it changed nothing; a file of which
// no line reads, or that lacks a column, fails naming the problem.
#[test]
fn import_settlement_reports_lines_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let seed = carfin(dir.path(), &["seed", "--customers", "2"]);
    assert!(seed.status.success(), "{}", text(&seed.stderr));

    let file = dir.path().join("settlement_detail_report_batch_7.csv");
    std::fs::write(
        &file,
        report(&[
            settled("8815000000000001", "1", "2024-02-10 10:00:00", "100.00"),
            settled("8815000000000002", "2", "2024-02-10 10:00:00", "1.005"),
            settled("", "3", "2024-02-10 10:00:00", "1.00"),
            "TestCompany,TestMerchantNL,8815000000000004".into(),
            settled("8815000000000005", "5", "10-02-2024", "1.00"),
        ]),
    )
    .unwrap();
    let path = file.display().to_string();
    let out = carfin(dir.path(), &["payments", "import-settlement", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "settlement_detail_report_batch_7.csv: 1 new lines imported, 0 already known, 0 skipped (not about a payment), 4 rejected"
        ),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    for expected in [
        "line 3: Gross Credit (GC) \"1.005\" is not an amount: more than 2 decimals",
        "line 4: Psp Reference is empty on a Settled line",
        "line 5: has 3 fields where the header has 24",
        "line 6: Creation Date \"10-02-2024\" is not a date and time like 2026-03-05 10:12:33",
    ] {
        assert!(stderr.contains(expected), "{expected} not in: {stderr}");
    }

    let again = carfin(dir.path(), &["payments", "import-settlement", &path]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stdout = text(&again.stdout);
    assert!(
        stdout.contains("settlement_detail_report_batch_7.csv was already imported on ")
            && stdout.contains("nothing changed"),
        "{stdout}"
    );
    assert!(
        !text(&again.stderr).contains("line "),
        "{}",
        text(&again.stderr)
    );

    let hopeless = dir.path().join("hopeless.csv");
    std::fs::write(
        &hopeless,
        // A decimal comma, quoted as a spreadsheet would.
        report(&[settled(
            "8815000000000009",
            "9",
            "2024-02-10 10:00:00",
            "\"1,00\"",
        )]),
    )
    .unwrap();
    let out = carfin(
        dir.path(),
        &[
            "payments",
            "import-settlement",
            &hopeless.display().to_string(),
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 2: Gross Credit (GC) \"1,00\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("no line of hopeless.csv could be imported"),
        "{stderr}"
    );

    let not_a_report = dir.path().join("payouts.csv");
    std::fs::write(&not_a_report, "Date,Amount\n2024-02-10,100.00\n").unwrap();
    let out = carfin(
        dir.path(),
        &[
            "payments",
            "import-settlement",
            &not_a_report.display().to_string(),
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("lacks the column(s): Merchant Account, Psp Reference"),
        "{stderr}"
    );
}

// PAY-06: `carfin payments reconcile` lists the differences of a period as
// text or CSV, by default for the last 30 days.
#[test]
fn reconcile_prints_differences_as_text_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let seed = carfin(dir.path(), &["seed", "--customers", "2"]);
    assert!(seed.status.success(), "{}", text(&seed.stderr));
    let feb = |d: u32| {
        chrono::NaiveDate::from_ymd_opt(2024, 2, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    };
    let recent = chrono::Utc::now().timestamp() - 2 * 86_400;
    sql(
        dir.path(),
        &[
            booked_payment(5001, 10_000, "PSPOK00000000001", feb(10)),
            booked_payment(5002, 4_500, "PSPMISSING000002", feb(11)),
            booked_payment(5003, 20_000, "PSPSHORT00000003", feb(12)),
            booked_payment(5004, 777, "PSPRECENT0000004", recent),
        ],
    );
    let file = dir.path().join("feb.csv");
    std::fs::write(
        &file,
        report(&[
            settled("PSPOK00000000001", "5001", "2024-02-10 18:00:00", "100.00"),
            settled("PSPSHORT00000003", "5003", "2024-02-13 18:00:00", "199.50"),
            settled("PSPSTRANGER00009", "424242", "2024-02-14 18:00:00", "12.00"),
        ]),
    )
    .unwrap();
    let out = carfin(
        dir.path(),
        &["payments", "import-settlement", &file.display().to_string()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let period = ["--from", "2024-02-01", "--to", "2024-02-29"];
    let mut args = vec!["payments", "reconcile"];
    args.extend(period);
    let out = carfin(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "reconciliation 2024-02-01 to 2024-02-29",
        "booked without settlement: 1",
        "settlement, payment 5002 (booked), psp PSPMISSING000002, expected EUR 45.00, booked 2024-02-11",
        "settlements without booking: 1",
        "settlement, psp PSPSTRANGER00009, merchant reference 424242, reported EUR 12.00, reported on 2024-02-14, type Settled, batch 7",
        "amount differences: 1",
        "expected EUR 200.00, reported EUR 199.50, difference -0.50",
    ] {
        assert!(stdout.contains(expected), "{expected} not in: {stdout}");
    }
    assert!(
        !stdout.contains("5001"),
        "a matching payment is listed: {stdout}"
    );
    assert!(
        !stdout.contains("5004"),
        "a payment outside the period: {stdout}"
    );

    args.extend(["--format", "csv"]);
    let out = carfin(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = parse_csv(&text(&out.stdout));
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0][0], "category");
    assert_eq!(rows[0][1], "kind");
    let column = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let categories: Vec<(&str, &str)> = rows[1..]
        .iter()
        .map(|r| {
            (
                r[column("category")].as_str(),
                r[column("payment_id")].as_str(),
            )
        })
        .collect();
    assert_eq!(
        categories,
        [
            ("booked_without_settlement", "5002"),
            ("settlement_without_booking", ""),
            ("amount_difference", "5003"),
        ]
    );
    let short = &rows[3];
    assert_eq!(short[column("expected_cents")], "20000");
    assert_eq!(short[column("reported_cents")], "19950");
    assert_eq!(short[column("difference_cents")], "-50");
    assert_eq!(short[column("kind")], "settlement");

    // By default: the last 30 days to today, which hold only the recent payment.
    let out = carfin(dir.path(), &["payments", "reconcile"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("payment 5004 (booked)"), "{stdout}");
    assert!(!stdout.contains("5002"), "{stdout}");

    let out = carfin(
        dir.path(),
        &[
            "payments",
            "reconcile",
            "--from",
            "2024-03-01",
            "--to",
            "2024-02-01",
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is after --to"));
}
