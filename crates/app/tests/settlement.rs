//! PAY-06: importing the provider's settlement details report and
//! reconciling it with the payments carfin booked, against a real database
//! (SQLite, or PostgreSQL when CARFIN_TEST_POSTGRES is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use carfin_app::payments::reconcile::{
    import_settlement_report, reconcile, Difference, ImportError, Kind, RejectedLine,
};
use carfin_app::AppError;
use carfin_testkit::{Demo, TestApp};
use chrono::{NaiveDate, TimeZone, Utc};
use sqlx::Row;
use std::collections::HashMap;

/// The report's columns in an order of their own, with columns the import
/// does not use (it reads by name).
const HEADER: &[&str] = &[
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
    "Batch Number",
    "Reserved4",
];

/// A settlement line with sensible defaults; `set` overrides a column.
#[derive(Clone)]
struct Line(HashMap<&'static str, String>);

impl Line {
    fn new(record_type: &str, psp: &str, merchant_reference: &str) -> Line {
        let mut m = HashMap::new();
        for (k, v) in [
            ("Company Account", "CarfinTestCompany"),
            ("Merchant Account", "CarfinTestNL"),
            ("Payment Method", "ideal"),
            ("Creation Date", "2026-02-15 10:12:33"),
            ("TimeZone", "CET"),
            ("Modification Reference", ""),
            ("Gross Currency", "EUR"),
            ("Gross Debit (GC)", ""),
            ("Gross Credit (GC)", ""),
            ("Exchange Rate", "1"),
            ("Net Currency", "EUR"),
            ("Net Debit (NC)", ""),
            ("Net Credit (NC)", ""),
            ("Commission (NC)", "0.29"),
            ("Batch Number", "41"),
        ] {
            m.insert(k, v.to_string());
        }
        m.insert("Type", record_type.to_string());
        m.insert("Psp Reference", psp.to_string());
        m.insert("Merchant Reference", merchant_reference.to_string());
        Line(m)
    }

    /// A `Settled` line crediting `gross`.
    fn settled(psp: &str, merchant_reference: &str, gross: &str) -> Line {
        Line::new("Settled", psp, merchant_reference)
            .set("Gross Credit (GC)", gross)
            .set("Net Credit (NC)", gross)
    }

    /// A `Refunded` (or `Chargeback`) line debiting `gross`.
    fn debit(record_type: &str, psp: &str, merchant_reference: &str, gross: &str) -> Line {
        Line::new(record_type, psp, merchant_reference)
            .set("Modification Reference", &format!("MOD{psp}"))
            .set("Gross Debit (GC)", gross)
            .set("Net Debit (NC)", gross)
    }

    fn set(mut self, column: &'static str, value: &str) -> Line {
        self.0.insert(column, value.to_string());
        self
    }

    fn fields(&self, header: &[&str]) -> Vec<String> {
        header
            .iter()
            .map(|h| self.0.get(h).cloned().unwrap_or_default())
            .collect()
    }
}

fn cell(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// A report: the header, then each row as given (already joined).
fn csv_of(header: &[&str], rows: &[String]) -> Vec<u8> {
    let mut out = header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(row);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn row(header: &[&str], line: &Line) -> String {
    line.fields(header)
        .iter()
        .map(|f| cell(f))
        .collect::<Vec<_>>()
        .join(",")
}

async fn scalar(t: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

fn unix(y: i32, m: u32, d: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .unwrap()
        .timestamp()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A payment as the checkout and booking would leave it.
struct Payment {
    id: i64,
    status: &'static str,
    amount_cents: i64,
    authorised_cents: Option<i64>,
    psp: Option<&'static str>,
    booked_at: Option<i64>,
    ended_at: Option<i64>,
}

impl Payment {
    fn booked(id: i64, amount_cents: i64, psp: &'static str, booked_at: i64) -> Payment {
        Payment {
            id,
            status: "booked",
            amount_cents,
            authorised_cents: Some(amount_cents),
            psp: Some(psp),
            booked_at: Some(booked_at),
            ended_at: None,
        }
    }
}

async fn insert_payment(t: &TestApp, p: &Payment) {
    let row = sqlx::query("SELECT id, entity_id FROM customers ORDER BY id LIMIT 1")
        .fetch_one(t.app.db().reader())
        .await
        .unwrap();
    let (customer, entity): (i64, i64) = (row.try_get(0).unwrap(), row.try_get(1).unwrap());
    let created = unix(2026, 1, 20);
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query(
        "INSERT INTO payments (id, customer_id, entity_id, amount_cents, currency, status, language, \
         psp_reference, authorised_cents, authorised_at, booked_at, ended_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'EUR', $5, 'nl', $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(p.id)
    .bind(customer)
    .bind(entity)
    .bind(p.amount_cents)
    .bind(p.status)
    .bind(p.psp)
    .bind(p.authorised_cents)
    .bind(p.authorised_cents.map(|_| created))
    .bind(p.booked_at)
    .bind(p.ended_at)
    .bind(created)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn lines_of(rejected: &[RejectedLine]) -> Vec<(u64, String)> {
    rejected
        .iter()
        .map(|r| (r.line, r.reason.to_string()))
        .collect()
}

// PAY-06: an import stores the good lines and reports each bad one with its
// line number and reason (wrong number of fields, missing psp reference,
// bad amount, bad date, unknown currency); lines not about a payment and
// without a psp reference are skipped. The same file again changes nothing
// and says so; a file repeating some lines adds only the new ones.
#[tokio::test]
async fn import_reports_bad_lines_and_is_idempotent() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let good = Line::settled("8815000000000001", "1001", "123.45");
    let mut short_row = good.fields(HEADER);
    short_row.pop();
    let rows = vec![
        /* 2 */ row(HEADER, &good),
        /* 3 */ short_row.join(","),
        /* 4 */ row(HEADER, &Line::settled("", "1002", "10.00")),
        /* 5 */ row(HEADER, &Line::settled("8815000000000003", "1003", "12.345")),
        /* 6 */ row(HEADER, &Line::settled("8815000000000004", "1004", "-5.00")),
        /* 7 */ row(HEADER, &Line::settled("8815000000000005", "1005", "twelve")),
        /* 8 */
        row(
            HEADER,
            &Line::settled("8815000000000006", "1006", "1.00")
                .set("Creation Date", "05/03/2026 10:12"),
        ),
        /* 9 */
        row(
            HEADER,
            &Line::settled("8815000000000007", "1007", "1.00").set("Gross Currency", "XYZ"),
        ),
        /* 10 */
        row(
            HEADER,
            &Line::debit("Refunded", "8815000000000001", "1001", "23.45"),
        ),
        /* 11 */
        row(
            HEADER,
            &Line::new("MerchantPayout", "", "").set("Net Debit (NC)", "1000.00"),
        ),
        /* 12 */
        row(
            HEADER,
            &Line::new("Fee", "8815000000000008", "")
                .set("Gross Currency", "")
                .set("Net Debit (NC)", "0.12"),
        ),
        /* 13: a quoted field with a comma and a quote */
        row(
            HEADER,
            &Line::settled("8815000000000009", "1009", "0.10")
                .set("Payment Method", "visa, \"debit\""),
        ),
    ];
    let file = csv_of(HEADER, &rows);
    let report = import_settlement_report(&t.app, "settlement_detail_report_batch_41.csv", &file)
        .await
        .unwrap();
    assert!(!report.already_imported);
    assert_eq!(report.imported, 4, "{report:?}");
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.skipped, 1);
    let rejected = lines_of(&report.rejected);
    let numbers: Vec<u64> = rejected.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [3, 4, 5, 6, 7, 8, 9], "{rejected:?}");
    let reason = |n: u64| rejected.iter().find(|(l, _)| *l == n).unwrap().1.clone();
    assert_eq!(
        reason(3),
        format!(
            "has {} fields where the header has {}",
            HEADER.len() - 1,
            HEADER.len()
        )
    );
    assert_eq!(reason(4), "Psp Reference is empty on a Settled line");
    assert_eq!(
        reason(5),
        "Gross Credit (GC) \"12.345\" is not an amount: more than 2 decimals"
    );
    assert_eq!(
        reason(6),
        "Gross Credit (GC) \"-5.00\" is not an amount: negative amounts are not accepted"
    );
    assert!(reason(7).starts_with("Gross Credit (GC) \"twelve\" is not an amount"));
    assert!(reason(8).starts_with("Creation Date \"05/03/2026 10:12\" is not a date"));
    assert_eq!(reason(9), "Gross Currency \"XYZ\" is not a known currency");
    assert_eq!(
        report.rejected[0].to_string(),
        format!("line 3: {}", reason(3))
    );

    // Stored exactly, in cents, with the line's number.
    let stored: Vec<(i64, String, String, i64, i64, String)> = sqlx::query(
        "SELECT line_no, psp_reference, record_type, gross_credit_cents, gross_debit_cents, payment_method \
         FROM settlement_lines ORDER BY line_no",
    )
    .fetch_all(t.app.db().reader())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get(0).unwrap(),
            r.try_get(1).unwrap(),
            r.try_get(2).unwrap(),
            r.try_get(3).unwrap(),
            r.try_get(4).unwrap(),
            r.try_get(5).unwrap(),
        )
    })
    .collect();
    assert_eq!(stored.len(), 4);
    assert_eq!(
        stored[0],
        (
            2,
            "8815000000000001".into(),
            "Settled".into(),
            12345,
            0,
            "ideal".into()
        )
    );
    assert_eq!(stored[1].2, "Refunded");
    assert_eq!(stored[1].4, 2345);
    assert_eq!(stored[2].2, "Fee");
    assert_eq!(stored[3].5, "visa, \"debit\"");
    assert_eq!(
        scalar(
            &t,
            "SELECT net_debit_cents FROM settlement_lines WHERE record_type = 'Fee'"
        )
        .await,
        12
    );
    let recorded =
        sqlx::query("SELECT file_name, imported_lines, rejected_lines FROM settlement_reports")
            .fetch_all(t.app.db().reader())
            .await
            .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].try_get::<String, _>(0).unwrap(),
        "settlement_detail_report_batch_41.csv"
    );
    assert_eq!(recorded[0].try_get::<i64, _>(1).unwrap(), 4);
    assert_eq!(recorded[0].try_get::<i64, _>(2).unwrap(), 7);

    // The same file again: nothing changes, and the answer says so.
    let again = import_settlement_report(&t.app, "copy.csv", &file)
        .await
        .unwrap();
    assert!(again.already_imported);
    assert_eq!(again.report_id, report.report_id);
    assert_eq!((again.imported, again.duplicates), (0, 0));
    assert!(again.rejected.is_empty());
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM settlement_lines").await, 4);
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM settlement_reports").await,
        1
    );

    // An overlapping file, columns in another order: only the new line is
    // added; a line repeated within the file counts once.
    let mut other_order: Vec<&str> = HEADER.to_vec();
    other_order.reverse();
    let new_line = Line::settled("8815000000000010", "1010", "99.99").set("Batch Number", "42");
    let overlap = csv_of(
        &other_order,
        &[
            row(&other_order, &good),
            row(&other_order, &new_line),
            row(
                &other_order,
                &Line::debit("Refunded", "8815000000000001", "1001", "23.45"),
            ),
            row(&other_order, &new_line),
        ],
    );
    let report = import_settlement_report(&t.app, "batch_42.csv", &overlap)
        .await
        .unwrap();
    assert!(!report.already_imported);
    assert_eq!((report.imported, report.duplicates), (1, 3), "{report:?}");
    assert!(report.rejected.is_empty());
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM settlement_lines").await, 5);
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM settlement_reports").await,
        2
    );
    assert_eq!(
        scalar(
            &t,
            "SELECT gross_credit_cents FROM settlement_lines WHERE psp_reference = '8815000000000010'"
        )
        .await,
        9999
    );
    t.cleanup().await;
}

