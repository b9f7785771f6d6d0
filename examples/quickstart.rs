//! The zero-config demo: a fake DingTalk in-process, the contract app, and a page to log in as
//! an admin or an employee, in-app (a code, as `dd.getAuthCode` gives) or from a browser
//! (DingTalk's web login page, here the fake's).
//!
//! ```text
//! cargo run --example quickstart --features "axum testing"              # then open the URL
//! cargo run --example quickstart --features "axum testing" -- --check   # the same flow, headless
//! ```
//!
//! `BIND` overrides the address (default `127.0.0.1:3000`; `--check` picks a free port unless
//! `BIND` is set). The session cookie is sent without `Secure` because the demo is plain http.
//! Tests include this file with `#[path = "../examples/quickstart.rs"] mod quickstart;` and
//! call [`serve`] and [`check`].

#[path = "axum_app.rs"]
mod axum_app;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dingtalk_login::testing::{FakeDingTalk, FakeUser};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use axum_app::AppEnv;

/// The demo's users: `(userid, name)`; the first is the super admin.
pub const ADMIN: (&str, &str) = ("admin", "Ada Admin");
/// The demo's employee (`sys_level` 0).
pub const EMPLOYEE: (&str, &str) = ("employee", "Eve Employee");

/// Serves the quickstart on `listener` until the task is dropped: starts the fake DingTalk,
/// builds the contract app with `COOKIE_SECURE=0` and a random session key, and adds the demo
/// page (`GET /`) and the demo code route (`POST /demo/code?user=admin|employee`). The
/// listener's address is the app's `PUBLIC_URL`, so the fake's web login page sends the
/// browser back to it.
///
/// # Errors
/// When the app cannot be built or the server fails.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    let public_url = format!("http://{}", listener.local_addr()?);
    let app = app(&public_url).await.map_err(io::Error::other)?;
    axum_app::serve(listener, app, std::future::pending()).await;
    Ok(())
}

/// The quickstart's router served at `public_url`, with its own fake DingTalk (kept alive by
/// the router) as OAPI, new-style API and web login page.
///
/// # Errors
/// When the login service cannot be built.
pub async fn app(public_url: &str) -> Result<axum_app::App, String> {
    let fake = FakeDingTalk::builder()
        .user(FakeUser::new(ADMIN.0, ADMIN.1).super_admin())
        .user(FakeUser::new(EMPLOYEE.0, EMPLOYEE.1))
        .start()
        .await;
    let secret: String = rand::rng()
        .random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let vars = [
        ("DINGTALK_APP_KEY", fake.app_key().to_owned()),
        ("DINGTALK_APP_SECRET", fake.app_secret().to_owned()),
        ("DINGTALK_OAPI_URL", fake.url()),
        ("DINGTALK_API_URL", fake.url()),
        ("DINGTALK_LOGIN_URL", fake.url()),
        ("PUBLIC_URL", public_url.to_owned()),
        ("SESSION_SECRET", secret),
        ("COOKIE_SECURE", "0".to_owned()),
    ];
    let env = AppEnv::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })?;
    let demo = Router::new()
        .route("/", get(page))
        .route("/demo/code", post(demo_code))
        .with_state(Arc::new(fake));
    axum_app::router_with(&env, demo)
}

#[derive(Deserialize)]
struct Who {
    user: String,
}

