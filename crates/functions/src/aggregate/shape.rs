//! `buildschema(d)`: the minimal schema admitting every value of a dynamic column, in
//! Kusto's notation: a type name (`long`, `double`, `string`, `bool`, …), a bag of
//! property schemas, `{"`indexer`": s}` for arrays, or a list of alternatives.

use super::valagg::{AccFactory, ValAcc, ValUdaf};
use crate::val::Val;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::AggregateUDF;
use serde_json::{Map, Value as Json};

const INDEXER: &str = "`indexer`";

/// One alternative of a schema.
#[derive(Debug, Clone)]
enum Alt {
    Prim(String),
    Obj(Vec<(String, Schema)>),
    Arr(Box<Schema>),
}

/// A schema: alternatives in the order they were first seen.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    alts: Vec<Alt>,
}

fn prim_name(j: &Json) -> Option<&'static str> {
    Some(match j {
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_i64() || n.is_u64() => "long",
        Json::Number(_) => "double",
        Json::String(_) => "string",
        _ => return None,
    })
}

impl Schema {
    /// Adds a value's shape.
    pub fn add_value(&mut self, j: &Json) {
        match j {
            Json::Null => {}
            Json::Object(m) => {
                let mut props = Vec::new();
                for (k, v) in m {
                    let mut s = Schema::default();
                    s.add_value(v);
                    props.push((k.clone(), s));
                }
                self.add_alt(Alt::Obj(props));
            }
            Json::Array(items) => {
                let mut s = Schema::default();
                for it in items {
                    s.add_value(it);
                }
                self.add_alt(Alt::Arr(Box::new(s)));
            }
            other => {
                if let Some(name) = prim_name(other) {
                    self.add_alt(Alt::Prim(name.to_string()));
                }
            }
        }
    }

    fn add_alt(&mut self, alt: Alt) {
        match alt {
            Alt::Prim(p) => {
                if !self.alts.iter().any(|a| matches!(a, Alt::Prim(q) if *q == p)) {
                    self.alts.push(Alt::Prim(p));
                }
            }
            Alt::Obj(props) => {
                if let Some(Alt::Obj(existing)) = self.alts.iter_mut().find(|a| matches!(a, Alt::Obj(_))) {
                    for (k, s) in props {
                        match existing.iter_mut().find(|(ek, _)| *ek == k) {
                            Some((_, es)) => es.merge(s),
                            None => existing.push((k, s)),
                        }
                    }
                } else {
                    self.alts.push(Alt::Obj(props));
                }
            }
            Alt::Arr(s) => {
                if let Some(Alt::Arr(existing)) = self.alts.iter_mut().find(|a| matches!(a, Alt::Arr(_))) {
                    existing.merge(*s);
                } else {
                    self.alts.push(Alt::Arr(s));
                }
            }
        }
    }

    fn merge(&mut self, other: Schema) {
        for a in other.alts {
            self.add_alt(a);
        }
    }

    pub fn to_json(&self) -> Json {
        let one = |a: &Alt| match a {
            Alt::Prim(p) => Json::String(p.clone()),
            Alt::Obj(props) => Json::Object(
                props
                    .iter()
                    .map(|(k, s)| (k.clone(), s.to_json()))
                    .collect::<Map<_, _>>(),
            ),
            Alt::Arr(s) => {
                let mut m = Map::new();
                m.insert(INDEXER.into(), s.to_json());
                Json::Object(m)
            }
        };
        match self.alts.as_slice() {
            [] => Json::Null,
            [a] => one(a),
            many => Json::Array(many.iter().map(one).collect()),
        }
    }

    /// Reads back a schema printed by [`Schema::to_json`] (partial aggregation states).
    pub fn from_json(j: &Json) -> Schema {
        let mut s = Schema::default();
        let alts: Vec<&Json> = match j {
            Json::Array(items) => items.iter().collect(),
            Json::Null => vec![],
            other => vec![other],
        };
        for a in alts {
            match a {
                Json::String(p) => s.add_alt(Alt::Prim(p.clone())),
                Json::Object(m) if m.len() == 1 && m.contains_key(INDEXER) => {
                    s.add_alt(Alt::Arr(Box::new(Schema::from_json(&m[INDEXER]))))
                }
                Json::Object(m) => s.add_alt(Alt::Obj(
                    m.iter().map(|(k, v)| (k.clone(), Schema::from_json(v))).collect(),
                )),
                _ => {}
            }
        }
        s
    }
}

#[derive(Debug, Default)]
struct BuildSchema {
    schema: Schema,
}

impl ValAcc for BuildSchema {
    fn update(&mut self, row: &[Val]) -> Result<()> {
        if let Some(Val::Dyn(j)) = row.first() {
            self.schema.add_value(j);
        }
        Ok(())
    }
    fn state(&self) -> Json {
        self.schema.to_json()
    }
    fn merge(&mut self, state: &Json) -> Result<()> {
        self.schema.merge(Schema::from_json(state));
        Ok(())
    }
    fn evaluate(&self, _ret: &DataType) -> Result<ScalarValue> {
        let j = self.schema.to_json();
        Ok(ScalarValue::Binary((!j.is_null()).then(|| j.to_string().into_bytes())))
    }
    fn size(&self) -> usize {
        64
    }
}

pub const BUILDSCHEMA: &str = "kql_buildschema";

pub fn udafs() -> Vec<AggregateUDF> {
    let make: AccFactory = |_| Box::new(BuildSchema::default());
    vec![ValUdaf::udaf(BUILDSCHEMA, |_| DataType::Binary, make)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_schema() {
        let mut s = Schema::default();
        s.add_value(&json!({"x": 1, "y": 3.5}));
        s.add_value(&json!({"x": "somevalue", "z": [1, 2, 3]}));
        s.add_value(&json!({"y": {"w": "zzz"}, "t": ["aa", "bb"], "z": ["foo"]}));
        let want = json!({"x": ["long", "string"], "y": ["double", {"w": "string"}], "z": {"`indexer`": ["long", "string"]}, "t": {"`indexer`": "string"}});
        assert_eq!(s.to_json(), want);
        // Partial states merge back to the same schema.
        let mut m = Schema::from_json(&s.to_json());
        m.merge(Schema::from_json(&json!({"x": "bool"})));
        assert_eq!(m.to_json()["x"], json!(["long", "string", "bool"]));
    }
}
