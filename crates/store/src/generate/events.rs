//! The random draws of one device-day: a process tree of running programs and the events
//! they cause in each table, plus the RMM tool (or look-alike) planted on the device.
//!
//! Events are drawn as small descriptors (borrowing every string from the device, the
//! process images and the catalog) rather than rows: a unit of work sorts them by time and
//! only then writes rows (`emit`), so parts come out in time order without copying them.

use super::catalog::{DLLS, DOCUMENT_NAMES, DOMAINS, LOGON_TYPES, PROGRAMS, REGISTRY_KEYS};
use super::device::{DAILY, Device, Plant, PlantedEvent};
use super::process::{Image, Proc, program_images, program_index, program_weights, tick, time_in_day, weighted};
use super::rmm::{Signal, ToolProfile};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use schema::values::{NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_SECOND};
use std::sync::OnceLock;

/// What every event has: its time, report id and device.
#[derive(Clone, Copy, Debug)]
pub struct Head {
    pub time: i64,
    pub report: i64,
    /// Index of the device in the generated estate.
    pub device: usize,
}

/// A `DeviceProcessEvents` launch: `child` started by `parent`.
#[derive(Clone, Copy, Debug)]
pub struct ProcEv<'a> {
    pub head: Head,
    pub child: Proc<'a>,
    pub parent: Proc<'a>,
}

/// The remote address of a connection.
#[derive(Clone, Copy, Debug)]
pub enum RemoteIp {
    /// A destination's prefix (`"20.190.151."`) and last octet.
    Prefixed(&'static str, u8),
    Quad([u8; 4]),
}

#[derive(Clone, Copy, Debug)]
pub struct NetEv<'a> {
    pub head: Head,
    pub process: Proc<'a>,
    pub action: &'static str,
    pub remote_ip: RemoteIp,
    pub remote_port: i64,
    pub remote_url: &'a str,
    pub local_port: i64,
    pub remote_ip_type: &'static str,
}

/// The file a `DeviceFileEvents` row is about.
#[derive(Clone, Copy, Debug)]
pub enum FileTarget<'a> {
    /// A document in the user's Documents folder.
    Document { name: &'static str, user: &'a str },
    /// `tmpXXXXX.tmp` in the user's temp folder.
    Temp { n: u32, user: &'a str },
    /// A planted tool's binary.
    Tool(&'a Image),
}

#[derive(Clone, Copy, Debug)]
pub struct FileEv<'a> {
    pub head: Head,
    pub process: Proc<'a>,
    pub action: &'static str,
    pub target: FileTarget<'a>,
    pub size: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct RegEv<'a> {
    pub head: Head,
    pub process: Proc<'a>,
    pub action: &'static str,
    /// Index into [`REGISTRY_KEYS`].
    pub key: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct ImgEv<'a> {
    pub head: Head,
    pub process: Proc<'a>,
    /// Index into [`DLLS`].
    pub dll: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct LogonEv<'a> {
    pub head: Head,
    pub process: Proc<'a>,
    pub failed: bool,
    pub logon_type: &'static str,
    /// Index of the device user.
    pub user: usize,
    pub logon_id: i64,
    /// Last three octets of a `10.x.y.z` source, for network logons.
    pub remote: Option<[u8; 3]>,
}

/// A signed file's certificate.
#[derive(Clone, Copy, Debug)]
pub struct CertEv<'a> {
    pub head: Head,
    pub sha1: &'a str,
    pub signer: &'a str,
    pub issuer: &'a str,
}

/// The events of a unit of work, per table (in [`DAILY`] order).
pub struct Events<'a> {
    pub info: Vec<Head>,
    pub process: Vec<ProcEv<'a>>,
    pub network: Vec<NetEv<'a>>,
    pub file: Vec<FileEv<'a>>,
    pub registry: Vec<RegEv<'a>>,
    pub image_load: Vec<ImgEv<'a>>,
    pub logon: Vec<LogonEv<'a>>,
    pub certificate: Vec<CertEv<'a>>,
}

