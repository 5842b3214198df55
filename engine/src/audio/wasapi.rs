//! WASAPI's errors in words. cpal reports a failed WASAPI call as its text plus the raw
//! `HRESULT` ("Failed to get capture client: OS Error -2004287485 (FormatMessageW() returned
//! error 317)"); Windows has no message text for the audio client's codes, so a user would see
//! only the number. [`in_words`] replaces such a message with one line naming the cause.
//!
//! The codes and their meanings: Microsoft, "AUDCLNT_E_* error constants"
//! (<https://learn.microsoft.com/windows/win32/coreaudio/audclnt-err-constants>;
//! `FACILITY_AUDCLNT` = 0x889, so `AUDCLNT_E_x` = `0x8889_0000 | x`), and the COM `E_*` codes of
//! `winerror.h`. Pure text: it compiles and is tested on every platform.

/// What the user can do about a WASAPI `HRESULT` (`code` as the unsigned 32-bit value, e.g.
/// `0x8889_0003`), or `None` for a code not listed here.
pub fn explain(code: u32) -> Option<&'static str> {
    Some(match code {
        0x8889_0003 => {
            "Windows refused to capture this device this way (AUDCLNT_E_WRONG_ENDPOINT_TYPE: \
             the audio system does not offer loopback capture of it); choose another source, \
             e.g. the device's monitor as a microphone"
        }
        0x8889_0004 => {
            "the audio device went away (AUDCLNT_E_DEVICE_INVALIDATED: unplugged, disabled, or \
             its driver restarted)"
        }
        0x8889_0008 => {
            "the device does not accept the sample rate or format asked for \
             (AUDCLNT_E_UNSUPPORTED_FORMAT)"
        }
        0x8889_000A => {
            "another application holds the device in exclusive mode (AUDCLNT_E_DEVICE_IN_USE); \
             close it or turn off \"Allow applications to take exclusive control\" in the \
             device's Windows sound settings"
        }
        0x8889_000E => {
            "exclusive mode is turned off for this device (AUDCLNT_E_EXCLUSIVE_MODE_NOT_ALLOWED)"
        }
        0x8889_000F => {
            "Windows could not open the audio endpoint (AUDCLNT_E_ENDPOINT_CREATE_FAILED); \
             check the device in Windows' sound settings"
        }
        0x8889_0010 => {
            "the Windows Audio service is not running (AUDCLNT_E_SERVICE_NOT_RUNNING); start it \
             in Services (audiosrv)"
        }
        0x8889_0017 => "the audio engine is overloaded (AUDCLNT_E_CPUUSAGE_EXCEEDED)",
        0x8889_0026 => {
            "the audio device was reconfigured while in use (AUDCLNT_E_RESOURCES_INVALIDATED)"
        }
        0x8007_0005 => {
            "Windows denied access to the device (E_ACCESSDENIED); allow microphone access for \
             desktop apps in Settings, Privacy, Microphone"
        }
        0x8007_0490 => "the audio device was not found (E_NOTFOUND); it may have been removed",
        0x8007_000E => "out of memory opening the audio device (E_OUTOFMEMORY)",
        _ => return None,
    })
}

/// `message` with a WASAPI `HRESULT` in it ("OS Error -2004287485", as cpal writes it, or a
/// hexadecimal `0x88890003`) replaced by its words ([`explain`], which name the constant, not the
/// number); unchanged when it has no code or a code not listed. One line: cpal's
/// "(FormatMessageW() returned error N)" aside and the number are dropped.
pub fn in_words(message: &str) -> String {
    match find_code(message).and_then(explain) {
        Some(words) => {
            let context = message
                .split(": OS Error")
                .next()
                .filter(|c| !c.is_empty() && *c != message)
                .map(|c| format!("{c}: "))
                .unwrap_or_default();
            format!("{context}{words}")
        }
        None => message.to_string(),
    }
}

/// The first `HRESULT` in `message`: after "OS Error " as a signed decimal, or as `0x8…` hex.
fn find_code(message: &str) -> Option<u32> {
    if let Some(rest) = message.split("OS Error ").nth(1) {
        let digits: String = rest
            .chars()
            .enumerate()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        if let Ok(v) = digits.parse::<i64>() {
            return u32::try_from(v & 0xFFFF_FFFF).ok();
        }
    }
    let hex = message.to_ascii_lowercase();
    let at = hex.find("0x8")?;
    let digits: String = hex[at + 2..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    (digits.len() == 8)
        .then(|| u32::from_str_radix(&digits, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message cpal gave under Wine 8 for WASAPI loopback of a PulseAudio sink.
    const WINE_LOOPBACK: &str =
        "Failed to get capture client: OS Error -2004287485 (FormatMessageW() returned error 317)";

    #[test]
    fn the_loopback_refusal_is_one_line_of_words() {
        let s = in_words(WINE_LOOPBACK);
        assert!(
            s.starts_with("Failed to get capture client: Windows refused"),
            "{s}"
        );
        assert!(s.contains("AUDCLNT_E_WRONG_ENDPOINT_TYPE"), "{s}");
        assert!(
            !s.contains("-2004287485") && !s.contains("FormatMessageW"),
            "{s}"
        );
        assert!(!s.contains('\n'));
    }

    #[test]
    fn codes_are_read_in_decimal_and_hex() {
        assert_eq!(find_code("OS Error -2004287484 (x)"), Some(0x8889_0004));
        assert_eq!(find_code("failed: 0x8889000A"), Some(0x8889_000A));
        assert_eq!(find_code("OS Error 5"), Some(5));
        assert_eq!(find_code("no code"), None);
        assert_eq!(find_code("0x8 short"), None);
    }

    #[test]
    fn other_messages_are_kept_as_they_are() {
        for m in [
            "device not found",
            "OS Error 5 (Access is denied.)",
            "0x12345678",
        ] {
            assert_eq!(in_words(m), m);
        }
        assert!(in_words("OS Error -2147024891").contains("E_ACCESSDENIED"));
    }
}
