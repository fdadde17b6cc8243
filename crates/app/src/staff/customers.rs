//! The purpose-bound customer view (BOF-03, PRV-14).
//!
//! * Who may do what is data: `privacy/roles.toml` ([`ROLES_TOML`]), next
//!   to the processing register, read by [`permissions`] and checked
//!   against the register: per role, the purposes it may open a file for,
//!   the data categories it may read there, the fields it sees masked.
//! * [`search`] finds customers by an exact key only — contract number,
//!   or the blind index of a licence plate, e-mail address, phone number or
//!   name — and answers customer numbers, nothing personal. Each search is
//!   audited (`staff.customer_search`) with the kind of key, never its
//!   value.
//! * [`open`] opens a customer's file for a purpose (a request of the
//!   customer, an inbound call with a note, a collection case) for
//!   [`FILE_ACCESS_MINUTES`]: a `staff_file_accesses` row and an audit
//!   record `staff.customer_file_opened`, in one transaction.
//! * [`view`] shows the file only while such an opening of this staff
//!   member lasts ([`FileOutcome::NeedsPurpose`] otherwise); it shows the
//!   fields the role may read, masked as declared, and audits every view
//!   (`staff.customer_read`) with the purpose and the names of the fields
//!   shown.

use super::{Role, StaffSession};
use crate::audit::{self, ActorKind, AuditEntry};
use crate::i18n;
use crate::messages::{local_date, local_time};
use crate::privacy::{self, Register, Store};
use crate::{App, AppError};
use carfin_domain::{
    BePlate, Country, EmailAddress, Iban, Language, LicencePlate, Money, NlPlate, PhoneNumber,
};
use carfin_store::crypto::FieldRef;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{
    self, CustomerPersonal, CustomerRecord, Personal, EMAIL_INDEX, NAME_INDEX, PHONE_INDEX,
};
use carfin_store::repo::finance::PLATE_INDEX;
use carfin_store::repo::staff_files::{self as repo, FileAccessRow, FileContract, FileInvoice};
use carfin_store::StoreError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Where the permissions live in the repository (for messages).
pub const ROLES_PATH: &str = "privacy/roles.toml";

/// The permissions as shipped.
pub const ROLES_TOML: &str = include_str!("../../../../privacy/roles.toml");

/// How long an opened file stays open for its purpose, in minutes.
pub const FILE_ACCESS_MINUTES: i64 = 30;

/// How many of the customer's invoices the file lists (newest first).
pub const INVOICES_SHOWN: i64 = 24;

/// How many customers a search lists at most.
pub const SEARCH_LIMIT: usize = 50;

/// The longest note on an opening, in characters.
pub const NOTE_MAX_CHARS: usize = 2_000;

/// The longest reference of an opening, in characters.
pub const REFERENCE_MAX_CHARS: usize = 40;

/// The longest search input, in characters.
pub const QUERY_MAX_CHARS: usize = 200;

/// The audit action of a search.
pub const SEARCH_ACTION: &str = "staff.customer_search";
/// The audit action of opening a file.
pub const OPEN_ACTION: &str = "staff.customer_file_opened";
/// The audit action of viewing an open file.
pub const READ_ACTION: &str = "staff.customer_read";

// ---------------------------------------------------------------------------
// Permissions as data
// ---------------------------------------------------------------------------

/// Why a customer's file is opened (stored in `staff_file_accesses.purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilePurpose {
    /// A request of the customer (or a queue item), by its number.
    Request,
    /// An inbound call, with a note.
    InboundCall,
    /// A collection case: an invoice of the customer in collection.
    CollectionCase,
}

impl FilePurpose {
    /// Every purpose, in the order forms list them.
    pub const ALL: [FilePurpose; 3] = [
        FilePurpose::Request,
        FilePurpose::InboundCall,
        FilePurpose::CollectionCase,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            FilePurpose::Request => "request",
            FilePurpose::InboundCall => "inbound_call",
            FilePurpose::CollectionCase => "collection_case",
        }
    }
}

impl fmt::Display for FilePurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for FilePurpose {
    type Err = ();
    fn from_str(s: &str) -> Result<FilePurpose, ()> {
        FilePurpose::ALL
            .into_iter()
            .find(|p| p.code() == s)
            .ok_or(())
    }
}

/// What an opening must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// An open request of this customer, by its number.
    Request,
    /// An invoice of this customer in collection, by its number.
    InvoiceInCollection,
    /// A call reference, if there is one.
    Optional,
}

impl ReferenceKind {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ReferenceKind::Request => "request",
            ReferenceKind::InvoiceInCollection => "invoice_in_collection",
            ReferenceKind::Optional => "optional",
        }
    }
}

/// How a masked field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mask {
    /// All but the last four characters hidden: `•••• 4300`.
    LastFour,
    /// A date as its year only: `1975`.
    Year,
}

impl Mask {
    /// `value` as the mask shows it.
    pub fn apply(self, value: &str) -> String {
        let chars: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
        match self {
            Mask::LastFour if chars.len() > 4 => {
                let tail: String = chars[chars.len() - 4..].iter().collect();
                format!("•••• {tail}")
            }
            Mask::LastFour => "••••".to_string(),
            Mask::Year => match value.get(..4) {
                Some(year) if year.bytes().all(|b| b.is_ascii_digit()) => year.to_string(),
                _ => "••••".to_string(),
            },
        }
    }
}

/// A file purpose as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeRule {
    pub purpose: FilePurpose,
    /// The processing register's purpose the reading serves.
    pub register_purpose: String,
    pub reference: ReferenceKind,
    pub note_required: bool,
}

/// What one role may do with customers' files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePermissions {
    pub role: Role,
    /// The purposes it may open a file for, in [`FilePurpose::ALL`] order.
    pub purposes: Vec<FilePurpose>,
    /// The register's data categories it may read.
    pub categories: BTreeSet<String>,
    /// Fields (`table.column`) it sees masked.
    pub masked: BTreeMap<String, Mask>,
}

impl RolePermissions {
    /// Whether the role may read data of `category`.
    pub fn may_read(&self, category: &str) -> bool {
        self.categories.contains(category)
    }

    /// Whether the role may open files for `purpose`.
    pub fn may_open_for(&self, purpose: FilePurpose) -> bool {
        self.purposes.contains(&purpose)
    }
}

