//! Running a rule set over the data directory: validation, data checks, execution with
//! exclusions, findings, and (optionally) the findings store.

use crate::HuntError;
use crate::catalog::{DataDirCatalog, DataFacts};
use crate::fused::{SharedScans, Source};
use crate::report::{HuntPhases, RuleReport, RuleStatus, RunReport, RunStatus};
use crate::rule_run::{Prepared, RuleCtx, RuleOutcome};
use crate::selection::{LoadedRules, Selection};
use crate::store::FindingsStore;
use engine::{Engine, EngineConfig, TableCatalog};
use rules::{Level, Rule};
use schema::values::{format_datetime, parse_datetime};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The `now()` of a hunt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NowSpec {
    /// The wall clock when the hunt starts.
    WallClock,
    /// The newest event in the data directory (replaying an export).
    Latest,
    /// A given instant (nanoseconds since the Unix epoch).
    At(i64),
}

impl NowSpec {
    /// `latest`, `now`, or a datetime in any form Kusto accepts (`2024-05-07T12:00:00Z`).
    pub fn parse(text: &str) -> Result<NowSpec, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "latest" => Ok(NowSpec::Latest),
            "now" | "wall-clock" | "wallclock" => Ok(NowSpec::WallClock),
            _ => parse_datetime(text)
                .map(NowSpec::At)
                .ok_or_else(|| format!("`{text}` is not `latest`, `now` or a datetime (e.g. 2024-05-07T12:00:00Z)")),
        }
    }

    pub fn mode(self) -> &'static str {
        match self {
            NowSpec::WallClock => "wall_clock",
            NowSpec::Latest => "latest",
            NowSpec::At(_) => "explicit",
        }
    }
}

#[derive(Clone, Debug)]
pub struct HuntOptions {
    pub now: NowSpec,
    /// Rules run at the same time (0: one per core). DataFusion parallelizes each scan too.
    pub concurrency: usize,
    /// Result rows kept per rule (the rest are counted); 0: no limit.
    pub max_rows_per_rule: usize,
    /// Store the run and its findings in `<data>/quarry.db`.
    pub persist: bool,
    /// Rules that read the same table share one scan of it (see `fused`); off: every rule
    /// scans on its own. The results are the same either way.
    pub fused: bool,
    /// The memory the query engine may use before sorts and aggregations spill to disk
    /// (bytes; `None`: the engine's default).
    pub memory_limit: Option<usize>,
}

impl Default for HuntOptions {
    fn default() -> Self {
        HuntOptions {
            now: NowSpec::WallClock,
            concurrency: 0,
            max_rows_per_rule: 10_000,
            persist: true,
            fused: true,
            memory_limit: None,
        }
    }
}

