//! Functions that need a Kusto cluster (the current principal, database, extents,
//! ingestion times, cursors…) and `punycode_*`. Quarry runs over exported data with no
//! such context, so the cluster functions fail by name with the reason instead of
//! returning a made-up value.

use super::arg;
use crate::api::TypedExpr;
use crate::catalog::{Call, FnDef, P, custom, custom_var, p, row};
use crate::error::FnError;
use crate::val::Val;
use schema::KqlType;

fn unsupported(c: &Call) -> Result<TypedExpr, FnError> {
    let why = match c.name {
        "ingestion_time" => "exported data carries no ingestion time",
        "extent_id" | "extent_tags" => "Quarry's data has no extents",
        "cursor_after" | "cursor_before_or_at" | "cursor_current" => "Quarry's tables have no database cursors",
        "estimate_data_size" => "Quarry does not estimate Kusto's storage sizes",
        _ => "it needs a Kusto cluster and its principal",
    };
    Err(FnError::Unsupported(format!("{}() ({why})", c.name)))
}

const ANY: &[crate::catalog::Param] = &[p("arg", P::Any)];

pub static DEFS: &[FnDef] = &[
    custom("ingestion_time", &[], 0, unsupported),
    custom("extent_id", &[], 0, unsupported),
    custom("extent_tags", &[], 0, unsupported),
    custom("cursor_after", ANY, 1, unsupported),
    custom("cursor_before_or_at", ANY, 1, unsupported),
    custom("cursor_current", &[], 0, unsupported),
    custom_var("estimate_data_size", ANY, 0, unsupported),
    custom("current_cluster_endpoint", &[], 0, unsupported),
    custom("current_database", &[], 0, unsupported),
    custom("current_principal", &[], 0, unsupported),
    custom("current_principal_details", &[], 0, unsupported),
    custom("current_principal_is_member_of", ANY, 1, unsupported),
    row(
        "punycode_from_string",
        &[p("input_string", P::Str)],
        1,
        KqlType::String,
        |a| {
            Ok(Val::Str(
                idna::punycode::encode_str(&arg(a, 0).to_kstring()).unwrap_or_default(),
            ))
        },
    ),
    row(
        "punycode_to_string",
        &[p("input_string", P::Str)],
        1,
        KqlType::String,
        |a| {
            Ok(Val::Str(
                idna::punycode::decode_to_string(&arg(a, 0).to_kstring()).unwrap_or_default(),
            ))
        },
    ),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;

    #[test]
    fn punycode() {
        assert_eq!(
            call("punycode_from_string", vec![lit::string("académie-française")]),
            "acadmie-franaise-npb1a"
        );
        assert_eq!(call("punycode_from_string", vec![lit::string("艺术")]), "cqv902d");
        assert_eq!(
            call("punycode_to_string", vec![lit::string("acadmie-franaise-npb1a")]),
            "académie-française"
        );
    }

    #[test]
    fn cluster_functions_fail_by_name() {
        let e = crate::lower_call("ingestion_time", vec![], &crate::testkit::ctx()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ingestion_time() (exported data carries no ingestion time) is not supported"
        );
    }
}
