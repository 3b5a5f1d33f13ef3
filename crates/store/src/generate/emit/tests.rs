//! Rows of drawn events: order, completeness, planted values.

use super::super::device::Plant;
use super::super::events::draw_day;
use super::super::process::Image;
use super::super::{TABLES, rmm};
use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampNanosecondType;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn batches_come_out_in_time_order_with_every_event() {
    let catalog = schema::Catalog::builtin();
    let schemas: Vec<Arc<TableSchema>> = TABLES.iter().filter_map(|t| catalog.get(t).cloned()).collect();
    assert_eq!(schemas.len(), 8);
    let layout = Layout::new(&schemas);
    let devices: Vec<Device> = (0..3)
        .map(|i| Device::new(i, 1, &mut ChaCha8Rng::seed_from_u64(i as u64)))
        .collect();
    let tool = rmm::profiles().swap_remove(0);
    let plants = [
        vec![Plant {
            image: Image::of_tool(&tool),
            profile: tool,
            lookalike: false,
            install_day: 0,
            activity_seed: 1,
        }],
        Vec::new(),
        Vec::new(),
    ];
    let mut events = Events::with_capacity(3, 0.05);
    let day_start = 19_844 * NANOS_PER_DAY;
    let mut planted = Vec::new();
    for d in &devices {
        let mut rng = ChaCha8Rng::seed_from_u64(10 + d.index as u64);
        planted.extend(draw_day(
            d,
            0,
            0,
            day_start,
            0.05,
            &plants[d.index],
            &mut rng,
            &mut events,
        ));
    }
    assert!(!planted.is_empty());
    let mut hints = SizeHints::default();
    let mut rows = 0;
    for (t, name) in TABLES.iter().enumerate() {
        let batch = layout.batch(t, &events, &devices, &mut hints);
        rows += batch.num_rows();
        let times = batch
            .column_by_name("Timestamp")
            .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
            .expect("Timestamp");
        assert_eq!(times.null_count(), 0, "{}", name);
        assert!(
            times.values().windows(2).all(|w| w[0] <= w[1]),
            "{} is not in time order",
            name
        );
        assert!(
            times
                .values()
                .iter()
                .all(|v| (day_start..day_start + NANOS_PER_DAY).contains(v))
        );
        // Every string column is set or "", never null.
        for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
            if matches!(f.data_type(), arrow::datatypes::DataType::Utf8) {
                assert_eq!(c.null_count(), 0, "{}.{}", name, f.name());
            }
        }
        // A second batch of the same table uses the learnt sizes and holds the same rows.
        assert_eq!(layout.batch(t, &events, &devices, &mut hints), batch);
    }
    assert_eq!(rows, events.len());
    // The planted network connections come from the tool's process, to its domain.
    let net = layout.batch(2, &events, &devices, &mut hints);
    let urls = net.column_by_name("RemoteUrl").expect("RemoteUrl").as_string::<i32>();
    let files = net
        .column_by_name("InitiatingProcessFileName")
        .expect("file")
        .as_string::<i32>();
    let tool = &plants[0][0];
    if tool.profile.signals.contains(&rmm::Signal::NetworkConnection) && !tool.profile.domain.is_empty() {
        assert!(
            (0..net.num_rows())
                .any(|i| urls.value(i) == tool.profile.domain && files.value(i) == tool.profile.file_name)
        );
    }
}
