//! BOF-04: `carfin import FILE` and `carfin invoice-run --period`, driven
//! as an operator would, on a SQLite data directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use carfin_domain::{BePlate, Iban, KboNumber, NlPlate, Vin};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

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

/// A data directory with the demo's entities and brands and `customers`
/// generated customers.
fn data_dir(customers: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let n = customers.to_string();
    let seed = carfin(dir.path(), &["seed", "--customers", &n]);
    assert!(seed.status.success(), "{}", text(&seed.stderr));
    dir
}

/// Runs a query against the SQLite database of a data directory; every
/// column as text (NULL as "").
fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let url = format!("sqlite://{}", dir.join("carfin.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::{ConnectOptions, Row};
        let mut conn = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
        let out = rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .ok()
                            .flatten()
                            .or_else(|| {
                                r.try_get::<Option<i64>, _>(i)
                                    .ok()
                                    .flatten()
                                    .map(|n| n.to_string())
                            })
                            .or_else(|| {
                                r.try_get::<Option<Vec<u8>>, _>(i)
                                    .ok()
                                    .flatten()
                                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        sqlx::Connection::close(conn).await.unwrap();
        out
    })
}

fn count(dir: &Path, sql: &str) -> i64 {
    query(dir, sql)[0][0].parse().unwrap()
}

/// The columns of the test files, in order.
const COLUMNS: &[&str] = &[
    "record",
    "customer_number",
    "entity",
    "kind",
    "language",
    "initials",
    "given_names",
    "name_prefix",
    "surname",
    "date_of_birth",
    "company_name",
    "company_number",
    "street",
    "house_number",
    "postcode",
    "city",
    "email",
    "phone",
    "iban",
    "contract_number",
    "brand",
    "contract_type",
    "status",
    "start_date",
    "end_date",
    "term_months",
    "financed_amount",
    "down_payment",
    "balloon",
    "nominal_rate_bp",
    "apr_bp",
    "monthly_instalment",
    "km_per_year",
    "excess_km_price",
    "vin",
    "licence_plate",
    "make",
    "model",
    "fuel",
    "first_registration",
    "invoice_number",
    "period",
    "issue_date",
    "due_date",
    "amount",
];

type Fields = Vec<(&'static str, String)>;

fn f(pairs: &[(&'static str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

fn person(number: &str, entity: &str, postcode: &str, extra: &[(&'static str, &str)]) -> Fields {
    let mut fields = f(&[
        ("record", "customer"),
        ("customer_number", number),
        ("entity", entity),
        ("kind", "person"),
        ("initials", "J."),
        ("given_names", "Jan"),
        ("surname", "Jansen"),
        ("date_of_birth", "1980-04-02"),
        ("street", "Kerkstraat"),
        ("house_number", "12a"),
        ("postcode", postcode),
        ("city", "Utrecht"),
    ]);
    for (k, v) in extra {
        fields.retain(|(name, _)| name != k);
        if !v.is_empty() {
            fields.push((k, (*v).to_string()));
        }
    }
    fields
}

fn contract(number: &str, customer: &str, brand: &str, plate: &str, vin: &str) -> Fields {
    f(&[
        ("record", "contract"),
        ("contract_number", number),
        ("customer_number", customer),
        ("brand", brand),
        ("contract_type", "operational_lease"),
        ("status", "active"),
        ("start_date", "2025-01-01"),
        ("end_date", "2028-01-01"),
        ("term_months", "36"),
        ("financed_amount", "32000.00"),
        ("balloon", "12000.00"),
        ("nominal_rate_bp", "590"),
        ("apr_bp", "607"),
        ("monthly_instalment", "649.50"),
        ("km_per_year", "15000"),
        ("excess_km_price", "0.09"),
        ("vin", vin),
        ("licence_plate", plate),
        ("make", "Volkswagen"),
        ("model", "ID.3"),
        ("fuel", "electric"),
        ("first_registration", "2024-12-20"),
    ])
}

fn invoice(number: &str, contract: &str, kind: &str, period: &str, amount: &str) -> Fields {
    let mut fields = f(&[
        ("record", "invoice"),
        ("invoice_number", number),
        ("contract_number", contract),
        ("kind", kind),
        ("issue_date", "2025-12-01"),
        ("due_date", "2026-01-01"),
        ("amount", amount),
    ]);
    if !period.is_empty() {
        fields.push(("period", period.to_string()));
    }
    fields
}

fn csv_field(value: &str, delimiter: char) -> String {
    if value.contains([delimiter, '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn csv(rows: &[Fields], delimiter: char) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&COLUMNS.join(&delimiter.to_string()));
    out.push_str("\r\n");
    for row in rows {
        let line: Vec<String> = COLUMNS
            .iter()
            .map(|c| {
                row.iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| csv_field(v, delimiter))
                    .unwrap_or_default()
            })
            .collect();
        out.push_str(&line.join(&delimiter.to_string()));
        out.push_str("\r\n");
    }
    out
}

fn json(rows: &[Fields]) -> String {
    let array: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            serde_json::Value::Object(
                row.iter()
                    .map(|(k, v)| ((*k).to_string(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        })
        .collect();
    serde_json::to_string_pretty(&array).unwrap()
}

/// The mixed file of the tests: good rows of every kind, rows that refer
/// to a seeded customer and contract, and bad rows of many kinds.
fn mixed_rows(dir: &Path) -> Vec<Fields> {
    // A seeded person and contract (already in the database).
    let seeded = &query(
        dir,
        "SELECT c.customer_number, e.country FROM customers c \
         JOIN legal_entities e ON e.id = c.entity_id WHERE c.kind = 'person' ORDER BY c.id LIMIT 1",
    )[0];
    let (seeded_brand, seeded_plate) = if seeded[1] == "BE" {
        (
            "mobilio",
            BePlate::generate(777).unwrap().as_str().to_string(),
        )
    } else {
        (
            "carfin-lease",
            NlPlate::generate(9, 777).unwrap().as_str().to_string(),
        )
    };
    let seeded_contract = query(
        dir,
        "SELECT contract_number FROM contracts ORDER BY id LIMIT 1",
    )[0][0]
        .clone();
    let vin = |n| Vin::generate("WVW", n).unwrap().as_str().to_string();
    let nl_plate = |n| NlPlate::generate(9, n).unwrap().as_str().to_string();
    let iban = Iban::nl_from_parts("INGB", 1_234_567).unwrap();
    let kbo = KboNumber::generate(4242).unwrap();
    let mut bad_iban = iban.as_str().to_string();
    bad_iban.replace_range(2..4, if &bad_iban[2..4] == "11" { "12" } else { "11" });
    vec![
        // 1
        person(
            "K-T1",
            "carfin-nederland",
            "3511 ed",
            &[
                ("email", "Jan.Jansen@Example.com"),
                ("phone", "06 12345678"),
                ("iban", iban.as_str()),
            ],
        ),
        // 2
        f(&[
            ("record", "customer"),
            ("customer_number", "K-T2"),
            ("entity", "carfin-belgique"),
            ("kind", "company"),
            ("language", "fr"),
            ("company_name", "Delta Transport SRL"),
            ("company_number", kbo.as_str()),
            ("street", "Rue de la Station"),
            ("house_number", "3"),
            ("postcode", "5000"),
            ("city", "Namur"),
        ]),
        // 3
        person("K-T3", "carfin-nederland", "3511ED", &[("iban", &bad_iban)]),
        // 4
        person("K-T4", "carfin-nederland", "3511ED", &[("surname", "")]),
        // 5
        person("K-T5", "carfin-luxembourg", "3511ED", &[]),
        // 6
        contract("C-T1", "K-T1", "carfin-lease", &nl_plate(1), &vin(1)),
        // 7
        contract(
            "C-T2",
            "K-T2",
            "mobilio",
            BePlate::generate(1).unwrap().as_str(),
            &vin(2),
        ),
        // 8
        contract("C-T3", "K-T3", "carfin-lease", &nl_plate(3), &vin(3)),
        // 9
        contract("C-T4", "K-T9", "carfin-lease", &nl_plate(4), &vin(4)),
        // 10
        contract("C-T5", "K-T1", "carfin-lease", &nl_plate(5), "WVW123"),
        // 11
        contract("C-T6", "K-T1", "mobilio", &nl_plate(6), &vin(6)),
        // 12
        contract("C-T7", &seeded[0], seeded_brand, &seeded_plate, &vin(7)),
        // 13
        invoice("I-T1", "C-T1", "instalment", "2026-01", "649.50"),
        // 14
        invoice("I-T2", "C-T1", "instalment", "2026-02", "649.50"),
        // 15
        invoice("I-T3", "C-T2", "fee", "", "25.00"),
        // 16
        invoice("I-T4", "C-T3", "fee", "", "25.00"),
        // 17
        invoice("I-T5", "C-T1", "fee", "", "12,50"),
        // 18
        invoice("I-T1", "C-T1", "fee", "", "1.00"),
        // 19
        invoice("I-T6", &seeded_contract, "fee", "", "15.00"),
        // 20
        invoice("I-T7", "C-T1", "instalment", "2026-01", "649.50"),
        // 21
        f(&[("record", "vehicle"), ("vin", &vin(21))]),
        // 22
        {
            let mut row = invoice("I-T8", "C-T1", "fee", "", "5.00");
            row.push(("surname", "Jansen".into()));
            row
        },
    ]
}

/// What the mixed file's rejected rows must say (row, text).
const EXPECTED_REJECTIONS: &[(u64, &str)] = &[
    (3, "customer K-T3: iban is not valid: the IBAN check digits do not match [iban.checksum]. (invalid_value)"),
    (4, "customer K-T4: surname is missing. (missing_field)"),
    (5, "customer K-T5: There is no legal entity \"carfin-luxembourg\". (unknown_entity)"),
    (8, "contract C-T3: Customer K-T3 was rejected (row 3). (customer_rejected)"),
    (9, "contract C-T4: Customer K-T9 is neither in this file nor in carfin. (unknown_customer)"),
    (10, "contract C-T5: vin is not valid: a VIN has 17 characters [vin.length]. (invalid_value)"),
    (11, "contract C-T6: \"mobilio\" is not a brand of the customer's legal entity. (unknown_brand)"),
    (16, "invoice I-T4: Contract C-T3 was rejected (row 8). (contract_rejected)"),
    (17, "invoice I-T5: amount \"12,50\" is not valid: not an amount like 1234.56"),
    (18, "invoice I-T1: The same number is in row 13 of this file; only that row counts. (duplicate_in_file)"),
    (20, "invoice I-T7: The contract has an invoice of this kind for 2026-01 already"),
    (21, ": record \"vehicle\" is not customer, contract or invoice. (unknown_record)"),
    (22, "invoice I-T8: surname does not belong in a row of kind invoice. (field_not_allowed)"),
];

fn assert_rejections(stderr: &str, with_lines: bool) {
    for (row, expected) in EXPECTED_REJECTIONS {
        let prefix = if with_lines {
            format!("row {row} (line {})", row + 1)
        } else {
            format!("row {row}")
        };
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("{prefix},")) || l.starts_with(&format!("{prefix}:")))
            .unwrap_or_else(|| panic!("no report of {prefix} in:\n{stderr}"));
        assert!(line.contains(expected), "{line}\nexpected: {expected}");
    }
}

// BOF-04: a CSV file with customers, contracts (with vehicles) and
// invoices, some referring to rows in the file and some to the database,
// and bad rows of many kinds: the good rows are imported (personal data
// sealed), each bad row is reported with its row number, line and reason,
// and importing the file again changes nothing.
#[test]
fn bof04_import_reports_bad_rows_and_is_idempotent() {
    let dir = data_dir(3);
    let rows = mixed_rows(dir.path());
    let mut content = csv(&rows, ';');
    // Row 23: a line with one field more than the header.
    content.push_str(&format!("invoice{}\r\n", ";x".repeat(COLUMNS.len())));
    let wide = format!(
        "row 23 (line 24): The row cannot be read: it has {} fields where the header has {}. (malformed)",
        COLUMNS.len() + 1,
        COLUMNS.len()
    );
    let file = dir.path().join("core-export.csv");
    std::fs::write(&file, content).unwrap();
    let path = file.display().to_string();
    let invoices_before = count(dir.path(), "SELECT COUNT(*) FROM invoices");
    let ledger_before = count(dir.path(), "SELECT COUNT(*) FROM ledger_entries");

    let out = carfin(dir.path(), &["import", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("core-export.csv: 23 rows (csv): 9 imported, 0 unchanged, 14 rejected"),
        "{stdout}"
    );
    for line in [
        "customers: 2 imported, 0 unchanged, 3 rejected",
        "contracts: 3 imported, 0 unchanged, 4 rejected",
        "invoices: 4 imported, 0 unchanged, 5 rejected",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    let stderr = text(&out.stderr);
    assert_rejections(&stderr, true);
    assert!(stderr.contains(&wide), "{stderr}");
    assert!(
        !stderr.contains("NL11INGB") && !stderr.contains("NL12INGB"),
        "an IBAN was repeated: {stderr}"
    );

    // The good rows are there; personal data is sealed.
    let customer = &query(
        dir.path(),
        "SELECT id, email, language, email_bidx IS NOT NULL FROM customers WHERE customer_number = 'K-T1'",
    )[0];
    assert!(
        !customer[1].contains("example.com"),
        "the e-mail address is stored in clear"
    );
    assert_eq!(customer[2], "nl", "the entity's default language");
    assert_eq!(customer[3], "1", "findable by blind index");
    let mut raw = std::fs::read(dir.path().join("carfin.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("carfin.db-wal")) {
        raw.extend(wal);
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("jan.jansen@example.com") && !raw.contains("Jan.Jansen"));
    assert!(
        !raw.contains("Delta Transport SRL"),
        "a company name in clear"
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM customers c JOIN legal_entities e ON e.id = c.entity_id WHERE c.customer_number = 'K-T2' AND e.slug = 'carfin-belgique' AND c.language = 'fr' AND c.kind = 'company'"),
        1
    );
    let keys = count(
        dir.path(),
        "SELECT COUNT(*) FROM customers WHERE customer_number IN ('K-T1', 'K-T2')",
    );
    assert_eq!(keys, 2);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM contracts c JOIN contract_versions v ON v.contract_id = c.id \
             JOIN contract_parties p ON p.contract_id = c.id AND p.role = 'holder' \
             JOIN vehicles h ON h.id = c.vehicle_id \
             WHERE c.contract_number IN ('C-T1', 'C-T2', 'C-T7') AND v.version = 1 \
             AND v.monthly_instalment_cents = 64950 AND p.registration_bidx IS NOT NULL \
             AND h.subject_id = p.customer_id"
        ),
        3
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM contracts WHERE contract_number IN ('C-T3', 'C-T4', 'C-T5', 'C-T6')"),
        0
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM invoices") - invoices_before,
        4
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM ledger_entries") - ledger_before,
        4,
        "each invoice has its ledger entry"
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM invoices i JOIN ledger_entries l ON l.invoice_id = i.id \
             WHERE i.invoice_number = 'I-T1' AND l.kind = 'invoice' AND l.amount_cents = 64950 \
             AND i.status = 'open' AND length(i.payment_reference) = 16"
        ),
        1
    );
    let runs = query(
        dir.path(),
        "SELECT rows_total, rows_imported, rows_unchanged, rows_rejected, finished_at IS NOT NULL, format FROM import_runs",
    );
    assert_eq!(runs, vec![vec!["23", "9", "0", "14", "1", "csv"]]);
    assert!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM audit_log WHERE action = 'import.run' AND actor_kind = 'system'"
        ) == 1
    );

    // Again: nothing changes; the same rows are reported.
    let again = carfin(dir.path(), &["import", &path]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stdout = text(&again.stdout);
    assert!(
        stdout.contains("23 rows (csv): 0 imported, 9 unchanged, 14 rejected"),
        "{stdout}"
    );
    assert_rejections(&text(&again.stderr), true);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM invoices") - invoices_before,
        4
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM ledger_entries") - ledger_before,
        4
    );
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM import_runs"), 2);

    // A changed row is reported, not applied.
    let mut changed = rows.clone();
    changed[0] = person(
        "K-T1",
        "carfin-nederland",
        "3511ED",
        &[("email", "other@example.com")],
    );
    changed[5].retain(|(k, _)| *k != "monthly_instalment");
    changed[5].push(("monthly_instalment", "700.00".into()));
    let file2 = dir.path().join("changed.csv");
    std::fs::write(&file2, csv(&changed[..13], ',')).unwrap();
    let out = carfin(dir.path(), &["import", &file2.display().to_string()]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("row 1 (line 2), customer K-T1: It is in carfin already with different content (email, phone, iban) — not changed. (exists_different)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("row 6 (line 7), contract C-T1: It is in carfin already with different content (monthly_instalment) — not changed. (exists_different)"),
        "{stderr}"
    );
    assert!(!stderr.contains("other@example.com"), "{stderr}");
    assert_eq!(
        count(dir.path(), "SELECT monthly_instalment_cents FROM contract_versions v JOIN contracts c ON c.id = v.contract_id WHERE c.contract_number = 'C-T1'"),
        64950
    );

    // The whole file refused: an unknown column, a file that is not JSON.
    let typo = dir.path().join("typo.csv");
    std::fs::write(&typo, "record,invoice_numbr\ninvoice,1\n").unwrap();
    let out = carfin(dir.path(), &["import", &typo.display().to_string()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("typo.csv not imported: The header names a column the format does not know: invoice_numbr. (unknown_column)"),
        "{}",
        text(&out.stderr)
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"record\": \"invoice\",}]").unwrap();
    let out = carfin(dir.path(), &["import", &broken.display().to_string()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("The file is not valid JSON (line 1, column"),
        "{}",
        text(&out.stderr)
    );
    // Every row bad: the command fails.
    let hopeless = dir.path().join("hopeless.csv");
    std::fs::write(&hopeless, "record,invoice_number\ninvoice,X1\n").unwrap();
    let out = carfin(dir.path(), &["import", &hopeless.display().to_string()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("row 1 (line 2), invoice X1: contract_number is missing. (missing_field)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no row of hopeless.csv could be imported"),
        "{stderr}"
    );
}

// BOF-04: the same content as JSON (an array of objects) imports the same
// way, rows numbered from 1 without lines; the second import changes nothing.
#[test]
fn bof04_json_import_is_equivalent() {
    let dir = data_dir(3);
    let rows = mixed_rows(dir.path());
    let file = dir.path().join("core-export.json");
    std::fs::write(&file, json(&rows)).unwrap();
    let path = file.display().to_string();
    let out = carfin(dir.path(), &["import", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("core-export.json: 22 rows (json): 9 imported, 0 unchanged, 13 rejected"),
        "{stdout}"
    );
    assert_rejections(&text(&out.stderr), false);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM invoices WHERE invoice_number IN ('I-T1', 'I-T2', 'I-T3', 'I-T6')"),
        4
    );
    let again = carfin(dir.path(), &["import", &path]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("22 rows (json): 0 imported, 9 unchanged, 13 rejected"),
        "{}",
        text(&again.stdout)
    );
}

// BOF-04 (done criterion): a 100,000-row file with 1 % bad rows imports
// the good rows and reports the bad ones; a second import changes nothing.
#[test]
fn bof04_hundred_thousand_rows_with_one_percent_bad() {
    const CUSTOMERS: usize = 10;
    const INVOICES: usize = 100_000 - 2 * CUSTOMERS;
    let dir = data_dir(0);
    const HEADER: &[&str] = &[
        "record",
        "customer_number",
        "entity",
        "kind",
        "surname",
        "date_of_birth",
        "street",
        "house_number",
        "postcode",
        "city",
        "contract_number",
        "brand",
        "contract_type",
        "status",
        "start_date",
        "end_date",
        "term_months",
        "financed_amount",
        "nominal_rate_bp",
        "apr_bp",
        "monthly_instalment",
        "vin",
        "licence_plate",
        "make",
        "model",
        "fuel",
        "first_registration",
        "invoice_number",
        "issue_date",
        "due_date",
        "amount",
    ];
    let line = |fields: &[(&str, &str)]| -> String {
        let mut l = HEADER
            .iter()
            .map(|c| {
                let v = fields.iter().find(|(k, _)| k == c).map_or("", |(_, v)| *v);
                csv_field(v, ',')
            })
            .collect::<Vec<_>>()
            .join(",");
        l.push('\n');
        l
    };
    let mut out = HEADER.join(",") + "\n";
    for c in 0..CUSTOMERS {
        let (number, birth, house) = (
            format!("K{c:04}"),
            format!("1975-05-{:02}", c + 1),
            c.to_string(),
        );
        out.push_str(&line(&[
            ("record", "customer"),
            ("customer_number", &number),
            ("entity", "carfin-nederland"),
            ("kind", "person"),
            ("surname", "Visser"),
            ("date_of_birth", &birth),
            ("street", "Dorpsstraat"),
            ("house_number", &house),
            ("postcode", "1234AB"),
            ("city", "Zwolle"),
        ]));
    }
    for c in 0..CUSTOMERS {
        let vin = Vin::generate("KNA", c as u64).unwrap();
        let plate = NlPlate::generate(10, c as u64).unwrap();
        let (customer, number) = (format!("K{c:04}"), format!("C{c:04}"));
        out.push_str(&line(&[
            ("record", "contract"),
            ("customer_number", &customer),
            ("contract_number", &number),
            ("brand", "carfin-lease"),
            ("contract_type", "financial_lease"),
            ("status", "active"),
            ("start_date", "2024-01-01"),
            ("end_date", "2029-01-01"),
            ("term_months", "60"),
            ("financed_amount", "30000.00"),
            ("nominal_rate_bp", "490"),
            ("apr_bp", "502"),
            ("monthly_instalment", "560.12"),
            ("vin", vin.as_str()),
            ("licence_plate", plate.as_str()),
            ("make", "Kia"),
            ("model", "Niro EV"),
            ("fuel", "electric"),
            ("first_registration", "2023-12-15"),
        ]));
    }
    let mut bad = 0;
    for i in 0..INVOICES {
        let mut number = format!("F{i:06}");
        let mut contract = format!("C{:04}", i % CUSTOMERS);
        let mut issue = "2025-01-01";
        let mut amount = format!("{}.{:02}", 10 + i % 50, i % 100);
        if i % 100 == 0 && bad < 1_000 {
            bad += 1;
            match (i / 100) % 4 {
                0 => amount = "12,5".into(),
                1 => contract = "C9999".into(),
                2 => issue = "2025-02-30",
                _ => number.clear(),
            }
        }
        out.push_str(&line(&[
            ("record", "invoice"),
            ("invoice_number", &number),
            ("contract_number", &contract),
            ("kind", "fee"),
            ("issue_date", issue),
            ("due_date", "2025-01-31"),
            ("amount", &amount),
        ]));
    }
    assert_eq!(bad, 1_000);
    let file = dir.path().join("big.csv");
    std::fs::write(&file, &out).unwrap();
    let path = file.display().to_string();

    let started = Instant::now();
    let first = carfin(dir.path(), &["import", &path]);
    let first_secs = started.elapsed().as_secs_f64();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains("big.csv: 100000 rows (csv): 99000 imported, 0 unchanged, 1000 rejected"),
        "{stdout}"
    );
    let stderr = text(&first.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("row ")).count(),
        1_000,
        "every bad row is reported once"
    );
    // Row numbers: 20 customer and contract rows, then invoice i is data row 21 + i.
    assert!(
        stderr.contains("row 21 (line 22), invoice F000000: amount \"12,5\" is not valid"),
        "{stderr:.2000}"
    );
    assert!(stderr.contains("row 121 (line 122), invoice F000100: Contract C9999 is neither in this file nor in carfin. (unknown_contract)"));
    assert!(stderr.contains("row 221 (line 222), invoice F000200: issue_date \"2025-02-30\" is not valid: not a date like 2026-03-01."));
    assert!(
        stderr.contains("row 321 (line 322), invoice: invoice_number is missing. (missing_field)")
    );
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM invoices"), 98_980);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM ledger_entries"),
        98_980
    );

    let started = Instant::now();
    let second = carfin(dir.path(), &["import", &path]);
    let second_secs = started.elapsed().as_secs_f64();
    assert!(second.status.success(), "{}", text(&second.stderr));
    let stdout2 = text(&second.stdout);
    assert!(
        stdout2.contains("big.csv: 100000 rows (csv): 0 imported, 99000 unchanged, 1000 rejected"),
        "{stdout2}"
    );
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM invoices"), 98_980);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM ledger_entries"),
        98_980
    );
    eprintln!(
        "100,000-row import: first {first_secs:.1} s ({}), second {second_secs:.1} s ({})",
        stdout.lines().next().unwrap_or(""),
        stdout2.lines().next().unwrap_or("")
    );
}

// BOF-04: `carfin invoice-run --period` creates each running contract's
// instalment invoice for the month once; a second run creates none.
#[test]
fn bof04_two_invoice_runs_create_the_invoices_once() {
    use chrono::{Datelike, Months};
    let dir = data_dir(30);
    // Three months ahead: not invoiced by the generated data yet, and
    // every active generated contract still runs then.
    let month = chrono::Utc::now()
        .date_naive()
        .with_day(1)
        .unwrap()
        .checked_add_months(Months::new(3))
        .unwrap();
    let period = format!("{:04}-{:02}", month.year(), month.month());
    let active = count(
        dir.path(),
        "SELECT COUNT(*) FROM contracts WHERE status = 'active'",
    );
    assert!(active > 10, "{active}");
    let invoiced =
        format!("SELECT COUNT(*) FROM invoices WHERE kind = 'instalment' AND period = '{period}'");
    assert_eq!(count(dir.path(), &invoiced), 0);
    let ledger_before = count(dir.path(), "SELECT COUNT(*) FROM ledger_entries");

    let first = carfin(dir.path(), &["invoice-run", "--period", &period]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains(&format!(
            "invoice run {period}: {active} invoices created, 0 already there ({active} contracts due)"
        )),
        "{}",
        text(&first.stdout)
    );
    let second = carfin(dir.path(), &["invoice-run", "--period", &period]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains(&format!(
            "invoice run {period}: 0 invoices created, {active} already there"
        )),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(count(dir.path(), &invoiced), active);
    assert_eq!(
        count(
            dir.path(),
            &format!(
                "SELECT COUNT(DISTINCT i.contract_id) FROM invoices i JOIN contracts c ON c.id = i.contract_id \
                 JOIN contract_versions v ON v.contract_id = c.id AND v.version = c.current_version \
                 WHERE i.kind = 'instalment' AND i.period = '{period}' AND c.status = 'active' \
                 AND i.due_date LIKE '{period}-%' AND i.status = 'open'"
            )
        ),
        active,
        "one open invoice per active contract, due in the month"
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM ledger_entries") - ledger_before,
        active,
        "one ledger entry per invoice"
    );
    assert_eq!(
        query(
            dir.path(),
            &format!("SELECT invoices_created FROM invoice_runs WHERE period = '{period}' ORDER BY started_at, id")
        ),
        vec![vec![active.to_string()], vec!["0".to_string()]]
    );
    let bad = carfin(dir.path(), &["invoice-run", "--period", "2026-13"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("is not a month like 2026-03"),
        "{}",
        text(&bad.stderr)
    );
}
