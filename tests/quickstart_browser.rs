//! The quickstart page in headless Chromium: click "log in as admin", see the admin answer;
//! click "log in from a browser", pick a person on the fake DingTalk's login page, land on
//! `/me`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them), so it is
//! `#[ignore]`d: `cargo test -- --include-ignored` runs it and fails without chromedriver.
//! `QUICKSTART_SCREENSHOT=path.png` saves what the browser showed.

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Kills the chromedriver this test started (by its process id) and removes the profile.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin")])
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(chromedriver: &Path) -> (Driver, String) {
    let port = free_port();
    let profile = std::env::temp_dir().join(format!(
        "dingtalk-login-quickstart-{}-{port}",
        std::process::id()
    ));
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, profile };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(res) = reqwest::get(format!("{url}/status")).await {
            if res.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on {url} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, url)
}

async fn browser(driver_url: &str, profile: &Path) -> Client {
    let mut chrome = json!({
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,1100",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if let Some(binary) = find_program("CHROMIUM", &["chromium", "chromium-browser"]) {
        chrome["binary"] = json!(binary);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), chrome);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("a WebDriver session")
}

/// Clicks `button` and returns the texts of `#me` and `#admin` once both answered.
async fn log_in(client: &Client, button: &str) -> (String, String) {
    client
        .find(Locator::Css(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let wait = |css| {
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
    };
    let admin = wait("#admin[data-status]")
        .await
        .expect("the /admin answer appears");
    let me = wait("#me[data-status]").await.unwrap();
    (me.text().await.unwrap(), admin.text().await.unwrap())
}

async fn checks(client: Client, base: String) {
    client.goto(&format!("{base}/")).await.unwrap();
    let (me, admin) = log_in(&client, "#login-admin").await;
    assert!(admin.starts_with("200"), "the admin answer: {admin}");
    assert!(
        admin.contains(r#""area": "admin""#),
        "the admin answer: {admin}"
    );
    assert!(
        me.starts_with("200") && me.contains(r#""userid": "admin""#),
        "/me: {me}"
    );

    let (me, admin) = log_in(&client, "#login-employee").await;
    assert!(
        admin.starts_with("403") && admin.contains("forbidden"),
        "the employee's /admin: {admin}"
    );
    assert!(me.contains(r#""userid": "employee""#), "/me: {me}");

    web_login(&client, &base).await;

    if let Some(path) = std::env::var_os("QUICKSTART_SCREENSHOT") {
        log_in(&client, "#login-admin").await;
        std::fs::write(path, client.screenshot().await.unwrap()).unwrap();
    }
}

/// The third button: DingTalk's web login page (the fake's), the employee picked there, and
/// back through the callback to `/me`, as the browser follows every redirect itself.
async fn web_login(client: &Client, base: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    client
        .find(Locator::Css("#login-web"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let pick = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#pick-employee"))
        .await
        .expect("the fake DingTalk's login page lists the employee");
    assert!(
        !client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(base),
        "the login page is DingTalk's (the fake's), not the app's"
    );
    pick.click().await.unwrap();
    let body = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("body"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut url = client.current_url().await.unwrap();
    while url.path() != "/me" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        url = client.current_url().await.unwrap();
    }
    assert_eq!(url.as_str(), format!("{base}/me"), "lands on /me");
    let text = client
        .find(Locator::Css("body"))
        .await
        .unwrap_or(body)
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""userid":"employee""#), "/me: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn log_in_as_admin_in_chromium() {
    let Some(chromedriver) = find_program("CHROMEDRIVER", &["chromedriver"]) else {
        panic!("chromedriver is not installed (apt-get install chromium chromium-driver)");
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(quickstart::serve(listener));

    let (driver, driver_url) = start_driver(&chromedriver).await;
    let client = browser(&driver_url, &driver.profile).await;
    // The checks run in their own task, so the browser is closed whatever happened.
    let result = tokio::spawn(checks(client.clone(), base)).await;
    let _ = client.close().await;
    drop(driver);
    server.abort();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
