//! Every JSON API endpoint, in process (the router without a socket), over a data directory
//! with the seed rules imported: good requests, and bad ones (unknown ids, malformed
//! queries, oversized bodies, bad filters, cross-site posts, missing tokens).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tower::ServiceExt;

const ACTION1: &str = "1525a733-192f-41f2-96ba-d3f631ca00d0";

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/tests/fixtures/seeds")
}

/// A data directory with the seeds imported (no telemetry).
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let report = rules::import_paths(&[seeds()]);
    let mut store = rules::RuleStore::open(dir.path()).unwrap();
    let rules = report.rules();
    assert_eq!(rules.len(), 4, "the five seed pages hold four rules (one twice)");
    for r in &rules {
        store.upsert(r, None).unwrap();
    }
    dir
}

fn app(dir: &Path, token: Option<&str>) -> Router {
    let mut config = web::ServeConfig::new(dir.to_path_buf());
    config.token = token.map(str::to_string);
    web::router(web::AppState::new(&config))
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Resp { status, headers, body }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap()
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn health_and_rule_list_with_filters() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, get("/api/health")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["rules"], 4);

    let r = send(&app, get("/api/rules")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["total"], 4);
    let dates: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");

    for (q, n) in [
        ("q=action1", 1),
        ("q=ACTION1%20signature", 1),
        ("q=nothing-like-this", 0),
        ("severity=medium", 3),
        ("technique=T1219", 4),
        ("tactic=command%20and%20control", 4),
        ("tactic=CommandAndControl", 4),
        ("table=DeviceFileCertificateInfo", 4),
        ("table=DeviceProcessEvents", 0),
        ("source=Azure-Sentinel", 3),
        ("data=missing", 4),
        ("data=present", 0),
        ("status=errors", 1),
        ("per_page=2&page=2", 4),
    ] {
        let r = send(&app, get(&format!("/api/rules?{q}"))).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
        assert_eq!(r.json()["total"], n, "{q}");
    }
    let r = send(&app, get("/api/rules?per_page=3&page=2")).await;
    assert_eq!(r.json()["rules"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn disabled_rules_are_listed_filtered_and_left_out_of_coverage() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    assert_eq!(send(&app, get("/api/coverage")).await.json()["rules"], 4);
    let mut store = rules::RuleStore::open(dir.path()).unwrap();
    assert!(store.set_enabled(ACTION1, false).unwrap());
    drop(store);
    // The snapshot notices a change of state even though no revision changed.
    for (q, n) in [("state=disabled", 1), ("state=enabled", 3), ("", 4)] {
        let v = send(&app, get(&format!("/api/rules?{q}"))).await.json();
        assert_eq!(v["total"], n, "{q}");
    }
    let r = send(&app, get("/api/rules?state=paused")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let v = send(&app, get("/api/coverage")).await.json();
    assert_eq!(v["rules"], 3);
    assert_eq!(v["rules_disabled"], 1);
    let page = send(&app, get(&format!("/rules/{ACTION1}"))).await.text();
    assert!(page.contains(">disabled<"), "the rule page says the rule is disabled");
}

#[tokio::test]
async fn bad_filters_are_400_json() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    for (q, word) in [
        ("severity=critical", "severity"),
        ("status=maybe", "status"),
        ("data=sometimes", "data filter"),
        ("tactic=Nope", "tactic"),
        ("page=0", "page"),
        ("per_page=x", "per_page"),
    ] {
        let r = send(&app, get(&format!("/api/rules?{q}"))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        let v = r.json();
        assert_eq!(v["status"], 400);
        assert!(v["error"].as_str().unwrap().contains(word), "{q}: {v}");
    }
}

#[tokio::test]
async fn one_rule_with_every_section() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, get(&format!("/api/rules/{ACTION1}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(
        v["rule"]["name"],
        "Remote Management and Montioring tool - Action1 - File Signature"
    );
    assert_eq!(v["rule"]["provenance"]["retrieved"], "2026-05-25T23:00:00Z");
    assert!(
        v["rule"]["enrichment"]["hunt_hypothesis"]
            .as_str()
            .unwrap()
            .starts_with("Adversaries may use")
    );
    assert_eq!(v["tables"], json!([{"name": "DeviceFileCertificateInfo", "rows": 0}]));
    assert_eq!(v["data"], "missing");
    assert_eq!(v["attack"]["techniques"][0]["id"], "T1219");
    assert_eq!(v["attack"]["techniques"][0]["name"], "Remote Access Tools");
    assert_eq!(
        v["attack"]["techniques"][0]["tactics"][0]["name"],
        "Command and Control"
    );
    assert!(v["definition_yaml"].as_str().unwrap().contains("relevantTechniques:"));
    let fps = v["false_positives"].as_array().unwrap();
    assert_eq!(fps.len(), 5);
    // The seed's exclusions use ECS-style fields (`process.name`): not columns of the table.
    assert_eq!(fps[0]["validation"]["status"], "unknown-columns");
    assert_eq!(v["validation"], "errors");
    assert!(v["query_diagnostics"].as_array().unwrap().is_empty());
    assert_eq!(
        v["findings"],
        json!([]),
        "no hunt has run yet: no findings, and none invented"
    );
    // Ids are matched case-insensitively (GUIDs come in both cases).
    let r = send(&app, get(&format!("/api/rules/{}", ACTION1.to_uppercase()))).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_rule_and_unknown_endpoint_are_404_json() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, get("/api/rules/00000000-0000-0000-0000-000000000000")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    let v = r.json();
    assert_eq!(v["status"], 404);
    assert!(v["error"].as_str().unwrap().contains("no rule with id"));
    // A prefix is not an id.
    let r = send(&app, get("/api/rules/1525a733")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, get("/api/nope")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["status"], 404);
    // Pages answer HTML 404s.
    let r = send(&app, get("/rules/nope")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("No rule with id"));
}

#[tokio::test]
async fn facets_tables_and_coverage() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let v = send(&app, get("/api/facets")).await.json();
    assert_eq!(v["tactics"][0]["value"], "CommandAndControl");
    assert_eq!(v["tactics"][0]["count"], 4);
    assert_eq!(v["techniques"][0]["label"], "T1219 Remote Access Tools");
    let r = send(&app, get("/api/tables")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["tables"], json!([]));

    let v = send(&app, get("/api/coverage")).await.json();
    assert_eq!(v["rules"], 4);
    assert_eq!(v["techniques_covered"], 1);
    assert_eq!(v["techniques_runnable"], 0);
    let tactics = v["tactics"].as_array().unwrap();
    assert_eq!(tactics.len(), 14);
    assert_eq!(tactics[0]["name"], "Reconnaissance");
    let c2 = tactics
        .iter()
        .find(|t| t["shortname"] == "command-and-control")
        .unwrap();
    let t1219 = c2["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "T1219")
        .unwrap();
    assert_eq!(t1219["cell"]["cannot_run"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn navigator_layer_format() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, get("/api/coverage/navigator")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let v = r.json();
    assert_eq!(v["domain"], "enterprise-attack");
    assert_eq!(
        v["versions"],
        json!({"attack": "18", "navigator": "5.1.0", "layer": "4.5"})
    );
    let t = &v["techniques"][0];
    assert_eq!(t["techniqueID"], "T1219");
    assert_eq!(t["score"], 0);
    assert_eq!(t["enabled"], true);
    assert_eq!(t["color"], "#f59e0b", "covered only by rules without data");
    assert!(
        t["comment"]
            .as_str()
            .unwrap()
            .contains("Missing data: Remote Management")
    );
    assert!(v["gradient"]["colors"].as_array().unwrap().len() >= 2);
    assert_eq!(v["legendItems"].as_array().unwrap().len(), 2);
    let page = send(&app, get("/coverage/navigator.json")).await;
    assert_eq!(page.json(), v);
}

#[tokio::test]
async fn query_runs_and_pages() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(
        &app,
        post_json(
            "/api/query",
            json!({"query": "range x from 1 to 250 step 1 | extend y = x * 2", "page_size": 100, "page": 3}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let t = &v["tables"][0];
    assert_eq!(t["total_rows"], 250);
    assert_eq!(t["pages"], 3);
    assert_eq!(t["page"], 3);
    assert_eq!(t["rows"].as_array().unwrap().len(), 50);
    assert_eq!(t["rows"][0], json!([201, 402]));
    assert_eq!(
        t["columns"],
        json!([{"name": "x", "type": "long"}, {"name": "y", "type": "long"}])
    );
    assert!(v["elapsed_ms"].as_f64().unwrap() > 0.0);
    let id = v["result_id"].as_str().unwrap();
    let r = send(&app, get(&format!("/api/query/{id}?page=1&page_size=10"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["tables"][0]["rows"][9], json!([10, 20]));
    let r = send(&app, get("/api/query/r-does-not-exist")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // now() is injectable.
    let r = send(
        &app,
        post_json(
            "/api/query",
            json!({"query": "print t = now()", "now": "2026-05-30T00:00:00Z"}),
        ),
    )
    .await;
    assert_eq!(r.json()["tables"][0]["rows"][0][0], "2026-05-30T00:00:00Z");
    let r = send(
        &app,
        post_json("/api/query", json!({"query": "print 1", "now": "soon"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A table the data directory has no rows for scans empty.
    let r = send(
        &app,
        post_json("/api/query", json!({"query": "DeviceFileCertificateInfo | count"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["tables"][0]["rows"][0][0], 0);
}

#[tokio::test]
async fn malformed_queries_are_400_with_spans() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let q = "DeviceFileCertificateInfo\n| where Signer has 'x' and";
    let r = send(&app, post_json("/api/query", json!({"query": q}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let v = r.json();
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["span"]["start"], q.len());
    assert_eq!(d["start"]["line"], 2);
    assert_eq!(d["start"]["column"], 27);

    // Semantic errors too (an unknown column), from the engine.
    let q = "DeviceFileCertificateInfo | where NoSuchColumn == 1";
    let r = send(&app, post_json("/api/query", json!({"query": q}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let d = &r.json()["diagnostics"][0];
    let (s, e) = (
        d["span"]["start"].as_u64().unwrap() as usize,
        d["span"]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&q[s..e], "NoSuchColumn");

    let r = send(&app, post_json("/api/validate", json!({"query": q}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["valid"], false);
    let r = send(&app, post_json("/api/validate", json!({"query": "print 1"}))).await;
    assert_eq!(r.json()["valid"], true);

    for body in [json!({"query": ""}), json!({"query": "  "}), json!({"nope": 1})] {
        let r = send(&app, post_json("/api/query", body.clone())).await;
        assert!(r.status.is_client_error(), "{body}");
        assert!(r.json()["error"].is_string());
    }
    let r = send(
        &app,
        Request::post("/api/query")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["status"], 400);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    // Larger than the body limit.
    let big = "x".repeat(web::MAX_BODY_BYTES + 10);
    let r = send(&app, post_json("/api/query", json!({ "query": big }))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["status"], 413);
    // Within the body limit but longer than a query may be.
    let long = format!("print '{}'", "y".repeat(70 * 1024));
    let r = send(&app, post_json("/api/query", json!({ "query": long }))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // The console form too.
    let r = send(
        &app,
        Request::post("/console/run")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("q={}", "z".repeat(web::MAX_BODY_BYTES + 1))))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn hunt_endpoints_without_a_hunt_component_are_501() {
    let dir = data_dir();
    let config = web::ServeConfig::new(dir.path().to_path_buf());
    let app = web::router(web::AppState::new(&config).with_hunts(None));
    for req in [
        get("/api/hunts"),
        get("/api/hunts/1"),
        get("/api/hunts/1/findings?format=csv"),
        post_json("/api/hunts", json!({"rules": [ACTION1]})),
        post_json("/api/findings/1/status", json!({"status": "closed"})),
    ] {
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
        assert!(r.json()["error"].as_str().unwrap().contains("no hunt component"));
    }
}

#[tokio::test]
async fn hunt_endpoints_bad_input() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, get("/api/hunts")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"runs": []}));
    for (req, status) in [
        (get("/api/hunts/12345"), StatusCode::NOT_FOUND),
        (get("/api/hunts/not-a-number"), StatusCode::NOT_FOUND),
        (
            post_json("/api/hunts", json!({"rules": ["00000000-0000-0000-0000-000000000000"]})),
            StatusCode::NOT_FOUND,
        ),
        // No telemetry: `latest` has no event to stand on.
        (
            post_json("/api/hunts", json!({"rules": [ACTION1]})),
            StatusCode::BAD_REQUEST,
        ),
        (
            post_json("/api/hunts", json!({"rules": [ACTION1], "now": "whenever"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            post_json("/api/findings/1/status", json!({"status": "maybe"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            post_json("/api/findings/999/status", json!({"status": "closed"})),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = send(&app, req).await;
        assert_eq!(r.status, status, "{}", r.text());
        assert!(r.json()["error"].is_string());
    }
}

#[tokio::test]
async fn cancel_unknown_run_is_404() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, post_json("/api/query/cancel", json!({"run_id": "nope"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn security_headers_host_and_cross_site_checks() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let r = send(&app, get("/")).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
    // No inline script or style anywhere in the page.
    let html = r.text();
    assert!(!html.contains("<script>") && !html.contains("style="), "{html}");
    // DNS rebinding: a foreign Host is refused when no token protects the server.
    let r = send(
        &app,
        Request::get("/api/health")
            .header(header::HOST, "evil.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
    // Cross-site POSTs are refused.
    let r = send(
        &app,
        Request::post("/api/query")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::ORIGIN, "http://evil.example")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"query":"print 1"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn static_assets_are_hashed_and_cached() {
    let dir = data_dir();
    let app = app(dir.path(), None);
    let html = send(&app, get("/")).await.text();
    let css = html
        .split("href=\"/static/app.")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let r = send(&app, get(&format!("/static/app.{css}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let r = send(&app, get("/static/app.0000.css")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn token_is_required_when_configured() {
    let dir = data_dir();
    let token = "correct-horse-battery-staple";
    let app = app(dir.path(), Some(token));
    let r = send(&app, get("/api/rules")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(r.json()["status"], 401);
    let r = send(
        &app,
        Request::get("/api/rules")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        Request::get("/api/rules")
            .header(header::AUTHORIZATION, "Bearer wrong")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Pages redirect to the sign-in form, which sets a cookie for the right token only.
    let r = send(&app, get("/rules/x")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/login?next=%2Frules%2Fx");
    let login = |t: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={t}&next=%2Fcoverage")))
            .unwrap()
    };
    let r = send(&app, login("nope")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.headers.contains_key(header::SET_COOKIE));
    let r = send(&app, login(token)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/coverage");
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains(token));
    let pair = cookie.split(';').next().unwrap();
    let r = send(
        &app,
        Request::get("/coverage")
            .header(header::COOKIE, pair)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // With a token, any Host is fine (the token is the protection).
    let r = send(
        &app,
        Request::get("/api/health")
            .header(header::HOST, "quarry.example:8080")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn non_loopback_needs_a_token() {
    let mut c = web::ServeConfig::new(PathBuf::from("x"));
    c.addr = "0.0.0.0:8080".parse().unwrap();
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("without an access token"), "{e}");
    c.token = Some("short".into());
    assert!(c.check().unwrap_err().to_string().contains("at least 16"));
    c.token = Some("a-long-enough-token".into());
    assert!(c.check().is_ok());
    c.addr = "[::1]:0".parse().unwrap();
    c.token = None;
    assert!(c.check().is_ok());
}

#[test]
fn a_finding_shows_its_evidence_rows_and_triage_history() {
    let dir = data_dir();
    let truth = store::generate(&store::GenerateConfig {
        devices: 10,
        days: 2,
        volume: 0.02,
        rmm_fraction: 0.5,
        lookalike_fraction: 0.2,
        tools: Some(vec!["Action1".into()]),
        seed: 11,
        ..store::GenerateConfig::new(store::Output::DataDir(dir.path().to_path_buf()))
    })
    .unwrap();
    let report = hunt::Hunter::new(dir.path())
        .run(
            &hunt::Selection::Store(vec![ACTION1.into()]),
            &hunt::HuntOptions {
                now: hunt::NowSpec::Latest,
                persist: true,
                ..hunt::HuntOptions::default()
            },
            &hunt::Silent,
        )
        .unwrap();
    let f = report
        .active_findings()
        .next()
        .expect("the seed rule finds the planted Action1");
    let id = f.id.expect("stored");
    // The hunter drives its own runtime; the web app gets a separate one.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(finding_page_checks(dir.path(), id, &truth));
}

async fn finding_page_checks(dir: &Path, id: i64, truth: &store::GroundTruth) {
    let app = app(dir, None);
    let r = send(
        &app,
        post_json(
            &format!("/api/findings/{id}/status"),
            json!({"status": "confirmed", "note": "seen <b>on</b> host"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let v = send(&app, get(&format!("/api/findings/{id}"))).await.json();
    assert_eq!(v["finding"]["rule_id"], ACTION1);
    assert_eq!(v["finding"]["status"], "confirmed");
    let columns: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["DeviceId", "DeviceName", "FirstSeen", "LastSeen", "Report", "Count"]
    );
    let rows = v["runs"][0]["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    let device = rows[0]["DeviceName"].as_str().unwrap();
    assert!(
        truth
            .planted
            .iter()
            .any(|p| p.tool == "Action1" && !p.lookalike && p.device_name == device),
        "the evidence row is a planted Action1 device"
    );
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["to"], "confirmed");
    assert_eq!(history.last().unwrap()["note"], "seen <b>on</b> host");

    let page = send(&app, get(&format!("/findings/{id}"))).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("Evidence") && html.contains(device));
    assert!(html.contains("seen &lt;b&gt;on&lt;/b&gt; host"), "notes are escaped");

    for missing in ["999999", "not-a-number"] {
        let r = send(&app, get(&format!("/api/findings/{missing}"))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            send(&app, get(&format!("/findings/{missing}"))).await.status,
            StatusCode::NOT_FOUND
        );
    }
}
