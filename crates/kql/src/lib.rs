//! The Kusto Query Language front-end: lexer, parser, AST with spans, diagnostics and a
//! pretty-printer. No I/O and no execution: see `engine` for that.
//!
//! ```
//! let parsed = kql::parse("StormEvents | where State == 'TEXAS' | take 10");
//! assert!(parsed.is_ok());
//! ```

pub mod ast;
pub mod ast_helpers;
pub mod diagnostic;
mod format;
pub mod lexer;
pub mod literals;
mod parser;
mod print;
pub mod render;
pub mod span;
pub mod visit;

pub use diagnostic::{Diagnostic, Label, Severity, has_errors};
pub use format::format;
pub use lexer::{Token, TokenKind, is_keyword, lex};
pub use parser::{MAX_EXPR_DEPTH, MAX_NESTING, Parsed, parse, parse_expression};
pub use print::{print, print_expr, print_operator, print_statement};
pub use render::{RenderOptions, render, render_all};
pub use span::{LineCol, LineIndex, Span};