/// The permissions of every role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub purposes: Vec<PurposeRule>,
    /// One per role, in [`Role::ALL`] order.
    pub roles: Vec<RolePermissions>,
    /// The data category of every field the view may show (from the
    /// register).
    categories: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    version: u32,
    #[serde(rename = "file_purpose")]
    file_purposes: Vec<PurposeDecl>,
    #[serde(rename = "role")]
    roles: Vec<RoleDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeDecl {
    id: String,
    register_purpose: String,
    reference: ReferenceKind,
    note_required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleDecl {
    id: String,
    purposes: Vec<String>,
    categories: Vec<String>,
    #[serde(default)]
    masked: Vec<MaskDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskDecl {
    field: String,
    show: Mask,
}

/// The permissions file does not parse or does not agree with the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionsError {
    pub problems: Vec<String>,
}

impl fmt::Display for PermissionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ROLES_PATH} is invalid")?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PermissionsError {}

/// The category of a `table.column` of the main database, per the register.
fn category_of<'r>(register: &'r Register, field: &str) -> Option<&'r str> {
    let (table, column) = field.split_once('.')?;
    register
        .column(Store::Main, table, column)?
        .category
        .as_ref()
        .map(|c| c.get_ref().as_str())
}

impl Permissions {
    /// Parses `src` and checks it against `register`: every role once,
    /// every purpose, data category and field known.
    pub fn parse(src: &str, register: &Register) -> Result<Permissions, PermissionsError> {
        let file: RolesFile = toml::from_str(src).map_err(|e| PermissionsError {
            problems: vec![e.to_string()],
        })?;
        let mut problems = Vec::new();
        if file.version != 1 {
            problems.push(format!("version {} is not supported", file.version));
        }
        let register_purposes: BTreeSet<&str> = register
            .purposes
            .iter()
            .map(|p| p.id.get_ref().as_str())
            .collect();
        let register_categories: BTreeSet<&str> = register
            .data_categories
            .iter()
            .map(|c| c.id.get_ref().as_str())
            .collect();

        let mut purposes = Vec::new();
        for decl in &file.file_purposes {
            let Ok(purpose) = decl.id.parse::<FilePurpose>() else {
                problems.push(format!("file purpose `{}` is not one of carfin's", decl.id));
                continue;
            };
            if purposes.iter().any(|r: &PurposeRule| r.purpose == purpose) {
                problems.push(format!("file purpose `{}` is declared twice", decl.id));
            }
            if !register_purposes.contains(decl.register_purpose.as_str()) {
                problems.push(format!(
                    "file purpose `{}`: `{}` is not a purpose of the register",
                    decl.id, decl.register_purpose
                ));
            }
            purposes.push(PurposeRule {
                purpose,
                register_purpose: decl.register_purpose.clone(),
                reference: decl.reference,
                note_required: decl.note_required,
            });
        }
        for purpose in FilePurpose::ALL {
            if !purposes.iter().any(|r| r.purpose == purpose) {
                problems.push(format!("file purpose `{purpose}` is not declared"));
            }
        }

        let mut roles: Vec<RolePermissions> = Vec::new();
        for decl in &file.roles {
            let Ok(role) = decl.id.parse::<Role>() else {
                problems.push(format!("role `{}` is not a staff role", decl.id));
                continue;
            };
            if roles.iter().any(|r| r.role == role) {
                problems.push(format!("role `{}` is declared twice", decl.id));
                continue;
            }
            let mut allowed = Vec::new();
            for p in &decl.purposes {
                match p.parse::<FilePurpose>() {
                    Ok(p) => allowed.push(p),
                    Err(()) => problems.push(format!(
                        "role `{}`: `{p}` is not a declared file purpose",
                        decl.id
                    )),
                }
            }
            allowed.sort();
            allowed.dedup();
            let mut categories = BTreeSet::new();
            for c in &decl.categories {
                if register_categories.contains(c.as_str()) {
                    categories.insert(c.clone());
                } else {
                    problems.push(format!(
                        "role `{}`: `{c}` is not a data category of the register",
                        decl.id
                    ));
                }
            }
            if allowed.is_empty() != categories.is_empty() {
                problems.push(format!(
                    "role `{}`: purposes and categories go together (both or neither)",
                    decl.id
                ));
            }
            let mut masked = BTreeMap::new();
            for m in &decl.masked {
                match category_of(register, &m.field) {
                    None => problems.push(format!(
                        "role `{}`: `{}` is not a personal column of the register",
                        decl.id, m.field
                    )),
                    Some(category) if !categories.contains(category) => problems.push(format!(
                        "role `{}`: `{}` is masked but its category `{category}` is not readable",
                        decl.id, m.field
                    )),
                    Some(_) => {
                        masked.insert(m.field.clone(), m.show);
                    }
                }
            }
            roles.push(RolePermissions {
                role,
                purposes: allowed,
                categories,
                masked,
            });
        }
        for role in Role::ALL {
            if !roles.iter().any(|r| r.role == role) {
                problems.push(format!("role `{role}` is not declared"));
            }
        }
        roles.sort_by_key(|r| r.role);

        let mut field_categories = BTreeMap::new();
        for field in SHOWN_FIELDS {
            match category_of(register, field) {
                Some(category) => {
                    field_categories.insert((*field).to_string(), category.to_string());
                }
                None => problems.push(format!(
                    "the file shows `{field}`, which the register does not classify as personal"
                )),
            }
        }
        if problems.is_empty() {
            Ok(Permissions {
                purposes,
                roles,
                categories: field_categories,
            })
        } else {
            Err(PermissionsError { problems })
        }
    }

    /// The rule of a purpose.
    pub fn rule(&self, purpose: FilePurpose) -> Option<&PurposeRule> {
        self.purposes.iter().find(|r| r.purpose == purpose)
    }

    /// The permissions of a role.
    pub fn role(&self, role: Role) -> Option<&RolePermissions> {
        self.roles.iter().find(|r| r.role == role)
    }

    /// The role under which `staff` opens a file for `purpose`: the first
    /// they hold (in [`Role::ALL`] order) that allows it.
    pub fn for_purpose(
        &self,
        staff: &StaffSession,
        purpose: FilePurpose,
    ) -> Option<&RolePermissions> {
        self.roles
            .iter()
            .find(|r| staff.has(r.role) && r.may_open_for(purpose))
    }

    /// The purposes `staff` may open files for, in [`FilePurpose::ALL`] order.
    pub fn purposes_of(&self, staff: &StaffSession) -> Vec<FilePurpose> {
        FilePurpose::ALL
            .into_iter()
            .filter(|p| self.for_purpose(staff, *p).is_some())
            .collect()
    }

