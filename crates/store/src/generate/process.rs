//! Processes: the images programs run from (with every string an event copies from them
//! computed once), the running processes of a device-day, and the random draws of times and
//! weighted choices every table uses.

use super::catalog::{PROGRAMS, Program};
use super::device::hex;
use super::rmm::{ToolProfile, fake_sha1};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use schema::values::{NANOS_PER_DAY, NANOS_PER_HOUR};
use std::sync::OnceLock;

/// The image of a process: its file and version info, as `InitiatingProcess*` and
/// `Process*` columns show them.
#[derive(Clone, Debug)]
pub struct Image {
    pub file: String,
    pub folder_path: String,
    pub company: String,
    pub product: String,
    pub version: String,
    pub description: String,
    pub sha1: String,
    pub sha256: String,
    pub md5: String,
    pub size: i64,
    pub cmd: String,
    /// Runs in the user's session (else as SYSTEM).
    pub user: bool,
    pub net: bool,
}

impl Image {
    fn of_program(p: &Program) -> Image {
        let label = format!("{}:{}", p.file, p.version);
        let h = blake3::hash(label.as_bytes());
        Image {
            file: p.file.to_string(),
            folder_path: format!("{}\\{}", p.folder.trim_end_matches('\\'), p.file),
            company: p.company.to_string(),
            product: p.product.to_string(),
            version: p.version.to_string(),
            description: p.description.to_string(),
            sha1: fake_sha1(&label),
            sha256: h.to_hex().to_string(),
            md5: hex(&format!("md5:{label}"), 32),
            size: 50_000 + (h.as_bytes()[0] as i64) * 20_000,
            cmd: if p.args.is_empty() {
                format!("\"{}\"", p.file)
            } else {
                format!("\"{}\" {}", p.file, p.args)
            },
            user: p.user,
            net: p.net,
        }
    }

    /// The image of a planted tool (or look-alike).
    pub fn of_tool(t: &ToolProfile) -> Image {
        Image {
            file: t.file_name.clone(),
            folder_path: t.folder.clone(),
            company: t.company.clone(),
            product: t.product.clone(),
            version: "1.0.0.0".to_string(),
            description: t.product.clone(),
            sha1: t.sha1.clone(),
            sha256: blake3::hash(t.sha1.as_bytes()).to_hex().to_string(),
            md5: hex(&t.sha1, 32),
            size: 3_500_000,
            cmd: format!("\"{}\" --service", t.folder),
            user: false,
            net: true,
        }
    }
}

/// The images of [`PROGRAMS`], in order.
pub fn program_images() -> &'static [Image] {
    static CELL: OnceLock<Vec<Image>> = OnceLock::new();
    CELL.get_or_init(|| PROGRAMS.iter().map(Image::of_program).collect())
}

pub fn program_index(file: &str) -> usize {
    PROGRAMS.iter().position(|p| p.file == file).unwrap_or(0)
}

/// A running process: the initiating process of events, or a process an event creates.
#[derive(Clone, Copy, Debug)]
pub struct Proc<'a> {
    pub image: &'a Image,
    pub pid: i64,
    pub created: i64,
    pub parent_file: &'a str,
    pub parent_pid: i64,
    pub parent_created: i64,
    /// Index of the device user it runs as; `None`: SYSTEM.
    pub user: Option<usize>,
}

impl<'a> Proc<'a> {
    pub fn new(image: &'a Image, pid: i64, created: i64, parent: Option<&Proc<'a>>, user: Option<usize>) -> Self {
        Proc {
            image,
            pid,
            created,
            parent_file: parent.map_or("", |p| p.image.file.as_str()),
            parent_pid: parent.map_or(4, |p| p.pid),
            parent_created: parent.map_or(created, |p| p.created),
            user,
        }
    }
}

/// Kusto's datetime resolution: 100 ns ticks.
pub fn tick(t: i64) -> i64 {
    t - t.rem_euclid(100)
}

/// A time in the day, weighted to working hours.
pub fn time_in_day(rng: &mut ChaCha8Rng, day_start: i64) -> i64 {
    let offset = if rng.random_bool(0.7) {
        8 * NANOS_PER_HOUR + rng.random_range(0..10 * NANOS_PER_HOUR)
    } else {
        rng.random_range(0..NANOS_PER_DAY)
    };
    tick(day_start + offset)
}

/// The index of an item drawn with the given weights (one draw).
pub fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    0
}

/// The start weights of [`PROGRAMS`].
pub fn program_weights() -> &'static [u32] {
    static CELL: OnceLock<Vec<u32>> = OnceLock::new();
    CELL.get_or_init(|| PROGRAMS.iter().map(|p| p.weight).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn program_images_hold_paths_and_command_lines() {
        let images = program_images();
        let explorer = &images[program_index("explorer.exe")];
        assert_eq!(explorer.file, "explorer.exe");
        assert!(
            explorer.folder_path.ends_with(r"\explorer.exe"),
            "{}",
            explorer.folder_path
        );
        assert!(explorer.cmd.starts_with("\"explorer.exe\""));
        assert_eq!(explorer.sha1.len(), 40);
        assert_eq!(explorer.sha256.len(), 64);
        assert_eq!(explorer.md5.len(), 32);
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut hits = [0usize; 3];
        for _ in 0..10_000 {
            hits[weighted(&mut rng, &[1, 0, 3])] += 1;
        }
        assert_eq!(hits[1], 0);
        assert!((2_200..2_800).contains(&hits[0]), "{hits:?}");
        assert_eq!(weighted(&mut rng, &[]), 0);
    }

    #[test]
    fn times_stay_in_their_day_on_ticks() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let day = 19_844 * NANOS_PER_DAY;
        for _ in 0..1_000 {
            let t = time_in_day(&mut rng, day);
            assert!((day..day + NANOS_PER_DAY).contains(&t));
            assert_eq!(t % 100, 0);
        }
    }
}
