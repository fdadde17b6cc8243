//! End-to-end tests: documents are generated, written to disk and read back
//! with poppler's `pdftotext` and `pdfinfo`, as a customer's viewer would.
// Test code: helpers may panic like the tests they serve.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use carfin_pdf::{text_width, Align, Column, Document, Font, Footer, Letterhead, Meta};

// ----- helpers ------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Writes `bytes` to a fresh file under the cargo test tmp dir.
fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("carfin-pdf");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join(format!("{name}-{}-{n}.pdf", std::process::id()));
    std::fs::write(&path, bytes).expect("write pdf");
    path
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("run poppler tool");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{program} {args:?} complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Text as pdftotext extracts it; non-breaking spaces normalised to spaces.
fn text(path: &Path, layout: bool, pages: Option<(usize, usize)>) -> String {
    let p = path.to_str().expect("path");
    let mut args: Vec<String> = vec!["-enc".into(), "UTF-8".into()];
    if layout {
        args.push("-layout".into());
    }
    if let Some((first, last)) = pages {
        args.extend([
            "-f".into(),
            first.to_string(),
            "-l".into(),
            last.to_string(),
        ]);
    }
    args.extend([p.to_string(), "-".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("pdftotext", &args).replace(['\u{A0}', '\u{202F}'], " ")
}

fn info(path: &Path) -> String {
    run("pdfinfo", &["-isodates", path.to_str().expect("path")])
}

fn info_field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn page_count(path: &Path) -> usize {
    info_field(&info(path), "Pages")
        .parse()
        .expect("page count")
}

/// Asserts that `needles` occur in `haystack` in this order.
fn assert_in_order(haystack: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match haystack[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("{needle:?} not found (in order) in:\n{haystack}"),
        }
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

fn letterhead() -> Letterhead {
    Letterhead {
        brand: s("Carfin"),
        lines: vec![
            s("Carfin Lease B.V."),
            s("Stationsplein 1, 3511 ED Utrecht"),
            s("KvK 12345678 · btw NL123456789B01 · AFM 12045678"),
            s("klantenservice@carfin.example · 030 123 45 67"),
        ],
    }
}

fn meta(title: &str, language: &str) -> Meta {
    Meta {
        title: s(title),
        author: s("Carfin Lease B.V."),
        subject: s("Klantdocument"),
        language: s(language),
        created_unix: Some(1_795_251_600), // 2026-11-21 09:00:00 UTC
    }
}

fn footer(reference: &str) -> Footer {
    Footer {
        text: format!("Referentie {reference} · gegenereerd 21-11-2026 10:00 CET"),
        page_template: s("Pagina {page} van {pages}"),
    }
}

fn amount_columns() -> Vec<Column> {
    vec![
        Column {
            header: s("Datum"),
            width: 0.2,
            align: Align::Left,
        },
        Column {
            header: s("Omschrijving"),
            width: 0.5,
            align: Align::Left,
        },
        Column {
            header: s("Bedrag"),
            width: 0.3,
            align: Align::Right,
        },
    ]
}

fn invoice() -> Document {
    let mut doc = Document::new(
        meta("Factuur 2026-0042", "nl"),
        letterhead(),
        footer("INV-2026-0042"),
    );
    doc.address(&[
        s("De heer J. de Vries"),
        s("Kerkstraat 12"),
        s("1234 AB Amsterdam"),
    ]);
    doc.title("Factuur");
    doc.fields(&[
        (s("Factuurnummer"), s("2026-0042")),
        (s("Factuurdatum"), s("1 november 2026")),
        (s("Vervaldatum"), s("15 november 2026")),
        (s("Betalingskenmerk"), s("1234 5678 9012 3456")),
    ]);
    doc.table(
        &amount_columns(),
        &[
            vec![
                s("01-11-2026"),
                s("Leasetermijn november 2026"),
                s("€ 1.034,56"),
            ],
            vec![
                s("01-11-2026"),
                s("Meerkilometers (1.250 km à € 0,16)"),
                s("€ 200,00"),
            ],
        ],
        Some(vec![s(""), s("Totaal te betalen"), s("€ 1.234,56")]),
    );
    doc.paragraph(
        "Wij verzoeken u het bedrag vóór de vervaldatum over te maken onder vermelding van het \
         betalingskenmerk. Heeft u vragen? Neem dan contact op met onze klantenservice.",
    );
    doc.note("Deze factuur is elektronisch aangemaakt en is zonder handtekening geldig.");
    doc
}

// ----- tests --------------------------------------------------------------

/// CON-03: an invoice as PDF shows letterhead, address, title, fields, the
/// amounts table and total, and the footer, in reading order.
#[test]
fn con_03_invoice_pdf_extracts_in_reading_order() {
    let path = write("invoice", &invoice().finish());

    let plain = text(&path, false, None);
    assert_in_order(
        &plain,
        &[
            "Carfin",
            "Carfin Lease B.V.",
            "Stationsplein 1, 3511 ED Utrecht",
            "KvK 12345678 · btw NL123456789B01 · AFM 12045678",
            "De heer J. de Vries",
            "1234 AB Amsterdam",
            "Factuur",
            "Factuurnummer",
            "Betalingskenmerk",
            "Wij verzoeken u het bedrag vóór de vervaldatum",
            "zonder handtekening geldig.",
            "Referentie INV-2026-0042 · gegenereerd 21-11-2026 10:00 CET",
            "Pagina 1 van 1",
        ],
    );

    // With -layout, table rows stay rows: cells on one line, in column order.
    let layout = text(&path, true, None);
    let line_with = |needle: &str| -> String {
        layout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_string()
    };
    assert_in_order(
        &line_with("Omschrijving"),
        &["Datum", "Omschrijving", "Bedrag"],
    );
    assert_in_order(
        &line_with("Leasetermijn"),
        &["01-11-2026", "Leasetermijn november 2026", "€ 1.034,56"],
    );
    assert_in_order(
        &line_with("Meerkilometers"),
        &["(1.250 km à € 0,16)", "€ 200,00"],
    );
    assert_in_order(
        &line_with("Totaal te betalen"),
        &["Totaal te betalen", "€ 1.234,56"],
    );
    assert_in_order(&line_with("Factuurnummer"), &["Factuurnummer", "2026-0042"]);
    assert_in_order(
        &line_with("Referentie"),
        &["Referentie INV-2026-0042", "Pagina 1 van 1"],
    );

    let info = info(&path);
    assert_eq!(info_field(&info, "Title"), "Factuur 2026-0042");
    assert_eq!(info_field(&info, "Pages"), "1");
    assert_eq!(info_field(&info, "Page size"), "595.276 x 841.89 pts (A4)");
}

/// SRV-05 / PRV-04: metadata for viewers and assistive technology.
#[test]
fn srv_05_metadata_title_author_language_and_display_title() {
    let mut doc = Document::new(
        Meta {
            title: s("Rapport de données personnelles"),
            author: s("Carfin Lease SA"),
            subject: s("Droit d'accès (art. 15 RGPD)"),
            language: s("fr-BE"),
            created_unix: Some(1_795_251_600),
        },
        letterhead(),
        footer("GDPR-7"),
    );
    doc.paragraph("Bonjour");
    let bytes = doc.finish();
    let path = write("meta", &bytes);
    let info = info(&path);
    assert_eq!(
        info_field(&info, "Title"),
        "Rapport de données personnelles"
    );
    assert_eq!(info_field(&info, "Author"), "Carfin Lease SA");
    assert_eq!(info_field(&info, "Subject"), "Droit d'accès (art. 15 RGPD)");
    assert_eq!(info_field(&info, "Creator"), "carfin");
    assert_eq!(info_field(&info, "CreationDate"), "2026-11-21T09:00:00Z");

    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("/Lang (fr-BE)"), "catalog /Lang missing");
    assert!(
        raw.contains("/DisplayDocTitle true"),
        "DisplayDocTitle missing"
    );
    assert!(raw.contains("/BaseFont /Helvetica-Bold"));
    assert!(raw.contains("/Encoding /WinAnsiEncoding"));
    assert!(
        raw.contains("/Filter /FlateDecode"),
        "content streams are compressed"
    );
    assert!(
        !raw.contains("/FontFile"),
        "standard fonts are not embedded"
    );
}

/// SRV-05: Dutch, French and German accents, the euro sign and French money
/// formatting with a narrow no-break space survive extraction.
#[test]
fn srv_05_accents_euro_and_french_money_extract() {
    let mut doc = Document::new(
        meta("Jaaropgave 2026", "nl"),
        letterhead(),
        footer("JO-2026-1"),
    );
    doc.title("Jaaropgave 2026");
    doc.heading("Échéancier de remboursement");
    doc.paragraph("Montant restant dû : 1\u{202F}234,56\u{A0}€ — à régler avant le 31 décembre.");
    doc.paragraph("Betaald in 2026: € 1.234,56 (rente) – zie het overzicht hieronder.");
    doc.paragraph(
        "Bitte nutzen Sie für die Überweisung die Zahlungsreferenz „+++123/4567/89002+++“.",
    );
    doc.paragraph("Ook geïnde kosten, Ærø, naïef, crème brûlée, Œuvre, façade, coördinatie • 50% ‰ ™ ‘quoted’ “quoted” …");
    doc.fields(&[(s("Solde au 1er janvier"), s("12\u{202F}345,67\u{A0}€"))]);
    let path = write("accents", &doc.finish());

    for layout in [false, true] {
        let t = text(&path, layout, None);
        for expected in [
            "Jaaropgave 2026",
            "Échéancier de remboursement",
            "1 234,56 €",
            "€ 1.234,56",
            "Überweisung",
            "„+++123/4567/89002+++“",
            "geïnde kosten, Ærø, naïef, crème brûlée, Œuvre, façade, coördinatie • 50% ‰ ™ ‘quoted’ “quoted” …",
            "— à régler",
            "(rente) – zie",
            "12 345,67 €",
            "Pagina 1 van 1",
        ] {
            assert!(t.contains(expected), "{expected:?} missing (layout={layout}) in:\n{t}");
        }
    }
}

/// SRV-05: a statement of account with hundreds of rows runs over several
/// pages; every page has the repeated table header and "Pagina N van M" with
/// the right total; rows come out complete and in order.
#[test]
fn srv_05_long_statement_paginates_with_repeated_header_and_page_labels() {
    let mut doc = Document::new(
        meta("Rekeningoverzicht", "nl"),
        letterhead(),
        footer("SOA-9"),
    );
    doc.address(&[
        s("Mevrouw A. Janssen"),
        s("Dorpsstraat 3"),
        s("9000 Gent"),
        s("België"),
    ]);
    doc.title("Rekeningoverzicht 2026");
    let rows: Vec<Vec<String>> = (1..=240)
        .map(|i| {
            vec![
                format!("{:02}-{:02}-2026", i % 28 + 1, i % 12 + 1),
                format!("Boeking {i:03} termijn"),
                format!("€ {}.{:03},{:02}", i % 9 + 1, i, i % 100),
            ]
        })
        .collect();
    doc.table(
        &amount_columns(),
        &rows,
        Some(vec![s(""), s("Saldo"), s("€ 0,00")]),
    );
    let pages = doc.page_count();
    assert!(pages >= 4, "240 rows need several pages, got {pages}");
    let path = write("statement", &doc.finish());
    assert_eq!(page_count(&path), pages);

    for page in 1..=pages {
        let t = text(&path, true, Some((page, page)));
        assert!(
            t.contains(&format!("Pagina {page} van {pages}")),
            "page {page}:\n{t}"
        );
        assert!(t.contains("Referentie SOA-9"), "footer text on page {page}");
        let header = t
            .lines()
            .find(|l| l.contains("Omschrijving"))
            .unwrap_or_default();
        assert_in_order(header, &["Datum", "Omschrijving", "Bedrag"]);
    }
    let all = text(&path, true, None);
    let order: Vec<String> = (1..=240)
        .map(|i| format!("Boeking {i:03} termijn"))
        .collect();
    let order: Vec<&str> = order.iter().map(String::as_str).collect();
    assert_in_order(&all, &order);
    // The last row and the total end the table.
    assert_in_order(&all, &["Boeking 240 termijn", "Saldo", "€ 0,00"]);
    assert_eq!(all.matches("Pagina ").count(), pages);
}

/// SRV-05: thousands of rows give many pages, quickly, each correctly labelled.
#[test]
fn srv_05_thousands_of_rows_make_many_pages() {
    let mut doc = Document::new(
        meta("Betalingshistorie", "nl"),
        letterhead(),
        footer("HIST-1"),
    );
    let rows: Vec<Vec<String>> = (1..=3000)
        .map(|i| {
            vec![
                s("01-01-2026"),
                format!("Regel {i:04}"),
                format!("€ {i},00"),
            ]
        })
        .collect();
    let started = std::time::Instant::now();
    doc.table(&amount_columns(), &rows, None);
    let pages = doc.page_count();
    let bytes = doc.finish();
    assert!(
        started.elapsed().as_secs() < 10,
        "layout took {:?}",
        started.elapsed()
    );
    assert!(pages > 60, "{pages} pages");
    let path = write("thousands", &bytes);
    assert_eq!(page_count(&path), pages);
    let last = text(&path, true, Some((pages, pages)));
    assert!(
        last.contains(&format!("Pagina {pages} van {pages}")),
        "{last}"
    );
    assert!(last.contains("Regel 3000"), "{last}");
    let all = text(&path, false, None);
    assert_eq!(all.matches("Regel ").count(), 3000);
}

/// Parses `pdftotext -bbox` output into (word, xMin, xMax, yMin).
fn words_with_boxes(path: &Path) -> Vec<(String, f32, f32, f32)> {
    let html = run("pdftotext", &["-bbox", path.to_str().expect("path"), "-"]);
    let attr = |line: &str, name: &str| -> f32 {
        let key = format!("{name}=\"");
        let start = line.find(&key).map(|i| i + key.len()).unwrap_or(0);
        let end = line[start..].find('"').map(|i| start + i).unwrap_or(start);
        line[start..end].parse().unwrap_or(f32::NAN)
    };
    html.lines()
        .filter(|l| l.trim_start().starts_with("<word"))
        .map(|l| {
            let word = l
                .split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("");
            (
                word.to_string(),
                attr(l, "xMin"),
                attr(l, "xMax"),
                attr(l, "yMin"),
            )
        })
        .collect()
}

/// CON-03: amounts in a right-aligned column end at the same x, whatever
/// their length, as measured by the viewer's text extraction.
#[test]
fn con_03_right_aligned_amounts_end_at_the_same_x() {
    let mut doc = Document::new(meta("Factuur", "nl"), letterhead(), footer("INV-1"));
    let amounts = ["€ 1,00", "€ 12,50", "€ 1.234,56", "€ 99.999,99", "€ 0,01"];
    let rows: Vec<Vec<String>> = amounts
        .iter()
        .map(|a| vec![s("01-01-2026"), s("Regel"), s(a)])
        .collect();
    doc.table(
        &amount_columns(),
        &rows,
        Some(vec![s(""), s("Totaal"), s("€ 101.248,06")]),
    );
    let path = write("align", &doc.finish());

    let words = words_with_boxes(&path);
    let ends: Vec<f32> = words
        .iter()
        .filter(|(w, ..)| {
            [
                "1,00",
                "12,50",
                "1.234,56",
                "99.999,99",
                "0,01",
                "101.248,06",
            ]
            .contains(&w.as_str())
        })
        .map(|(_, _, x_max, _)| *x_max)
        .collect();
    assert_eq!(ends.len(), 6, "{words:?}");
    for end in &ends {
        assert!((end - ends[0]).abs() < 0.05, "right edges differ: {ends:?}");
    }
    // And they end at the column's right padding: 20 mm margin + 4 pt.
    let expected = 595.276 - 20.0 * 72.0 / 25.4 - 4.0;
    assert!(
        (ends[0] - expected).abs() < 0.1,
        "{} vs {expected}",
        ends[0]
    );

    // Left-aligned cells start at the same x.
    let starts: Vec<f32> = words
        .iter()
        .filter(|(w, ..)| w == "Regel")
        .map(|(_, x_min, ..)| *x_min)
        .collect();
    assert_eq!(starts.len(), amounts.len());
    assert!(starts.iter().all(|x| (x - starts[0]).abs() < 0.01));

    // The measuring function agrees with the viewer about widths.
    let euro = words
        .iter()
        .find(|(w, ..)| w == "99.999,99")
        .expect("amount");
    let measured = text_width("99.999,99", Font::Regular, 9.0);
    assert!(
        (euro.2 - euro.1 - measured).abs() < 0.1,
        "{} vs {measured}",
        euro.2 - euro.1
    );
}

/// SRV-05: long text wraps within the margins, long words are broken, table
/// cells wrap, nothing is lost.
#[test]
fn srv_05_wrapping_keeps_text_within_margins_and_complete() {
    let mut doc = Document::new(meta("Contract", "nl"), letterhead(), footer("CTR-5"));
    let long_word = "Aansprakelijkheidsverzekeringsovereenkomstvoorwaarden".repeat(6);
    let sentence = "Deze overeenkomst wordt aangegaan voor de duur van achtenveertig maanden. ";
    doc.paragraph(&format!("{}{long_word} einde.", sentence.repeat(12)));
    doc.fields(&[(s("Voorwaarden"), sentence.repeat(5))]);
    doc.table(
        &amount_columns(),
        &[vec![s("01-01-2026"), sentence.repeat(3), s("€ 5,00")]],
        None,
    );
    let path = write("wrap", &doc.finish());
    let words = words_with_boxes(&path);
    let left = 20.0 * 72.0 / 25.4;
    let right = 595.276 - left;
    for (w, x_min, x_max, _) in &words {
        assert!(
            *x_min >= left - 0.5 && *x_max <= right + 0.5,
            "{w:?} outside margins: {x_min}..{x_max}"
        );
    }
    let plain: String = text(&path, false, None).split_whitespace().collect();
    assert!(plain.contains(&long_word), "long word incomplete");
    assert!(plain.contains(&format!("achtenveertigmaanden.{long_word}einde.")));
}

/// PRV-04: the GDPR data report can hold hostile or odd data (emoji, control
/// characters, PDF delimiters, bidi marks) and still produces a valid PDF.
#[test]
fn prv_04_odd_input_never_panics_and_stays_readable() {
    let mut doc = Document::new(
        Meta {
            title: s("Persoonsgegevens (art. 15) \\ rapport 😀\u{0}"),
            author: String::new(),
            subject: s("\u{1b}[31m"),
            language: String::new(),
            created_unix: None,
        },
        Letterhead {
            brand: String::new(),
            lines: vec![String::new()],
        },
        Footer {
            text: "x".repeat(2000),
            page_template: s("{page}/{pages} {page}"),
        },
    );
    doc.heading("Saldo (incl. btw) \\ 50% ) ((");
    doc.paragraph("Naam: Zoë 😀 Ωmega \u{7}\u{1b}\u{200F}\u{202E}evil\u{202C} Łukasz ẞ 中文");
    doc.paragraph("");
    doc.note("\n\n\n");
    doc.fields(&[(String::new(), String::new()), (s("😀"), s("\t\r\n"))]);
    doc.table(&[], &[vec![s("ignored")]], None);
    doc.table(
        &[Column {
            header: String::new(),
            width: f32::NAN,
            align: Align::Right,
        }],
        &[vec![], vec![s("a"), s("surplus")]],
        Some(vec![]),
    );
    doc.space(f32::INFINITY);
    doc.space(-5.0);
    doc.line_chart(
        &[(f32::NAN, 1.0)],
        &[],
        &[(f32::INFINITY, s("∞"))],
        f32::NAN,
    );
    let path = write("odd", &doc.finish());
    let t = text(&path, false, None);
    assert!(t.contains("Saldo (incl. btw) \\ 50% ) (("), "{t}");
    assert!(t.contains("Naam: Zoë ? ?mega evil Lukasz ? ??"), "{t}");
    assert!(t.contains("1/"), "{t}");
    assert!(info_field(&info(&path), "Title").starts_with("Persoonsgegevens (art. 15) \\ rapport"));
}

/// Xorshift64: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self, max_len: u64) -> String {
        let len = self.next() % (max_len + 1);
        (0..len)
            .map(|_| FUZZ_ALPHABET[(self.next() % FUZZ_ALPHABET.len() as u64) as usize])
            .collect()
    }
}

