//! Adyen: the notification format and its HMAC signature (PAY-02), and the
//! Checkout API client (PAY-01, PAY-04). The simulator speaks the same API,
//! so this is the one code path for both; only the base URL differs.
//!
//! The signature is computed exactly as Adyen's own libraries do for
//! standard notifications: the eight fields `pspReference`,
//! `originalReference`, `merchantAccountCode`, `merchantReference`,
//! `amount.value`, `amount.currency`, `eventCode` and `success`, joined with
//! `:` without any escaping (a missing field is an empty string), HMAC-SHA256
//! with the hex-decoded key, Base64. It is compared in constant time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A notification request as Adyen posts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationRequest {
    /// `"true"` or `"false"`, as a string.
    #[serde(default)]
    pub live: String,
    #[serde(rename = "notificationItems", default)]
    pub items: Vec<NotificationItemWrapper>,
}

/// `{"NotificationRequestItem": {…}}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationItemWrapper {
    #[serde(rename = "NotificationRequestItem")]
    pub item: NotificationItem,
}

/// An amount in minor units. Adyen sends the value as a number; some
/// events (and the Java library's vectors) carry it as a string.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Amount {
    #[serde(default)]
    pub currency: String,
    #[serde(default, deserialize_with = "minor_units")]
    pub value: Option<i64>,
}

fn minor_units<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(i64),
        Text(String),
        Null,
    }
    match Value::deserialize(d)? {
        Value::Number(n) => Ok(Some(n)),
        Value::Text(t) if t.trim().is_empty() => Ok(None),
        Value::Text(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("amount.value is not a whole number")),
        Value::Null => Ok(None),
    }
}

/// One `NotificationRequestItem`. Only the fields carfin reads are typed;
/// `additionalData` is kept as JSON for the signature and never stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationItem {
    #[serde(default)]
    pub psp_reference: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub original_reference: String,
    #[serde(default)]
    pub merchant_account_code: String,
    #[serde(default)]
    pub merchant_reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    #[serde(default)]
    pub event_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_date: String,
    #[serde(default)]
    pub success: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub payment_method: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_data: Option<serde_json::Map<String, serde_json::Value>>,
}

impl NotificationItem {
    /// The text that is signed: the eight fields joined with `:`.
    pub fn data_to_sign(&self) -> String {
        let (value, currency) = match &self.amount {
            Some(a) => (
                a.value.map(|v| v.to_string()).unwrap_or_default(),
                a.currency.clone(),
            ),
            None => (String::new(), String::new()),
        };
        [
            self.psp_reference.as_str(),
            self.original_reference.as_str(),
            self.merchant_account_code.as_str(),
            self.merchant_reference.as_str(),
            value.as_str(),
            currency.as_str(),
            self.event_code.as_str(),
            self.success.as_str(),
        ]
        .join(":")
    }

    /// The signature the item carries (`additionalData.hmacSignature`).
    pub fn signature(&self) -> Option<&str> {
        self.additional_data
            .as_ref()?
            .get("hmacSignature")?
            .as_str()
            .filter(|s| !s.trim().is_empty())
    }

    /// Whether `success` is `"true"`.
    pub fn succeeded(&self) -> bool {
        self.success.eq_ignore_ascii_case("true")
    }

    /// Signs the item in place (the simulator and tests).
    pub fn sign(&mut self, key: &[u8]) {
        let signature = sign(key, &self.data_to_sign());
        self.additional_data
            .get_or_insert_with(Default::default)
            .insert("hmacSignature".into(), serde_json::Value::String(signature));
    }
}

/// Base64 of HMAC-SHA256 of `data` under `key`.
pub fn sign(key: &[u8], data: &str) -> String {
    // An HMAC takes keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Why a notification item was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No `hmacSignature`, or an empty one.
    Missing,
    /// It does not match.
    Wrong,
}

impl SignatureProblem {
    /// A code for the security log.
    pub fn code(self) -> &'static str {
        match self {
            SignatureProblem::Missing => "missing_signature",
            SignatureProblem::Wrong => "wrong_signature",
        }
    }
}

/// Checks an item's signature in constant time.
pub fn verify(key: &[u8], item: &NotificationItem) -> Result<(), SignatureProblem> {
    let given = item.signature().ok_or(SignatureProblem::Missing)?;
    let expected = sign(key, &item.data_to_sign());
    if expected.is_empty() {
        return Err(SignatureProblem::Wrong);
    }
    if bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes())) {
        Ok(())
    } else {
        Err(SignatureProblem::Wrong)
    }
}

// ---------------------------------------------------------------------------
// Checkout API
// ---------------------------------------------------------------------------