    /// The data category of a field the file shows.
    pub fn category(&self, field: &str) -> Option<&str> {
        self.categories.get(field).map(String::as_str)
    }
}

/// The shipped permissions, parsed and checked on first use.
pub fn permissions() -> Result<&'static Permissions, AppError> {
    static PERMISSIONS: OnceLock<Result<Permissions, String>> = OnceLock::new();
    let parsed = PERMISSIONS.get_or_init(|| {
        let register = privacy::register().map_err(|e| e.to_string())?;
        Permissions::parse(ROLES_TOML, register).map_err(|e| e.to_string())
    });
    match parsed {
        Ok(p) => Ok(p),
        Err(e) => Err(AppError::Config(e.clone())),
    }
}

/// The staff member's purposes, or "not found" for a staff member without
/// any right to customer files (administrator, auditor).
fn require_file_rights(staff: &StaffSession) -> Result<Vec<FilePurpose>, AppError> {
    let purposes = permissions()?.purposes_of(staff);
    if purposes.is_empty() {
        Err(AppError::NotFound)
    } else {
        Ok(purposes)
    }
}

fn invalid(field: &str, key: &str) -> AppError {
    AppError::Invalid(vec![(field.to_string(), key.to_string())])
}

fn request_id_or_none(request_id: &str) -> String {
    if request_id.is_empty() {
        "none".to_string()
    } else {
        request_id.to_string()
    }
}

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

/// What a search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKey {
    /// A contract number: its parties.
    Contract,
    /// A licence plate (Dutch or Belgian): its holder.
    Plate,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A full name (given names, prefix, surname) or company name.
    Name,
}

impl SearchKey {
    /// Every key, in the order the form lists them.
    pub const ALL: [SearchKey; 5] = [
        SearchKey::Contract,
        SearchKey::Plate,
        SearchKey::Email,
        SearchKey::Phone,
        SearchKey::Name,
    ];

    /// The form's code.
    pub fn code(self) -> &'static str {
        match self {
            SearchKey::Contract => "contract",
            SearchKey::Plate => "plate",
            SearchKey::Email => "email",
            SearchKey::Phone => "phone",
            SearchKey::Name => "name",
        }
    }

    /// The column looked up (the field named in the audit record).
    pub fn field(self) -> &'static str {
        match self {
            SearchKey::Contract => "contracts.contract_number",
            SearchKey::Plate => "vehicles.plate_bidx",
            SearchKey::Email => "customers.email_bidx",
            SearchKey::Phone => "customers.phone_bidx",
            SearchKey::Name => "customers.name_bidx",
        }
    }

    /// The data categories of which one must be readable to search by this
    /// key (what the key is).
    fn categories(self) -> &'static [&'static str] {
        match self {
            SearchKey::Contract => &["references"],
            SearchKey::Plate => &["vehicle_identifiers"],
            SearchKey::Email | SearchKey::Phone => &["contact_details"],
            SearchKey::Name => &["identity", "company_identity"],
        }
    }
}

impl FromStr for SearchKey {
    type Err = ();
    fn from_str(s: &str) -> Result<SearchKey, ()> {
        SearchKey::ALL.into_iter().find(|k| k.code() == s).ok_or(())
    }
}

/// The role a search by `key` runs under: the first held with a file
/// purpose that may read what the key is.
fn search_role<'p>(
    permissions: &'p Permissions,
    staff: &StaffSession,
    key: SearchKey,
) -> Option<&'p RolePermissions> {
    permissions.roles.iter().find(|r| {
        staff.has(r.role)
            && !r.purposes.is_empty()
            && key.categories().iter().any(|c| r.may_read(c))
    })
}

/// The keys `staff` may search by; "not found" without file rights.
pub fn search_keys(staff: &StaffSession) -> Result<Vec<SearchKey>, AppError> {
    require_file_rights(staff)?;
    let permissions = permissions()?;
    Ok(SearchKey::ALL
        .into_iter()
        .filter(|k| search_role(permissions, staff, *k).is_some())
        .collect())
}

/// A customer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub customer_id: i64,
    pub customer_number: String,
}

/// The forms of a plate the index may hold: canonical Dutch and Belgian.
fn plate_candidates(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(p) = NlPlate::parse(query) {
        out.push(p.as_str().to_string());
    }
    if let Ok(p) = BePlate::parse(query) {
        out.push(p.as_str().to_string());
    }
    out.dedup();
    out
}

/// The E.164 forms a typed phone number may have: international as typed,
/// or national read as Dutch and as Belgian.
fn phone_candidates(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(p) = PhoneNumber::parse(query) {
        out.push(p.as_str().to_string());
    } else {
        for country in Country::ALL {
            if let Ok(p) = PhoneNumber::parse_with_default(query, country) {
                if !out.iter().any(|o| o == p.as_str()) {
                    out.push(p.as_str().to_string());
                }
            }
        }
    }
    out
}