/// What a DingTalk client gets from `dd.getAuthCode`, minted by the fake. Demo only: a real
/// app has no such route.
async fn demo_code(State(fake): State<Arc<FakeDingTalk>>, Query(who): Query<Who>) -> Response {
    match who.user.as_str() {
        u if u == ADMIN.0 || u == EMPLOYEE.0 => {
            Json(json!({ "code": fake.mint_code(u) })).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "unknown_user", "message": "user must be admin or employee" })),
        )
            .into_response(),
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dingtalk-login quickstart</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
  button { font-size: 1rem; margin: 0 .5rem .5rem 0; padding: .4rem .8rem; }
  pre { background: #f4f4f4; padding: .75rem; white-space: pre-wrap; min-height: 1.2em; }
  h2 { font-size: 1rem; margin-bottom: .25rem; }
</style>
</head>
<body>
<h1>dingtalk-login quickstart</h1>
<p>A fake DingTalk runs inside this process. Pick who you are: the page gets a login code from
the fake (what <code>dd.getAuthCode</code> gives a real DingTalk client), POSTs it to
<code>/auth/dingtalk</code>, then asks <code>/me</code> and <code>/admin</code> with the session
cookie it got back.</p>
<p>
  <button id="login-admin" onclick="loginAs('admin')">log in as admin</button>
  <button id="login-employee" onclick="loginAs('employee')">log in as employee</button>
  <button id="login-web" onclick="location.href = '/auth/dingtalk/web?next=%2Fme'">log in from a browser (DingTalk web login)</button>
  <button id="logout" onclick="logout()">log out</button>
</p>
<p>The third button is the browser login: this page sends you to DingTalk's login page (the
fake's, listing its people), you pick who you are, and DingTalk sends you back to
<code>/auth/dingtalk/web/callback</code>, which signs you in and lands on <code>/me</code>.</p>
<p id="status">not logged in</p>
<h2>GET /me</h2><pre id="me"></pre>
<h2>GET /admin</h2><pre id="admin"></pre>
<h2>POST /auth/dingtalk</h2><pre id="login"></pre>
<script>
function setStatus(text) { document.getElementById('status').textContent = text; }

async function show(id, res, hideToken) {
  const text = await res.text();
  let body = text;
  try {
    const json = JSON.parse(text);
    if (hideToken && json.token) json.token = json.token.slice(0, 12) + '…';
    body = JSON.stringify(json, null, 2);
  } catch (_) {}
  const el = document.getElementById(id);
  el.textContent = res.status + ' ' + body;
  el.dataset.status = res.status;
}

async function refresh() {
  await show('me', await fetch('/me'));
  await show('admin', await fetch('/admin'));
}

async function loginAs(who) {
  for (const id of ['login', 'me', 'admin']) {
    const el = document.getElementById(id);
    el.textContent = '';
    delete el.dataset.status;
  }
  setStatus('logging in as ' + who + '…');
  try {
    const codeRes = await fetch('/demo/code?user=' + encodeURIComponent(who), { method: 'POST' });
    const { code } = await codeRes.json();
    const login = await fetch('/auth/dingtalk', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    await show('login', login, true);
    await refresh();
    setStatus(login.ok ? 'logged in as ' + who : 'login failed');
  } catch (e) {
    setStatus('error: ' + e);
  }
}

async function logout() {
  const res = await fetch('/auth/logout', { method: 'POST' });
  setStatus(res.ok ? 'logged out' : 'logout: ' + res.status);
  await refresh();
}
</script>
</body>
</html>
"#;

/// Runs the page's flow against `base` over HTTP: for the admin and the employee, get a code,
/// log in with it (same origin), and check `/me` (200) and `/admin` (200 for the admin, 403
/// for the employee); then log the admin out. Prints a line per step.
///
/// # Errors
/// What went wrong, as a message.
pub async fn check(base: &str) -> Result<(), String> {
    let page = reqwest::get(format!("{base}/"))
        .await
        .map_err(|e| e.to_string())?;
    expect("GET /", page.status().as_u16(), 200)?;
    let html = page.text().await.map_err(|e| e.to_string())?;
    if !html.contains("log in as admin") {
        return Err("the page has no \"log in as admin\" button".into());
    }
    for (who, admin_status) in [(ADMIN.0, 200), (EMPLOYEE.0, 403)] {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let code: Value = call(http.post(format!("{base}/demo/code?user={who}")), 200).await?;
        let code = code["code"].as_str().ok_or("no code from /demo/code")?;
        let login: Value = call(
            http.post(format!("{base}/auth/dingtalk"))
                .header("origin", base)
                .json(&json!({ "code": code })),
            200,
        )
        .await?;
        if login["user"]["userid"] != who || login["token_type"] != "Bearer" {
            return Err(format!(
                "unexpected login answer for {who}: {}",
                login["user"]
            ));
        }
        println!("check: {who}: POST /auth/dingtalk 200");
        let me: Value = call(http.get(format!("{base}/me")), 200).await?;
        if me["userid"] != who {
            return Err(format!("/me answered {me} for {who}"));
        }
        println!("check: {who}: GET /me 200 {me}");
        let admin: Value = call(http.get(format!("{base}/admin")), admin_status).await?;
        println!("check: {who}: GET /admin {admin_status} {admin}");
        if who == ADMIN.0 {
            let res = http
                .post(format!("{base}/auth/logout"))
                .header("origin", base)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            expect("POST /auth/logout", res.status().as_u16(), 204)?;
            let res = http
                .get(format!("{base}/me"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            expect("GET /me after logout", res.status().as_u16(), 401)?;
            println!("check: {who}: POST /auth/logout 204, then GET /me 401");
        }
    }
    check_web_login(base).await
}

/// The third button's flow: the web login's start route, the fake's login page, the employee
/// picked there, and back through the callback to `/me`.
async fn check_web_login(base: &str) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .map_err(|e| e.to_string())?;
    let page = http
        .get(format!("{base}/auth/dingtalk/web?next=%2Fme"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let login_page = page.url().clone();
    expect("the web login page", page.status().as_u16(), 200)?;
    let html = page.text().await.map_err(|e| e.to_string())?;
    let marker = format!("id=\"pick-{}\" href=\"", EMPLOYEE.0);
    let from = html
        .find(&marker)
        .ok_or("the login page does not list the employee")?
        + marker.len();
    let href = html[from..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&amp;", "&");
    let pick = login_page.join(&href).map_err(|e| e.to_string())?;
    let me: Value = call(http.get(pick), 200).await?;
    if me["userid"] != EMPLOYEE.0 {
        return Err(format!("the web login landed on {me}"));
    }
    println!(
        "check: {}: web login through the login page, then GET /me 200",
        EMPLOYEE.0
    );
    Ok(())
}

async fn call(req: reqwest::RequestBuilder, status: u16) -> Result<Value, String> {
    let res = req.send().await.map_err(|e| e.to_string())?;
    let got = res.status().as_u16();
    let url = res.url().path().to_owned();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if got != status {
        return Err(format!("{url} answered {got} (expected {status}): {body}"));
    }
    serde_json::from_str(&body)
        .map_err(|e| format!("{url} answered {got} with a body that is not JSON ({e}): {body}"))
}

fn expect(what: &str, got: u16, want: u16) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} answered {got}, expected {want}"))
    }
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> ExitCode {
    axum_app::support::init_tracing();
    let check_only = std::env::args().skip(1).any(|a| a == "--check");
    let bind: SocketAddr = match std::env::var("BIND").ok().filter(|b| !b.trim().is_empty()) {
        Some(b) => match b.trim().parse() {
            Ok(addr) => addr,
            Err(e) => {
                return fail(&format!(
                    "BIND {b:?} is not an address like 127.0.0.1:3000: {e}"
                ))
            }
        },
        None if check_only => SocketAddr::from(([127, 0, 0, 1], 0)),
        None => SocketAddr::from(([127, 0, 0, 1], 3000)),
    };
    let listener = match TcpListener::bind(bind).await {
        Ok(l) => l,
        Err(e) => {
            return fail(&format!(
                "cannot listen on {bind}: {e} (set BIND, e.g. BIND=127.0.0.1:3001)"
            ))
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => return fail(&e.to_string()),
    };
    let base = format!("http://{addr}");

    if check_only {
        let server = tokio::spawn(serve(listener));
        let result = check(&base).await;
        server.abort();
        return match result {
            Ok(()) => {
                println!("check: ok");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("check failed: {e}")),
        };
    }

    println!("listening on {base}");
    println!();
    println!("  Open {base}/ and click \"log in as admin\" or \"log in as employee\",");
    println!("  or \"log in from a browser\" for DingTalk's web (QR code) login page.");
    println!("  A fake DingTalk runs in this process; no DingTalk account is needed.");
    println!(
        "  Note: cookies are sent without Secure (COOKIE_SECURE=0) because this is plain http."
    );
    println!("  Stop with Ctrl-C.");
    let _ = io::stdout().flush();
    tokio::select! {
        result = serve(listener) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("server error: {e}")),
        },
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}

#[allow(dead_code)]
fn fail(msg: &str) -> ExitCode {
    eprintln!("quickstart: {msg}");
    ExitCode::FAILURE
}
