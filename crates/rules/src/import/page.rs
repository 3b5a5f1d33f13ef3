//! SOC-feed rule pages, as text: the full page (header with badges, sections, the embedded
//! Sentinel YAML) and its condensed form (hypothesis, query, the YAML with its indentation
//! flattened, false-positive lines).

use super::{Ctx, KNOWN_KEYS, read_yaml, read_yaml_text};
use crate::attack::Attack;
use crate::diag::{Level, codes};
use crate::model::{FalsePositive, Rule, Severity, SourceFormat};
use crate::position::{LineIndex, TextMap};
use crate::yaml::Insertion;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageKind {
    Full,
    Condensed,
}

const BACK_LINK: &str = "← Back to SOC feed";
const SECTIONS: [&str; 6] = [
    "Hunt Hypothesis",
    "KQL Query",
    "Analytic Rule Definition",
    "MITRE ATT&CK Context",
    "References",
    "False Positive Guidance",
];
const ORIGINAL_SOURCE: &str = "Original source:";
const SCENARIO: &str = "Scenario:";
const EXCLUSION: &str = "Filter/Exclusion:";

#[derive(Clone, Copy, Debug)]
struct PLine<'a> {
    /// Start of the line in the file.
    start: usize,
    /// Start of the next line.
    next: usize,
    text: &'a str,
}

impl PLine<'_> {
    fn trimmed(&self) -> &str {
        self.text.trim()
    }
}

fn plines(file: &str, from: usize) -> Vec<PLine<'_>> {
    let mut out = Vec::new();
    let mut pos = from;
    let rest = file.get(from..).unwrap_or("");
    for raw in rest.split_inclusive('\n') {
        let body = raw.trim_end_matches(['\n', '\r']);
        out.push(PLine {
            start: pos,
            next: pos + raw.len(),
            text: body,
        });
        pos += raw.len();
    }
    out
}

fn is_yaml_start(line: &str) -> bool {
    line.starts_with("id:")
}

pub(crate) fn detect(text: &str) -> Option<PageKind> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    if first.trim_start().starts_with(BACK_LINK) || text.lines().any(|l| l.trim() == "Analytic Rule Definition") {
        return Some(PageKind::Full);
    }
    let mut lines = text.lines().skip_while(|l| l.trim() != "KQL Query");
    lines.next()?;
    lines.any(is_yaml_start).then_some(PageKind::Condensed)
}

pub(crate) fn read(index: &LineIndex<'_>, from: usize, kind: PageKind, ctx: &mut Ctx) -> Option<Rule> {
    match kind {
        PageKind::Full => read_full(index, from, ctx),
        PageKind::Condensed => read_condensed(index, from, ctx),
    }
}

/// What the page says besides the embedded definition.
#[derive(Default)]
struct PageParts {
    name: Option<(String, usize)>,
    severity: Option<(Severity, usize)>,
    techniques: Option<(Vec<String>, usize)>,
    hypothesis: Option<String>,
    query_section: Option<(String, usize)>,
    mitre: Option<String>,
    references: Vec<String>,
    false_positives: Vec<(FalsePositive, Option<TextMap>)>,
}

