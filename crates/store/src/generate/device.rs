//! One device's telemetry for one day: a process tree of running programs, and the events
//! they cause in each table, plus the RMM tool (or look-alike) planted on the device.

use super::catalog::{self, DLLS, DOMAINS, PROGRAMS, Program};
use super::rmm::{Signal, ToolProfile, fake_sha1};
use super::sink::Sink;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use schema::values::{NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_SECOND};
use std::fmt::Write;
use std::sync::OnceLock;

pub const TENANT_ID: &str = "4f1c8a2e-7b3d-4e6f-9a0b-1c2d3e4f5a6b";
pub const DOMAIN: &str = "CONTOSO";

/// Events per device per day at volume 1.0, in Defender's rough proportions.
pub const DAILY: [(&str, u32); 8] = [
    ("DeviceInfo", 24),
    ("DeviceProcessEvents", 1200),
    ("DeviceNetworkEvents", 2000),
    ("DeviceFileEvents", 1500),
    ("DeviceRegistryEvents", 1500),
    ("DeviceImageLoadEvents", 2500),
    ("DeviceLogonEvents", 30),
    ("DeviceFileCertificateInfo", 80),
];

pub struct User {
    pub name: String,
    pub upn: String,
    pub sid: String,
    pub object_id: String,
}

pub struct Device {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub ip: String,
    pub platform: &'static str,
    pub build: i64,
    pub aad_id: String,
    pub vendor: &'static str,
    pub model: &'static str,
    pub users: Vec<User>,
}

fn hex(label: &str, len: usize) -> String {
    let h = blake3::hash(label.as_bytes()).to_hex();
    h[..len.min(64)].to_string()
}

fn guid(label: &str) -> String {
    let h = hex(label, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Device {
    pub fn new(index: usize, seed: u64, rng: &mut ChaCha8Rng) -> Device {
        let dept = catalog::DEPARTMENTS[index % catalog::DEPARTMENTS.len()];
        let server = index % 25 == 24;
        let name = if server {
            format!("srv-{}-{:04}.contoso.com", dept.to_lowercase(), index)
        } else {
            format!("ws-{}-{:04}.contoso.com", dept.to_lowercase(), index)
        };
        let (platform, build) = if server {
            ("WindowsServer2022", 20348)
        } else if index.is_multiple_of(3) {
            ("Windows10", 19045)
        } else {
            ("Windows11", 22631)
        };
        let n_users = if server { 1 } else { rng.random_range(1..=2) };
        let users = (0..n_users)
            .map(|u| {
                let first = catalog::FIRST_NAMES[rng.random_range(0..catalog::FIRST_NAMES.len())];
                let last = catalog::LAST_NAMES[rng.random_range(0..catalog::LAST_NAMES.len())];
                let name = format!("{first}.{last}");
                User {
                    upn: format!("{name}@contoso.com"),
                    sid: format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1100 + index * 3 + u),
                    object_id: guid(&format!("{seed}:user:{index}:{u}")),
                    name,
                }
            })
            .collect();
        let vendors = [
            ("Dell Inc.", "Latitude 5440"),
            ("LENOVO", "ThinkPad T14 Gen 4"),
            ("HP", "EliteBook 840 G10"),
        ];
        let (vendor, model) = vendors[index % vendors.len()];
        Device {
            index,
            id: hex(&format!("{seed}:device:{index}"), 40),
            name,
            ip: format!("10.{}.{}.{}", 10 + index / 60000, (index / 250) % 240, index % 250 + 2),
            platform,
            build,
            aad_id: guid(&format!("{seed}:aad:{index}")),
            vendor,
            model,
            users,
        }
    }
}

/// A running process: the initiating process of events.
struct Proc {
    file: String,
    folder_path: String,
    company: String,
    product: String,
    version: String,
    description: String,
    sha1: String,
    sha256: String,
    md5: String,
    size: i64,
    pid: i64,
    cmd: String,
    created: i64,
    parent_file: String,
    parent_pid: i64,
    parent_created: i64,
    user: Option<usize>,
    net: bool,
    unique_id: String,
}

struct ProgramHashes {
    sha1: String,
    sha256: String,
    md5: String,
    size: i64,
}

fn program_hashes() -> &'static [ProgramHashes] {
    static CELL: OnceLock<Vec<ProgramHashes>> = OnceLock::new();
    CELL.get_or_init(|| {
        PROGRAMS
            .iter()
            .map(|p| {
                let label = format!("{}:{}", p.file, p.version);
                let h = blake3::hash(label.as_bytes());
                ProgramHashes {
                    sha1: fake_sha1(&label),
                    sha256: h.to_hex().to_string(),
                    md5: hex(&format!("md5:{label}"), 32),
                    size: 50_000 + (h.as_bytes()[0] as i64) * 20_000,
                }
            })
            .collect()
    })
}