/// `POST /sessions` request (the fields carfin sends).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionRequest {
    pub merchant_account: String,
    pub amount: SessionAmount,
    pub reference: String,
    pub return_url: String,
    pub shopper_locale: String,
    pub country_code: String,
    /// `hosted`: Adyen's hosted payment page; the answer carries its `url`.
    pub mode: String,
    /// ISO 8601 expiry.
    pub expires_at: String,
    /// What the shopper sees on the page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shopper_statement: String,
}

/// An amount in a request: value in minor units.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionAmount {
    pub currency: String,
    pub value: i64,
}

/// `POST /sessions` answer (the fields carfin reads).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    pub id: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub expires_at: String,
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub session_data: String,
}

/// `GET /sessions/{id}?sessionResult=…` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionStatus {
    pub id: String,
    /// `active`, `completed`, `paymentPending`, `refused`, `canceled`, `expired`.
    pub status: String,
}

/// Why a call to the provider failed (PAY-04). The customer sees a
/// localized message for each; none of them ever leads to a second charge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time.
    #[error("the payment provider did not answer in time")]
    Timeout,
    /// Could not connect, or a 5xx / 429.
    #[error("the payment provider is unavailable ({0})")]
    Unavailable(String),
    /// An answer carfin cannot read.
    #[error("the payment provider's answer could not be read")]
    Malformed,
    /// The provider refused the request (4xx): configuration or data.
    #[error("the payment provider refused the request ({0})")]
    Refused(u16),
}

impl ProviderError {
    /// A stable code (stored on the payment, shown as a message key).
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Timeout => "timeout",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Malformed => "malformed",
            ProviderError::Refused(_) => "refused",
        }
    }
}

/// The Checkout API client.
#[derive(Clone)]
pub struct Checkout {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

impl std::fmt::Debug for Checkout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkout")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Checkout {
    /// A client for `base` (e.g. `https://checkout-test.adyen.com/v71`).
    pub fn new(base: &str, api_key: &str, timeout: Duration) -> Result<Checkout, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("carfin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        Ok(Checkout {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
        })
    }

    /// Creates a checkout session. `idempotency_key` makes a retry return the
    /// same session instead of a second one.
    pub async fn create_session(
        &self,
        request: &SessionRequest,
        idempotency_key: &str,
    ) -> Result<SessionResponse, ProviderError> {
        let response = self
            .http
            .post(format!("{}/sessions", self.base))
            .header("X-API-Key", &self.api_key)
            .header("Idempotency-Key", idempotency_key)
            .json(request)
            .send()
            .await
            .map_err(transport)?;
        let session: SessionResponse = read(response).await?;
        if session.id.trim().is_empty() || !session.url.starts_with("http") {
            return Err(ProviderError::Malformed);
        }
        Ok(session)
    }

    /// A session's result, asked server to server (the redirect's own
    /// `sessionResult` is never trusted on its own).
    pub async fn session_status(
        &self,
        session_id: &str,
        session_result: &str,
    ) -> Result<SessionStatus, ProviderError> {
        let response = self
            .http
            .get(format!("{}/sessions/{}", self.base, encode(session_id)))
            .query(&[("sessionResult", session_result)])
            .header("X-API-Key", &self.api_key)
            .send()
            .await
            .map_err(transport)?;
        read(response).await
    }
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn transport(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unavailable(if error.is_connect() {
            "connection failed".into()
        } else {
            "transport error".into()
        })
    }
}

