//! One C2SP tlog-witness `add-checkpoint` submission and what its answer means: the
//! request body (`old <size>`, the consistency proof in base64, a blank line, the signed
//! checkpoint) and the answer sorted into cosignature lines, the size the witness holds
//! (409), or a refusal of some kind.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::Sha256Digest;

/// The media type of a 409's body: the size the witness holds.
const TLOG_SIZE: &str = "text/x.tlog.size";

/// Longest wait for one witness's answer: a witness that hangs only delays itself.
pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

/// A witness's answer longer than this is not read (a few cosignature lines are < 1 KiB).
const MAX_ANSWER: usize = 64 * 1024;

/// The body of an `add-checkpoint` request.
pub(super) fn body(old: u64, proof: &[Sha256Digest], note: &str) -> String {
    let mut out = format!("old {old}\n");
    for hash in proof {
        out.push_str(&STANDARD.encode(hash.as_bytes()));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(note);
    out
}

/// The submission URL of a witness whose policy URL (its submission prefix) is `prefix`.
pub(super) fn endpoint(prefix: &str) -> String {
    format!("{}/add-checkpoint", prefix.trim_end_matches('/'))
}

/// Why a witness did not cosign; the metric label of each is [`Refusal::kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// 400: the witness could not read the request.
    BadRequest(String),
    /// 403: the witness does not accept the log's signature (another key configured).
    Forbidden(String),
    /// 404: the witness does not know this log.
    UnknownLog(String),
    /// 422: the proof does not hold: the witness saw another tree (a fork).
    Inconsistent(String),
    /// 429: the witness wants fewer submissions; `retry_after` when it said.
    RateLimited(Option<Duration>),
    /// Any other status.
    Status(u16, String),
    /// No answer: connection refused, timeout, a broken response.
    Unreachable(String),
    /// 200, but no line verified with the witness's key in the policy.
    BadCosignature(String),
    /// This log could not make the consistency proof (its store failed): not sent.
    Proof(String),
    /// 409 with a size larger than this log's published tree: the log went back (it was
    /// restored from an older backup), or the witness holds a fork of a larger size.
    AheadOfLog { held: u64, published: u64 },
}

impl Refusal {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Forbidden(_) => "forbidden",
            Self::UnknownLog(_) => "unknown_log",
            Self::Inconsistent(_) => "inconsistent",
            Self::RateLimited(_) => "rate_limited",
            Self::Status(..) => "unexpected_status",
            Self::Unreachable(_) => "unreachable",
            Self::BadCosignature(_) => "bad_cosignature",
            Self::Proof(_) => "proof_failed",
            Self::AheadOfLog { .. } => "ahead_of_log",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadRequest(t) => write!(f, "400: {t}"),
            Self::Forbidden(t) => write!(f, "403, the log's signature is not accepted: {t}"),
            Self::UnknownLog(t) => write!(f, "404, the witness does not know this log: {t}"),
            Self::Inconsistent(t) => write!(f, "422, the witness holds a tree this log's is not consistent with: {t}"),
            Self::RateLimited(_) => write!(f, "429, too many submissions"),
            Self::Status(s, t) => write!(f, "{s}: {t}"),
            Self::Unreachable(e) => write!(f, "unreachable: {e}"),
            Self::BadCosignature(e) => write!(f, "answered with no valid cosignature of its key: {e}"),
            Self::Proof(e) => write!(f, "this log could not prove the consistency to send: {e}"),
            Self::AheadOfLog { held, published } => write!(
                f,
                "the witness holds a checkpoint of size {held}, larger than this log's published size {published}"
            ),
        }
    }
}

/// What a witness answered.
#[derive(Debug)]
pub(super) enum Answer {
    /// 200: its signature lines (not yet checked).
    Cosigned(Vec<String>),
    /// 409: the size of the checkpoint it holds.
    Holds(u64),
    Refused(Refusal),
}

/// Sends `body` to `url` and sorts the answer.
pub(super) async fn submit(client: &reqwest::Client, url: &str, body: String) -> Answer {
    let resp = match client.post(url).header("content-type", "text/plain").body(body).send().await {
        Ok(resp) => resp,
        Err(e) => return Answer::Refused(Refusal::Unreachable(without_url(&e))),
    };
    let status = resp.status().as_u16();
    let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = match read_bounded(resp).await {
        Ok(text) => text,
        Err(e) => return Answer::Refused(Refusal::Unreachable(e)),
    };
    let short = || text.trim().chars().take(200).collect::<String>();
    match status {
        200 => Answer::Cosigned(text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()),
        409 if media.split(';').next().is_some_and(|m| m.trim() == TLOG_SIZE) => match text.trim().parse() {
            Ok(size) => Answer::Holds(size),
            Err(_) => Answer::Refused(Refusal::Status(409, format!("an unreadable size {:?}", short()))),
        },
        400 => Answer::Refused(Refusal::BadRequest(short())),
        403 => Answer::Refused(Refusal::Forbidden(short())),
        404 => Answer::Refused(Refusal::UnknownLog(short())),
        422 => Answer::Refused(Refusal::Inconsistent(short())),
        429 => Answer::Refused(Refusal::RateLimited(retry_after)),
        other => Answer::Refused(Refusal::Status(other, short())),
    }
}

/// The body as text, refusing one past [`MAX_ANSWER`] bytes.
async fn read_bounded(mut resp: reqwest::Response) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| without_url(&e))? {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("an answer longer than {MAX_ANSWER} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| "an answer that is not UTF-8".to_owned())
}

/// The error with its cause chain (reqwest's own message says little: "error sending
/// request").
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_and_endpoint_follow_tlog_witness() {
        let h = Sha256Digest::of(b"x");
        let b = body(3, &[h], "note\n\n\u{2014} sig\n");
        assert_eq!(b, format!("old 3\n{}\n\nnote\n\n\u{2014} sig\n", STANDARD.encode(h.as_bytes())));
        assert_eq!(body(0, &[], "n\n"), "old 0\n\nn\n");
        assert_eq!(endpoint("http://w.example/"), "http://w.example/add-checkpoint");
        assert_eq!(endpoint("http://w.example/sub"), "http://w.example/sub/add-checkpoint");
    }
}
