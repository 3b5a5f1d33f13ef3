pub mod schema;
pub mod rules;
