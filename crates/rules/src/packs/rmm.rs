//! The built-in RMM pack: Quarry's hunting rules for remote monitoring and management tools,
//! generated from `data/rmm_indicators.json` (never written out per tool by hand).
//!
//! For every tool and every signal it has indicators for, one rule:
//! - **file signature** — `DeviceFileCertificateInfo.Signer`;
//! - **process creation** — `DeviceProcessEvents` PE version-info company/product (both
//!   must match when the tool has both) and original file names; for a tool with neither
//!   (DWService, Level) but with signers, a process whose `SHA1` is that of a file the
//!   tool's vendor signed (`DeviceFileCertificateInfo`);
//! - **network connection** — `DeviceNetworkEvents`: the remote host is one of the tool's
//!   domains (or a subdomain of one) and, when the tool has version-info names, the
//!   initiating process is the tool's; for a tool without domains (TightVNC, Naverisk…),
//!   any connection of a process with the tool's version information;
//!
//! and one combined rule per signal over a `datatable` of all tools (the process rule's
//! table has one row per company and product pair, so a tool with both needs both, as in
//! its own rule).
//!
//! Matching operators, and why:
//! - Vendor names use `has` / `has_any`. `has` matches whole terms, and a multi-word needle
//!   matches that sequence of terms, so `Signer has 'Action1 Corporation'` matches
//!   "Action1 Corporation" and "ACTION1 CORPORATION LLC" but not "NotAction1 Corp".
//! - Domains must not use `has` alone: `RemoteUrl has 'anydesk.com'` is a term-sequence
//!   match and also accepts `anydesk.com.attacker.example` and `anydesk.com-login.example`.
//!   The rules use `has_any` only as a cheap prefilter, then extract the host from
//!   `RemoteUrl` and require `RemoteHost == domain or RemoteHost endswith '.' + domain`.
//!   Indicators without a dot (`atera-agent-heartbeat`) are URL terms, matched with `has`.

use crate::model::*;
use serde::Deserialize;
use std::sync::OnceLock;

static RMM_JSON: &str = include_str!("../../../../data/rmm_indicators.json");

/// Namespace for the pack's deterministic rule ids (UUIDv5 of `rmm/<tool>/<signal>`).
const NAMESPACE: uuid::Uuid = uuid::uuid!("b57e047b-2c7d-4ffc-8da3-b0705625767b");

pub const PACK: &str = "rmm";
const REPOSITORY: &str = "https://github.com/jischell-msft/RemoteManagementMonitoringTools";
const T1219_URL: &str = "https://attack.mitre.org/techniques/T1219/";
const LOOKBACK: &str = "5d";

/// One tool's indicators.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RmmTool {
    pub tool: String,
    #[serde(default)]
    pub signers: Vec<String>,
    #[serde(default)]
    pub company_names: Vec<String>,
    #[serde(default)]
    pub product_names: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub process_file_names: Vec<String>,
}

#[derive(Deserialize)]
struct RawFile {
    tools: Vec<RmmTool>,
}

/// The indicator set compiled into the binary.
pub fn tools() -> &'static [RmmTool] {
    static TOOLS: OnceLock<Vec<RmmTool>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        serde_json::from_str::<RawFile>(RMM_JSON)
            .map(|f| f.tools)
            .unwrap_or_default()
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    FileSignature,
    ProcessCreation,
    NetworkConnection,
}

impl Signal {
    pub const ALL: [Signal; 3] = [
        Signal::FileSignature,
        Signal::ProcessCreation,
        Signal::NetworkConnection,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Signal::FileSignature => "filesig",
            Signal::ProcessCreation => "createproc",
            Signal::NetworkConnection => "netconn",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Signal::FileSignature => "File Signature",
            Signal::ProcessCreation => "Process Creation",
            Signal::NetworkConnection => "Network Connection",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Signal::FileSignature => "DeviceFileCertificateInfo",
            Signal::ProcessCreation => "DeviceProcessEvents",
            Signal::NetworkConnection => "DeviceNetworkEvents",
        }
    }

    /// A file signed by the vendor proves presence, a process proves execution, a
    /// connection to the vendor's cloud proves a live remote-control channel.
    fn severity(self) -> Severity {
        match self {
            Signal::FileSignature => Severity::Low,
            Signal::ProcessCreation => Severity::Medium,
            Signal::NetworkConnection => Severity::High,
        }
    }
}

