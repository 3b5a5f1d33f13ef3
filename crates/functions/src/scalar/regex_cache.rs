//! Compiled regular expressions for the row functions, cached per thread: a query's
//! pattern is almost always a constant, so it is compiled once per thread, not per row.
//!
//! The cache hands out shared references (`Rc`), not clones: a cloned `Regex` gets a new
//! pool of search caches, so each row would build (and drop) the lazy DFA's cache again.

use datafusion::common::{DataFusionError, Result};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

const CAPACITY: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<Regex>>> = RefCell::new(HashMap::new());
}

/// The compiled form of `pattern` (RE2 syntax, as Kusto's). An invalid pattern is an
/// error of the query, as in Kusto.
pub fn get(pattern: &str) -> Result<Rc<Regex>> {
    CACHE.with(|c| {
        if let Some(re) = c.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = Rc::new(
            Regex::new(pattern)
                .map_err(|e| DataFusionError::Execution(format!("Invalid regular expression '{pattern}': {e}")))?,
        );
        let mut map = c.borrow_mut();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}