async fn read<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, ProviderError> {
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(ProviderError::Unavailable(format!(
            "HTTP {}",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(ProviderError::Refused(status.as_u16()));
    }
    let bytes = response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            ProviderError::Timeout
        } else {
            ProviderError::Malformed
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|_| ProviderError::Malformed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn item(json: &str) -> NotificationItem {
        serde_json::from_str(json).unwrap()
    }

    fn key(hex_key: &str) -> Vec<u8> {
        hex::decode(hex_key).unwrap()
    }

    // PAY-02: the vectors published in Adyen's own libraries' test suites.
    #[test]
    fn adyen_node_library_vector() {
        let i = item(
            r#"{"pspReference":"pspReference","originalReference":"originalReference",
            "merchantAccountCode":"merchantAccount","merchantReference":"reference",
            "amount":{"currency":"EUR","value":1000},"eventCode":"CAPTURE",
            "eventDate":"1970-01-01T00:00:00.000Z","paymentMethod":"VISA","reason":"reason",
            "success":"true","additionalData":{"hmacSignature":"xhpHvYq2u2Np0rstbZ6QjLGu7JWhvf7Iwaa6EviJSX0="}}"#,
        );
        assert_eq!(
            i.data_to_sign(),
            "pspReference:originalReference:merchantAccount:reference:1000:EUR:CAPTURE:true"
        );
        let k = key("DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00");
        assert_eq!(
            sign(&k, &i.data_to_sign()),
            "xhpHvYq2u2Np0rstbZ6QjLGu7JWhvf7Iwaa6EviJSX0="
        );
        assert_eq!(verify(&k, &i), Ok(()));
    }

    // PAY-02: PHP and Ruby libraries' vector (no originalReference: an empty field).
    #[test]
    fn adyen_php_and_ruby_library_vectors() {
        let mut i = item(
            r#"{"pspReference":"7914073381342284","merchantAccountCode":"TestMerchant",
            "merchantReference":"TestPayment-1407325143704","amount":{"value":1130,"currency":"EUR"},
            "eventCode":"AUTHORISATION","success":"true","paymentMethod":"visa"}"#,
        );
        assert_eq!(
            i.data_to_sign(),
            "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
        );
        let php = key("DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00");
        assert_eq!(
            sign(&php, &i.data_to_sign()),
            "Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I="
        );
        let ruby = key("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056");
        assert_eq!(
            sign(&ruby, &i.data_to_sign()),
            "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="
        );
        i.sign(&ruby);
        assert_eq!(verify(&ruby, &i), Ok(()));
        assert_eq!(verify(&php, &i), Err(SignatureProblem::Wrong));
    }

    // PAY-02: the Java library's vector with `:` and `\` in the merchant
    // reference, signed without escaping; and its string-valued amount.
    #[test]
    fn adyen_java_library_vectors_with_colon_and_backslash() {
        let i = item(
            r#"{"additionalData":{"hmacSignature":"CZErGCNQaSsxbaQfZaJlakqo7KPP+mIa8a+wx3yNs9A=","cardSummary":"1111"},
            "amount":{"currency":"EUR","value":1000},"eventCode":"AUTHORISATION",
            "eventDate":"2023-01-10T13:42:29+01:00","merchantAccountCode":"AntoniStroinski",
            "merchantReference":"\\:/\\/slashes are fun","operations":["CANCEL","CAPTURE","REFUND"],
            "paymentMethod":"visa","pspReference":"ZVWN7D3WSMK2WN82","reason":"052095:1111:03/2030","success":"true"}"#,
        );
        assert_eq!(i.merchant_reference, r"\:/\/slashes are fun");
        assert_eq!(
            i.data_to_sign(),
            r"ZVWN7D3WSMK2WN82::AntoniStroinski:\:/\/slashes are fun:1000:EUR:AUTHORISATION:true"
        );
        let k = key("74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174");
        assert_eq!(verify(&k, &i), Ok(()));

        let report = item(
            r#"{"additionalData":{"hmacSignature":"NuEkADFmlCC6VgX+wcoPAegIWxVPNBPCuKlM4Hzo5qc="},
            "amount":{"currency":"EUR","value":"0"},"eventCode":"REPORT_AVAILABLE",
            "eventDate":"2019-11-20T14:35:36+01:00","merchantAccountCode":"Magento2Rik",
            "merchantReference":"testMerchantRef1","pspReference":"test_REPORT_AVAILABLE",
            "reason":"will contain the url to the report","success":"true"}"#,
        );
        let k = key("9064450A8892A093D9E97EFCC9639DE31B74F3A7803135555A3C96F5A57915D6");
        assert_eq!(verify(&k, &report), Ok(()));
        assert_eq!(
            sign(&k, "TestPayload"),
            "YA9/UDjldIO4Gq68X4ATYYoEaPYH4f4k2uzBBzEF1PA="
        );
        let mut no_amount = report.clone();
        no_amount.amount = None;
        assert_eq!(
            no_amount.data_to_sign(),
            "test_REPORT_AVAILABLE::Magento2Rik:testMerchantRef1:::REPORT_AVAILABLE:true"
        );
    }

    // PAY-02: missing, empty and tampered signatures are refused.
    #[test]
    fn missing_empty_and_tampered_signatures_are_refused() {
        let k = key("DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00");
        let mut i = item(
            r#"{"pspReference":"A","merchantAccountCode":"M","merchantReference":"1",
            "amount":{"value":100,"currency":"EUR"},"eventCode":"AUTHORISATION","success":"true"}"#,
        );
        assert_eq!(verify(&k, &i), Err(SignatureProblem::Missing));
        i.additional_data = Some(serde_json::from_str(r#"{"hmacSignature":""}"#).unwrap());
        assert_eq!(verify(&k, &i), Err(SignatureProblem::Missing));
        i.sign(&k);
        assert_eq!(verify(&k, &i), Ok(()));
        let mut tampered = i.clone();
        tampered.amount = Some(Amount {
            currency: "EUR".into(),
            value: Some(1),
        });
        assert_eq!(verify(&k, &tampered), Err(SignatureProblem::Wrong));
        let mut flipped = i.clone();
        flipped.success = "false".into();
        assert_eq!(verify(&k, &flipped), Err(SignatureProblem::Wrong));
    }
}
