//! A plain (unquoted, untagged) YAML scalar's text in, the value PyYAML's SafeLoader gives it
//! out: its YAML 1.1 implicit resolvers (bool, float, int, null, timestamp) and constructors.
//!
//! Hand-written rather than a regex crate: each resolver is a short anchored pattern, and the
//! constructors need the matched parts anyway.

use super::value::{Date, DateTime, Value};

/// `Err` carries PyYAML's reason when the text resolves to a type whose constructor rejects
/// it (`2023-02-30` is a timestamp that is no date, `=` is the unconstructible value tag).
pub fn resolve_plain(text: &str) -> Result<Value, String> {
    if is_bool(text) {
        return Ok(Value::Bool(matches!(text.as_bytes()[0], b'y' | b'Y' | b't' | b'T' | b'o' | b'O') && !is_off(text)));
    }
    if is_float(text) {
        return construct_float(text);
    }
    if is_int(text) {
        return construct_int(text);
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(stamp) = Timestamp::parse(text) {
        return stamp.construct();
    }
    if text == "=" {
        return Err("could not determine a constructor for the tag 'tag:yaml.org,2002:value'".into());
    }
    Ok(Value::Str(text.to_string()))
}

fn is_bool(text: &str) -> bool {
    matches!(
        text,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_off(text: &str) -> bool {
    matches!(text, "off" | "Off" | "OFF")
}

/// Whether `text` has one or more bytes, all accepted by `ok`.
fn all1(text: &str, ok: impl Fn(u8) -> bool) -> bool {
    !text.is_empty() && text.bytes().all(ok)
}

fn strip_sign(text: &str) -> &str {
    text.strip_prefix(['-', '+']).unwrap_or(text)
}

/// `[0-9][0-9_]*`
fn is_digits_underscores(text: &str) -> bool {
    text.as_bytes().first().is_some_and(u8::is_ascii_digit) && text.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// `(?::[0-5]?[0-9])+` after the first part.
fn is_sexagesimal_tail(parts: &[&str]) -> bool {
    !parts.is_empty()
        && parts.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

/// `[eE][-+][0-9]+` or nothing.
fn is_exponent(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    let Some(rest) = text.strip_prefix(['e', 'E']) else { return false };
    let Some(digits) = rest.strip_prefix(['-', '+']) else { return false };
    all1(digits, |b| b.is_ascii_digit())
}

fn is_float(text: &str) -> bool {
    let unsigned = strip_sign(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // `\.[0-9][0-9_]*(exp)?`, unsigned only.
    if let Some(fraction) = text.strip_prefix('.') {
        let end = fraction.find(['e', 'E']).unwrap_or(fraction.len());
        return is_digits_underscores(&fraction[..end]) && is_exponent(&fraction[end..]);
    }
    let Some((whole, fraction)) = unsigned.split_once('.') else { return false };
    // `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`
    if whole.contains(':') {
        let parts: Vec<&str> = whole.split(':').collect();
        return is_digits_underscores(parts[0])
            && is_sexagesimal_tail(&parts[1..])
            && fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    }
    // `[0-9][0-9_]*\.[0-9_]*(exp)?`
    let end = fraction.find(['e', 'E']).unwrap_or(fraction.len());
    is_digits_underscores(whole)
        && fraction[..end].bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && is_exponent(&fraction[end..])
}

fn is_int(text: &str) -> bool {
    let unsigned = strip_sign(text);
    if let Some(bits) = unsigned.strip_prefix("0b") {
        return all1(bits, |b| matches!(b, b'0' | b'1' | b'_'));
    }
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return all1(hex, |b| b.is_ascii_hexdigit() || b == b'_');
    }
    if unsigned == "0" {
        return true;
    }
    if let Some(octal) = unsigned.strip_prefix('0') {
        return all1(octal, |b| matches!(b, b'0'..=b'7' | b'_'));
    }
    if unsigned.contains(':') {
        let parts: Vec<&str> = unsigned.split(':').collect();
        return parts[0].as_bytes().first().is_some_and(|b| (b'1'..=b'9').contains(b))
            && is_digits_underscores(parts[0])
            && is_sexagesimal_tail(&parts[1..]);
    }
    unsigned.as_bytes().first().is_some_and(|b| (b'1'..=b'9').contains(b)) && is_digits_underscores(unsigned)
}

fn too_large(text: &str) -> String {
    format!("integer {text} is larger than 128 bits")
}

fn construct_int(text: &str) -> Result<Value, String> {
    let cleaned = text.replace('_', "");
    let (negative, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, &cleaned[..]),
    };
    let parse = |digits: &str, radix: u32| -> Result<i128, String> {
        if digits.is_empty() {
            return Err(format!("invalid literal for int() with base {radix}: '{digits}'"));
        }
        i128::from_str_radix(digits, radix).map_err(|_| too_large(text))
    };
    let magnitude = if digits == "0" {
        0
    } else if let Some(bits) = digits.strip_prefix("0b") {
        parse(bits, 2)?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        parse(hex, 16)?
    } else if digits.starts_with('0') {
        parse(digits, 8)?
    } else if digits.contains(':') {
        let mut value: i128 = 0;
        for part in digits.split(':') {
            value = value
                .checked_mul(60)
                .and_then(|v| v.checked_add(parse(part, 10).ok()?))
                .ok_or_else(|| too_large(text))?;
        }
        value
    } else {
        parse(digits, 10)?
    };
    Ok(Value::Int(if negative { -magnitude } else { magnitude }))
}

fn construct_float(text: &str) -> Result<Value, String> {
    let cleaned = text.replace('_', "").to_ascii_lowercase();
    let (sign, body) = match cleaned.as_bytes().first() {
        Some(b'-') => (-1.0, &cleaned[1..]),
        Some(b'+') => (1.0, &cleaned[1..]),
        _ => (1.0, &cleaned[..]),
    };
    let parse = |s: &str| -> Result<f64, String> {
        // Python's float() reads `1.` and `1.e+5`; Rust wants a digit after the point.
        let fixed = if s.ends_with('.') || s.contains(".e") { s.replacen('.', ".0", 1) } else { s.to_string() };
        fixed.parse::<f64>().map_err(|_| format!("could not convert string to float: '{s}'"))
    };
    let value = if body == ".inf" {
        f64::INFINITY
    } else if body == ".nan" {
        f64::NAN
    } else if body.contains(':') {
        let mut value = 0.0;
        for part in body.split(':') {
            value = value * 60.0 + parse(part)?;
        }
        value
    } else {
        parse(body)?
    };
    Ok(Value::Float(sign * value))
}

/// Hour, minute, second, fraction and zone of a timestamp.
type Clock<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// The parts of PyYAML's timestamp pattern.
struct Timestamp<'a> {
    year: &'a str,
    month: &'a str,
    day: &'a str,
    time: Option<Clock<'a>>,
}

fn digits_between(text: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let n = text.bytes().take_while(u8::is_ascii_digit).count().min(max);
    (n >= min).then(|| text.split_at(n))
}

impl<'a> Timestamp<'a> {
    fn parse(text: &'a str) -> Option<Timestamp<'a>> {
        let (year, rest) = digits_between(text, 4, 4)?;
        let rest = rest.strip_prefix('-')?;
        // The date-only form wants two-digit month and day; the full form takes one or two.
        if rest.len() == 5 && rest.as_bytes()[2] == b'-' {
            let (month, day) = (&rest[..2], &rest[3..]);
            if month.bytes().chain(day.bytes()).all(|b| b.is_ascii_digit()) {
                return Some(Timestamp { year, month, day, time: None });
            }
        }
        let (month, rest) = digits_between(rest, 1, 2)?;
        let rest = rest.strip_prefix('-')?;
        let (day, rest) = digits_between(rest, 1, 2)?;
        let rest = if let Some(r) = rest.strip_prefix(['T', 't']) {
            r
        } else {
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.len() == rest.len() {
                return None;
            }
            trimmed
        };
        let (hour, rest) = digits_between(rest, 1, 2)?;
        let (minute, rest) = digits_between(rest.strip_prefix(':')?, 2, 2)?;
        let (second, mut rest) = digits_between(rest.strip_prefix(':')?, 2, 2)?;
        let mut fraction = None;
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            fraction = Some(&r[..n]);
            rest = &r[n..];
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let zone = if rest.is_empty() {
            None
        } else if rest == "Z" {
            Some(rest)
        } else {
            let body = rest.strip_prefix(['-', '+'])?;
            let (_, after_hour) = digits_between(body, 1, 2)?;
            if !after_hour.is_empty() {
                let minutes = after_hour.strip_prefix(':')?;
                if minutes.len() != 2 || !minutes.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            Some(rest)
        };
        // A zone needs something before it; `2023-01-01 ` alone is not a timestamp.
        Some(Timestamp { year, month, day, time: Some((hour, minute, second, fraction, zone)) })
    }

    fn construct(&self) -> Result<Value, String> {
        let num = |s: &str| s.parse::<u32>().unwrap_or(0);
        let year: i32 = self.year.parse().unwrap_or(0);
        let date = Date::new(year, num(self.month), num(self.day))
            .ok_or_else(|| format!("{}-{}-{} is not a valid date", self.year, self.month, self.day))?;
        let Some((hour, minute, second, fraction, zone)) = self.time else { return Ok(Value::Date(date)) };
        let (hour, minute, second) = (num(hour), num(minute), num(second));
        if hour > 23 || minute > 59 || second > 59 {
            return Err(format!("{hour}:{minute:02}:{second:02} is not a valid time"));
        }
        let microsecond = fraction.map_or(0, |f| {
            let mut digits: String = f.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            num(&digits)
        });
        let offset_minutes = match zone {
            None => None,
            Some("Z") => Some(0),
            Some(z) => {
                let negative = z.starts_with('-');
                let body = &z[1..];
                let (h, m) = body.split_once(':').unwrap_or((body, "0"));
                let minutes = (num(h) * 60 + num(m)) as i32;
                if minutes >= 24 * 60 {
                    return Err(format!("offset {z} must be strictly between -24 and 24 hours"));
                }
                Some(if negative { -minutes } else { minutes })
            }
        };
        Ok(Value::DateTime(DateTime { date, hour, minute, second, microsecond, offset_minutes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Value {
        resolve_plain(text).unwrap()
    }

    #[test]
    fn yaml_1_1_scalars() {
        assert_eq!(r("yes"), Value::Bool(true));
        assert_eq!(r("Off"), Value::Bool(false));
        assert_eq!(r("y"), Value::Str("y".into()));
        assert_eq!(r("1_000"), Value::Int(1000));
        assert_eq!(r("017"), Value::Int(15));
        assert_eq!(r("08"), Value::Str("08".into()));
        assert_eq!(r("0x1F"), Value::Int(31));
        assert_eq!(r("-0b101"), Value::Int(-5));
        assert_eq!(r("1:30"), Value::Int(90));
        assert_eq!(r("1.0"), Value::Float(1.0));
        assert_eq!(r("1."), Value::Float(1.0));
        assert_eq!(r(".5"), Value::Float(0.5));
        assert_eq!(r("1e3"), Value::Str("1e3".into()));
        assert_eq!(r("1.0e+3"), Value::Float(1000.0));
        assert_eq!(r("1:30.5"), Value::Float(90.5));
        assert_eq!(r("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(r("0.1.0"), Value::Str("0.1.0".into()));
        assert_eq!(r("~"), Value::Null);
        assert_eq!(r(""), Value::Null);
        assert_eq!(r("2023-10-20"), Value::Date(Date { year: 2023, month: 10, day: 20 }));
        assert!(resolve_plain("2023-02-30").is_err());
        assert_eq!(r("2023-1-2"), Value::Str("2023-1-2".into()));
        let Value::DateTime(dt) = r("2023-1-2 3:04:05.5 +01:30") else { panic!() };
        assert_eq!((dt.hour, dt.microsecond, dt.offset_minutes), (3, 500_000, Some(90)));
        assert!(matches!(r("2023-01-02T03:04:05Z"), Value::DateTime(DateTime { offset_minutes: Some(0), .. })));
        assert!(resolve_plain("=").is_err());
    }
}
