//! Durations as kubectl reads them (`--request-timeout`, `--timeout`): a bare integer is
//! seconds, `0` means no limit; anything else is a duration such as `500ms`, `1.5s`, `1m30s`
//! or `2h`, parsed by `jiff`.

use std::time::Duration;

/// A timeout: `None` inside means wait forever (`0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeout(pub Option<Duration>);

/// Parse kubectl's duration form; negative durations are refused.
pub fn parse_request_timeout(text: &str) -> Result<RequestTimeout, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(RequestTimeout(
            (seconds > 0).then(|| Duration::from_secs(seconds)),
        ));
    }
    let invalid = || {
        format!(
            "invalid duration {text:?}: use a number of seconds or a value such as 500ms, 1.5s, \
             2m30s, 1h"
        )
    };
    // A unit is required after a number: jiff alone would read "10" as invalid anyway, and a
    // leading digit keeps its ISO 8601 form (`PT5M`) and words (`5 minutes`) out of the flags.
    if !text.starts_with(|c: char| c.is_ascii_digit()) || text.contains(char::is_whitespace) {
        return Err(invalid());
    }
    let parsed: jiff::SignedDuration = text.parse().map_err(|_| invalid())?;
    let duration = Duration::try_from(parsed).map_err(|_| invalid())?;
    Ok(RequestTimeout((!duration.is_zero()).then_some(duration)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeout_accepts_kubectl_forms() {
        let secs = |s| Ok(RequestTimeout(Some(Duration::from_secs(s))));
        assert_eq!(parse_request_timeout("0"), Ok(RequestTimeout(None)));
        assert_eq!(parse_request_timeout("0s"), Ok(RequestTimeout(None)));
        assert_eq!(parse_request_timeout("15"), secs(15));
        assert_eq!(parse_request_timeout("1m30s"), secs(90));
        assert_eq!(parse_request_timeout("2h"), secs(7200));
        assert_eq!(
            parse_request_timeout("250ms"),
            Ok(RequestTimeout(Some(Duration::from_millis(250))))
        );
        assert_eq!(
            parse_request_timeout("1.5s"),
            Ok(RequestTimeout(Some(Duration::from_millis(1500))))
        );
        for bad in [
            "",
            "s",
            "10x",
            "-1",
            "-1s",
            "m10",
            "PT5M",
            "5 minutes",
            "1.5",
        ] {
            assert!(
                parse_request_timeout(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
