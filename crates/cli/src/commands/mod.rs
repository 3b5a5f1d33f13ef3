pub mod schema;
pub mod rules;
pub mod check;
pub mod fmt;
