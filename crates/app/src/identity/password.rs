//! Password rules and password hashing (ACC-02).
//!
//! Rules for a new password: 12 to 256 characters (Unicode scalar values),
//! no composition rules, not on the common-password list
//! (`crates/app/data/common-passwords.txt`, see the README next to it) and
//! not containing the account's e-mail address or its local part.
//!
//! Hashing: Argon2id with the OWASP parameters (m = 19,456 KiB, t = 2,
//! p = 1), stored as PHC strings. Every hash and verification runs on a
//! blocking thread and holds a permit of a semaphore, so a burst of logins
//! cannot starve the async runtime.

use argon2::password_hash::{Error as PhcError, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Fewest characters (Unicode scalar values) a new password may have.
pub const MIN_CHARS: usize = 12;
/// Most characters (Unicode scalar values) a new password may have.
pub const MAX_CHARS: usize = 256;

/// Argon2 memory cost in KiB (OWASP recommendation for Argon2id).
const M_COST: u32 = 19_456;
/// Argon2 iterations.
const T_COST: u32 = 2;
/// Argon2 parallelism.
const P_COST: u32 = 1;

/// The common-password list: lowercase, one password per line.
const LIST_TEXT: &str = include_str!("../../data/common-passwords.txt");

/// The parsed common-password list, built on first use.
static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();

fn list() -> &'static HashSet<&'static str> {
    LIST.get_or_init(|| LIST_TEXT.lines().filter(|line| !line.is_empty()).collect())
}

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_CHARS`] characters.
    TooShort,
    /// More than [`MAX_CHARS`] characters.
    TooLong,
    /// On the list of common or breached passwords.
    Common,
    /// Contains the e-mail address or its local part.
    ContainsEmail,
}

impl PasswordProblem {
    /// The message-catalogue key that explains the problem to the customer.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "password.too_short",
            Self::TooLong => "password.too_long",
            Self::Common => "password.common",
            Self::ContainsEmail => "password.contains_email",
        }
    }
}

/// Checks a password a customer chose (at registration, change or reset).
///
/// `email` is the account's e-mail address, when known. The checks run in
/// this order: length, common list, e-mail.
pub fn check_new_password(password: &str, email: Option<&str>) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if is_common(password) {
        return Err(PasswordProblem::Common);
    }
    if let Some(email) = email {
        if contains_email(password, email) {
            return Err(PasswordProblem::ContainsEmail);
        }
    }
    Ok(())
}

/// Whether the password, lowercased, is on the common-password list.
pub fn is_common(password: &str) -> bool {
    let lower = Zeroizing::new(password.to_lowercase());
    list().contains(lower.as_str())
}

/// Number of entries in the common-password list.
pub fn common_list_len() -> usize {
    list().len()
}

/// Whether the password contains the whole e-mail address, or its local
/// part when that has at least four characters (case-insensitive).
fn contains_email(password: &str, email: &str) -> bool {
    let password = Zeroizing::new(password.to_lowercase());
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return false;
    }
    if password.contains(email.as_str()) {
        return true;
    }
    let local = email
        .rsplit_once('@')
        .map_or(email.as_str(), |(local, _)| local);
    local.chars().count() >= 4 && password.contains(local)
}

/// Hashing or verification could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The Argon2 computation or its blocking task failed.
    #[error("password hashing failed")]
    Failed,
}

/// Argon2id password hasher with a bound on concurrent computations.
///
/// Cheap to clone; clones share the semaphore and the dummy hash.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    params: Params,
    /// Hash of a random password, verified for unknown accounts so that
    /// they take as long as known ones. `None` only if hashing failed at
    /// construction; then a fresh hash is computed instead.
    dummy: Option<Arc<str>>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &"argon2id")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher that runs at most `max_concurrent` hash computations at
    /// once (0: the number of available CPUs).
    ///
    /// Computes the dummy hash once (one Argon2 run, some tens of
    /// milliseconds), so build it once at start-up and clone it.
    pub fn new(max_concurrent: usize) -> Hasher {
        let max_concurrent = if max_concurrent == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            max_concurrent
        }
        .min(Semaphore::MAX_PERMITS);
        // These constants are valid; the default is the same parameter set.
        let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
        let mut random = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(random.as_mut());
        let dummy = match hash_blocking(&params, random.as_ref()) {
            Ok(phc) => Some(Arc::from(phc)),
            Err(_) => {
                tracing::error!("could not compute the dummy password hash");
                None
            }
        };
        Hasher {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            params,
            dummy,
        }
    }

    /// Hashes a password with a fresh random 16-byte salt; returns the PHC
    /// string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = Zeroizing::new(password.to_owned());
        let params = self.params.clone();
        self.run(move || hash_blocking(&params, password.as_bytes()))
            .await
    }

    /// Verifies a password against a stored PHC string.
    ///
    /// With `None` (no such account) the password is verified against the
    /// dummy hash and `false` returned, taking the same time as a real
    /// account. A stored hash that cannot be used (does not parse, unknown
    /// algorithm or parameters) gives `Ok(false)` and an error in the log.
    /// `Err` only when the computation itself could not run.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
        let password = Zeroizing::new(password.to_owned());
        let stored = phc.map(str::to_owned);
        let dummy = self.dummy.clone();
        let params = self.params.clone();
        self.run(move || {
            let Some(stored) = stored else {
                burn_time(&params, dummy.as_deref(), password.as_bytes());
                return Ok(false);
            };
            match verify_phc(&stored, password.as_bytes()) {
                Ok(matches) => Ok(matches),
                Err(reason) => {
                    tracing::error!(reason, "stored password hash cannot be used");
                    burn_time(&params, dummy.as_deref(), password.as_bytes());
                    Ok(false)
                }
            }
        })
        .await
    }

    /// Whether a stored hash was made with another algorithm, version or
    /// parameters than the current ones (or does not parse), so that it
    /// should be replaced after the next successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return true;
        };
        if hash.algorithm != Algorithm::Argon2id.ident()
            || hash.version != Some(Version::V0x13.into())
        {
            return true;
        }
        let Ok(stored) = Params::try_from(&hash) else {
            return true;
        };
        let current_len = self
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        stored.m_cost() != self.params.m_cost()
            || stored.t_cost() != self.params.t_cost()
            || stored.p_cost() != self.params.p_cost()
            || stored.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN) != current_len
            || stored.keyid() != self.params.keyid()
            || stored.data() != self.params.data()
    }

    /// Runs `work` on a blocking thread while holding a permit. The permit
    /// moves into the blocking task, so it is held until the computation
    /// ends even if the caller's future is dropped.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError::Failed)?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|_| HashError::Failed)?
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(params)
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| HashError::Failed)
}

/// `Ok(matches)`, or `Err(reason)` when the stored hash cannot be used.
fn verify_phc(stored: &str, password: &[u8]) -> Result<bool, &'static str> {
    let hash = PasswordHash::new(stored).map_err(|_| "does not parse")?;
    // The algorithm, version and parameters come from the PHC string.
    match Argon2::default().verify_password(password, &hash) {
        Ok(()) => Ok(true),
        Err(PhcError::Password) => Ok(false),
        Err(PhcError::Algorithm) => Err("unsupported algorithm"),
        Err(PhcError::Version) => Err("unsupported version"),
        Err(_) => Err("invalid parameters"),
    }
}

/// Spends the time of one verification without a real hash to check.
fn burn_time(params: &Params, dummy: Option<&str>, password: &[u8]) {
    match dummy {
        Some(dummy) => {
            let _ = verify_phc(dummy, password);
        }
        None => {
            let _ = hash_blocking(params, password);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        assert_eq!(
            check_new_password("abcdefghjk1", None),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(check_new_password("abcdefghjk1z", None), Ok(()));
        assert_eq!(check_new_password(&"xq7k".repeat(32), None), Ok(()));
        assert_eq!(check_new_password(&"zq8k".repeat(64), None), Ok(()));
        assert_eq!(
            check_new_password(&format!("{}w", "zq8k".repeat(64)), None),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(check_new_password("", None), Err(PasswordProblem::TooShort));
    }

    #[test]
    fn multibyte_characters_count_as_one() {
        // 11 characters, 22 bytes.
        let eleven = "ééééééééééé";
        assert_eq!(eleven.len(), 22);
        assert_eq!(
            check_new_password(eleven, None),
            Err(PasswordProblem::TooShort)
        );
        // 12 characters, 48 bytes.
        let twelve = "🚗🚙🚕🚗🚙🚕🚗🚙🚕🚗🚙🚕";
        assert_eq!(check_new_password(twelve, None), Ok(()));
        // 256 characters are fine, 257 are not, whatever the byte count.
        assert_eq!(check_new_password(&"é".repeat(256), None), Ok(()));
        assert_eq!(
            check_new_password(&"é".repeat(257), None),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn common_passwords_refused_case_insensitively() {
        for pw in [
            "password1234",
            "PASSWORD1234",
            "Password1234",
            "qwertyuiopasdfgh",
            "QwertyUiopAsdfgh",
            "passwordpassword",
            "123456789012",
            "1qaz2wsx3edc",
        ] {
            assert_eq!(
                check_new_password(pw, None),
                Err(PasswordProblem::Common),
                "{pw}"
            );
        }
        assert!(is_common("123456"));
        assert!(is_common("Password"));
        assert!(!is_common("correct horse battery staple 7f3"));
        assert_eq!(
            check_new_password("correct horse battery staple 7f3", None),
            Ok(())
        );
    }

    #[test]
    fn list_is_complete_and_lowercase() {
        // The 100,000 most common distinct passwords (ACC-02).
        assert_eq!(common_list_len(), 100_000);
        assert_eq!(LIST_TEXT.lines().count(), 100_000);
        for line in LIST_TEXT.lines() {
            assert!(!line.is_empty());
            assert_eq!(line, line.to_lowercase(), "not lowercase: {line:?}");
            assert!(!line.chars().any(char::is_control));
        }
        assert!(!LIST_TEXT.contains('\r'));
    }

    #[test]
    fn email_in_password_refused() {
        let email = Some("Jan.Peeters@example.be");
        assert_eq!(
            check_new_password("my jan.peeters secret", email),
            Err(PasswordProblem::ContainsEmail)
        );
        assert_eq!(
            check_new_password("xJAN.PEETERS@EXAMPLE.BEx", email),
            Err(PasswordProblem::ContainsEmail)
        );
        assert_eq!(check_new_password("jan peeters secret", email), Ok(()));
        // Local parts shorter than four characters are not checked.
        assert_eq!(
            check_new_password("bob likes long walks", Some("bob@example.nl")),
            Ok(())
        );
        assert_eq!(
            check_new_password("x bob@example.nl x", Some("bob@example.nl")),
            Err(PasswordProblem::ContainsEmail)
        );
        assert_eq!(
            check_new_password("annetje-2024-zomer", Some("annetje@example.nl")),
            Err(PasswordProblem::ContainsEmail)
        );
    }

    #[test]
    fn codes() {
        assert_eq!(PasswordProblem::TooShort.code(), "password.too_short");
        assert_eq!(PasswordProblem::TooLong.code(), "password.too_long");
        assert_eq!(PasswordProblem::Common.code(), "password.common");
        assert_eq!(
            PasswordProblem::ContainsEmail.code(),
            "password.contains_email"
        );
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = Hasher::new(2);
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let salt = PasswordHash::new(&phc).unwrap().salt.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(salt.decode_b64(&mut buf).unwrap().len(), 16);

        assert!(hasher
            .verify("correct horse battery staple", Some(&phc))
            .await
            .unwrap());
        assert!(!hasher
            .verify("correct horse battery stapl", Some(&phc))
            .await
            .unwrap());
        assert!(!hasher
            .verify("correct horse battery staple", None)
            .await
            .unwrap());
        assert!(!hasher
            .verify("anything", Some("not a phc string"))
            .await
            .unwrap());

        // Fresh salt every time.
        let again = hasher
            .clone()
            .hash("correct horse battery staple")
            .await
            .unwrap();
        assert_ne!(phc, again);
    }

    #[tokio::test]
    async fn rehash() {
        let hasher = Hasher::new(0);
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(!hasher.needs_rehash(&phc));

        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let old = weak
            .hash_password(b"correct horse battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.needs_rehash(&old));
        // Old hashes still verify.
        assert!(hasher
            .verify("correct horse battery staple", Some(&old))
            .await
            .unwrap());

        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default());
        let other = argon2i.hash_password(b"x", &salt).unwrap().to_string();
        assert!(hasher.needs_rehash(&other));
        assert!(hasher.needs_rehash("garbage"));
    }

    #[test]
    fn debug_shows_no_hash() {
        let hasher = Hasher::new(1);
        let shown = format!("{hasher:?}");
        assert!(!shown.contains('$'), "{shown}");
        assert!(shown.contains("max_concurrent: 1"));
    }
}
