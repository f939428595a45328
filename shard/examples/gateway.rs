//! A custom gateway: a small tokio program that embeds rill and answers a line protocol over
//! TCP, showing how any program uses the `Rill` handle (its async methods need no glommio).
//!
//! `cargo run -p rill-shard --example gateway [DATA_DIR] [ADDR]` (default `./rill-gateway`,
//! `127.0.0.1:7878`), then for instance `printf 'PUT 1 ada 42\nGET 1\nGET 2\n' | nc 127.0.0.1 7878`:
//!
//! ```text
//! PUT <id> <name> <score>  ->  OK <changes>
//! GET <id>                 ->  FOUND <id> <name> <score>  |  MISSING <id>
//! ```

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_shard::{Error, Rill, RillConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const DATABASE: &str = "gateway";
const TABLE: &str = "gateway.users";

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("name", DataType::String),
        Column::new("score", DataType::BigInt),
    ])
}

fn arrow_err(e: arrow_schema::ArrowError) -> Error {
    rill_engine::Error::arrow("building a batch", e).into()
}

async fn put(rill: &Rill, id: i64, name: &str, score: i64) -> Result<String, Error> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![id])),
        Arc::new(StringArray::from(vec![name])),
        Arc::new(Int64Array::from(vec![score])),
    ];
    let rows = RecordBatch::try_new(schema().to_arrow(), columns).map_err(arrow_err)?;
    let info = rill.upsert_async(TABLE, rows).await?;
    Ok(format!("OK {}", info.changes))
}

async fn get(rill: &Rill, id: i64) -> Result<String, Error> {
    let key_schema =
        Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new("id", arrow_schema::DataType::Int64, false)]));
    let keys =
        RecordBatch::try_new(key_schema, vec![Arc::new(Int64Array::from(vec![id])) as ArrayRef]).map_err(arrow_err)?;
    let (rows, found) = rill.lookup_async(TABLE, keys).await?;
    if found.first() != Some(&true) {
        return Ok(format!("MISSING {id}"));
    }
    let name = rows.column(1).as_any().downcast_ref::<StringArray>().filter(|a| !a.is_null(0)).map(|a| a.value(0));
    let score = rows.column(2).as_any().downcast_ref::<Int64Array>().filter(|a| !a.is_null(0)).map(|a| a.value(0));
    Ok(format!("FOUND {id} {} {}", name.unwrap_or("-"), score.map_or("-".to_string(), |s| s.to_string())))
}

async fn answer(rill: &Rill, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let outcome = match words.as_slice() {
        ["GET", id] => match id.parse() {
            Ok(id) => get(rill, id).await,
            Err(_) => return format!("ERR bad id '{id}'"),
        },
        ["PUT", id, name, score] => match (id.parse(), score.parse()) {
            (Ok(id), Ok(score)) => put(rill, id, name, score).await,
            _ => return "ERR bad id or score".into(),
        },
        _ => return "ERR expected GET <id> or PUT <id> <name> <score>".into(),
    };
    outcome.unwrap_or_else(|e| format!("ERR {e}"))
}

async fn serve(rill: Rill, stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = answer(&rill, &line).await;
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "rill-gateway".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7878".into());
    let rill = Rill::open(RillConfig::new(&dir))?;
    rill.create_database_async(DATABASE, true).await?;
    let mut table = TableDescriptor::log_table(TABLE, schema());
    table.primary_key = vec!["id".into()];
    table.bucket_count = 4;
    rill.create_table_if_not_exists_async(table).await?;
    let listener = TcpListener::bind(&addr).await?;
    println!("rill gateway on {} ({} shards, data in {dir}); Ctrl-C stops", listener.local_addr()?, rill.shards());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let rill = rill.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(rill, stream).await {
                        eprintln!("connection failed: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    rill.shutdown();
    Ok(())
}
