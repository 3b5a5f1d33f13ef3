//! Rows from drawn events: each table's events of a unit of work, sorted by time, written
//! into a [`Sink`] column by column of each row. Writing them in time order is what lets
//! parts be written as they are, without a sorting copy.

use super::device::{DOMAIN, Device, TENANT_ID};
use super::events::{CertEv, Events, FileEv, FileTarget, Head, ImgEv, LogonEv, NetEv, ProcEv, RegEv, RemoteIp, dll};
use super::process::{Proc, tick};
use super::rmm::fake_sha1;
use super::sink::{ABSENT, Sink};
use arrow::array::RecordBatch;
use schema::TableSchema;
use schema::values::NANOS_PER_DAY;
use std::fmt::Write;
use std::sync::Arc;

fn index(schema: &TableSchema, name: &str) -> usize {
    schema.column_index(name).unwrap_or(ABSENT)
}

fn indices<const N: usize>(schema: &TableSchema, names: [&str; N]) -> [usize; N] {
    names.map(|n| index(schema, n))
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

/// Columns every event table has, and its `InitiatingProcess*` columns.
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
    ip: [usize; 27],
}

impl Base {
    fn new(s: &TableSchema) -> Self {
        Base {
            ts: index(s, "Timestamp"),
            device_id: index(s, "DeviceId"),
            device_name: index(s, "DeviceName"),
            report: index(s, "ReportId"),
            action: index(s, "ActionType"),
            time_generated: index(s, "TimeGenerated"),
            tenant: index(s, "TenantId"),
            type_col: index(s, "Type"),
            type_name: s.name.clone(),
            ip: indices(s, IP_NAMES),
        }
    }

    /// Starts a row: time, device, report id and the Sentinel columns.
    fn start(&self, s: &mut Sink, dev: &Device, h: &Head) {
        s.time(self.ts, h.time);
        s.time(self.time_generated, h.time);
        s.str(self.device_id, &dev.id);
        s.str(self.device_name, &dev.name);
        s.long(self.report, h.report);
        s.str(self.tenant, TENANT_ID);
        s.str(self.type_col, &self.type_name);
    }

    fn initiating(&self, s: &mut Sink, dev: &Device, p: &Proc) {
        let c = &self.ip;
        let i = p.image;
        s.str(c[0], &i.sha1);
        s.str(c[1], &i.sha256);
        s.str(c[2], &i.md5);
        s.str(c[3], &i.file);
        s.long(c[4], i.size);
        s.str(c[5], &i.company);
        s.str(c[6], &i.product);
        s.str(c[7], &i.version);
        s.str(c[8], &i.file);
        s.str(c[9], &i.file);
        s.str(c[10], &i.description);
        s.long(c[11], p.pid);
        s.str(c[12], &i.cmd);
        s.time(c[13], p.created);
        s.str(c[14], &i.folder_path);
        s.long(c[15], p.parent_pid);
        s.str(c[16], p.parent_file);
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
        s.str(c[26], "");
    }
}

/// Where each generated column is, per table (in `DAILY` order), computed once.
pub struct Layout {
    schemas: Vec<Arc<TableSchema>>,
    bases: Vec<Base>,
    info: [usize; 20],
    process: [usize; 23],
    network: [usize; 8],
    file: [usize; 7],
    registry: [usize; 4],
    image_load: [usize; 6],
    logon: [usize; 11],
    certificate: [usize; 13],
}

/// String bytes per row of each column, learnt from the previous batch of a table, so that
/// builders are allocated once at the right size.
#[derive(Default)]
pub struct SizeHints(Vec<Vec<usize>>);

