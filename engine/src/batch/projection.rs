//! Zero-copy column projection of a stored batch.
//!
//! Only the batch header and the Arrow flatbuffer metadata are read. The result is a list of
//! byte slices to send back to back: a new header (length rewritten, statistics dropped), the
//! change-type vector (a slice of the source), a new IPC prefix + metadata naming only the
//! chosen field nodes and buffers with recomputed offsets, then the chosen column buffers as
//! slices of the source buffer with zero padding between them. Column bytes are never copied,
//! decoded or decompressed: a compressed buffer keeps its 8-byte uncompressed-length prefix.
//!
//! As in Fluss, the projected batch keeps the source CRC, which no longer matches its bytes:
//! Fluss clients skip the CRC check of projected batches, and recomputing it would cost time
//! proportional to the rows (see docs/format.md).

use arrow_buffer::Buffer;
use arrow_ipc::{BodyCompressionBuilder, FieldNode, MessageBuilder, MessageHeader, RecordBatchBuilder};
use arrow_schema::{DataType as ArrowType, Schema as ArrowSchema};
use flatbuffers::FlatBufferBuilder;

use super::header::{set_length, Magic, LOG_OVERHEAD};
use super::ipc::{self, CONTINUATION, PREFIX_LEN};
use super::view::BatchView;
use crate::error::{Error, Result};

/// Alignment of every body buffer in a projected message (what arrow-rs writes by default).
pub const BODY_ALIGNMENT: usize = 64;

/// A projected batch as an ordered list of byte slices (a vectored write sends them as is).
#[derive(Clone, Debug)]
pub struct ProjectedBatch {
    pub parts: Vec<Buffer>,
    /// Sum of the parts' lengths.
    pub len: usize,
}

impl ProjectedBatch {
    /// Concatenates the parts (for tests and callers that need one contiguous buffer).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for part in &self.parts {
            out.extend_from_slice(part.as_slice());
        }
        out
    }
}

/// How many field nodes and buffers a column of `data_type` occupies in an IPC message.
pub fn ipc_counts(data_type: &ArrowType) -> Result<(usize, usize)> {
    use ArrowType as T;
    Ok(match data_type {
        T::Null => (1, 0),
        T::Utf8 | T::Binary | T::LargeUtf8 | T::LargeBinary => (1, 3),
        T::List(child) | T::LargeList(child) | T::Map(child, _) => {
            let (n, b) = ipc_counts(child.data_type())?;
            (1 + n, 2 + b)
        }
        T::FixedSizeList(child, _) => {
            let (n, b) = ipc_counts(child.data_type())?;
            (1 + n, 1 + b)
        }
        T::Struct(fields) => {
            fields.iter().try_fold((1, 1), |(n, b), f| ipc_counts(f.data_type()).map(|(cn, cb)| (n + cn, b + cb)))?
        }
        t if t.is_primitive() || matches!(t, T::Boolean | T::FixedSizeBinary(_)) => (1, 2),
        other => return Err(Error::UnsupportedType { type_name: format!("{other} in a projection") }),
    })
}

/// Projects `columns` (ascending, unique positions in `schema`) out of the stored batch `batch`.
pub fn project(batch: &Buffer, schema: &ArrowSchema, columns: &[usize]) -> Result<ProjectedBatch> {
    check_columns(schema, columns)?;
    let view = BatchView::parse(batch.as_slice())?;
    if view.header.record_count == 0 {
        return Ok(ProjectedBatch { parts: vec![batch.clone()], len: batch.len() });
    }
    let ipc_range = view.ipc_range();
    let message = &batch.as_slice()[ipc_range.clone()];
    let layout = ipc::layout(message)?;
    let picked = pick(message, &layout, schema, columns)?;
    let body_base = ipc_range.start + layout.body_start;

    let zeros = Buffer::from_vec(vec![0u8; BODY_ALIGNMENT]);
    let mut body_parts = Vec::with_capacity(picked.buffers.len() * 2);
    let mut body_len = 0usize;
    let mut new_buffers = Vec::with_capacity(picked.buffers.len());
    for &(offset, length) in &picked.buffers {
        new_buffers.push(arrow_ipc::Buffer::new(body_len as i64, length as i64));
        if length > 0 {
            body_parts.push(batch.slice_with_length(body_base + offset, length));
        }
        let padded = length.next_multiple_of(BODY_ALIGNMENT);
        if padded > length {
            body_parts.push(zeros.slice_with_length(0, padded - length));
        }
        body_len += padded;
    }
    let metadata = encode_metadata(message, &layout, &picked.nodes, &new_buffers, body_len)?;
    assemble(batch, &view, metadata, body_parts, body_len)
}

