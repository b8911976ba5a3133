//! Bodies gzipped once and kept, for what the service sends unchanged again and again: the
//! explorer's page (per snapshot) and its files. The `CompressionLayer` gzips every other
//! answer as it goes out, which costs milliseconds per 100 kB on a small VM; a body that
//! already carries `Content-Encoding` passes through it untouched.

use std::io::Write;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use flate2::Compression;
use flate2::write::GzEncoder;

/// One body, plain and gzipped.
#[derive(Debug, Clone)]
pub struct Precompressed {
    plain: Bytes,
    gzip: Bytes,
}

impl Precompressed {
    /// Gzips `plain` (at the default level, as the compression layer would).
    pub fn new(plain: impl Into<Bytes>) -> Precompressed {
        let plain = plain.into();
        let mut encoder = GzEncoder::new(Vec::with_capacity(plain.len() / 3), Compression::default());
        encoder.write_all(&plain).expect("writing to memory cannot fail");
        let gzip = encoder.finish().expect("writing to memory cannot fail").into();
        Precompressed { plain, gzip }
    }

    /// The body for a request with `headers`, and the headers that describe it: gzipped when
    /// the client accepts gzip, with `Vary: Accept-Encoding` either way.
    pub fn for_request(&self, headers: &HeaderMap) -> (HeaderMap, Bytes) {
        let mut described = HeaderMap::new();
        described.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        let accept = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
        if accepts_gzip(accept) {
            described.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (described, self.gzip.clone())
        } else {
            (described, self.plain.clone())
        }
    }
}

/// Whether `Accept-Encoding` values take gzip: `gzip` (or `x-gzip`) with a quality above 0, or
/// `*` above 0 when gzip is not named (RFC 9110, 12.5.3).
fn accepts_gzip<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    let mut gzip = None;
    let mut any = None;
    for coding in values.flat_map(|v| v.split(',')) {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "gzip" | "x-gzip" => gzip = Some(gzip.unwrap_or(0.0f32).max(quality)),
            "*" => any = Some(quality),
            _ => {}
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn accept_encoding() {
        let cases = [
            ("", false),
            ("gzip", true),
            ("GZIP", true),
            ("gzip, deflate, br, zstd", true),
            ("br, zstd", false),
            ("gzip;q=0", false),
            ("gzip;q=0.5, br", true),
            ("*", true),
            ("*;q=0", false),
            ("*, gzip;q=0", false),
            ("identity", false),
            ("x-gzip", true),
        ];
        for (accept, gzip) in cases {
            assert_eq!(accepts_gzip(std::iter::once(accept)), gzip, "Accept-Encoding: {accept:?}");
        }
        // Several header lines count together.
        assert!(accepts_gzip(["br", "gzip"].into_iter()));
    }

    #[test]
    fn the_gzip_body_is_the_plain_one() {
        let plain = "<p>explorer</p>".repeat(500);
        let body = Precompressed::new(plain.clone());
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
        let (described, gzip) = body.for_request(&headers);
        assert_eq!(described[header::CONTENT_ENCODING], "gzip");
        assert_eq!(described[header::VARY], "accept-encoding");
        assert!(gzip.len() < plain.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, plain);
        let (described, same) = body.for_request(&HeaderMap::new());
        assert!(described.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(described[header::VARY], "accept-encoding");
        assert_eq!(same, plain.as_bytes());
    }
}
