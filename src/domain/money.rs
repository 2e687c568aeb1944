//! Exact money in integer minor units, and the exact quantities (hours, pieces, tax rates) money is computed from.

use std::fmt;
use std::str::FromStr;

use super::ParseError;

/// Digits after the decimal point of every amount. One currency per shop, set in settings;
/// the currencies shops use here all have two.
pub const MINOR_DIGITS: u32 = 2;
const MINOR_PER_UNIT: i64 = 10i64.pow(MINOR_DIGITS);

/// An amount of money in minor units (cents). Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    /// The largest amount anyone may enter: 999 999 999 999.99. Far below what the BIGINT columns hold, so
    /// sums of many entries cannot overflow them, and exact in a JavaScript number too.
    pub const MAX: Money = Money(99_999_999_999_999);

    pub const fn from_minor(minor: i64) -> Self {
        Self(minor)
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `self × quantity`, rounded half away from zero to the minor unit.
    pub fn times(self, quantity: Quantity) -> Option<Money> {
        let product = i128::from(self.0) * i128::from(quantity.milli());
        i64::try_from(div_round(product, 1000)).ok().map(Money)
    }

    /// The tax on this amount at `rate`, rounded half away from zero to the minor unit.
    pub fn tax_at(self, rate: TaxRate) -> Option<Money> {
        let product = i128::from(self.0) * i128::from(rate.basis_points());
        i64::try_from(div_round(product, 10_000)).ok().map(Money)
    }
}

/// What one line comes to: net (negative for discounts) and tax, each rounded to the minor unit, the way the
/// server always computes them.
pub fn line_amounts(
    discount: bool,
    qty: Quantity,
    price: Money,
    rate: TaxRate,
) -> Option<(Money, Money)> {
    let gross = price.times(qty)?;
    let net = if discount { Money(-gross.0) } else { gross };
    let tax = net.tax_at(rate)?;
    Some((net, tax))
}

/// A document's totals: `total = subtotal - discount + tax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
}

impl Totals {
    /// Sums lines given as (net, tax); discount lines have a negative net.
    pub fn of(lines: impl IntoIterator<Item = (Money, Money)>) -> Option<Totals> {
        let (mut subtotal, mut discount, mut tax) = (0i64, 0i64, 0i64);
        for (net, t) in lines {
            if net.0 < 0 {
                discount = discount.checked_sub(net.0)?;
            } else {
                subtotal = subtotal.checked_add(net.0)?;
            }
            tax = tax.checked_add(t.0)?;
        }
        let total = subtotal.checked_sub(discount)?.checked_add(tax)?;
        Some(Totals {
            subtotal: Money(subtotal),
            discount: Money(discount),
            tax: Money(tax),
            total: Money(total),
        })
    }
}

/// Integer division rounding half away from zero: the rounding both backends and every client agree on.
fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let unit = MINOR_PER_UNIT.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / unit,
            abs % unit,
            width = MINOR_DIGITS as usize
        )
    }
}

impl FromStr for Money {
    type Err = ParseError;

    /// Accepts `12`, `12.5`, `-12.50`; refuses more digits than the currency has, exponents and spaces, and
    /// amounts beyond [`Money::MAX`] either way (`amount_too_large`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_fixed(s, MINOR_DIGITS) {
            Some(v) if v.unsigned_abs() <= Money::MAX.0.unsigned_abs() => Ok(Money(v)),
            Some(_) => Err(too_large()),
            // Well-formed, but beyond even what an i64 holds.
            None if is_decimal(s, MINOR_DIGITS) => Err(too_large()),
            None => Err(ParseError::new(
                "invalid_money",
                format!("`{s}` is not an amount with at most {MINOR_DIGITS} decimals"),
            )),
        }
    }
}

fn too_large() -> ParseError {
    ParseError::new(
        "amount_too_large",
        format!("amounts go up to {}", Money::MAX),
    )
}

/// Digits with at most `digits` decimals and an optional leading minus, whatever their size.
fn is_decimal(s: &str, digits: u32) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all(int) && frac.is_none_or(|f| all(f) && f.len() <= digits as usize)
}

impl Money {
    /// `self + other`, or `amount_too_large` on `field` past what the ledger holds.
    pub fn add_within(self, other: Money, field: &str) -> crate::error::AppResult<Money> {
        self.checked_add(other)
            .ok_or_else(|| crate::error::AppError::parse(field, too_large()))
    }
}

/// Parses a plain decimal with at most `digits` decimals into an integer scaled by 10^digits.
fn parse_fixed(s: &str, digits: u32) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || frac.len() > digits as usize {
        return None;
    }
    if body.contains('.') && frac.is_empty() {
        return None;
    }
    let scale = 10i64.checked_pow(digits)?;
    let int: i64 = int.parse().ok()?;
    let frac_scaled: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10i64.pow(digits - frac.len() as u32)
    };
    let v = int.checked_mul(scale)?.checked_add(frac_scaled)?;
    Some(if neg { -v } else { v })
}