impl Layout {
    /// `schemas`: the eight generated tables, in `DAILY` order.
    pub fn new(schemas: &[Arc<TableSchema>]) -> Layout {
        let at = |i: usize| schemas[i].as_ref();
        Layout {
            bases: schemas.iter().map(|s| Base::new(s)).collect(),
            info: indices(
                at(0),
                [
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
                ],
            ),
            process: indices(
                at(1),
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
                ],
            ),
            network: indices(
                at(2),
                [
                    "RemoteIP",
                    "RemotePort",
                    "RemoteUrl",
                    "LocalIP",
                    "LocalPort",
                    "Protocol",
                    "LocalIPType",
                    "RemoteIPType",
                ],
            ),
            file: indices(
                at(3),
                [
                    "FileName",
                    "FolderPath",
                    "SHA1",
                    "SHA256",
                    "MD5",
                    "FileSize",
                    "FileOriginUrl",
                ],
            ),
            registry: indices(
                at(4),
                [
                    "RegistryKey",
                    "RegistryValueType",
                    "RegistryValueName",
                    "RegistryValueData",
                ],
            ),
            image_load: indices(at(5), ["FileName", "FolderPath", "SHA1", "SHA256", "MD5", "FileSize"]),
            logon: indices(
                at(6),
                [
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
                ],
            ),
            certificate: indices(
                at(7),
                [
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
                ],
            ),
            schemas: schemas.to_vec(),
        }
    }

    /// The rows of table `t` (index in `DAILY`) of `events`, in time order.
    pub fn batch(&self, t: usize, events: &Events, devices: &[Device], hints: &mut SizeHints) -> RecordBatch {
        let head = |e: &Head| *e;
        match t {
            0 => self.rows(t, &events.info, head, devices, hints, |l, s, d, _, _| l.info_row(s, d)),
            1 => self.rows(t, &events.process, |e| e.head, devices, hints, Layout::process_row),
            2 => self.rows(t, &events.network, |e| e.head, devices, hints, Layout::network_row),
            3 => self.rows(t, &events.file, |e| e.head, devices, hints, Layout::file_row),
            4 => self.rows(t, &events.registry, |e| e.head, devices, hints, Layout::registry_row),
            5 => self.rows(
                t,
                &events.image_load,
                |e| e.head,
                devices,
                hints,
                Layout::image_load_row,
            ),
            6 => self.rows(t, &events.logon, |e| e.head, devices, hints, Layout::logon_row),
            _ => self.rows(
                t,
                &events.certificate,
                |e| e.head,
                devices,
                hints,
                |l, s, _, e, _| l.certificate_row(s, e),
            ),
        }
    }

    /// Sorts `events` by time (ties in drawing order) and writes a row for each.
    fn rows<E>(
        &self,
        t: usize,
        events: &[E],
        head: impl Fn(&E) -> Head,
        devices: &[Device],
        hints: &mut SizeHints,
        row: impl Fn(&Layout, &mut Sink, &Device, &E, &mut String),
    ) -> RecordBatch {
        let mut order: Vec<(i64, u32)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (head(e).time, i as u32))
            .collect();
        order.sort_unstable();
        if hints.0.len() <= t {
            hints.0.resize(t + 1, Vec::new());
        }
        let mut sink = Sink::new(self.schemas[t].clone(), events.len(), &hints.0[t]);
        let base = &self.bases[t];
        let mut buf = String::new();
        for (_, i) in order {
            let e = &events[i as usize];
            let h = head(e);
            let dev = &devices[h.device];
            base.start(&mut sink, dev, &h);
            row(self, &mut sink, dev, e, &mut buf);
            sink.end_row();
        }
        hints.0[t] = sink.bytes_per_row();
        sink.finish()
    }

    fn info_row(&self, s: &mut Sink, dev: &Device) {
        let c = &self.info;
        s.str(c[0], "10.8760.22621.3296");
        s.str(c[1], &dev.public_ip);
        s.str(c[2], "64-bit");
        s.str(c[3], dev.platform);
        s.long(c[4], dev.build);
        s.bool(c[5], true);
        s.str(c[6], "AAD joined");
        s.str(c[7], &dev.aad_id);
        s.str(c[8], &dev.logged_on_users);
        s.str(c[9], "10.0");
        let server = dev.platform.starts_with("WindowsServer");
        s.str(c[10], if server { "Servers" } else { "Workstations" });
        s.str(c[11], "Onboarded");
        s.str(c[12], "Endpoint");
        s.str(c[13], if server { "Server" } else { "Workstation" });
        s.str(c[14], dev.model);
        s.str(c[15], dev.vendor);
        s.str(c[16], "23H2");
        s.str(c[17], "Active");
        s.str(c[18], "Low");
        s.str(c[19], "Normal");
    }

    fn process_row(&self, s: &mut Sink, dev: &Device, e: &ProcEv, _: &mut String) {
        let (c, child, i) = (&self.process, &e.child, e.child.image);
        s.str(self.bases[1].action, "ProcessCreated");
        s.str(c[0], &i.file);
        s.str(c[1], &i.folder_path);
        s.str(c[2], &i.sha1);
        s.str(c[3], &i.sha256);
        s.str(c[4], &i.md5);
        s.long(c[5], i.size);
        s.str(c[6], &i.company);
        s.str(c[7], &i.product);
        s.str(c[8], &i.version);
        s.str(c[9], &i.file);
        s.str(c[10], &i.file);
        s.str(c[11], &i.description);
        s.long(c[12], child.pid);
        s.str(c[13], &i.cmd);
        s.str(c[14], if child.user.is_some() { "Medium" } else { "System" });
        s.str(c[15], "TokenElevationTypeDefault");
        s.time(c[16], child.created);
        match child.user.and_then(|u| dev.users.get(u)) {
            Some(u) => {
                s.str(c[17], DOMAIN);
                s.str(c[18], &u.name);
                s.str(c[19], &u.sid);
                s.str(c[20], &u.upn);
                s.str(c[21], &u.object_id);
                s.long(c[22], 999_000 + dev.index as i64);
            }
            None => {
                s.str(c[17], "nt authority");
                s.str(c[18], "system");
                s.str(c[19], "S-1-5-18");
                s.long(c[22], 999);
            }
        }
        self.bases[1].initiating(s, dev, &e.parent);
    }

    fn network_row(&self, s: &mut Sink, dev: &Device, e: &NetEv, buf: &mut String) {
        let c = &self.network;
        s.str(self.bases[2].action, e.action);
        buf.clear();
        let _ = match e.remote_ip {
            RemoteIp::Prefixed(prefix, last) => write!(buf, "{prefix}{last}"),
            RemoteIp::Quad([a, b, c, d]) => write!(buf, "{a}.{b}.{c}.{d}"),
        };
        s.str(c[0], buf);
        s.long(c[1], e.remote_port);
        s.str(c[2], e.remote_url);
        s.str(c[3], &dev.ip);
        s.long(c[4], e.local_port);
        s.str(c[5], "Tcp");
        s.str(c[6], "Private");
        s.str(c[7], e.remote_ip_type);
        self.bases[2].initiating(s, dev, &e.process);
    }

    fn file_row(&self, s: &mut Sink, dev: &Device, e: &FileEv, buf: &mut String) {
        let c = &self.file;
        s.str(self.bases[3].action, e.action);
        match e.target {
            FileTarget::Tool(image) => {
                s.str(c[0], &image.file);
                s.str(c[1], &image.folder_path);
                s.str(c[2], &image.sha1);
                s.str(c[3], &image.sha256);
                s.str(c[4], &image.md5);
            }
            FileTarget::Document { name, user } => {
                s.str(c[0], name);
                buf.clear();
                let _ = write!(buf, r"C:\Users\{user}\Documents\{name}");
                s.str(c[1], buf);
                hashes(s, &c[2..5], buf);
            }
            FileTarget::Temp { n, user } => {
                buf.clear();
                let _ = write!(buf, "tmp{n:05x}.tmp");
                s.str(c[0], buf);
                buf.clear();
                let _ = write!(buf, r"C:\Users\{user}\AppData\Local\Temp\tmp{n:05x}.tmp");
                s.str(c[1], buf);
                hashes(s, &c[2..5], buf);
            }
        }
        s.long(c[5], e.size);
        self.bases[3].initiating(s, dev, &e.process);
    }

    fn registry_row(&self, s: &mut Sink, dev: &Device, e: &RegEv, _: &mut String) {
        let c = &self.registry;
        let (key, name, data) = super::events::registry_key(e.key);
        s.str(self.bases[4].action, e.action);
        s.str(c[0], key);
        s.str(
            c[1],
            if data.chars().all(|c| c.is_ascii_digit()) {
                "Dword"
            } else {
                "String"
            },
        );
        s.str(c[2], name);
        s.str(c[3], data);
        self.bases[4].initiating(s, dev, &e.process);
    }

    fn image_load_row(&self, s: &mut Sink, dev: &Device, e: &ImgEv, _: &mut String) {
        let c = &self.image_load;
        let d = dll_strings(e.dll);
        s.str(self.bases[5].action, "ImageLoaded");
        s.str(c[0], dll(e.dll));
        s.str(c[1], &d.path);
        s.str(c[2], &d.sha1);
        s.str(c[3], &d.sha256);
        s.str(c[4], &d.md5);
        s.long(c[5], 100_000 + (dll(e.dll).len() as i64) * 37_000);
        self.bases[5].initiating(s, dev, &e.process);
    }

    fn logon_row(&self, s: &mut Sink, dev: &Device, e: &LogonEv, buf: &mut String) {
        let c = &self.logon;
        s.str(
            self.bases[6].action,
            if e.failed { "LogonFailed" } else { "LogonSuccess" },
        );
        s.str(c[0], e.logon_type);
        if let Some(user) = dev.users.get(e.user) {
            s.str(c[1], DOMAIN);
            s.str(c[2], &user.name);
            s.str(c[3], &user.sid);
        }
        s.str(
            c[4],
            if e.logon_type == "Network" {
                "Kerberos"
            } else {
                "Negotiate"
            },
        );
        if e.failed {
            s.str(c[5], "InvalidUserNameOrPassword");
        }
        s.bool(c[6], false);
        s.long(c[7], e.logon_id);
        if let Some([a, b, d]) = e.remote {
            buf.clear();
            let _ = write!(buf, "10.{a}.{b}.{d}");
            s.str(c[8], buf);
            s.str(c[9], "Private");
        }
        self.bases[6].initiating(s, dev, &e.process);
    }

    fn certificate_row(&self, s: &mut Sink, e: &CertEv) {
        let c = &self.certificate;
        let day_start = e.head.time - e.head.time.rem_euclid(NANOS_PER_DAY);
        let signed = !e.signer.is_empty();
        s.str(c[0], e.sha1);
        s.bool(c[1], signed);
        s.str(c[2], "Embedded");
        s.str(c[3], e.signer);
        s.str(c[4], &fake_sha1(&format!("signer:{}", e.signer)));
        s.str(c[5], e.issuer);
        s.str(c[6], &fake_sha1(&format!("issuer:{}", e.issuer)));
        s.str(c[7], &super::device::hex(&format!("serial:{}", e.signer), 32));
        s.str(
            c[8],
            "[\"http://crl3.digicert.com/DigiCertTrustedG4CodeSigningRSA4096SHA3842021CA1.crl\"]",
        );
        s.time(c[9], tick(day_start - 400 * NANOS_PER_DAY));
        s.time(c[10], tick(day_start + 300 * NANOS_PER_DAY));
        s.bool(c[11], signed);
        s.bool(c[12], e.signer.starts_with("Microsoft"));
    }
}

