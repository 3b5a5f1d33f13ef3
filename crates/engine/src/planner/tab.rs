//! A tabular value being planned: a DataFusion plan and its KQL schema.

use datafusion::common::{Column, DataFusionError};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use schema::KqlType;

/// A column of a tabular value: its name and KQL type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Col {
    pub name: String,
    pub ty: KqlType,
}

impl Col {
    pub fn new(name: impl Into<String>, ty: KqlType) -> Self {
        Col { name: name.into(), ty }
    }
}

/// A reference to a column by its exact name (never parsed as `table.column`).
pub fn col(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// A key of the row order established by `sort`/`top`, kept while the columns it reads
/// survive unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub expr: Expr,
    pub asc: bool,
    pub nulls_first: bool,
}

impl OrderKey {
    fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        let _ = datafusion::common::tree_node::TreeNode::apply(&self.expr, |n| {
            if let Expr::Column(c) = n {
                out.push(c.name.clone());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        });
        out
    }
}

/// A tabular value: a logical plan whose output columns are exactly `cols` (same names,
/// same order, unqualified), with the KQL types the analyzer inferred for them.
#[derive(Debug, Clone)]
pub struct Tab {
    pub plan: LogicalPlan,
    pub cols: Vec<Col>,
    /// The row order, when a `sort`/`top` established it on plain columns still present.
    pub order: Vec<OrderKey>,
    /// Rows have a defined order (`serialize`, `sort`, `range`…), so that window functions
    /// (`row_number()`, `prev()`…) may be used.
    pub serialized: bool,
}

impl Tab {
    pub fn new(plan: LogicalPlan, cols: Vec<Col>) -> Self {
        Tab {
            plan,
            cols,
            order: Vec::new(),
            serialized: false,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Col> {
        self.cols.iter().find(|c| c.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.column(name).is_some()
    }

    /// Projects `items` (expression, output column). Expressions that are just a reference
    /// to a column of the same name are not aliased. The order survives when its columns
    /// are passed through unchanged.
    pub fn project(self, items: Vec<(Expr, Col)>) -> Result<Tab, DataFusionError> {
        let passthrough = |name: &str| {
            items.iter().any(|(e, c)| {
                c.name == name && matches!(e, Expr::Column(cc) if cc.name == name && cc.relation.is_none())
            })
        };
        let order = if self.order.iter().all(|k| k.columns().iter().all(|c| passthrough(c))) {
            self.order.clone()
        } else {
            Vec::new()
        };
        let mut exprs = Vec::with_capacity(items.len());
        let mut cols = Vec::with_capacity(items.len());
        for (e, c) in items {
            let e = match &e {
                Expr::Column(cc) if cc.name == c.name && cc.relation.is_none() => e,
                _ => e.alias(c.name.clone()),
            };
            exprs.push(e);
            cols.push(c);
        }
        let plan = LogicalPlanBuilder::from(self.plan).project(exprs)?.build()?;
        Ok(Tab {
            plan,
            cols,
            order,
            serialized: self.serialized,
        })
    }

    /// Keeps the columns named, in that order.
    pub fn select(self, names: &[String]) -> Result<Tab, DataFusionError> {
        let items = names
            .iter()
            .filter_map(|n| self.column(n).cloned())
            .map(|c| (col(&c.name), c))
            .collect();
        self.project(items)
    }

    /// The sort expressions of the known order (for window functions).
    pub fn order_exprs(&self) -> Vec<SortExpr> {
        self.order
            .iter()
            .map(|k| SortExpr::new(k.expr.clone(), k.asc, k.nulls_first))
            .collect()
    }

    /// The same rows with a different plan (filters, limits), keeping schema and order.
    pub fn with_plan(self, plan: LogicalPlan) -> Tab {
        Tab { plan, ..self }
    }
}