/// The whole pack: per-tool rules (tools in file order, signals in [`Signal::ALL`] order),
/// then the three combined rules.
pub fn rules() -> Vec<Rule> {
    let mut out = Vec::new();
    for tool in tools() {
        for signal in Signal::ALL {
            if let Some(tq) = tool_query(tool, signal) {
                out.push(make_rule(&tool.tool, signal, tq.query, &tq.also_reads, false));
            }
        }
    }
    for signal in Signal::ALL {
        out.push(make_rule(
            "All Tools",
            signal,
            combined_query(tools(), signal),
            &[],
            true,
        ));
    }
    out
}

/// The pack's id for a tool and signal.
pub fn rule_id(tool: &str, signal: Signal) -> String {
    uuid::Uuid::new_v5(&NAMESPACE, format!("rmm/{tool}/{}", signal.slug()).as_bytes()).to_string()
}

/// A KQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

/// `Column has 'x'` or `Column has_any ('x', 'y')`.
fn has(column: &str, needles: &[String]) -> String {
    match needles {
        [one] => format!("{column} has {}", lit(one)),
        _ => format!("{column} has_any ({})", list(needles)),
    }
}

const HEADER: &str = "let Time_start = now(-5d);\nlet Time_end = now();\n//\n";
const HOST: &str =
    "| extend RemoteHost = tolower(extract(@'^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?([^/:?#]+)', 1, RemoteUrl))\n";
const SUMMARY: &str =
    "| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp),\n    Report=make_set(ReportId), Count=count() by ";

fn version_info(prefix: &str, tool: &RmmTool) -> Option<String> {
    let company =
        (!tool.company_names.is_empty()).then(|| has(&format!("{prefix}VersionInfoCompanyName"), &tool.company_names));
    let product =
        (!tool.product_names.is_empty()).then(|| has(&format!("{prefix}VersionInfoProductName"), &tool.product_names));
    match (company, product) {
        (Some(c), Some(p)) => Some(format!("{c}\n    and {p}")),
        (c, p) => c.or(p),
    }
}

/// A per-tool query and the tables it reads besides the signal's own.
struct ToolQuery {
    query: String,
    also_reads: Vec<&'static str>,
}

fn tool_query(tool: &RmmTool, signal: Signal) -> Option<ToolQuery> {
    let table = signal.table();
    let mut q = format!("{HEADER}{table}\n| where Timestamp between (Time_start..Time_end)\n");
    let mut also_reads = Vec::new();
    match signal {
        Signal::FileSignature => {
            if tool.signers.is_empty() {
                return None;
            }
            q.push_str(&format!("| where {}\n", has("Signer", &tool.signers)));
            q.push_str(SUMMARY);
            q.push_str("DeviceId, DeviceName, Signer");
        }
        Signal::ProcessCreation => {
            let vi = version_info("Process", tool);
            let names = (!tool.process_file_names.is_empty()).then(|| {
                format!(
                    "(ProcessVersionInfoOriginalFileName in~ ({l}) or FileName in~ ({l}))",
                    l = list(&tool.process_file_names)
                )
            });
            match (vi, names) {
                (Some(v), Some(n)) => q.push_str(&format!("| where {v}\n    and {n}\n")),
                (Some(c), None) | (None, Some(c)) => q.push_str(&format!("| where {c}\n")),
                (None, None) if !tool.signers.is_empty() => {
                    // No version information to go by (DWService, Level): the process's
                    // binary is a file the tool's vendor signed.
                    q = format!(
                        "{HEADER}let RmmSignedFiles = DeviceFileCertificateInfo\n| where Timestamp between (Time_start..Time_end)\n| where {}\n| distinct SHA1;\n{table}\n| where Timestamp between (Time_start..Time_end)\n| where SHA1 in (RmmSignedFiles)\n",
                        has("Signer", &tool.signers)
                    );
                    also_reads.push(Signal::FileSignature.table());
                }
                (None, None) => return None,
            }
            q.push_str(SUMMARY);
            q.push_str("DeviceId, DeviceName,\n    AccountUpn, FileName, ProcessVersionInfoCompanyName, ProcessVersionInfoProductName");
            if !also_reads.is_empty() {
                q.push_str(", SHA1");
            }
        }
        Signal::NetworkConnection if tool.domains.is_empty() => {
            // No domain to go by (TightVNC, Naverisk…): any connection of the tool's
            // process, known by its version information.
            q.push_str(&format!("| where {}\n", version_info("InitiatingProcess", tool)?));
            q.push_str(HOST);
            q.push_str(SUMMARY);
            q.push_str("DeviceId, DeviceName,\n    InitiatingProcessAccountUpn, RemoteHost, RemoteIP, InitiatingProcessFileName");
        }
        Signal::NetworkConnection => {
            q.push_str(&format!("| where {}\n", has("RemoteUrl", &tool.domains)));
            q.push_str(HOST);
            let host_conds: Vec<String> = tool
                .domains
                .iter()
                .map(|d| {
                    if d.contains('.') {
                        format!(
                            "RemoteHost == {} or RemoteHost endswith {}",
                            lit(&d.to_lowercase()),
                            lit(&format!(".{}", d.to_lowercase()))
                        )
                    } else {
                        format!("RemoteUrl has {}", lit(d))
                    }
                })
                .collect();
            q.push_str(&format!("| where {}\n", host_conds.join("\n    or ")));
            if let Some(vi) = version_info("InitiatingProcess", tool) {
                q.push_str(&format!("| where {vi}\n"));
            }
            q.push_str(SUMMARY);
            q.push_str("DeviceId, DeviceName,\n    InitiatingProcessAccountUpn, RemoteHost, InitiatingProcessFileName");
        }
    }
    Some(ToolQuery { query: q, also_reads })
}

