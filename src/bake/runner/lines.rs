//! Reading a pipe line by line with a bound: a line longer than [`MAX_LINE`] keeps its first
//! [`MAX_LINE`] bytes and a note of how much was dropped, so 400 MB without a newline costs a
//! megabyte of memory, not 400. Bytes are kept as written (no re-encoding).

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// Longest line kept, in bytes.
pub const MAX_LINE: usize = 1 << 20;

/// Reads `reader` to its end, sending each line (without its newline) wrapped by `wrap`.
pub async fn read_lines<R: AsyncRead + Unpin, T>(
    reader: R,
    tx: mpsc::Sender<T>,
    wrap: fn(Vec<u8>) -> T,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(256);
    let mut dropped = 0usize;
    loop {
        let buf = match reader.fill_buf().await {
            Ok(b) => b,
            Err(e) => {
                log::warn!(target: "kiln::runner", "reading packer output failed: {e}");
                break;
            }
        };
        if buf.is_empty() {
            if !line.is_empty() || dropped > 0 {
                let _ = tx.send(wrap(finish(&mut line, &mut dropped))).await;
            }
            break;
        }
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&buf[..chunk.min(room)]);
        dropped += chunk.saturating_sub(room);
        reader.consume(if end { chunk + 1 } else { chunk });
        if end
            && tx
                .send(wrap(finish(&mut line, &mut dropped)))
                .await
                .is_err()
        {
            break;
        }
    }
}

/// The line without a trailing `\r`, with a note when bytes were dropped; resets the buffers.
fn finish(line: &mut Vec<u8>, dropped: &mut usize) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if *dropped > 0 {
        line.extend_from_slice(
            format!(" … [kiln: {dropped} more bytes of this line were not kept]").as_bytes(),
        );
        *dropped = 0;
    }
    std::mem::replace(line, Vec::with_capacity(256))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: Vec<u8>) -> Vec<Vec<u8>> {
        let (tx, mut rx) = mpsc::channel(16);
        let reader = tokio::spawn(read_lines(std::io::Cursor::new(input), tx, |l| l));
        let mut out = Vec::new();
        while let Some(l) = rx.recv().await {
            out.push(l);
        }
        reader.await.unwrap();
        out
    }

    #[tokio::test]
    async fn lines_keep_their_bytes_and_lose_only_the_newline() {
        let out = lines_of(b"a,b\r\n\xff\xfe raw\n\nlast".to_vec()).await;
        assert_eq!(
            out,
            vec![
                b"a,b".to_vec(),
                b"\xff\xfe raw".to_vec(),
                vec![],
                b"last".to_vec()
            ]
        );
    }

    #[tokio::test]
    async fn a_huge_line_is_cut_and_says_so() {
        let mut input = vec![b'x'; MAX_LINE + 12345];
        input.extend_from_slice(b"\nnext\n");
        let out = lines_of(input).await;
        assert_eq!(out.len(), 2);
        assert!(out[0].len() < MAX_LINE + 100);
        let tail = String::from_utf8_lossy(&out[0][MAX_LINE..]).into_owned();
        assert!(tail.contains("12345 more bytes"), "{tail}");
        assert_eq!(out[1], b"next");
    }
}
