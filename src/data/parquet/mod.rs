//! Parquet in the layout of the Hugging Face dataset
//! `mteb/free-spoken-digit-dataset` (the `datasets` audio convention):
//! a struct column `audio` {`bytes`: binary WAV file, `path`: string or null}
//! and an integer column `label` (0..=9).
//!
//! Reading accepts binary, large binary or binary view for `bytes`, any string
//! type for `path` (or no `path` at all) and any integer width for `label`.
//! Speaker and take come from `path` when it is an FSDD file name
//! (`{digit}_{speaker}_{take}.wav`); otherwise they stay `None`. Writing
//! produces the same schema with 16-bit PCM WAVs and snappy compression.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, Int64Array, LargeBinaryArray, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;

use super::{parse_fsdd_name, Clip, DataError, Dataset, Result, SourceSplit};
use crate::audio;

mod guard;

pub const PARQUET_AUDIO_COLUMN: &str = "audio";
pub const PARQUET_LABEL_COLUMN: &str = "label";
const BYTES_FIELD: &str = "bytes";
const PATH_FIELD: &str = "path";

/// Rows per record batch when writing (one batch of FSDD is ~4 MB of WAV).
const WRITE_BATCH_ROWS: usize = 256;

const EXPECTED: &str = "expected `audio: struct{bytes: binary, path: string}` and `label: int`";

/// Reads every row of a dataset parquet file into clips, in file order.
pub fn read_parquet(path: &Path) -> Result<Dataset> {
    // The parquet crate asserts on some corrupt metadata instead of returning
    // an error; `check_chunks` catches the known case, this the rest, without
    // the panic message that would otherwise precede the one-line error.
    quiet_catch_unwind(|| read_checked(path)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(DataError::Parquet {
            path: path.to_path_buf(),
            reason: format!(
                "the file is corrupt (the parquet reader gave up: {})",
                words(&what)
            ),
        })
    })
}

thread_local! {
    /// Set while this thread runs code whose panics become errors.
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `catch_unwind` that also keeps the panic hook quiet for this thread's
/// caught panic. The hook is wrapped once, and every other panic (any
/// thread, any time) still goes to the hook that was there before.
fn quiet_catch_unwind<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static WRAP: std::sync::Once = std::sync::Once::new();
    WRAP.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(|c| c.get()) {
                previous(info);
            }
        }));
    });
    CATCHING.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    result
}

fn read_checked(path: &Path) -> Result<Dataset> {
    let fail = |reason: String| DataError::Parquet {
        path: path.to_path_buf(),
        reason,
    };
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    // The parquet crate would spin on some corrupt metadata: walked first.
    let mut empty_left = guard::MAX_EMPTY_ELEMENTS;
    guard::check_footer(&mut file, file_len, &mut empty_left).map_err(&fail)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file.try_clone().map_err(io_err)?)
        .map_err(|e| fail(format!("cannot open it as parquet: {}", parquet_words(&e))))?;
    check_schema(builder.schema()).map_err(&fail)?;
    check_chunks(builder.metadata(), file_len).map_err(&fail)?;
    // Only the two columns read: another column's pages are neither
    // decoded nor walked.
    let parquet_schema = builder.parquet_schema();
    let roots: Vec<usize> = parquet_schema
        .root_schema()
        .get_fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| [PARQUET_AUDIO_COLUMN, PARQUET_LABEL_COLUMN].contains(&f.name()))
        .map(|(i, _)| i)
        .collect();
    for group in builder.metadata().row_groups() {
        for (i, column) in group.columns().iter().enumerate() {
            if !roots.contains(&parquet_schema.get_column_root_idx(i)) {
                continue;
            }
            let (start, length) = column.byte_range();
            let name = crate::text::one_line(&column.column_path().string()).into_owned();
            guard::check_pages(&mut file, file_len, start, length, &name, &mut empty_left)
                .map_err(&fail)?;
        }
    }
    let projection = ProjectionMask::roots(parquet_schema, roots);
    let expected_rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let reader = builder
        .with_projection(projection)
        .build()
        .map_err(|e| fail(format!("cannot read it: {}", parquet_words(&e))))?;

    let split = source_split_of(path);
    let origin_base = path.display().to_string();
    // The footer's row count is a claim: room for no more rows than the
    // file holds WAV headers (44 bytes each).
    let mut clips = Vec::with_capacity(expected_rows.min(file_len as usize / 44));
    let mut first_row = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| {
            fail(format!(
                "cannot read rows from row {first_row} on: {}",
                arrow_words(&e)
            ))
        })?;
        let columns = BatchColumns::new(&batch).map_err(&fail)?;
        for i in 0..batch.num_rows() {
            let row = first_row + i;
            let clip = columns
                .clip(i, &origin_base, row, split)
                .map_err(|reason| fail(format!("row {row}: {reason}")))?;
            clips.push(clip);
        }
        first_row += batch.num_rows();
    }
    if clips.is_empty() {
        return Err(fail("it holds no rows".into()));
    }
    Ok(Dataset { clips })
}

