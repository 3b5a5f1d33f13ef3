//! Progress of long ingests and generations: bytes/s and rows/s on stderr (indicatif), drawn
//! only when asked for and when stderr is a terminal.

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    rows: Arc<AtomicU64>,
    count_rows: Arc<AtomicBool>,
    start: Instant,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").field("rows", &self.rows).finish()
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::hidden()
    }
}

impl Progress {
    /// A bar drawn on stderr when `visible`; indicatif draws nothing when stderr is not a
    /// terminal. Its length (bytes) is set by the operation with [`Progress::set_total`].
    pub fn new(visible: bool) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_draw_target(if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let template = "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress {
            bar,
            rows: Arc::new(AtomicU64::new(0)),
            count_rows: Arc::new(AtomicBool::new(false)),
            start: Instant::now(),
        }
    }

    pub fn hidden() -> Self {
        Progress::new(false)
    }

    pub fn set_total(&self, bytes: u64) {
        self.bar.set_length(bytes);
    }

    /// Measures the bar in rows instead of bytes (for the generator, which reads nothing).
    pub fn set_total_rows(&self, rows: u64) {
        self.count_rows.store(true, Ordering::Relaxed);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({per_sec})",
        ) {
            self.bar.set_style(style);
        }
        self.bar.set_length(rows);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn add_rows(&self, n: u64) {
        if self.count_rows.load(Ordering::Relaxed) {
            self.rows.fetch_add(n, Ordering::Relaxed);
            self.bar.inc(n);
            return;
        }
        let rows = self.rows.fetch_add(n, Ordering::Relaxed) + n;
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} rows ({}/s)",
            HumanCount(rows),
            HumanCount((rows as f64 / secs) as u64)
        ));
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
