//! A walk over a parquet file's Thrift structures (its footer, and the
//! header of every page that will be read) before the parquet crate
//! decodes them, refusing what would make it spin.
//!
//! parquet 60.1 skips a field it does not know by walking it, and takes
//! each boolean in a list (or map) as occupying no bytes, so a list
//! declaring 2^31 booleans is 2^31 turns of a loop over nothing (a 20-byte
//! file, 5 s) and a list of a thousand such lists an hour and a half. No
//! newer release changes that. This walk reads the bytes exactly as the
//! crate will: the fields it knows by their type in the parquet format
//! (each must carry that type on the wire, as every writer puts it, so that
//! decoding and skipping consume the same bytes), the rest as its skip
//! does, booleans in lists taking no bytes. Lists of booleans outside known
//! fields (which no writer produces) may declare [`MAX_EMPTY_ELEMENTS`] in
//! all; more is a corrupt file. Everything else the crate reads consumes at
//! least one byte per step, so its work is bounded by the file's size.

use std::io::{Read, Seek, SeekFrom};

/// Elements that take no bytes (booleans in lists the crate skips) a file
/// may declare in all, footer and page headers together: about 2 ms of the
/// crate's time.
pub const MAX_EMPTY_ELEMENTS: u64 = 1 << 20;

/// The parquet crate's limit on nested skips.
const SKIP_DEPTH: u32 = 64;

/// Thrift compact-protocol wire types.
mod wire {
    pub const STOP: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const SET: u8 = 10;
    pub const MAP: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const UUID: u8 = 13;
}

