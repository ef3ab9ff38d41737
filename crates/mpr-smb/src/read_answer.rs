//! The file's bytes in a READ answer, without copying them.
//!
//! `smb2`'s `ReadResponse::unpack` copies the data out of the answer into a
//! `Vec` of its own; a sequential read then pays that copy for every byte.
//! The answer's body is already ours (`Frame::body`), so the data is taken
//! as a view of it instead: only the 16-byte fixed part is read here
//! (MS-SMB2 2.2.20), and the data is where its `DataOffset` says.

use mpr_fs::Bytes;
use smb2::msg::header::Header;
use smb2::msg::read::ReadResponse;

/// The data of a READ answer whose body (what follows the 64-byte SMB2
/// header) is `body`; an error says what is wrong with the answer.
pub fn data(body: Vec<u8>) -> Result<Bytes, String> {
    let Some(fixed) = body.get(..16) else {
        return Err(format!("{} bytes, fewer than its fixed part", body.len()));
    };
    let size = u16::from_le_bytes([fixed[0], fixed[1]]);
    if size != ReadResponse::STRUCTURE_SIZE {
        return Err(format!("structure size {size}, not 17"));
    }
    let len = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]) as usize;
    if len == 0 {
        return Ok(Bytes::new());
    }
    // DataOffset counts from the start of the header.
    let start = usize::from(fixed[2])
        .checked_sub(Header::SIZE)
        .filter(|s| *s >= 16)
        .ok_or_else(|| format!("data offset {} inside the fixed part", fixed[2]))?;
    if start + len > body.len() {
        return Err(format!(
            "{len} bytes of data at {start} in a body of {}",
            body.len()
        ));
    }
    Ok(Bytes::from(body).slice(start..start + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb2::pack::{Pack, WriteCursor};

    /// A body as `smb2` itself packs a READ answer.
    fn packed(data: &[u8], data_offset: u8) -> Vec<u8> {
        let mut w = WriteCursor::new();
        ReadResponse {
            data_offset,
            data_remaining: 0,
            flags: 0,
            data: data.to_vec(),
        }
        .pack(&mut w);
        w.into_inner()
    }

    #[test]
    fn the_data_is_a_view_of_the_body_not_a_copy() {
        let body = packed(b"the file's bytes", 0x50);
        let at = body.as_ptr();
        let d = data(body).unwrap();
        assert_eq!(d, &b"the file's bytes"[..]);
        assert_eq!(d.as_ptr(), at.wrapping_add(16), "the data where it was");
        assert_eq!(data(packed(b"", 0)).unwrap(), Bytes::new());
    }

    #[test]
    fn a_malformed_answer_is_an_error_not_a_panic() {
        assert!(data(vec![17, 0, 0x50]).is_err(), "short");
        let mut bad_size = packed(b"abc", 0x50);
        bad_size[0] = 9;
        assert!(data(bad_size).is_err());
        assert!(data(packed(b"abc", 0x40)).is_err(), "offset in the header");
        let mut long = packed(b"abc", 0x50);
        long[4] = 200;
        assert!(data(long).is_err(), "longer than the body");
    }
}
