//! Fuzzes the lexer, parser, printer, formatter and renderer: none may panic, and a query
//! that parses without errors must print to text that parses to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let parsed = kql::parse(src);
    for d in parsed.diagnostics.iter().take(3) {
        let _ = kql::render(d, src, &kql::RenderOptions::default());
    }
    let _ = kql::format(src);
    if parsed.is_ok() {
        let printed = kql::print(&parsed.query);
        let again = kql::parse(&printed);
        assert!(again.is_ok(), "printed query does not parse:\n{printed}");
        assert_eq!(kql::print(&again.query), printed, "printing is not stable");
    }
});
