//! Shared state behind a login: the replay guard (single use of a code) and the revocation set
//! (logout). In-memory implementations here; Redis-backed ones for several instances.

mod replay;
mod revocation;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;

#[cfg(feature = "redis")]
pub(crate) use replay::CODE_LIFETIME;
pub use replay::{CodeClaim, MemoryReplayGuard, ReplayGuard};
pub use revocation::{MemoryRevocation, Revocation};
#[cfg_attr(not(feature = "redis"), allow(unused_imports))]
pub(crate) use revocation::{RevokedSessions, UserCutoffs};