fn read_full(index: &LineIndex<'_>, from: usize, ctx: &mut Ctx) -> Option<Rule> {
    let file = index.text();
    let lines = plines(file, from);
    let pos = |offset: usize| Some(index.position(offset));
    let headers: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| SECTIONS.iter().find(|s| l.trimmed() == **s).map(|s| (i, *s)))
        .collect();
    let origin_line = lines.iter().position(|l| l.trimmed().starts_with(ORIGINAL_SOURCE));
    let section_end = |i: usize| {
        headers
            .iter()
            .map(|(h, _)| *h)
            .chain(origin_line)
            .filter(|&h| h > i)
            .min()
            .unwrap_or(lines.len())
    };
    let section = |name: &str| {
        headers
            .iter()
            .find(|(_, s)| *s == name)
            .map(|&(i, _)| (i + 1, section_end(i)))
    };
    let Some((def_from, def_to)) = section("Analytic Rule Definition") else {
        ctx.error(
            codes::PAGE_STRUCTURE,
            "the page has no `Analytic Rule Definition` section",
            pos(from),
        );
        return None;
    };
    let region_start = lines.get(def_from).map(|l| l.start).unwrap_or(file.len());
    let region_end = def_to
        .checked_sub(1)
        .and_then(|i| lines.get(i))
        .map(|l| l.next)
        .unwrap_or(region_start)
        .max(region_start);
    let mut rule = read_yaml(index, region_start, region_end, SourceFormat::FeedPage, ctx)?;

    let mut parts = PageParts::default();
    let first_header = headers.first().map(|(i, _)| *i).unwrap_or(lines.len());
    header_block(&lines[..first_header], &mut rule, &mut parts, index, ctx);
    let text_of =
        |(a, b): (usize, usize)| -> Vec<PLine<'_>> { lines.get(a..b).map(<[PLine<'_>]>::to_vec).unwrap_or_default() };
    if let Some(r) = section("Hunt Hypothesis") {
        parts.hypothesis = paragraph(&text_of(r));
    }
    if let Some(r) = section("KQL Query") {
        let l = text_of(r);
        parts.query_section = paragraph_raw(&l).map(|q| (q, l.first().map(|x| x.start).unwrap_or(from)));
    }
    if let Some(r) = section("MITRE ATT&CK Context") {
        parts.mitre = paragraph(&text_of(r));
    }
    if let Some(r) = section("References") {
        parts.references = text_of(r)
            .iter()
            .map(|l| l.trimmed().trim_start_matches(['-', '*', '•']).trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
    }
    if let Some(r) = section("False Positive Guidance") {
        parts.false_positives = false_positives(&text_of(r), index, ctx);
    }
    if let Some(i) = origin_line
        && let Some(l) = lines.get(i)
    {
        let url = l.trimmed()[ORIGINAL_SOURCE.len()..].trim();
        if !url.is_empty() {
            set_source_url(&mut rule, url);
            rule.source
                .as_mut()
                .map(|s| s.fields.insert("page.source_url".into(), index.position(l.start)));
        }
    }
    apply(&mut rule, parts, index, ctx);
    Some(rule)
}

