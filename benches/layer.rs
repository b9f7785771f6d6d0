//! One request through the session layer + admin guard into a trivial handler (tower
//! `oneshot`, in-process) versus the bare handler: what the layers add per request.
//!
//! Run: `cargo bench --bench layer --features tower`.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dingtalk_login::dingtalk::DingTalkUser;
use dingtalk_login::guard::SysLevel;
use dingtalk_login::tower::{DingTalkLoginLayer, RequireSysLevel};
use dingtalk_login::DingTalkLogin;
use http::{Request, Response};
use tower::{service_fn, Layer, ServiceExt};

async fn handler(_req: Request<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::from("ok")))
}

fn layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let login = DingTalkLogin::builder()
        .app_key("k")
        .app_secret("s")
        .session_secret("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap();
    let user = DingTalkUser {
        userid: "manager4321".into(),
        unionid: Some("gliiW0piiii02zBUjUxxxx".into()),
        associated_unionid: None,
        name: "Zhang San".into(),
        device_id: None,
        sys: true,
        sys_level: SysLevel::SubAdmin,
    };
    let token = dingtalk_login::testing::mint_session(&login, &user);
    let bearer = format!("Bearer {token}");
    let request = || {
        Request::get("/admin")
            .header("authorization", bearer.as_str())
            .body(String::new())
            .unwrap()
    };

    let bare = service_fn(handler);
    c.bench_function("layer/bare_handler", |b| {
        b.iter(|| rt.block_on(bare.oneshot(black_box(request()))).unwrap())
    });

    let guarded = DingTalkLoginLayer::new(login.clone())
        .layer(RequireSysLevel::admin().layer(service_fn(handler)));
    let res = rt.block_on(guarded.clone().oneshot(request())).unwrap();
    assert_eq!(
        res.status(),
        200,
        "the bench must measure an admitted request"
    );
    c.bench_function("layer/session_and_admin_guard", |b| {
        b.iter(|| {
            rt.block_on(guarded.clone().oneshot(black_box(request())))
                .unwrap()
        })
    });
}

criterion_group!(benches, layer);
criterion_main!(benches);
