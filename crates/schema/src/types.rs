//! KQL scalar types and their physical layout in Arrow.
//!
//! The mapping is a contract shared by the store (what it writes to Parquet), the functions
//! (what their UDFs accept and return) and the engine (what it plans):
//!
//! | KQL        | Arrow                                   | notes                                  |
//! |------------|-----------------------------------------|----------------------------------------|
//! | `bool`     | `Boolean`                               |                                        |
//! | `int`      | `Int32`                                 |                                        |
//! | `long`     | `Int64`                                 |                                        |
//! | `real`     | `Float64`                               |                                        |
//! | `decimal`  | `Decimal128(38, 18)`                    |                                        |
//! | `string`   | `Utf8` (`Utf8View` when read from Parquet) | never null in Kusto: empty instead  |
//! | `datetime` | `Timestamp(Nanosecond, None)`           | UTC; values are multiples of 100 ns    |
//! | `timespan` | `Duration(Nanosecond)`                  | multiples of 100 ns (Kusto ticks)      |
//! | `guid`     | `Utf8`                                  | lower-case canonical text              |
//! | `dynamic`  | `Binary` (`BinaryView` from Parquet)    | compact JSON text, UTF-8               |
//!
//! `dynamic` is `Binary` rather than `Utf8` so that a batch describes itself: a JSON value
//! can never be mistaken for a string by a function, a join or the result formatter.
//! `guid` shares `Utf8` with `string`; the engine's analyzer tracks the KQL type of every
//! column, so the distinction is kept in the query's schema rather than in Arrow.

use arrow_schema::{DataType, TimeUnit};
use std::fmt;
use std::str::FromStr;

/// Precision and scale of the Arrow decimal that holds KQL `decimal`.
pub const DECIMAL_PRECISION: u8 = 38;
pub const DECIMAL_SCALE: i8 = 18;

/// Nanoseconds in one Kusto tick (100 ns), the resolution of `datetime` and `timespan`.
pub const NANOS_PER_TICK: i64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KqlType {
    Bool,
    Int,
    Long,
    Real,
    Decimal,
    String,
    DateTime,
    TimeSpan,
    Guid,
    Dynamic,
}

impl KqlType {
    pub const ALL: [KqlType; 10] = [
        KqlType::Bool,
        KqlType::Int,
        KqlType::Long,
        KqlType::Real,
        KqlType::Decimal,
        KqlType::String,
        KqlType::DateTime,
        KqlType::TimeSpan,
        KqlType::Guid,
        KqlType::Dynamic,
    ];

    /// The canonical KQL name, as `getschema` and `typeof` print it.
    pub fn name(self) -> &'static str {
        match self {
            KqlType::Bool => "bool",
            KqlType::Int => "int",
            KqlType::Long => "long",
            KqlType::Real => "real",
            KqlType::Decimal => "decimal",
            KqlType::String => "string",
            KqlType::DateTime => "datetime",
            KqlType::TimeSpan => "timespan",
            KqlType::Guid => "guid",
            KqlType::Dynamic => "dynamic",
        }
    }

    /// The .NET type name `getschema` reports in its `DataType` column.
    pub fn dotnet_name(self) -> &'static str {
        match self {
            KqlType::Bool => "System.Boolean",
            KqlType::Int => "System.Int32",
            KqlType::Long => "System.Int64",
            KqlType::Real => "System.Double",
            KqlType::Decimal => "System.Data.SqlTypes.SqlDecimal",
            KqlType::String => "System.String",
            KqlType::DateTime => "System.DateTime",
            KqlType::TimeSpan => "System.TimeSpan",
            KqlType::Guid => "System.Guid",
            KqlType::Dynamic => "System.Object",
        }
    }

    /// The Arrow type Quarry uses to hold values of this KQL type.
    pub fn to_arrow(self) -> DataType {
        match self {
            KqlType::Bool => DataType::Boolean,
            KqlType::Int => DataType::Int32,
            KqlType::Long => DataType::Int64,
            KqlType::Real => DataType::Float64,
            KqlType::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            KqlType::String | KqlType::Guid => DataType::Utf8,
            KqlType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, None),
            KqlType::TimeSpan => DataType::Duration(TimeUnit::Nanosecond),
            KqlType::Dynamic => DataType::Binary,
        }
    }

    /// The KQL type an Arrow column is read as, for data whose schema Quarry did not write
    /// (user Parquet files, inferred tables). Strings map to `string`, never `guid`.
    /// Nested Arrow types (lists, structs, maps) map to `dynamic`; the reader converts them
    /// to JSON. Returns `None` for types with no KQL counterpart.
    pub fn from_arrow(dt: &DataType) -> Option<KqlType> {
        Some(match dt {
            DataType::Boolean => KqlType::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => KqlType::Int,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KqlType::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => KqlType::Real,
            DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
                KqlType::Decimal
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => KqlType::String,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => KqlType::DateTime,
            DataType::Duration(_) => KqlType::TimeSpan,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => KqlType::Dynamic,
            DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..) => KqlType::Dynamic,
            _ => return None,
        })
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal)
    }

    pub fn is_integer(self) -> bool {
        matches!(self, KqlType::Int | KqlType::Long)
    }

    /// Kusto's string type never holds null; every other type can.
    pub fn is_nullable(self) -> bool {
        self != KqlType::String
    }
}

