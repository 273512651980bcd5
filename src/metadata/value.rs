//! The values PyYAML's `safe_load` builds, as Rust data: `None`, `bool`, `int`, `float`,
//! `str`, `datetime.date`, `datetime.datetime`, `list` and `dict` (insertion-ordered).

use std::fmt;

/// One YAML node, typed the way PyYAML's SafeLoader types it (YAML 1.1 scalars).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Python ints are unbounded; 128 bits hold every integer a metadata file has.
    Int(i128),
    Float(f64),
    Str(String),
    Date(Date),
    DateTime(DateTime),
    Seq(Vec<Value>),
    /// Keys in first-insertion order; a duplicate key keeps its first place and its last value,
    /// as a Python dict filled key by key does.
    Map(Vec<(Value, Value)>),
}

/// `datetime.date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// `datetime.datetime`; `offset_minutes` is `None` for a naive one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub date: Date,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub microsecond: u32,
    pub offset_minutes: Option<i32>,
}

impl Date {
    /// A valid Gregorian date, or `None` (Python raises `ValueError`).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=9999).contains(&year) && (1..=days).contains(&day)).then_some(Date { year, month, day })
    }

    /// Days since 0001-01-01 plus one, as `date.toordinal()`.
    pub fn ordinal(self) -> i64 {
        let y = i64::from(self.year) - 1;
        let before_year = y * 365 + y / 4 - y / 100 + y / 400;
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        const CUMULATIVE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let month_index = (self.month.clamp(1, 12) - 1) as usize;
        let mut days = CUMULATIVE[month_index] + i64::from(self.day);
        if leap && self.month > 2 {
            days += 1;
        }
        before_year + days
    }

    /// Monday is 0, as `date.weekday()`.
    pub fn weekday(self) -> i64 {
        (self.ordinal() + 6) % 7
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl DateTime {
    /// Microseconds since 0001-01-01 00:00 in UTC (naive ones as if UTC), for comparisons.
    pub fn instant(&self) -> i128 {
        let seconds = i128::from(self.date.ordinal()) * 86_400
            + i128::from(self.hour) * 3600
            + i128::from(self.minute) * 60
            + i128::from(self.second)
            - i128::from(self.offset_minutes.unwrap_or(0)) * 60;
        seconds * 1_000_000 + i128::from(self.microsecond)
    }
}

impl fmt::Display for DateTime {
    /// `str(datetime)`: `2023-01-01 10:00:00[.ffffff][+HH:MM]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:02}:{:02}:{:02}", self.date, self.hour, self.minute, self.second)?;
        if self.microsecond != 0 {
            write!(f, ".{:06}", self.microsecond)?;
        }
        if let Some(offset) = self.offset_minutes {
            let sign = if offset < 0 { '-' } else { '+' };
            write!(f, "{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)?;
        }
        Ok(())
    }
}

impl Value {
    /// The value of a string key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Strings, numbers, booleans and dates as text (`dockerImageTag: 1.0` is a float).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(float_repr(*f)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Date(d) => Some(d.to_string()),
            Value::DateTime(d) => Some(d.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// Python's `repr(float)`: the shortest digits that read back to the same float, in fixed
/// notation when the decimal exponent is in -4..16 and in scientific notation otherwise.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `d.ddddde±x`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{text}")
    } else {
        let rest = &digits[1..];
        let mantissa = if rest.is_empty() { digits[..1].to_string() } else { format!("{}.{rest}", &digits[..1]) };
        let esign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{esign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_does() {
        for (f, text) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (123456789.125, "123456789.125"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(float_repr(f), text, "{f}");
        }
    }

    #[test]
    fn dates() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
        assert_eq!(Date::new(1, 1, 1).unwrap().ordinal(), 1);
        // 2023-10-20 was a Friday.
        assert_eq!(Date::new(2023, 10, 20).unwrap().weekday(), 4);
    }
}