/// Finds customers by an exact key (BOF-03): contract number, or the blind
/// index of a plate, e-mail address, phone number or name, normalized the
/// way they are stored. Answers customer numbers only. Audited as
/// [`SEARCH_ACTION`] with the looked-up column, never the value.
pub async fn search(
    app: &App,
    staff: &StaffSession,
    key: &str,
    query: &str,
    request_id: &str,
) -> Result<Vec<SearchHit>, AppError> {
    require_file_rights(staff)?;
    let permissions = permissions()?;
    let key: SearchKey = key
        .parse()
        .map_err(|()| invalid("by", "staff_customers.error.key"))?;
    let Some(role) = search_role(permissions, staff, key) else {
        return Err(invalid("by", "staff_customers.error.key"));
    };
    let query = query.trim();
    if query.is_empty() {
        return Err(invalid("q", "staff_customers.error.query_empty"));
    }
    if query.chars().count() > QUERY_MAX_CHARS {
        return Err(invalid("q", "staff_customers.error.query_long"));
    }
    let bidx = app.blind_index();
    let mut ids: Vec<i64> = match key {
        SearchKey::Contract => {
            let number: String = query.split_whitespace().collect::<String>().to_uppercase();
            repo::customer_ids_by_contract_number(app.db(), &number).await?
        }
        SearchKey::Plate => {
            let candidates = plate_candidates(query);
            if candidates.is_empty() {
                return Err(invalid("q", "staff_customers.error.plate"));
            }
            let mut ids = Vec::new();
            for plate in candidates {
                ids.extend(
                    repo::customer_ids_by_plate_bidx(app.db(), &bidx.index(PLATE_INDEX, &plate))
                        .await?,
                );
            }
            ids
        }
        SearchKey::Email => {
            let email = EmailAddress::parse(query)
                .map_err(|_| invalid("q", "staff_customers.error.email"))?;
            let normalized = email.as_str().to_lowercase();
            repo::customer_ids_by_index(
                app.db(),
                "email_bidx",
                &bidx.index(EMAIL_INDEX, &normalized),
            )
            .await?
        }
        SearchKey::Phone => {
            let candidates = phone_candidates(query);
            if candidates.is_empty() {
                return Err(invalid("q", "staff_customers.error.phone"));
            }
            let mut ids = Vec::new();
            for phone in candidates {
                ids.extend(
                    repo::customer_ids_by_index(
                        app.db(),
                        "phone_bidx",
                        &bidx.index(PHONE_INDEX, &phone),
                    )
                    .await?,
                );
            }
            ids
        }
        SearchKey::Name => {
            let name = customers::normalize_name(query);
            repo::customer_ids_by_index(app.db(), "name_bidx", &bidx.index(NAME_INDEX, &name))
                .await?
        }
    };
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(SEARCH_LIMIT);
    let mut hits = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(number) = repo::customer_number(app.db(), id).await? {
            hits.push(SearchHit {
                customer_id: id,
                customer_number: number,
            });
        }
    }
    hits.sort_by(|a, b| a.customer_number.cmp(&b.customer_number));
    let purpose = role
        .purposes
        .first()
        .and_then(|p| permissions.rule(*p))
        .map(|r| r.register_purpose.clone())
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db().begin_write().await?;
    audit::record(
        &mut tx,
        app,
        AuditEntry {
            actor_kind: ActorKind::Staff,
            actor_id: Some(staff.staff_id),
            role: role.role.code().into(),
            action: SEARCH_ACTION.into(),
            subject_id: None,
            purpose,
            fields: vec![key.field().to_string()],
            request_id: request_id_or_none(request_id),
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(hits)
}

// ---------------------------------------------------------------------------
// Opening a file
// ---------------------------------------------------------------------------

/// A purpose the staff member may choose, with what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeChoice {
    pub purpose: FilePurpose,
    pub reference: ReferenceKind,
    pub note_required: bool,
}

/// An opening of the file that still lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAccess {
    pub purpose: FilePurpose,
    pub reference: String,
    pub opened_at: i64,
    pub expires_at: i64,
}

/// What the purpose form needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenForm {
    pub customer_id: i64,
    pub customer_number: String,
    pub choices: Vec<PurposeChoice>,
    /// The staff member's current opening of this file, if any.
    pub current: Option<OpenAccess>,
}

fn open_access(row: &FileAccessRow) -> Option<OpenAccess> {
    Some(OpenAccess {
        purpose: row.purpose.parse().ok()?,
        reference: row.reference.clone(),
        opened_at: row.opened_at,
        expires_at: row.expires_at,
    })
}

/// The purpose form of a customer's file: "not found" for an unknown
/// customer or a staff member without file rights.
pub async fn open_form(
    app: &App,
    staff: &StaffSession,
    customer_id: i64,
) -> Result<OpenForm, AppError> {
    let purposes = require_file_rights(staff)?;
    let permissions = permissions()?;
    let customer_number = repo::customer_number(app.db(), customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let choices = purposes
        .into_iter()
        .filter_map(|p| permissions.rule(p))
        .map(|r| PurposeChoice {
            purpose: r.purpose,
            reference: r.reference,
            note_required: r.note_required,
        })
        .collect();
    let now = app.clock().now().timestamp();
    let current = repo::active_access(app.db(), staff.staff_id, customer_id, now)
        .await?
        .as_ref()
        .and_then(open_access);
    Ok(OpenForm {
        customer_id,
        customer_number,
        choices,
        current,
    })
}

/// The purpose form as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenRequest {
    /// `request`, `inbound_call` or `collection_case`.
    pub purpose: String,
    pub reference: String,
    pub note: String,
}

