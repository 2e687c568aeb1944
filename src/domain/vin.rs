//! Vehicle identification numbers (ISO 3779), with the North American check digit.

use std::fmt;
use std::str::FromStr;

use super::ParseError;

/// A 17-character VIN, upper-cased, without I, O or Q; North American VINs carry a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vin(String);

impl Vin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn transliterate(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A' | b'J' => 1,
        b'B' | b'K' | b'S' => 2,
        b'C' | b'L' | b'T' => 3,
        b'D' | b'M' | b'U' => 4,
        b'E' | b'N' | b'V' => 5,
        b'F' | b'W' => 6,
        b'G' | b'P' | b'X' => 7,
        b'H' | b'Y' => 8,
        b'R' | b'Z' => 9,
        _ => return None,
    })
}

const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/// The check digit position 9 must hold, from the other sixteen characters.
pub fn check_digit(vin: &[u8; 17]) -> Option<u8> {
    let mut sum = 0;
    for (c, w) in vin.iter().zip(WEIGHTS) {
        sum += transliterate(*c)? * w;
    }
    Some(match sum % 11 {
        10 => b'X',
        d => b'0' + d as u8,
    })
}

impl FromStr for Vin {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s: String = raw.trim().to_ascii_uppercase();
        let bytes: &[u8; 17] = s
            .as_bytes()
            .try_into()
            .map_err(|_| ParseError::new("invalid_vin", "a VIN has exactly 17 characters"))?;
        if let Some(bad) = bytes
            .iter()
            .find(|c| matches!(c, b'I' | b'O' | b'Q') || !c.is_ascii_alphanumeric())
        {
            return Err(ParseError::new(
                "invalid_vin",
                format!("a VIN cannot contain `{}`", char::from(*bad)),
            ));
        }
        // North America (WMI starting 1-5) mandates the check digit; elsewhere position 9 is free.
        if matches!(bytes[0], b'1'..=b'5') && check_digit(bytes) != Some(bytes[8]) {
            return Err(ParseError::new(
                "invalid_vin",
                "the VIN's check digit does not match",
            ));
        }
        Ok(Self(s))
    }
}

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_north_american_vin_with_a_valid_check_digit_is_accepted() {
        let vin: Vin = " 1m8gdm9axkp042788 ".parse().expect("valid");
        assert_eq!(vin.as_str(), "1M8GDM9AXKP042788");
    }

    #[test]
    fn a_wrong_check_digit_is_refused_in_north_america_only() {
        assert!("1M8GDM9A1KP042788".parse::<Vin>().is_err());
        assert!("WVWZZZ1JZXW000001".parse::<Vin>().is_ok());
    }

    #[test]
    fn letters_i_o_q_and_wrong_lengths_are_refused() {
        assert!("1M8GDM9AXKP04278".parse::<Vin>().is_err());
        assert!("WVWZZZ1JZXW00000O".parse::<Vin>().is_err());
        assert!("WVWZZZ1JZXW00000-".parse::<Vin>().is_err());
    }
}