fn program_index(file: &str) -> usize {
    PROGRAMS.iter().position(|p| p.file == file).unwrap_or(0)
}

/// Precomputed column indices of the `InitiatingProcess*` columns of one table.
struct IpCols {
    c: [usize; 27],
}

const IP_NAMES: [&str; 27] = [
    "InitiatingProcessSHA1",
    "InitiatingProcessSHA256",
    "InitiatingProcessMD5",
    "InitiatingProcessFileName",
    "InitiatingProcessFileSize",
    "InitiatingProcessVersionInfoCompanyName",
    "InitiatingProcessVersionInfoProductName",
    "InitiatingProcessVersionInfoProductVersion",
    "InitiatingProcessVersionInfoInternalFileName",
    "InitiatingProcessVersionInfoOriginalFileName",
    "InitiatingProcessVersionInfoFileDescription",
    "InitiatingProcessId",
    "InitiatingProcessCommandLine",
    "InitiatingProcessCreationTime",
    "InitiatingProcessFolderPath",
    "InitiatingProcessParentId",
    "InitiatingProcessParentFileName",
    "InitiatingProcessParentCreationTime",
    "InitiatingProcessAccountDomain",
    "InitiatingProcessAccountName",
    "InitiatingProcessAccountSid",
    "InitiatingProcessAccountUpn",
    "InitiatingProcessAccountObjectId",
    "InitiatingProcessIntegrityLevel",
    "InitiatingProcessTokenElevation",
    "InitiatingProcessSessionId",
    "InitiatingProcessUniqueId",
];

impl IpCols {
    fn new(s: &Sink) -> Self {
        IpCols {
            c: IP_NAMES.map(|n| s.idx(n)),
        }
    }
}

/// Common columns every event table has.
struct Base {
    ts: usize,
    device_id: usize,
    device_name: usize,
    report: usize,
    action: usize,
    time_generated: usize,
    tenant: usize,
    type_col: usize,
    type_name: String,
    ip: IpCols,
}

impl Base {
    fn new(s: &Sink) -> Self {
        Base {
            ts: s.idx("Timestamp"),
            device_id: s.idx("DeviceId"),
            device_name: s.idx("DeviceName"),
            report: s.idx("ReportId"),
            action: s.idx("ActionType"),
            time_generated: s.idx("TimeGenerated"),
            tenant: s.idx("TenantId"),
            type_col: s.idx("Type"),
            type_name: s.schema.name.clone(),
            ip: IpCols::new(s),
        }
    }

    /// Starts a row: time, device, report id and the Sentinel columns.
    fn start(&self, s: &mut Sink, dev: &Device, t: i64, report: i64) {
        s.time(self.ts, t);
        s.time(self.time_generated, t);
        s.str(self.device_id, &dev.id);
        s.str(self.device_name, &dev.name);
        s.long(self.report, report);
        s.str(self.tenant, TENANT_ID);
        s.str(self.type_col, &self.type_name);
    }

    fn initiating(&self, s: &mut Sink, dev: &Device, p: &Proc) {
        let c = &self.ip.c;
        s.str(c[0], &p.sha1);
        s.str(c[1], &p.sha256);
        s.str(c[2], &p.md5);
        s.str(c[3], &p.file);
        s.long(c[4], p.size);
        s.str(c[5], &p.company);
        s.str(c[6], &p.product);
        s.str(c[7], &p.version);
        s.str(c[8], &p.file);
        s.str(c[9], &p.file);
        s.str(c[10], &p.description);
        s.long(c[11], p.pid);
        s.str(c[12], &p.cmd);
        s.time(c[13], p.created);
        s.str(c[14], &p.folder_path);
        s.long(c[15], p.parent_pid);
        s.str(c[16], &p.parent_file);
        s.time(c[17], p.parent_created);
        match p.user.and_then(|u| dev.users.get(u)) {
            Some(u) => {
                s.str(c[18], DOMAIN);
                s.str(c[19], &u.name);
                s.str(c[20], &u.sid);
                s.str(c[21], &u.upn);
                s.str(c[22], &u.object_id);
                s.str(c[23], "Medium");
                s.str(c[24], "TokenElevationTypeLimited");
                s.long(c[25], 1);
            }
            None => {
                s.str(c[18], "nt authority");
                s.str(c[19], "system");
                s.str(c[20], "S-1-5-18");
                s.str(c[23], "System");
                s.str(c[24], "TokenElevationTypeDefault");
                s.long(c[25], 0);
            }
        }
        s.str(c[26], &p.unique_id);
    }
}

