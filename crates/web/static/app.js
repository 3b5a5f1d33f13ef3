// Quarry SOC feed: progressive enhancements only. Every page works without this file.
"use strict";

(function () {
  // Copy buttons: copy the raw text kept in a hidden textarea next to highlighted code.
  function setupCopy() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
      var source = document.getElementById(btn.getAttribute("data-copy"));
      if (!source) return;
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var text = source.value;
        var done = function () {
          btn.textContent = "Copied";
          btn.classList.add("done");
          setTimeout(function () { btn.textContent = "Copy"; btn.classList.remove("done"); }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
        } else {
          fallbackCopy(text);
          done();
        }
      });
    });
  }

  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "visually-hidden";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing else to try */ }
    document.body.removeChild(ta);
  }

  // Feed: filter as you type. The server renders the list; we fetch only that part.
  function setupFilters() {
    var form = document.getElementById("filters");
    var results = document.getElementById("results");
    if (!form || !results) return;
    var timer = null;
    var inflight = null;
    function query() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (v, k) { if (String(v).trim() !== "") params.append(k, v); });
      return params;
    }
    function refresh() {
      var params = query();
      var qs = params.toString();
      history.replaceState(null, "", qs ? "/?" + qs : "/");
      params.append("partial", "1");
      if (inflight) inflight.abort();
      inflight = new AbortController();
      results.setAttribute("aria-busy", "true");
      fetch("/?" + params.toString(), { signal: inflight.signal, headers: { "Accept": "text/html" } })
        .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, text: t }; }); })
        .then(function (r) {
          if (r.ok) results.innerHTML = r.text;
          results.removeAttribute("aria-busy");
        })
        .catch(function () { results.removeAttribute("aria-busy"); });
    }
    form.addEventListener("input", function (e) {
      clearTimeout(timer);
      timer = setTimeout(refresh, e.target && e.target.type === "search" ? 160 : 0);
    });
    form.addEventListener("change", function (e) {
      if (e.target && e.target.tagName === "SELECT") { clearTimeout(timer); refresh(); }
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); clearTimeout(timer); refresh(); });
    document.addEventListener("keydown", function (e) {
      var q = document.getElementById("f-q");
      if (e.key === "/" && q && document.activeElement !== q && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
        e.preventDefault();
        q.focus();
      }
    });
  }

  // Console: run without reloading, cancel, page through results.
  function setupConsole() {
    var form = document.getElementById("console");
    var out = document.getElementById("console-results");
    if (!form || !out) return;
    var textarea = document.getElementById("q");
    var run = document.getElementById("run");
    var cancel = document.getElementById("cancel");
    var status = document.getElementById("status");
    var current = null;

    function finish(message) {
      current = null;
      run.disabled = false;
      cancel.hidden = true;
      status.textContent = message || "";
    }

    function load(url, init) {
      if (current) current.controller.abort();
      var controller = new AbortController();
      var runId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
      current = { controller: controller, runId: runId };
      run.disabled = true;
      cancel.hidden = false;
      status.textContent = "Running…";
      var started = performance.now();
      init = init || {};
      init.signal = controller.signal;
      if (init.body instanceof URLSearchParams) init.body.append("run_id", runId);
      fetch(url, init)
        .then(function (r) { return r.text(); })
        .then(function (html) {
          out.innerHTML = html;
          wireResults();
          finish("Done in " + Math.round(performance.now() - started) + " ms");
        })
        .catch(function (e) {
          finish(e && e.name === "AbortError" ? "Cancelled" : "The request failed");
        });
    }

    function submit() {
      var body = new URLSearchParams(new FormData(form));
      load("/console/run", { method: "POST", body: body, headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    }

    function wireResults() {
      out.querySelectorAll("a.page-link").forEach(function (a) {
        a.addEventListener("click", function (e) {
          e.preventDefault();
          load(a.getAttribute("href") + "&partial=1", { method: "GET" });
        });
      });
      // Clicking a diagnostic selects its span in the editor (spans are UTF-8 byte offsets).
      out.querySelectorAll("li[data-start]").forEach(function (li) {
        li.tabIndex = 0;
        li.classList.add("clickable");
        var select = function () {
          var bytes = new TextEncoder().encode(textarea.value);
          var toChars = function (n) { return new TextDecoder().decode(bytes.slice(0, Number(n))).length; };
          textarea.focus();
          textarea.setSelectionRange(toChars(li.getAttribute("data-start")), toChars(li.getAttribute("data-end")));
        };
        li.addEventListener("click", select);
        li.addEventListener("keydown", function (e) { if (e.key === "Enter") select(); });
      });
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    textarea.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
    });
    cancel.addEventListener("click", function () {
      if (!current) return;
      var body = new URLSearchParams();
      body.append("run_id", current.runId);
      fetch("/console/cancel", { method: "POST", body: body, headers: { "Content-Type": "application/x-www-form-urlencoded" } });
      current.controller.abort();
    });
    wireResults();
  }

  function init() {
    setupCopy();
    setupFilters();
    setupConsole();
    document.documentElement.setAttribute("data-js", "1");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