/// A field's type in the parquet format.
#[derive(Clone, Copy)]
enum Kind {
    /// i16, i32, i64 or an enum: a zigzag varint.
    Varint,
    Byte,
    Double,
    /// binary or string.
    Binary,
    Bool,
    Struct(&'static Schema),
    List(Element),
}

/// The element type of a known list (the crate checks it on the wire).
#[derive(Clone, Copy)]
enum Element {
    I32,
    I64,
    Binary,
    Struct(&'static Schema),
}

/// A struct (or union) of the parquet format: its name for messages, its
/// fields by id.
struct Schema {
    name: &'static str,
    fields: &'static [(i16, Kind)],
}

use Element as E;
use Kind as K;

const fn s(name: &'static str, fields: &'static [(i16, Kind)]) -> Schema {
    Schema { name, fields }
}

static EMPTY: Schema = s("empty struct", &[]);
static FILE_METADATA: Schema = s(
    "FileMetaData",
    &[
        (1, K::Varint),
        (2, K::List(E::Struct(&SCHEMA_ELEMENT))),
        (3, K::Varint),
        (4, K::List(E::Struct(&ROW_GROUP))),
        (5, K::List(E::Struct(&KEY_VALUE))),
        (6, K::Binary),
        (7, K::List(E::Struct(&COLUMN_ORDER))),
        (8, K::Struct(&ENCRYPTION_ALGORITHM)),
        (9, K::Binary),
    ],
);
static SCHEMA_ELEMENT: Schema = s(
    "SchemaElement",
    &[
        (1, K::Varint),
        (2, K::Varint),
        (3, K::Varint),
        (4, K::Binary),
        (5, K::Varint),
        (6, K::Varint),
        (7, K::Varint),
        (8, K::Varint),
        (9, K::Varint),
        (10, K::Struct(&LOGICAL_TYPE)),
    ],
);
static LOGICAL_TYPE: Schema = s(
    "LogicalType",
    &[
        (1, K::Struct(&EMPTY)),
        (2, K::Struct(&EMPTY)),
        (3, K::Struct(&EMPTY)),
        (4, K::Struct(&EMPTY)),
        (5, K::Struct(&DECIMAL_TYPE)),
        (6, K::Struct(&EMPTY)),
        (7, K::Struct(&TIME_TYPE)),
        (8, K::Struct(&TIME_TYPE)),
        (10, K::Struct(&INT_TYPE)),
        (11, K::Struct(&EMPTY)),
        (12, K::Struct(&EMPTY)),
        (13, K::Struct(&EMPTY)),
        (14, K::Struct(&EMPTY)),
        (15, K::Struct(&EMPTY)),
        (16, K::Struct(&VARIANT_TYPE)),
        (17, K::Struct(&GEOMETRY_TYPE)),
        (18, K::Struct(&GEOGRAPHY_TYPE)),
        (19, K::Struct(&EMPTY)),
    ],
);
static DECIMAL_TYPE: Schema = s("DecimalType", &[(1, K::Varint), (2, K::Varint)]);
static TIME_TYPE: Schema = s("TimeType", &[(1, K::Bool), (2, K::Struct(&TIME_UNIT))]);
static TIME_UNIT: Schema = s(
    "TimeUnit",
    &[
        (1, K::Struct(&EMPTY)),
        (2, K::Struct(&EMPTY)),
        (3, K::Struct(&EMPTY)),
    ],
);
static INT_TYPE: Schema = s("IntType", &[(1, K::Byte), (2, K::Bool)]);
static VARIANT_TYPE: Schema = s("VariantType", &[(1, K::Byte)]);
static GEOMETRY_TYPE: Schema = s("GeometryType", &[(1, K::Binary)]);
static GEOGRAPHY_TYPE: Schema = s("GeographyType", &[(1, K::Binary), (2, K::Varint)]);
static ROW_GROUP: Schema = s(
    "RowGroup",
    &[
        (1, K::List(E::Struct(&COLUMN_CHUNK))),
        (2, K::Varint),
        (3, K::Varint),
        (4, K::List(E::Struct(&SORTING_COLUMN))),
        (5, K::Varint),
        (6, K::Varint),
        (7, K::Varint),
    ],
);
static COLUMN_CHUNK: Schema = s(
    "ColumnChunk",
    &[
        (1, K::Binary),
        (2, K::Varint),
        (3, K::Struct(&COLUMN_METADATA)),
        (4, K::Varint),
        (5, K::Varint),
        (6, K::Varint),
        (7, K::Varint),
        (8, K::Struct(&COLUMN_CRYPTO_METADATA)),
        (9, K::Binary),
    ],
);
static COLUMN_METADATA: Schema = s(
    "ColumnMetaData",
    &[
        (1, K::Varint),
        (2, K::List(E::I32)),
        (3, K::List(E::Binary)),
        (4, K::Varint),
        (5, K::Varint),
        (6, K::Varint),
        (7, K::Varint),
        (8, K::List(E::Struct(&KEY_VALUE))),
        (9, K::Varint),
        (10, K::Varint),
        (11, K::Varint),
        (12, K::Struct(&STATISTICS)),
        (13, K::List(E::Struct(&PAGE_ENCODING_STATS))),
        (14, K::Varint),
        (15, K::Varint),
        (16, K::Struct(&SIZE_STATISTICS)),
        (17, K::Struct(&GEOSPATIAL_STATISTICS)),
    ],
);
static STATISTICS: Schema = s(
    "Statistics",
    &[
        (1, K::Binary),
        (2, K::Binary),
        (3, K::Varint),
        (4, K::Varint),
        (5, K::Binary),
        (6, K::Binary),
        (7, K::Bool),
        (8, K::Bool),
        (9, K::Varint),
    ],
);
static SIZE_STATISTICS: Schema = s(
    "SizeStatistics",
    &[(1, K::Varint), (2, K::List(E::I64)), (3, K::List(E::I64))],
);
static GEOSPATIAL_STATISTICS: Schema = s(
    "GeospatialStatistics",
    &[(1, K::Struct(&BOUNDING_BOX)), (2, K::List(E::I32))],
);
static BOUNDING_BOX: Schema = s(
    "BoundingBox",
    &[
        (1, K::Double),
        (2, K::Double),
        (3, K::Double),
        (4, K::Double),
        (5, K::Double),
        (6, K::Double),
        (7, K::Double),
        (8, K::Double),
    ],
);
static SORTING_COLUMN: Schema = s(
    "SortingColumn",
    &[(1, K::Varint), (2, K::Bool), (3, K::Bool)],
);
static KEY_VALUE: Schema = s("KeyValue", &[(1, K::Binary), (2, K::Binary)]);
static PAGE_ENCODING_STATS: Schema = s(
    "PageEncodingStats",
    &[(1, K::Varint), (2, K::Varint), (3, K::Varint)],
);
static COLUMN_ORDER: Schema = s(
    "ColumnOrder",
    &[
        (1, K::Struct(&EMPTY)),
        (2, K::Struct(&EMPTY)),
        (3, K::Struct(&EMPTY)),
    ],
);
static ENCRYPTION_ALGORITHM: Schema = s(
    "EncryptionAlgorithm",
    &[(1, K::Struct(&AES_GCM)), (2, K::Struct(&AES_GCM))],
);
static AES_GCM: Schema = s("AesGcmV1", &[(1, K::Binary), (2, K::Binary), (3, K::Bool)]);
static COLUMN_CRYPTO_METADATA: Schema = s(
    "ColumnCryptoMetaData",
    &[
        (1, K::Struct(&EMPTY)),
        (2, K::Struct(&ENCRYPTION_WITH_COLUMN_KEY)),
    ],
);
static ENCRYPTION_WITH_COLUMN_KEY: Schema = s(
    "EncryptionWithColumnKey",
    &[(1, K::List(E::Binary)), (2, K::Binary)],
);
static PAGE_HEADER: Schema = s(
    "PageHeader",
    &[
        (1, K::Varint),
        (2, K::Varint),
        (3, K::Varint),
        (4, K::Varint),
        (5, K::Struct(&DATA_PAGE_HEADER)),
        (6, K::Struct(&EMPTY)),
        (7, K::Struct(&DICTIONARY_PAGE_HEADER)),
        (8, K::Struct(&DATA_PAGE_HEADER_V2)),
    ],
);
static DATA_PAGE_HEADER: Schema = s(
    "DataPageHeader",
    &[
        (1, K::Varint),
        (2, K::Varint),
        (3, K::Varint),
        (4, K::Varint),
        (5, K::Struct(&STATISTICS)),
    ],
);
static DICTIONARY_PAGE_HEADER: Schema = s(
    "DictionaryPageHeader",
    &[(1, K::Varint), (2, K::Varint), (3, K::Bool)],
);
static DATA_PAGE_HEADER_V2: Schema = s(
    "DataPageHeaderV2",
    &[
        (1, K::Varint),
        (2, K::Varint),
        (3, K::Varint),
        (4, K::Varint),
        (5, K::Varint),
        (6, K::Varint),
        (7, K::Bool),
        (8, K::Struct(&STATISTICS)),
    ],
);

/// Why a walk stopped: a problem in words, and whether the input merely ran
/// out (for a page header read in a window, more may be read).
struct Stop {
    reason: String,
    ran_out: bool,
}

type Walked<T> = Result<T, Stop>;

fn corrupt(reason: String) -> Stop {
    Stop {
        reason,
        ran_out: false,
    }
}

/// A cursor over Thrift compact-protocol bytes.
struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Elements taking no bytes that may still be declared.
    empty_left: u64,
    /// The top-level field id last read with [`Kind::Varint`] and the value
    /// read, for the page header's sizes.
    varints: Vec<(i16, i64)>,
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8], empty_left: u64) -> Self {
        Self {
            buf,
            pos: 0,
            empty_left,
            varints: Vec::new(),
        }
    }

    fn byte(&mut self, inside: &str) -> Walked<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| Stop {
            reason: format!("it ends in the middle of a {inside}"),
            ran_out: true,
        })?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_bytes(&mut self, n: u64, inside: &str) -> Walked<()> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(Stop {
                reason: format!("a {inside} declares {n} bytes where {left} remain"),
                ran_out: true,
            });
        }
        self.pos += n as usize;
        Ok(())
    }

    /// An unsigned LEB128 varint, as the crate reads it (any length).
    fn varint(&mut self, inside: &str) -> Walked<u64> {
        let (mut value, mut shift) = (0u64, 0u32);
        loop {
            let b = self.byte(inside)?;
            value |= u64::from(b & 0x7F).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift = shift.saturating_add(7);
        }
    }

    fn zigzag(&mut self, inside: &str) -> Walked<i64> {
        let v = self.varint(inside)?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A field header: `None` at the end of the struct, else (wire type, id).
    fn field(&mut self, last_id: i16, inside: &str) -> Walked<Option<(u8, i16)>> {
        let b = self.byte(inside)?;
        let kind = b & 0x0F;
        if kind == wire::STOP {
            return Ok(None);
        }
        if kind > wire::UUID {
            return Err(corrupt(format!(
                "a {inside} has a field of unknown type {kind}"
            )));
        }
        let delta = b >> 4;
        let id = if delta == 0 {
            self.zigzag(inside)? as i16
        } else {
            last_id
                .checked_add(i16::from(delta))
                .ok_or_else(|| corrupt(format!("a {inside} has a field number past 32767")))?
        };
        Ok(Some((kind, id)))
    }

    /// A list or set header: (element wire type, size).
    fn list_header(&mut self, inside: &str) -> Walked<(u8, u64)> {
        let b = self.byte(inside)?;
        if b == 0 {
            return Ok((wire::BYTE, 0));
        }
        let element = b & 0x0F;
        if !(wire::TRUE..=wire::UUID).contains(&element) {
            return Err(corrupt(format!(
                "a list in a {inside} has elements of unknown type {element}"
            )));
        }
        let size = match b >> 4 {
            15 => {
                let n = self.varint(inside)?;
                if n > i32::MAX as u64 {
                    return Err(corrupt(format!(
                        "a list in a {inside} declares {n} elements"
                    )));
                }
                n
            }
            n => u64::from(n),
        };
        Ok((element, size))
    }

    /// `n` elements that take no bytes, against the file's allowance.
    fn empty_elements(&mut self, n: u64, inside: &str) -> Walked<()> {
        self.empty_left = self.empty_left.checked_sub(n).ok_or_else(|| {
            corrupt(format!(
                "a list in a {inside} declares {n} values it does not hold"
            ))
        })?;
        Ok(())
    }

    /// Skips a value as the crate's `skip` does.
    fn skip(&mut self, kind: u8, depth: u32, inside: &str) -> Walked<()> {
        if depth == 0 {
            return Err(corrupt(format!(
                "a {inside} nests deeper than {SKIP_DEPTH} levels"
            )));
        }
        match kind {
            wire::TRUE | wire::FALSE => Ok(()),
            wire::BYTE => self.byte(inside).map(drop),
            wire::I16 | wire::I32 | wire::I64 => self.varint(inside).map(drop),
            wire::DOUBLE => self.skip_bytes(8, inside),
            wire::BINARY => {
                let n = self.varint(inside)?;
                self.skip_bytes(n, inside)
            }
            wire::UUID => self.skip_bytes(16, inside),
            wire::STRUCT => {
                while let Some((kind, _)) = self.field(0, inside)? {
                    self.skip(kind, depth - 1, inside)?;
                }
                Ok(())
            }
            wire::LIST | wire::SET => {
                let (element, size) = self.list_header(inside)?;
                self.skip_elements(&[element], size, depth, inside)
            }
            wire::MAP => {
                let size = self.varint(inside)?;
                if size > i32::MAX as u64 {
                    return Err(corrupt(format!(
                        "a map in a {inside} declares {size} entries"
                    )));
                }
                if size == 0 {
                    return Ok(());
                }
                let kv = self.byte(inside)?;
                let (key, value) = (kv >> 4, kv & 0x0F);
                for t in [key, value] {
                    if !(wire::TRUE..=wire::UUID).contains(&t) {
                        return Err(corrupt(format!(
                            "a map in a {inside} has entries of unknown type {t}"
                        )));
                    }
                }
                self.skip_elements(&[key, value], size, depth, inside)
            }
            _ => Err(corrupt(format!(
                "a {inside} has a field of unknown type {kind}"
            ))),
        }
    }

    /// `size` elements (of one type, or key-value pairs), each skipped.
    fn skip_elements(&mut self, types: &[u8], size: u64, depth: u32, inside: &str) -> Walked<()> {
        if size == 0 {
            return Ok(());
        }
        if depth == 1 {
            // The crate refuses the first element.
            return Err(corrupt(format!(
                "a {inside} nests deeper than {SKIP_DEPTH} levels"
            )));
        }
        if types.iter().all(|&t| t == wire::TRUE || t == wire::FALSE) {
            return self.empty_elements(size, inside);
        }
        for _ in 0..size {
            for &t in types {
                self.skip(t, depth - 1, inside)?;
            }
        }
        Ok(())
    }

    /// A struct of the parquet format, its known fields by their type.
    fn known_struct(&mut self, schema: &'static Schema, top: bool) -> Walked<()> {
        let mut last = 0i16;
        while let Some((kind, id)) = self.field(last, schema.name)? {
            match schema.fields.iter().find(|(f, _)| *f == id) {
                Some(&(_, field)) => self.known_field(schema, id, kind, field, top)?,
                None => self.skip(kind, SKIP_DEPTH, schema.name)?,
            }
            last = id;
        }
        Ok(())
    }

    fn known_field(
        &mut self,
        schema: &'static Schema,
        id: i16,
        wire_kind: u8,
        field: Kind,
        top: bool,
    ) -> Walked<()> {
        let inside = schema.name;
        let expected: &[u8] = match field {
            K::Varint => &[wire::I16, wire::I32, wire::I64],
            K::Byte => &[wire::BYTE],
            K::Double => &[wire::DOUBLE],
            K::Binary => &[wire::BINARY],
            K::Bool => &[wire::TRUE, wire::FALSE],
            K::Struct(_) => &[wire::STRUCT],
            K::List(_) => &[wire::LIST, wire::SET],
        };
        if !expected.contains(&wire_kind) {
            return Err(corrupt(format!(
                "field {id} of a {inside} has the wrong type ({wire_kind})"
            )));
        }
        match field {
            K::Varint => {
                let v = self.zigzag(inside)?;
                if top {
                    self.varints.push((id, v));
                }
                Ok(())
            }
            K::Byte => self.byte(inside).map(drop),
            K::Double => self.skip_bytes(8, inside),
            K::Binary => {
                let n = self.varint(inside)?;
                self.skip_bytes(n, inside)
            }
            K::Bool => Ok(()),
            K::Struct(schema) => self.known_struct(schema, false),
            K::List(element) => {
                let (got, size) = self.list_header(inside)?;
                let want = match element {
                    E::I32 => wire::I32,
                    E::I64 => wire::I64,
                    E::Binary => wire::BINARY,
                    E::Struct(_) => wire::STRUCT,
                };
                if got != want {
                    return Err(corrupt(format!(
                        "field {id} of a {inside} is a list of the wrong type ({got})"
                    )));
                }
                let left = (self.buf.len() - self.pos) as u64;
                if size > left {
                    return Err(corrupt(format!(
                        "field {id} of a {inside} declares {size} elements in {left} bytes"
                    )));
                }
                for _ in 0..size {
                    match element {
                        E::I32 | E::I64 => self.varint(inside).map(drop)?,
                        E::Binary => {
                            let n = self.varint(inside)?;
                            self.skip_bytes(n, inside)?;
                        }
                        E::Struct(schema) => self.known_struct(schema, false)?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// Walks the footer metadata of the parquet file `file` (`len` bytes), if
/// it has the layout the crate reads (`…` metadata, its length, `PAR1`);
/// anything else the crate refuses by itself.
/// `empty_left` is the file's allowance of [`MAX_EMPTY_ELEMENTS`], used up
/// by this walk and [`check_pages`].
pub fn check_footer(
    file: &mut (impl Read + Seek),
    len: u64,
    empty_left: &mut u64,
) -> Result<(), String> {
    if len < 12 {
        return Ok(());
    }
    let mut tail = [0u8; 8];
    read_at(file, len - 8, &mut tail).map_err(|e| format!("cannot read its footer ({e})"))?;
    if &tail[4..] != b"PAR1" {
        return Ok(());
    }
    let meta_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if meta_len > len - 8 {
        return Ok(());
    }
    let mut meta = vec![0u8; meta_len as usize];
    read_at(file, len - 8 - meta_len, &mut meta)
        .map_err(|e| format!("cannot read its footer ({e})"))?;
    let mut walk = Walk::new(&meta, *empty_left);
    walk.known_struct(&FILE_METADATA, false)
        .map_err(|stop| format!("its metadata is corrupt ({})", stop.reason))?;
    *empty_left = walk.empty_left;
    Ok(())
}

/// Walks the header of every page of a column chunk (`start`, `length`
/// bytes), in the order the crate's page reader reads them: a header, then
/// the page's compressed bytes, until the chunk is used up. Stops where the
/// crate would stop with an error of its own.
pub fn check_pages(
    file: &mut (impl Read + Seek),
    file_len: u64,
    start: u64,
    length: u64,
    column: &str,
    empty_left: &mut u64,
) -> Result<(), String> {
    let (mut offset, mut remaining) = (start, length);
    let mut page = 0usize;
    while remaining > 0 {
        let Some((header_len, uncompressed, compressed)) =
            page_header(file, file_len, offset, empty_left).map_err(|reason| {
                format!("the header of page {page} of column `{column}` is corrupt ({reason})")
            })?
        else {
            return Ok(());
        };
        // The crate's own checks: it stops here with an error.
        if header_len > remaining
            || compressed < 0
            || uncompressed < 0
            || compressed as u64 > remaining - header_len
        {
            return Ok(());
        }
        offset += header_len + compressed as u64;
        remaining -= header_len + compressed as u64;
        page += 1;
    }
    Ok(())
}

/// The page header at `offset`: its length and its sizes, `None` when the
/// crate would refuse it by itself (a required size missing).
fn page_header(
    file: &mut (impl Read + Seek),
    file_len: u64,
    offset: u64,
    empty_left: &mut u64,
) -> Result<Option<(u64, i32, i32)>, String> {
    let mut window = 256u64;
    loop {
        let want = window.min(file_len.saturating_sub(offset));
        let mut buf = vec![0u8; want as usize];
        read_at(file, offset, &mut buf).map_err(|e| format!("cannot read it: {e}"))?;
        let mut walk = Walk::new(&buf, *empty_left);
        match walk.known_struct(&PAGE_HEADER, true) {
            Ok(()) => {
                *empty_left = walk.empty_left;
                // The crate reads an i32 as the low 32 bits of the value.
                let size = |id| {
                    walk.varints
                        .iter()
                        .rev()
                        .find(|(f, _)| *f == id)
                        .map(|&(_, v)| v as i32)
                };
                return Ok(size(2).zip(size(3)).map(|(u, c)| (walk.pos as u64, u, c)));
            }
            Err(stop) if stop.ran_out && want == window => window *= 16,
            Err(stop) => return Err(stop.reason),
        }
    }
}

fn read_at(file: &mut (impl Read + Seek), at: u64, buf: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A data page's header: type 0, sizes 4 and 4, `extra` fields, stop;
    /// then 4 bytes of page.
    fn page(extra: &[u8]) -> Vec<u8> {
        let mut p = vec![0x15, 0x00, 0x15, 0x08, 0x15, 0x08];
        p.extend_from_slice(extra);
        p.push(0x00);
        p.extend_from_slice(&[1, 2, 3, 4]);
        p
    }

    fn pages(bytes: &[u8]) -> Result<(), String> {
        let len = bytes.len() as u64;
        let mut left = MAX_EMPTY_ELEMENTS;
        check_pages(&mut Cursor::new(bytes), len, 0, len, "label", &mut left)
    }

    /// The crate reads page headers while it decodes rows; an unknown
    /// field there holding a list of 2^31 booleans spins it as in a
    /// footer. Refused; lists of booleans within the allowance pass, and
    /// so do two plain pages.
    #[test]
    fn page_headers_are_walked_as_the_crate_reads_them() {
        let mut two = page(&[]);
        two.extend(page(&[]));
        assert_eq!(pages(&two), Ok(()));
        // Field 14 (3 + 11), a list of 2^31 - 1 booleans.
        let bomb = page(&[0xB9, 0xF1, 0xFF, 0xFF, 0xFF, 0xFF, 0x07]);
        assert_eq!(
            pages(&bomb),
            Err(
                "the header of page 0 of column `label` is corrupt (a list in a PageHeader \
                 declares 2147483647 values it does not hold)"
                    .into()
            )
        );
        let mut second = page(&[]);
        second.extend(&bomb);
        assert!(pages(&second).unwrap_err().contains("page 1 of column"));
        // 1,000 booleans: within the allowance.
        assert_eq!(pages(&page(&[0xB9, 0xF1, 0xE8, 0x07])), Ok(()));
        // The allowance is the file's, not each header's.
        let mut many = Vec::new();
        for _ in 0..3 {
            // 2^19 booleans each: the third goes past 2^20.
            many.extend(page(&[0xB9, 0xF1, 0x80, 0x80, 0x20]));
        }
        assert!(pages(&many).unwrap_err().contains("page 2 of column"));
    }

    /// A known field with another type on the wire would be read one way
    /// by the crate and skipped another way here: refused.
    #[test]
    fn a_known_field_with_the_wrong_wire_type_is_refused() {
        // Field 2 (uncompressed size) as a binary.
        let bad = [0x15, 0x00, 0x18, 0x02, 0xAA, 0xBB, 0x15, 0x08, 0x00];
        assert_eq!(
            pages(&bad),
            Err(
                "the header of page 0 of column `label` is corrupt (field 2 of a PageHeader \
                 has the wrong type (8))"
                    .into()
            )
        );
    }
}