/// A parquet error in words: its message without the crate's prefix.
fn parquet_words(e: &parquet::errors::ParquetError) -> String {
    use parquet::errors::ParquetError as P;
    match e {
        P::EOF(_) | P::NeedMoreData(_) | P::NeedMoreDataRange(_) => {
            "it ends early; the file is truncated".into()
        }
        P::General(m) | P::NYI(m) | P::ArrowError(m) => words(m),
        P::IndexOutOfBound(..) => "an index in it points past its data; the file is corrupt".into(),
        other => words(&other.to_string()),
    }
}

/// An arrow error (decoding a batch) in words.
fn arrow_words(e: &arrow_schema::ArrowError) -> String {
    match e {
        arrow_schema::ArrowError::ParquetError(m) => words(m),
        other => words(&other.to_string()),
    }
}

/// A message from the parquet or arrow crates made one line of words: its
/// first line, cut before any debug structure (`Utf8Error { valid_up_to: 2 }`,
/// a flatbuffer verifier's trace), control characters escaped, at most 200
/// characters.
fn words(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or_default();
    let mut text = match first_line.find('{') {
        Some(at) => {
            // `Name {` or `Name(… {`: the structure's name goes too.
            let before = &first_line[..at];
            let cut = before
                .trim_end()
                .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '(');
            cut.trim_end_matches([' ', ':', ',', '(']).to_string()
        }
        None => first_line.trim_end().to_string(),
    };
    if text.chars().count() > 200 {
        text = text.chars().take(200).collect::<String>() + "…";
    }
    if text.is_empty() {
        return "its contents are corrupt".into();
    }
    crate::text::one_line(&text).into_owned()
}

/// Writes clips in the Hugging Face audio layout: WAVs as 16-bit PCM at each
/// clip's rate, `path` = `{digit}_{speaker}_{take}.wav` when both are known
/// (null otherwise), `label` as int64, snappy-compressed.
pub fn write_parquet(path: &Path, clips: &[Clip]) -> Result<()> {
    let fail = |reason: String| DataError::Parquet {
        path: path.to_path_buf(),
        reason,
    };
    let schema = Arc::new(dataset_schema());
    let file = File::create(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .map_err(|e| fail(format!("cannot start writing ({e})")))?;
    for (chunk_index, chunk) in clips.chunks(WRITE_BATCH_ROWS).enumerate() {
        let first = chunk_index * WRITE_BATCH_ROWS;
        let batch = clips_batch(&schema, chunk, first).map_err(&fail)?;
        writer
            .write(&batch)
            .map_err(|e| fail(format!("cannot write rows from {first} on ({e})")))?;
    }
    writer
        .close()
        .map_err(|e| fail(format!("cannot finish the file ({e})")))?;
    Ok(())
}

/// The schema `write_parquet` produces (and `read_parquet` expects at least).
fn dataset_schema() -> Schema {
    Schema::new(vec![
        Field::new(PARQUET_AUDIO_COLUMN, DataType::Struct(audio_fields()), true),
        Field::new(PARQUET_LABEL_COLUMN, DataType::Int64, false),
    ])
}

fn audio_fields() -> Fields {
    Fields::from(vec![
        Field::new(BYTES_FIELD, DataType::Binary, true),
        Field::new(PATH_FIELD, DataType::Utf8, true),
    ])
}

fn clips_batch(
    schema: &Arc<Schema>,
    clips: &[Clip],
    first: usize,
) -> std::result::Result<RecordBatch, String> {
    let mut wavs = Vec::with_capacity(clips.len());
    let mut names = Vec::with_capacity(clips.len());
    let mut labels = Vec::with_capacity(clips.len());
    for (k, clip) in clips.iter().enumerate() {
        if clip.digit > 9 {
            return Err(format!(
                "clip {} ({}): digit {} is outside 0..=9",
                first + k,
                clip.origin,
                clip.digit
            ));
        }
        wavs.push(
            encode_wav16(&clip.samples, clip.sample_rate)
                .map_err(|e| format!("clip {} ({}): {e}", first + k, clip.origin))?,
        );
        names.push(match (&clip.speaker, clip.take) {
            (Some(speaker), Some(take)) => Some(format!("{}_{speaker}_{take}.wav", clip.digit)),
            _ => None,
        });
        labels.push(i64::from(clip.digit));
    }
    let bytes: ArrayRef = Arc::new(BinaryArray::from_iter(wavs.iter().map(Some)));
    let paths: ArrayRef = Arc::new(StringArray::from(names));
    let audio = StructArray::try_new(audio_fields(), vec![bytes, paths], None)
        .map_err(|e| format!("cannot build the audio column ({e})"))?;
    RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(audio), Arc::new(Int64Array::from(labels))],
    )
    .map_err(|e| format!("cannot build a record batch ({e})"))
}

