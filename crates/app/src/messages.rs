//! E-mail and SMS texts (ENT-01, ENT-02, OPS-06): localized from the
//! catalogues (`mail.*`, `sms.*`), branded with the customer's brand and
//! signed with the legal entity's details. Plain text plus HTML for e-mail.

use crate::directory::{BrandView, EntityView};
use crate::i18n;
use crate::outbox::{Channel, Message};
use crate::{App, AppError};
use askama::Template;
use carfin_domain::Language;
use sqlx::Row;

/// Who a message comes from: the customer's brand and its legal entity.
#[derive(Debug, Clone)]
pub struct Sender {
    pub entity: EntityView,
    pub brand: BrandView,
}

impl Sender {
    /// The brand of the customer's most recent contract (else the entity's
    /// first brand) and the customer's entity.
    pub async fn for_customer(
        app: &App,
        customer_id: i64,
        entity_id: i64,
    ) -> Result<Sender, AppError> {
        let directory = app.directory().await?;
        let brand_id: Option<i64> = sqlx::query(
            "SELECT c.brand_id FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
             WHERE p.customer_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(app.db().reader())
        .await
        .map_err(carfin_store::StoreError::from)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(carfin_store::StoreError::from)?;
        let entity = directory
            .entities
            .iter()
            .find(|e| e.id == entity_id)
            .cloned()
            .ok_or(AppError::NotFound)?;
        let brand = brand_id
            .and_then(|id| directory.brands.iter().find(|b| b.id == id))
            .or_else(|| directory.brands.iter().find(|b| b.entity_id == entity_id))
            .cloned()
            .ok_or(AppError::NotFound)?;
        Ok(Sender { entity, brand })
    }
}

/// An e-mail to compose: the message kind (`mail.{kind}.subject` and
/// `mail.{kind}.body` in the catalogues), its placeholders, an optional
/// call-to-action link and, for security e-mails, the link to report
/// unauthorised access (ACC-08).
#[derive(Debug, Clone, Default)]
pub struct Mail<'a> {
    pub kind: &'a str,
    pub args: Vec<(&'a str, String)>,
    pub link: Option<String>,
    pub report_link: Option<String>,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailHtml<'a> {
    lang: &'a str,
    subject: &'a str,
    brand: &'a str,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
    security: Option<(String, String, String)>,
    footer_brand: String,
    footer_address: String,
    footer_service: String,
}

fn fill(lang: Language, key: &str, args: &[(&str, String)]) -> String {
    let refs: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    i18n::tf(lang, key, &refs)
}

/// The e-mail `mail` from `sender` to `to` in `lang`, for the outbox.
pub fn email(
    sender: &Sender,
    lang: Language,
    subject_id: i64,
    to: &str,
    mail: &Mail<'_>,
) -> Result<Message, AppError> {
    let mut args = mail.args.clone();
    args.push(("brand", sender.brand.name.clone()));
    let subject = fill(lang, &format!("mail.{}.subject", mail.kind), &args);
    let body = fill(lang, &format!("mail.{}.body", mail.kind), &args);
    let greeting = i18n::t(lang, "mail.greeting").to_string();
    let paragraphs: Vec<String> = std::iter::once(greeting)
        .chain(body.split("\n\n").map(str::to_string))
        .collect();
    let link = mail.link.as_ref().map(|url| {
        (
            fill(lang, &format!("mail.{}.link", mail.kind), &args),
            url.clone(),
        )
    });
    let security = mail.report_link.as_ref().map(|url| {
        (
            i18n::t(lang, "mail.security.notice").to_string(),
            i18n::t(lang, "mail.security.report").to_string(),
            url.clone(),
        )
    });
    let entity = &sender.entity;
    let footer_brand = i18n::tf(
        lang,
        "mail.footer.brand",
        &[
            ("brand", &sender.brand.name),
            ("entity", &format!("{} {}", entity.name, entity.legal_form)),
        ],
    );
    let footer_address = format!(
        "{}, {} {} · {}",
        entity.street, entity.postcode, entity.city, entity.registration_number
    );
    let footer_service = i18n::tf(
        lang,
        "mail.footer.service",
        &[
            ("phone", &entity.service_phone),
            ("email", &entity.service_email),
        ],
    );
    let mut text = String::new();
    for paragraph in &paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
    }
    if let Some((label, url)) = &link {
        text.push_str(&format!("{label}:\n{url}\n\n"));
    }
    if let Some((notice, label, url)) = &security {
        text.push_str(&format!("{notice} {label}:\n{url}\n\n"));
    }
    text.push_str(&format!(
        "-- \n{footer_brand}\n{footer_address}\n{footer_service}\n"
    ));
    let html = MailHtml {
        lang: lang.code(),
        subject: &subject,
        brand: &sender.brand.name,
        paragraphs,
        link,
        security,
        footer_brand,
        footer_address,
        footer_service,
    }
    .render()
    .map_err(|_| AppError::Config("the e-mail template failed".into()))?;
    Ok(Message {
        channel: Channel::Email,
        entity_id: entity.id,
        subject_id,
        kind: format!("mail.{}", mail.kind),
        to: to.to_string(),
        from_name: sender.brand.name.clone(),
        subject: Some(subject),
        text,
        html: Some(html),
    })
}

