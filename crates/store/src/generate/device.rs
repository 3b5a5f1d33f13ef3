//! The devices of the generated estate (names, users, platform), what is planted on them,
//! and the events per device-day of each table.

use super::catalog;
use super::process::Image;
use super::rmm::{Signal, ToolProfile};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

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
    pub public_ip: String,
    /// `LoggedOnUsers` of `DeviceInfo`: JSON of the users.
    pub logged_on_users: String,
}

pub fn hex(label: &str, len: usize) -> String {
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
        let users: Vec<User> = (0..n_users)
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
        let mut logged_on_users = String::from("[");
        for (i, u) in users.iter().enumerate() {
            if i > 0 {
                logged_on_users.push(',');
            }
            let _ = write!(
                logged_on_users,
                "{{\"UserName\":\"{}\",\"DomainName\":\"{DOMAIN}\",\"Sid\":\"{}\"}}",
                u.name, u.sid
            );
        }
        logged_on_users.push(']');
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
            public_ip: format!("203.0.113.{}", index % 250 + 1),
            logged_on_users,
        }
    }
}

/// What is planted on a device: a tool or its look-alike, active on given days.
#[derive(Clone, Debug)]
pub struct Plant {
    pub profile: ToolProfile,
    /// The image its process runs from.
    pub image: Image,
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
