//! Helpers shared by rill-engine's integration tests.
//!
//! [`fluss_oracle`] is what the official Fluss Rust client (`fluss-rs` 1.0.0, imported as
//! `fluss`) does with LogRecordBatch bytes, for tests that need the client as the judge.
//!
//! fluss-rs keeps its batch codec private: `record::log_record_batch` is re-exported only as
//! `pub(crate)` (so `LogRecordBatch` and `LogRecordsBatches` cannot be named from outside),
//! and `MemoryLogRecordsArrowBuilder`, `ReadContext::record_batch`, `parse_ipc_message`,
//! `write_batch_header_fields` and `statistics::serialize_statistics` are `pub(crate)` or
//! private. Only its TCP client (which needs a server and a tokio runtime) reaches them. So the
//! byte framing is transcribed here statement by statement, each function naming the fluss-rs
//! source it follows, and every typed step calls fluss-rs's public API:
//!
//! - `fluss::record::to_arrow_schema` (the Arrow schema the client derives from the table),
//! - `fluss::record::ReadContext::with_projection_pushdown` / `project_fields_in_order` /
//!   `project_schema` (projection bookkeeping, and what the client sends in FetchLog),
//! - `arrow::ipc::reader::read_record_batch` with the same arguments fluss-rs passes,
//! - `fluss::record::ArrowReader::new_with_fluss_row_type` + `fluss::row::ColumnarRow` getters
//!   (typed row access, which rejects an Arrow column of the wrong type),
//! - `fluss::record::{ScanRecord, ChangeType::from_byte_value}`,
//! - `fluss::record::RowAppendRecordBatchBuilder` (rows to Arrow, the writer's first step),
//! - `arrow::ipc::writer::StreamWriter` with fluss-rs's write options.
#![allow(dead_code)]

/// CRC-32C (Castagnoli), bit by bit: independent of the CRC code rill uses.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

pub mod fluss_oracle {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::RecordBatch;
    use arrow::buffer::Buffer;
    use arrow::datatypes::SchemaRef;
    use arrow::ipc::reader::read_record_batch;
    use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
    use arrow::ipc::{root_as_message, CompressionType};
    use fluss::metadata::RowType;
    use fluss::record::{to_arrow_schema, ArrowReader, ChangeType, ReadContext, ScanRecord};
    use fluss::row::InternalRow;

    // Header layout: fluss-rs src/record/log_record_batch.rs lines 40-92.
    pub const BASE_OFFSET_OFFSET: usize = 0;
    pub const LENGTH_OFFSET: usize = 8;
    pub const MAGIC_OFFSET: usize = 12;
    pub const COMMIT_TIMESTAMP_OFFSET: usize = 13;
    pub const CRC_OFFSET: usize = 21;
    pub const SCHEMA_ID_OFFSET: usize = 25;
    pub const ATTRIBUTES_OFFSET: usize = 27;
    pub const LAST_OFFSET_DELTA_OFFSET: usize = 28;
    pub const WRITE_CLIENT_ID_OFFSET: usize = 32;
    pub const BATCH_SEQUENCE_OFFSET: usize = 40;
    pub const RECORDS_COUNT_OFFSET: usize = 44;
    pub const RECORD_BATCH_HEADER_SIZE: usize = 48;
    pub const V1_STATISTICS_LENGTH_OFFSET: usize = 48;
    pub const V1_RECORD_BATCH_HEADER_SIZE: usize = 52;
    pub const V2_LEADER_EPOCH_OFFSET: usize = 21;
    pub const V2_RECORD_BATCH_HEADER_SIZE: usize = 56;
    pub const LEADER_EPOCH_LENGTH: usize = 4;
    pub const LOG_OVERHEAD: usize = 12;
    pub const APPEND_ONLY_FLAG_MASK: u8 = 0x01;
    pub const NO_LEADER_EPOCH: i32 = -1;
    pub const NO_WRITER_ID: i64 = -1;
    pub const NO_BATCH_SEQUENCE: i32 = -1;
    const MAX_BATCH_SIZE: usize = i32::MAX as usize;