/// Opens a customer's file for a purpose (BOF-03, PRV-14): checks the
/// role may open files for it and the reference (an open request of this
/// customer; an invoice of this customer in collection), requires a note
/// for an inbound call, then records the opening (for
/// [`FILE_ACCESS_MINUTES`], the note sealed under the customer's key) and
/// audits it, in one transaction. Returns when the opening expires (Unix
/// seconds). Refusals are [`AppError::Invalid`] on `purpose`, `reference`
/// or `note`.
pub async fn open(
    app: &App,
    staff: &StaffSession,
    customer_id: i64,
    form: &OpenRequest,
    request_id: &str,
) -> Result<i64, AppError> {
    require_file_rights(staff)?;
    let permissions = permissions()?;
    if repo::customer_number(app.db(), customer_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |field: &str, key: &str| {
        problems.push((field.to_string(), key.to_string()));
    };
    let purpose_code = form.purpose.trim();
    let chosen = if purpose_code.is_empty() {
        problem("purpose", "staff_customers.error.purpose_missing");
        None
    } else {
        match purpose_code.parse::<FilePurpose>() {
            Ok(p) => match (permissions.for_purpose(staff, p), permissions.rule(p)) {
                (Some(role), Some(rule)) => Some((role, rule)),
                _ => {
                    problem("purpose", "staff_customers.error.purpose_not_allowed");
                    None
                }
            },
            Err(()) => {
                problem("purpose", "staff_customers.error.purpose_not_allowed");
                None
            }
        }
    };
    let reference = form.reference.trim().to_string();
    let note = form.note.trim().to_string();
    if note.chars().count() > NOTE_MAX_CHARS {
        problem("note", "staff_customers.error.note_long");
    }
    if reference.chars().count() > REFERENCE_MAX_CHARS {
        problem("reference", "staff_customers.error.reference_long");
    }
    if let Some((_, rule)) = chosen {
        if rule.note_required && note.is_empty() {
            problem("note", "staff_customers.error.note_missing");
        }
        match rule.reference {
            ReferenceKind::Request => {
                let ok = match reference.parse::<i64>() {
                    Ok(id) => repo::open_request_of(app.db(), id, customer_id).await?,
                    Err(_) => false,
                };
                if !ok {
                    problem("reference", "staff_customers.error.request_unknown");
                }
            }
            ReferenceKind::InvoiceInCollection => {
                let ok = !reference.is_empty()
                    && repo::invoice_in_collection_of(app.db(), &reference, customer_id).await?;
                if !ok {
                    problem("reference", "staff_customers.error.invoice_unknown");
                }
            }
            ReferenceKind::Optional => {
                // A call id of the telephone system: no room for personal
                // data in a column that is not sealed.
                let safe = reference
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/.:#".contains(c));
                if !safe {
                    problem("reference", "staff_customers.error.reference_format");
                }
            }
        }
    }
    let (role, rule) = match chosen {
        Some(chosen) if problems.is_empty() => chosen,
        _ => return Err(AppError::Invalid(problems)),
    };

    let now = app.clock().now().timestamp();
    let id = app.ids().next();
    let sealed_note = if note.is_empty() {
        None
    } else {
        match app.keys().get(customer_id).await? {
            KeyState::Live(key) => Some(key.seal(
                FieldRef {
                    table: "staff_file_accesses",
                    column: "note",
                    row: id,
                },
                &note,
            )?),
            // An erased customer: nothing to open, nothing to note.
            _ => return Err(AppError::NotFound),
        }
    };
    let expires_at = now + FILE_ACCESS_MINUTES * 60;
    let mut fields = vec![
        "staff_file_accesses.purpose".to_string(),
        "staff_file_accesses.reference".to_string(),
    ];
    if sealed_note.is_some() {
        fields.push("staff_file_accesses.note".to_string());
    }
    let mut tx = app.db().begin_write().await?;
    repo::insert_access(
        &mut tx,
        &FileAccessRow {
            id,
            staff_id: staff.staff_id,
            customer_id,
            purpose: rule.purpose.code().to_string(),
            reference,
            note: sealed_note,
            opened_at: now,
            expires_at,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        app,
        AuditEntry {
            actor_kind: ActorKind::Staff,
            actor_id: Some(staff.staff_id),
            role: role.role.code().into(),
            action: OPEN_ACTION.into(),
            subject_id: Some(customer_id),
            purpose: rule.register_purpose.clone(),
            fields,
            request_id: request_id_or_none(request_id),
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(expires_at)
}

// ---------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------

/// Every field the file may show, each a register column.
const SHOWN_FIELDS: &[&str] = &[
    "customers.customer_number",
    "customers.kind",
    "customers.language",
    "customers.country",
    "customers.initials",
    "customers.given_names",
    "customers.name_prefix",
    "customers.surname",
    "customers.date_of_birth",
    "customers.company_name",
    "customers.company_number",
    "customers.street",
    "customers.house_number",
    "customers.postcode",
    "customers.city",
    "customers.email",
    "customers.phone",
    "customers.iban",
    "contracts.contract_number",
    "contract_parties.role",
    "contracts.contract_type",
    "contracts.status",
    "contract_versions.start_date",
    "contract_versions.end_date",
    "contract_versions.monthly_instalment_cents",
    "vehicles.make",
    "vehicles.model",
    "vehicles.licence_plate",
    "vehicles.vin",
    "invoices.invoice_number",
    "invoices.kind",
    "invoices.due_date",
    "invoices.amount_cents",
    "invoices.paid_cents",
    "invoices.status",
];

/// The message key of each field's label.
fn label_key(field: &str) -> String {
    format!("staff_customers.field.{}", field.replace('.', "_"))
}

/// One labelled value of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// `table.column`.
    pub field: String,
    pub label: String,
    pub value: String,
}

/// A column of a table in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridColumn {
    /// `table.column`.
    pub field: String,
    pub label: String,
}

/// A table of the file: the columns the role may read, and the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grid {
    pub columns: Vec<GridColumn>,
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    /// Whether there is anything to show.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() || self.rows.is_empty()
    }
}

/// A customer's file as the role may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileView {
    pub customer_id: i64,
    pub customer_number: String,
    /// The role the file is shown under.
    pub role: Role,
    pub purpose: FilePurpose,
    /// The register purpose's name, in the page's language.
    pub purpose_name: String,
    pub reference: String,
    /// When the opening was made and when it ends, local time.
    pub opened_at: String,
    pub expires_at: String,
    /// The personal data is gone (crypto-shredded).
    pub erased: bool,
    pub details: Vec<Detail>,
    pub contracts: Grid,
    pub invoices: Grid,
    /// Unpaid invoices: how many and the amount due (when the role reads
    /// financial data).
    pub unpaid: Option<(i64, String)>,
    /// The names of the fields shown (audited).
    pub fields: Vec<String>,
}

/// What [`view`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// No opening of this staff member lasts: choose a purpose first.
    NeedsPurpose,
    /// The file.
    Open(Box<FileView>),
}

/// A column of a table in the file: its field and how a row shows it.
type Column<'a, T> = (&'a str, &'a dyn Fn(&T) -> String);

/// What the file knows the fields it shows by.
struct Shown<'a> {
    permissions: &'a Permissions,
    role: &'a RolePermissions,
    lang: Language,
    fields: Vec<String>,
}

impl Shown<'_> {
    /// Whether the role may see `field`.
    fn allows(&self, field: &str) -> bool {
        self.permissions
            .category(field)
            .is_some_and(|c| self.role.may_read(c))
    }

    /// The mask of `field` for the role.
    fn mask(&self, field: &str) -> Option<Mask> {
        self.role.masked.get(field).copied()
    }

    fn note(&mut self, field: &str) {
        if !self.fields.iter().any(|f| f == field) {
            self.fields.push(field.to_string());
        }
    }

    fn label(&self, field: &str) -> String {
        i18n::t(self.lang, &label_key(field)).to_string()
    }

    /// `raw` masked as the role says, else formatted.
    fn present(&self, field: &str, raw: &str, format: impl Fn(&str) -> String) -> String {
        match self.mask(field) {
            Some(mask) => mask.apply(raw),
            None => format(raw),
        }
    }

    /// Adds a detail the role may see.
    fn detail(
        &mut self,
        out: &mut Vec<Detail>,
        field: &str,
        raw: Option<&str>,
        format: impl Fn(&str) -> String,
    ) {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return;
        };
        if !self.allows(field) {
            return;
        }
        let value = self.present(field, raw, format);
        out.push(Detail {
            field: field.to_string(),
            label: self.label(field),
            value,
        });
        self.note(field);
    }

    /// A table of the columns the role may see.
    fn grid<T>(&mut self, items: &[T], columns: &[Column<'_, T>]) -> Grid {
        let allowed: Vec<&Column<'_, T>> = columns.iter().filter(|(f, _)| self.allows(f)).collect();
        if items.is_empty() || allowed.is_empty() {
            return Grid::default();
        }
        let rows = items
            .iter()
            .map(|item| {
                allowed
                    .iter()
                    .map(|(field, value)| self.present(field, &value(item), |s| s.to_string()))
                    .collect()
            })
            .collect();
        let columns = allowed
            .iter()
            .map(|(field, _)| GridColumn {
                field: (*field).to_string(),
                label: self.label(field),
            })
            .collect();
        for (field, _) in &allowed {
            self.note(field);
        }
        Grid { columns, rows }
    }
}