impl Events<'_> {
    /// Room for the events of `devices` device-days at `volume`.
    pub fn with_capacity(devices: usize, volume: f64) -> Self {
        let n = |t: usize| ((DAILY[t].1 as f64 * volume * 1.25) as usize + 8) * devices;
        Events {
            info: Vec::with_capacity(n(0)),
            process: Vec::with_capacity(n(1)),
            network: Vec::with_capacity(n(2)),
            file: Vec::with_capacity(n(3)),
            registry: Vec::with_capacity(n(4)),
            image_load: Vec::with_capacity(n(5)),
            logon: Vec::with_capacity(n(6)),
            certificate: Vec::with_capacity(n(7)),
        }
    }

    pub fn len(&self) -> usize {
        self.info.len()
            + self.process.len()
            + self.network.len()
            + self.file.len()
            + self.registry.len()
            + self.image_load.len()
            + self.logon.len()
            + self.certificate.len()
    }
}

/// Indices of programs used by name.
struct Known {
    services: usize,
    lsass: usize,
    explorer: usize,
    /// Programs with a code signature (candidates of certificate rows).
    signed: Vec<usize>,
}

fn known() -> &'static Known {
    static CELL: OnceLock<Known> = OnceLock::new();
    CELL.get_or_init(|| Known {
        services: program_index("services.exe"),
        lsass: program_index("lsass.exe"),
        explorer: program_index("explorer.exe"),
        signed: (0..PROGRAMS.len())
            .filter(|i| !PROGRAMS[*i].signer.is_empty())
            .collect(),
    })
}

fn logon_weights() -> &'static [u32] {
    static CELL: OnceLock<Vec<u32>> = OnceLock::new();
    CELL.get_or_init(|| LOGON_TYPES.iter().map(|l| l.1).collect())
}

/// An IPv4 octet in `range` (a subrange of 0..256).
fn octet(rng: &mut ChaCha8Rng, range: std::ops::Range<i32>) -> u8 {
    rng.random_range(range).clamp(0, 255) as u8
}

/// The issuer of the planted tools' certificates.
pub const TOOL_ISSUER: &str = "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1";