fn fmt_fixed(f: &mut fmt::Formatter<'_>, v: i64, digits: u32) -> fmt::Result {
    let scale = 10u64.pow(digits);
    let abs = v.unsigned_abs();
    let sign = if v < 0 { "-" } else { "" };
    let frac = format!("{:0width$}", abs % scale, width = digits as usize);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        write!(f, "{sign}{}", abs / scale)
    } else {
        write!(f, "{sign}{}.{frac}", abs / scale)
    }
}

/// A positive quantity (pieces, labour hours) in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    pub fn from_milli(milli: i64) -> Result<Self, ParseError> {
        if milli > 0 {
            Ok(Self(milli))
        } else {
            Err(ParseError::new(
                "invalid_quantity",
                "quantity must be greater than zero",
            ))
        }
    }

    pub const fn milli(self) -> i64 {
        self.0
    }
}

impl FromStr for Quantity {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let milli = parse_fixed(s, 3).ok_or_else(|| {
            ParseError::new(
                "invalid_quantity",
                format!("`{s}` is not a quantity with at most 3 decimals"),
            )
        })?;
        Self::from_milli(milli)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_fixed(f, self.0, 3)
    }
}

/// A tax rate in basis points (hundredths of a percent), 0 to 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxRate(i32);

impl TaxRate {
    pub fn from_basis_points(bp: i32) -> Result<Self, ParseError> {
        if (0..=10_000).contains(&bp) {
            Ok(Self(bp))
        } else {
            Err(ParseError::new(
                "invalid_tax_rate",
                "tax rate must be between 0 and 100 percent",
            ))
        }
    }

    pub const fn basis_points(self) -> i32 {
        self.0
    }
}

impl FromStr for TaxRate {
    type Err = ParseError;

    /// A percentage with at most two decimals: `20`, `7.25`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bp = parse_fixed(s, 2)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_tax_rate",
                    format!("`{s}` is not a percentage with at most 2 decimals"),
                )
            })?;
        Self::from_basis_points(bp)
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_fixed(f, i64::from(self.0), 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_through_its_decimal_string() {
        for (s, minor, back) in [
            ("0", 0, "0.00"),
            ("12", 1200, "12.00"),
            ("12.5", 1250, "12.50"),
            ("-0.05", -5, "-0.05"),
            ("999999999999.99", Money::MAX.minor(), "999999999999.99"),
            ("-999999999999.99", -Money::MAX.minor(), "-999999999999.99"),
        ] {
            let m: Money = s.parse().expect(s);
            assert_eq!(m.minor(), minor);
            assert_eq!(m.to_string(), back);
        }
    }

    #[test]
    fn money_refuses_floats_exponents_and_excess_precision() {
        for bad in [
            "", "-", "1.", ".5", "1.234", "1e3", " 1", "1,00", "NaN", "+1", "1..2",
        ] {
            let e = bad.parse::<Money>().expect_err(bad);
            assert_eq!(e.code, "invalid_money", "{bad:?}");
        }
    }

    #[test]
    fn money_beyond_the_bound_is_too_large_not_malformed() {
        for big in [
            "1000000000000",
            "-1000000000000.00",
            "92233720368547758.07",
            "92233720368547758.08",
            "99999999999999999999999999",
        ] {
            assert_eq!(
                big.parse::<Money>().expect_err(big).code,
                "amount_too_large",
                "{big}"
            );
        }
        assert!(Money::MAX.add_within(Money::MAX, "amount").is_ok());
        let huge = Money::from_minor(i64::MAX - 1);
        assert!(huge.add_within(Money::MAX, "amount").is_err());
    }

    #[test]
    fn line_arithmetic_rounds_half_away_from_zero() {
        let price = Money::from_minor(3333);
        let q: Quantity = "1.5".parse().expect("qty");
        assert_eq!(price.times(q), Some(Money::from_minor(5000))); // 49.995 -> 50.00
        let rate: TaxRate = "20".parse().expect("rate");
        assert_eq!(
            Money::from_minor(5).tax_at(rate),
            Some(Money::from_minor(1))
        );
        assert_eq!(
            Money::from_minor(-5).tax_at(rate),
            Some(Money::from_minor(-1))
        );
        assert_eq!(Money::from_minor(2).tax_at(rate), Some(Money::ZERO));
    }

    #[test]
    fn quantities_and_rates_print_without_trailing_zeros() {
        assert_eq!("2.500".parse::<Quantity>().expect("q").to_string(), "2.5");
        assert_eq!("7.25".parse::<TaxRate>().expect("r").to_string(), "7.25");
        assert!("0".parse::<Quantity>().is_err());
        assert!("100.01".parse::<TaxRate>().is_err());
    }
}
