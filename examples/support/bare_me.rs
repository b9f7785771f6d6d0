//! The `/me` body of the bench-only bare servers (`bare_axum`, `bare_actix`): the same fields,
//! shape and size as the example apps' `/me` for the fake's `admin` user.

use serde::Serialize;

/// The fields of the example apps' `/me`.
#[derive(Serialize)]
pub struct Me {
    userid: String,
    unionid: Option<String>,
    name: String,
    sys: bool,
    sys_level: u8,
    iat: i64,
    exp: i64,
}

/// The body for the fake's `admin` user.
pub fn me_body() -> Me {
    Me {
        userid: "admin".into(),
        unionid: Some("union-admin".into()),
        name: "Admin".into(),
        sys: true,
        sys_level: 1,
        iat: 1_780_000_000,
        exp: 1_780_028_800,
    }
}