/// Mono 16-bit PCM WAV bytes. Samples are scaled by 32768 (the decoder's
/// scale), so 16-bit sources round-trip exactly.
fn encode_wav16(samples: &[f32], sample_rate: u32) -> std::result::Result<Vec<u8>, String> {
    audio::check_spec(sample_rate, 1).map_err(|e| e.to_string())?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = Vec::with_capacity(44 + 2 * samples.len());
    let mut writer = hound::WavWriter::new(Cursor::new(&mut buf), spec)
        .map_err(|e| format!("cannot encode WAV ({e})"))?;
    for &s in samples {
        let v = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        writer
            .write_sample(v)
            .map_err(|e| format!("cannot encode WAV ({e})"))?;
    }
    writer
        .finalize()
        .map_err(|e| format!("cannot encode WAV ({e})"))?;
    Ok(buf)
}

/// Every column chunk must lie inside the file (corrupt footers can claim
/// negative offsets, on which the parquet crate panics).
fn check_chunks(meta: &ParquetMetaData, file_len: u64) -> std::result::Result<(), String> {
    for (g, group) in meta.row_groups().iter().enumerate() {
        for column in group.columns() {
            let start = column
                .dictionary_page_offset()
                .unwrap_or(column.data_page_offset());
            let len = column.compressed_size();
            let inside = u64::try_from(start)
                .ok()
                .zip(u64::try_from(len).ok())
                .is_some_and(|(s, l)| s.checked_add(l).is_some_and(|end| end <= file_len));
            if !inside {
                return Err(format!(
                    "row group {g}, column `{}` points outside the file; the file is corrupt",
                    crate::text::one_line(&column.column_path().string())
                ));
            }
        }
    }
    Ok(())
}

/// `train*` → Train, `test*` → Test (by file name), else `None`.
fn source_split_of(path: &Path) -> Option<SourceSplit> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.starts_with("train") {
        Some(SourceSplit::Train)
    } else if name.starts_with("test") {
        Some(SourceSplit::Test)
    } else {
        None
    }
}

