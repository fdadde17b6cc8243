//! Test support for carfin's integration tests: the whole application on a
//! random port with a fresh database ([`TestApp`]), a browser-like HTTP
//! client that keeps cookies and submits forms with their CSRF token
//! ([`Client`]), and a log capture for privacy assertions ([`LogCapture`]).
//!
//! SQLite by default; a fresh PostgreSQL database per test when
//! `CARFIN_TEST_POSTGRES` holds a connection URL (CI sets it).
//!
//! This crate exists only to be a dev-dependency: when setting up a test
//! fails, it panics with a clear message so the test fails loudly.
#![allow(clippy::panic)]

mod app;
mod client;
mod logs;
pub mod smtp;

pub use app::{Demo, TestApp, TestAppBuilder, POSTGRES_ENV};
pub use client::{form_token, Client, TestResponse};
pub use logs::LogCapture;
pub use smtp::SmtpServer;