/// The lines between the back link and the first section: name, badges, techniques, tags,
/// disclaimer, original-rule link, retrieval line.
fn header_block(lines: &[PLine<'_>], rule: &mut Rule, parts: &mut PageParts, index: &LineIndex<'_>, ctx: &mut Ctx) {
    let mut rest = lines
        .iter()
        .filter(|l| !l.trimmed().is_empty() && !l.trimmed().starts_with(BACK_LINK));
    if let Some(l) = rest.next() {
        parts.name = Some((l.trimmed().to_string(), l.start));
    }
    let mut badges_seen = false;
    for l in rest {
        let t = l.trimmed();
        let at = Some(index.position(l.start));
        if t.starts_with("This rule was pulled from") || t.contains("enriched with AI") {
            rule.provenance.disclaimer = Some(t.to_string());
        } else if let Some(repo) = t.strip_prefix("View original rule at") {
            let repo = repo.trim().trim_end_matches('→').trim();
            if !repo.is_empty() && rule.provenance.source_repository.is_none() {
                rule.provenance.source_repository = Some(repo.to_string());
            }
        } else if let Some(r) = t.strip_prefix("Retrieved:") {
            let (when, conf) = match r.split_once('·') {
                Some((w, c)) => (w.trim(), Some(c.trim())),
                None => (r.trim(), None),
            };
            rule.provenance.retrieved = Some(when.to_string());
            if let Some(c) = conf {
                match c.strip_prefix("Confidence:") {
                    Some(v) => rule.provenance.confidence = Some(v.trim().to_string()),
                    None => ctx.warn(
                        codes::PAGE_STRUCTURE,
                        format!("unrecognized text after the retrieval date: `{c}`"),
                        at,
                    ),
                }
            }
        } else if !badges_seen {
            badges_seen = true;
            let words: Vec<&str> = t.split_whitespace().collect();
            match words.as_slice() {
                [lang, sev, repo @ ..] if Severity::parse(sev).is_some() => {
                    rule.provenance.language = Some((*lang).to_string());
                    parts.severity = Severity::parse(sev).map(|s| (s, l.start));
                    if !repo.is_empty() {
                        rule.provenance.source_repository = Some(repo.join(" "));
                    }
                }
                _ => ctx.warn(
                    codes::PAGE_STRUCTURE,
                    format!("expected the badges line (`kql MEDIUM Azure-Sentinel`), found `{t}`"),
                    at,
                ),
            }
        } else if t
            .split([' ', ','])
            .filter(|w| !w.is_empty())
            .all(Attack::is_technique_id)
        {
            parts.techniques = Some((
                t.split([' ', ','])
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect(),
                l.start,
            ));
        } else if rule.provenance.feed_tags.is_none() {
            rule.provenance.feed_tags = Some(t.to_string());
        } else {
            ctx.warn(
                codes::PAGE_STRUCTURE,
                format!("unrecognized line in the page header: `{t}`"),
                at,
            );
        }
    }
}

fn paragraph(lines: &[PLine<'_>]) -> Option<String> {
    let text = lines.iter().map(|l| l.trimmed()).collect::<Vec<_>>().join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Lines verbatim (keeping indentation), without leading/trailing blank lines.
fn paragraph_raw(lines: &[PLine<'_>]) -> Option<String> {
    let first = lines.iter().position(|l| !l.trimmed().is_empty())?;
    let last = lines.iter().rposition(|l| !l.trimmed().is_empty())?;
    Some(
        lines[first..=last]
            .iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn false_positives(lines: &[PLine<'_>], index: &LineIndex<'_>, ctx: &mut Ctx) -> Vec<(FalsePositive, Option<TextMap>)> {
    let mut out: Vec<(FalsePositive, Option<TextMap>)> = Vec::new();
    for l in lines {
        let t = l.trimmed();
        if t.is_empty() {
            continue;
        }
        let lead = l.text.len() - l.text.trim_start().len();
        if let Some(s) = t.strip_prefix(SCENARIO) {
            out.push((
                FalsePositive {
                    scenario: s.trim().to_string(),
                    exclusion: None,
                },
                None,
            ));
        } else if let Some(e) = t.strip_prefix(EXCLUSION) {
            let value = e.trim();
            let offset = l.start + lead + EXCLUSION.len() + (e.len() - e.trim_start().len());
            let map = TextMap::verbatim(value, offset, index);
            match out.last_mut() {
                Some((fp, m)) if fp.exclusion.is_none() => {
                    fp.exclusion = Some(value.to_string());
                    *m = Some(map);
                }
                _ => ctx.warn(
                    codes::PAGE_STRUCTURE,
                    "a Filter/Exclusion line without its Scenario line was ignored",
                    Some(index.position(l.start)),
                ),
            }
        } else {
            ctx.warn(
                codes::PAGE_STRUCTURE,
                format!("unrecognized line in the false-positive guidance: `{t}`"),
                Some(index.position(l.start)),
            );
        }
    }
    out
}

fn set_source_url(rule: &mut Rule, url: &str) {
    rule.provenance.source_url = Some(url.to_string());
    // https://github.com/<owner>/<repo>/blob/<branch>/<path>
    if let Some(rest) = url.strip_prefix("https://github.com/") {
        let mut it = rest.splitn(5, '/');
        if let (Some(owner), Some(repo), Some("blob"), Some(_branch), Some(path)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        {
            rule.provenance.source_repository = Some(format!("{owner}/{repo}"));
            rule.provenance.source_path = Some(path.to_string());
        }
    }
}

fn squash_query(q: &str) -> String {
    q.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Puts the page's own parts into the rule and reports where they disagree with the
/// embedded definition.
fn apply(rule: &mut Rule, parts: PageParts, index: &LineIndex<'_>, ctx: &mut Ctx) {
    let at = |o: usize| Some(index.position(o));
    if let Some((name, o)) = parts.name
        && name != rule.name
    {
        ctx.warn(
            codes::PAGE_STRUCTURE,
            format!(
                "the page title `{name}` differs from the definition's name `{}`",
                rule.name
            ),
            at(o),
        );
    }
    if let Some((sev, o)) = parts.severity {
        match rule.severity {
            Some(s) if s != sev => ctx.warn(codes::PAGE_STRUCTURE, format!("the page's severity badge {sev} differs from the definition's severity {s}; the definition's is kept"), at(o)),
            Some(_) => {}
            None => rule.severity = Some(sev),
        }
    }
    if let Some((techs, o)) = parts.techniques
        && techs != rule.techniques
    {
        ctx.warn(
            codes::PAGE_STRUCTURE,
            format!(
                "the page lists techniques {} but the definition has {}",
                techs.join(", "),
                rule.techniques.join(", ")
            ),
            at(o),
        );
    }
    if let Some((q, o)) = parts.query_section
        && squash_query(&q) != squash_query(&rule.query)
    {
        ctx.warn(codes::PAGE_STRUCTURE, "the page's KQL Query section differs from the query in its rule definition; the definition's query is used", at(o));
    }
    rule.enrichment.hunt_hypothesis = parts.hypothesis;
    rule.enrichment.mitre_context = parts.mitre;
    rule.enrichment.references = parts.references;
    let (fps, maps): (Vec<_>, Vec<_>) = parts.false_positives.into_iter().unzip();
    rule.enrichment.false_positives = fps;
    if let Some(src) = &mut rule.source {
        src.exclusion_maps = maps;
    }
}

fn read_condensed(index: &LineIndex<'_>, from: usize, ctx: &mut Ctx) -> Option<Rule> {
    let file = index.text();
    let lines = plines(file, from);
    let kql = lines.iter().position(|l| l.trimmed() == "KQL Query")?;
    let yaml_start = kql + 1 + lines[kql + 1..].iter().position(|l| is_yaml_start(l.text))?;
    let fp_start = yaml_start
        + lines[yaml_start..]
            .iter()
            .position(|l| l.trimmed().starts_with(SCENARIO))
            .unwrap_or(lines.len() - yaml_start);
    let yaml_lines = &lines[yaml_start..fp_start];
    let base = yaml_lines.first().map(|l| l.start).unwrap_or(file.len());
    let (text, insertions) = match reindent(file, yaml_lines) {
        Ok(x) => x,
        Err((offset, msg)) => {
            ctx.error(codes::REINDENTED_PAGE, msg, Some(index.position(offset)));
            return None;
        }
    };
    ctx.push(
        Level::Info,
        codes::REINDENTED_PAGE,
        "condensed feed page: the rule definition's indentation was flattened and has been reconstructed",
        Some(index.position(base)),
    );
    let mut rule = read_yaml_text(index, base, text, insertions, SourceFormat::FeedPageCondensed, ctx)?;
    let parts = PageParts {
        hypothesis: paragraph(&lines[..kql]),
        query_section: paragraph_raw(&lines[kql + 1..yaml_start])
            .map(|q| (q, lines.get(kql + 1).map(|l| l.start).unwrap_or(from))),
        false_positives: false_positives(&lines[fp_start..], index, ctx),
        ..PageParts::default()
    };
    apply(&mut rule, parts, index, ctx);
    Some(rule)
}

/// Rebuilds the indentation of a flattened Sentinel definition: top-level keys at column 0,
/// block-scalar content indented under its key, and one level of list-of-mappings whose
/// nested lists hold plain values (`requiredDataConnectors`). Anything deeper is ambiguous
/// once flattened and is an error rather than a guess.
fn reindent(file: &str, lines: &[PLine<'_>]) -> Result<(String, Vec<Insertion>), (usize, String)> {
    enum State {
        Top,
        Block,
        Nested {
            key: String,
            in_item: bool,
            inner_list: bool,
        },
    }
    let mut out = String::new();
    let mut insertions = Vec::new();
    let mut state = State::Top;
    for l in lines {
        let raw = file.get(l.start..l.next).unwrap_or("");
        let t = l.text.trim_start();
        let lead = l.text.len() - t.len();
        let top_key = t
            .split_once(':')
            .filter(|(k, rest)| lead == 0 && KNOWN_KEYS.contains(k) && (rest.is_empty() || rest.starts_with(' ')))
            .map(|(k, rest)| (k, rest.trim()));
        let mut indent = 0;
        let snippet = || t.chars().take(40).collect::<String>();
        if let Some((key, value)) = top_key {
            state = if value.starts_with('|') || value.starts_with('>') {
                State::Block
            } else if value.is_empty() {
                State::Nested {
                    key: key.to_string(),
                    in_item: false,
                    inner_list: false,
                }
            } else {
                State::Top
            };
        } else if !t.is_empty() {
            match &mut state {
                State::Top => {
                    return Err((
                        l.start,
                        format!(
                            "condensed feed page: cannot tell where `{}` belongs in the flattened rule definition",
                            snippet()
                        ),
                    ));
                }
                State::Block => indent = 2,
                State::Nested {
                    key,
                    in_item,
                    inner_list,
                } => {
                    let is_item = t.starts_with("- ") || t == "-";
                    let is_key = !is_item
                        && t.split_once(':')
                            .is_some_and(|(k, r)| !k.contains(' ') && (r.is_empty() || r.starts_with(' ')));
                    if is_item && *inner_list {
                        if t.contains(": ") {
                            return Err((
                                l.start,
                                format!(
                                    "condensed feed page: `{}` could be a new `{key}` entry or part of the previous one; the flattened text cannot tell",
                                    snippet()
                                ),
                            ));
                        }
                        indent = 2;
                    } else if is_item {
                        *in_item = true;
                    } else if is_key && *in_item {
                        indent = 2;
                        *inner_list = t.trim_end().ends_with(':');
                    } else {
                        return Err((
                            l.start,
                            format!("condensed feed page: cannot place `{}` inside `{key}`", snippet()),
                        ));
                    }
                }
            }
        }
        if indent > lead {
            insertions.push(Insertion {
                at: out.len() + lead,
                len: indent - lead,
            });
            out.push_str(&raw[..lead]);
            out.push_str(&" ".repeat(indent - lead));
            out.push_str(&raw[lead..]);
        } else {
            out.push_str(raw);
        }
    }
    Ok((out, insertions))
}
