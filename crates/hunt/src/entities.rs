//! Entities of a result row: the device, accounts, file hashes, URLs and IPs it is about.
//!
//! They come from the rule's Sentinel `entityMappings` (entity type + identifier → column)
//! and from well-known Defender/Sentinel columns (`DeviceId`, `AccountUpn`, `SHA1`,
//! `RemoteUrl`…), merged: a rule that maps `HostName` to `DeviceName` and also returns
//! `DeviceId` yields one device with both.

use rules::EntityMapping;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// The device a row is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Device {
    /// What identifies it: the id when known, else the lower-cased name.
    pub fn key(&self) -> Option<String> {
        self.id.clone().or_else(|| self.name.as_ref().map(|n| n.to_lowercase()))
    }

    /// For people: the name when known, else the id.
    pub fn label(&self) -> Option<&str> {
        self.name.as_deref().or(self.id.as_deref())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileHash {
    /// `SHA1`, `SHA256` or `MD5`.
    pub algorithm: String,
    pub value: String,
}

/// Entity values of another Sentinel entity type (`Mailbox`, `RegistryKey`…).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OtherEntity {
    pub entity_type: String,
    /// `identifier=value` pairs, in mapping order.
    pub value: String,
}

/// Everything a row (or a finding, merged over its rows) is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_hashes: Vec<FileHash>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<OtherEntity>,
}

/// Columns that name accounts, best first: a UPN, else a name (with its domain).
const ACCOUNT_UPN_COLUMNS: &[&str] = &["AccountUpn", "InitiatingProcessAccountUpn", "UserPrincipalName"];
const ACCOUNT_NAME_COLUMNS: &[(&str, &str)] = &[
    ("AccountName", "AccountDomain"),
    ("InitiatingProcessAccountName", "InitiatingProcessAccountDomain"),
];
const HASH_COLUMNS: &[(&str, &str)] = &[
    ("SHA1", "SHA1"),
    ("SHA256", "SHA256"),
    ("MD5", "MD5"),
    ("InitiatingProcessSHA1", "SHA1"),
    ("InitiatingProcessSHA256", "SHA256"),
    ("InitiatingProcessMD5", "MD5"),
];
const URL_COLUMNS: &[&str] = &["RemoteUrl", "Url", "FileOriginUrl"];
const IP_COLUMNS: &[&str] = &["RemoteIP", "IPAddress", "FileOriginIP", "ClientIP"];
const DEVICE_NAME_COLUMNS: &[&str] = &["DeviceName", "Computer"];

/// The text values of a cell: a string, each string or number of an array (`make_set`),
/// a number or boolean as text. Empty strings and nulls give nothing.
fn texts(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) if !s.trim().is_empty() => vec![s.clone()],
        Some(Json::Number(n)) => vec![n.to_string()],
        Some(Json::Bool(b)) => vec![b.to_string()],
        Some(Json::Array(items)) => items.iter().flat_map(|i| texts(Some(i))).collect(),
        _ => Vec::new(),
    }
}

