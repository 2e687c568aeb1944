//! Normalised text values: e-mail addresses, phone numbers, plate numbers and required strings.

use std::fmt;
use std::str::FromStr;

use super::ParseError;

macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A trimmed string that is not empty and not longer than the database keeps for names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonEmpty(String);
text_newtype!(NonEmpty);

impl NonEmpty {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(field: &str, raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ParseError::new("required", format!("{field} is required")));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(
                "too_long",
                format!("{field} is longer than {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// An e-mail address, trimmed and lower-cased: one mailbox, one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
text_newtype!(Email);

impl FromStr for Email {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim().to_lowercase();
        let bad = || {
            ParseError::new(
                "invalid_email",
                format!("`{}` is not an e-mail address", raw.trim()),
            )
        };
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let ok = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && !domain.contains('@');
        if ok { Ok(Self(s)) } else { Err(bad()) }
    }
}

/// A phone number as dialled: an optional leading `+` and 5 to 15 digits; spaces, dots, dashes and
/// brackets are dropped so one number has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);
text_newtype!(Phone);

impl FromStr for Phone {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let t = raw.trim();
        let (plus, rest) = match t.strip_prefix('+') {
            Some(r) => ("+", r),
            None => ("", t),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '/' => {}
                _ => {
                    return Err(ParseError::new(
                        "invalid_phone",
                        format!("`{t}` is not a phone number"),
                    ));
                }
            }
        }
        if !(5..=15).contains(&digits.len()) {
            return Err(ParseError::new(
                "invalid_phone",
                format!("`{t}` is not a phone number"),
            ));
        }
        Ok(Self(format!("{plus}{digits}")))
    }
}

/// A registration plate, upper-cased with spaces and dashes removed, so `ab-123 c` finds `AB123C`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlateNumber(String);
text_newtype!(PlateNumber);

impl FromStr for PlateNumber {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut s = String::with_capacity(raw.len());
        for c in raw.chars() {
            match c {
                ' ' | '-' | '.' | '·' => {}
                c if c.is_alphanumeric() => s.extend(c.to_uppercase()),
                _ => {
                    return Err(ParseError::new(
                        "invalid_plate_number",
                        format!("`{}` is not a plate number", raw.trim()),
                    ));
                }
            }
        }
        if s.is_empty() || s.chars().count() > 12 {
            return Err(ParseError::new(
                "invalid_plate_number",
                format!("`{}` is not a plate number", raw.trim()),
            ));
        }
        Ok(Self(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            "  Ann@Shop.Example ".parse::<Email>().expect("ok").as_str(),
            "ann@shop.example"
        );
        for bad in ["ann", "@x.y", "ann@x", "ann@.x", "a b@x.y", "ann@x..y"] {
            assert!(bad.parse::<Email>().is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_keep_only_digits_and_a_leading_plus() {
        assert_eq!(
            "+44 (20) 7946-0958".parse::<Phone>().expect("ok").as_str(),
            "+442079460958"
        );
        assert!("call me".parse::<Phone>().is_err());
        assert!("123".parse::<Phone>().is_err());
    }

    #[test]
    fn plates_are_normalised() {
        assert_eq!(
            "ab-123 c".parse::<PlateNumber>().expect("ok").as_str(),
            "AB123C"
        );
        assert!("AB_12".parse::<PlateNumber>().is_err());
        assert!(" - ".parse::<PlateNumber>().is_err());
    }

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        assert_eq!(
            NonEmpty::parse("name", "  Ann ").expect("ok").as_str(),
            "Ann"
        );
        assert_eq!(
            NonEmpty::parse("name", "   ").expect_err("empty").code,
            "required"
        );
        assert_eq!(
            NonEmpty::parse("name", &"x".repeat(201))
                .expect_err("long")
                .code,
            "too_long"
        );
    }
}
