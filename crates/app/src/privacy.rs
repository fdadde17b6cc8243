//! The processing register (GDPR Art. 30, PRV-01) and the classification of
//! every stored column (PRV-02), as data: `privacy/register.toml`, compiled
//! into the binary.
//!
//! [`register()`] parses and validates it once; every reference (data
//! category, data subject, purpose, legal basis, recipient, retention rule,
//! source, DPIA, activity) must name a declared id, or loading fails with
//! the line and the id. The same data drives the Art. 30 export
//! ([`Register::art30`], `carfin privacy register`), the schema
//! classification test ([`unclassified`], [`stale`], [`sealed_not_binary`])
//! and, later, the privacy notice, retention and staff permissions.

use carfin_domain::Language;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::OnceLock;
use toml::Spanned;

/// Where the register lives in the repository (for messages).
pub const REGISTER_PATH: &str = "privacy/register.toml";

/// The register as shipped.
pub const REGISTER_TOML: &str = include_str!("../../../privacy/register.toml");

/// The member states of the European Economic Area (EU, Iceland,
/// Liechtenstein, Norway): a recipient elsewhere is a transfer (Chapter V).
pub const EEA: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The register, parsed and validated on first use.
pub fn register() -> Result<&'static Register, RegisterError> {
    static REGISTER: OnceLock<Result<Register, RegisterError>> = OnceLock::new();
    match REGISTER.get_or_init(|| Register::parse(REGISTER_TOML)) {
        Ok(register) => Ok(register),
        Err(error) => Err(error.clone()),
    }
}

// ---------------------------------------------------------------------------
// The data model of the file
// ---------------------------------------------------------------------------

/// A text in the three product languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub nl: String,
    pub fr: String,
    pub en: String,
}

impl Text {
    /// The text in `language`.
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Nl => &self.nl,
            Language::Fr => &self.fr,
            Language::En => &self.en,
        }
    }
}

/// What kind of personal data a category is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Directly identifies a person (name, birth date, document numbers).
    Identifying,
    /// Reaches a person (address, e-mail, phone).
    Contact,
    /// Amounts, invoices, payments, arrears.
    Financial,
    /// A person's accounts (IBAN).
    FinancialAccount,
    /// About the vehicle.
    Vehicle,
    /// Preferences, usage, consents.
    Behavioural,
    /// Contract terms, states and references.
    Contractual,
    /// Ids, times, hashes, keys, logs.
    Technical,
    /// Special categories (Art. 9) and criminal-offence data (Art. 10).
    Special,
    /// Free text, which may hold anything.
    FreeText,
}

impl Kind {
    /// Whether data of this kind must be sealed at rest (PRV-03).
    pub fn must_be_sealed(self) -> bool {
        matches!(
            self,
            Kind::Identifying
                | Kind::Contact
                | Kind::FinancialAccount
                | Kind::FreeText
                | Kind::Special
        )
    }

    /// The identifier used in the register file.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Identifying => "identifying",
            Kind::Contact => "contact",
            Kind::Financial => "financial",
            Kind::FinancialAccount => "financial_account",
            Kind::Vehicle => "vehicle",
            Kind::Behavioural => "behavioural",
            Kind::Contractual => "contractual",
            Kind::Technical => "technical",
            Kind::Special => "special",
            Kind::FreeText => "free_text",
        }
    }
}

/// A category of personal data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCategory {
    pub id: Spanned<String>,
    pub kind: Kind,
    /// Whether values of this category are sealed at rest.
    pub sealed: bool,
    pub name: Text,
    #[serde(default)]
    pub description: Option<Text>,
}

/// A category of data subjects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSubject {
    pub id: Spanned<String>,
    pub name: Text,
}

/// A legal basis of Art. 6(1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub id: Spanned<String>,
    pub article: String,
    pub name: Text,
}

/// A purpose of processing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub id: Spanned<String>,
    pub name: Text,
}

/// The role of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientType {
    /// Processes on the controller's behalf (Art. 28).
    Processor,
    /// An independent controller.
    Controller,
    /// A public authority.
    PublicAuthority,
}

impl RecipientType {
    fn name(self, language: Language) -> &'static str {
        match (self, language) {
            (RecipientType::Processor, Language::Nl) => "verwerker",
            (RecipientType::Processor, Language::Fr) => "sous-traitant",
            (RecipientType::Processor, Language::En) => "processor",
            (RecipientType::Controller, Language::Nl) => "verwerkingsverantwoordelijke",
            (RecipientType::Controller, Language::Fr) => "responsable du traitement",
            (RecipientType::Controller, Language::En) => "controller",
            (RecipientType::PublicAuthority, Language::Nl) => "overheidsinstantie",
            (RecipientType::PublicAuthority, Language::Fr) => "autorité publique",
            (RecipientType::PublicAuthority, Language::En) => "public authority",
        }
    }
}

/// A recipient of personal data (Art. 4(9)), processors included.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub id: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: RecipientType,
    /// ISO 3166-1 alpha-2 country where it processes the data.
    pub country: Spanned<String>,
    pub name: Text,
}

/// A retention rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    pub id: Spanned<String>,
    /// The event the period runs from (e.g. `contract_file_closed`).
    pub trigger: String,
    #[serde(default)]
    pub years: Option<u32>,
    #[serde(default)]
    pub months: Option<u32>,
    pub text: Text,
}

/// A source of personal data (Art. 14(2)(f)).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: Spanned<String>,
    pub name: Text,
}

/// A data-protection impact assessment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpia {
    pub id: Spanned<String>,
    pub title: Text,
}

/// A legal entity (controller) with its processing activities.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub slug: Spanned<String>,
    pub controller: String,
    pub country: String,
    pub address: String,
    /// Contact details of the data-protection officer.
    pub dpo: String,
    pub supervisory_authority: String,
    #[serde(rename = "activity", default)]
    pub activities: Vec<Activity>,
}

