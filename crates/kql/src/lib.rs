//! The Kusto Query Language front-end: lexer, parser, AST with spans, diagnostics and a
//! pretty-printer. No I/O and no execution: see `engine` for that.

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod literals;
pub mod span;

pub use diagnostic::{Diagnostic, Label, Severity, has_errors};
pub use lexer::{Token, TokenKind, is_keyword, lex};
pub use span::{LineCol, LineIndex, Span};
