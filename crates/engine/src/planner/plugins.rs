//! `evaluate plugin(…)`.

use super::Planner;
use super::env::Env;
use super::tab::Tab;
use crate::diag::{self, PResult};
use kql::ast;

impl Planner<'_> {
    pub(super) fn plan_evaluate(&mut self, e: &ast::EvaluateOp, input: Option<Tab>, env: &Env) -> PResult<Tab> {
        let _ = (input, env);
        Err(self.report(diag::unsupported(
            &format!("The plugin '{}'", e.plugin.name.name),
            e.plugin_span,
        )))
    }
}
