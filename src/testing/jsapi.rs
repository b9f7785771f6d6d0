//! The new-style app token and the JSAPI ticket as the fake answers them: `POST
//! /v1.0/oauth2/accessToken`, `GET /get_jsapi_ticket` and `POST /v1.0/oauth2/jsapiTickets`,
//! with the new-style API's error answers (an HTTP error status and `{code, message,
//! requestid}`).
//!
//! Every ticket fetch mints a new ticket that replaces the previous one. DingTalk may renew
//! and return an unexpired ticket instead; the fake is stricter on purpose, so a test fails
//! when an app (or a cluster) fetches twice and signs with the older ticket.

use http::StatusCode;
use serde_json::{json, Map};

use super::oapi::{self, Params, Reply};
use super::state::{request_id, State};

/// A new-style API error: `status` with `{"code","message","requestid"}`.
pub(super) fn api_error(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::Json {
        status,
        body: json!({ "code": code, "message": message, "requestid": request_id() }),
    }
}

fn invalid_authentication() -> Reply {
    api_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthentication",
        "不合法的access_token",
    )
}

/// `POST /v1.0/oauth2/accessToken` with `{"appKey","appSecret"}`: the same token `gettoken`
/// hands out.
pub(super) fn access_token(state: &mut State, params: &Params) -> Reply {
    let key = params.text("appKey");
    let secret = params.text("appSecret");
    if !state.credentials_match(key.as_deref(), secret.as_deref()) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidClientIdOrSecret",
            "无效的clientId或者clientSecret",
        );
    }
    let (token, expires_in) = state.issue_token();
    Reply::Json {
        status: StatusCode::OK,
        body: json!({ "accessToken": token, "expireIn": expires_in }),
    }
}

/// `GET /get_jsapi_ticket?access_token=..`: a new ticket, replacing the previous one.
pub(super) fn get_jsapi_ticket(state: &mut State, params: &Params) -> Reply {
    if let Err(refused) = oapi::authorize(state, params) {
        return refused;
    }
    let (ticket, expires_in) = state.issue_jsapi_ticket();
    oapi::success(Map::from_iter([
        ("ticket".to_owned(), json!(ticket)),
        ("expires_in".to_owned(), json!(expires_in)),
    ]))
}

/// `POST /v1.0/oauth2/jsapiTickets` with the token in `x-acs-dingtalk-access-token`: a new
/// ticket, replacing the previous one.
pub(super) fn jsapi_tickets(state: &mut State, header_token: Option<&str>) -> Reply {
    if state.check_token(header_token).is_err() {
        return invalid_authentication();
    }
    let (ticket, expires_in) = state.issue_jsapi_ticket();
    Reply::Json {
        status: StatusCode::OK,
        body: json!({ "jsapiTicket": ticket, "expireIn": expires_in }),
    }
}