fn datatable(name: &str, value_column: &str, rows: &[(String, String)]) -> String {
    let body: Vec<String> = rows
        .iter()
        .map(|(t, v)| format!("    {}, {}", lit(t), lit(v)))
        .collect();
    format!(
        "let {name} = datatable(Tool:string, {value_column}:string) [\n{}\n];\n",
        body.join(",\n")
    )
}

/// One row per (company, product) a tool's process may carry: a process matches a tool when
/// it matches one of its rows, which requires the company **and** the product when the tool
/// has both (as the per-tool rules do); an empty cell matches anything.
fn version_info_table(tools: &[RmmTool]) -> String {
    let mut rows = Vec::new();
    for t in tools {
        let companies: Vec<&str> = if t.company_names.is_empty() {
            vec![""]
        } else {
            t.company_names.iter().map(String::as_str).collect()
        };
        let products: Vec<&str> = if t.product_names.is_empty() {
            vec![""]
        } else {
            t.product_names.iter().map(String::as_str).collect()
        };
        if t.company_names.is_empty() && t.product_names.is_empty() {
            continue;
        }
        for c in &companies {
            for p in &products {
                rows.push(format!("    {}, {}, {}", lit(&t.tool), lit(c), lit(p)));
            }
        }
    }
    format!(
        "let RmmVersionInfo = datatable(Tool:string, Company:string, Product:string) [\n{}\n];\n",
        rows.join(",\n")
    )
}

fn pairs(tools: &[RmmTool], pick: impl Fn(&RmmTool) -> &Vec<String>) -> Vec<(String, String)> {
    tools
        .iter()
        .flat_map(|t| pick(t).iter().map(move |v| (t.tool.clone(), v.clone())))
        .collect()
}

