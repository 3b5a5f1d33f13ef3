//! The SOC feed: `quarry serve`'s web UI and JSON API over the rule store, the data
//! directory, the query engine and hunt results. See docs/web.md.
//!
//! The server renders HTML on the server (maud templates, escaped by construction) and
//! works without JavaScript; a small script adds copy buttons, filter-as-you-type and
//! running console queries without a reload. What runs queries and hunts plugs in through
//! [`console::QueryBackend`] and [`hunts::HuntBackend`].

pub mod api;
mod assets;
pub mod catalog;
pub mod console;
pub mod coverage;
pub mod data;
pub mod engine_backend;
pub mod feed;
pub mod highlight;
pub mod hunt_backend;
pub mod hunts;
mod pages;
pub mod security;
pub mod server;

pub use server::{AppState, MAX_BODY_BYTES, ServeConfig, ServeError, TOKEN_ENV, router, serve};
