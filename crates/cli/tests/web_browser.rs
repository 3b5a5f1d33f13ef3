//! The SOC feed end to end: `quarry serve` over a generated data directory with the seed
//! rules imported, driven by headless Chromium through the DevTools protocol. Screenshots
//! go to `target/screenshots/`.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it; `QUARRY_CHROMIUM` names another
//! binary). Without it the tests fail under CI (`CI` set) and are skipped, loudly, elsewhere.

use crate::support::cdp::Browser;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const ACTION1: &str = "1525a733-192f-41f2-96ba-d3f631ca00d0";

fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match crate::support::cdp::find_chromium() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => panic!(
            "{test}: Chromium not found. The browser tests need Debian's `chromium` package \
             (apt-get install -y chromium; .ci/run installs it) or QUARRY_CHROMIUM=/path/to/chrome"
        ),
        None => {
            eprintln!(
                "SKIPPED {test}: Chromium not found (apt-get install -y chromium, or set QUARRY_CHROMIUM). \
                 Under CI this is a failure."
            );
            None
        }
    }
}

fn quarry(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .arg("--data")
        .arg(data)
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run quarry");
    assert!(
        out.status.success(),
        "quarry {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/tests/fixtures")
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

/// `quarry serve` on a free loopback port; stopped (killed) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quarry"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0", "--query-timeout", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start quarry serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from quarry serve: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A plain HTTP GET (no browser), for asserting on the HTML as sent.
    fn get(&self, path: &str) -> String {
        let addr = self.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(b: &mut Browser, selector: &str) -> String {
    b.eval(&format!(
        "(document.querySelector({}) || {{}}).innerText || ''",
        json!(selector)
    ))
    .unwrap()
    .as_str()
    .unwrap_or("")
    .to_string()
}

fn count(b: &mut Browser, selector: &str) -> u64 {
    b.eval(&format!("document.querySelectorAll({}).length", json!(selector)))
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

fn no_csp_violations(b: &mut Browser, page: &str) {
    let v = b.csp_violations().unwrap();
    assert!(v.is_empty(), "{page}: Content-Security-Policy violations: {v:?}");
}

#[test]
fn soc_feed_in_a_browser() {
    let Some(chromium) = chromium_or_skip("soc_feed_in_a_browser") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    quarry(
        data.path(),
        &["rules", "import", fixtures().join("seeds").to_str().unwrap()],
    );
    quarry(
        data.path(),
        &[
            "generate",
            "--devices",
            "40",
            "--days",
            "3",
            "--volume",
            "0.2",
            "--start",
            "2026-05-21",
            "--seed",
            "7",
            "--tools",
            "Action1,AnyDesk,SupRemo",
            "--rmm-fraction",
            "0.3",
        ],
    );
    let truth: BTreeSet<String> = std::fs::read_to_string(data.path().join("ground-truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["tool"] == "Action1" && v["signal"] == "file_signature" && v["lookalike"] == false)
        .map(|v| v["device_name"].as_str().unwrap().to_string())
        .collect();
    assert!(!truth.is_empty(), "the generator planted Action1");

    let server = Server::start(data.path());
    let shots = screenshots();
    let mut b = Browser::launch(&chromium).unwrap();

    // The feed: four rules, newest first.
    b.goto(&server.url("/")).unwrap();
    b.wait_for("document.querySelectorAll('.rule-card').length === 4", "four rules")
        .unwrap();
    let first = text(&mut b, ".rule-card h2");
    assert!(
        first.contains("RemoteUtilities") || first.contains("SupRemo"),
        "{first}"
    );
    assert!(text(&mut b, ".feed-head .sub").contains("tables with data"));
    no_csp_violations(&mut b, "feed");
    b.screenshot(&shots.join("feed.png"), 1400).unwrap();

    // Filter as you type (no reload: a marker on window survives).
    b.eval("window.__sameDocument = 1").unwrap();
    b.type_into("#f-q", "action1").unwrap();
    b.wait_for(
        "document.querySelectorAll('.rule-card').length === 1",
        "the filtered feed",
    )
    .unwrap();
    assert_eq!(
        b.eval("window.__sameDocument").unwrap(),
        json!(1),
        "filtering reloaded the page"
    );
    assert!(
        b.eval("location.search")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("q=action1")
    );
    assert!(text(&mut b, "#result-count").contains("1 of 4"));
    b.screenshot(&shots.join("feed-filtered.png"), 1000).unwrap();
    // Filters by select work too, and without JavaScript through the URL.
    b.goto(&server.url("/?severity=medium&data=present")).unwrap();
    assert_eq!(count(&mut b, ".rule-card"), 3);

    // The Action1 page, opened from the feed.
    b.goto(&server.url("/?q=action1")).unwrap();
    b.click(".rule-card h2 a").unwrap();
    b.wait_for_navigation_to(&server.url(&format!("/rules/{ACTION1}")))
        .unwrap();
    b.wait_for(
        "document.querySelector('h1') && document.querySelector('h1').innerText.includes('Action1')",
        "the Action1 page",
    )
    .unwrap();
    let head = text(&mut b, ".rule-head");
    for want in [
        "Remote Management and Montioring tool - Action1 - File Signature",
        "kql",
        "MEDIUM",
        "Azure-Sentinel",
        "T1219",
        "Remote Access Tools",
        "huntingmicrosoftofficial",
        "enriched with AI",
        "View original rule at",
        "Retrieved: 2026-05-25T23:00:00Z",
        "Confidence: medium",
        "Run now",
    ] {
        assert!(head.contains(want), "rule header lacks {want:?}: {head}");
    }
    assert!(text(&mut b, ".crumbs").contains("← Back to SOC feed"));
    assert!(text(&mut b, ".crumbs").contains("Coverage →"));
    for (id, title) in [
        ("hypothesis", "Hunt Hypothesis"),
        ("query", "KQL Query"),
        ("definition", "Analytic Rule Definition"),
        ("attack", "MITRE ATT&CK Context"),
        ("references", "References"),
        ("false-positives", "False Positive Guidance"),
        ("data", "Data"),
        ("validation", "Validation"),
        ("findings", "Recent findings"),
    ] {
        let t = text(&mut b, &format!("#{id} h2"));
        assert_eq!(t.to_lowercase(), title.to_lowercase(), "section #{id}");
    }
    assert!(text(&mut b, "#hypothesis").contains("Adversaries may use remote management"));
    // Highlighted by Quarry's lexer.
    assert_eq!(text(&mut b, "#kql .k-tbl"), "DeviceFileCertificateInfo");
    assert!(count(&mut b, "#kql .k-kw") >= 5);
    assert!(text(&mut b, "#kql").contains("Signer has 'Action1 Corporation'"));
    assert!(text(&mut b, "#definition").contains("relevantTechniques:"));
    let attack = text(&mut b, "#attack");
    assert!(
        attack.contains("Command and Control (TA0011)") && attack.contains("Remote Access Tools"),
        "{attack}"
    );
    assert_eq!(count(&mut b, "#false-positives li.fp"), 5);
    assert_eq!(count(&mut b, "#false-positives .ex-status .badge"), 5);
    assert!(text(&mut b, "#false-positives").contains("process.parent_process_name != \"msiexec.exe\""));
    assert!(text(&mut b, "#false-positives").contains("unknown columns"));
    assert!(text(&mut b, "#validation").contains("Q303"));
    assert!(text(&mut b, "#data").contains("rows"));
    assert!(text(&mut b, ".source-line").contains("rmm_Action1_filesig.yaml"));
    // The copy button copies the raw query.
    assert_eq!(
        b.eval("document.querySelector('button.copy').hidden").unwrap(),
        json!(false)
    );
    b.click("#query button.copy").unwrap();
    b.wait_for(
        "document.querySelector('#query button.copy').innerText === 'Copied'",
        "the copy button",
    )
    .unwrap();
    no_csp_violations(&mut b, "rule page");
    b.screenshot(&shots.join("rule-action1.png"), 4000).unwrap();
    b.dark(true).unwrap();
    b.screenshot(&shots.join("rule-action1-dark.png"), 1400).unwrap();
    b.dark(false).unwrap();

    // The console: the Action1 rule's query, with now() inside the generated days.
    b.goto(&server.url("/console")).unwrap();
    let query = "DeviceFileCertificateInfo\n| where Timestamp between (now(-5d)..now())\n| where Signer has 'Action1 Corporation'\n| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp), Count=count() by DeviceId, DeviceName\n| order by DeviceName asc";
    b.type_into("#q", query).unwrap();
    b.type_into("#now", "2026-05-24T00:00:00Z").unwrap();
    b.eval("window.__sameDocument = 2").unwrap();
    b.click("#run").unwrap();
    b.wait_for("document.querySelector('#result-meta')", "console results")
        .unwrap();
    assert_eq!(
        b.eval("window.__sameDocument").unwrap(),
        json!(2),
        "running reloaded the page"
    );
    assert!(text(&mut b, "#result-meta").contains("Elapsed"));
    let headers = b
        .eval("[...document.querySelectorAll('#result-0 thead th')].map(th => th.firstChild.textContent)")
        .unwrap();
    assert_eq!(
        headers,
        json!(["#", "DeviceId", "DeviceName", "FirstSeen", "LastSeen", "Count"])
    );
    let names: BTreeSet<String> = b
        .eval("[...document.querySelectorAll('#result-0 tbody tr')].map(tr => tr.children[2].innerText)")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names, truth,
        "the console finds exactly the devices the generator planted Action1 on"
    );
    no_csp_violations(&mut b, "console");
    b.screenshot(&shots.join("console.png"), 1400).unwrap();

    // Ctrl+Enter runs; a time chart appears for datetime + numeric results.
    b.eval("document.querySelector('#q').value = ''").unwrap();
    b.type_into(
        "#q",
        "DeviceProcessEvents\n| summarize Events = count() by bin(Timestamp, 1h)\n| order by Timestamp asc",
    )
    .unwrap();
    b.key("Enter", "Enter", 13, 2).unwrap();
    b.wait_for("document.querySelector('figure.chart svg path.series')", "a time chart")
        .unwrap();
    b.screenshot(&shots.join("console-chart.png"), 1400).unwrap();

    // A malformed query: diagnostics listed and underlined at their span.
    b.eval("document.querySelector('#q').value = ''").unwrap();
    b.type_into("#q", "DeviceProcessEvents\n| where FileName == 'x' and\n| take 10")
        .unwrap();
    b.click("#run").unwrap();
    b.wait_for("document.querySelector('#diagnostics')", "diagnostics")
        .unwrap();
    assert!(
        text(&mut b, "#diagnostics").contains("2:"),
        "{}",
        text(&mut b, "#diagnostics")
    );
    assert!(
        count(
            &mut b,
            "#console-results mark.diag-error, #console-results mark.diag-point"
        ) >= 1
    );
    b.screenshot(&shots.join("console-error.png"), 1000).unwrap();

    // Coverage: T1219 shaded as covered by rules that can run; click-through to the rules.
    b.goto(&server.url("/coverage?only=covered")).unwrap();
    let class = b
        .eval("document.querySelector('a[href=\"/?technique=T1219\"]').parentElement.className")
        .unwrap();
    assert!(class.as_str().unwrap().starts_with("tech heat-"), "{class}");
    no_csp_violations(&mut b, "coverage");
    b.screenshot(&shots.join("coverage-covered.png"), 1000).unwrap();
    b.goto(&server.url("/coverage")).unwrap();
    b.screenshot(&shots.join("coverage.png"), 1200).unwrap();
    b.click("a[href=\"/?technique=T1219\"]").unwrap();
    b.wait_for(
        "document.querySelectorAll('.rule-card').length === 4",
        "rules for T1219",
    )
    .unwrap();

    // Run now: a hunt of the Action1 rule with now() = the newest event in the data.
    b.goto(&server.url(&format!("/rules/{ACTION1}"))).unwrap();
    b.click("#run-now").unwrap();
    b.wait_for_navigation_to(&server.url("/hunts/")).unwrap();
    let hunt_url = b.eval("location.href").unwrap().as_str().unwrap().to_string();
    for _ in 0..100 {
        if !text(&mut b, ".feed-head .sub").contains("running") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        b.goto(&hunt_url).unwrap();
    }
    let sub = text(&mut b, ".feed-head .sub");
    assert!(sub.contains("succeeded"), "{sub}");
    let main = text(&mut b, "main");
    assert!(main.to_lowercase().contains("action1 - file signature"), "{main}");
    let devices: BTreeSet<String> = b
        .eval("[...document.querySelectorAll('main section.panel tbody tr')].map(tr => tr.children[0].innerText)")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(devices, truth, "the hunt's findings are the planted devices");
    no_csp_violations(&mut b, "hunt");
    b.screenshot(&shots.join("hunt.png"), 1400).unwrap();
    // Triage the first finding.
    b.eval("document.querySelector('form.triage select').value = 'confirmed'")
        .unwrap();
    b.eval("window.__beforeTriage = 1").unwrap();
    b.click("form.triage button").unwrap();
    b.wait_for("window.__beforeTriage === undefined", "the triage post and redirect")
        .unwrap();
    b.wait_for("document.readyState === 'complete' && document.querySelector('form.triage select') && document.querySelector('form.triage select').value === 'confirmed'", "the triage status").unwrap();
    b.goto(&format!("{hunt_url}?group=device")).unwrap();
    assert_eq!(count(&mut b, "main section.panel") as usize, truth.len());
    b.screenshot(&shots.join("hunt-by-device.png"), 1400).unwrap();
    let run_id = hunt_url.rsplit('/').next().unwrap().to_string();
    let csv = server.get(&format!("/api/hunts/{run_id}/findings?format=csv"));
    assert!(csv.contains("finding_id,run_id,rule_id,rule_name,device"), "{csv}");
    assert!(csv.contains(",confirmed"), "{csv}");
    for d in &truth {
        assert!(csv.contains(d.as_str()), "{d} not in the CSV");
    }
    b.goto(&server.url("/hunts")).unwrap();
    assert!(text(&mut b, "main table").contains("succeeded"));
    b.screenshot(&shots.join("hunts.png"), 800).unwrap();
    // The rule page shows the findings.
    b.goto(&server.url(&format!("/rules/{ACTION1}"))).unwrap();
    let recent = text(&mut b, "#findings");
    for d in &truth {
        assert!(recent.contains(d.as_str()), "{d} not in recent findings: {recent}");
    }
}

/// Every rule field is untrusted: markup in a rule's name, description, query, references and
/// exclusions must show as text and never run.
#[test]
fn hostile_rule_text_never_executes() {
    let Some(chromium) = chromium_or_skip("hostile_rule_text_never_executes") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let id = "6f1c2d3e-4a5b-4c6d-8e7f-901234567890";
    let payload =
        r#"<script>window.__xss=1</script><img src=x onerror="window.__xss=2">"'><svg onload=window.__xss=3>"#;
    let yaml = format!(
        r#"id: {id}
name: 'Evil </title><script>window.__xss=4</script> "quoted" ''single'' rule'
description: |
  {payload}
  </textarea></pre><script>window.__xss=5</script>
severity: High
requiredDataConnectors:
  - connectorId: MicrosoftThreatProtection
    dataTypes:
      - DeviceProcessEvents
tactics:
  - Execution
relevantTechniques:
  - T1059
query: |
  DeviceProcessEvents
  | where ProcessCommandLine has "</script><script>window.__xss=6</script>"
  | extend x = '"><img src=x onerror=window.__xss=7>'
"#
    );
    let file = data.path().join("evil.yaml");
    std::fs::write(&file, yaml).unwrap();
    quarry(data.path(), &["rules", "import", file.to_str().unwrap()]);
    let server = Server::start(data.path());

    // As sent: escaped, and no inline script or event handler attribute survives.
    for path in ["/", &format!("/rules/{id}"), "/?q=evil"] {
        let html = server.get(path);
        assert!(html.contains("&lt;script&gt;window.__xss="), "{path}: not escaped");
        assert!(!html.contains("<script>window"), "{path}: a script tag got through");
        assert!(!html.contains("<img src=x"), "{path}: an img tag got through");
        assert!(!html.contains("<svg onload"), "{path}: an svg tag got through");
        assert!(
            html.contains("content-security-policy: default-src 'none'; script-src 'self'"),
            "{path}: no CSP"
        );
    }

    let mut b = Browser::launch(&chromium).unwrap();
    for path in [
        "/".to_string(),
        format!("/rules/{id}"),
        "/?q=evil".to_string(),
        format!("/console?q={}", web::feed::encode(payload)),
    ] {
        b.goto(&server.url(&path)).unwrap();
        // Let any injected script or failed image have its chance to run.
        b.eval("new Promise(r => setTimeout(r, 300))").unwrap();
        assert_eq!(
            b.eval("typeof window.__xss").unwrap(),
            json!("undefined"),
            "{path}: injected script ran"
        );
        no_csp_violations(&mut b, &path);
    }
    b.goto(&server.url(&format!("/rules/{id}"))).unwrap();
    let h1 = text(&mut b, "h1");
    assert_eq!(
        h1,
        "Evil </title><script>window.__xss=4</script> \"quoted\" 'single' rule"
    );
    assert!(text(&mut b, "#kql").contains("</script><script>window.__xss=6</script>"));
    assert!(
        b.eval("document.title")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("Evil </title>")
    );
    b.screenshot(&screenshots().join("hostile-rule.png"), 1600).unwrap();
}