/// One query per signal over every tool's indicators. Attribution to a tool happens by
/// joining the matched value (signer, company, domain suffix) back to the datatable.
///
/// Process creation: a row can match a tool that names a product only through that
/// product, so company names prefilter only for tools without one; otherwise every Google
/// Chrome launch would pass (Chrome Remote Desktop's company is "Google LLC") and be joined
/// with every tool.
fn combined_query(tools: &[RmmTool], signal: Signal) -> String {
    match signal {
        Signal::FileSignature => format!(
            "{}{HEADER}DeviceFileCertificateInfo\n| where Timestamp between (Time_start..Time_end)\n| where Signer has_any (RmmSigners | distinct Signer)\n{SUMMARY}DeviceId, DeviceName, Signer",
            datatable("RmmSigners", "Signer", &pairs(tools, |t| &t.signers))
        ),
        Signal::ProcessCreation => format!(
            "{}{HEADER}DeviceProcessEvents\n| where Timestamp between (Time_start..Time_end)\n\
| where ProcessVersionInfoProductName has_any (RmmVersionInfo | where isnotempty(Product) | distinct Product)\n\
    or ProcessVersionInfoCompanyName has_any (RmmVersionInfo | where isempty(Product) | distinct Company)\n\
| extend JoinKey = 1\n\
| join kind=inner (RmmVersionInfo | extend JoinKey = 1) on JoinKey\n\
| where (isempty(Company) or ProcessVersionInfoCompanyName has Company)\n\
    and (isempty(Product) or ProcessVersionInfoProductName has Product)\n\
{SUMMARY}DeviceId, DeviceName,\n    AccountUpn, FileName, ProcessVersionInfoCompanyName, ProcessVersionInfoProductName, Tool",
            version_info_table(tools)
        ),
        Signal::NetworkConnection => {
            let domains: Vec<(String, String)> = pairs(tools, |t| &t.domains)
                .into_iter()
                .map(|(t, d)| (t, d.to_lowercase()))
                .collect();
            format!(
                "{}{HEADER}DeviceNetworkEvents\n| where Timestamp between (Time_start..Time_end)\n| where RemoteUrl has_any (RmmDomains | distinct Domain)\n{HOST}\
| extend HostLabels = split(RemoteHost, '.')\n\
| mv-expand Skip = range(0, array_length(HostLabels) - 1) to typeof(long)\n\
| extend Domain = strcat_array(array_slice(HostLabels, Skip, -1), '.')\n\
| join kind=inner (RmmDomains) on Domain\n\
{SUMMARY}DeviceId, DeviceName,\n    InitiatingProcessAccountUpn, RemoteHost, InitiatingProcessFileName, Tool",
                datatable("RmmDomains", "Domain", &domains)
            )
        }
    }
}

fn make_rule(tool: &str, signal: Signal, query: String, also_reads: &[&str], combined: bool) -> Rule {
    let name = format!("Remote Management and Monitoring tool - {tool} - {}", signal.title());
    let mut p = Provenance::new(SourceFormat::BuiltinPack);
    p.pack = Some(PACK.into());
    p.source_repository = Some("quarry".into());
    let mut rule = Rule::new(rule_id(tool, signal), name, query, p);
    let subject = if combined {
        "any of the remote monitoring and management (RMM) tools Quarry knows".to_string()
    } else {
        format!("{tool}, a remote monitoring and management (RMM) tool")
    };
    let evidence = match signal {
        Signal::FileSignature => "a file signed by the tool's vendor",
        Signal::ProcessCreation => "a process whose version information names the tool or its vendor",
        Signal::NetworkConnection => "a connection from the tool's process to the tool's cloud service",
    };
    rule.description = format!(
        "Finds {evidence} for {subject} in the last {LOOKBACK}. RMM tools are legitimate IT software that attackers install to keep access to a network or use as a command-and-control channel (ATT&CK T1219).\nGenerated by Quarry from the RemoteManagementMonitoringTools indicator set: {REPOSITORY}\n"
    );
    rule.severity = Some(if combined { Severity::Medium } else { signal.severity() });
    rule.tactics = vec!["CommandAndControl".into()];
    rule.techniques = vec!["T1219".into()];
    rule.required_data_connectors = vec![DataConnector {
        connector_id: "MicrosoftThreatProtection".into(),
        data_types: std::iter::once(signal.table())
            .chain(also_reads.iter().copied())
            .map(String::from)
            .collect(),
    }];
    rule.tags = vec![Tag::Text("RMM".into()), Tag::Text(signal.slug().into())];
    rule.version = Some("1.0.0".into());
    rule.entity_mappings = vec![EntityMapping {
        entity_type: "Host".into(),
        field_mappings: vec![FieldMapping {
            identifier: "HostName".into(),
            column_name: "DeviceName".into(),
        }],
    }];
    if signal == Signal::NetworkConnection {
        rule.entity_mappings.push(EntityMapping {
            entity_type: "URL".into(),
            field_mappings: vec![FieldMapping {
                identifier: "Url".into(),
                column_name: "RemoteHost".into(),
            }],
        });
    }
    if matches!(signal, Signal::ProcessCreation) {
        rule.entity_mappings.push(EntityMapping {
            entity_type: "Account".into(),
            field_mappings: vec![FieldMapping {
                identifier: "FullName".into(),
                column_name: "AccountUpn".into(),
            }],
        });
    }
    rule.enrichment = Enrichment {
        hunt_hypothesis: Some(format!(
            "If {subject} is present on a device where IT did not deploy it, an intruder may be using it for persistent remote access and command and control (T1219). Hunt for {evidence} and confirm each device against the organisation's sanctioned remote-access tooling."
        )),
        false_positives: vec![false_positive(signal)],
        references: vec![REPOSITORY.into(), T1219_URL.into()],
        mitre_context: Some(
            "T1219 Remote Access Tools (Command and Control): adversaries use legitimate remote desktop and RMM software to control compromised systems interactively; the traffic blends in with administration and the binaries are signed.".into(),
        ),
    };
    rule
}