/// The sinks of the eight generated tables, in [`DAILY`] order.
pub struct Sinks {
    pub sinks: Vec<Sink>,
    bases: Vec<Base>,
}

impl Sinks {
    pub fn new(schemas: &[std::sync::Arc<schema::TableSchema>], capacity: &[usize]) -> Self {
        let sinks: Vec<Sink> = schemas
            .iter()
            .zip(capacity)
            .map(|(s, c)| Sink::new(s.clone(), *c))
            .collect();
        let bases = sinks.iter().map(Base::new).collect();
        Sinks { sinks, bases }
    }
}

const INFO: usize = 0;
const PROC: usize = 1;
const NET: usize = 2;
const FILE: usize = 3;
const REG: usize = 4;
const IMG: usize = 5;
const LOGON: usize = 6;
const CERT: usize = 7;

/// What is planted on a device: a tool or its look-alike, active on given days.
#[derive(Clone, Debug)]
pub struct Plant {
    pub profile: ToolProfile,
    pub lookalike: bool,
    pub install_day: u32,
    /// Seed for the days on which the tool is active after its install day.
    pub activity_seed: u64,
}

impl Plant {
    /// Active on the install day, the last day, and 70 % of the days in between.
    pub fn active(&self, day: u32, last_day: u32) -> bool {
        if day < self.install_day {
            return false;
        }
        if day == self.install_day || day == last_day {
            return true;
        }
        let h = blake3::hash(format!("{}:{day}", self.activity_seed).as_bytes());
        h.as_bytes()[0] < 179
    }
}

/// One planted event, for the ground truth.
#[derive(Clone, Debug)]
pub struct PlantedEvent {
    pub device: usize,
    pub tool: String,
    pub signal: Signal,
    pub lookalike: bool,
    pub time: i64,
    pub report_id: i64,
}

fn tick(t: i64) -> i64 {
    t - t.rem_euclid(100)
}

/// A time in the day, weighted to working hours.
fn time_in_day(rng: &mut ChaCha8Rng, day_start: i64) -> i64 {
    let offset = if rng.random_bool(0.7) {
        8 * NANOS_PER_HOUR + rng.random_range(0..10 * NANOS_PER_HOUR)
    } else {
        rng.random_range(0..NANOS_PER_DAY)
    };
    tick(day_start + offset)
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0..total.max(1));
    for it in items {
        let w = weight(it);
        if x < w {
            return it;
        }
        x -= w;
    }
    &items[0]
}

fn proc_of(p: &Program, idx: usize, pid: i64, created: i64, parent: Option<&Proc>, user: Option<usize>) -> Proc {
    let h = &program_hashes()[idx];
    let folder_path = format!("{}\\{}", p.folder.trim_end_matches('\\'), p.file);
    let cmd = if p.args.is_empty() {
        format!("\"{}\"", p.file)
    } else {
        format!("\"{}\" {}", p.file, p.args)
    };
    Proc {
        file: p.file.to_string(),
        folder_path,
        company: p.company.to_string(),
        product: p.product.to_string(),
        version: p.version.to_string(),
        description: p.description.to_string(),
        sha1: h.sha1.clone(),
        sha256: h.sha256.clone(),
        md5: h.md5.clone(),
        size: h.size,
        pid,
        cmd,
        created,
        parent_file: parent.map(|p| p.file.clone()).unwrap_or_default(),
        parent_pid: parent.map(|p| p.pid).unwrap_or(4),
        parent_created: parent.map(|p| p.created).unwrap_or(created),
        user,
        net: p.net,
        unique_id: String::new(),
    }
}

fn tool_proc(t: &ToolProfile, pid: i64, created: i64, parent: &Proc) -> Proc {
    Proc {
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
        pid,
        cmd: format!("\"{}\" --service", t.folder),
        created,
        parent_file: parent.file.clone(),
        parent_pid: parent.pid,
        parent_created: parent.created,
        user: None,
        net: true,
        unique_id: String::new(),
    }
}

