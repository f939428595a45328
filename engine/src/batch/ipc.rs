//! The Arrow IPC RecordBatch message inside a batch: `u32 0xFFFFFFFF continuation |
//! i32 metadata_len | flatbuffer Message (padded to metadata_len) | body`. No schema message:
//! the schema id in the batch header names the schema.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::RecordBatchDecoder;
use arrow_ipc::MetadataVersion;
use arrow_schema::SchemaRef;

use super::projection::ipc_counts;
use super::view::BATCH_RECORDS_MAX;
use crate::error::{Error, Result};

/// The continuation marker that starts every encapsulated IPC message.
pub const CONTINUATION: u32 = 0xFFFF_FFFF;
/// Bytes of continuation marker + metadata length.
pub const PREFIX_LEN: usize = 8;
/// Largest flatbuffer metadata we accept.
pub const METADATA_BYTES_MAX: usize = 16 << 20;

/// Where the parts of an IPC message sit, relative to the message start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpcLayout {
    /// Flatbuffer bytes: `PREFIX_LEN .. PREFIX_LEN + metadata_len`.
    pub metadata_len: usize,
    /// Body start (metadata_len rounded up to 8, as the Fluss reader does).
    pub body_start: usize,
    /// Body length from the Message's bodyLength.
    pub body_len: usize,
}

impl IpcLayout {
    /// The flatbuffer bytes of `message`.
    pub fn metadata<'a>(&self, message: &'a [u8]) -> &'a [u8] {
        message.get(PREFIX_LEN..PREFIX_LEN + self.metadata_len).unwrap_or_default()
    }
}

/// Parses the framing of an IPC message and checks that its body fits.
pub fn layout(message: &[u8]) -> Result<IpcLayout> {
    parse(message).map(|(layout, _)| layout)
}

/// [`layout`] and the verified flatbuffer `Message` (verified once: decoding reuses it).
fn parse(message: &[u8]) -> Result<(IpcLayout, arrow_ipc::Message<'_>)> {
    let word = |at: usize| -> Result<[u8; 4]> {
        message
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::invalid_batch("Arrow payload shorter than its 8-byte prefix"))
    };
    if u32::from_le_bytes(word(0)?) != CONTINUATION {
        return Err(Error::invalid_batch("Arrow payload lacks the 0xFFFFFFFF continuation marker"));
    }
    let metadata_len = usize::try_from(i32::from_le_bytes(word(4)?))
        .ok()
        .filter(|&l| l > 0 && l <= METADATA_BYTES_MAX)
        .ok_or_else(|| Error::invalid_batch("Arrow metadata length is out of range"))?;
    let body_start = PREFIX_LEN + metadata_len.next_multiple_of(8);
    let fb = message
        .get(PREFIX_LEN..PREFIX_LEN + metadata_len)
        .ok_or_else(|| Error::invalid_batch("Arrow metadata runs past the batch"))?;
    let parsed = arrow_ipc::root_as_message(fb)
        .map_err(|e| Error::invalid_batch(format!("Arrow metadata is not a valid flatbuffer: {e}")))?;
    if parsed.header_as_record_batch().is_none() {
        return Err(Error::invalid_batch("Arrow message is not a RecordBatch"));
    }
    let body_len =
        usize::try_from(parsed.bodyLength()).map_err(|_| Error::invalid_batch("negative Arrow body length"))?;
    if body_start.checked_add(body_len) != Some(message.len()) {
        return Err(Error::invalid_batch(format!(
            "Arrow body of {body_len} bytes at {body_start} does not end at the batch end ({})",
            message.len()
        )));
    }
    Ok((IpcLayout { metadata_len, body_start, body_len }, parsed))
}

/// Decodes an IPC message held in `message` (a slice of some larger buffer) with `schema`.
/// With `require_alignment`, a misaligned buffer is an error instead of a silent copy.
pub fn decode(message: &Buffer, schema: SchemaRef, require_alignment: bool) -> Result<RecordBatch> {
    decode_body(message.as_slice(), schema, require_alignment, |layout| {
        message.slice_with_length(layout.body_start, layout.body_len)
    })
}

