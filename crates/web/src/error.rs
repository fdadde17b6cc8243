//! One error type for handlers. Converting it to a response is pure: it
//! sets the status and marks the response as an error page; the frame
//! middleware then renders the localized page (with the request id) for the
//! request's language. Internals are logged (no personal data), never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carfin_app::AppError;

/// What a handler can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebError {
    /// 400: a request no form of ours produces.
    BadRequest,
    /// 403: refused (CSRF check failed, or not allowed).
    Forbidden,
    /// 404: nothing there, or nothing the caller may see.
    NotFound,
    /// 422: the input was refused; (field, message key) pairs. Forms will
    /// re-render with these; until then a generic page.
    Invalid(Vec<(String, String)>),
    /// 500: something broke; the details went to the log.
    Internal,
}

/// Marks a response whose body the frame middleware replaces with the
/// localized error page for its status.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage;

/// Marks an error response whose body is meant as it is (operations
/// endpoints answering machines), so it is not turned into an HTML page.
#[derive(Debug, Clone, Copy)]
pub struct KeepBody;

impl WebError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest => StatusCode::BAD_REQUEST,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<AppError> for WebError {
    fn from(error: AppError) -> WebError {
        match error {
            AppError::NotFound => WebError::NotFound,
            AppError::Invalid(fields) => WebError::Invalid(fields),
            other => {
                // AppError's messages carry no personal data (see carfin-app).
                tracing::error!(error = %other, "request failed");
                WebError::Internal
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        error_page(self.status())
    }
}

/// An error-page response for any status.
pub(crate) fn error_page(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(ErrorPage);
    response
}

/// Which messages an error page shows for a status.
pub(crate) fn page_keys(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 | 405 | 411 | 415 | 422 => ("error.bad_request.title", "error.bad_request.text"),
        403 => ("error.forbidden.title", "error.forbidden.text"),
        404 => ("error.not_found.title", "error.not_found.text"),
        408 | 503 | 504 => ("error.unavailable.title", "error.unavailable.text"),
        413 => ("error.too_large.title", "error.too_large.text"),
        _ if status.is_client_error() => ("error.bad_request.title", "error.bad_request.text"),
        _ => ("error.internal.title", "error.internal.text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_errors_map_to_statuses() {
        assert_eq!(
            WebError::from(AppError::NotFound).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            WebError::from(AppError::Invalid(vec![])).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let internal = WebError::from(AppError::Config("secret detail".into()));
        assert_eq!(internal, WebError::Internal);
        let response = internal.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.extensions().get::<ErrorPage>().is_some());
    }
}