fn code_name(lang: Language, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}.{code}");
    i18n::catalogue(lang)
        .get(&key)
        .map_or_else(|| code.to_string(), str::to_string)
}

fn iso_date(lang: Language, iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| local_date(lang, d))
        .unwrap_or_else(|_| iso.to_string())
}

fn money(lang: Language, cents: i64) -> String {
    Money::from_cents(cents).format(lang)
}

/// A contract with its plate and VIN opened (or erased).
struct ContractLine {
    contract: FileContract,
    plate: String,
    vin: String,
}

async fn open_vehicles(
    app: &App,
    contracts: Vec<FileContract>,
    lang: Language,
    open: bool,
) -> Result<Vec<ContractLine>, AppError> {
    let erased = i18n::t(lang, "staff_customers.erased_value").to_string();
    let mut keys: HashMap<i64, KeyState> = HashMap::new();
    if open {
        let subjects: BTreeSet<i64> = contracts.iter().map(|c| c.subject_id).collect();
        for subject in subjects {
            keys.insert(subject, app.keys().get(subject).await?);
        }
    }
    let mut out = Vec::with_capacity(contracts.len());
    for contract in contracts {
        let (plate, vin) = if open {
            match keys.get(&contract.subject_id) {
                Some(KeyState::Live(key)) => {
                    let plate = key.open(
                        FieldRef {
                            table: "vehicles",
                            column: "licence_plate",
                            row: contract.vehicle_id,
                        },
                        &contract.licence_plate,
                    )?;
                    let vin = key.open(
                        FieldRef {
                            table: "vehicles",
                            column: "vin",
                            row: contract.vehicle_id,
                        },
                        &contract.vin,
                    )?;
                    let country = if contract.plate_country == "BE" {
                        Country::Be
                    } else {
                        Country::Nl
                    };
                    let plate = LicencePlate::parse_for(country, &plate)
                        .map(|p| p.to_string())
                        .unwrap_or(plate);
                    (plate, vin)
                }
                _ => (erased.clone(), erased.clone()),
            }
        } else {
            (String::new(), String::new())
        };
        out.push(ContractLine {
            contract,
            plate,
            vin,
        });
    }
    Ok(out)
}

fn customer_details(
    shown: &mut Shown<'_>,
    record: &CustomerRecord,
    personal: Option<&CustomerPersonal>,
) -> Vec<Detail> {
    let lang = shown.lang;
    let mut out = Vec::new();
    let same = |s: &str| s.to_string();
    shown.detail(
        &mut out,
        "customers.customer_number",
        Some(&record.customer_number),
        same,
    );
    shown.detail(&mut out, "customers.kind", Some(&record.kind), |k| {
        code_name(lang, "staff_customers.kind", k)
    });
    shown.detail(
        &mut out,
        "customers.language",
        Some(&record.language),
        |l| {
            l.parse::<Language>()
                .map(|l| l.endonym().to_string())
                .unwrap_or_else(|_| l.to_string())
        },
    );
    shown.detail(&mut out, "customers.country", Some(&record.country), |c| {
        c.parse::<Country>()
            .map(|c| c.name(lang).to_string())
            .unwrap_or_else(|_| c.to_string())
    });
    let Some(p) = personal else {
        return out;
    };
    shown.detail(&mut out, "customers.initials", p.initials.as_deref(), same);
    shown.detail(
        &mut out,
        "customers.given_names",
        p.given_names.as_deref(),
        same,
    );
    shown.detail(
        &mut out,
        "customers.name_prefix",
        p.name_prefix.as_deref(),
        same,
    );
    shown.detail(&mut out, "customers.surname", p.surname.as_deref(), same);
    shown.detail(
        &mut out,
        "customers.date_of_birth",
        p.date_of_birth.as_deref(),
        |d| iso_date(lang, d),
    );
    shown.detail(
        &mut out,
        "customers.company_name",
        p.company_name.as_deref(),
        same,
    );
    shown.detail(
        &mut out,
        "customers.company_number",
        p.company_number.as_deref(),
        same,
    );
    shown.detail(&mut out, "customers.street", Some(&p.street), same);
    shown.detail(
        &mut out,
        "customers.house_number",
        Some(&p.house_number),
        same,
    );
    shown.detail(&mut out, "customers.postcode", Some(&p.postcode), same);
    shown.detail(&mut out, "customers.city", Some(&p.city), same);
    shown.detail(&mut out, "customers.email", p.email.as_deref(), same);
    shown.detail(&mut out, "customers.phone", p.phone.as_deref(), |ph| {
        PhoneNumber::parse(ph)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| ph.to_string())
    });
    shown.detail(&mut out, "customers.iban", p.iban.as_deref(), |i| {
        Iban::parse(i)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| i.to_string())
    });
    out
}

