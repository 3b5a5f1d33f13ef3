use engine::{Engine, MemCatalog, QueryOptions};
use std::sync::Arc;

fn run(q: &str) -> String {
    let engine = Engine::new(Arc::new(MemCatalog::new())).unwrap();
    match engine.query_blocking(q, &QueryOptions { now: Some(0) }) {
        Ok(rs) => rs.iter().map(|r| r.to_table().unwrap()).collect::<Vec<_>>().join("\n"),
        Err(e) => format!(
            "ERR {e}: {:?}",
            e.diagnostics().iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        ),
    }
}

#[test]
fn smoke() {
    for q in [
        "print 1, x = 'a'",
        "range x from 1 to 5 step 2",
        "datatable(a:long, b:string)[1,'x',2,'y'] | where a > 1",
        "datatable(a:long, b:string)[1,'x',2,'y',3,'x'] | summarize count() by b",
        "datatable(a:long, b:string)[1,'x',2,'y'] | extend c = a * 2 | project c, b",
        "datatable(a:long, b:string)[1,'x',2,'y'] | sort by a | extend r = row_number()",
        "let T = datatable(a:long)[1,2]; T | join kind=inner (T) on a",
        "datatable(d:dynamic)[dynamic([1,2,3])] | mv-expand d",
    ] {
        println!("{q}\n{}", run(q));
    }
}