/// Generates one device-day into `sinks`; returns the planted events.
#[allow(clippy::too_many_arguments)]
pub fn generate_day(
    dev: &Device,
    day: u32,
    last_day: u32,
    day_start: i64,
    volume: f64,
    plants: &[Plant],
    rng: &mut ChaCha8Rng,
    sinks: &mut Sinks,
) -> Vec<PlantedEvent> {
    let mut report: i64 = ((day as i64) << 40) | ((dev.index as i64 & 0xF_FFFF) << 20);
    let mut next_report = move || {
        report += 1;
        report
    };
    let mut buf = String::new();
    // The process tree: boot-time system processes, then the user's session.
    let boot = day_start + rng.random_range(0..NANOS_PER_HOUR);
    let mut pid = 4i64;
    let mut next_pid = |rng: &mut ChaCha8Rng| {
        pid += rng.random_range(4..400) * 4;
        pid
    };
    let services = proc_of(
        &PROGRAMS[program_index("services.exe")],
        program_index("services.exe"),
        next_pid(rng),
        tick(boot),
        None,
        None,
    );
    let lsass = proc_of(
        &PROGRAMS[program_index("lsass.exe")],
        program_index("lsass.exe"),
        next_pid(rng),
        tick(boot),
        None,
        None,
    );
    let explorer_idx = program_index("explorer.exe");
    let explorer = proc_of(
        &PROGRAMS[explorer_idx],
        explorer_idx,
        next_pid(rng),
        tick(boot + 7 * NANOS_PER_HOUR),
        None,
        Some(0),
    );
    let mut running: Vec<Proc> = Vec::new();
    for _ in 0..40 {
        let prog = weighted(rng, PROGRAMS, |p| p.weight);
        let idx = program_index(prog.file);
        let (parent, user) = if prog.user {
            (&explorer, Some(rng.random_range(0..dev.users.len().max(1))))
        } else {
            (&services, None)
        };
        let created = time_in_day(rng, day_start);
        let p = proc_of(prog, idx, next_pid(rng), created, Some(parent), user);
        running.push(p);
    }
    let scale = |n: u32, rng: &mut ChaCha8Rng| -> usize {
        let base = n as f64 * volume;
        let jitter = rng.random_range(0.8..1.2);
        (base * jitter).round() as usize
    };

    // DeviceInfo: a periodic snapshot.
    {
        let n = scale(DAILY[INFO].1, rng).max(1);
        let s = &mut sinks.sinks[INFO];
        let b = &sinks.bases[INFO];
        let cols = [
            "ClientVersion",
            "PublicIP",
            "OSArchitecture",
            "OSPlatform",
            "OSBuild",
            "IsAzureADJoined",
            "JoinType",
            "AadDeviceId",
            "LoggedOnUsers",
            "OSVersion",
            "MachineGroup",
            "OnboardingStatus",
            "DeviceCategory",
            "DeviceType",
            "Model",
            "Vendor",
            "OSVersionInfo",
            "SensorHealthState",
            "ExposureLevel",
            "AssetValue",
        ]
        .map(|c| s.idx(c));
        let users_json = {
            let mut j = String::from("[");
            for (i, u) in dev.users.iter().enumerate() {
                if i > 0 {
                    j.push(',');
                }
                let _ = write!(
                    j,
                    "{{\"UserName\":\"{}\",\"DomainName\":\"{DOMAIN}\",\"Sid\":\"{}\"}}",
                    u.name, u.sid
                );
            }
            j.push(']');
            j
        };
        for i in 0..n {
            let t =
                tick(day_start + (i as i64 * NANOS_PER_DAY) / n as i64 + rng.random_range(0..60 * NANOS_PER_SECOND));
            b.start(s, dev, t, next_report());
            s.str(cols[0], "10.8760.22621.3296");
            buf.clear();
            let _ = write!(buf, "203.0.113.{}", dev.index % 250 + 1);
            s.str(cols[1], &buf);
            s.str(cols[2], "64-bit");
            s.str(cols[3], dev.platform);
            s.long(cols[4], dev.build);
            s.bool(cols[5], true);
            s.str(cols[6], "AAD joined");
            s.str(cols[7], &dev.aad_id);
            s.str(cols[8], &users_json);
            s.str(cols[9], "10.0");
            s.str(
                cols[10],
                if dev.platform.starts_with("WindowsServer") {
                    "Servers"
                } else {
                    "Workstations"
                },
            );
            s.str(cols[11], "Onboarded");
            s.str(cols[12], "Endpoint");
            s.str(
                cols[13],
                if dev.platform.starts_with("WindowsServer") {
                    "Server"
                } else {
                    "Workstation"
                },
            );
            s.str(cols[14], dev.model);
            s.str(cols[15], dev.vendor);
            s.str(cols[16], "23H2");
            s.str(cols[17], "Active");
            s.str(cols[18], "Low");
            s.str(cols[19], "Normal");
            s.end_row();
        }
    }

    // DeviceProcessEvents: children of running processes.
    let proc_cols = |s: &Sink| {
        [
            "FileName",
            "FolderPath",
            "SHA1",
            "SHA256",
            "MD5",
            "FileSize",
            "ProcessVersionInfoCompanyName",
            "ProcessVersionInfoProductName",
            "ProcessVersionInfoProductVersion",
            "ProcessVersionInfoInternalFileName",
            "ProcessVersionInfoOriginalFileName",
            "ProcessVersionInfoFileDescription",
            "ProcessId",
            "ProcessCommandLine",
            "ProcessIntegrityLevel",
            "ProcessTokenElevation",
            "ProcessCreationTime",
            "AccountDomain",
            "AccountName",
            "AccountSid",
            "AccountUpn",
            "AccountObjectId",
            "LogonId",
        ]
        .map(|c| s.idx(c))
    };
    let pc = proc_cols(&sinks.sinks[PROC]);
    let write_child = |s: &mut Sink, child: &Proc, dev: &Device| {
        s.str(pc[0], &child.file);
        s.str(pc[1], &child.folder_path);
        s.str(pc[2], &child.sha1);
        s.str(pc[3], &child.sha256);
        s.str(pc[4], &child.md5);
        s.long(pc[5], child.size);
        s.str(pc[6], &child.company);
        s.str(pc[7], &child.product);
        s.str(pc[8], &child.version);
        s.str(pc[9], &child.file);
        s.str(pc[10], &child.file);
        s.str(pc[11], &child.description);
        s.long(pc[12], child.pid);
        s.str(pc[13], &child.cmd);
        s.str(pc[14], if child.user.is_some() { "Medium" } else { "System" });
        s.str(pc[15], "TokenElevationTypeDefault");
        s.time(pc[16], child.created);
        match child.user.and_then(|u| dev.users.get(u)) {
            Some(u) => {
                s.str(pc[17], DOMAIN);
                s.str(pc[18], &u.name);
                s.str(pc[19], &u.sid);
                s.str(pc[20], &u.upn);
                s.str(pc[21], &u.object_id);
                s.long(pc[22], 999_000 + dev.index as i64);
            }
            None => {
                s.str(pc[17], "nt authority");
                s.str(pc[18], "system");
                s.str(pc[19], "S-1-5-18");
                s.long(pc[22], 999);
            }
        }
    };
    {
        let n = scale(DAILY[PROC].1, rng);
        for _ in 0..n {
            let parent = &running[rng.random_range(0..running.len())];
            let prog = weighted(rng, PROGRAMS, |p| p.weight);
            let idx = program_index(prog.file);
            let t = time_in_day(rng, day_start);
            let child = proc_of(prog, idx, next_pid(rng), t, Some(parent), parent.user);
            let s = &mut sinks.sinks[PROC];
            sinks.bases[PROC].start(s, dev, t, next_report());
            s.str(sinks.bases[PROC].action, "ProcessCreated");
            write_child(s, &child, dev);
            sinks.bases[PROC].initiating(s, dev, parent);
            s.end_row();
        }
    }

    // DeviceNetworkEvents.
    let nc = [
        "RemoteIP",
        "RemotePort",
        "RemoteUrl",
        "LocalIP",
        "LocalPort",
        "Protocol",
        "LocalIPType",
        "RemoteIPType",
    ]
    .map(|c| sinks.sinks[NET].idx(c));
    let net_procs: Vec<usize> = (0..running.len()).filter(|i| running[*i].net).collect();
    {
        let n = scale(DAILY[NET].1, rng);
        for _ in 0..n {
            let p = &running[*net_procs.choose(rng).unwrap_or(&0)];
            let t = time_in_day(rng, day_start);
            let s = &mut sinks.sinks[NET];
            let b = &sinks.bases[NET];
            b.start(s, dev, t, next_report());
            let roll = rng.random_range(0..100);
            // Zipf-like choice of destination.
            let d = &DOMAINS[(rng.random_range(0.0f64..1.0).powi(2) * DOMAINS.len() as f64) as usize % DOMAINS.len()];
            buf.clear();
            if roll < 90 {
                s.str(
                    b.action,
                    if roll < 85 {
                        "ConnectionSuccess"
                    } else {
                        "ConnectionFailed"
                    },
                );
                let _ = write!(buf, "{}{}", d.1, rng.random_range(2..250));
                s.str(nc[0], &buf);
                s.long(nc[1], if rng.random_bool(0.9) { 443 } else { 80 });
                s.str(nc[2], d.0);
                s.str(nc[7], "Public");
            } else {
                s.str(b.action, "InboundConnectionAccepted");
                let _ = write!(
                    buf,
                    "10.{}.{}.{}",
                    rng.random_range(0..4),
                    rng.random_range(0..240),
                    rng.random_range(2..250)
                );
                s.str(nc[0], &buf);
                s.long(nc[1], rng.random_range(49152..65535));
                s.str(nc[7], "Private");
            }
            s.str(nc[3], &dev.ip);
            s.long(nc[4], if roll < 90 { rng.random_range(49152..65535) } else { 445 });
            s.str(nc[5], "Tcp");
            s.str(nc[6], "Private");
            b.initiating(s, dev, p);
            s.end_row();
        }
    }

    // DeviceFileEvents.
    let fc = [
        "FileName",
        "FolderPath",
        "SHA1",
        "SHA256",
        "MD5",
        "FileSize",
        "FileOriginUrl",
    ]
    .map(|c| sinks.sinks[FILE].idx(c));
    {
        let n = scale(DAILY[FILE].1, rng);
        for _ in 0..n {
            let p = &running[rng.random_range(0..running.len())];
            let t = time_in_day(rng, day_start);
            let s = &mut sinks.sinks[FILE];
            let b = &sinks.bases[FILE];
            b.start(s, dev, t, next_report());
            let roll = rng.random_range(0..100);
            s.str(
                b.action,
                match roll {
                    0..=44 => "FileCreated",
                    45..=84 => "FileModified",
                    85..=94 => "FileRenamed",
                    _ => "FileDeleted",
                },
            );
            let doc = catalog::DOCUMENT_NAMES[rng.random_range(0..catalog::DOCUMENT_NAMES.len())];
            let user = p
                .user
                .and_then(|u| dev.users.get(u))
                .map(|u| u.name.as_str())
                .unwrap_or("Default");
            buf.clear();
            if rng.random_bool(0.5) {
                let _ = write!(buf, "{}", doc);
                s.str(fc[0], &buf);
                buf.clear();
                let _ = write!(buf, r"C:\Users\{user}\Documents\{doc}");
            } else {
                let n: u32 = rng.random_range(0..100_000);
                let _ = write!(buf, "tmp{n:05x}.tmp");
                s.str(fc[0], &buf);
                buf.clear();
                let _ = write!(buf, r"C:\Users\{user}\AppData\Local\Temp\tmp{n:05x}.tmp");
            }
            s.str(fc[1], &buf);
            let h = blake3::hash(buf.as_bytes()).to_hex();
            s.str(fc[2], &h[..40]);
            s.str(fc[3], &h[..64]);
            s.str(fc[4], &h[..32]);
            s.long(fc[5], rng.random_range(100..5_000_000));
            b.initiating(s, dev, p);
            s.end_row();
        }
    }

    // DeviceRegistryEvents.
    let rc = [
        "RegistryKey",
        "RegistryValueType",
        "RegistryValueName",
        "RegistryValueData",
    ]
    .map(|c| sinks.sinks[REG].idx(c));
    {
        let n = scale(DAILY[REG].1, rng);
        for _ in 0..n {
            let p = &running[rng.random_range(0..running.len())];
            let t = time_in_day(rng, day_start);
            let s = &mut sinks.sinks[REG];
            let b = &sinks.bases[REG];
            b.start(s, dev, t, next_report());
            let (key, name, data) = catalog::REGISTRY_KEYS[rng.random_range(0..catalog::REGISTRY_KEYS.len())];
            let roll = rng.random_range(0..100);
            s.str(
                b.action,
                match roll {
                    0..=79 => "RegistryValueSet",
                    80..=94 => "RegistryKeyCreated",
                    _ => "RegistryValueDeleted",
                },
            );
            s.str(rc[0], key);
            s.str(
                rc[1],
                if data.chars().all(|c| c.is_ascii_digit()) {
                    "Dword"
                } else {
                    "String"
                },
            );
            s.str(rc[2], name);
            s.str(rc[3], data);
            b.initiating(s, dev, p);
            s.end_row();
        }
    }

    // DeviceImageLoadEvents.
    let ic = ["FileName", "FolderPath", "SHA1", "SHA256", "MD5", "FileSize"].map(|c| sinks.sinks[IMG].idx(c));
    {
        let n = scale(DAILY[IMG].1, rng);
        for _ in 0..n {
            let p = &running[rng.random_range(0..running.len())];
            let t = time_in_day(rng, day_start);
            let s = &mut sinks.sinks[IMG];
            let b = &sinks.bases[IMG];
            b.start(s, dev, t, next_report());
            s.str(b.action, "ImageLoaded");
            let (dll, _) = DLLS[rng.random_range(0..DLLS.len())];
            s.str(ic[0], dll);
            buf.clear();
            let _ = write!(buf, r"C:\Windows\System32\{dll}");
            s.str(ic[1], &buf);
            let h = blake3::hash(dll.as_bytes()).to_hex();
            s.str(ic[2], &h[..40]);
            s.str(ic[3], &h[..64]);
            s.str(ic[4], &h[..32]);
            s.long(ic[5], 100_000 + (dll.len() as i64) * 37_000);
            b.initiating(s, dev, p);
            s.end_row();
        }
    }

    // DeviceLogonEvents.
    let lc = [
        "LogonType",
        "AccountDomain",
        "AccountName",
        "AccountSid",
        "Protocol",
        "FailureReason",
        "IsLocalAdmin",
        "LogonId",
        "RemoteIP",
        "RemoteIPType",
        "RemoteDeviceName",
    ]
    .map(|c| sinks.sinks[LOGON].idx(c));
    {
        let n = scale(DAILY[LOGON].1, rng);
        for _ in 0..n {
            let t = time_in_day(rng, day_start);
            let s = &mut sinks.sinks[LOGON];
            let b = &sinks.bases[LOGON];
            b.start(s, dev, t, next_report());
            let failed = rng.random_bool(0.08);
            s.str(b.action, if failed { "LogonFailed" } else { "LogonSuccess" });
            let (lt, _) = *weighted(rng, catalog::LOGON_TYPES, |l| l.1);
            s.str(lc[0], lt);
            let user = &dev.users[rng
                .random_range(0..dev.users.len().max(1))
                .min(dev.users.len().saturating_sub(1))];
            s.str(lc[1], DOMAIN);
            s.str(lc[2], &user.name);
            s.str(lc[3], &user.sid);
            s.str(lc[4], if lt == "Network" { "Kerberos" } else { "Negotiate" });
            if failed {
                s.str(lc[5], "InvalidUserNameOrPassword");
            }
            s.bool(lc[6], false);
            s.long(lc[7], rng.random_range(100_000..10_000_000));
            if lt == "Network" || lt == "RemoteInteractive" {
                buf.clear();
                let _ = write!(
                    buf,
                    "10.{}.{}.{}",
                    rng.random_range(0..4),
                    rng.random_range(0..240),
                    rng.random_range(2..250)
                );
                s.str(lc[8], &buf);
                s.str(lc[9], "Private");
            }
            b.initiating(s, dev, &lsass);
            s.end_row();
        }
    }

    // DeviceFileCertificateInfo: signatures of the files seen.
    let cc = [
        "SHA1",
        "IsSigned",
        "SignatureType",
        "Signer",
        "SignerHash",
        "Issuer",
        "IssuerHash",
        "CertificateSerialNumber",
        "CrlDistributionPointUrls",
        "CertificateCreationTime",
        "CertificateExpirationTime",
        "IsTrusted",
        "IsRootSignerMicrosoft",
    ]
    .map(|c| sinks.sinks[CERT].idx(c));
    let write_cert = |s: &mut Sink, sha1: &str, signer: &str, issuer: &str, day_start: i64| {
        s.str(cc[0], sha1);
        s.bool(cc[1], !signer.is_empty());
        s.str(cc[2], "Embedded");
        s.str(cc[3], signer);
        s.str(cc[4], &fake_sha1(&format!("signer:{signer}")));
        s.str(cc[5], issuer);
        s.str(cc[6], &fake_sha1(&format!("issuer:{issuer}")));
        s.str(cc[7], &hex(&format!("serial:{signer}"), 32));
        s.str(
            cc[8],
            "[\"http://crl3.digicert.com/DigiCertTrustedG4CodeSigningRSA4096SHA3842021CA1.crl\"]",
        );
        s.time(cc[9], tick(day_start - 400 * NANOS_PER_DAY));
        s.time(cc[10], tick(day_start + 300 * NANOS_PER_DAY));
        s.bool(cc[11], !signer.is_empty());
        s.bool(cc[12], signer.starts_with("Microsoft"));
    };
    {
        let n = scale(DAILY[CERT].1, rng);
        let signed: Vec<usize> = (0..PROGRAMS.len())
            .filter(|i| !PROGRAMS[*i].signer.is_empty())
            .collect();
        for _ in 0..n {
            let idx = *signed.choose(rng).unwrap_or(&0);
            let p = &PROGRAMS[idx];
            let t = time_in_day(rng, day_start);
            let s = &mut sinks.sinks[CERT];
            sinks.bases[CERT].start(s, dev, t, next_report());
            write_cert(s, &program_hashes()[idx].sha1, p.signer, p.issuer, day_start);
            s.end_row();
        }
    }

    // The planted tool (or look-alike).
    let mut planted = Vec::new();
    for plant in plants.iter().filter(|p| p.active(day, last_day)) {
        let tp = &plant.profile;
        let parent = if rng.random_bool(0.5) { &services } else { &explorer };
        let install = time_in_day(rng, day_start);
        let tool = tool_proc(tp, next_pid(rng), install, parent);
        let mut record = |signal: Signal, time: i64, report_id: i64| {
            planted.push(PlantedEvent {
                device: dev.index,
                tool: tp.tool.clone(),
                signal,
                lookalike: plant.lookalike,
                time,
                report_id,
            })
        };
        if tp.signals.contains(&Signal::FileSignature) {
            // The binary lands on disk, and its signature is recorded.
            let s = &mut sinks.sinks[FILE];
            let b = &sinks.bases[FILE];
            b.start(s, dev, install, next_report());
            s.str(
                b.action,
                if day == plant.install_day {
                    "FileCreated"
                } else {
                    "FileModified"
                },
            );
            s.str(fc[0], &tp.file_name);
            s.str(fc[1], &tp.folder);
            s.str(fc[2], &tp.sha1);
            s.str(fc[3], &tool.sha256);
            s.str(fc[4], &tool.md5);
            s.long(fc[5], tool.size);
            b.initiating(s, dev, parent);
            s.end_row();
            for _ in 0..rng.random_range(1..=2) {
                let t = time_in_day(rng, day_start);
                let r = next_report();
                let s = &mut sinks.sinks[CERT];
                sinks.bases[CERT].start(s, dev, t, r);
                write_cert(
                    s,
                    &tp.sha1,
                    &tp.signer,
                    "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
                    day_start,
                );
                s.end_row();
                record(Signal::FileSignature, t, r);
            }
        }
        if tp.signals.contains(&Signal::ProcessCreation) {
            for k in 0..rng.random_range(1..=3) {
                let t = if k == 0 { install } else { time_in_day(rng, day_start) };
                let r = next_report();
                let mut child = tool_proc(tp, tool.pid + k * 4, t, parent);
                child.user = parent.user;
                let s = &mut sinks.sinks[PROC];
                sinks.bases[PROC].start(s, dev, t, r);
                s.str(sinks.bases[PROC].action, "ProcessCreated");
                write_child(s, &child, dev);
                sinks.bases[PROC].initiating(s, dev, parent);
                s.end_row();
                record(Signal::ProcessCreation, t, r);
            }
        }
        if tp.signals.contains(&Signal::NetworkConnection) {
            for _ in 0..rng.random_range(2..=6) {
                let t = time_in_day(rng, day_start);
                let r = next_report();
                let s = &mut sinks.sinks[NET];
                let b = &sinks.bases[NET];
                b.start(s, dev, t, r);
                s.str(b.action, "ConnectionSuccess");
                let h = blake3::hash(tp.domain.as_bytes());
                buf.clear();
                let _ = write!(
                    buf,
                    "{}.{}.{}.{}",
                    20 + h.as_bytes()[0] % 180,
                    h.as_bytes()[1],
                    h.as_bytes()[2],
                    h.as_bytes()[3] % 250 + 2
                );
                s.str(nc[0], &buf);
                s.long(nc[1], 443);
                s.str(nc[2], &tp.domain);
                s.str(nc[3], &dev.ip);
                s.long(nc[4], rng.random_range(49152..65535));
                s.str(nc[5], "Tcp");
                s.str(nc[6], "Private");
                s.str(nc[7], "Public");
                b.initiating(s, dev, &tool);
                s.end_row();
                record(Signal::NetworkConnection, t, r);
            }
        }
    }
    planted
}
