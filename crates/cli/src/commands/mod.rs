pub mod schema;
pub mod rules;
pub mod check;
pub mod fmt;
pub mod ingest;
pub mod tables;
pub mod generate;
