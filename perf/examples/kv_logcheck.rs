//! Temporary: reads the changelog of a kept kv-rill dir and checks its values.
use std::rc::Rc;

use arrow_array::{Array, BinaryArray, Int64Array};
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{system_clock, LogConfig, UringStorage};
use rill_engine::table::virtual_tables::changelog_batch;
use rill_engine::table::{PkConfig, PkTable};
use rill_perf::kv_data;

fn main() {
    let dir = std::env::args().nth(1).expect("dir");
    glommio::LocalExecutorBuilder::default()
        .spawn(move || async move {
            let storage = UringStorage::open(&dir).await.expect("open");
            let log = LogConfig::new(format!("{}/b0", kv_data::TABLE), kv_data::kv_schema());
            let pk = PkConfig { log, lsm: LsmConfig::default() };
            let table = PkTable::open(
                storage,
                kv_data::kv_descriptor(None),
                pk,
                Rc::new(BlockCache::new(1 << 20)),
                system_clock(),
            )
            .await
            .expect("table");
            let mut offset = 0;
            let (mut rows, mut bytes, mut bad, mut nulls) = (0usize, 0usize, 0usize, 0usize);
            loop {
                let r = table.log().read(offset, 1 << 20, None).await.expect("read");
                if r.batches.is_empty() {
                    break;
                }
                for b in &r.batches {
                    bytes += b.bytes.len();
                    let cl = changelog_batch(&kv_data::kv_schema(), b).expect("changelog");
                    let ids = cl.column(3).as_any().downcast_ref::<Int64Array>().expect("ids");
                    let vs = cl.column(4).as_any().downcast_ref::<BinaryArray>().expect("vs");
                    for i in 0..cl.num_rows() {
                        rows += 1;
                        if vs.is_null(i) {
                            nulls += 1;
                            continue;
                        }
                        if vs.value(i) != kv_data::value_of(ids.value(i) as u64, 0, 100).as_slice() {
                            bad += 1;
                        }
                    }
                }
                offset = r.next_offset;
            }
            println!("rows {rows} bytes {bytes} bad {bad} nulls {nulls}");
        })
        .expect("spawn")
        .join()
        .expect("join");
}