// PAY-06: a file that is not a settlement details report is refused as a
// whole, naming what is missing; a file of which no line reads is not
// recorded (importing it again answers the same).
#[tokio::test]
async fn unusable_files_are_refused_and_not_recorded() {
    let t = TestApp::builder().demo(Demo::Reference).spawn().await;
    let header: Vec<&str> = HEADER
        .iter()
        .copied()
        .filter(|h| *h != "Gross Credit (GC)" && *h != "Batch Number")
        .collect();
    let file = csv_of(&header, &[row(&header, &Line::settled("881", "1", "1.00"))]);
    match import_settlement_report(&t.app, "wrong.csv", &file).await {
        Err(ImportError::MissingColumns(missing)) => {
            assert_eq!(missing, ["Gross Credit (GC)", "Batch Number"])
        }
        other => panic!("{other:?}"),
    }
    let err = import_settlement_report(&t.app, "empty.csv", b"")
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Empty), "{err}");

    let all_bad = csv_of(
        HEADER,
        &[
            row(HEADER, &Line::settled("8815000000000001", "1", "1,00")),
            row(HEADER, &Line::settled("", "2", "1.00")),
        ],
    );
    for _ in 0..2 {
        let report = import_settlement_report(&t.app, "bad.csv", &all_bad)
            .await
            .unwrap();
        assert!(!report.already_imported);
        assert_eq!(report.report_id, None);
        assert_eq!(report.imported, 0);
        assert_eq!(
            lines_of(&report.rejected)
                .iter()
                .map(|(l, _)| *l)
                .collect::<Vec<_>>(),
            [2, 3]
        );
    }
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM settlement_reports").await,
        0
    );
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM settlement_lines").await, 0);
    t.cleanup().await;
}

