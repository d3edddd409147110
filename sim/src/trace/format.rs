//! The record encoding: varints, the checksum, and the delta codec a block's records use.

use super::*;

#[inline]
pub(super) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a LEB128 varint; `None` when the bytes run out or it overflows 64 bits.
#[inline]
pub(super) fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

pub(super) fn checksum(bytes: &[u8]) -> u64 {
    let mut h = DigestHasher::default();
    h.write(bytes);
    h.write_u64(bytes.len() as u64);
    h.finish()
}

pub(super) fn kind_from(n: u8) -> Option<RecordKind> {
    Some(match n {
        0 => RecordKind::Start,
        1 => RecordKind::Deliver,
        2 => RecordKind::Timer,
        3 => RecordKind::Dropped,
        4 => RecordKind::Deferred,
        5 => RecordKind::FaultBegin,
        6 => RecordKind::FaultEnd,
        7 => RecordKind::Heal,
        8 => RecordKind::Note,
        // Format version 2 on.
        9 => RecordKind::SyncDone,
        _ => return None,
    })
}

/// The state both ends of the record stream keep so records can be delta-encoded.
#[derive(Clone, Debug)]
pub(super) struct Codec {
    pub(super) prev_index: u64,
    pub(super) prev_time: u64,
    host_of: Vec<u32>,
}

impl Codec {
    pub(super) fn new() -> Codec {
        Codec {
            prev_index: u64::MAX,
            prev_time: 0,
            host_of: Vec::new(),
        }
    }

    #[inline]
    pub(super) fn expected_host(&self, process: u32) -> u32 {
        if process < HOST_TABLE_MAX {
            self.host_of.get(process as usize).copied().unwrap_or(NONE)
        } else {
            NONE
        }
    }

    #[inline]
    pub(super) fn remember_host(&mut self, process: u32, host: u32) {
        if process < HOST_TABLE_MAX {
            let i = process as usize;
            if i >= self.host_of.len() {
                self.host_of.resize(i + 1, NONE);
            }
            self.host_of[i] = host;
        }
    }

    /// Appends one length-delimited record to `out`, using `scratch` for the body.
    pub(super) fn encode(
        &mut self,
        r: &EventRecord,
        note: Option<&str>,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        scratch.clear();
        let index_delta = r.index.wrapping_sub(self.prev_index);
        let host_explicit = r.host != self.expected_host(r.process);
        let aux = if matches!(r.kind, RecordKind::Deliver | RecordKind::SyncDone) {
            r.time.0.wrapping_sub(r.aux)
        } else {
            r.aux
        };
        let mut tag = r.kind as u8;
        if index_delta != 1 {
            tag |= FLAG_INDEX;
        }
        if host_explicit {
            tag |= FLAG_HOST;
        }
        if r.digest != 0 {
            tag |= FLAG_DIGEST;
        }
        if aux != 0 {
            tag |= FLAG_AUX;
        }
        scratch.push(tag);
        if index_delta != 1 {
            put_varint(scratch, index_delta);
        }
        put_varint(scratch, r.time.0.wrapping_sub(self.prev_time));
        put_varint(scratch, u64::from(r.process.wrapping_add(1)));
        if host_explicit {
            put_varint(scratch, u64::from(r.host.wrapping_add(1)));
        }
        put_varint(scratch, u64::from(r.peer.wrapping_add(1)));
        if aux != 0 {
            put_varint(scratch, aux);
        }
        if r.digest != 0 {
            scratch.extend_from_slice(&r.digest.to_le_bytes());
        }
        if r.kind == RecordKind::Note {
            let text = note.unwrap_or("");
            put_varint(scratch, text.len() as u64);
            scratch.extend_from_slice(text.as_bytes());
        }
        if r.process != NONE {
            self.remember_host(r.process, r.host);
        }
        self.prev_index = r.index;
        self.prev_time = r.time.0;
        put_varint(out, scratch.len() as u64);
        out.extend_from_slice(scratch);
    }

    /// Decodes one record body (without its length prefix); `Err` names what is wrong.
    pub(super) fn decode(&mut self, body: &[u8]) -> Result<TraceEvent, String> {
        let mut pos = 0usize;
        let field = |pos: &mut usize, name: &str| {
            get_varint(body, pos).ok_or_else(|| format!("record field `{name}` is cut off or overlong"))
        };
        let tag = *body.first().ok_or("empty record")?;
        pos += 1;
        let kind = kind_from(tag & 0x0f).ok_or_else(|| format!("unknown record kind {}", tag & 0x0f))?;
        let index_delta = if tag & FLAG_INDEX != 0 {
            field(&mut pos, "index")?
        } else {
            1
        };
        let time = self.prev_time.wrapping_add(field(&mut pos, "time")?);
        let process = narrow(field(&mut pos, "process")?, "process")?.wrapping_sub(1);
        let host = if tag & FLAG_HOST != 0 {
            narrow(field(&mut pos, "host")?, "host")?.wrapping_sub(1)
        } else {
            self.expected_host(process)
        };
        let peer = narrow(field(&mut pos, "peer")?, "peer")?.wrapping_sub(1);
        let stored_aux = if tag & FLAG_AUX != 0 {
            field(&mut pos, "aux")?
        } else {
            0
        };
        let digest = if tag & FLAG_DIGEST != 0 {
            let bytes: [u8; 8] = body
                .get(pos..pos + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or("record digest is cut off")?;
            pos += 8;
            u64::from_le_bytes(bytes)
        } else {
            0
        };
        let note = if kind == RecordKind::Note {
            let len = field(&mut pos, "note length")?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| pos.checked_add(l))
                .filter(|&e| e <= body.len())
                .ok_or("note text is cut off")?;
            let text = std::str::from_utf8(&body[pos..end]).map_err(|_| "note text is not UTF-8")?;
            pos = end;
            Some(text.to_string())
        } else {
            None
        };
        if pos != body.len() {
            return Err(format!(
                "record has {} unexpected trailing bytes",
                body.len() - pos
            ));
        }
        let index = self.prev_index.wrapping_add(index_delta);
        let aux = if matches!(kind, RecordKind::Deliver | RecordKind::SyncDone) {
            time.wrapping_sub(stored_aux)
        } else {
            stored_aux
        };
        if process != NONE {
            self.remember_host(process, host);
        }
        self.prev_index = index;
        self.prev_time = time;
        Ok(TraceEvent {
            record: EventRecord {
                index,
                time: Instant(time),
                kind,
                process,
                host,
                peer,
                aux,
                digest,
            },
            note,
        })
    }
}

pub(super) fn narrow(v: u64, name: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("record field `{name}` is out of range ({v})"))
}
