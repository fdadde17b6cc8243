//! What a form page needs to show again after a refusal: the values typed
//! (never passwords or codes) and the problems, each a message key for a
//! field, so the page lists them at the top and next to each field.

use carfin_app::AppError;

/// Typed values and the problems found with them.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    values: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

impl FormState {
    /// An empty form.
    pub fn new() -> FormState {
        FormState::default()
    }

    /// A form showing these values again.
    pub fn with_values(values: &[(&str, &str)]) -> FormState {
        FormState {
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            errors: Vec::new(),
        }
    }

    /// Adds a problem: (field, message key).
    pub fn error_on(mut self, field: &str, key: &str) -> FormState {
        self.errors.push((field.to_string(), key.to_string()));
        self
    }

    /// Adds the problems of a refusal; other errors are handed back.
    pub fn refused(mut self, error: AppError) -> Result<FormState, AppError> {
        match error {
            AppError::Invalid(problems) => {
                self.errors.extend(problems);
                Ok(self)
            }
            other => Err(other),
        }
    }

    /// The value typed into `name`.
    pub fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        !self.value(name).is_empty()
    }

    /// The first problem with `name`, as a message key.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every problem: (field, message key).
    pub fn errors(&self) -> &[(String, String)] {
        &self.errors
    }

    /// Whether there is any problem.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}