/// A processing activity of an entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub id: Spanned<String>,
    pub name: Text,
    pub purposes: Vec<Spanned<String>>,
    pub legal_basis: Vec<Spanned<String>>,
    pub data_categories: Vec<Spanned<String>>,
    pub data_subjects: Vec<Spanned<String>>,
    /// Recipients other than processors (controllers, public authorities).
    #[serde(default)]
    pub recipients: Vec<Spanned<String>>,
    #[serde(default)]
    pub processors: Vec<Spanned<String>>,
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    pub retention: Spanned<String>,
    #[serde(default)]
    pub dpia: Option<Spanned<String>>,
    pub sources: Vec<Spanned<String>>,
}

/// A transfer outside the EEA (Chapter V).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub recipient: Spanned<String>,
    pub country: Spanned<String>,
    pub safeguard: Safeguard,
    #[serde(default)]
    pub note: Option<String>,
}

/// The safeguard of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safeguard {
    /// Art. 46(2)(c), the Commission's clauses of 2021/914.
    StandardContractualClauses,
    /// Art. 45.
    AdequacyDecision,
    /// Art. 47.
    BindingCorporateRules,
}

impl Safeguard {
    /// The identifier used in the register file.
    pub fn as_str(self) -> &'static str {
        match self {
            Safeguard::StandardContractualClauses => "standard_contractual_clauses",
            Safeguard::AdequacyDecision => "adequacy_decision",
            Safeguard::BindingCorporateRules => "binding_corporate_rules",
        }
    }

    /// Its name in `language`.
    pub fn name(self, language: Language) -> &'static str {
        match (self, language) {
            (Safeguard::StandardContractualClauses, Language::Nl) => {
                "Modelcontractbepalingen (art. 46 AVG)"
            }
            (Safeguard::StandardContractualClauses, Language::Fr) => {
                "Clauses contractuelles types (art. 46 RGPD)"
            }
            (Safeguard::StandardContractualClauses, Language::En) => {
                "Standard contractual clauses (GDPR Art. 46)"
            }
            (Safeguard::AdequacyDecision, Language::Nl) => "Adequaatheidsbesluit (art. 45 AVG)",
            (Safeguard::AdequacyDecision, Language::Fr) => "Décision d'adéquation (art. 45 RGPD)",
            (Safeguard::AdequacyDecision, Language::En) => "Adequacy decision (GDPR Art. 45)",
            (Safeguard::BindingCorporateRules, Language::Nl) => {
                "Bindende bedrijfsvoorschriften (art. 47 AVG)"
            }
            (Safeguard::BindingCorporateRules, Language::Fr) => {
                "Règles d'entreprise contraignantes (art. 47 RGPD)"
            }
            (Safeguard::BindingCorporateRules, Language::En) => {
                "Binding corporate rules (GDPR Art. 47)"
            }
        }
    }
}

/// The classification of one table's columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The reason for every `not_personal` column without its own.
    #[serde(default)]
    pub reason: Option<String>,
    pub columns: BTreeMap<String, Spanned<Column>>,
}

/// The classification of one column: personal data of a category, or not
/// personal data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    #[serde(default)]
    pub not_personal: Option<Spanned<bool>>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub category: Option<Spanned<String>>,
    #[serde(default)]
    pub sealed: Option<bool>,
    /// The column of the same table holding this one's blind index.
    #[serde(default)]
    pub blind_index: Option<Spanned<String>>,
    #[serde(default)]
    pub activities: Vec<Spanned<String>>,
}

impl Column {
    /// Whether the register says this column holds personal data.
    pub fn is_personal(&self) -> bool {
        self.category.is_some()
    }

    /// Whether the register says this column is sealed at rest.
    pub fn is_sealed(&self) -> bool {
        self.sealed == Some(true)
    }
}

/// The whole register.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub version: u32,
    pub updated: String,
    #[serde(rename = "data_category")]
    pub data_categories: Vec<DataCategory>,
    #[serde(rename = "data_subject")]
    pub data_subjects: Vec<DataSubject>,
    #[serde(rename = "legal_basis")]
    pub legal_bases: Vec<LegalBasis>,
    #[serde(rename = "purpose")]
    pub purposes: Vec<Purpose>,
    #[serde(rename = "recipient")]
    pub recipients: Vec<Recipient>,
    #[serde(rename = "retention_rule")]
    pub retention_rules: Vec<RetentionRule>,
    #[serde(rename = "source")]
    pub sources: Vec<Source>,
    #[serde(rename = "dpia", default)]
    pub dpias: Vec<Dpia>,
    #[serde(rename = "entity")]
    pub entities: Vec<Entity>,
    /// Tables of the main database.
    #[serde(rename = "table", default)]
    pub tables: BTreeMap<String, Table>,
    /// Tables of the key store (its own SQLite file or PostgreSQL schema).
    #[serde(rename = "keystore_table", default)]
    pub keystore_tables: BTreeMap<String, Table>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// One problem in the register, at a line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number in the register file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REGISTER_PATH}:{}: {}", self.line, self.message)
    }
}

/// The register does not parse or does not validate; every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the processing register is invalid ({} problem",
            self.problems.len()
        )?;
        if self.problems.len() != 1 {
            write!(f, "s")?;
        }
        write!(f, ")")?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RegisterError {}

/// The 1-based line of a byte offset.
fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------
// Parsing and validation
// ---------------------------------------------------------------------------

impl Register {
    /// Parses and validates a register.
    pub fn parse(src: &str) -> Result<Register, RegisterError> {
        let register: Register = toml::from_str(src).map_err(|error| {
            let line = error
                .span()
                .map(|span| line_of(src, span.start))
                .unwrap_or(1);
            RegisterError {
                problems: vec![Problem {
                    line,
                    message: error.message().trim().to_string(),
                }],
            }
        })?;
        let problems = register.validate(src);
        if problems.is_empty() {
            Ok(register)
        } else {
            Err(RegisterError { problems })
        }
    }

