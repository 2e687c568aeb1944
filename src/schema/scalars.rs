//! Custom scalars: `Money` travels as a decimal string so no client ever rounds it through a float.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::{Money, Quantity, TaxRate};

/// An exact amount in the shop's currency as a decimal string with two decimals, e.g. `"1234.50"`.
#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => s
                .parse()
                .map_err(|e: crate::domain::ParseError| InputValueError::custom(e.message)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

/// A positive quantity with up to three decimals as a string, e.g. `"1.5"` hours.
#[Scalar(name = "Quantity")]
impl ScalarType for Quantity {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => s
                .parse()
                .map_err(|e: crate::domain::ParseError| InputValueError::custom(e.message)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

/// A percentage with up to two decimals as a string, e.g. `"20"` or `"7.25"`.
#[Scalar(name = "TaxRate")]
impl ScalarType for TaxRate {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => s
                .parse()
                .map_err(|e: crate::domain::ParseError| InputValueError::custom(e.message)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}
