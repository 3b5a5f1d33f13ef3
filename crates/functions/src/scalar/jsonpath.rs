//! The JSONPath subset Kusto accepts in `extract_json`, `bag_has_key`, `bag_set_key` and
//! `bag_remove_keys`: `$`, `.name`, `['name']`, `["name"]`, `[index]` (negative from the
//! end). A path without a leading `$` is a single top-level key.

use serde_json::Value as Json;

#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Index(i64),
}

/// Parses a path; `None` when it is not valid JSONPath.
pub fn parse(path: &str) -> Option<Vec<Seg>> {
    let p = path.trim();
    let Some(rest) = p.strip_prefix('$') else {
        return Some(vec![Seg::Key(p.to_string())]);
    };
    let b: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < b.len() && b[i] != '.' && b[i] != '[' {
                    i += 1;
                }
                if start == i {
                    return None;
                }
                out.push(Seg::Key(b[start..i].iter().collect()));
            }
            '[' => {
                i += 1;
                if i < b.len() && (b[i] == '\'' || b[i] == '"') {
                    let q = b[i];
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                    out.push(Seg::Key(b[start..i].iter().collect()));
                    i += 1;
                } else {
                    let start = i;
                    while i < b.len() && b[i] != ']' {
                        i += 1;
                    }
                    let text: String = b[start..i].iter().collect();
                    out.push(Seg::Index(text.trim().parse().ok()?));
                }
                if i >= b.len() || b[i] != ']' {
                    return None;
                }
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    usize::try_from(i).ok().filter(|i| *i < len)
}

pub fn get<'a>(root: &'a Json, path: &[Seg]) -> Option<&'a Json> {
    let mut cur = root;
    for seg in path {
        cur = match (cur, seg) {
            (Json::Object(m), Seg::Key(k)) => m.get(k)?,
            (Json::Array(a), Seg::Index(i)) => a.get(index(a.len(), *i)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_mut<'a>(root: &'a mut Json, path: &[Seg]) -> Option<&'a mut Json> {
    let mut cur = root;
    for seg in path {
        cur = match (cur, seg) {
            (Json::Object(m), Seg::Key(k)) => m.get_mut(k)?,
            (Json::Array(a), Seg::Index(i)) => {
                let len = a.len();
                a.get_mut(index(len, *i)?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at `path` (if present).
pub fn remove(root: &mut Json, path: &[Seg]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (get_mut(root, parent), last) {
        (Some(Json::Object(m)), Seg::Key(k)) => {
            m.remove(k);
        }
        (Some(Json::Array(a)), Seg::Index(i)) => {
            if let Some(i) = index(a.len(), *i) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Sets the value at `path`, creating missing objects on the way.
pub fn set(root: &mut Json, path: &[Seg], value: Json) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    let mut cur = root;
    for seg in parent {
        cur = match (cur, seg) {
            (Json::Object(m), Seg::Key(k)) => m.entry(k.clone()).or_insert_with(|| Json::Object(Default::default())),
            (Json::Array(a), Seg::Index(i)) => {
                let len = a.len();
                match index(len, *i).and_then(|i| a.get_mut(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match (cur, last) {
        (Json::Object(m), Seg::Key(k)) => {
            m.insert(k.clone(), value);
            true
        }
        (Json::Array(a), Seg::Index(i)) => {
            let len = a.len();
            match index(len, *i).and_then(|i| a.get_mut(i)) {
                Some(slot) => {
                    *slot = value;
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        assert_eq!(
            parse("$.a['b'][0]").unwrap(),
            vec![Seg::Key("a".into()), Seg::Key("b".into()), Seg::Index(0)]
        );
        assert_eq!(parse("key2").unwrap(), vec![Seg::Key("key2".into())]);
        assert!(parse("$.").is_none());
        let mut d = json!({"a": {"b": [1, 2]}, "c": 1});
        assert_eq!(get(&d, &parse("$.a.b[-1]").unwrap()), Some(&json!(2)));
        remove(&mut d, &parse("$.a.b[0]").unwrap());
        assert_eq!(d, json!({"a": {"b": [2]}, "c": 1}));
        assert!(set(&mut d, &parse("$.x.y").unwrap(), json!(5)));
        assert_eq!(d["x"]["y"], json!(5));
    }
}