    /// Every problem of a parsed register.
    fn validate(&self, src: &str) -> Vec<Problem> {
        let mut v = Validator {
            src,
            problems: Vec::new(),
        };

        let categories = v.declare(
            "data category",
            self.data_categories.iter().map(|c| (&c.id, c)),
        );
        let subjects = v.declare(
            "data subject",
            self.data_subjects.iter().map(|s| (&s.id, s)),
        );
        let bases = v.declare("legal basis", self.legal_bases.iter().map(|b| (&b.id, b)));
        let purposes = v.declare("purpose", self.purposes.iter().map(|p| (&p.id, p)));
        let recipients = v.declare("recipient", self.recipients.iter().map(|r| (&r.id, r)));
        let retention = v.declare(
            "retention rule",
            self.retention_rules.iter().map(|r| (&r.id, r)),
        );
        let sources = v.declare("source", self.sources.iter().map(|s| (&s.id, s)));
        let dpias = v.declare("DPIA", self.dpias.iter().map(|d| (&d.id, d)));

        for category in &self.data_categories {
            if category.kind.must_be_sealed() && !category.sealed {
                v.problem(
                    &category.id,
                    format!(
                        "data category `{}` is of kind {} and must be `sealed = true`",
                        category.id.get_ref(),
                        category.kind.as_str()
                    ),
                );
            }
        }
        for recipient in &self.recipients {
            v.country(&recipient.country);
        }
        for rule in &self.retention_rules {
            if rule.years.is_none() && rule.months.is_none() {
                v.problem(
                    &rule.id,
                    format!(
                        "retention rule `{}` needs `years` or `months`",
                        rule.id.get_ref()
                    ),
                );
            }
        }

        let mut slugs = BTreeSet::new();
        let mut activity_ids = BTreeSet::new();
        for entity in &self.entities {
            let slug = entity.slug.get_ref();
            if !slugs.insert(slug.as_str()) {
                v.problem(&entity.slug, format!("entity `{slug}` is declared twice"));
            }
            let mut own = BTreeSet::new();
            for activity in &entity.activities {
                let id = activity.id.get_ref();
                activity_ids.insert(id.as_str());
                if !own.insert(id.as_str()) {
                    v.problem(
                        &activity.id,
                        format!("activity `{id}` is declared twice in `{slug}`"),
                    );
                }
                let at = format!("in activity `{id}` of `{slug}`");
                v.refs(&activity.purposes, &purposes, "purpose", &at);
                v.refs(&activity.legal_basis, &bases, "legal basis", &at);
                v.refs(&activity.data_categories, &categories, "data category", &at);
                v.refs(&activity.data_subjects, &subjects, "data subject", &at);
                v.refs(&activity.recipients, &recipients, "recipient", &at);
                v.refs(&activity.processors, &recipients, "recipient", &at);
                v.refs(&activity.sources, &sources, "source", &at);
                v.reference(&activity.retention, &retention, "retention rule", &at);
                if let Some(dpia) = &activity.dpia {
                    v.reference(dpia, &dpias, "DPIA", &at);
                }
                for (list, what) in [
                    (&activity.purposes, "purpose"),
                    (&activity.legal_basis, "legal basis"),
                    (&activity.data_categories, "data category"),
                    (&activity.data_subjects, "data subject"),
                ] {
                    if list.is_empty() {
                        v.problem(
                            &activity.id,
                            format!("activity `{id}` of `{slug}` names no {what}"),
                        );
                    }
                }
                for r in &activity.recipients {
                    if let Some(recipient) = recipients.get(r.get_ref().as_str()) {
                        if recipient.kind == RecipientType::Processor {
                            v.problem(
                                r,
                                format!("recipient `{}` is a processor: list it under `processors` {at}", r.get_ref()),
                            );
                        }
                    }
                }
                for p in &activity.processors {
                    if let Some(recipient) = recipients.get(p.get_ref().as_str()) {
                        if recipient.kind != RecipientType::Processor {
                            v.problem(
                                p,
                                format!("recipient `{}` is not a processor: list it under `recipients` {at}", p.get_ref()),
                            );
                        }
                    }
                }
                let listed: BTreeSet<&str> = activity
                    .recipients
                    .iter()
                    .chain(&activity.processors)
                    .map(|r| r.get_ref().as_str())
                    .collect();
                for transfer in &activity.transfers {
                    let name = transfer.recipient.get_ref();
                    if v.reference(&transfer.recipient, &recipients, "recipient", &at)
                        && !listed.contains(name.as_str())
                    {
                        v.problem(
                            &transfer.recipient,
                            format!("transfer to `{name}` {at}, which is not among its recipients or processors"),
                        );
                    }
                    if v.country(&transfer.country) && is_eea(transfer.country.get_ref()) {
                        v.problem(
                            &transfer.country,
                            format!(
                                "transfer to `{}` {at}: {} is in the EEA, which is no transfer",
                                name,
                                transfer.country.get_ref()
                            ),
                        );
                    }
                }
                // Every recipient outside the EEA needs its transfer declared.
                for r in activity.recipients.iter().chain(&activity.processors) {
                    let Some(recipient) = recipients.get(r.get_ref().as_str()) else {
                        continue;
                    };
                    let country = recipient.country.get_ref();
                    if !is_eea(country)
                        && !activity
                            .transfers
                            .iter()
                            .any(|t| t.recipient.get_ref() == r.get_ref())
                    {
                        v.problem(
                            r,
                            format!(
                                "recipient `{}` is in {country}, outside the EEA, but {at} declares no transfer to it",
                                r.get_ref()
                            ),
                        );
                    }
                }
            }
        }

        for (store, tables) in [
            (Store::Main, &self.tables),
            (Store::KeyStore, &self.keystore_tables),
        ] {
            for (table_name, table) in tables {
                for (column_name, column) in &table.columns {
                    let at = qualified(store, table_name, column_name);
                    v.column(&at, table, column, &categories, &activity_ids);
                }
            }
        }
        v.problems.sort_by_key(|p| p.line);
        v.problems
    }
}

