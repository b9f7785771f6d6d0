#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
// The HTTP core (`web`) and the login flows behind it are driven by the adapters; built with
// neither `tower` nor `actix`, most of it has no caller. CI lints the all-features build, where
// dead code is still an error.
#![cfg_attr(
    not(any(feature = "tower", feature = "actix")),
    allow(dead_code, unused_imports)
)]

mod cache;
pub mod clock;
mod code;
mod config;
pub mod dingtalk;
pub mod enrich;
mod error;
pub mod guard;
pub mod jsapi;
mod login;
mod metrics;
pub mod secret;
pub mod session;
pub mod store;
mod user;
pub mod web;

#[cfg(feature = "directory")]
#[cfg_attr(docsrs, doc(cfg(feature = "directory")))]
pub mod employee;
#[cfg(feature = "directory")]
#[cfg_attr(docsrs, doc(cfg(feature = "directory")))]
pub mod top;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

// Only trait implementations (extractors, `IntoResponse`): nothing to name.
#[cfg(feature = "axum")]
mod axum;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

/// A boxed, `Send` future: what the crate's async traits return so they stay object-safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use code::AuthCode;
pub use config::ConfigBuilder;
pub use error::{ConfigError, Error, SessionRejection, Unavailable, UpstreamDetail};
pub use login::{DingTalkLogin, Login};
pub use user::{CurrentUser, RequireAdmin, RequirePolicy, RequireSuperAdmin};