/// An arrow type's name for a message: `Int64`, `Utf8`, `Struct`, `List`
/// (a nested type's fields, which come from the file, left out).
fn type_name(t: &DataType) -> String {
    let full = t.to_string();
    let name = full.split('(').next().unwrap_or_default().trim();
    crate::text::one_line(name).into_owned()
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// Checks the columns this module reads; the reason names the first problem.
fn check_schema(schema: &Schema) -> std::result::Result<(), String> {
    let names = || {
        schema
            .fields()
            .iter()
            .map(|f| crate::text::one_line(f.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let audio = schema.field_with_name(PARQUET_AUDIO_COLUMN).map_err(|_| {
        format!(
            "missing column `{PARQUET_AUDIO_COLUMN}` (columns: {}); {EXPECTED}",
            names()
        )
    })?;
    let DataType::Struct(fields) = audio.data_type() else {
        return Err(format!(
            "column `{PARQUET_AUDIO_COLUMN}` is {}, not a struct; {EXPECTED}",
            type_name(audio.data_type())
        ));
    };
    match fields.find(BYTES_FIELD) {
        None => {
            return Err(format!(
                "column `{PARQUET_AUDIO_COLUMN}` has no `{BYTES_FIELD}` field; {EXPECTED}"
            ))
        }
        Some((_, f)) if !is_binary(f.data_type()) => {
            return Err(format!(
                "`{PARQUET_AUDIO_COLUMN}.{BYTES_FIELD}` is {}, not binary; {EXPECTED}",
                type_name(f.data_type())
            ))
        }
        Some(_) => {}
    }
    if let Some((_, f)) = fields.find(PATH_FIELD) {
        if !is_string(f.data_type()) {
            return Err(format!(
                "`{PARQUET_AUDIO_COLUMN}.{PATH_FIELD}` is {}, not a string; {EXPECTED}",
                type_name(f.data_type())
            ));
        }
    }
    let label = schema.field_with_name(PARQUET_LABEL_COLUMN).map_err(|_| {
        format!(
            "missing column `{PARQUET_LABEL_COLUMN}` (columns: {}); {EXPECTED}",
            names()
        )
    })?;
    if !is_integer(label.data_type()) {
        return Err(format!(
            "column `{PARQUET_LABEL_COLUMN}` is {}, not an integer; {EXPECTED}",
            type_name(label.data_type())
        ));
    }
    Ok(())
}

enum BytesColumn<'a> {
    Small(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
}

impl BytesColumn<'_> {
    fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            Self::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Self::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

enum PathColumn<'a> {
    Absent,
    Small(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl PathColumn<'_> {
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Self::Absent => None,
            Self::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Self::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// The typed columns of one record batch.
struct BatchColumns<'a> {
    audio: &'a StructArray,
    bytes: BytesColumn<'a>,
    paths: PathColumn<'a>,
    labels: &'a ArrayRef,
}

impl<'a> BatchColumns<'a> {
    fn new(batch: &'a RecordBatch) -> std::result::Result<Self, String> {
        let audio = batch
            .column_by_name(PARQUET_AUDIO_COLUMN)
            .and_then(|c| c.as_struct_opt())
            .ok_or_else(|| format!("column `{PARQUET_AUDIO_COLUMN}` is missing or not a struct"))?;
        let bytes_col = audio
            .column_by_name(BYTES_FIELD)
            .ok_or_else(|| format!("`{PARQUET_AUDIO_COLUMN}.{BYTES_FIELD}` is missing"))?;
        let bytes = match bytes_col.data_type() {
            DataType::Binary => bytes_col.as_binary_opt::<i32>().map(BytesColumn::Small),
            DataType::LargeBinary => bytes_col.as_binary_opt::<i64>().map(BytesColumn::Large),
            DataType::BinaryView => bytes_col.as_binary_view_opt().map(BytesColumn::View),
            _ => None,
        }
        .ok_or_else(|| format!("`{PARQUET_AUDIO_COLUMN}.{BYTES_FIELD}` is not binary"))?;
        let paths = match audio.column_by_name(PATH_FIELD) {
            None => Some(PathColumn::Absent),
            Some(c) => match c.data_type() {
                DataType::Utf8 => c.as_string_opt::<i32>().map(PathColumn::Small),
                DataType::LargeUtf8 => c.as_string_opt::<i64>().map(PathColumn::Large),
                DataType::Utf8View => c.as_string_view_opt().map(PathColumn::View),
                _ => None,
            },
        }
        .ok_or_else(|| format!("`{PARQUET_AUDIO_COLUMN}.{PATH_FIELD}` is not a string"))?;
        let labels = batch
            .column_by_name(PARQUET_LABEL_COLUMN)
            .ok_or_else(|| format!("column `{PARQUET_LABEL_COLUMN}` is missing"))?;
        Ok(Self {
            audio,
            bytes,
            paths,
            labels,
        })
    }

    fn clip(
        &self,
        i: usize,
        origin_base: &str,
        row: usize,
        split: Option<SourceSplit>,
    ) -> std::result::Result<Clip, String> {
        let label =
            label_at(self.labels, i)?.ok_or_else(|| format!("`{PARQUET_LABEL_COLUMN}` is null"))?;
        let digit = u8::try_from(label)
            .ok()
            .filter(|d| *d <= 9)
            .ok_or_else(|| format!("label {label} is outside 0..=9"))?;
        if self.audio.is_null(i) {
            return Err(format!("`{PARQUET_AUDIO_COLUMN}` is null"));
        }
        let name = self.paths.get(i);
        let bytes = self.bytes.get(i).ok_or_else(|| {
            format!(
                "`{PARQUET_AUDIO_COLUMN}.{BYTES_FIELD}` is null (only a path{}); the file must embed the WAV bytes",
                name.map(|n| format!(" `{}`", crate::text::one_line(n)))
                    .unwrap_or_default()
            )
        })?;
        let decoded = audio::decode_wav(bytes)
            .map_err(|e| format!("bad WAV in `{PARQUET_AUDIO_COLUMN}.{BYTES_FIELD}`: {e}"))?;
        let fsdd = name.and_then(parse_fsdd_name);
        if let Some(f) = &fsdd {
            if f.digit != digit {
                return Err(format!(
                    "label {digit} disagrees with the file name `{}` (digit {})",
                    crate::text::one_line(name.unwrap_or_default()),
                    f.digit
                ));
            }
        }
        let (speaker, take) = match fsdd {
            Some(f) => (Some(f.speaker), Some(f.take)),
            None => (None, None),
        };
        Ok(Clip {
            samples: decoded.samples,
            sample_rate: decoded.sample_rate,
            digit,
            speaker,
            take,
            origin: format!("{origin_base}#{row}"),
            source_split: split,
        })
    }
}

/// The label at row `i` of an integer column of any width; `None` when null.
fn label_at(col: &ArrayRef, i: usize) -> std::result::Result<Option<i128>, String> {
    if col.is_null(i) {
        return Ok(None);
    }
    macro_rules! value {
        ($t:ty) => {
            col.as_primitive_opt::<$t>().map(|a| i128::from(a.value(i)))
        };
    }
    let v = match col.data_type() {
        DataType::Int8 => value!(Int8Type),
        DataType::Int16 => value!(Int16Type),
        DataType::Int32 => value!(Int32Type),
        DataType::Int64 => value!(Int64Type),
        DataType::UInt8 => value!(UInt8Type),
        DataType::UInt16 => value!(UInt16Type),
        DataType::UInt32 => value!(UInt32Type),
        DataType::UInt64 => value!(UInt64Type),
        _ => None,
    };
    v.map(Some).ok_or_else(|| {
        format!(
            "column `{PARQUET_LABEL_COLUMN}` is {}, not an integer",
            type_name(col.data_type())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shared_fsdd_dir;
    use arrow_array::{Int32Array, Int64Array};

    fn fsdd_clip(name: &str) -> Clip {
        super::super::read_fsdd_clip(&shared_fsdd_dir().join(name)).unwrap()
    }

    /// Writes arbitrary columns to a parquet file, for malformed inputs.
    fn write_raw(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn audio_column(wavs: Vec<Option<Vec<u8>>>, names: Vec<Option<&str>>) -> ArrayRef {
        let bytes: ArrayRef = Arc::new(BinaryArray::from_iter(wavs));
        let paths: ArrayRef = Arc::new(StringArray::from(names));
        Arc::new(StructArray::try_new(audio_fields(), vec![bytes, paths], None).unwrap())
    }

    fn wav_of(clip: &Clip) -> Vec<u8> {
        encode_wav16(&clip.samples, clip.sample_rate).unwrap()
    }

    fn reason(err: DataError) -> String {
        match err {
            DataError::Parquet { reason, .. } => reason,
            other => panic!("expected a parquet error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_keeps_samples_labels_and_names() {
        let names = [
            "0_george_0.wav",
            "3_jackson_12.wav",
            "7_theo_5.wav",
            "9_yweweler_49.wav",
        ];
        let clips: Vec<Clip> = names.iter().map(|n| fsdd_clip(n)).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-00000-of-00001.parquet");
        write_parquet(&path, &clips).unwrap();
        let back = read_parquet(&path).unwrap();
        assert_eq!(back.len(), clips.len());
        for (row, (a, b)) in clips.iter().zip(&back.clips).enumerate() {
            assert_eq!(
                a.samples, b.samples,
                "row {row}: 16-bit samples round-trip exactly"
            );
            assert_eq!(a.sample_rate, b.sample_rate);
            assert_eq!(a.digit, b.digit);
            assert_eq!(a.speaker, b.speaker);
            assert_eq!(a.take, b.take);
            assert_eq!(b.origin, format!("{}#{row}", path.display()));
            assert_eq!(b.source_split, Some(SourceSplit::Train));
        }
    }

    #[test]
    fn clips_without_names_read_back_without_speaker_or_take() {
        let mut clip = fsdd_clip("5_lucas_1.wav");
        clip.speaker = None;
        let dir = tempfile::tempdir().unwrap();
        let test_path = dir.path().join("test-00000-of-00001.parquet");
        write_parquet(&test_path, std::slice::from_ref(&clip)).unwrap();
        let back = read_parquet(&test_path).unwrap();
        assert_eq!(back.clips[0].speaker, None);
        assert_eq!(back.clips[0].take, None);
        assert_eq!(back.clips[0].digit, 5);
        assert_eq!(back.clips[0].source_split, Some(SourceSplit::Test));
        let other = dir.path().join("clips.parquet");
        write_parquet(&other, &[clip]).unwrap();
        assert_eq!(read_parquet(&other).unwrap().clips[0].source_split, None);
    }

    #[test]
    fn other_integer_widths_and_a_missing_path_field_are_accepted() {
        let clip = fsdd_clip("2_nicolas_3.wav");
        let bytes: ArrayRef = Arc::new(BinaryArray::from_iter(vec![Some(wav_of(&clip))]));
        let only_bytes = Fields::from(vec![Field::new(BYTES_FIELD, DataType::Binary, true)]);
        let audio: ArrayRef =
            Arc::new(StructArray::try_new(only_bytes, vec![bytes], None).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_raw(
            &path,
            vec![
                ("audio", audio),
                ("label", Arc::new(Int32Array::from(vec![2]))),
            ],
        );
        let back = read_parquet(&path).unwrap();
        assert_eq!(back.clips[0].digit, 2);
        assert_eq!(back.clips[0].samples, clip.samples);
        assert_eq!(back.clips[0].speaker, None);
    }

    #[test]
    fn missing_audio_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_raw(
            &path,
            vec![("label", Arc::new(Int64Array::from(vec![1, 2])))],
        );
        let r = reason(read_parquet(&path).unwrap_err());
        assert!(
            r.starts_with("missing column `audio` (columns: label)"),
            "{r}"
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_raw(
            &path,
            vec![
                ("audio", Arc::new(StringArray::from(vec!["a.wav"]))),
                ("label", Arc::new(Int64Array::from(vec![1]))),
            ],
        );
        let r = reason(read_parquet(&path).unwrap_err());
        assert!(r.starts_with("column `audio` is Utf8, not a struct"), "{r}");

        let clip = fsdd_clip("1_george_1.wav");
        write_raw(
            &path,
            vec![
                ("audio", audio_column(vec![Some(wav_of(&clip))], vec![None])),
                ("label", Arc::new(StringArray::from(vec!["one"]))),
            ],
        );
        let r = reason(read_parquet(&path).unwrap_err());
        assert!(
            r.starts_with("column `label` is Utf8, not an integer"),
            "{r}"
        );
    }

    #[test]
    fn bad_rows_are_named_by_row() {
        let clip = fsdd_clip("4_theo_2.wav");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        type Case = (Vec<Option<Vec<u8>>>, Vec<i64>, &'static str);
        let cases: Vec<Case> = vec![
            (
                vec![Some(wav_of(&clip)), Some(b"not a wav at all".to_vec())],
                vec![4, 4],
                "row 1: bad WAV in `audio.bytes`: not a WAV file",
            ),
            (
                vec![Some(wav_of(&clip)), Some(wav_of(&clip))],
                vec![4, 12],
                "row 1: label 12 is outside 0..=9",
            ),
            (
                vec![Some(wav_of(&clip)), Some(wav_of(&clip))],
                vec![4, -1],
                "row 1: label -1 is outside 0..=9",
            ),
            (
                vec![None, Some(wav_of(&clip))],
                vec![4, 4],
                "row 0: `audio.bytes` is null (only a path `4_theo_2.wav`)",
            ),
        ];
        for (wavs, labels, expected) in cases {
            write_raw(
                &path,
                vec![
                    (
                        "audio",
                        audio_column(wavs, vec![Some("4_theo_2.wav"), None]),
                    ),
                    ("label", Arc::new(Int64Array::from(labels))),
                ],
            );
            let r = reason(read_parquet(&path).unwrap_err());
            assert!(r.starts_with(expected), "{r}\n  expected: {expected}");
        }
    }

    #[test]
    fn label_disagreeing_with_the_file_name_is_an_error() {
        let clip = fsdd_clip("4_theo_2.wav");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_raw(
            &path,
            vec![
                (
                    "audio",
                    audio_column(vec![Some(wav_of(&clip))], vec![Some("4_theo_2.wav")]),
                ),
                ("label", Arc::new(Int64Array::from(vec![5]))),
            ],
        );
        let r = reason(read_parquet(&path).unwrap_err());
        assert_eq!(
            r,
            "row 0: label 5 disagrees with the file name `4_theo_2.wav` (digit 4)"
        );
    }

    #[test]
    fn non_parquet_and_truncated_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.parquet");
        std::fs::write(&path, b"<html>not found</html>").unwrap();
        let r = reason(read_parquet(&path).unwrap_err());
        assert!(r.starts_with("cannot open it as parquet"), "{r}");

        write_parquet(&path, &[fsdd_clip("6_jackson_7.wav")]).unwrap();
        let full = std::fs::read(&path).unwrap();
        for cut in [full.len() / 2, full.len() - 3, 4] {
            std::fs::write(&path, &full[..cut]).unwrap();
            assert!(matches!(
                read_parquet(&path),
                Err(DataError::Parquet { .. })
            ));
        }
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(
            read_parquet(&path),
            Err(DataError::Parquet { .. })
        ));
    }

    #[test]
    fn missing_file_is_an_io_error_and_digit_ten_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.parquet");
        assert!(matches!(read_parquet(&missing), Err(DataError::Io { .. })));
        let mut clip = fsdd_clip("6_jackson_7.wav");
        clip.digit = 10;
        let r = reason(write_parquet(&dir.path().join("x.parquet"), &[clip]).unwrap_err());
        assert!(r.contains("digit 10 is outside 0..=9"), "{r}");
    }

    fn fuzz_find(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz")
            .join(name)
    }

    /// Footers whose unknown fields declare lists of booleans that the
    /// parquet crate walks without reading a byte: 2^31 of them (a 20-byte
    /// file, 5 s before), and a thousand such lists (6 KB, an hour and a
    /// half). Both are refused before the crate sees them.
    #[test]
    fn lists_of_booleans_the_file_does_not_hold_are_refused() {
        for name in ["hang_list1.parquet", "hang_nested.parquet"] {
            let r = reason(read_parquet(&fuzz_find(name)).unwrap_err());
            assert_eq!(
                r,
                "its metadata is corrupt (a list in a FileMetaData declares 2147483647 \
                 values it does not hold)",
                "{name}"
            );
        }
    }

    /// Field names and other text from the file are shown escaped, on one
    /// line; the crates' debug structures are cut from their messages.
    #[test]
    fn text_from_the_file_is_escaped_and_debug_structures_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_raw(
            &path,
            vec![("lab\nel\u{1b}[2J", Arc::new(Int64Array::from(vec![1, 2])))],
        );
        let r = reason(read_parquet(&path).unwrap_err());
        assert!(
            r.starts_with("missing column `audio` (columns: lab\\nel\\u{1b}[2J)"),
            "{r}"
        );
        assert_eq!(
            words("Invalid argument error: Unable to get root as message: Utf8Error { valid_up_to: 2, error_len: Some(1) }"),
            "Invalid argument error: Unable to get root as message"
        );
        assert_eq!(
            words("Range [8, 12) is out of bounds.\n\twhile verifying table field `schema`"),
            "Range [8, 12) is out of bounds."
        );
        assert_eq!(words("{}"), "its contents are corrupt");
    }
}