const FUZZ_ALPHABET: &[&str] = &[
    "a",
    "Z",
    " ",
    " ",
    "\n",
    "\t",
    "\r",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    "\u{1b}",
    "(",
    ")",
    "\\",
    "é",
    "ë",
    "ç",
    "€",
    "\u{202F}",
    "\u{A0}",
    "\u{AD}",
    "\u{301}",
    "😀",
    "👨‍👩‍👧",
    "\u{FE0F}",
    "中",
    "ß",
    "Ω",
    "\u{FFFF}",
    "\u{10FFFF}",
    "–",
    "—",
    "•",
    "%",
    "{page}",
    "{pages}",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
];

/// PRV-04: random strings from a nasty alphabet, through every method, many
/// times: no panic, and poppler reads every result without complaint.
#[test]
fn prv_04_fuzz_random_strings_produce_valid_pdfs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..12 {
        let mut doc = Document::new(
            Meta {
                title: rng.string(20),
                author: rng.string(10),
                subject: rng.string(10),
                language: rng.string(3),
                created_unix: Some(i64::from(round) * 1_000_000_007),
            },
            Letterhead {
                brand: rng.string(8),
                lines: (0..3).map(|_| rng.string(30)).collect(),
            },
            Footer {
                text: rng.string(60),
                page_template: rng.string(10),
            },
        );
        doc.address(&[rng.string(30), rng.string(30)]);
        doc.title(&rng.string(40));
        doc.heading(&rng.string(40));
        doc.paragraph(&rng.string(400));
        doc.note(&rng.string(100));
        doc.fields(&[
            (rng.string(20), rng.string(80)),
            (rng.string(5), rng.string(200)),
        ]);
        let columns: Vec<Column> = (0..(round % 5))
            .map(|i| Column {
                header: rng.string(12),
                width: (rng.next() % 60) as f32 / 100.0,
                align: if i % 2 == 0 {
                    Align::Left
                } else {
                    Align::Right
                },
            })
            .collect();
        let rows: Vec<Vec<String>> = (0..(rng.next() % 80))
            .map(|_| (0..(rng.next() % 6)).map(|_| rng.string(25)).collect())
            .collect();
        doc.table(&columns, &rows, Some(vec![rng.string(10), rng.string(10)]));
        doc.line_chart(
            &[(0.0, 10.0), (1.0, 5.0), (2.0, 0.0)],
            &[(0.0, rng.string(6)), (2.0, rng.string(6))],
            &[(0.0, rng.string(6)), (10.0, rng.string(6))],
            120.0,
        );
        doc.space(30.0);
        let path = write("fuzz", &doc.finish());
        let _ = text(&path, false, None);
        let _ = text(&path, true, None);
        assert!(page_count(&path) >= 1);
    }
}

