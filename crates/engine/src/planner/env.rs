//! Names bound by `let`, function parameters and `as`: a persistent (shared-tail) list, so
//! that a function captures the scope it was declared in and later bindings do not leak
//! into it.

use super::tab::Tab;
use functions::TypedExpr;
use kql::ast::FunctionDef;
use std::rc::Rc;

#[derive(Clone)]
pub enum Binding {
    Scalar(TypedExpr),
    Tabular(Tab),
    Function(Rc<UserFn>),
    /// The binding's definition had an error (already reported): references to it are not
    /// reported again.
    Poisoned,
}

/// A user-defined function (or view) and the scope it closes over.
pub struct UserFn {
    pub name: String,
    pub def: FunctionDef,
    pub env: Env,
}

#[derive(Clone, Default)]
pub struct Env(Option<Rc<EnvNode>>);

pub struct EnvNode {
    name: String,
    binding: Binding,
    /// Declared with `view` (or a tabular `let`): takes part in `union *` wildcards.
    view: bool,
    parent: Env,
}

impl Env {
    pub fn bind(&self, name: impl Into<String>, binding: Binding) -> Env {
        self.bind_with(name, binding, false)
    }

    pub fn bind_with(&self, name: impl Into<String>, binding: Binding, view: bool) -> Env {
        Env(Some(Rc::new(EnvNode {
            name: name.into(),
            binding,
            view,
            parent: self.clone(),
        })))
    }

    pub fn lookup(&self, name: &str) -> Option<&Binding> {
        let mut cur = self.0.as_deref();
        while let Some(node) = cur {
            if node.name == name {
                return Some(&node.binding);
            }
            cur = node.parent.0.as_deref();
        }
        None
    }

    /// The innermost binding of every name, innermost first.
    pub fn names(&self) -> Vec<(&str, &Binding, bool)> {
        let mut out: Vec<(&str, &Binding, bool)> = Vec::new();
        let mut cur = self.0.as_deref();
        while let Some(node) = cur {
            if !out.iter().any(|(n, _, _)| *n == node.name) {
                out.push((&node.name, &node.binding, node.view));
            }
            cur = node.parent.0.as_deref();
        }
        out
    }
}
