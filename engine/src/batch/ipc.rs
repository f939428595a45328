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
    let body_len = usize::try_from(parsed.bodyLength())
        .map_err(|_| Error::invalid_batch("negative Arrow body length"))?;
    if body_start.checked_add(body_len) != Some(message.len()) {
        return Err(Error::invalid_batch(format!(
            "Arrow body of {body_len} bytes at {body_start} does not end at the batch end ({})",
            message.len()
        )));
    }
    Ok(IpcLayout { metadata_len, body_start, body_len })
}

/// Decodes an IPC message held in `message` (a slice of some larger buffer) with `schema`.
/// With `require_alignment`, a misaligned buffer is an error instead of a silent copy.
pub fn decode(message: &Buffer, schema: SchemaRef, require_alignment: bool) -> Result<RecordBatch> {
    let layout = layout(message.as_slice())?;
    let fb = arrow_ipc::root_as_message(layout.metadata(message.as_slice()))
        .map_err(|e| Error::invalid_batch(format!("Arrow metadata: {e}")))?;
    let batch = fb
        .header_as_record_batch()
        .ok_or_else(|| Error::invalid_batch("Arrow message is not a RecordBatch"))?;
    let body = message.slice_with_length(layout.body_start, layout.body_len);
    let dictionaries = HashMap::new();
    let version = MetadataVersion::V5;
    RecordBatchDecoder::try_new(&body, batch, Arc::clone(&schema), &dictionaries, &version)
        .map_err(|e| Error::arrow("reading the Arrow batch header", e))?
        .with_require_alignment(require_alignment)
        .read_record_batch()
        .map_err(|e| Error::arrow("decoding the Arrow batch", e))
}