    /// Errors are strings: the message of the fluss-rs error, or of the check that failed.
    pub type Result<T> = std::result::Result<T, String>;

    fn fluss_err(e: fluss::error::Error) -> String {
        e.to_string()
    }

    fn arrow_err(e: arrow::error::ArrowError) -> String {
        e.to_string()
    }

    fn field<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
        // fluss-rs slices with `data[at..at + N]`, which panics on short data: so do we.
        data[at..at + N].try_into().expect("N bytes")
    }

    /// `record_batch_header_size` (log_record_batch.rs 117-128).
    pub fn record_batch_header_size(magic: u8) -> Result<usize> {
        match magic {
            0 => Ok(RECORD_BATCH_HEADER_SIZE),
            1 => Ok(V1_RECORD_BATCH_HEADER_SIZE),
            2 => Ok(V2_RECORD_BATCH_HEADER_SIZE),
            _ => Err(format!("Unsupported magic value {magic}")),
        }
    }

    /// `LogRecordsBatches` over an in-memory blob (log_record_batch.rs 381-455 with
    /// `MemorySource`, 188-233): batches back to back; iteration ends when fewer than 12 bytes
    /// remain or the next batch does not fit in what remains.
    pub fn batches(blob: &[u8]) -> Result<Vec<LogRecordBatch>> {
        let data = Buffer::from_vec(blob.to_vec());
        let (mut pos, mut remaining, mut out) = (0usize, data.len(), Vec::new());
        while remaining >= LOG_OVERHEAD {
            let length = i32::from_le_bytes(field(data.as_slice(), pos + LENGTH_OFFSET));
            if length < 0 {
                return Err(format!("Invalid negative batch size: {length}"));
            }
            let size = length as usize + LOG_OVERHEAD;
            if size > MAX_BATCH_SIZE {
                return Err(format!("Batch size {size} exceeds maximum allowed size"));
            }
            if size > remaining {
                break;
            }
            out.push(LogRecordBatch { data: data.slice_with_length(pos, size) });
            pos += size;
            remaining -= size;
        }
        Ok(out)
    }

    /// One batch as fluss-rs's `LogRecordBatch` reads it (log_record_batch.rs 457-753).
    #[derive(Clone, Debug)]
    pub struct LogRecordBatch {
        data: Buffer,
    }

    /// Change types of a batch's records (`BatchChangeTypes`, log_record_batch.rs 784-798).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum BatchChangeTypes {
        Uniform(ChangeType),
        PerRecord(Vec<ChangeType>),
    }

    impl BatchChangeTypes {
        pub fn get(&self, row_id: usize) -> ChangeType {
            match self {
                Self::Uniform(change_type) => *change_type,
                Self::PerRecord(change_types) => change_types[row_id],
            }
        }
    }

    impl LogRecordBatch {
        pub fn new(bytes: &[u8]) -> Self {
            Self { data: Buffer::from_vec(bytes.to_vec()) }
        }

        pub fn bytes(&self) -> &[u8] {
            self.data.as_slice()
        }

        pub fn magic(&self) -> u8 {
            self.data.as_slice()[MAGIC_OFFSET]
        }

        fn header_field_shift(&self) -> usize {
            if self.magic() >= 2 {
                LEADER_EPOCH_LENGTH
            } else {
                0
            }
        }

        fn read_i64(&self, at: usize) -> i64 {
            i64::from_le_bytes(field(self.data.as_slice(), at))
        }

        fn read_i32(&self, at: usize) -> i32 {
            i32::from_le_bytes(field(self.data.as_slice(), at))
        }

        pub fn commit_timestamp(&self) -> i64 {
            self.read_i64(COMMIT_TIMESTAMP_OFFSET)
        }

        pub fn leader_epoch(&self) -> i32 {
            if self.magic() < 2 {
                return NO_LEADER_EPOCH;
            }
            self.read_i32(V2_LEADER_EPOCH_OFFSET)
        }

        pub fn writer_id(&self) -> i64 {
            self.read_i64(WRITE_CLIENT_ID_OFFSET + self.header_field_shift())
        }

        pub fn batch_sequence(&self) -> i32 {
            self.read_i32(BATCH_SEQUENCE_OFFSET + self.header_field_shift())
        }

        /// `is_valid`: header complete and stored CRC == CRC-32C from schema_id to the end.
        /// (The client's `ensure_valid` is a no-op; this is what it would check.)
        pub fn is_valid(&self) -> bool {
            match self.ensure_header_complete() {
                Ok(header_size) => self.size_in_bytes() >= header_size && self.checksum() == self.compute_checksum(),
                Err(_) => false,
            }
        }

        fn ensure_header_complete(&self) -> Result<usize> {
            if self.data.len() <= MAGIC_OFFSET {
                return Err(format!("data length {} does not reach the magic byte", self.data.len()));
            }
            let header_size = record_batch_header_size(self.magic())?;
            if self.data.len() < header_size {
                return Err(format!("data length {} < header size {header_size}", self.data.len()));
            }
            Ok(header_size)
        }

        pub fn compute_checksum(&self) -> u32 {
            super::crc32c(&self.data.as_slice()[SCHEMA_ID_OFFSET + self.header_field_shift()..])
        }

        pub fn attributes(&self) -> u8 {
            self.data.as_slice()[ATTRIBUTES_OFFSET + self.header_field_shift()]
        }

        pub fn is_append_only(&self) -> bool {
            self.attributes() & APPEND_ONLY_FLAG_MASK != 0
        }

        pub fn next_log_offset(&self) -> i64 {
            self.last_log_offset() + 1
        }

        pub fn checksum(&self) -> u32 {
            u32::from_le_bytes(field(self.data.as_slice(), CRC_OFFSET + self.header_field_shift()))
        }

        pub fn schema_id(&self) -> i16 {
            i16::from_le_bytes(field(self.data.as_slice(), SCHEMA_ID_OFFSET + self.header_field_shift()))
        }

        pub fn base_log_offset(&self) -> i64 {
            self.read_i64(BASE_OFFSET_OFFSET)
        }

        pub fn last_log_offset(&self) -> i64 {
            self.base_log_offset() + i64::from(self.last_offset_delta())
        }

        pub fn last_offset_delta(&self) -> i32 {
            self.read_i32(LAST_OFFSET_DELTA_OFFSET + self.header_field_shift())
        }

        pub fn size_in_bytes(&self) -> usize {
            self.read_i32(LENGTH_OFFSET) as usize + LOG_OVERHEAD
        }

        pub fn record_count(&self) -> i32 {
            self.read_i32(RECORDS_COUNT_OFFSET + self.header_field_shift())
        }

        /// `records_data_offset` (log_record_batch.rs 603-630): header, then statistics.
        pub fn records_data_offset(&self) -> Result<usize> {
            let magic = self.magic();
            let header_size = record_batch_header_size(magic)?;
            if magic < 1 {
                return Ok(header_size);
            }
            let at = V1_STATISTICS_LENGTH_OFFSET + self.header_field_shift();
            let statistics_length = self
                .data
                .as_slice()
                .get(at..at + 4)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
                .ok_or_else(|| format!("data length {} < V{magic} header", self.data.len()))?;
            if statistics_length < 0 {
                return Err(format!("negative statistics length {statistics_length}"));
            }
            Ok(header_size + statistics_length as usize)
        }

        /// The statistics section as the header frames it (fluss-rs never decodes it).
        pub fn statistics_bytes(&self) -> Result<&[u8]> {
            let from = record_batch_header_size(self.magic())?;
            let to = self.records_data_offset()?;
            self.data.as_slice().get(from..to).ok_or_else(|| "statistics overrun the batch".to_string())
        }

        /// `decode_change_types` (log_record_batch.rs 632-685): the change-type vector (when the
        /// append-only bit is clear) and the Arrow payload after it.
        pub fn decode_change_types(&self) -> Result<(BatchChangeTypes, Buffer)> {
            let records_offset = self.records_data_offset()?;
            let body = self
                .data
                .as_slice()
                .get(records_offset..)
                .ok_or_else(|| format!("data length {} < records offset {records_offset}", self.data.len()))?;
            if self.is_append_only() {
                let rest = self.data.len() - records_offset;
                return Ok((
                    BatchChangeTypes::Uniform(ChangeType::AppendOnly),
                    self.data.slice_with_length(records_offset, rest),
                ));
            }
            let record_count = self.record_count();
            if record_count < 0 {
                return Err(format!("Corrupt changelog batch: negative record count {record_count}"));
            }
            let record_count = record_count as usize;
            let (change_type_bytes, _) = body.split_at_checked(record_count).ok_or_else(|| {
                format!("body length {} is smaller than its {record_count}-record change-type vector", body.len())
            })?;
            let change_types = change_type_bytes
                .iter()
                .map(|&b| ChangeType::from_byte_value(b))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let at = records_offset + record_count;
            Ok((BatchChangeTypes::PerRecord(change_types), self.data.slice_with_length(at, self.data.len() - at)))
        }

        /// `records` (log_record_batch.rs 687-710) with `ArrowLogRecordIterator` (arrow.rs
        /// 1553-1609): one `ScanRecord` per row with offset = base + row, timestamp = commit
        /// timestamp, and the row's change type.
        pub fn records(&self, ctx: &FlussReadContext) -> Result<Vec<ScanRecord>> {
            self.ensure_header_complete()?;
            if self.record_count() == 0 {
                return Ok(Vec::new());
            }
            let (change_types, arrow_data) = self.decode_change_types()?;
            let record_batch = ctx.record_batch(&arrow_data)?;
            let reader = ArrowReader::new_with_fluss_row_type(
                Arc::new(record_batch),
                Arc::clone(&ctx.row_type),
                Some(Arc::clone(&ctx.row_type)),
            )
            .map_err(fluss_err)?;
            if let BatchChangeTypes::PerRecord(ref types) = change_types {
                if types.len() != reader.row_count() {
                    return Err(format!(
                        "Changelog batch decode mismatch: {} change types for {} Arrow rows",
                        types.len(),
                        reader.row_count()
                    ));
                }
            }
            let (base, timestamp) = (self.base_log_offset(), self.commit_timestamp());
            Ok((0..reader.row_count())
                .map(|row_id| {
                    ScanRecord::new(reader.read(row_id), base + row_id as i64, timestamp, change_types.get(row_id))
                })
                .collect())
        }

        /// `record_batch` (log_record_batch.rs 743-753): the whole Arrow batch, change types dropped.
        pub fn record_batch(&self, ctx: &FlussReadContext) -> Result<RecordBatch> {
            self.ensure_header_complete()?;
            if self.record_count() == 0 {
                return Ok(RecordBatch::new_empty(ctx.target_schema()));
            }
            let (_, arrow_data) = self.decode_change_types()?;
            ctx.record_batch(&arrow_data)
        }
    }

    /// The read context the log scanner builds (`LogFetcher::new`, scanner.rs 1352-1383, and
    /// `ReadContext`, arrow.rs 1228-1497), for local (not remote-log) fetches.
    pub struct FlussReadContext {
        /// fluss-rs's own context: projection validation and bookkeeping.
        inner: ReadContext,
        full_schema: SchemaRef,
        /// The projected row type (the full one without projection).
        row_type: Arc<RowType>,
        /// Schema of what the server sends: projected columns in ascending order.
        ordered_schema: SchemaRef,
        /// Schema the client hands out: projected columns in the order asked for.
        target_schema: SchemaRef,
        /// For each requested column, its position in `ordered_schema`, when they differ.
        reordering: Option<Vec<usize>>,
    }

    impl FlussReadContext {
        /// `projection`: the table column positions the user asked for, in their order.
        pub fn new(table: &RowType, projection: Option<&[usize]>) -> Result<Self> {
            let full_schema = to_arrow_schema(table).map_err(fluss_err)?;
            let Some(fields) = projection else {
                let row_type = Arc::new(table.clone());
                let inner = ReadContext::new(Arc::clone(&full_schema), Arc::clone(&row_type), false)
                    .with_fluss_row_type(Arc::clone(&row_type));
                return Ok(Self {
                    inner,
                    ordered_schema: Arc::clone(&full_schema),
                    target_schema: Arc::clone(&full_schema),
                    full_schema,
                    row_type,
                    reordering: None,
                });
            };
            let row_type = Arc::new(RowType::new(fields.iter().map(|&i| table.fields()[i].clone()).collect()));
            let inner = ReadContext::with_projection_pushdown(
                Arc::clone(&full_schema),
                Arc::clone(&row_type),
                fields.to_vec(),
                false,
            )
            .map_err(fluss_err)?
            .with_fluss_row_type(Arc::clone(&row_type));
            let ordered = inner.project_fields_in_order().ok_or("projection lost")?.to_vec();
            let ordered_schema = ReadContext::project_schema(Arc::clone(&full_schema), &ordered).map_err(fluss_err)?;
            let target_schema = ReadContext::project_schema(Arc::clone(&full_schema), fields).map_err(fluss_err)?;
            let reordering = (ordered != fields)
                .then(|| {
                    fields
                        .iter()
                        .map(|f| ordered.binary_search(f).map_err(|_| format!("bad projection {fields:?}")))
                        .collect::<Result<Vec<usize>>>()
                })
                .transpose()?;
            Ok(Self { inner, full_schema, row_type, ordered_schema, target_schema, reordering })
        }

        /// The `projected_fields` the client puts in its FetchLog request (ascending).
        pub fn wire_projection(&self) -> Option<Vec<usize>> {
            self.inner.project_fields_in_order().map(<[usize]>::to_vec)
        }

        pub fn target_schema(&self) -> SchemaRef {
            Arc::clone(&self.target_schema)
        }

        pub fn full_schema(&self) -> SchemaRef {
            Arc::clone(&self.full_schema)
        }

        /// `ReadContext::record_batch` (arrow.rs 1430-1497) with `parse_ipc_message` (634-676).
        pub fn record_batch(&self, data: &Buffer) -> Result<RecordBatch> {
            let bytes = data.as_slice();
            if bytes.len() < 8 {
                return Err(format!("Invalid data length: {}", bytes.len()));
            }
            let continuation = u32::from_le_bytes(field(bytes, 0));
            let metadata_size = u32::from_le_bytes(field(bytes, 4)) as usize;
            if continuation != 0xFFFF_FFFF {
                return Err(format!("Invalid continuation marker: {continuation}"));
            }
            if bytes.len() < 8 + metadata_size {
                return Err(format!("data length {} is shorter than metadata size {metadata_size}", bytes.len() - 8));
            }
            let message = root_as_message(&bytes[8..8 + metadata_size]).map_err(|e| e.to_string())?;
            let batch_metadata = message.header_as_record_batch().ok_or("Not a record batch")?;
            let body_start = 8 + ((metadata_size + 7) & !7);
            let body = data.slice(body_start);
            let schema = match self.inner.project_fields() {
                Some(_) => Arc::clone(&self.ordered_schema),
                None => Arc::clone(&self.target_schema),
            };
            let batch = read_record_batch(&body, batch_metadata, schema, &HashMap::new(), None, &message.version())
                .map_err(arrow_err)?;
            match &self.reordering {
                None => Ok(batch),
                Some(indexes) => {
                    let columns = indexes.iter().map(|&i| Arc::clone(batch.column(i))).collect();
                    RecordBatch::try_new(self.target_schema(), columns).map_err(arrow_err)
                }
            }
        }
    }

    /// Reads every batch of `blob` and its records, as the log scanner does.
    pub fn read_records(blob: &[u8], ctx: &FlussReadContext) -> Result<Vec<(LogRecordBatch, Vec<ScanRecord>)>> {
        batches(blob)?
            .into_iter()
            .map(|batch| {
                let records = batch.records(ctx)?;
                Ok((batch, records))
            })
            .collect()
    }

    /// How a fluss-rs writer frames a batch (`ArrowBatchConfig` + `set_writer_state`).
    #[derive(Clone, Debug)]
    pub struct WriteSpec {
        pub schema_id: i32,
        pub writer_id: i64,
        pub batch_sequence: i32,
        /// `table.log.arrow.compression.type` (`ArrowCompressionInfo::get_compression_type`).
        pub compression: Option<CompressionType>,
        /// `Some` = the table sets `table.statistics.columns`: magic V1 with this section
        /// (fluss-rs writes an empty one for an empty mapping or a 0-row batch).
        pub statistics: Option<Vec<u8>>,
    }

    impl Default for WriteSpec {
        fn default() -> Self {
            Self {
                schema_id: 0,
                writer_id: NO_WRITER_ID,
                batch_sequence: NO_BATCH_SEQUENCE,
                compression: Some(CompressionType::ZSTD),
                statistics: None,
            }
        }
    }

    /// Rows to Arrow with fluss-rs's public `RowAppendRecordBatchBuilder` (what
    /// `AppendWriter::append(&row)` feeds the batch builder with).
    pub fn arrow_from_rows(row_type: &RowType, rows: &[&dyn InternalRow]) -> Result<RecordBatch> {
        let mut builder = fluss::record::RowAppendRecordBatchBuilder::new(row_type).map_err(fluss_err)?;
        for row in rows {
            builder.append(*row).map_err(fluss_err)?;
        }
        let batch = builder.build_arrow_record_batch().map_err(fluss_err)?;
        Ok(Arc::unwrap_or_clone(batch))
    }

    /// `MemoryLogRecordsArrowBuilder::build` (arrow.rs 440-533) with
    /// `write_batch_header_fields` (arrow.rs 932-962): base offset 0, commit timestamp 0,
    /// append-only attributes, V0 (or V1 with statistics), CRC-32C from schema_id to the end.
    pub fn build_batch(batch: &RecordBatch, spec: &WriteSpec) -> Result<Vec<u8>> {
        let mut arrow_bytes = Vec::new();
        let options = IpcWriteOptions::default().try_with_compression(spec.compression).map_err(arrow_err)?;
        let mut writer =
            StreamWriter::try_new_with_options(&mut arrow_bytes, &batch.schema(), options).map_err(arrow_err)?;
        let schema_message_len = writer.get_ref().len();
        writer.write(batch).map_err(arrow_err)?;
        drop(writer);
        let ipc = &arrow_bytes[schema_message_len..];

        let magic: u8 = if spec.statistics.is_some() { 1 } else { 0 };
        let statistics = spec.statistics.as_deref().unwrap_or_default();
        let header_size = if magic >= 1 { V1_RECORD_BATCH_HEADER_SIZE } else { RECORD_BATCH_HEADER_SIZE };
        let total = header_size + statistics.len() + ipc.len();
        let record_count = i32::try_from(batch.num_rows()).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&0i64.to_le_bytes()); // base offset (BUILDER_DEFAULT_OFFSET)
        out.extend_from_slice(&((total - LOG_OVERHEAD) as i32).to_le_bytes());
        out.push(magic);
        out.extend_from_slice(&0i64.to_le_bytes()); // commit timestamp placeholder
        out.extend_from_slice(&0u32.to_le_bytes()); // crc placeholder
        out.extend_from_slice(&(spec.schema_id as i16).to_le_bytes());
        out.push(APPEND_ONLY_FLAG_MASK); // "currently, always is append only"
        out.extend_from_slice(&(if record_count > 0 { record_count - 1 } else { 0 }).to_le_bytes());
        out.extend_from_slice(&spec.writer_id.to_le_bytes());
        out.extend_from_slice(&spec.batch_sequence.to_le_bytes());
        out.extend_from_slice(&record_count.to_le_bytes());
        if magic >= 1 {
            out.extend_from_slice(&(statistics.len() as i32).to_le_bytes());
        }
        debug_assert_eq!(out.len(), header_size);
        out.extend_from_slice(statistics);
        out.extend_from_slice(ipc);
        let crc = super::crc32c(&out[SCHEMA_ID_OFFSET..]);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }
}
