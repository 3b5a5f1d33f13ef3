fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let report = rules::import_paths(&paths);
    for d in report.all_diagnostics() { println!("{d}"); }
    println!("files {} failed {} rules {}", report.files.len(), report.failed(), report.rules().len());
    if std::env::var("SHOW").is_ok() { for r in report.rules() { println!("{}", serde_json::to_string_pretty(&r).unwrap()); } }
}
