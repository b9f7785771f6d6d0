#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod code;
pub mod config;
pub mod dingtalk;
pub mod error;
pub mod guard;
pub mod login;
pub mod secret;
pub mod session;
pub mod store;
pub mod web;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

/// A boxed, `Send` future: what the crate's async traits return so they stay object-safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use error::{ConfigError, Error};
pub use login::{DingTalkLogin, Login};