fn first_text(row: &Map<String, Json>, column: &str) -> Option<String> {
    texts(row.get(column)).into_iter().next()
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Entities {
    /// The entities of one result row.
    pub fn of_row(row: &Map<String, Json>, mappings: &[EntityMapping]) -> Entities {
        let mut e = Entities::default();
        for m in mappings {
            e.add_mapping(row, m);
        }
        e.add_well_known(row);
        e.normalize();
        e
    }

    fn device_mut(&mut self) -> &mut Device {
        self.device.get_or_insert_with(Device::default)
    }

    fn add_mapping(&mut self, row: &Map<String, Json>, m: &EntityMapping) {
        let get = |id: &str| {
            m.field_mappings
                .iter()
                .find(|f| f.identifier.eq_ignore_ascii_case(id))
                .and_then(|f| first_text(row, &f.column_name))
        };
        let all = |id: &str| -> Vec<String> {
            m.field_mappings
                .iter()
                .filter(|f| f.identifier.eq_ignore_ascii_case(id))
                .flat_map(|f| texts(row.get(&f.column_name)))
                .collect()
        };
        match m.entity_type.to_ascii_lowercase().as_str() {
            "host" => {
                let name = get("FullName").or_else(|| {
                    let host = get("HostName").or_else(|| get("NetBiosName"))?;
                    Some(match get("DnsDomain") {
                        Some(d) if !host.contains('.') => format!("{host}.{d}"),
                        _ => host,
                    })
                });
                if let Some(n) = name {
                    self.device_mut().name.get_or_insert(n);
                }
                if let Some(id) = get("AzureID").or_else(|| get("OMSAgentID")) {
                    self.device_mut().id.get_or_insert(id);
                }
            }
            "account" => {
                let name = get("FullName")
                    .or_else(|| {
                        let n = get("Name")?;
                        Some(match (get("UPNSuffix"), get("NTDomain")) {
                            (Some(s), _) => format!("{n}@{s}"),
                            (None, Some(d)) => format!("{d}\\{n}"),
                            (None, None) => n,
                        })
                    })
                    .or_else(|| get("AadUserId"))
                    .or_else(|| get("Sid"))
                    .or_else(|| get("ObjectGuid"));
                if let Some(n) = name {
                    push_unique(&mut self.accounts, n);
                }
            }
            "filehash" => {
                let algorithm = get("Algorithm").unwrap_or_else(|| "unknown".into());
                for value in all("Value") {
                    push_unique(
                        &mut self.file_hashes,
                        FileHash {
                            algorithm: algorithm.to_ascii_uppercase(),
                            value,
                        },
                    );
                }
            }
            "file" => {
                let name = get("Name");
                let dir = get("Directory");
                let path = match (dir, name) {
                    (Some(d), Some(n)) if !d.ends_with(n.as_str()) => {
                        format!("{}{}{n}", d, if d.ends_with(['\\', '/']) { "" } else { "\\" })
                    }
                    (Some(d), _) => d,
                    (None, Some(n)) => n,
                    (None, None) => return,
                };
                push_unique(&mut self.files, path);
            }
            "process" => {
                if let Some(p) = get("CommandLine").or_else(|| get("ProcessId")) {
                    push_unique(&mut self.processes, p);
                }
            }
            "url" => all("Url").into_iter().for_each(|u| push_unique(&mut self.urls, u)),
            "ip" => all("Address").into_iter().for_each(|a| push_unique(&mut self.ips, a)),
            "dns" => all("DomainName")
                .into_iter()
                .for_each(|d| push_unique(&mut self.domains, d)),
            other => {
                let parts: Vec<String> = m
                    .field_mappings
                    .iter()
                    .filter_map(|f| first_text(row, &f.column_name).map(|v| format!("{}={v}", f.identifier)))
                    .collect();
                if !parts.is_empty() {
                    push_unique(
                        &mut self.other,
                        OtherEntity {
                            entity_type: other.to_string(),
                            value: parts.join(", "),
                        },
                    );
                }
            }
        }
    }

    fn add_well_known(&mut self, row: &Map<String, Json>) {
        if let Some(id) = first_text(row, "DeviceId") {
            self.device_mut().id.get_or_insert(id);
        }
        if let Some(name) = DEVICE_NAME_COLUMNS.iter().find_map(|c| first_text(row, c)) {
            self.device_mut().name.get_or_insert(name);
        }
        let mut upns = false;
        for c in ACCOUNT_UPN_COLUMNS {
            for v in texts(row.get(*c)) {
                upns = true;
                push_unique(&mut self.accounts, v);
            }
        }
        if !upns {
            for (name, domain) in ACCOUNT_NAME_COLUMNS {
                for n in texts(row.get(*name)) {
                    let v = match first_text(row, domain) {
                        Some(d) => format!("{d}\\{n}"),
                        None => n,
                    };
                    push_unique(&mut self.accounts, v);
                }
            }
        }
        for (c, algorithm) in HASH_COLUMNS {
            for value in texts(row.get(*c)) {
                push_unique(
                    &mut self.file_hashes,
                    FileHash {
                        algorithm: algorithm.to_string(),
                        value,
                    },
                );
            }
        }
        for c in URL_COLUMNS {
            texts(row.get(*c))
                .into_iter()
                .for_each(|u| push_unique(&mut self.urls, u));
        }
        for c in IP_COLUMNS {
            texts(row.get(*c))
                .into_iter()
                .for_each(|a| push_unique(&mut self.ips, a));
        }
    }

    /// Case-insensitive values compare equal; hashes are lower case; lists are sorted.
    fn normalize(&mut self) {
        for h in &mut self.file_hashes {
            h.value = h.value.to_lowercase();
        }
        let dedup_ci = |v: &mut Vec<String>| {
            v.sort_by_key(|s| s.to_lowercase());
            v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        };
        dedup_ci(&mut self.accounts);
        dedup_ci(&mut self.urls);
        dedup_ci(&mut self.domains);
        dedup_ci(&mut self.files);
        self.ips.sort();
        self.ips.dedup();
        self.processes.sort();
        self.processes.dedup();
        self.file_hashes.sort();
        self.file_hashes.dedup();
        self.other.sort();
        self.other.dedup();
    }

    /// Adds another row's entities (a finding over several rows).
    pub fn merge(&mut self, other: &Entities) {
        if let Some(d) = &other.device {
            let mine = self.device_mut();
            if mine.id.is_none() {
                mine.id = d.id.clone();
            }
            if mine.name.is_none() {
                mine.name = d.name.clone();
            }
        }
        self.accounts.extend(other.accounts.iter().cloned());
        self.file_hashes.extend(other.file_hashes.iter().cloned());
        self.files.extend(other.files.iter().cloned());
        self.processes.extend(other.processes.iter().cloned());
        self.urls.extend(other.urls.iter().cloned());
        self.domains.extend(other.domains.iter().cloned());
        self.ips.extend(other.ips.iter().cloned());
        self.other.extend(other.other.iter().cloned());
        self.normalize();
    }

    /// The identity of a finding: every entity, normalized, in a fixed order
    /// (`device=…|account=…|sha1=…|url=…|ip=…`). Empty when the row names no entity.
    pub fn key(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(k) = self.device.as_ref().and_then(Device::key) {
            parts.push(format!("device={k}"));
        }
        parts.extend(self.accounts.iter().map(|a| format!("account={}", a.to_lowercase())));
        parts.extend(
            self.file_hashes
                .iter()
                .map(|h| format!("{}={}", h.algorithm.to_lowercase(), h.value)),
        );
        parts.extend(self.files.iter().map(|f| format!("file={}", f.to_lowercase())));
        parts.extend(self.processes.iter().map(|p| format!("process={p}")));
        parts.extend(self.urls.iter().map(|u| format!("url={}", u.to_lowercase())));
        parts.extend(self.domains.iter().map(|d| format!("dns={}", d.to_lowercase())));
        parts.extend(self.ips.iter().map(|i| format!("ip={i}")));
        parts.extend(
            self.other
                .iter()
                .map(|o| format!("{}={}", o.entity_type, o.value.to_lowercase())),
        );
        parts.join("|")
    }

    /// One line for people: `account alice@x, url a.example, sha1 0123…`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let list = |label: &str, v: &[String], parts: &mut Vec<String>| {
            if !v.is_empty() {
                parts.push(format!("{label} {}", v.join(", ")));
            }
        };
        list("account", &self.accounts, &mut parts);
        list("url", &self.urls, &mut parts);
        list("ip", &self.ips, &mut parts);
        list("dns", &self.domains, &mut parts);
        list("file", &self.files, &mut parts);
        list("process", &self.processes, &mut parts);
        for h in &self.file_hashes {
            parts.push(format!("{} {}", h.algorithm.to_lowercase(), h.value));
        }
        for o in &self.other {
            parts.push(format!("{} {}", o.entity_type, o.value));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::FieldMapping;
    use serde_json::json;

    fn row(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn mapping(t: &str, pairs: &[(&str, &str)]) -> EntityMapping {
        EntityMapping {
            entity_type: t.into(),
            field_mappings: pairs
                .iter()
                .map(|(i, c)| FieldMapping {
                    identifier: i.to_string(),
                    column_name: c.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn well_known_columns() {
        let r = row(json!({
            "DeviceId": "abc", "DeviceName": "WS-1.contoso.com", "InitiatingProcessAccountUpn": "Alice@Contoso.com",
            "InitiatingProcessSHA1": "ABCDEF", "RemoteUrl": "relay.anydesk.com", "RemoteIP": "1.2.3.4",
            "Report": [1, 2], "Count": 3
        }));
        let e = Entities::of_row(&r, &[]);
        assert_eq!(
            e.device.as_ref().and_then(|d| d.name.as_deref()),
            Some("WS-1.contoso.com")
        );
        assert_eq!(e.accounts, ["Alice@Contoso.com"]);
        assert_eq!(e.file_hashes[0].value, "abcdef");
        assert_eq!(
            e.key(),
            "device=abc|account=alice@contoso.com|sha1=abcdef|url=relay.anydesk.com|ip=1.2.3.4"
        );
    }

    #[test]
    fn mappings_merge_with_well_known_columns() {
        let r = row(
            json!({"DeviceId": "abc", "Host": "ws-1", "RemoteHost": "x.example", "AccountName": "bob", "AccountDomain": "CONTOSO"}),
        );
        let e = Entities::of_row(
            &r,
            &[
                mapping("Host", &[("HostName", "Host"), ("DnsDomain", "Nope")]),
                mapping("URL", &[("Url", "RemoteHost")]),
            ],
        );
        assert_eq!(
            e.device,
            Some(Device {
                id: Some("abc".into()),
                name: Some("ws-1".into())
            })
        );
        assert_eq!(e.urls, ["x.example"]);
        assert_eq!(e.accounts, ["CONTOSO\\bob"]);
    }

    #[test]
    fn empty_rows_have_no_entities() {
        let e = Entities::of_row(&row(json!({"count_": 5, "DeviceName": ""})), &[]);
        assert_eq!(e, Entities::default());
        assert_eq!(e.key(), "");
    }

    #[test]
    fn arrays_give_several_values_and_case_folds() {
        let mut a = Entities::of_row(&row(json!({"RemoteUrl": ["B.example", "a.example"]})), &[]);
        let b = Entities::of_row(&row(json!({"RemoteUrl": "b.EXAMPLE", "DeviceName": "h"})), &[]);
        a.merge(&b);
        assert_eq!(a.urls, ["a.example", "B.example"]);
        assert_eq!(a.device.and_then(|d| d.name), Some("h".into()));
    }
}
