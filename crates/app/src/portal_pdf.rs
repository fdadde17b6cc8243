//! The portal's own PDFs: an invoice (CON-03) with the brand, the legal
//! entity, the payment reference in the customer's country's format and the
//! payment instructions, and the statement of account (CON-04). Both go
//! through [`crate::documents::issue`], which checks the contract, frames
//! the document (letterhead, recipient, reference, generation time) and
//! records the issue.

use crate::documents::{self, Frame, Issued, Kind};
use crate::identity::session::Session;
use crate::portal::{self, InvoiceView, Statement};
use crate::{App, AppError};
use carfin_domain::Language;
use carfin_pdf::{Align, Column, Document};

/// An IBAN in groups of four.
pub fn group_iban(iban: &str) -> String {
    iban.chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The catalogue code of an invoice kind (`portal.invoice_kind.*`).
pub fn kind_code(kind: &str) -> &'static str {
    match kind {
        "instalment" => "instalment",
        "excess_km" => "excess_km",
        "fee" => "fee",
        _ => "credit",
    }
}

/// The catalogue code of an invoice status (`portal.invoice_status.*`).
pub fn status_code(status: &str) -> &'static str {
    match status {
        "open" => "open",
        "paid" => "paid",
        "overdue" => "overdue",
        "in_collection" => "in_collection",
        _ => "written_off",
    }
}

fn invoice_body(doc: &mut Document, f: &Frame, v: &InvoiceView) {
    let i = &v.invoice;
    let mut fields = vec![
        (
            f.t("portal.invoice.number").to_string(),
            i.invoice_number.clone(),
        ),
        (
            f.t("portal.invoice.issued").to_string(),
            f.date(&i.issue_date),
        ),
        (f.t("portal.invoice.due").to_string(), f.date(&i.due_date)),
        (
            f.t("portal.invoice.contract").to_string(),
            i.contract_number.clone(),
        ),
        (
            f.t("portal.invoice.customer_number").to_string(),
            f.customer_number.clone(),
        ),
    ];
    if let Some(period) = &i.period {
        fields.push((f.t("portal.invoice.period").to_string(), period.clone()));
    }
    fields.push((
        f.t("portal.invoice.reference").to_string(),
        i.payment_reference.clone(),
    ));
    fields.push((
        f.t("portal.invoice.status").to_string(),
        f.t(&format!("portal.invoice_status.{}", status_code(&i.status)))
            .to_string(),
    ));
    doc.fields(&fields);
    doc.space(10.0);
    let columns = [
        Column {
            header: f.t("portal.statement.description").to_string(),
            width: 0.7,
            align: Align::Left,
        },
        Column {
            header: f.t("portal.invoice.amount").to_string(),
            width: 0.3,
            align: Align::Right,
        },
    ];
    let vehicle = format!(
        "{} {} · {}",
        f.contract.overview.make, f.contract.overview.model, f.contract.plate
    );
    let mut description = f
        .t(&format!("portal.invoice_kind.{}", kind_code(&i.kind)))
        .to_string();
    if let Some(period) = &i.period {
        description = format!("{description} {period}");
    }
    let rows = vec![
        vec![format!("{description}\n{vehicle}"), f.money(i.amount_cents)],
        vec![
            f.t("portal.invoice.paid").to_string(),
            f.money(-i.paid_cents),
        ],
    ];
    doc.table(
        &columns,
        &rows,
        Some(vec![
            f.t("portal.invoice.outstanding").to_string(),
            v.outstanding.format(f.language),
        ]),
    );
    if v.outstanding.cents() > 0 && i.status != "written_off" {
        doc.heading(f.t("portal.invoice.how_to_pay"));
        let iban = group_iban(&v.entity.bank_iban);
        let beneficiary = format!("{} {}", v.entity.name, v.entity.legal_form);
        doc.paragraph(&f.tf(
            "portal.invoice.instructions",
            &[
                ("amount", &v.outstanding.format(f.language)),
                ("iban", &iban),
                ("beneficiary", &beneficiary),
                ("reference", &i.payment_reference),
                ("due", &f.date(&i.due_date)),
            ],
        ));
        doc.fields(&[
            ("IBAN".to_string(), iban),
            ("BIC".to_string(), v.entity.bank_bic.clone()),
            (f.t("portal.invoice.beneficiary").to_string(), beneficiary),
            (
                f.t("portal.invoice.reference").to_string(),
                i.payment_reference.clone(),
            ),
        ]);
    }
    doc.space(8.0);
    doc.note(&f.tf("portal.invoice.vat_note", &[("vat", &v.entity.vat_number)]));
}