/// The SMS `sms.{kind}` from `sender` to `to` (E.164) in `lang`.
pub fn sms(
    sender: &Sender,
    lang: Language,
    subject_id: i64,
    to: &str,
    kind: &str,
    args: &[(&str, String)],
) -> Message {
    let mut args = args.to_vec();
    args.push(("brand", sender.brand.name.clone()));
    Message {
        channel: Channel::Sms,
        entity_id: sender.entity.id,
        subject_id,
        kind: format!("sms.{kind}"),
        to: to.to_string(),
        from_name: sender.brand.name.clone(),
        subject: None,
        text: fill(lang, &format!("sms.{kind}"), &args),
        html: None,
    }
}

/// A timestamp as people in the Netherlands and Belgium read it: local
/// time (CET/CEST, the rules of EU summer time), e.g. `2 maart 2026 10:00:05 CET`
/// in Dutch, with seconds, since a report's time can matter (ACC-08).
pub fn local_time(lang: Language, unix: i64) -> String {
    use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
    let Some(utc) = DateTime::<Utc>::from_timestamp(unix, 0) else {
        return unix.to_string();
    };
    let offset = local_offset_hours(utc);
    let zone = if offset == 2 { "CEST" } else { "CET" };
    let local = utc + Duration::hours(offset);
    let month = i18n::t(lang, &format!("date.month.{}", local.month()));
    format!(
        "{} {} {} {:02}:{:02}:{:02} {zone}",
        local.day(),
        month,
        local.year(),
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// The offset of Dutch and Belgian local time from UTC at `utc`, in hours:
/// 2 in summer time (CEST, from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October), else 1 (CET).
pub fn local_offset_hours(utc: chrono::DateTime<chrono::Utc>) -> i64 {
    use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
    let last_sunday = |month: u32| -> Option<DateTime<Utc>> {
        let next = if month == 12 {
            (utc.year() + 1, 1)
        } else {
            (utc.year(), month + 1)
        };
        let mut day = NaiveDate::from_ymd_opt(next.0, next.1, 1)?.pred_opt()?;
        while day.weekday() != Weekday::Sun {
            day = day.pred_opt()?;
        }
        Some(day.and_hms_opt(1, 0, 0)?.and_utc())
    };
    match (last_sunday(3), last_sunday(10)) {
        (Some(start), Some(end)) if utc >= start && utc < end => 2,
        _ => 1,
    }
}

/// A calendar date in words: `17 mei 2026`, `17 mai 2026`, `17 May 2026`.
pub fn local_date(lang: Language, date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!(
        "{} {} {}",
        date.day(),
        i18n::t(lang, &format!("date.month.{}", date.month())),
        date.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_follows_summer_time() {
        // 2026-03-29 is the last Sunday of March: 00:59 UTC is CET, 01:00 CEST.
        let before = chrono::NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(0, 59, 0))
            .map(|d| d.and_utc().timestamp())
            .unwrap_or_default();
        assert!(local_time(Language::En, before).ends_with("01:59:00 CET"));
        assert!(local_time(Language::En, before + 60).ends_with("03:00:00 CEST"));
        assert!(local_time(Language::Nl, before).starts_with("29 maart 2026"));
    }
}
