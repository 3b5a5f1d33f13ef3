//! A tiny Chrome DevTools Protocol client for the browser tests: launches headless
//! Chromium with `--remote-debugging-port=0`, reads the WebSocket address it prints, and
//! speaks CDP over one synchronous WebSocket (tungstenite) with a flattened page session.
//!
//! Why not a CDP crate: chromiumoxide and headless_chrome generate bindings for the whole
//! protocol (minutes of compile time on two cores, for the dozen commands used here).

use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Where Chromium is: `QUARRY_CHROMIUM`, else Debian's `chromium` and common names on PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QUARRY_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type CdpResult<T> = Result<T, String>;

impl Browser {
    pub fn launch(chromium: &Path) -> CdpResult<Browser> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        // Chromium prints `DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID`.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                    sent = true;
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                return Err("Chromium did not print its DevTools address within 30 s".into());
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str()).map_err(|e| format!("connect {url}: {e}"))?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60)))
                .map_err(|e| e.to_string())?;
        }
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 1,
            _profile: profile,
        };
        let target = b.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?.to_string();
        let attached = b.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        b.session = attached["sessionId"].as_str().ok_or("no sessionId")?.to_string();
        b.page("Page.enable", json!({}))?;
        b.page("Runtime.enable", json!({}))?;
        b.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        // Record CSP violations and a marker for any script that is not ours.
        b.page(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"}),
        )?;
        Ok(b)
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> CdpResult<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .map_err(|e| format!("{method}: send: {e}"))?;
        loop {
            let m = self.ws.read().map_err(|e| format!("{method}: read: {e}"))?;
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("{method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// A command on the page session.
    pub fn page(&mut self, method: &str, params: Value) -> CdpResult<Value> {
        let s = self.session.clone();
        self.call(Some(&s), method, params)
    }

    /// Evaluates JavaScript in the page (promises awaited) and returns its value.
    pub fn eval(&mut self, expr: &str) -> CdpResult<Value> {
        let r = self.page(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(format!(
                "`{expr}` threw: {}",
                ex["exception"]["description"].as_str().unwrap_or(&ex.to_string())
            ));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expr` until it is truthy.
    pub fn wait_for(&mut self, expr: &str, what: &str) -> CdpResult<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.eval(expr)?;
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what} (`{expr}`)"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a URL and waits until the document has loaded.
    pub fn goto(&mut self, url: &str) -> CdpResult<()> {
        let r = self.page("Page.navigate", json!({"url": url}))?;
        if let Some(e) = r.get("errorText") {
            return Err(format!("navigate {url}: {e}"));
        }
        self.wait_for(
            &format!(
                "document.readyState === 'complete' && location.href.startsWith({})",
                json!(url.split('#').next().unwrap_or(url))
            ),
            &format!("{url} to load"),
        )?;
        Ok(())
    }

    /// Waits for the next document load after an action (a click on a link or a submit).
    pub fn wait_for_navigation_to(&mut self, url_prefix: &str) -> CdpResult<()> {
        self.wait_for(
            &format!(
                "document.readyState === 'complete' && location.href.startsWith({})",
                json!(url_prefix)
            ),
            &format!("navigation to {url_prefix}"),
        )?;
        Ok(())
    }

    /// Focuses an element and types text as keyboard input.
    pub fn type_into(&mut self, selector: &str, text: &str) -> CdpResult<()> {
        let ok = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.focus(); return true; }})()",
            json!(selector)
        ))?;
        if ok != json!(true) {
            return Err(format!("no element {selector}"));
        }
        self.page("Input.insertText", json!({"text": text}))?;
        Ok(())
    }

    /// Presses a key with modifiers (1 Alt, 2 Ctrl, 4 Meta, 8 Shift).
    pub fn key(&mut self, key: &str, code: &str, key_code: u32, modifiers: u32) -> CdpResult<()> {
        for ty in ["rawKeyDown", "keyUp"] {
            self.page(
                "Input.dispatchKeyEvent",
                json!({"type": ty, "key": key, "code": code, "windowsVirtualKeyCode": key_code, "modifiers": modifiers}),
            )?;
        }
        Ok(())
    }

    /// Clicks the middle of an element with the mouse.
    pub fn click(&mut self, selector: &str) -> CdpResult<()> {
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            json!(selector)
        ))?;
        let (Some(x), Some(y)) = (rect[0].as_f64(), rect[1].as_f64()) else {
            return Err(format!("no element {selector}"));
        };
        for ty in ["mousePressed", "mouseReleased"] {
            self.page(
                "Input.dispatchMouseEvent",
                json!({"type": ty, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )?;
        }
        Ok(())
    }

    /// Saves a PNG of the page (up to `max_height` CSS pixels of it).
    pub fn screenshot(&mut self, path: &Path, max_height: u32) -> CdpResult<()> {
        let h = self
            .eval("Math.ceil(document.documentElement.scrollHeight)")?
            .as_f64()
            .unwrap_or(1000.0) as u32;
        let height = h.clamp(600, max_height);
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        let shot = self.page("Page.captureScreenshot", json!({"format": "png"}))?;
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Emulates the dark color scheme (or the light one).
    pub fn dark(&mut self, on: bool) -> CdpResult<()> {
        self.page(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": if on { "dark" } else { "light" }}]}),
        )?;
        Ok(())
    }

    /// The CSP violations the page reported.
    pub fn csp_violations(&mut self) -> CdpResult<Vec<String>> {
        let v = self.eval("window.__csp || []")?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }
}