fn summary(list: &[Difference]) -> Vec<(Kind, Option<i64>, Option<String>)> {
    list.iter()
        .map(|d| (d.kind, d.payment_id, d.psp_reference.clone()))
        .collect()
}

// PAY-06: reconciliation lists a booked payment without a settlement line,
// settlement lines without a booked payment (an unknown merchant reference,
// a payment still authorised), an amount difference and a refunded payment
// without its Refunded line; payments that match in full, and payments
// outside the period, are in no list.
#[tokio::test]
async fn reconciliation_lists_each_kind_of_difference() {
    let t = TestApp::spawn().await;
    let payments = [
        // Matches in full: booked and settled for the same amount.
        Payment::booked(7001, 10_000, "PSPMATCH00000001", unix(2026, 2, 10)),
        // Booked, never settled.
        Payment::booked(7002, 4_500, "PSPNOSETTLE00002", unix(2026, 2, 11)),
        // Settled while carfin still has it authorised.
        Payment {
            id: 7003,
            status: "authorised",
            amount_cents: 5_000,
            authorised_cents: Some(5_000),
            psp: Some("PSPAUTHORISED003"),
            booked_at: None,
            ended_at: None,
        },
        // Settled for less than booked.
        Payment::booked(7004, 20_000, "PSPDIFF000000004", unix(2026, 2, 12)),
        // Refunded in carfin; the report has the settlement, not the refund.
        Payment {
            status: "refunded",
            ended_at: Some(unix(2026, 2, 20)),
            ..Payment::booked(7005, 3_000, "PSPREFUND0000005", unix(2026, 2, 5))
        },
        // Refunded and reported in full.
        Payment {
            status: "refunded",
            ended_at: Some(unix(2026, 2, 21)),
            ..Payment::booked(7006, 2_500, "PSPREFUNDOK00006", unix(2026, 2, 6))
        },
        // Booked without a psp reference in carfin: matched by merchant reference.
        Payment {
            psp: None,
            ..Payment::booked(7007, 1_234, "", unix(2026, 2, 7))
        },
        // Booked after the period, never settled: not this period's concern.
        Payment::booked(7008, 999, "PSPLATER00000008", unix(2026, 3, 1)),
        // Charged back and reported as such.
        Payment {
            status: "charged_back",
            ended_at: Some(unix(2026, 2, 25)),
            ..Payment::booked(7009, 8_000, "PSPCHARGEBACK009", unix(2026, 2, 3))
        },
    ];
    for p in &payments {
        insert_payment(&t, p).await;
    }
    let lines = [
        Line::settled("PSPMATCH00000001", "7001", "100.00"),
        Line::settled("PSPAUTHORISED003", "7003", "50.00"),
        Line::settled("PSPUNKNOWN000010", "999999", "75.00"),
        Line::settled("PSPDIFF000000004", "7004", "199.00"),
        Line::settled("PSPREFUND0000005", "7005", "30.00"),
        Line::settled("PSPREFUNDOK00006", "7006", "25.00"),
        Line::debit("Refunded", "PSPREFUNDOK00006", "7006", "25.00")
            .set("Creation Date", "2026-02-22 08:00:00"),
        Line::settled("PSPSEVEN00000007", "7007", "12.34"),
        Line::settled("PSPCHARGEBACK009", "7009", "80.00"),
        Line::debit("Chargeback", "PSPCHARGEBACK009", "7009", "80.00")
            .set("Creation Date", "2026-02-26 08:00:00"),
        // A fee about a payment: stored, not reconciled.
        Line::new("Fee", "PSPMATCH00000001", "7001")
            .set("Gross Currency", "")
            .set("Net Debit (NC)", "0.25"),
    ];
    let rows: Vec<String> = lines.iter().map(|l| row(HEADER, l)).collect();
    let report = import_settlement_report(&t.app, "feb.csv", &csv_of(HEADER, &rows))
        .await
        .unwrap();
    assert_eq!(report.imported, lines.len() as u64, "{report:?}");

    let r = reconcile(&t.app, day(2026, 2, 1), day(2026, 2, 28))
        .await
        .unwrap();
    assert_eq!(
        summary(&r.booked_without_settlement),
        [
            (
                Kind::Settlement,
                Some(7002),
                Some("PSPNOSETTLE00002".into())
            ),
            (Kind::Refund, Some(7005), Some("PSPREFUND0000005".into())),
        ],
        "{r:#?}"
    );
    let missing = &r.booked_without_settlement[0];
    assert_eq!(missing.expected_cents, Some(4_500));
    assert_eq!(missing.reported_cents, None);
    assert_eq!(missing.booked_on, Some(day(2026, 2, 11)));
    let refund = &r.booked_without_settlement[1];
    assert_eq!(refund.payment_status.as_deref(), Some("refunded"));
    assert_eq!(refund.expected_cents, Some(3_000));
    assert_eq!(refund.booked_on, Some(day(2026, 2, 20)));

    assert_eq!(
        summary(&r.settlements_without_booking),
        [
            (Kind::Settlement, None, Some("PSPUNKNOWN000010".into())),
            (
                Kind::Settlement,
                Some(7003),
                Some("PSPAUTHORISED003".into())
            ),
        ],
        "{r:#?}"
    );
    let authorised = &r.settlements_without_booking[1];
    assert_eq!(authorised.payment_status.as_deref(), Some("authorised"));
    assert_eq!(authorised.reported_cents, Some(5_000));
    assert_eq!(authorised.expected_cents, None);
    assert_eq!(authorised.record_type.as_deref(), Some("Settled"));
    assert_eq!(authorised.reported_on, Some(day(2026, 2, 15)));
    let unknown = &r.settlements_without_booking[0];
    assert_eq!(unknown.merchant_reference.as_deref(), Some("999999"));
    assert_eq!(unknown.reported_cents, Some(7_500));
    assert_eq!(unknown.batch_number.as_deref(), Some("41"));

    assert_eq!(
        summary(&r.amount_differences),
        [(
            Kind::Settlement,
            Some(7004),
            Some("PSPDIFF000000004".into())
        )],
        "{r:#?}"
    );
    let diff = &r.amount_differences[0];
    assert_eq!(
        (
            diff.expected_cents,
            diff.reported_cents,
            diff.difference_cents()
        ),
        (Some(20_000), Some(19_900), Some(-100))
    );

    // The refund line arrives: the refunded payment leaves the list.
    let refund_file = csv_of(
        HEADER,
        &[row(
            HEADER,
            &Line::debit("Refunded", "PSPREFUND0000005", "7005", "30.00")
                .set("Creation Date", "2026-02-21 09:30:00"),
        )],
    );
    import_settlement_report(&t.app, "refund.csv", &refund_file)
        .await
        .unwrap();
    let r = reconcile(&t.app, day(2026, 2, 1), day(2026, 2, 28))
        .await
        .unwrap();
    assert_eq!(
        summary(&r.booked_without_settlement),
        [(
            Kind::Settlement,
            Some(7002),
            Some("PSPNOSETTLE00002".into())
        )]
    );

    // CSV: a header and one row per difference, with its category and kind.
    let csv = r.to_csv();
    let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(rows.len(), 1 + 4, "{csv}");
    assert!(rows[0].starts_with("category,kind,payment_id,"));
    assert!(
        rows[1].starts_with("booked_without_settlement,settlement,7002,booked,PSPNOSETTLE00002,")
    );
    assert!(rows
        .iter()
        .any(|r| r
            .starts_with("settlement_without_booking,settlement,,,PSPUNKNOWN000010,999999,EUR,")));
    assert!(rows.iter().any(|r| r.starts_with("amount_difference,settlement,7004,booked,PSPDIFF000000004,7004,EUR,20000,EUR,19900,-100,2026-02-12,2026-02-15,Settled,41,")));

    // Another period: March has only the late payment.
    let march = reconcile(&t.app, day(2026, 3, 1), day(2026, 3, 31))
        .await
        .unwrap();
    assert_eq!(
        summary(&march.booked_without_settlement),
        [(
            Kind::Settlement,
            Some(7008),
            Some("PSPLATER00000008".into())
        )]
    );
    assert!(march.settlements_without_booking.is_empty());
    assert!(march.amount_differences.is_empty());

    // A period that ends before it starts is refused.
    let err = reconcile(&t.app, day(2026, 3, 2), day(2026, 3, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Invalid(_)), "{err:?}");
    t.cleanup().await;
}
