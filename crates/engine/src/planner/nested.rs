//! `top-nested`, `top-hitters`, `make-series`.

use super::Planner;
use super::env::Env;
use super::tab::Tab;
use crate::diag::{self, PResult};
use kql::ast;

impl Planner<'_> {
    pub(super) fn plan_top_nested(&mut self, _t: Tab, tn: &ast::TopNestedOp, _env: &Env) -> PResult<Tab> {
        Err(self.report(diag::unsupported("The 'top-nested' operator", tn.span)))
    }

    pub(super) fn plan_top_hitters(&mut self, _t: Tab, th: &ast::TopHittersOp, _env: &Env) -> PResult<Tab> {
        Err(self.report(diag::unsupported("The 'top-hitters' operator", th.span)))
    }

    pub(super) fn plan_make_series(&mut self, _t: Tab, ms: &ast::MakeSeriesOp, _env: &Env) -> PResult<Tab> {
        Err(self.report(diag::unsupported("The 'make-series' operator", ms.span)))
    }
}