/// Decodes an IPC message with `schema` into arrays over a copy of its body alone: the
/// batch keeps no part of `message` (its metadata, or the larger buffer it was read into)
/// alive. For batches that are kept a long time, such as cached SST blocks, where the
/// metadata would otherwise be a tenth of a small block's memory.
pub fn decode_detached(message: &[u8], schema: SchemaRef) -> Result<RecordBatch> {
    decode_body(message, schema, false, |layout| {
        // An allocation of exactly the body's bytes. The allocator aligns it to 16 bytes (the
        // widest Arrow type's need; then nothing is copied again); should it not, a 64-byte-
        // aligned copy instead.
        let body = message[layout.body_start..layout.body_start + layout.body_len].to_vec();
        match body.as_ptr().align_offset(16) {
            0 => Buffer::from_vec(body),
            _ => Buffer::from_slice_ref(&body),
        }
    })
}

fn decode_body(
    message: &[u8],
    schema: SchemaRef,
    require_alignment: bool,
    body_of: impl FnOnce(&IpcLayout) -> Buffer,
) -> Result<RecordBatch> {
    let (layout, fb) = parse(message)?;
    let batch =
        fb.header_as_record_batch().ok_or_else(|| Error::invalid_batch("Arrow message is not a RecordBatch"))?;
    let body = body_of(&layout);
    check_metadata(&batch, &schema, body.as_slice())?;
    let dictionaries = HashMap::new();
    let version = MetadataVersion::V5;
    RecordBatchDecoder::try_new(&body, batch, Arc::clone(&schema), &dictionaries, &version)
        .map_err(|e| Error::arrow("reading the Arrow batch header", e))?
        .with_require_alignment(require_alignment)
        .read_record_batch()
        .map_err(|e| Error::arrow("decoding the Arrow batch", e))
}

/// Largest uncompressed size a compressed buffer may claim (arrow allocates it up front).
pub const DECODED_BUFFER_BYTES_MAX: i64 = 1 << 30;

/// Checks the flatbuffer against the schema and the body before arrow-rs trusts it: arrow-rs
/// panics (or aborts on a huge allocation) on metadata that disagrees with the buffers, and
/// the bytes come from clients whose CRC only proves they were sent as they are.
fn check_metadata(batch: &arrow_ipc::RecordBatch<'_>, schema: &SchemaRef, body: &[u8]) -> Result<()> {
    let bad = |reason: String| Error::invalid_batch(reason);
    let rows = batch.length();
    if !(0..=i64::from(BATCH_RECORDS_MAX)).contains(&rows) {
        return Err(bad(format!("Arrow batch length {rows} is out of range")));
    }
    let (Some(nodes), Some(buffers)) = (batch.nodes(), batch.buffers()) else {
        return Err(bad("Arrow RecordBatch without nodes or buffers".into()));
    };
    let (mut want_nodes, mut want_buffers) = (0, 0);
    for field in schema.fields() {
        let (n, b) = ipc_counts(field.data_type())?;
        want_nodes += n;
        want_buffers += b;
    }
    if nodes.len() != want_nodes || buffers.len() != want_buffers {
        return Err(bad(format!(
            "Arrow batch has {} nodes and {} buffers; the schema needs {want_nodes} and {want_buffers}",
            nodes.len(),
            buffers.len()
        )));
    }
    if batch.variadicBufferCounts().is_some_and(|v| !v.is_empty()) {
        return Err(bad("Arrow variadic buffers are not supported".into()));
    }
    let compressed = batch.compression().is_some();
    let mut decoded_lens = Vec::with_capacity(buffers.len());
    for (i, buffer) in buffers.iter().enumerate() {
        let (offset, length) = (buffer.offset(), buffer.length());
        let end = offset.checked_add(length).filter(|&e| offset >= 0 && length >= 0 && e as u64 <= body.len() as u64);
        let Some(end) = end else {
            return Err(bad(format!("Arrow buffer {i} at {offset}+{length} runs past the {}-byte body", body.len())));
        };
        decoded_lens.push(decoded_len(compressed, &body[offset as usize..end as usize], i)?);
    }
    let (mut node_at, mut buffer_at) = (0usize, 0usize);
    for field in schema.fields() {
        let (n, b) = ipc_counts(field.data_type())?;
        check_node(field.data_type(), *nodes.get(node_at), rows, &decoded_lens[buffer_at..buffer_at + b])?;
        node_at += n;
        buffer_at += b;
    }
    Ok(())
}

/// The size a buffer has once decompressed.
fn decoded_len(compressed: bool, bytes: &[u8], index: usize) -> Result<i64> {
    if !compressed || bytes.is_empty() {
        return Ok(bytes.len() as i64);
    }
    let prefix =
        bytes.get(..8).and_then(|p| p.try_into().ok()).map(i64::from_le_bytes).ok_or_else(|| {
            Error::invalid_batch(format!("compressed Arrow buffer {index} is shorter than its prefix"))
        })?;
    match prefix {
        -1 => Ok(bytes.len() as i64 - 8),
        0..=DECODED_BUFFER_BYTES_MAX => Ok(prefix),
        other => {
            Err(Error::invalid_batch(format!("compressed Arrow buffer {index} claims {other} uncompressed bytes")))
        }
    }
}

