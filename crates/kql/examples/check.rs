//! Development aid: renders the diagnostics of the query on stdin.
fn main() {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).unwrap_or_default();
    let p = kql::parse(&s);
    print!(
        "{}",
        kql::render_all(&p.diagnostics, &s, &kql::RenderOptions::named("stdin.kql"))
    );
}
