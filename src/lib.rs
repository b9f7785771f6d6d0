#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

pub mod clock;
pub mod code;
pub mod config;
pub mod dingtalk;
pub mod employee;
pub mod enrich;
pub mod error;
pub mod guard;
pub mod login;
pub mod secret;
pub mod session;
pub mod store;
pub mod top;
pub mod user;
pub mod web;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

/// A boxed, `Send` future: what the crate's async traits return so they stay object-safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use error::{ConfigError, Error};
pub use login::{DingTalkLogin, Login};
