//! The app's own signed session: a JWT issued at login and verified on every request, so
//! later requests need no DingTalk call.

mod claims;
pub(crate) mod codec;
mod cookie;
mod keys;
mod verifier;

pub use claims::{Claims, UserView};
pub(crate) use codec::SessionCodec;
pub(crate) use cookie::CookieSettings;
pub use cookie::SameSite;
pub use keys::{Algorithm, SigningKey, VerifyingKey};