fn check_columns(schema: &ArrowSchema, columns: &[usize]) -> Result<()> {
    if columns.is_empty() {
        return Err(Error::invalid_batch("an empty projection is not allowed"));
    }
    let ascending = columns.windows(2).all(|w| w[0] < w[1]);
    let in_range = columns.iter().all(|&c| c < schema.fields().len());
    if !ascending || !in_range {
        return Err(Error::invalid_batch(format!(
            "projection {columns:?} must be ascending, unique and below {} columns",
            schema.fields().len()
        )));
    }
    Ok(())
}

struct Picked {
    nodes: Vec<FieldNode>,
    /// (offset in the source body, length) of each chosen buffer.
    buffers: Vec<(usize, usize)>,
}

fn pick(message: &[u8], layout: &ipc::IpcLayout, schema: &ArrowSchema, columns: &[usize]) -> Result<Picked> {
    let fb = arrow_ipc::root_as_message(layout.metadata(message))
        .map_err(|e| Error::invalid_batch(format!("Arrow metadata: {e}")))?;
    let rb = fb.header_as_record_batch().ok_or_else(|| Error::invalid_batch("not a RecordBatch"))?;
    let (Some(nodes), Some(buffers)) = (rb.nodes(), rb.buffers()) else {
        return Err(Error::invalid_batch("Arrow RecordBatch without nodes or buffers"));
    };
    let mut picked = Picked { nodes: Vec::new(), buffers: Vec::new() };
    let (mut node_at, mut buffer_at, mut wanted) = (0usize, 0usize, columns.iter().peekable());
    for (index, field) in schema.fields().iter().enumerate() {
        let (n, b) = ipc_counts(field.data_type())?;
        if wanted.peek() == Some(&&index) {
            wanted.next();
            if node_at + n > nodes.len() || buffer_at + b > buffers.len() {
                return Err(too_few(node_at + n, buffer_at + b));
            }
            picked.nodes.extend((node_at..node_at + n).map(|i| nodes.get(i)));
            for i in buffer_at..buffer_at + b {
                let buf = buffers.get(i);
                picked.buffers.push(checked_range(buf.offset(), buf.length(), layout.body_len)?);
            }
        }
        node_at += n;
        buffer_at += b;
    }
    if node_at != nodes.len() || buffer_at != buffers.len() {
        return Err(Error::invalid_batch(format!(
            "Arrow batch has {} nodes and {} buffers but the schema needs {node_at} and {buffer_at}",
            nodes.len(),
            buffers.len()
        )));
    }
    Ok(picked)
}

fn too_few(nodes: usize, buffers: usize) -> Error {
    Error::invalid_batch(format!("Arrow batch has fewer than {nodes} field nodes or {buffers} buffers"))
}

fn checked_range(offset: i64, length: i64, body_len: usize) -> Result<(usize, usize)> {
    let (Ok(offset), Ok(length)) = (usize::try_from(offset), usize::try_from(length)) else {
        return Err(Error::invalid_batch("negative Arrow buffer offset or length"));
    };
    if offset.checked_add(length).is_none_or(|end| end > body_len) {
        return Err(Error::invalid_batch(format!("Arrow buffer {offset}+{length} runs past the {body_len}-byte body")));
    }
    Ok((offset, length))
}