/// Draws one device-day into `out`; returns the planted events.
#[allow(clippy::too_many_arguments)]
pub fn draw_day<'a>(
    dev: &'a Device,
    day: u32,
    last_day: u32,
    day_start: i64,
    volume: f64,
    plants: &'a [Plant],
    rng: &mut ChaCha8Rng,
    out: &mut Events<'a>,
) -> Vec<PlantedEvent> {
    let images: &'a [Image] = program_images();
    let known = known();
    let mut report: i64 = ((day as i64) << 40) | ((dev.index as i64 & 0xF_FFFF) << 20);
    let mut head = move |time: i64| {
        report += 1;
        Head {
            time,
            report,
            device: dev.index,
        }
    };
    // The process tree: boot-time system processes, then the user's session.
    let boot = day_start + rng.random_range(0..NANOS_PER_HOUR);
    let mut pid = 4i64;
    let mut next_pid = |rng: &mut ChaCha8Rng| {
        pid += rng.random_range(4..400) * 4;
        pid
    };
    let services = Proc::new(&images[known.services], next_pid(rng), tick(boot), None, None);
    let lsass = Proc::new(&images[known.lsass], next_pid(rng), tick(boot), None, None);
    let explorer = Proc::new(
        &images[known.explorer],
        next_pid(rng),
        tick(boot + 7 * NANOS_PER_HOUR),
        None,
        Some(0),
    );
    let mut running: Vec<Proc<'a>> = Vec::with_capacity(40);
    for _ in 0..40 {
        let image = &images[weighted(rng, program_weights())];
        let (parent, user) = if image.user {
            (&explorer, Some(rng.random_range(0..dev.users.len().max(1))))
        } else {
            (&services, None)
        };
        let created = time_in_day(rng, day_start);
        running.push(Proc::new(image, next_pid(rng), created, Some(parent), user));
    }
    let scale = |n: u32, rng: &mut ChaCha8Rng| -> usize {
        let base = n as f64 * volume;
        let jitter = rng.random_range(0.8..1.2);
        (base * jitter).round() as usize
    };

    // DeviceInfo: a periodic snapshot.
    let n = scale(DAILY[0].1, rng).max(1);
    for i in 0..n {
        let t = tick(day_start + (i as i64 * NANOS_PER_DAY) / n as i64 + rng.random_range(0..60 * NANOS_PER_SECOND));
        out.info.push(head(t));
    }

    // DeviceProcessEvents: children of running processes.
    for _ in 0..scale(DAILY[1].1, rng) {
        let parent = running[rng.random_range(0..running.len())];
        let image = &images[weighted(rng, program_weights())];
        let t = time_in_day(rng, day_start);
        let child = Proc::new(image, next_pid(rng), t, Some(&parent), parent.user);
        out.process.push(ProcEv {
            head: head(t),
            child,
            parent,
        });
    }

    // DeviceNetworkEvents.
    let net_procs: Vec<usize> = (0..running.len()).filter(|i| running[*i].image.net).collect();
    for _ in 0..scale(DAILY[2].1, rng) {
        let process = running[*net_procs.choose(rng).unwrap_or(&0)];
        let t = time_in_day(rng, day_start);
        let h = head(t);
        let roll = rng.random_range(0..100);
        // Zipf-like choice of destination.
        let d = &DOMAINS[(rng.random_range(0.0f64..1.0).powi(2) * DOMAINS.len() as f64) as usize % DOMAINS.len()];
        let ev = if roll < 90 {
            // Drawn as i32, like every octet, so that a seed keeps its data.
            let remote_ip = RemoteIp::Prefixed(d.1, octet(rng, 2..250));
            let remote_port = if rng.random_bool(0.9) { 443 } else { 80 };
            NetEv {
                head: h,
                process,
                action: if roll < 85 {
                    "ConnectionSuccess"
                } else {
                    "ConnectionFailed"
                },
                remote_ip,
                remote_port,
                remote_url: d.0,
                local_port: rng.random_range(49152..65535),
                remote_ip_type: "Public",
            }
        } else {
            let remote_ip = RemoteIp::Quad([10, octet(rng, 0..4), octet(rng, 0..240), octet(rng, 2..250)]);
            NetEv {
                head: h,
                process,
                action: "InboundConnectionAccepted",
                remote_ip,
                remote_port: rng.random_range(49152..65535),
                remote_url: "",
                local_port: 445,
                remote_ip_type: "Private",
            }
        };
        out.network.push(ev);
    }

    // DeviceFileEvents.
    for _ in 0..scale(DAILY[3].1, rng) {
        let process = running[rng.random_range(0..running.len())];
        let t = time_in_day(rng, day_start);
        let h = head(t);
        let action = match rng.random_range(0..100) {
            0..=44 => "FileCreated",
            45..=84 => "FileModified",
            85..=94 => "FileRenamed",
            _ => "FileDeleted",
        };
        let doc = DOCUMENT_NAMES[rng.random_range(0..DOCUMENT_NAMES.len())];
        let user = process
            .user
            .and_then(|u| dev.users.get(u))
            .map(|u| u.name.as_str())
            .unwrap_or("Default");
        let target = if rng.random_bool(0.5) {
            FileTarget::Document { name: doc, user }
        } else {
            FileTarget::Temp {
                n: rng.random_range(0..100_000),
                user,
            }
        };
        out.file.push(FileEv {
            head: h,
            process,
            action,
            target,
            size: rng.random_range(100..5_000_000),
        });
    }

    // DeviceRegistryEvents.
    for _ in 0..scale(DAILY[4].1, rng) {
        let process = running[rng.random_range(0..running.len())];
        let t = time_in_day(rng, day_start);
        let h = head(t);
        let key = rng.random_range(0..REGISTRY_KEYS.len());
        let action = match rng.random_range(0..100) {
            0..=79 => "RegistryValueSet",
            80..=94 => "RegistryKeyCreated",
            _ => "RegistryValueDeleted",
        };
        out.registry.push(RegEv {
            head: h,
            process,
            action,
            key,
        });
    }

    // DeviceImageLoadEvents.
    for _ in 0..scale(DAILY[5].1, rng) {
        let process = running[rng.random_range(0..running.len())];
        let t = time_in_day(rng, day_start);
        let h = head(t);
        out.image_load.push(ImgEv {
            head: h,
            process,
            dll: rng.random_range(0..DLLS.len()),
        });
    }

    // DeviceLogonEvents.
    for _ in 0..scale(DAILY[6].1, rng) {
        let t = time_in_day(rng, day_start);
        let h = head(t);
        let failed = rng.random_bool(0.08);
        let logon_type = LOGON_TYPES[weighted(rng, logon_weights())].0;
        let user = rng
            .random_range(0..dev.users.len().max(1))
            .min(dev.users.len().saturating_sub(1));
        let logon_id = rng.random_range(100_000..10_000_000);
        let remote = (logon_type == "Network" || logon_type == "RemoteInteractive")
            .then(|| [octet(rng, 0..4), octet(rng, 0..240), octet(rng, 2..250)]);
        out.logon.push(LogonEv {
            head: h,
            process: lsass,
            failed,
            logon_type,
            user,
            logon_id,
            remote,
        });
    }

    // DeviceFileCertificateInfo: signatures of the files seen.
    for _ in 0..scale(DAILY[7].1, rng) {
        let idx = *known.signed.choose(rng).unwrap_or(&0);
        let t = time_in_day(rng, day_start);
        out.certificate.push(CertEv {
            head: head(t),
            sha1: &images[idx].sha1,
            signer: PROGRAMS[idx].signer,
            issuer: PROGRAMS[idx].issuer,
        });
    }

    // The planted tool (or look-alike).
    let mut planted = Vec::new();
    for plant in plants.iter().filter(|p| p.active(day, last_day)) {
        let tp: &'a ToolProfile = &plant.profile;
        let parent = if rng.random_bool(0.5) { services } else { explorer };
        let install = time_in_day(rng, day_start);
        let tool = Proc::new(&plant.image, next_pid(rng), install, Some(&parent), None);
        let mut record = |signal: Signal, h: Head| {
            planted.push(PlantedEvent {
                device: dev.index,
                tool: tp.tool.clone(),
                signal,
                lookalike: plant.lookalike,
                time: h.time,
                report_id: h.report,
            })
        };
        if tp.signals.contains(&Signal::FileSignature) {
            // The binary lands on disk, and its signature is recorded.
            out.file.push(FileEv {
                head: head(install),
                process: parent,
                action: if day == plant.install_day {
                    "FileCreated"
                } else {
                    "FileModified"
                },
                target: FileTarget::Tool(&plant.image),
                size: plant.image.size,
            });
            for _ in 0..rng.random_range(1..=2) {
                let h = head(time_in_day(rng, day_start));
                out.certificate.push(CertEv {
                    head: h,
                    sha1: &tp.sha1,
                    signer: &tp.signer,
                    issuer: TOOL_ISSUER,
                });
                record(Signal::FileSignature, h);
            }
        }
        if tp.signals.contains(&Signal::ProcessCreation) {
            for k in 0..rng.random_range(1..=3) {
                let t = if k == 0 { install } else { time_in_day(rng, day_start) };
                let h = head(t);
                let mut child = Proc::new(&plant.image, tool.pid + k * 4, t, Some(&parent), None);
                child.user = parent.user;
                out.process.push(ProcEv { head: h, child, parent });
                record(Signal::ProcessCreation, h);
            }
        }
        if tp.signals.contains(&Signal::NetworkConnection) {
            let hash = blake3::hash(tp.domain.as_bytes());
            let b = hash.as_bytes();
            let remote_ip = RemoteIp::Quad([20 + b[0] % 180, b[1], b[2], b[3] % 250 + 2]);
            for _ in 0..rng.random_range(2..=6) {
                let h = head(time_in_day(rng, day_start));
                out.network.push(NetEv {
                    head: h,
                    process: tool,
                    action: "ConnectionSuccess",
                    remote_ip,
                    remote_port: 443,
                    remote_url: &tp.domain,
                    local_port: rng.random_range(49152..65535),
                    remote_ip_type: "Public",
                });
                record(Signal::NetworkConnection, h);
            }
        }
    }
    planted
}

/// The catalog's registry keys, for the emitter.
pub fn registry_key(i: usize) -> (&'static str, &'static str, &'static str) {
    REGISTRY_KEYS.get(i).copied().unwrap_or(("", "", ""))
}

/// The catalog's libraries, for the emitter.
pub fn dll(i: usize) -> &'static str {
    DLLS.get(i).map_or("", |d| d.0)
}