impl fmt::Display for KqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a type name KQL does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownType(pub String);

impl fmt::Display for UnknownType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unknown type: '{}'", self.0)
    }
}

impl std::error::Error for UnknownType {}

impl FromStr for KqlType {
    type Err = UnknownType;

    /// Accepts the canonical names and the synonyms the KQL reference documents
    /// (`boolean`, `date`, `time`, `double`, `int64`, `uniqueid`, …), case-insensitively
    /// as the `.NET` names are also accepted in schemas.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "bool" | "boolean" | "system.boolean" => KqlType::Bool,
            "int" | "int32" | "system.int32" => KqlType::Int,
            "long" | "int64" | "system.int64" => KqlType::Long,
            "real" | "double" | "float" | "system.double" => KqlType::Real,
            "decimal" | "system.data.sqltypes.sqldecimal" => KqlType::Decimal,
            "string" | "system.string" => KqlType::String,
            "datetime" | "date" | "system.datetime" => KqlType::DateTime,
            "timespan" | "time" | "system.timespan" => KqlType::TimeSpan,
            "guid" | "uuid" | "uniqueid" | "system.guid" => KqlType::Guid,
            "dynamic" | "system.object" => KqlType::Dynamic,
            _ => return Err(UnknownType(s.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in KqlType::ALL {
            assert_eq!(t.name().parse::<KqlType>().unwrap(), t);
            assert_eq!(t.dotnet_name().parse::<KqlType>().unwrap(), t);
        }
    }

    #[test]
    fn synonyms_and_unknown_names() {
        assert_eq!("boolean".parse::<KqlType>().unwrap(), KqlType::Bool);
        assert_eq!("Date".parse::<KqlType>().unwrap(), KqlType::DateTime);
        assert_eq!("time".parse::<KqlType>().unwrap(), KqlType::TimeSpan);
        assert_eq!("double".parse::<KqlType>().unwrap(), KqlType::Real);
        assert_eq!("uniqueid".parse::<KqlType>().unwrap(), KqlType::Guid);
        assert_eq!(
            "strng".parse::<KqlType>().unwrap_err().to_string(),
            "Unknown type: 'strng'"
        );
    }

    #[test]
    fn arrow_layout_reads_back_as_the_same_type_except_guid() {
        for t in KqlType::ALL {
            let back = KqlType::from_arrow(&t.to_arrow()).unwrap();
            let expected = if t == KqlType::Guid { KqlType::String } else { t };
            assert_eq!(back, expected, "{t}");
        }
        assert_eq!(KqlType::from_arrow(&DataType::Utf8View), Some(KqlType::String));
        assert_eq!(KqlType::from_arrow(&DataType::BinaryView), Some(KqlType::Dynamic));
        assert_eq!(KqlType::from_arrow(&DataType::Null), None);
    }
}