fn encode_metadata(
    message: &[u8],
    layout: &ipc::IpcLayout,
    nodes: &[FieldNode],
    buffers: &[arrow_ipc::Buffer],
    body_len: usize,
) -> Result<Vec<u8>> {
    let source = arrow_ipc::root_as_message(layout.metadata(message))
        .map_err(|e| Error::invalid_batch(format!("Arrow metadata: {e}")))?;
    let rb = source.header_as_record_batch().ok_or_else(|| Error::invalid_batch("not a RecordBatch"))?;
    let mut fbb = FlatBufferBuilder::with_capacity(256 + 32 * (nodes.len() + buffers.len()));
    let nodes_at = fbb.create_vector(nodes);
    let buffers_at = fbb.create_vector(buffers);
    let compression = rb.compression().map(|c| {
        let mut b = BodyCompressionBuilder::new(&mut fbb);
        b.add_codec(c.codec());
        b.add_method(c.method());
        b.finish()
    });
    let mut batch = RecordBatchBuilder::new(&mut fbb);
    batch.add_length(rb.length());
    batch.add_nodes(nodes_at);
    batch.add_buffers(buffers_at);
    if let Some(c) = compression {
        batch.add_compression(c);
    }
    let batch = batch.finish();
    let mut msg = MessageBuilder::new(&mut fbb);
    msg.add_version(source.version());
    msg.add_header_type(MessageHeader::RecordBatch);
    msg.add_header(batch.as_union_value());
    msg.add_bodyLength(body_len as i64);
    let msg = msg.finish();
    fbb.finish(msg, None);
    Ok(fbb.finished_data().to_vec())
}

fn assemble(
    source: &Buffer,
    view: &BatchView<'_>,
    metadata: Vec<u8>,
    body_parts: Vec<Buffer>,
    body_len: usize,
) -> Result<ProjectedBatch> {
    let magic = view.header.magic;
    let header_len = magic.header_len();
    // Prefix + metadata end on a 64-byte boundary, as arrow-rs writes it (still a multiple of 8).
    let metadata_len = (PREFIX_LEN + metadata.len()).next_multiple_of(BODY_ALIGNMENT) - PREFIX_LEN;
    let ct = view.change_type_range();
    let total = header_len + ct.len() + PREFIX_LEN + metadata_len + body_len;
    let mut head = Vec::with_capacity(header_len + PREFIX_LEN + metadata_len);
    head.extend_from_slice(&source.as_slice()[..header_len]);
    set_length(&mut head, (total - LOG_OVERHEAD) as i32)?;
    if magic >= Magic::V1 {
        // The statistics_length field is the last 4 header bytes in V1 and V2.
        head[header_len - 4..header_len].copy_from_slice(&0i32.to_le_bytes());
    }
    let mut prefix = Vec::with_capacity(PREFIX_LEN + metadata_len);
    prefix.extend_from_slice(&CONTINUATION.to_le_bytes());
    prefix.extend_from_slice(&(metadata_len as i32).to_le_bytes());
    prefix.extend_from_slice(&metadata);
    prefix.resize(PREFIX_LEN + metadata_len, 0);

    let mut parts = Vec::with_capacity(3 + body_parts.len());
    if ct.is_empty() {
        head.extend_from_slice(&prefix);
        parts.push(Buffer::from_vec(head));
    } else {
        parts.push(Buffer::from_vec(head));
        parts.push(source.slice_with_length(ct.start, ct.len()));
        parts.push(Buffer::from_vec(prefix));
    }
    parts.extend(body_parts);
    debug_assert_eq!(parts.iter().map(Buffer::len).sum::<usize>(), total);
    Ok(ProjectedBatch { parts, len: total })
}