/// SHA1, SHA256 and MD5 columns of a file: prefixes of one hash of its path.
fn hashes(s: &mut Sink, cols: &[usize], path: &str) {
    let h = blake3::hash(path.as_bytes()).to_hex();
    if let [sha1, sha256, md5] = cols {
        s.str(*sha1, &h[..40]);
        s.str(*sha256, &h[..64]);
        s.str(*md5, &h[..32]);
    }
}

struct DllStrings {
    path: String,
    sha1: String,
    sha256: String,
    md5: String,
}

/// Path and hash of each library, computed once.
fn dll_strings(i: usize) -> &'static DllStrings {
    static CELL: std::sync::OnceLock<Vec<DllStrings>> = std::sync::OnceLock::new();
    let all = CELL.get_or_init(|| {
        super::catalog::DLLS
            .iter()
            .map(|(name, _)| {
                let h = blake3::hash(name.as_bytes()).to_hex();
                DllStrings {
                    path: format!(r"C:\Windows\System32\{name}"),
                    sha1: h[..40].to_string(),
                    sha256: h[..64].to_string(),
                    md5: h[..32].to_string(),
                }
            })
            .collect()
    });
    static EMPTY: DllStrings = DllStrings {
        path: String::new(),
        sha1: String::new(),
        sha256: String::new(),
        md5: String::new(),
    };
    all.get(i).unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests;
