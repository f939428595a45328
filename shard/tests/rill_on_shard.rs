//! Code run on a shard (`Rill::run_on_shard`) looks keys of that shard's buckets up directly
//! and gets the same rows as `Rill::lookup`; keys of other shards' buckets are refused with
//! the owning shard named; missing keys are not found (2 shards, 4 buckets).
#![allow(clippy::unwrap_used)]

mod common;

use arrow_array::{Array, Int64Array};
use rill_shard::Error;

const TABLE: &str = "db.users";

#[test]
fn lookups_on_a_shard_see_its_own_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table(TABLE, 4)).unwrap();
    let ids: Vec<i64> = (0..200).collect();
    rill.upsert(TABLE, common::users(&ids, 3)).unwrap();

    let mut local_total = 0;
    for shard in 0..2 {
        let probe: Vec<i64> = (0..210).collect();
        // Per key: Some(score) when found on this shard, None when missing, Err(owner) when
        // another shard owns its bucket.
        let answers = rill
            .run_on_shard(shard, move |on| async move {
                assert_eq!(on.shard(), shard);
                let mut answers = Vec::new();
                for id in probe {
                    match on.lookup(TABLE, &common::user_keys(&[id])).await {
                        Ok((rows, true)) => {
                            let score = rows.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
                            answers.push(Ok(Some(score.value(0))));
                        }
                        Ok((rows, false)) => {
                            assert_eq!(rows.num_rows(), 0);
                            answers.push(Ok(None));
                        }
                        Err(Error::InvalidRequest { reason, .. }) => answers.push(Err(reason)),
                        Err(e) => return Err(e),
                    }
                }
                Ok(answers)
            })
            .unwrap();
        let other = 1 - shard;
        for (id, answer) in answers.into_iter().enumerate() {
            let id = id as i64;
            match answer {
                Ok(found) => {
                    assert_eq!(found, (id < 200).then_some(id * 10 + 3), "key {id}");
                    local_total += 1;
                }
                Err(reason) => assert!(reason.contains(&format!("belongs to shard {other}")), "{reason}"),
            }
        }
    }
    assert_eq!(local_total, 210, "every key is answered on exactly one shard");
    rill.shutdown();
}