/// One of the customer's invoices as a PDF (CON-03); `NotFound` for
/// anybody else's.
pub async fn invoice(
    app: &App,
    session: &Session,
    invoice_id: i64,
    language: Language,
) -> Result<Issued, AppError> {
    let view = portal::invoice(app, session, invoice_id).await?;
    let title = format!(
        "{} {}",
        crate::i18n::t(language, "portal.invoice.title"),
        view.invoice.invoice_number
    );
    documents::issue(
        app,
        session,
        language,
        Kind::Invoice,
        view.invoice.contract_id,
        Some(invoice_id),
        view.invoice.period.clone(),
        &title,
        |doc, frame| invoice_body(doc, frame, &view),
    )
    .await
}

/// A date in a table column: `01-10-2024` (nl), `01/10/2024` (fr),
/// `2024-10-01` (en).
pub fn short_date(language: Language, iso: &str) -> String {
    match (language, chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")) {
        (Language::Nl, Ok(d)) => d.format("%d-%m-%Y").to_string(),
        (Language::Fr, Ok(d)) => d.format("%d/%m/%Y").to_string(),
        _ => iso.to_string(),
    }
}

/// A statement line's description.
pub fn describe(language: Language, kind: &str, invoice: Option<&str>) -> String {
    let kind = match kind {
        "invoice" | "payment" | "credit" | "write_off" | "fee" => {
            crate::i18n::t(language, &format!("portal.ledger_kind.{kind}"))
        }
        _ => crate::i18n::t(language, "portal.ledger_kind.other"),
    };
    match invoice {
        Some(number) => format!("{kind} {number}"),
        None => kind.to_string(),
    }
}

fn statement_body(doc: &mut Document, f: &Frame, s: &Statement) {
    let number = &s.details.overview.contract_number;
    doc.fields(&[
        (f.t("portal.invoice.contract").to_string(), number.clone()),
        (
            f.t("portal.invoice.customer_number").to_string(),
            f.customer_number.clone(),
        ),
        (
            f.t("portal.statement.as_of").to_string(),
            crate::messages::local_date(f.language, f.today),
        ),
        (
            f.t("portal.statement.balance").to_string(),
            s.balance.format(f.language),
        ),
    ]);
    doc.space(8.0);
    let columns = [
        Column {
            header: f.t("portal.statement.date").to_string(),
            width: 0.17,
            align: Align::Left,
        },
        Column {
            header: f.t("portal.statement.description").to_string(),
            width: 0.38,
            align: Align::Left,
        },
        Column {
            header: f.t("portal.statement.debit").to_string(),
            width: 0.15,
            align: Align::Right,
        },
        Column {
            header: f.t("portal.statement.credit").to_string(),
            width: 0.15,
            align: Align::Right,
        },
        Column {
            header: f.t("portal.statement.balance").to_string(),
            width: 0.15,
            align: Align::Right,
        },
    ];
    let lang = f.language;
    let rows: Vec<Vec<String>> = s
        .lines
        .iter()
        .map(|l| {
            vec![
                short_date(lang, &l.date),
                describe(lang, &l.kind, l.invoice_number.as_deref()),
                l.debit.map(|m| m.format(lang)).unwrap_or_default(),
                l.credit.map(|m| m.format(lang)).unwrap_or_default(),
                l.balance.format(lang),
            ]
        })
        .collect();
    doc.table(
        &columns,
        &rows,
        Some(vec![
            f.t("portal.statement.total").to_string(),
            String::new(),
            s.total_debit.format(lang),
            s.total_credit.format(lang),
            s.balance.format(lang),
        ]),
    );
    doc.note(f.t("portal.statement.note"));
}

/// A contract's statement of account as a PDF (CON-04).
pub async fn statement(
    app: &App,
    session: &Session,
    contract_id: i64,
    language: Language,
) -> Result<Issued, AppError> {
    let s = portal::statement(app, session, contract_id).await?;
    let title = format!(
        "{} {}",
        crate::i18n::t(language, "portal.statement.title"),
        s.details.overview.contract_number
    );
    documents::issue(
        app,
        session,
        language,
        Kind::Statement,
        contract_id,
        None,
        None,
        &title,
        |doc, frame| statement_body(doc, frame, &s),
    )
    .await
}