/// SRV-05: the annual statement's chart of the remaining debt: labels on
/// both axes are readable text.
#[test]
fn srv_05_line_chart_labels_extract() {
    let mut doc = Document::new(meta("Jaaropgave", "nl"), letterhead(), footer("JO-1"));
    doc.heading("Verloop restschuld");
    let points: Vec<(f32, f32)> = (0..=12)
        .map(|m| (m as f32, 20_000.0 - 1_500.0 * m as f32))
        .collect();
    doc.line_chart(
        &points,
        &[
            (0.0, s("jan 2026")),
            (6.0, s("jul 2026")),
            (12.0, s("jan 2027")),
        ],
        &[
            (0.0, s("€ 0")),
            (10_000.0, s("€ 10.000")),
            (20_000.0, s("€ 20.000")),
        ],
        150.0,
    );
    doc.paragraph("Na de grafiek.");
    let path = write("chart", &doc.finish());
    // Poppler's word-spacing heuristics may drop the space in a short label
    // such as "€ 0", so compare without whitespace.
    let t: String = text(&path, true, None).split_whitespace().collect();
    assert_in_order(
        &t,
        &[
            "Verlooprestschuld",
            "€20.000",
            "€10.000",
            "€0",
            "jan2026",
            "jul2026",
            "jan2027",
            "Nadegrafiek.",
        ],
    );
}

/// An empty document is still a valid one-page PDF with its footer.
#[test]
fn srv_05_empty_document_is_one_valid_page() {
    let doc = Document::new(Meta::default(), Letterhead::default(), footer("EMPTY"));
    let path = write("empty", &doc.finish());
    assert_eq!(page_count(&path), 1);
    assert!(text(&path, false, None).contains("Pagina 1 van 1"));
}
