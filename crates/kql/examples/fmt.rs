//! Development aid: prints the formatted form of the query on stdin.
fn main() {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).unwrap_or_default();
    let p = kql::parse(&s);
    for d in &p.diagnostics {
        eprintln!("{}", d.one_line(&s));
    }
    print!("{}", kql::print(&p.query));
}