/// The customer's file for `staff` (BOF-03, PRV-14), in `lang`: only while
/// an opening of this staff member for this customer lasts
/// ([`FileOutcome::NeedsPurpose`] otherwise). Shows what the role of the
/// opening's purpose may read, masked as declared, and writes the audit
/// record [`READ_ACTION`] with the register purpose and the fields shown.
/// "Not found" for an unknown customer or a staff member without file
/// rights.
pub async fn view(
    app: &App,
    staff: &StaffSession,
    customer_id: i64,
    lang: Language,
    request_id: &str,
) -> Result<FileOutcome, AppError> {
    require_file_rights(staff)?;
    let permissions = permissions()?;
    if repo::customer_number(app.db(), customer_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let now = app.clock().now().timestamp();
    let Some(access) = repo::active_access(app.db(), staff.staff_id, customer_id, now).await?
    else {
        return Ok(FileOutcome::NeedsPurpose);
    };
    let Some(open) = open_access(&access) else {
        return Ok(FileOutcome::NeedsPurpose);
    };
    let (Some(role), Some(rule)) = (
        permissions.for_purpose(staff, open.purpose),
        permissions.rule(open.purpose),
    ) else {
        // The role that opened it is gone: choose again.
        return Ok(FileOutcome::NeedsPurpose);
    };
    let record = customers::get(app.db(), app.keys(), customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut shown = Shown {
        permissions,
        role,
        lang,
        fields: Vec::new(),
    };
    let (personal, erased) = match &record.personal {
        Personal::Known(p) => (Some(p), false),
        Personal::Erased => (None, true),
    };
    let details = customer_details(&mut shown, &record, personal);

    let contracts = repo::contracts_of(app.db(), customer_id).await?;
    let open_plates = shown.allows("vehicles.licence_plate") || shown.allows("vehicles.vin");
    let lines = open_vehicles(app, contracts, lang, open_plates).await?;
    let contracts = shown.grid(
        &lines,
        &[
            ("contracts.contract_number", &|l: &ContractLine| {
                l.contract.contract_number.clone()
            }),
            ("contract_parties.role", &|l: &ContractLine| {
                code_name(lang, "documents.role", &l.contract.role)
            }),
            ("contracts.contract_type", &|l: &ContractLine| {
                code_name(lang, "contract.type", &l.contract.contract_type)
            }),
            ("contracts.status", &|l: &ContractLine| {
                code_name(lang, "contract.status", &l.contract.status)
            }),
            ("contract_versions.start_date", &|l: &ContractLine| {
                iso_date(lang, &l.contract.start_date)
            }),
            ("contract_versions.end_date", &|l: &ContractLine| {
                iso_date(lang, &l.contract.end_date)
            }),
            (
                "contract_versions.monthly_instalment_cents",
                &|l: &ContractLine| money(lang, l.contract.monthly_instalment_cents),
            ),
            ("vehicles.make", &|l: &ContractLine| l.contract.make.clone()),
            ("vehicles.model", &|l: &ContractLine| {
                l.contract.model.clone()
            }),
            ("vehicles.licence_plate", &|l: &ContractLine| {
                l.plate.clone()
            }),
            ("vehicles.vin", &|l: &ContractLine| l.vin.clone()),
        ],
    );

    let invoice_rows = repo::invoices_of(app.db(), customer_id, INVOICES_SHOWN).await?;
    let invoices = shown.grid(
        &invoice_rows,
        &[
            ("invoices.invoice_number", &|i: &FileInvoice| {
                i.invoice_number.clone()
            }),
            ("contracts.contract_number", &|i: &FileInvoice| {
                i.contract_number.clone()
            }),
            ("invoices.kind", &|i: &FileInvoice| {
                code_name(lang, "portal.invoice_kind", &i.kind)
            }),
            ("invoices.due_date", &|i: &FileInvoice| {
                iso_date(lang, &i.due_date)
            }),
            ("invoices.amount_cents", &|i: &FileInvoice| {
                money(lang, i.amount_cents)
            }),
            ("invoices.paid_cents", &|i: &FileInvoice| {
                money(lang, i.paid_cents)
            }),
            ("invoices.status", &|i: &FileInvoice| {
                code_name(lang, "portal.invoice_status", &i.status)
            }),
        ],
    );
    let unpaid = if [
        "invoices.amount_cents",
        "invoices.paid_cents",
        "invoices.status",
    ]
    .iter()
    .all(|f| shown.allows(f))
    {
        let (count, cents) = repo::unpaid_of(app.db(), customer_id).await?;
        for f in [
            "invoices.amount_cents",
            "invoices.paid_cents",
            "invoices.status",
        ] {
            shown.note(f);
        }
        Some((count, money(lang, cents)))
    } else {
        None
    };

    let fields = shown.fields;
    let mut tx = app.db().begin_write().await?;
    audit::record(
        &mut tx,
        app,
        AuditEntry {
            actor_kind: ActorKind::Staff,
            actor_id: Some(staff.staff_id),
            role: role.role.code().into(),
            action: READ_ACTION.into(),
            subject_id: Some(customer_id),
            purpose: rule.register_purpose.clone(),
            fields: fields.clone(),
            request_id: request_id_or_none(request_id),
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;

    Ok(FileOutcome::Open(Box::new(FileView {
        customer_id,
        customer_number: record.customer_number.clone(),
        role: role.role,
        purpose: open.purpose,
        purpose_name: crate::my_data::purpose_name(lang, &rule.register_purpose),
        reference: open.reference,
        opened_at: local_time(lang, open.opened_at),
        expires_at: local_time(lang, open.expires_at),
        erased,
        details,
        contracts,
        invoices,
        unpaid,
        fields,
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn staff(roles: &[Role]) -> StaffSession {
        StaffSession {
            id: 1,
            staff_id: 2,
            email: "agent@staff.example".into(),
            display_name: "Agent".into(),
            roles: roles.to_vec(),
            method: "password_totp".into(),
        }
    }

    fn shipped() -> &'static Permissions {
        match permissions() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn parse_modified(from: &str, to: &str) -> PermissionsError {
        let src = ROLES_TOML.replacen(from, to, 1);
        assert_ne!(src, ROLES_TOML, "{from} not in roles.toml");
        Permissions::parse(&src, privacy::register().unwrap()).expect_err("must be refused")
    }

    // PRV-14: the shipped permissions agree with the processing register:
    // every role once, every purpose, data category and field known.
    #[test]
    fn prv14_shipped_permissions_agree_with_the_register() {
        let p = shipped();
        assert_eq!(p.roles.len(), Role::ALL.len());
        let register = privacy::register().unwrap();
        for role in &p.roles {
            for c in &role.categories {
                assert!(
                    register.data_categories.iter().any(|d| d.id.get_ref() == c),
                    "{c}"
                );
            }
        }
        for rule in &p.purposes {
            assert!(register
                .purposes
                .iter()
                .any(|r| r.id.get_ref() == &rule.register_purpose));
        }
        assert_eq!(
            p.rule(FilePurpose::Request).unwrap().register_purpose,
            "answer_requests"
        );
        assert_eq!(
            p.rule(FilePurpose::InboundCall).unwrap().register_purpose,
            "answer_requests"
        );
        assert_eq!(
            p.rule(FilePurpose::CollectionCase)
                .unwrap()
                .register_purpose,
            "recover_debts"
        );
        assert!(p.rule(FilePurpose::InboundCall).unwrap().note_required);
        for field in SHOWN_FIELDS {
            assert!(p.category(field).is_some(), "{field}");
        }
    }

    // PRV-14, BOF-03: need to know — who may open files for what, and sees
    // which fields, masked how.
    #[test]
    fn prv14_roles_limit_purposes_categories_and_masks() {
        let p = shipped();
        let cs = p.role(Role::CustomerService).unwrap();
        assert_eq!(
            cs.purposes,
            [FilePurpose::Request, FilePurpose::InboundCall]
        );
        assert!(cs.may_read("contact_details") && cs.may_read("identity"));
        assert_eq!(cs.masked.get("customers.iban"), Some(&Mask::LastFour));
        let collections = p.role(Role::Collections).unwrap();
        assert_eq!(collections.purposes, [FilePurpose::CollectionCase]);
        assert!(collections.may_read("financial_data"));
        let security = p.role(Role::SecurityOfficer).unwrap();
        assert!(!security.may_read("bank_account") && !security.may_read("financial_data"));
        for none in [Role::Administrator, Role::Auditor] {
            let r = p.role(none).unwrap();
            assert!(r.purposes.is_empty() && r.categories.is_empty(), "{none}");
            assert!(p.purposes_of(&staff(&[none])).is_empty());
            assert!(matches!(
                search_keys(&staff(&[none])),
                Err(AppError::NotFound)
            ));
        }
        // Several roles: the first that allows the purpose decides.
        let both = staff(&[Role::Collections, Role::CustomerService]);
        assert_eq!(
            p.for_purpose(&both, FilePurpose::InboundCall).unwrap().role,
            Role::CustomerService
        );
        assert_eq!(
            p.for_purpose(&both, FilePurpose::CollectionCase)
                .unwrap()
                .role,
            Role::Collections
        );
        assert_eq!(p.purposes_of(&both), FilePurpose::ALL);
        // A security officer may not look people up by plate.
        let keys = search_keys(&staff(&[Role::SecurityOfficer])).unwrap();
        assert!(!keys.contains(&SearchKey::Plate) && keys.contains(&SearchKey::Email));
    }

    // PRV-14: a category, purpose, role or field the register does not
    // know is refused by name.
    #[test]
    fn prv14_unknown_ids_are_refused_by_name() {
        let e = parse_modified("\"contact_details\",", "\"gossip\",");
        assert!(e.to_string().contains("`gossip`"), "{e}");
        let e = parse_modified(
            "register_purpose = \"recover_debts\"",
            "register_purpose = \"sell_debts\"",
        );
        assert!(e.to_string().contains("`sell_debts`"), "{e}");
        let e = parse_modified("id = \"auditor\"", "id = \"janitor\"");
        assert!(e.to_string().contains("`janitor`"), "{e}");
        assert!(e.to_string().contains("`auditor` is not declared"), "{e}");
        let e = parse_modified(
            "field = \"customers.iban\"",
            "field = \"customers.shoe_size\"",
        );
        assert!(e.to_string().contains("`customers.shoe_size`"), "{e}");
        let e = parse_modified(
            "purposes = [\"collection_case\"]",
            "purposes = [\"curiosity\"]",
        );
        assert!(e.to_string().contains("`curiosity`"), "{e}");
        // Masking what the role cannot read at all is a mistake too.
        let e = parse_modified(
            "masked = []\n\n# Runs the system",
            "masked = [{ field = \"customers.iban\", show = \"last_four\" }]\n\n# Runs the system",
        );
        assert!(e.to_string().contains("customers.iban"), "{e}");
    }

    #[test]
    fn masks_hide_all_but_what_they_show() {
        assert_eq!(Mask::LastFour.apply("NL91ABNA0417164300"), "•••• 4300");
        assert_eq!(Mask::LastFour.apply("NL91 ABNA 0417 1643 00"), "•••• 4300");
        assert_eq!(Mask::LastFour.apply("123"), "••••");
        assert_eq!(Mask::Year.apply("1975-04-02"), "1975");
        assert_eq!(Mask::Year.apply("x"), "••••");
    }

    // BOF-03: typed keys normalize the way the indexes were filled.
    #[test]
    fn bof03_search_keys_normalize() {
        assert_eq!(plate_candidates("gbn-12-x"), ["GBN12X"]);
        assert_eq!(plate_candidates(" 1-abc-123 "), ["1ABC123"]);
        assert!(plate_candidates("???").is_empty());
        assert_eq!(phone_candidates("+31 6 1234 5678"), ["+31612345678"]);
        assert!(phone_candidates("06 12345678").contains(&"+31612345678".to_string()));
        assert!(phone_candidates("no number").is_empty());
        assert_eq!("plate".parse::<SearchKey>(), Ok(SearchKey::Plate));
        assert!("iban".parse::<SearchKey>().is_err());
    }

    // OPS-06: every label, kind and message this module looks up exists in
    // the three languages.
    #[test]
    fn every_key_exists() {
        let mut keys: Vec<String> = SHOWN_FIELDS.iter().map(|f| label_key(f)).collect();
        for k in ["person", "company"] {
            keys.push(format!("staff_customers.kind.{k}"));
        }
        for k in [
            "staff_customers.erased_value",
            "staff_customers.error.key",
            "staff_customers.error.query_empty",
            "staff_customers.error.query_long",
            "staff_customers.error.plate",
            "staff_customers.error.email",
            "staff_customers.error.phone",
            "staff_customers.error.purpose_missing",
            "staff_customers.error.purpose_not_allowed",
            "staff_customers.error.note_missing",
            "staff_customers.error.note_long",
            "staff_customers.error.reference_long",
            "staff_customers.error.reference_format",
            "staff_customers.error.request_unknown",
            "staff_customers.error.invoice_unknown",
            "documents.role.holder",
            "contract.type.financial_lease",
            "contract.status.active",
            "portal.invoice_kind.instalment",
            "portal.invoice_status.in_collection",
        ] {
            keys.push(k.to_string());
        }
        for lang in Language::ALL {
            for key in &keys {
                assert!(
                    i18n::catalogue(lang).get(key).is_some(),
                    "{}: {key}",
                    lang.code()
                );
            }
        }
    }
}