/// Progress callbacks (called from worker threads).
pub trait HuntObserver: Sync {
    /// The rules are loaded and about to run.
    fn planned(&self, _rules: usize) {}
    /// Tables about to be read once for several rules (fused execution), before any rule
    /// starts.
    fn sharing(&self, _tables: &[String]) {}
    fn rule_started(&self, _rule: &Rule) {}
    fn rule_finished(&self, _report: &RuleReport) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl HuntObserver for Silent {}

/// The report of a rule whose preparation or run panicked.
fn internal_error(rule: &Rule) -> RuleOutcome {
    let mut r = RuleReport::new(rule);
    r.status = RuleStatus::Failed;
    r.message = Some("internal error while running the rule".into());
    (r, Vec::new())
}

/// Validates and plans every rule, on `threads` threads with the planner's stack (planning
/// and optimizing recurse over the query; the engine plans in place on them). Each thread
/// takes the next rule not yet taken: a few rules cost far more than the rest (their
/// constant subqueries run while planning). `None` for a rule whose preparation panicked.
fn prepare_all(ctx: &RuleCtx<'_>, rules: &[Rule], threads: usize) -> Vec<Option<Prepared>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Prepared>>> = rules.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let (Some(rule), Some(slot)) = (rules.get(i), slots.get(i)) else {
                break;
            };
            let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.prepare(rule))).ok();
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = prepared;
        }
    };
    std::thread::scope(|s| {
        let started = (0..threads.clamp(1, rules.len().max(1)))
            .filter(|_| {
                std::thread::Builder::new()
                    .name("quarry-prepare".into())
                    .stack_size(engine::PLANNER_STACK)
                    .spawn_scoped(s, work)
                    .is_ok()
            })
            .count();
        // No thread could start: prepare here (the engine starts its own for planning).
        if started == 0 {
            work();
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// Runs rule sets over one data directory.
#[derive(Clone, Debug)]
pub struct Hunter {
    data_dir: PathBuf,
}

/// The data facts and the resolved `now()` of a hunt about to run.
struct HuntSetup {
    facts: DataFacts,
    now: i64,
    mode: NowSpec,
}

impl Hunter {
    pub fn new(data_dir: impl Into<PathBuf>) -> Hunter {
        Hunter {
            data_dir: data_dir.into(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn prepare(&self, options: &HuntOptions) -> Result<HuntSetup, HuntError> {
        let dir = store::DataDir::open(&self.data_dir);
        let facts = DataFacts::read(&dir, options.now == NowSpec::Latest)?;
        let now = match options.now {
            NowSpec::WallClock => chrono::Utc::now()
                .timestamp_nanos_opt()
                .ok_or_else(|| HuntError::Selection("the clock is outside the datetime range".into()))?,
            NowSpec::At(n) => n,
            NowSpec::Latest => facts.latest().ok_or_else(|| {
                HuntError::NoData(format!(
                    "--now latest: the data directory {} has no events (generate or ingest telemetry first)",
                    self.data_dir.display()
                ))
            })?,
        };
        // Kusto datetimes have 100 ns ticks.
        let now = now - now.rem_euclid(100);
        Ok(HuntSetup {
            facts,
            now,
            mode: options.now,
        })
    }

    /// Loads the selection and hunts, blocking the calling thread (which must not be
    /// inside an async runtime; use [`Hunter::spawn`] from async code).
    pub fn run(
        &self,
        selection: &Selection,
        options: &HuntOptions,
        observer: &dyn HuntObserver,
    ) -> Result<RunReport, HuntError> {
        let prepared = self.prepare(options)?;
        let loaded = selection.load(&self.data_dir)?;
        let run_id = if options.persist {
            let mut store = FindingsStore::open(&self.data_dir)?;
            Some(store.begin_run(&format_datetime(prepared.now), prepared.mode.mode(), &loaded.label)?)
        } else {
            None
        };
        self.finish(run_id, prepared, loaded, options, observer)
    }

    /// Records a run in the findings store and hunts on a background thread. Returns the
    /// run id at once (the run shows as `running` until it ends) and the thread's handle.
    pub fn spawn(
        &self,
        selection: Selection,
        options: HuntOptions,
    ) -> Result<(i64, std::thread::JoinHandle<Result<RunReport, HuntError>>), HuntError> {
        let prepared = self.prepare(&options)?;
        let mut store = FindingsStore::open(&self.data_dir)?;
        let run_id = store.begin_run(&format_datetime(prepared.now), prepared.mode.mode(), &selection.label())?;
        let hunter = self.clone();
        let options = HuntOptions {
            persist: true,
            ..options
        };
        let handle = std::thread::Builder::new()
            .name(format!("hunt-{run_id}"))
            .spawn(move || match selection.load(&hunter.data_dir) {
                Ok(loaded) => hunter.finish(Some(run_id), prepared, loaded, &options, &Silent),
                Err(e) => {
                    if let Ok(mut s) = FindingsStore::open(&hunter.data_dir) {
                        let _ = s.fail_run(run_id, &e.to_string());
                    }
                    Err(e)
                }
            })
            .map_err(|e| HuntError::Runtime(format!("cannot start the hunt thread: {e}")))?;
        Ok((run_id, handle))
    }

    fn finish(
        &self,
        run_id: Option<i64>,
        prepared: HuntSetup,
        loaded: LoadedRules,
        options: &HuntOptions,
        observer: &dyn HuntObserver,
    ) -> Result<RunReport, HuntError> {
        let result = self.hunt(&prepared, loaded, options, observer);
        match (run_id, result) {
            (Some(id), Ok(mut report)) => {
                let mut store = FindingsStore::open(&self.data_dir)?;
                store.finish_run(id, &mut report)?;
                Ok(report)
            }
            (Some(id), Err(e)) => {
                if let Ok(mut s) = FindingsStore::open(&self.data_dir) {
                    let _ = s.fail_run(id, &e.to_string());
                }
                Err(e)
            }
            (None, r) => r,
        }
    }

    fn hunt(
        &self,
        prepared: &HuntSetup,
        loaded: LoadedRules,
        options: &HuntOptions,
        observer: &dyn HuntObserver,
    ) -> Result<RunReport, HuntError> {
        let started = Instant::now();
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let dir = store::DataDir::open(&self.data_dir);
        let schemas = dir.catalog()?;
        let catalog: Arc<dyn TableCatalog> = Arc::new(DataDirCatalog::new(dir));
        let engine = Engine::with_config(catalog.clone(), &EngineConfig::with_memory_limit(options.memory_limit))
            .map_err(|e| HuntError::Runtime(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()
            .map_err(|e| HuntError::Runtime(format!("cannot start the query runtime: {e}")))?;
        let rules = loaded.rules;
        observer.planned(rules.len());
        let base = Source { engine, catalog };
        let workers = match options.concurrency {
            0 => cores,
            n => n,
        }
        .clamp(1, rules.len().max(1));
        let ctx = RuleCtx {
            max_rows: options.max_rows_per_rule,
            ..RuleCtx::new(
                &base,
                schemas,
                &prepared.facts,
                prepared.now,
                runtime.handle().clone(),
                workers,
            )
        };
        let mut phases = HuntPhases::default();
        let mut lap = Instant::now();
        let mut next_phase = |into: &mut f64| {
            *into = lap.elapsed().as_secs_f64() * 1000.0;
            lap = Instant::now();
        };
        next_phase(&mut phases.setup_ms);
        let prepared_rules = prepare_all(&ctx, &rules, workers);
        next_phase(&mut phases.prepare_ms);
        let shared = if options.fused {
            let plans: Vec<Option<crate::fused::ShareInput<'_>>> = prepared_rules
                .iter()
                .map(|p| p.as_ref().and_then(Prepared::share))
                .collect();
            SharedScans::build(
                &plans,
                &base,
                runtime.handle(),
                base.engine.memory_limit() / 4,
                observer,
            )
        } else {
            SharedScans::none(rules.len())
        };
        next_phase(&mut phases.scans_ms);
        let next = AtomicUsize::new(0);
        let queue: Vec<Mutex<Option<Prepared>>> = prepared_rules.into_iter().map(Mutex::new).collect();
        let slots: Mutex<Vec<Option<RuleOutcome>>> = Mutex::new(vec![None; rules.len()]);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(rule) = rules.get(i) else { break };
                        observer.rule_started(rule);
                        let prepared = queue
                            .get(i)
                            .and_then(|q| q.lock().unwrap_or_else(PoisonError::into_inner).take());
                        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let prepared = prepared?;
                            let shared_tables = |t: &str| {
                                shared
                                    .table_for(i, t)
                                    .map(|m| m as Arc<dyn datafusion::catalog::TableProvider>)
                            };
                            Some(ctx.run(rule, prepared, &shared_tables))
                        }))
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| internal_error(rule));
                        observer.rule_finished(&out.0);
                        if let Some(slot) = slots.lock().unwrap_or_else(PoisonError::into_inner).get_mut(i) {
                            *slot = Some(out);
                        }
                    }
                });
            }
        });
        next_phase(&mut phases.runs_ms);
        drop(runtime);
        let mut reports = Vec::with_capacity(rules.len());
        let mut all_findings = Vec::new();
        for (report, mut findings) in slots
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .flatten()
        {
            findings.sort_by(|a, b| {
                (a.suppressed.is_some(), a.device_label(), &a.first_seen).cmp(&(
                    b.suppressed.is_some(),
                    b.device_label(),
                    &b.first_seen,
                ))
            });
            reports.push(report);
            all_findings.extend(findings);
        }
        let errors =
            reports.iter().any(|r| r.status.is_error()) || loaded.diagnostics.iter().any(|d| d.level == Level::Error);
        Ok(RunReport {
            run_id: None,
            status: if errors {
                RunStatus::Partial
            } else {
                RunStatus::Succeeded
            },
            started_at,
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            now: format_datetime(prepared.now),
            now_mode: prepared.mode.mode().to_string(),
            selection: loaded.label,
            load_diagnostics: loaded.diagnostics,
            rules: reports,
            shared_scans: shared.report,
            findings: all_findings,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            phases,
        })
    }
}
