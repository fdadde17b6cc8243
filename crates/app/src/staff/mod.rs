//! The back office's staff (BOF-01 … BOF-06, PRV-14): who they are, which
//! roles they hold, their sessions; the use cases of the back office live
//! in the submodules and check the staff member's roles and purpose
//! themselves.

pub mod auth;
pub mod customers;
pub mod import;
pub mod invoice_run;
pub mod oidc;
pub mod queues;
pub mod reconciliation;
pub mod review;

use crate::AppError;
use std::fmt;
use std::str::FromStr;

/// A staff role (BOF-01). What each may read, for which purpose, is
/// declared in `privacy/roles.toml` beside the processing register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    CustomerService,
    ContractAdministration,
    Collections,
    PrivacyOfficer,
    SecurityOfficer,
    Administrator,
    /// Read-only access to the audit log.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::CustomerService,
        Role::ContractAdministration,
        Role::Collections,
        Role::PrivacyOfficer,
        Role::SecurityOfficer,
        Role::Administrator,
        Role::Auditor,
    ];

    /// The stored code (also the message key suffix `staff.role.{code}`).
    pub fn code(self) -> &'static str {
        match self {
            Role::CustomerService => "customer_service",
            Role::ContractAdministration => "contract_administration",
            Role::Collections => "collections",
            Role::PrivacyOfficer => "privacy_officer",
            Role::SecurityOfficer => "security_officer",
            Role::Administrator => "administrator",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Role, ()> {
        Role::ALL.into_iter().find(|r| r.code() == s).ok_or(())
    }
}

/// A signed-in staff member (both factors passed, or single sign-on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// The session's id.
    pub id: i64,
    pub staff_id: i64,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// `password_totp` or `sso`.
    pub method: String,
}

impl StaffSession {
    /// Whether the staff member holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Refuses (as "not found", like every authorisation failure) unless
    /// the staff member holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The role recorded in audit records: the first held, in the order of
    /// [`Role::ALL`].
    pub fn audit_role(&self) -> &'static str {
        Role::ALL
            .into_iter()
            .find(|r| self.has(*r))
            .map_or("staff", Role::code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_codes_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.code().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