fn is_eea(country: &str) -> bool {
    EEA.contains(&country)
}

struct Validator<'a> {
    src: &'a str,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn problem<T>(&mut self, at: &Spanned<T>, message: String) {
        self.problems.push(Problem {
            line: line_of(self.src, at.span().start),
            message,
        });
    }

    /// Indexes declared ids, reporting duplicates.
    fn declare<'r, T>(
        &mut self,
        what: &str,
        items: impl Iterator<Item = (&'r Spanned<String>, &'r T)>,
    ) -> HashMap<&'r str, &'r T> {
        let mut map = HashMap::new();
        for (id, item) in items {
            if id.get_ref().trim().is_empty() {
                self.problem(id, format!("a {what} has an empty id"));
            } else if map.insert(id.get_ref().as_str(), item).is_some() {
                self.problem(id, format!("{what} `{}` is declared twice", id.get_ref()));
            }
        }
        map
    }

    /// Checks one reference; true if it resolves.
    fn reference<T>(
        &mut self,
        id: &Spanned<String>,
        known: &HashMap<&str, T>,
        what: &str,
        at: &str,
    ) -> bool {
        if known.contains_key(id.get_ref().as_str()) {
            true
        } else {
            self.problem(id, format!("unknown {what} `{}` {at}", id.get_ref()));
            false
        }
    }

    fn refs<T>(&mut self, ids: &[Spanned<String>], known: &HashMap<&str, T>, what: &str, at: &str) {
        let mut seen = BTreeSet::new();
        for id in ids {
            if self.reference(id, known, what, at) && !seen.insert(id.get_ref().as_str()) {
                self.problem(
                    id,
                    format!("{what} `{}` is listed twice {at}", id.get_ref()),
                );
            }
        }
    }

    /// An ISO 3166-1 alpha-2 code; true if it looks like one.
    fn country(&mut self, country: &Spanned<String>) -> bool {
        let code = country.get_ref();
        let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !ok {
            self.problem(
                country,
                format!("`{code}` is not an ISO 3166-1 alpha-2 country code"),
            );
        }
        ok
    }

    fn column(
        &mut self,
        at: &str,
        table: &Table,
        column: &Spanned<Column>,
        categories: &HashMap<&str, &DataCategory>,
        activities: &BTreeSet<&str>,
    ) {
        let c = column.get_ref();
        let not_personal = c.not_personal.as_ref().map(|n| *n.get_ref());
        match (not_personal, &c.category) {
            (Some(true), None) => {
                if c.sealed.is_some() || c.blind_index.is_some() || !c.activities.is_empty() {
                    self.problem(
                        column,
                        format!("column `{at}` is not personal: it takes no sealed, blind_index or activities"),
                    );
                }
                let reason = c
                    .reason
                    .as_deref()
                    .or(table.reason.as_deref())
                    .unwrap_or("");
                if reason.trim().is_empty() {
                    self.problem(
                        column,
                        format!("column `{at}` is not personal but gives no reason"),
                    );
                }
            }
            (Some(false), _) => self.problem(
                column,
                format!("column `{at}`: write `not_personal = true` or give its `category`"),
            ),
            (Some(true), Some(category)) => self.problem(
                category,
                format!(
                    "column `{at}` is both `not_personal` and of category `{}`",
                    category.get_ref()
                ),
            ),
            (None, None) => self.problem(
                column,
                format!("column `{at}` is neither `not_personal = true` nor given a `category`"),
            ),
            (None, Some(category)) => {
                let id = category.get_ref();
                match categories.get(id.as_str()) {
                    None => self.problem(category, format!("unknown data category `{id}` in column `{at}`")),
                    Some(declared) => match c.sealed {
                        None => self.problem(column, format!("column `{at}` must say `sealed = true` or `false`")),
                        Some(false) if declared.sealed || declared.kind.must_be_sealed() => self.problem(
                            column,
                            format!(
                                "column `{at}` holds data category `{id}` ({}), which must be sealed: `sealed = true`",
                                declared.kind.as_str()
                            ),
                        ),
                        Some(_) => {}
                    },
                }
                if c.activities.is_empty() {
                    self.problem(column, format!("column `{at}` names no activity it serves"));
                }
                for activity in &c.activities {
                    if !activities.contains(activity.get_ref().as_str()) {
                        self.problem(
                            activity,
                            format!("unknown activity `{}` in column `{at}`", activity.get_ref()),
                        );
                    }
                }
                if let Some(index) = &c.blind_index {
                    if !table.columns.contains_key(index.get_ref()) {
                        self.problem(
                            index,
                            format!(
                                "blind index column `{}` of `{at}` is not a column of its table",
                                index.get_ref()
                            ),
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The live schema against the register (PRV-02)
// ---------------------------------------------------------------------------

/// Which database a table lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Store {
    /// The main database.
    Main,
    /// The subject-key store (`keys.db` or the `carfin_keys` schema).
    KeyStore,
}

/// A column as the database reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub store: Store,
    pub table: String,
    pub column: String,
    /// The declared type (`BLOB`, `bytea`, `TEXT`, `bigint`…).
    pub data_type: String,
}

impl LiveColumn {
    /// A column of `store`.
    pub fn new(store: Store, table: &str, column: &str, data_type: &str) -> LiveColumn {
        LiveColumn {
            store,
            table: table.to_string(),
            column: column.to_string(),
            data_type: data_type.to_string(),
        }
    }

    /// `table.column`, or `carfin_keys.table.column` in the key store.
    pub fn qualified(&self) -> String {
        qualified(self.store, &self.table, &self.column)
    }

    fn is_binary(&self) -> bool {
        matches!(
            self.data_type.trim().to_ascii_lowercase().as_str(),
            "blob" | "bytea"
        )
    }
}

fn qualified(store: Store, table: &str, column: &str) -> String {
    match store {
        Store::Main => format!("{table}.{column}"),
        Store::KeyStore => format!("carfin_keys.{table}.{column}"),
    }
}

impl Register {
    fn tables(&self, store: Store) -> &BTreeMap<String, Table> {
        match store {
            Store::Main => &self.tables,
            Store::KeyStore => &self.keystore_tables,
        }
    }

    /// The classification of a column, if the register has one.
    pub fn column(&self, store: Store, table: &str, column: &str) -> Option<&Column> {
        self.tables(store)
            .get(table)?
            .columns
            .get(column)
            .map(|c| c.get_ref())
    }

    /// Every classified column: (store, table, column, classification).
    pub fn columns(&self) -> impl Iterator<Item = (Store, &str, &str, &Column)> {
        [Store::Main, Store::KeyStore]
            .into_iter()
            .flat_map(move |store| {
                self.tables(store).iter().flat_map(move |(table, t)| {
                    t.columns.iter().map(move |(column, c)| {
                        (store, table.as_str(), column.as_str(), c.get_ref())
                    })
                })
            })
    }

    /// Live columns the register does not classify (qualified names).
    pub fn unclassified(&self, live: &[LiveColumn]) -> Vec<String> {
        let mut names: Vec<String> = live
            .iter()
            .filter(|c| self.column(c.store, &c.table, &c.column).is_none())
            .map(LiveColumn::qualified)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Classified columns that no longer exist, in the stores `live` covers.
    pub fn stale(&self, live: &[LiveColumn]) -> Vec<String> {
        let stores: BTreeSet<Store> = live.iter().map(|c| c.store).collect();
        let present: BTreeSet<(Store, &str, &str)> = live
            .iter()
            .map(|c| (c.store, c.table.as_str(), c.column.as_str()))
            .collect();
        self.columns()
            .filter(|(store, table, column, _)| {
                stores.contains(store) && !present.contains(&(*store, *table, *column))
            })
            .map(|(store, table, column, _)| qualified(store, table, column))
            .collect()
    }

    /// Columns the register marks `sealed = true` whose live type is not
    /// BLOB/BYTEA (so they cannot be holding sealed values).
    pub fn sealed_not_binary(&self, live: &[LiveColumn]) -> Vec<String> {
        live.iter()
            .filter(|c| {
                self.column(c.store, &c.table, &c.column)
                    .is_some_and(Column::is_sealed)
                    && !c.is_binary()
            })
            .map(|c| format!("{} ({})", c.qualified(), c.data_type))
            .collect()
    }
}

fn with_register(check: impl FnOnce(&Register) -> Vec<String>) -> Vec<String> {
    match register() {
        Ok(register) => check(register),
        Err(error) => vec![error.to_string()],
    }
}

/// Live columns the shipped register does not classify (PRV-02).
pub fn unclassified(live: &[LiveColumn]) -> Vec<String> {
    with_register(|r| r.unclassified(live))
}

/// Columns the shipped register classifies that `live` no longer has (PRV-02).
pub fn stale(live: &[LiveColumn]) -> Vec<String> {
    with_register(|r| r.stale(live))
}

/// Columns the shipped register marks sealed that are not BLOB/BYTEA (PRV-03).
pub fn sealed_not_binary(live: &[LiveColumn]) -> Vec<String> {
    with_register(|r| r.sealed_not_binary(live))
}

// ---------------------------------------------------------------------------
// The Art. 30 record (export)
// ---------------------------------------------------------------------------

/// An id with its name in the export's language.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// The Art. 30(1) record of one or more controllers.
#[derive(Debug, Clone, Serialize)]
pub struct Art30Record {
    pub register_version: u32,
    pub updated: String,
    pub language: &'static str,
    pub entities: Vec<EntityRecord>,
}

/// One controller and its activities.
#[derive(Debug, Clone, Serialize)]
pub struct EntityRecord {
    pub entity: ControllerRecord,
    pub activities: Vec<ActivityRecord>,
}

/// The controller's details (Art. 30(1)(a)).
#[derive(Debug, Clone, Serialize)]
pub struct ControllerRecord {
    pub slug: String,
    pub controller: String,
    pub country: String,
    pub address: String,
    pub dpo: String,
    pub supervisory_authority: String,
}

/// A legal basis with its article.
#[derive(Debug, Clone, Serialize)]
pub struct LegalBasisRecord {
    pub id: String,
    pub name: String,
    pub article: String,
}

/// A data category with its kind and whether it is sealed at rest.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryRecord {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub sealed: bool,
}

/// A recipient or processor.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientRecord {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RecipientType,
    pub country: String,
}

/// A transfer outside the EEA with its safeguard.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRecord {
    pub recipient: Named,
    pub country: String,
    pub safeguard: Named,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One processing activity, every reference resolved to its name.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityRecord {
    pub id: String,
    pub name: String,
    pub purposes: Vec<Named>,
    pub legal_basis: Vec<LegalBasisRecord>,
    pub data_categories: Vec<CategoryRecord>,
    pub data_subjects: Vec<Named>,
    pub recipients: Vec<RecipientRecord>,
    pub processors: Vec<RecipientRecord>,
    pub transfers: Vec<TransferRecord>,
    pub retention: Named,
    pub dpia: Option<Named>,
    pub sources: Vec<Named>,
}

/// The asked-for entity is not in the register.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity `{slug}`; the register has: {known}")]
pub struct UnknownEntity {
    pub slug: String,
    pub known: String,
}

impl Register {
    /// The slugs of the entities, in file order.
    pub fn entity_slugs(&self) -> Vec<&str> {
        self.entities
            .iter()
            .map(|e| e.slug.get_ref().as_str())
            .collect()
    }

    /// The Art. 30 record of every entity, or of one.
    pub fn art30(
        &self,
        entity: Option<&str>,
        language: Language,
    ) -> Result<Art30Record, UnknownEntity> {
        if let Some(slug) = entity {
            if !self.entities.iter().any(|e| e.slug.get_ref() == slug) {
                return Err(UnknownEntity {
                    slug: slug.to_string(),
                    known: self.entity_slugs().join(", "),
                });
            }
        }
        let entities = self
            .entities
            .iter()
            .filter(|e| entity.is_none_or(|slug| e.slug.get_ref() == slug))
            .map(|e| EntityRecord {
                entity: ControllerRecord {
                    slug: e.slug.get_ref().clone(),
                    controller: e.controller.clone(),
                    country: e.country.clone(),
                    address: e.address.clone(),
                    dpo: e.dpo.clone(),
                    supervisory_authority: e.supervisory_authority.clone(),
                },
                activities: e
                    .activities
                    .iter()
                    .map(|a| self.activity_record(a, language))
                    .collect(),
            })
            .collect();
        Ok(Art30Record {
            register_version: self.version,
            updated: self.updated.clone(),
            language: language.code(),
            entities,
        })
    }

    fn activity_record(&self, a: &Activity, language: Language) -> ActivityRecord {
        let named = |id: &Spanned<String>, name: Option<&Text>| Named {
            id: id.get_ref().clone(),
            name: name.map_or_else(|| id.get_ref().clone(), |t| t.get(language).to_string()),
        };
        let find =
            |list: &[Spanned<String>], lookup: &dyn Fn(&str) -> Option<Text>| -> Vec<Named> {
                list.iter()
                    .map(|id| named(id, lookup(id.get_ref()).as_ref()))
                    .collect()
            };
        let recipient = |id: &Spanned<String>| -> RecipientRecord {
            let found = self
                .recipients
                .iter()
                .find(|r| r.id.get_ref() == id.get_ref());
            RecipientRecord {
                id: id.get_ref().clone(),
                name: found.map_or_else(
                    || id.get_ref().clone(),
                    |r| r.name.get(language).to_string(),
                ),
                kind: found.map_or(RecipientType::Controller, |r| r.kind),
                country: found
                    .map(|r| r.country.get_ref().clone())
                    .unwrap_or_default(),
            }
        };
        ActivityRecord {
            id: a.id.get_ref().clone(),
            name: a.name.get(language).to_string(),
            purposes: find(&a.purposes, &|id: &str| {
                self.purposes
                    .iter()
                    .find(|p| p.id.get_ref() == id)
                    .map(|p| p.name.clone())
            }),
            legal_basis: a
                .legal_basis
                .iter()
                .map(|id| {
                    let found = self
                        .legal_bases
                        .iter()
                        .find(|b| b.id.get_ref() == id.get_ref());
                    LegalBasisRecord {
                        id: id.get_ref().clone(),
                        name: found.map_or_else(
                            || id.get_ref().clone(),
                            |b| b.name.get(language).to_string(),
                        ),
                        article: found.map(|b| b.article.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
            data_categories: a
                .data_categories
                .iter()
                .filter_map(|id| {
                    self.data_categories
                        .iter()
                        .find(|c| c.id.get_ref() == id.get_ref())
                })
                .map(|c| CategoryRecord {
                    id: c.id.get_ref().clone(),
                    name: c.name.get(language).to_string(),
                    kind: c.kind,
                    sealed: c.sealed,
                })
                .collect(),
            data_subjects: find(&a.data_subjects, &|id: &str| {
                self.data_subjects
                    .iter()
                    .find(|s| s.id.get_ref() == id)
                    .map(|s| s.name.clone())
            }),
            recipients: a.recipients.iter().map(recipient).collect(),
            processors: a.processors.iter().map(recipient).collect(),
            transfers: a
                .transfers
                .iter()
                .map(|t| TransferRecord {
                    recipient: Named {
                        id: t.recipient.get_ref().clone(),
                        name: recipient(&t.recipient).name,
                    },
                    country: t.country.get_ref().clone(),
                    safeguard: Named {
                        id: t.safeguard.as_str().to_string(),
                        name: t.safeguard.name(language).to_string(),
                    },
                    note: t.note.clone(),
                })
                .collect(),
            retention: named(
                &a.retention,
                self.retention_rules
                    .iter()
                    .find(|r| r.id.get_ref() == a.retention.get_ref())
                    .map(|r| &r.text),
            ),
            dpia: a.dpia.as_ref().map(|id| {
                named(
                    id,
                    self.dpias
                        .iter()
                        .find(|d| d.id.get_ref() == id.get_ref())
                        .map(|d| &d.title),
                )
            }),
            sources: find(&a.sources, &|id: &str| {
                self.sources
                    .iter()
                    .find(|s| s.id.get_ref() == id)
                    .map(|s| s.name.clone())
            }),
        }
    }
}

impl Art30Record {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The CSV columns, in order.
    pub const CSV_HEADER: [&'static str; 11] = [
        "entity",
        "activity",
        "purposes",
        "legal_basis",
        "data_categories",
        "data_subjects",
        "recipients",
        "processors",
        "transfers",
        "retention",
        "dpia",
    ];

    /// CSV (RFC 4180, CRLF line ends): one row per entity × activity; lists
    /// within a cell are separated by "; ". Cells that a spreadsheet would
    /// take for a formula are neutralised.
    pub fn to_csv(&self) -> String {
        let language = self.language.parse::<Language>().unwrap_or(Language::En);
        let mut out = String::new();
        push_row(&mut out, Self::CSV_HEADER.iter().map(|s| s.to_string()));
        for entity in &self.entities {
            for a in &entity.activities {
                let names = |list: &[Named]| {
                    list.iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let recipients = |list: &[RecipientRecord]| {
                    list.iter()
                        .map(|r| format!("{} [{}, {}]", r.name, r.kind.name(language), r.country))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let row = [
                    entity.entity.slug.clone(),
                    a.name.clone(),
                    names(&a.purposes),
                    a.legal_basis
                        .iter()
                        .map(|b| format!("{} ({})", b.name, b.article))
                        .collect::<Vec<_>>()
                        .join("; "),
                    a.data_categories
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    names(&a.data_subjects),
                    recipients(&a.recipients),
                    recipients(&a.processors),
                    a.transfers
                        .iter()
                        .map(|t| {
                            format!("{} [{}: {}]", t.recipient.name, t.country, t.safeguard.name)
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    a.retention.name.clone(),
                    a.dpia.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
                ];
                push_row(&mut out, row.into_iter());
            }
        }
        out
    }
}

fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells.map(|c| csv_cell(&c)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One CSV cell: a leading `=`, `+`, `-`, `@`, tab or carriage return gets a
/// `'` in front (no formula injection in spreadsheets), then RFC 4180
/// quoting where needed.
pub fn csv_cell(value: &str) -> String {
    let mut cell = String::with_capacity(value.len() + 3);
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.push('\'');
    }
    cell.push_str(value);
    if cell.contains([',', ';', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eleven activities every entity declares (PRV-01).
    const ACTIVITIES: [&str; 11] = [
        "contracts",
        "invoicing",
        "portal",
        "customer_service",
        "collections",
        "statutory",
        "security",
        "reporting",
        "marketing",
        "surveys",
        "web_statistics",
    ];

    fn line_containing(src: &str, needle: &str) -> usize {
        src.lines()
            .position(|l| l.contains(needle))
            .expect("needle in source")
            + 1
    }

    // PRV-01: the shipped register parses and validates.
    #[test]
    fn shipped_register_validates() {
        let register = match register() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            register.entity_slugs(),
            ["carfin-nederland", "carfin-belgique"]
        );
        for entity in &register.entities {
            let ids: Vec<&str> = entity
                .activities
                .iter()
                .map(|a| a.id.get_ref().as_str())
                .collect();
            for wanted in ACTIVITIES {
                assert!(
                    ids.contains(&wanted),
                    "{} lacks {wanted}",
                    entity.slug.get_ref()
                );
            }
        }
    }

    // PRV-01: the legal bases the brief names, per activity.
    #[test]
    fn activities_have_the_expected_legal_bases() {
        let register = register().unwrap();
        for entity in &register.entities {
            let basis = |id: &str| -> Vec<String> {
                entity
                    .activities
                    .iter()
                    .find(|a| a.id.get_ref() == id)
                    .map(|a| a.legal_basis.iter().map(|b| b.get_ref().clone()).collect())
                    .unwrap_or_default()
            };
            assert_eq!(basis("security"), ["legitimate_interest"]);
            assert_eq!(basis("reporting"), ["legitimate_interest"]);
            for consent in ["marketing", "surveys", "web_statistics"] {
                assert_eq!(basis(consent), ["consent"], "{consent}");
            }
            assert_eq!(basis("statutory"), ["legal_obligation"]);
            assert!(basis("contracts").contains(&"contract".to_string()));
        }
    }

    // PRV-02, PRV-03: every column of an identifying, contact, financial
    // account, free text or special category is sealed.
    #[test]
    fn sensitive_columns_are_sealed() {
        let register = register().unwrap();
        let kinds: HashMap<&str, &DataCategory> = register
            .data_categories
            .iter()
            .map(|c| (c.id.get_ref().as_str(), c))
            .collect();
        let mut checked = 0;
        for (_, table, column, c) in register.columns() {
            if let Some(category) = &c.category {
                let declared = kinds[category.get_ref().as_str()];
                if declared.kind.must_be_sealed() {
                    assert!(c.is_sealed(), "{table}.{column} must be sealed");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 14, "{checked}");
        assert!(register
            .column(Store::Main, "customers", "email")
            .unwrap()
            .is_sealed());
        assert_eq!(
            register
                .column(Store::Main, "customers", "email")
                .and_then(|c| c.blind_index.as_ref())
                .map(|b| b.get_ref().as_str()),
            Some("email_bidx")
        );
    }

    fn expect_problem(src: &str, line: usize, id: &str) {
        let error = Register::parse(src).expect_err("the register must be refused");
        assert!(
            error
                .problems
                .iter()
                .any(|p| p.line == line && p.message.contains(&format!("`{id}`"))),
            "no problem at line {line} naming `{id}`: {error}"
        );
        // The message names the file and line.
        assert!(
            error
                .to_string()
                .contains(&format!("{REGISTER_PATH}:{line}:")),
            "{error}"
        );
    }

    // PRV-01: an unknown data category is an error naming its line and id.
    #[test]
    fn unknown_data_category_names_line_and_id() {
        let src = REGISTER_TOML.replacen(
            "data_categories = [\"website_usage\"",
            "data_categories = [\"browsing_habits\"",
            1,
        );
        let line = line_containing(&src, "browsing_habits");
        expect_problem(&src, line, "browsing_habits");
    }

    // PRV-01: an unknown recipient (or processor) is an error naming its line and id.
    #[test]
    fn unknown_recipient_names_line_and_id() {
        let src = REGISTER_TOML.replacen(
            "processors = [\"survey_provider\"]",
            "processors = [\"acme_surveys\"]",
            1,
        );
        let line = line_containing(&src, "acme_surveys");
        expect_problem(&src, line, "acme_surveys");
    }

    // PRV-01: an unknown legal basis is an error naming its line and id.
    #[test]
    fn unknown_legal_basis_names_line_and_id() {
        let src = REGISTER_TOML.replacen(
            "legal_basis = [\"consent\"]",
            "legal_basis = [\"vital_interest\"]",
            1,
        );
        let line = line_containing(&src, "vital_interest");
        expect_problem(&src, line, "vital_interest");
    }

    // PRV-01: unknown purposes and activities are named too, all at once.
    #[test]
    fn every_problem_is_reported() {
        let src = REGISTER_TOML
            .replacen("purposes = [\"steer_business\"]", "purposes = [\"sell_data\"]", 1)
            .replacen(
                "rotated_at = { category = \"record_metadata\", sealed = false, activities = [\"security\"] }",
                "rotated_at = { category = \"record_metadata\", sealed = false, activities = [\"key_party\"] }",
                1,
            );
        let error = Register::parse(&src).expect_err("refused");
        assert_eq!(error.problems.len(), 2, "{error}");
        expect_problem(&src, line_containing(&src, "sell_data"), "sell_data");
        expect_problem(&src, line_containing(&src, "key_party"), "key_party");
    }

    // PRV-02, PRV-03: a contact column that is not sealed is refused.
    #[test]
    fn unsealed_contact_column_is_refused() {
        let src = REGISTER_TOML.replacen(
            "phone = { category = \"contact_details\", sealed = true",
            "phone = { category = \"contact_details\", sealed = false",
            1,
        );
        let line = line_containing(
            &src,
            "phone = { category = \"contact_details\", sealed = false",
        );
        expect_problem(&src, line, "customers.phone");
    }

    // PRV-01: a transfer outside the EEA must be declared with its safeguard.
    #[test]
    fn undeclared_transfer_is_refused() {
        let src = REGISTER_TOML.replacen(
            "transfers = [{ recipient = \"survey_provider\", country = \"US\", safeguard = \"standard_contractual_clauses\" }]",
            "transfers = []",
            1,
        );
        let error = Register::parse(&src).expect_err("refused");
        assert!(
            error
                .problems
                .iter()
                .any(|p| p.message.contains("`survey_provider`") && p.message.contains("US")),
            "{error}"
        );
    }

    // PRV-01: a syntax or type error names its line; unknown fields are refused.
    #[test]
    fn unknown_field_names_its_line() {
        let src = REGISTER_TOML.replacen(
            "retention = \"surveys_12m\"",
            "retention = \"surveys_12m\"\nkeep_forever = true",
            1,
        );
        let line = line_containing(&src, "keep_forever");
        let error = Register::parse(&src).expect_err("refused");
        assert_eq!(error.problems.len(), 1, "{error}");
        assert_eq!(error.problems[0].line, line, "{error}");
        assert!(
            error.problems[0].message.contains("keep_forever"),
            "{error}"
        );
    }

    // PRV-02: the comparison with a live schema names both directions.
    #[test]
    fn unclassified_and_stale_columns_are_named() {
        let register = register().unwrap();
        let mut live: Vec<LiveColumn> = register
            .columns()
            .map(|(store, table, column, c)| {
                LiveColumn::new(
                    store,
                    table,
                    column,
                    if c.is_sealed() { "BLOB" } else { "TEXT" },
                )
            })
            .collect();
        assert!(register.unclassified(&live).is_empty());
        assert!(register.stale(&live).is_empty());
        assert!(register.sealed_not_binary(&live).is_empty());
        live.retain(|c| !(c.table == "customers" && c.column == "iban"));
        live.push(LiveColumn::new(
            Store::Main,
            "customers",
            "nickname",
            "TEXT",
        ));
        live.push(LiveColumn::new(
            Store::KeyStore,
            "subject_keys",
            "salt",
            "BLOB",
        ));
        for c in &mut live {
            if c.table == "vehicles" && c.column == "vin" {
                c.data_type = "TEXT".into();
            }
        }
        assert_eq!(
            register.unclassified(&live),
            ["carfin_keys.subject_keys.salt", "customers.nickname"]
        );
        assert_eq!(register.stale(&live), ["customers.iban"]);
        assert_eq!(register.sealed_not_binary(&live), ["vehicles.vin (TEXT)"]);
    }

    // PRV-01: the Art. 30 record resolves names; --entity filters.
    #[test]
    fn art30_record_resolves_names_and_filters() {
        let register = register().unwrap();
        let all = register.art30(None, Language::En).unwrap();
        assert_eq!(all.entities.len(), 2);
        for e in &all.entities {
            assert_eq!(e.activities.len(), 11);
        }
        let be = register
            .art30(Some("carfin-belgique"), Language::Fr)
            .unwrap();
        assert_eq!(be.entities.len(), 1);
        let surveys = be.entities[0]
            .activities
            .iter()
            .find(|a| a.id == "surveys")
            .unwrap();
        assert_eq!(surveys.name, "Enquêtes de satisfaction");
        assert_eq!(surveys.legal_basis[0].name, "Consentement");
        assert_eq!(surveys.transfers[0].country, "US");
        assert!(register
            .art30(Some("carfin-luxembourg"), Language::En)
            .is_err());
    }

    // PRV-01: CSV cells are quoted per RFC 4180 and formulas neutralised.
    #[test]
    fn csv_cells_are_quoted_and_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+31 30"), "'+31 30");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        let csv = register()
            .unwrap()
            .art30(None, Language::En)
            .unwrap()
            .to_csv();
        assert!(csv.starts_with("entity,activity,purposes,legal_basis,"));
        assert_eq!(csv.matches("\r\n").count(), 1 + 22);
    }
}