/// Checks a top-level column's node against the batch length and its buffers' sizes.
fn check_node(data_type: &arrow_schema::DataType, node: arrow_ipc::FieldNode, rows: i64, lens: &[i64]) -> Result<()> {
    let bad = |reason: String| Err(Error::invalid_batch(reason));
    if node.length() != rows || node.null_count() < 0 || node.null_count() > node.length() {
        return bad(format!(
            "Arrow node of {} rows with {} nulls in a {rows}-row batch",
            node.length(),
            node.null_count()
        ));
    }
    let validity = lens.first().copied().unwrap_or(0);
    if node.null_count() > 0 && validity < (rows + 7) / 8 {
        return bad(format!("Arrow validity bitmap of {validity} bytes for {rows} rows"));
    }
    if matches!(data_type, arrow_schema::DataType::Utf8 | arrow_schema::DataType::Binary) {
        let offsets = lens.get(1).copied().unwrap_or(0);
        if offsets % 4 != 0 || (rows > 0 && offsets < (rows + 1) * 4) {
            return bad(format!("Arrow offsets buffer of {offsets} bytes for {rows} rows"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BinaryArray, Decimal128Array, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};

    use super::*;
    use crate::batch::builder::encode_ipc_aligned;
    use crate::batch::Compression;

    fn batch() -> RecordBatch {
        let schema = Arc::new(ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Binary, true),
        ]));
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..30));
        let values: ArrayRef =
            Arc::new(BinaryArray::from_iter((0..30u8).map(|i| (i % 7 != 0).then(|| vec![i; usize::from(i)]))));
        RecordBatch::try_new(schema, vec![ids, values]).unwrap()
    }

    #[test]
    fn eight_byte_alignment_decodes_the_same_in_fewer_bytes() {
        let (mut wide, mut narrow) = (Vec::new(), Vec::new());
        encode_ipc_aligned(&batch(), Compression::None, 64, &mut wide).unwrap();
        encode_ipc_aligned(&batch(), Compression::None, 8, &mut narrow).unwrap();
        assert_eq!((wide.len() % 64, narrow.len() % 8), (0, 0));
        assert!(narrow.len() < wide.len(), "{} against {}", narrow.len(), wide.len());
        for message in [wide, narrow] {
            let decoded = decode(&Buffer::from_vec(message), batch().schema(), true).unwrap();
            assert_eq!(decoded, batch());
        }
    }

    /// `batch()` and a DECIMAL column (Arrow `Decimal128`: 16-byte values).
    fn with_decimals() -> RecordBatch {
        let base = batch();
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from_iter_values((0..30).map(|i| i * 1_000_003)).with_precision_and_scale(20, 2).unwrap(),
        );
        let mut fields: Vec<Field> = base.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("d", DataType::Decimal128(20, 2), false));
        let mut columns = base.columns().to_vec();
        columns.push(decimals);
        RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).unwrap()
    }

    #[test]
    fn a_detached_batch_keeps_only_a_copy_of_the_body() {
        // 16: what SSTs with a DECIMAL column pad to (8 would leave its values misaligned
        // for arrow-rs, which would then copy them: a second allocation).
        let mut message = Vec::new();
        encode_ipc_aligned(&with_decimals(), Compression::None, 16, &mut message).unwrap();
        let body_len = layout(&message).unwrap().body_len;
        let decoded = decode_detached(&message, with_decimals().schema()).unwrap();
        assert_eq!(decoded, with_decimals());
        let inside = message.as_ptr_range();
        let mut allocations = Vec::new();
        for column in decoded.columns() {
            let data = column.to_data();
            for buffer in data.buffers().iter().chain(data.nulls().map(|n| n.buffer())) {
                assert!(!inside.contains(&buffer.as_ptr()), "a buffer still points into the message");
                let at = buffer.data_ptr().as_ptr() as usize;
                if !allocations.iter().any(|&(a, _)| a == at) {
                    allocations.push((at, buffer.capacity()));
                }
            }
        }
        // One allocation, of the body's bytes exactly (the validity bits of `v` are in it too).
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(allocations[0].1, body_len);
    }
}