/// False-positive guidance with an exclusion that is a KQL predicate over the rule's input
/// table (the hunt applies it to the rows the query reads).
fn false_positive(signal: Signal) -> FalsePositive {
    match signal {
        Signal::FileSignature => FalsePositive {
            scenario: "Installers of the tool are stored and scanned on software-distribution servers (SCCM/MECM, WSUS, file shares) without being run there.".into(),
            exclusion: Some("DeviceName has_any ('sccm', 'mecm', 'wsus', 'deploy')".into()),
        },
        Signal::ProcessCreation => FalsePositive {
            scenario: "IT removes the tool: its uninstaller runs with the same version information.".into(),
            exclusion: Some("ProcessCommandLine has_any ('uninstall', '/remove', '--remove')".into()),
        },
        Signal::NetworkConnection => FalsePositive {
            scenario: "A user browses the vendor's website (documentation, download page) from a web browser.".into(),
            exclusion: Some("InitiatingProcessFileName in~ ('msedge.exe', 'chrome.exe', 'firefox.exe', 'iexplore.exe', 'brave.exe', 'opera.exe', 'safari')".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_covers_every_tool_with_indicators() {
        let t = tools();
        assert_eq!(t.len(), 59);
        let r = rules();
        let expected: usize = t
            .iter()
            .map(|x| {
                let version_info = !(x.company_names.is_empty() && x.product_names.is_empty());
                usize::from(!x.signers.is_empty())
                    + usize::from(version_info || !x.process_file_names.is_empty() || !x.signers.is_empty())
                    + usize::from(!x.domains.is_empty() || version_info)
            })
            .sum();
        assert_eq!(r.len(), expected + 3);
        let mut ids: Vec<&str> = r.iter().map(|x| x.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), r.len(), "ids are unique");
        assert_eq!(
            rule_id("AnyDesk", Signal::NetworkConnection),
            rule_id("AnyDesk", Signal::NetworkConnection)
        );
        assert_ne!(
            rule_id("AnyDesk", Signal::NetworkConnection),
            rule_id("AnyDesk", Signal::FileSignature)
        );
    }

    #[test]
    fn ids_are_stable_across_builds() {
        // Changing the namespace or the naming scheme would orphan stored findings.
        assert_eq!(
            rule_id("Action1", Signal::FileSignature),
            uuid::Uuid::new_v5(&NAMESPACE, b"rmm/Action1/filesig").to_string()
        );
        assert_eq!(
            rule_id("Action1", Signal::FileSignature),
            "f15b8372-01dd-5af9-9711-a64af220ecdd"
        );
    }

    #[test]
    fn domain_rules_match_hosts_not_terms() {
        let anydesk = tools().iter().find(|t| t.tool == "AnyDesk").unwrap();
        let q = tool_query(anydesk, Signal::NetworkConnection).unwrap().query;
        assert!(
            q.contains("RemoteHost == 'anydesk.com' or RemoteHost endswith '.anydesk.com'"),
            "{q}"
        );
        assert!(
            !q.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "AccountUpn"),
            "DeviceNetworkEvents has no AccountUpn: {q}"
        );
        let atera = tools().iter().find(|t| t.tool == "Atera").unwrap();
        assert!(
            tool_query(atera, Signal::NetworkConnection)
                .unwrap()
                .query
                .contains("RemoteUrl has 'atera-agent-heartbeat'")
        );
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(lit("O'Brien \\ Co"), "'O\\'Brien \\\\ Co'");
    }
}
